// nn/losses/soft_f1.hpp — differentiable ("soft") F1 loss for multi-label
// classification, from logits.
//   logits x (N, C), targets t (N, C) in [0, 1]; p = sigmoid(x).
//   Per class c, over the batch:
//     TP_c = sum_n p t,  FP_c = sum_n p (1 - t),  FN_c = sum_n (1 - p) t
//     F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c + eps)   (eps = 1e-7 by default)
//   Mean: 1 - mean_c F1_c (macro soft-F1). Sum: sum_c (1 - F1_c).
// Note 2TP + FP + FN = sum p + sum t, which gives the gradient
//   dF1_c/dp_nc = 2 t_nc / D_c - 2 TP_c / D_c^2,  D_c = sum p + sum t + eps.
#pragma once
#include <vector>

#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class SoftF1 : public Loss<T> {
 public:
  explicit SoftF1(Reduction r = Reduction::Mean, double eps = 1e-7) : Loss<T>(r), eps_(eps) {}
  std::string name() const override { return "SoftF1"; }

  T compute(const Tensor<T>& x, const Tensor<T>& t, Tensor<T>* grad) const override {
    this->check_same(x, t);
    if (x.rank() != 2) this->fail("logits must be (N, C), got " + x.shape().str());
    this->check_finite(t, "target");
    const Index N = x.dim(0), C = x.dim(1);
    std::vector<double> p(static_cast<std::size_t>(x.size()));
    for (Index i = 0; i < x.size(); ++i) p[static_cast<std::size_t>(i)] = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    const double scale = this->reduction_ == Reduction::Mean ? 1.0 / static_cast<double>(C) : 1.0;
    double loss = 0;
    if (grad) grad->resize(x.shape());
    for (Index c = 0; c < C; ++c) {
      double tp = 0, sp = 0, st = 0;
      for (Index n = 0; n < N; ++n) {
        const double pv = p[static_cast<std::size_t>(n * C + c)], tv = t[n * C + c];
        tp += pv * tv, sp += pv, st += tv;
      }
      const double D = sp + st + eps_;
      loss += (1.0 - 2.0 * tp / D) * scale;
      if (grad)
        for (Index n = 0; n < N; ++n) {
          const double pv = p[static_cast<std::size_t>(n * C + c)], tv = t[n * C + c];
          const double df1_dp = 2.0 * tv / D - 2.0 * tp / (D * D);
          (*grad)[n * C + c] = static_cast<T>(-df1_dp * pv * (1.0 - pv) * scale);
        }
    }
    return static_cast<T>(loss);
  }

 private:
  double eps_;
};

}  // namespace nn
