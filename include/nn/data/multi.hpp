// nn/data/multi.hpp — datasets with several named inputs and targets, for
// graph models (fit matches inputs to the graph's inputs and targets to its
// outputs by name).
//
//   nn::data::TensorMultiDataset<float> ds;
//   ds.add_input("image", std::move(images));        // (N, 1, 28, 28)
//   ds.add_target("category", std::move(labels));    // (N)
//   ds.add_target("tags", std::move(tags));          // (N, 6)
//   nn::data::MultiBatchIterator<float> it(ds, order, 64);
//   std::vector<nn::Tensor<float>> xs, ys;
//   while (it.next(xs, ys)) { ... }
//
// Single (a Dataset<T> as a MultiDataset: one input "input", one target
// "output") lets fit run Sequential models through the same loop.
#pragma once
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/data/augment.hpp"
#include "nn/data/batch.hpp"
#include "nn/data/dataset.hpp"

namespace nn::data {

template <class T>
class MultiDataset {
 public:
  virtual ~MultiDataset() = default;
  virtual Index size() const = 0;
  virtual std::vector<std::string> input_names() const = 0;
  virtual std::vector<Shape> input_shapes() const = 0;
  virtual std::vector<std::string> target_names() const = 0;
  virtual std::vector<Shape> target_shapes() const = 0;
  // Writes sample i's inputs and targets, in the order of the names.
  virtual void load(Index i, const std::vector<T*>& xs, const std::vector<T*>& ys) const = 0;
};

// Named tensors in memory, all with the same number of samples.
template <class T>
class TensorMultiDataset : public MultiDataset<T> {
 public:
  TensorMultiDataset& add_input(std::string name, Tensor<T> t) { return add(in_, std::move(name), std::move(t)); }
  TensorMultiDataset& add_target(std::string name, Tensor<T> t) { return add(out_, std::move(name), std::move(t)); }
  Index size() const override { return n_; }
  std::vector<std::string> input_names() const override { return names(in_); }
  std::vector<Shape> input_shapes() const override { return shapes(in_); }
  std::vector<std::string> target_names() const override { return names(out_); }
  std::vector<Shape> target_shapes() const override { return shapes(out_); }
  void load(Index i, const std::vector<T*>& xs, const std::vector<T*>& ys) const override {
    copy(in_, i, xs);
    copy(out_, i, ys);
  }
  const Tensor<T>& input(const std::string& name) const { return find(in_, name); }
  const Tensor<T>& target(const std::string& name) const { return find(out_, name); }

 private:
  using Named = std::vector<std::pair<std::string, Tensor<T>>>;
  TensorMultiDataset& add(Named& v, std::string name, Tensor<T> t) {
    if (t.rank() < 1) throw std::invalid_argument("TensorMultiDataset: '" + name + "' has no sample dimension");
    if ((!in_.empty() || !out_.empty()) && t.dim(0) != n_)
      throw std::invalid_argument("TensorMultiDataset: '" + name + "' has " + std::to_string(t.dim(0)) +
                                  " samples, the others " + std::to_string(n_));
    for (const auto* w : {&in_, &out_})
      for (const auto& kv : *w)
        if (kv.first == name) throw std::invalid_argument("TensorMultiDataset: two tensors named '" + name + "'");
    n_ = t.dim(0);
    v.emplace_back(std::move(name), std::move(t));
    return *this;
  }
  static std::vector<std::string> names(const Named& v) {
    std::vector<std::string> r;
    for (const auto& kv : v) r.push_back(kv.first);
    return r;
  }
  static std::vector<Shape> shapes(const Named& v) {
    std::vector<Shape> r;
    for (const auto& kv : v) r.push_back(kv.second.shape().tail());
    return r;
  }
  static void copy(const Named& v, Index i, const std::vector<T*>& dst) {
    for (std::size_t k = 0; k < v.size(); ++k) {
      const Index d = v[k].second.size() / std::max<Index>(v[k].second.dim(0), 1);
      std::memcpy(dst[k], v[k].second.data() + i * d, static_cast<std::size_t>(d) * sizeof(T));
    }
  }
  static const Tensor<T>& find(const Named& v, const std::string& name) {
    for (const auto& kv : v)
      if (kv.first == name) return kv.second;
    throw std::invalid_argument("TensorMultiDataset: no tensor named '" + name + "'");
  }
  Named in_, out_;
  Index n_ = 0;
};

// Samples `indices` of `base` (which must outlive the subset).
template <class T>
class MultiSubset : public MultiDataset<T> {
 public:
  MultiSubset(const MultiDataset<T>& base, std::vector<Index> indices) : base_(&base), idx_(std::move(indices)) {
    for (Index i : idx_)
      if (i < 0 || i >= base.size())
        throw std::out_of_range("MultiSubset: index " + std::to_string(i) + " outside a dataset of " +
                                std::to_string(base.size()));
  }
  Index size() const override { return static_cast<Index>(idx_.size()); }
  std::vector<std::string> input_names() const override { return base_->input_names(); }
  std::vector<Shape> input_shapes() const override { return base_->input_shapes(); }
  std::vector<std::string> target_names() const override { return base_->target_names(); }
  std::vector<Shape> target_shapes() const override { return base_->target_shapes(); }
  void load(Index i, const std::vector<T*>& xs, const std::vector<T*>& ys) const override {
    base_->load(idx_[static_cast<std::size_t>(i)], xs, ys);
  }

