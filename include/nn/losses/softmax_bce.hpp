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
#include <sstream>
#include <vector>

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
    const Index N = x.dim(0), C = x.dim(1);
    const bool labels = target.rank() == 1;
    if (labels ? target.dim(0) != N : target.shape() != x.shape())
      this->fail("target shape " + target.shape().str() + " matches neither (N) labels nor (N, C) probabilities for logits " +
                 x.shape().str());
    this->check_finite(target, "target");
    const double norm = this->reduction_ == Reduction::Mean ? double(N * C) : double(C);
    if (grad) grad->resize(x.shape());
    std::vector<double> p(static_cast<std::size_t>(C)), g(static_cast<std::size_t>(C)), t(static_cast<std::size_t>(C));
    double loss = 0;
    for (Index n = 0; n < N; ++n) {
      const T* xr = x.data() + n * C;
      if (labels) {
        const T v = target[n];
        if (!(v >= 0 && v < static_cast<T>(C)) || std::floor(v) != v) {
          std::ostringstream os;
          os << "label " << v << " of sample " << n << " is not a class in [0, " << C << ")";
          this->fail(os.str());
        }
        std::fill(t.begin(), t.end(), 0.0);
        t[static_cast<std::size_t>(v)] = 1.0;
      } else {
        for (Index c = 0; c < C; ++c) t[std::size_t(c)] = target[n * C + c];
      }
      double m = xr[0], z = 0;
      for (Index c = 1; c < C; ++c) m = std::max(m, static_cast<double>(xr[c]));
      for (Index c = 0; c < C; ++c) z += p[std::size_t(c)] = std::exp(static_cast<double>(xr[c]) - m);
      double pg = 0;
      for (Index c = 0; c < C; ++c) {
        const std::size_t k = std::size_t(c);
        p[k] /= z;
        const double pc = std::clamp(p[k], eps_, 1.0 - eps_);
        loss -= t[k] * std::log(pc) + (1.0 - t[k]) * std::log(1.0 - pc);
        g[k] = p[k] > eps_ && p[k] < 1.0 - eps_ ? -(t[k] / pc - (1.0 - t[k]) / (1.0 - pc)) / norm : 0.0;
        pg += p[k] * g[k];
      }
      if (grad)
        for (Index c = 0; c < C; ++c) (*grad)[n * C + c] = static_cast<T>(p[std::size_t(c)] * (g[std::size_t(c)] - pg));
    }
    return static_cast<T>(loss / norm);
  }

 private:
  double eps_;
};

}  // namespace nn
