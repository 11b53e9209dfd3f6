// nn/losses/softmax_bce.hpp — binary cross-entropy on softmax probabilities,
// as Keras computes it for a model that ends in a softmax and is compiled
// with loss='binary_crossentropy' (each of the C outputs scored as an
// independent yes/no against the one-hot target), from logits.
//   logits x (N, C); target labels (N) in [0, C) or probabilities (N, C).
//   p = softmax(x) per row, clipped to [eps, 1 - eps] (Keras' epsilon, 1e-7)
//   loss_nc = -(t log p + (1 - t) log(1 - p))
// Mean: over the N x C entries (Keras: the mean over the C outputs, then over
// the batch). Sum: the sum of the per-sample means over C.
// Gradient: dL/dp = -(t / p - (1 - t) / (1 - p)) / norm where p lies inside
// the clipping range and 0 where it is clipped (as the clip's gradient is),
// then through the softmax: dL/dx_k = p_k (g_k - sum_c p_c g_c).
// Keras 2's TensorFlow backend computes the same value as
// sigmoid_cross_entropy_with_logits on log(p / (1 - p)) of the clipped p.
#pragma once
#include <algorithm>
#include <cmath>

#include "nn/kernels/activations.hpp"
#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class SoftmaxBCE : public Loss<T> {
 public:
  explicit SoftmaxBCE(Reduction r = Reduction::Mean, double eps = 1e-7) : Loss<T>(r), eps_(eps) {
    if (!(eps > 0 && eps < 0.5)) throw std::invalid_argument("SoftmaxBCE: eps must be in (0, 0.5)");
  }
  std::string name() const override { return "SoftmaxBCE"; }

  T compute(const Tensor<T>& x, const Tensor<T>& target, Tensor<T>* grad) const override {
    this->check_batch(x);
    if (x.rank() != 2 || x.dim(1) < 1) this->fail("logits must be (N, C), got " + x.shape().str());
    const bool labels = this->label_targets(x, target);
    const Index N = x.dim(0), C = x.dim(1);
    const double norm = this->reduction_ == Reduction::Mean ? double(N * C) : double(C);
    p_.resize(x.shape());
    kernels::softmax_forward(x.data(), p_.data(), N, C);
    if (grad) g_.resize(x.shape());
    double loss = 0;
    for (Index n = 0; n < N; ++n) {
      const Index y = labels ? this->class_of(target[n], C, n, 1) : -1;
      for (Index c = 0; c < C; ++c) {
        const double p = p_[n * C + c], t = labels ? double(c == y) : double(target[n * C + c]);
        const double pc = std::clamp(p, eps_, 1.0 - eps_);
        loss -= t * std::log(pc) + (1.0 - t) * std::log(1.0 - pc);
        // dL/dp; 0 where p is clipped, as the clip's gradient is
        if (grad) g_[n * C + c] = static_cast<T>(p > eps_ && p < 1.0 - eps_ ? -(t / pc - (1.0 - t) / (1.0 - pc)) / norm : 0.0);
      }
    }
    if (grad) grad->resize(x.shape()), kernels::softmax_backward(p_.data(), g_.data(), grad->data(), N, C);
    return static_cast<T>(loss / norm);
  }

 private:
  double eps_;
  mutable DeepTensor<T> p_, g_;  // scratch, reused between calls
};

}  // namespace nn