 private:
  const MultiDataset<T>* base_;
  std::vector<Index> idx_;
};

// A Dataset as a MultiDataset: input "input", target "output".
template <class T>
class Single : public MultiDataset<T> {
 public:
  explicit Single(const Dataset<T>& ds) : ds_(&ds) {}
  Index size() const override { return ds_->size(); }
  std::vector<std::string> input_names() const override { return {"input"}; }
  std::vector<Shape> input_shapes() const override { return {ds_->input_shape()}; }
  std::vector<std::string> target_names() const override { return {"output"}; }
  std::vector<Shape> target_shapes() const override { return {ds_->target_shape()}; }
  void load(Index i, const std::vector<T*>& xs, const std::vector<T*>& ys) const override {
    ds_->load(i, xs[0], ys[0]);
  }

 private:
  const Dataset<T>* ds_;
};

// Batches of a MultiDataset in a given order: xs[k] is (n, input_k...), ys[k]
// is (n, target_k...). Augmentation applies to every (C, H, W) input; the
// first such input of sample k of the epoch draws from
// Rng(mix_seed(seed, epoch, k)), exactly as BatchIterator, input j after it
// from Rng(mix_seed(that seed, j)), so results do not depend on threads.
template <class T>
class MultiBatchIterator {
 public:
  MultiBatchIterator(const MultiDataset<T>& ds, std::vector<Index> order, Index batch_size,
                     const Augment* aug = nullptr, std::uint64_t seed = 0, int epoch = 0)
      : ds_(&ds), order_(std::move(order)), bs_(batch_size), aug_(aug && aug->any() ? aug : nullptr), seed_(seed),
        epoch_(epoch), in_(ds.input_shapes()), out_(ds.target_shapes()) {
    if (batch_size < 1) throw std::invalid_argument("MultiBatchIterator: batch size must be >= 1");
    if (aug_) {
      bool any = false;
      for (const auto& s : in_) any = any || s.rank() == 3;
      if (!any) throw std::invalid_argument("MultiBatchIterator: augmentation needs a (C, H, W) image input");
    }
  }
  Index batches() const { return (Index(order_.size()) + bs_ - 1) / bs_; }
  bool next(std::vector<Tensor<T>>& xs, std::vector<Tensor<T>>& ys) {
    if (pos_ >= Index(order_.size())) return false;
    const Index n = std::min<Index>(bs_, Index(order_.size()) - pos_);
    xs.resize(in_.size());
    ys.resize(out_.size());
    for (std::size_t k = 0; k < in_.size(); ++k) xs[k].resize(in_[k].with_batch(n));
    for (std::size_t k = 0; k < out_.size(); ++k) ys[k].resize(out_[k].with_batch(n));
    const Index start = pos_;
    std::exception_ptr error;  // an exception must not leave the parallel region
    std::mutex error_m;
    nn::detail::parallel_for(n, n > 8, 4, [&](Index i, int) {
      try {
        std::vector<T*> px(in_.size()), py(out_.size());
        for (std::size_t k = 0; k < in_.size(); ++k) px[k] = xs[k].data() + i * in_[k].size();
        for (std::size_t k = 0; k < out_.size(); ++k) py[k] = ys[k].data() + i * out_[k].size();
        const Index s = start + i;
        ds_->load(order_[static_cast<std::size_t>(s)], px, py);
        if (aug_) {
          const std::uint64_t base = mix_seed(seed_, std::uint64_t(epoch_), std::uint64_t(s));
          for (std::size_t k = 0; k < in_.size(); ++k) {
            if (in_[k].rank() != 3) continue;
            Rng rng(k == first_image() ? base : mix_seed(base, std::uint64_t(k)));
            aug_->apply(px[k], in_[k][0], in_[k][1], in_[k][2], rng);
          }
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_m);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    pos_ += n;
    return true;
  }

 private:
  std::size_t first_image() const {
    for (std::size_t k = 0; k < in_.size(); ++k)
      if (in_[k].rank() == 3) return k;
    return in_.size();
  }
  const MultiDataset<T>* ds_;
  std::vector<Index> order_;
  Index bs_;
  const Augment* aug_;
  std::uint64_t seed_;
  int epoch_;
  std::vector<Shape> in_, out_;
  Index pos_ = 0;
};

}  // namespace nn::data
