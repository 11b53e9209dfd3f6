// nn/layers/embedding.hpp — integer ids to learned vectors.
//   x (N, ...) holding integer ids in [0, num) stored as T -> y (N, ..., dim)
//   weight (num, dim), initialized N(0, 1) as in PyTorch.
// Ids are not differentiable: backward accumulates into the weight rows and
// returns a zero input gradient.
#pragma once
#include <cmath>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Embedding : public Layer<T> {
 public:
  Embedding(Index num, Index dim, Init init = Init::normal(1.0)) : num_(num), dim_(dim), init_(init) {
    if (num < 1 || dim < 1) throw std::invalid_argument("Embedding: num and dim must be >= 1");
  }
  std::string type() const override { return "Embedding"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Embedding>(c.get_size("num"), c.get_size("dim"));
  }
  std::string describe() const override {
    return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dim_) + ")";
  }
  std::vector<Param<T>> parameters() override { return {{"weight", &w_, &dw_}}; }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Embedding>(); }
  Tensor<T>& weight() { return w_; }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("num", double(num_));
    c.set("dim", double(dim_));
  }
  Shape do_build(const Shape& in, Rng& rng) override {
    w_ = Tensor<T>({num_, dim_});
    dw_ = Tensor<T>({num_, dim_});
    initialize(w_, init_, num_, dim_, rng);
    Shape out = in;
    out.push_back(dim_);
    return out;
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    for (Index i = 0; i < x.size(); ++i) {
      const Index id = to_id(x[i], i);
      std::copy(w_.data() + id * dim_, w_.data() + (id + 1) * dim_, this->out_.data() + i * dim_);
    }
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    for (Index i = 0; i < x.size(); ++i) {
      const Index id = to_id(x[i], i);
      for (Index d = 0; d < dim_; ++d) dw_[id * dim_ + d] += dy[i * dim_ + d];
    }
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    this->dx_.zero();
    return this->dx_;
  }

 private:
  Index to_id(T v, Index pos) const {
    if (!(v >= 0 && v < static_cast<T>(num_)) || std::floor(v) != v) {
      std::ostringstream os;
      os << describe() << ": input element " << pos << " is " << v << ", not an integer id in [0, " << num_ << ")";
      throw std::invalid_argument(os.str());
    }
    return static_cast<Index>(v);
  }
  Index num_, dim_;
  Init init_;
  DeepTensor<T> w_, dw_;
};

}  // namespace nn
