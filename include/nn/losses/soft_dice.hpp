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
#include <sstream>
#include <vector>

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
    if (x.rank() < 2 || x.dim(1) < 1)
      this->fail("logits must be (N, C) or (N, C, d1, ..., dk) with C >= 1, got " + x.shape().str());
    const Index N = x.dim(0), C = x.dim(1), S = x.size() / (N * C);
    const bool labels = target.rank() == x.rank() - 1;
    bool fits = labels ? target.dim(0) == N : target.shape() == x.shape();
    for (int d = 2; labels && d < x.rank(); ++d) fits = fits && target.dim(d - 1) == x.dim(d);
    if (!fits)
      this->fail("target shape " + target.shape().str() + " is neither labels nor probabilities for logits " +
                 x.shape().str());
    this->check_finite(target, "target");
    const std::size_t n_all = static_cast<std::size_t>(x.size());
    p_.assign(n_all, 0.0);
    t_.assign(n_all, 0.0);
    // x (N, C, S): class c of position s of sample n at (n * C + c) * S + s.
    for (Index n = 0; n < N; ++n)
      for (Index s = 0; s < S; ++s) {
        const Index base = n * C * S + s;
        double m = x[base];
        for (Index c = 1; c < C; ++c) m = std::max(m, static_cast<double>(x[base + c * S]));
        double z = 0;
        for (Index c = 0; c < C; ++c) z += p_[std::size_t(base + c * S)] = std::exp(static_cast<double>(x[base + c * S]) - m);
        for (Index c = 0; c < C; ++c) p_[std::size_t(base + c * S)] /= z;
        if (labels) {
          const T v = target[n * S + s];
          if (!(v >= 0 && v < static_cast<T>(C)) || std::floor(v) != v) {
            std::ostringstream os;
            os << "label " << v << " of sample " << n;
            if (S > 1) os << " at position " << s;
            os << " is not a class in [0, " << C << ")";
            this->fail(os.str());
          }
          t_[std::size_t(base + static_cast<Index>(v) * S)] = 1.0;
        } else {
          for (Index c = 0; c < C; ++c) t_[std::size_t(base + c * S)] = target[base + c * S];
        }
      }
    const double scale = this->reduction_ == Reduction::Mean ? 1.0 / static_cast<double>(C) : 1.0;
    std::vector<double> tp(static_cast<std::size_t>(C), 0.0), den(static_cast<std::size_t>(C), eps_);
    for (Index n = 0; n < N; ++n)
      for (Index c = 0; c < C; ++c)
        for (Index s = 0; s < S; ++s) {
          const std::size_t i = std::size_t((n * C + c) * S + s);
          tp[std::size_t(c)] += p_[i] * t_[i];
          den[std::size_t(c)] += p_[i] + t_[i];
        }
    double loss = 0;
    for (Index c = 0; c < C; ++c)
      loss += (1.0 - (den[std::size_t(c)] > 0 ? 2.0 * tp[std::size_t(c)] / den[std::size_t(c)] : 0.0)) * scale;
    if (grad) {
      grad->resize(x.shape());
      std::vector<double> g(static_cast<std::size_t>(C));
      for (Index n = 0; n < N; ++n)
        for (Index s = 0; s < S; ++s) {
          const Index base = n * C * S + s;
          double pg = 0;
          for (Index c = 0; c < C; ++c) {
            const std::size_t i = std::size_t(base + c * S), cc = std::size_t(c);
            const double D = den[cc];
            g[cc] = D > 0 ? -scale * (2.0 * t_[i] / D - 2.0 * tp[cc] / (D * D)) : 0.0;
            pg += p_[i] * g[cc];
          }
          for (Index c = 0; c < C; ++c) {
            const std::size_t i = std::size_t(base + c * S);
            (*grad)[base + c * S] = static_cast<T>(p_[i] * (g[std::size_t(c)] - pg));
          }
        }
    }
    return static_cast<T>(loss);
  }

 private:
  double eps_;
  mutable std::vector<double> p_, t_;  // scratch, reused between calls
};

}  // namespace nn
