// nn/losses/cross_entropy.hpp — softmax cross-entropy from logits.
//   logits (N, C); target either
//     (N)    integer class labels stored as T, in [0, C), or
//     (N, C) class probabilities (one-hot or soft; rows should sum to 1).
// Options: class weights w (C), label smoothing eps in [0, 1).
// Computed with log-sum-exp, never log(softmax). Matches PyTorch's
// F.cross_entropy(logits, target, weight, label_smoothing, reduction):
//   every case is loss_n = -sum_c q_nc * log_softmax(x_n)_c with
//     labels: q_n = (1 - eps) * w_y * onehot(y_n) + eps / C * w
//     probs:  q_n = w * ((1 - eps) * t_n + eps / C)
//   Mean divides by sum_n w_{y_n} for labels (N without weights) and by N
//   for probabilities. Gradient: dL/dx_n = (sum_c q_nc * softmax(x_n) - q_n) / norm.
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
    if (x.rank() != 2) this->fail("logits must be (N, C), got " + x.shape().str());
    const Index N = x.dim(0), C = x.dim(1);
    const bool labels = target.rank() == 1;
    if (labels ? target.dim(0) != N : target.shape() != x.shape())
      this->fail("target shape " + target.shape().str() + " matches neither (N) labels nor (N, C) probabilities for logits " +
                 x.shape().str());
    if (!w_.empty() && static_cast<Index>(w_.size()) != C)
      this->fail(std::to_string(w_.size()) + " class weights for " + std::to_string(C) + " classes");
    this->check_finite(target, "target");
    auto w = [&](Index c) { return w_.empty() ? T(1) : w_[static_cast<std::size_t>(c)]; };

    logp_.resize(x.shape());
    kernels::log_softmax_forward(x.data(), logp_.data(), N, C);
    q_.resize(x.shape());
    q_.zero();
    double norm = 0;
    for (Index n = 0; n < N; ++n) {
      T* q = q_.data() + n * C;
      if (labels) {
        const T v = target[n];
        if (!(v >= 0 && v < static_cast<T>(C)) || std::floor(v) != v) {
          std::ostringstream os;
          os << "label " << v << " of sample " << n << " is not a class in [0, " << C << ")";
          this->fail(os.str());
        }
        const Index y = static_cast<Index>(v);
        for (Index c = 0; c < C; ++c) q[c] = eps_ / static_cast<T>(C) * w(c);
        q[y] += (T(1) - eps_) * w(y);
        norm += w(y);
      } else {
        const T* t = target.data() + n * C;
        for (Index c = 0; c < C; ++c) q[c] = w(c) * ((T(1) - eps_) * t[c] + eps_ / static_cast<T>(C));
        norm += 1;
      }
    }
    if (this->reduction_ == Reduction::Sum) norm = 1;
    if (!(norm > 0)) this->fail("the class weights of this batch's labels sum to 0; the mean is undefined");
    double loss = 0;
    for (Index i = 0; i < x.size(); ++i) loss -= static_cast<double>(q_[i]) * logp_[i];
    loss /= norm;
    if (grad) {
      grad->resize(x.shape());
      const T inv = static_cast<T>(1.0 / norm);
      for (Index n = 0; n < N; ++n) {
        const T* q = q_.data() + n * C;
        const T* lp = logp_.data() + n * C;
        T* g = grad->data() + n * C;
        T qs = 0;
        for (Index c = 0; c < C; ++c) qs += q[c];
        for (Index c = 0; c < C; ++c) g[c] = (qs * std::exp(lp[c]) - q[c]) * inv;
      }
    }
    return static_cast<T>(loss);
  }

 private:
  T eps_;
  std::vector<T> w_;
  mutable DeepTensor<T> logp_, q_;  // scratch, reused between calls
};

}  // namespace nn
