// nn/losses/soft_dice.hpp — the soft F1 (Dice) loss of a softmax over
// classes, for segmentation with imbalanced classes, from logits.
//   logits x (N, C) or (N, C, d1, ..., dk); target: labels (N) or
//   (N, d1, ..., dk) in [0, C), or probabilities of the logits' shape.
//   p = softmax over C at every position; t = one-hot labels (or the target).
//   Per class c, over every sample and position of the batch:
//     TP_c = sum p t,  D_c = sum p + sum t + eps   (2 TP + FP + FN = sum p + sum t)
//     F1_c = 2 TP_c / D_c                          (eps = 1e-7 by default)
//   Mean: 1 - mean_c F1_c (macro over classes, so a rare class weighs as much
//   as the background). Sum: sum_c (1 - F1_c).
// Gradient: dF1_c/dp = 2 t / D_c - 2 TP_c / D_c^2, then through the softmax:
//   dL/dx_k = p_k (g_k - sum_c p_c g_c) with g_c = dL/dp_c.
// A class absent from a batch's target and prediction scores F1 = 0 with a
// zero gradient: a constant in the loss, no pull.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/kernels/activations.hpp"
#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class SoftmaxDice : public Loss<T> {
 public:
  explicit SoftmaxDice(Reduction r = Reduction::Mean, double eps = 1e-7) : Loss<T>(r), eps_(eps) {
    if (!(eps >= 0) || !std::isfinite(eps)) throw std::invalid_argument("SoftmaxDice: eps must be >= 0");
  }
  std::string name() const override { return "SoftmaxDice"; }

  T compute(const Tensor<T>& x, const Tensor<T>& target, Tensor<T>* grad) const override {
    this->check_batch(x);
    const bool labels = this->label_targets(x, target);
    const Index N = x.dim(0), C = x.dim(1), S = x.size() / (N * C), R = N * S;
    // Every position a row of C classes: p (R, C) the softmax, t (R, C) one-hot or the target.
    const T* xr = x.data();
    if (S > 1) xt_.resize(Shape{R, C}), detail::to_class_rows(x.data(), N, C, S, xt_.data()), xr = xt_.data();
    p_.resize(Shape{R, C});
    kernels::softmax_forward(xr, p_.data(), R, C);
    t_.resize(Shape{R, C});
    if (labels) {
      t_.zero();
      for (Index r = 0; r < R; ++r) t_[r * C + this->class_of(target[r], C, r, S)] = T(1);
    } else if (S > 1) {
      detail::to_class_rows(target.data(), N, C, S, t_.data());
    } else {
      std::copy(target.begin(), target.end(), t_.begin());
    }
    const double scale = this->reduction_ == Reduction::Mean ? 1.0 / static_cast<double>(C) : 1.0;
    std::vector<double> tp(static_cast<std::size_t>(C), 0.0), den(static_cast<std::size_t>(C), eps_);
    for (Index r = 0; r < R; ++r)
      for (Index c = 0; c < C; ++c) {
        const double pv = p_[r * C + c], tv = t_[r * C + c];
        tp[std::size_t(c)] += pv * tv;
        den[std::size_t(c)] += pv + tv;
      }
    double loss = 0;
    for (Index c = 0; c < C; ++c)
      loss += (1.0 - (den[std::size_t(c)] > 0 ? 2.0 * tp[std::size_t(c)] / den[std::size_t(c)] : 0.0)) * scale;
    if (grad) {
      // g = dL/dp (R, C), then through the softmax
      g_.resize(Shape{R, C});
      for (Index r = 0; r < R; ++r)
        for (Index c = 0; c < C; ++c) {
          const double D = den[std::size_t(c)];
          g_[r * C + c] =
              static_cast<T>(D > 0 ? -scale * (2.0 * t_[r * C + c] / D - 2.0 * tp[std::size_t(c)] / (D * D)) : 0.0);
        }
      grad->resize(x.shape());
      if (S == 1) {
        kernels::softmax_backward(p_.data(), g_.data(), grad->data(), R, C);
      } else {
        gx_.resize(Shape{R, C});
        kernels::softmax_backward(p_.data(), g_.data(), gx_.data(), R, C);
        detail::from_class_rows(gx_.data(), N, C, S, grad->data());
      }
    }
    return static_cast<T>(loss);
  }

 private:
  double eps_;
  mutable DeepTensor<T> xt_, p_, t_, g_, gx_;  // scratch, reused between calls
};

}  // namespace nn
