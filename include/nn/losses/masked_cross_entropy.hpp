// nn/losses/masked_cross_entropy.hpp — softmax cross-entropy over a set of
// candidates that differs per sample (the next item among those still
// available): the softmax runs over the valid candidates only.
//   logits (N, K); target (N, K) with 1 at the true candidate, 0 at the other
//   valid candidates and -1 at candidates that are not available.
//   loss_n = -log softmax over {k : target[n, k] >= 0} at the true candidate
// Mean over samples (or Sum). The gradient is p - onehot on valid
// candidates and 0 on the others, so masked logits can hold anything
// finite. A row needs exactly one true candidate.
#pragma once
#include <cmath>
#include <limits>
#include <sstream>

#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class MaskedSoftmaxCrossEntropy : public Loss<T> {
 public:
  explicit MaskedSoftmaxCrossEntropy(Reduction r = Reduction::Mean) : Loss<T>(r) {}
  std::string name() const override { return "MaskedSoftmaxCrossEntropy"; }

  T compute(const Tensor<T>& x, const Tensor<T>& target, Tensor<T>* grad) const override {
    this->check_same(x, target);
    if (x.rank() != 2) this->fail("logits must be (N, K), got " + x.shape().str());
    const Index N = x.dim(0), K = x.dim(1);
    if (grad) grad->resize(x.shape());
    const double norm = this->reduction_ == Reduction::Mean ? double(N) : 1.0;
    double loss = 0;
    for (Index n = 0; n < N; ++n) {
      const T* z = x.data() + n * K;
      const T* t = target.data() + n * K;
      Index truth = -1;
      T m = -std::numeric_limits<T>::infinity();
      for (Index k = 0; k < K; ++k) {
        if (!(t[k] == T(1) || t[k] == T(0) || t[k] == T(-1))) fail_row(n, "holds a value other than 1, 0 or -1");
        if (t[k] < 0) continue;
        if (t[k] == T(1)) {
          if (truth >= 0) fail_row(n, "has two true candidates");
          truth = k;
        }
        m = std::max(m, z[k]);
      }
      if (truth < 0) fail_row(n, "has no true candidate (no 1)");
      double s = 0;
      for (Index k = 0; k < K; ++k)
        if (t[k] >= 0) s += std::exp(double(z[k] - m));
      const double lse = double(m) + std::log(s);
      loss += lse - double(z[truth]);
      if (grad) {
        T* g = grad->data() + n * K;
        for (Index k = 0; k < K; ++k)
          g[k] = t[k] < 0 ? T(0)
                          : static_cast<T>((std::exp(double(z[k]) - lse) - (k == truth ? 1.0 : 0.0)) / norm);
      }
    }
    return static_cast<T>(loss / norm);
  }

 private:
  [[noreturn]] void fail_row(Index n, const char* what) const {
    std::ostringstream os;
    os << "target row " << n << " " << what;
    this->fail(os.str());
  }
};

}  // namespace nn
