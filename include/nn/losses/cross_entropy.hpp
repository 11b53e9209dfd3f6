// nn/losses/cross_entropy.hpp — softmax cross-entropy from logits.
//   logits (N, C) or (N, C, d1, ..., dk) (per-pixel: softmax over C at every
//   position); target either
//     (N) or (N, d1, ..., dk)   integer class labels stored as T, in [0, C), or
//     the logits' shape         class probabilities (one-hot or soft; they should sum to 1 over C).
// Options: class weights w (C), label smoothing eps in [0, 1).
// Computed with log-sum-exp, never log(softmax). Matches PyTorch's
// F.cross_entropy(logits, target, weight, label_smoothing, reduction), which
// treats every position of a (N, C, d...) input as one sample of (N*d..., C):
//   every case is loss_n = -sum_c q_nc * log_softmax(x_n)_c with
//     labels: q_n = (1 - eps) * w_y * onehot(y_n) + eps / C * w
//     probs:  q_n = w * ((1 - eps) * t_n + eps / C)
//   Mean divides by sum_n w_{y_n} for labels (the number of samples or
//   positions without weights) and by that number for probabilities.
//   Gradient: dL/dx_n = (sum_c q_nc * softmax(x_n) - q_n) / norm.
#pragma once
#include <vector>

#include "nn/kernels/activations.hpp"
#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class SoftmaxCrossEntropy : public Loss<T> {
 public:
  explicit SoftmaxCrossEntropy(Reduction r = Reduction::Mean, double label_smoothing = 0.0,
                               std::vector<T> class_weights = {})
      : Loss<T>(r), eps_(static_cast<T>(label_smoothing)), w_(std::move(class_weights)) {
    if (!(label_smoothing >= 0 && label_smoothing < 1))
      throw std::invalid_argument("SoftmaxCrossEntropy: label_smoothing must be in [0, 1)");
    for (T v : w_)
      if (!(v >= 0) || !std::isfinite(v)) throw std::invalid_argument("SoftmaxCrossEntropy: class weights must be >= 0");
  }
  std::string name() const override { return "SoftmaxCrossEntropy"; }

  T compute(const Tensor<T>& x, const Tensor<T>& target, Tensor<T>* grad) const override {
    this->check_batch(x);
    const bool labels = this->label_targets(x, target);
    const Index N = x.dim(0), C = x.dim(1), S = x.size() / (N * C);  // S positions per sample
    if (!w_.empty() && static_cast<Index>(w_.size()) != C)
      this->fail(std::to_string(w_.size()) + " class weights for " + std::to_string(C) + " classes");
    if (grad) grad->resize(x.shape());
    if (S == 1) return rows(x.data(), target.data(), N, C, 1, labels, grad ? grad->data() : nullptr);
    xt_.resize(Shape{N * S, C});
    detail::to_class_rows(x.data(), N, C, S, xt_.data());
    if (!labels) tt_.resize(Shape{N * S, C}), detail::to_class_rows(target.data(), N, C, S, tt_.data());
    if (grad) gt_.resize(Shape{N * S, C});
    const T loss = rows(xt_.data(), labels ? target.data() : tt_.data(), N * S, C, S, labels, grad ? gt_.data() : nullptr);
    if (grad) detail::from_class_rows(gt_.data(), N, C, S, grad->data());
    return loss;
  }

 private:
  // The loss of R rows of C logits; target: R labels or (R, C) probabilities;
  // S (positions per sample) only names the sample in errors. g: (R, C) or null.
  T rows(const T* x, const T* target, Index R, Index C, Index S, bool labels, T* g) const {
    auto w = [&](Index c) { return w_.empty() ? T(1) : w_[static_cast<std::size_t>(c)]; };
    logp_.resize(Shape{R, C});
    kernels::log_softmax_forward(x, logp_.data(), R, C);
    q_.resize(Shape{R, C});
    q_.zero();
    double norm = 0;
    for (Index n = 0; n < R; ++n) {
      T* q = q_.data() + n * C;
      if (labels) {
        const Index y = this->class_of(target[n], C, n, S);
        for (Index c = 0; c < C; ++c) q[c] = eps_ / static_cast<T>(C) * w(c);
        q[y] += (T(1) - eps_) * w(y);
        norm += w(y);
      } else {
        const T* t = target + n * C;
        for (Index c = 0; c < C; ++c) q[c] = w(c) * ((T(1) - eps_) * t[c] + eps_ / static_cast<T>(C));
        norm += 1;
      }
    }
    if (this->reduction_ == Reduction::Sum) norm = 1;
    if (!(norm > 0)) this->fail("the class weights of this batch's labels sum to 0; the mean is undefined");
    double loss = 0;
    for (Index i = 0; i < R * C; ++i) loss -= static_cast<double>(q_[i]) * logp_[i];
    loss /= norm;
    if (g) {
      const T inv = static_cast<T>(1.0 / norm);
      for (Index n = 0; n < R; ++n) {
        const T* q = q_.data() + n * C;
        const T* lp = logp_.data() + n * C;
        T* gr = g + n * C;
        T qs = 0;
        for (Index c = 0; c < C; ++c) qs += q[c];
        for (Index c = 0; c < C; ++c) gr[c] = (qs * std::exp(lp[c]) - q[c]) * inv;
      }
    }
    return static_cast<T>(loss);
  }

  T eps_;
  std::vector<T> w_;
  mutable DeepTensor<T> logp_, q_, xt_, tt_, gt_;  // scratch, reused between calls
};

}  // namespace nn
