// nn/data/dataset.hpp — what fit(), evaluate() and the batch iterator read.
//
// A Dataset<T> is random access: size(), the per-sample input and target
// shapes, and load(i, x, y) writing sample i's input and target into raw
// buffers. A target shape of rank 0 means one number per sample (a class
// label); batches of it are (N).
//   TensorDataset<T>(x (N, ...), y (N) or (N, ...))   in memory
//   Subset<T>(base, indices)                          a view of some samples
// label(i) gives the class of sample i when targets are labels (for
// stratified splits and class balancing), or -1.
#pragma once
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/tensor/tensor.hpp"

namespace nn::data {

template <class T>
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual Index size() const = 0;
  virtual Shape input_shape() const = 0;
  virtual Shape target_shape() const = 0;
  virtual void load(Index i, T* x, T* y) const = 0;
  virtual int label(Index i) const {
    if (target_shape().rank() != 0) return -1;
    T y;
    std::vector<T> x(static_cast<std::size_t>(input_shape().size()));
    load(i, x.data(), &y);
    return static_cast<int>(y);
  }
  // Class names when the dataset knows them (image folders), else empty.
  virtual std::vector<std::string> class_names() const { return {}; }
};

template <class T>
class TensorDataset : public Dataset<T> {
 public:
  TensorDataset(Tensor<T> x, Tensor<T> y, std::vector<std::string> classes = {})
      : x_(std::move(x)), y_(std::move(y)), classes_(std::move(classes)) {
    if (x_.rank() < 1 || y_.rank() < 1 || x_.dim(0) != y_.dim(0))
      throw std::invalid_argument("TensorDataset: inputs " + x_.shape().str() + " and targets " + y_.shape().str() +
                                  " do not have the same number of samples");
    dx_ = x_.size() / std::max<Index>(x_.dim(0), 1);
    dy_ = y_.size() / std::max<Index>(y_.dim(0), 1);
  }
  Index size() const override { return x_.dim(0); }
  Shape input_shape() const override { return x_.shape().tail(); }
  Shape target_shape() const override { return y_.shape().tail(); }
  void load(Index i, T* x, T* y) const override {
    std::memcpy(x, x_.data() + i * dx_, static_cast<std::size_t>(dx_) * sizeof(T));
    std::memcpy(y, y_.data() + i * dy_, static_cast<std::size_t>(dy_) * sizeof(T));
  }
  int label(Index i) const override { return y_.rank() == 1 ? static_cast<int>(y_[i]) : -1; }
  std::vector<std::string> class_names() const override { return classes_; }
  const Tensor<T>& inputs() const { return x_; }
  const Tensor<T>& targets() const { return y_; }

 private:
  Tensor<T> x_, y_;
  std::vector<std::string> classes_;
  Index dx_ = 0, dy_ = 0;
};

// Samples `indices` of `base` (which must outlive the subset). Indices may repeat.
template <class T>
class Subset : public Dataset<T> {
 public:
  Subset(const Dataset<T>& base, std::vector<Index> indices) : base_(&base), idx_(std::move(indices)) {
    for (Index i : idx_)
      if (i < 0 || i >= base.size())
        throw std::out_of_range("Subset: index " + std::to_string(i) + " outside a dataset of " +
                                std::to_string(base.size()));
  }
  Index size() const override { return static_cast<Index>(idx_.size()); }
  Shape input_shape() const override { return base_->input_shape(); }
  Shape target_shape() const override { return base_->target_shape(); }
  void load(Index i, T* x, T* y) const override { base_->load(idx_[static_cast<std::size_t>(i)], x, y); }
  int label(Index i) const override { return base_->label(idx_[static_cast<std::size_t>(i)]); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  const std::vector<Index>& indices() const { return idx_; }

 private:
  const Dataset<T>* base_;
  std::vector<Index> idx_;
};

// labels (N) -> one-hot (N, classes)
template <class T>
Tensor<T> one_hot(const Tensor<T>& labels, Index classes) {
  if (labels.rank() != 1) throw std::invalid_argument("one_hot: labels must be (N), got " + labels.shape().str());
  Tensor<T> out({labels.dim(0), classes});
  for (Index i = 0; i < labels.dim(0); ++i) {
    const T v = labels[i];
    if (!(v >= 0 && v < static_cast<T>(classes)) || static_cast<T>(static_cast<Index>(v)) != v)
      throw std::invalid_argument("one_hot: label " + std::to_string(double(v)) + " of sample " + std::to_string(i) +
                                  " is not in [0, " + std::to_string(classes) + ")");
    out(i, static_cast<Index>(v)) = T(1);
  }
  return out;
}

}  // namespace nn::data
