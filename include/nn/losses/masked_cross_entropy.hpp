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
#include <vector>

#include "nn/losses/loss.hpp"
#include "nn/runtime/parallel.hpp"

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
    // Rows in parallel (a catalogue-wide K makes this the costly part of a
    // step); each row's loss is kept and summed in row order afterwards, so
    // the result does not depend on the thread count. A bad row is reported
    // after the loop (the loop body must not throw): the first one by index.
    std::vector<double> row_loss(static_cast<std::size_t>(N), 0.0);
    std::vector<unsigned char> fault(static_cast<std::size_t>(N), 0);
    detail::parallel_for(N, N * K >= (1 << 16), 8, [&](std::ptrdiff_t n, int) {
      fault[static_cast<std::size_t>(n)] = row(x.data() + n * K, target.data() + n * K,
                                                grad ? grad->data() + n * K : nullptr, K, norm,
                                                row_loss[static_cast<std::size_t>(n)]);
    });
    double loss = 0;
    for (Index n = 0; n < N; ++n) {
      switch (fault[static_cast<std::size_t>(n)]) {
        case 1: fail_row(n, "holds a value other than 1, 0 or -1");
        case 2: fail_row(n, "has two true candidates");
        case 3: fail_row(n, "has no true candidate (no 1)");
        default: break;
      }
      loss += row_loss[static_cast<std::size_t>(n)];
    }
    return static_cast<T>(loss / norm);
  }

 private:
  // One row: its loss, and its gradient when g is given. Returns 0, or the
  // fault: 1 a value other than 1, 0, -1; 2 two true candidates; 3 none.
  static unsigned char row(const T* z, const T* t, T* g, Index K, double norm, double& loss) {
    Index truth = -1;
    T m = -std::numeric_limits<T>::infinity();
    for (Index k = 0; k < K; ++k) {
      if (!(t[k] == T(1) || t[k] == T(0) || t[k] == T(-1))) return 1;
      if (t[k] < 0) continue;
      if (t[k] == T(1)) {
        if (truth >= 0) return 2;
        truth = k;
      }
      m = std::max(m, z[k]);
    }
    if (truth < 0) return 3;
    double s = 0;
    for (Index k = 0; k < K; ++k)
      if (t[k] >= 0) s += std::exp(double(z[k] - m));
    const double lse = double(m) + std::log(s);
    loss = lse - double(z[truth]);
    if (g)
      for (Index k = 0; k < K; ++k)
        g[k] = t[k] < 0 ? T(0) : static_cast<T>((std::exp(double(z[k]) - lse) - (k == truth ? 1.0 : 0.0)) / norm);
    return 0;
  }
  [[noreturn]] void fail_row(Index n, const char* what) const {
    std::ostringstream os;
    os << "target row " << n << " " << what;
    this->fail(os.str());
  }
};

}  // namespace nn
