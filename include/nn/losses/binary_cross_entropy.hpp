// nn/losses/binary_cross_entropy.hpp — sigmoid + binary cross-entropy fused,
// from logits, for multi-label tags.
//   logits x (N, ...) and targets t of the same shape, t in [0, 1].
//   l = max(x, 0) - x * t + log(1 + exp(-|x|))          (stable form)
//   optional per-class weights w (C) broadcast over the last dimension.
//   Mean divides by the number of elements (PyTorch's BCEWithLogitsLoss).
//   dL/dx = w * (sigmoid(x) - t) / norm
#pragma once
#include <vector>

#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class BCEWithLogits : public Loss<T> {
 public:
  explicit BCEWithLogits(Reduction r = Reduction::Mean, std::vector<T> class_weights = {})
      : Loss<T>(r), w_(std::move(class_weights)) {}
  std::string name() const override { return "BCEWithLogits"; }

  T compute(const Tensor<T>& x, const Tensor<T>& t, Tensor<T>* grad) const override {
    this->check_same(x, t);
    this->check_finite(t, "target");
    const Index C = x.dim(x.rank() - 1);
    if (!w_.empty() && static_cast<Index>(w_.size()) != C)
      this->fail(std::to_string(w_.size()) + " class weights for last dimension " + std::to_string(C));
    const double norm = this->reduction_ == Reduction::Mean ? static_cast<double>(x.size()) : 1.0;
    if (grad) grad->resize(x.shape());
    double loss = 0;
    for (Index i = 0; i < x.size(); ++i) {
      const T v = x[i], y = t[i];
      const T w = w_.empty() ? T(1) : w_[static_cast<std::size_t>(i % C)];
      const T e = std::exp(-std::abs(v));
      loss += w * (std::max(v, T(0)) - v * y + std::log1p(e));
      if (grad) {
        const T sig = v >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
        (*grad)[i] = static_cast<T>(w * (sig - y) / norm);
      }
    }
    return static_cast<T>(loss / norm);
  }

 private:
  std::vector<T> w_;
};

}  // namespace nn
