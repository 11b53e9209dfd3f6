// nn/losses/loss.hpp — the loss interface.
//
// A loss maps a prediction (logits, for the classification losses) and a
// target to a scalar, and writes dL/dprediction:
//   T compute(pred, target, grad)   grad may be null; otherwise it is resized
//                                   to pred's shape and OVERWRITTEN.
// Reduction::Mean or Reduction::Sum; what Mean divides by is stated by each
// loss and matches PyTorch. Shapes, label ranges and non-finite targets are
// checked: a bad input throws std::invalid_argument naming the loss and shapes.
#pragma once
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "nn/tensor/tensor.hpp"

namespace nn {

enum class Reduction { Mean, Sum };

template <class T>
class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  virtual T compute(const Tensor<T>& pred, const Tensor<T>& target, Tensor<T>* grad) const = 0;
  T operator()(const Tensor<T>& pred, const Tensor<T>& target) const { return compute(pred, target, nullptr); }
  Reduction reduction() const { return reduction_; }

 protected:
  explicit Loss(Reduction r) : reduction_(r) {}
  [[noreturn]] void fail(const std::string& msg) const { throw std::invalid_argument(name() + ": " + msg); }
  void check_batch(const Tensor<T>& pred) const {
    if (pred.rank() < 1 || pred.dim(0) == 0) fail("empty batch, prediction shape " + pred.shape().str());
  }
  void check_same(const Tensor<T>& pred, const Tensor<T>& target) const {
    check_batch(pred);
    if (pred.shape() != target.shape())
      fail("prediction shape " + pred.shape().str() + " and target shape " + target.shape().str() + " differ");
  }
  void check_finite(const Tensor<T>& t, const char* what) const {
    for (Index i = 0; i < t.size(); ++i)
      if (!std::isfinite(t[i])) {
        std::ostringstream os;
        os << what << " element " << i << " is " << t[i];
        fail(os.str());
      }
  }
  // Class targets for logits x (N, C) or (N, C, d1, ..., dk): labels (N, d1, ..., dk)
  // (returns true) or probabilities of x's shape (returns false); anything else,
  // or a non-finite target, fails naming the shapes.
  bool label_targets(const Tensor<T>& x, const Tensor<T>& target) const {
    if (x.rank() < 2 || x.dim(1) < 1)
      fail("logits must be (N, C) or (N, C, d1, ..., dk) with C >= 1, got " + x.shape().str());
    const bool labels = target.rank() == x.rank() - 1;
    bool fits = labels ? target.dim(0) == x.dim(0) : target.shape() == x.shape();
    for (int d = 2; labels && d < x.rank(); ++d) fits = fits && target.dim(d - 1) == x.dim(d);
    if (!fits) {
      const std::string lab = x.rank() == 2 ? "(N) labels" : "(N, d...) labels";
      const std::string prob = x.rank() == 2 ? "(N, C) probabilities" : "probabilities of the logits' shape";
      fail("target shape " + target.shape().str() + " matches neither " + lab + " nor " + prob + " for logits " +
           x.shape().str());
    }
    check_finite(target, "target");
    return labels;
  }
  // Label v of row r (sample r / S, position r % S) as a class in [0, C), or a failure naming it.
  Index class_of(T v, Index C, Index r, Index S) const {
    if (!(v >= 0 && v < static_cast<T>(C)) || std::floor(v) != v) {
      std::ostringstream os;
      os << "label " << v << " of sample " << r / S;
      if (S > 1) os << " at position " << r % S;
      os << " is not a class in [0, " << C << ")";
      fail(os.str());
    }
    return static_cast<Index>(v);
  }
  Reduction reduction_;
};

namespace detail {
// (N, C, S) -> (N*S, C): every position a row of C classes, as PyTorch counts
// a per-pixel loss's samples; and back.
template <class T>
void to_class_rows(const T* src, Index N, Index C, Index S, T* dst) {
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      for (Index s = 0; s < S; ++s) dst[(n * S + s) * C + c] = src[(n * C + c) * S + s];
}
template <class T>
void from_class_rows(const T* src, Index N, Index C, Index S, T* dst) {
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      for (Index s = 0; s < S; ++s) dst[(n * C + c) * S + s] = src[(n * S + s) * C + c];
}
}  // namespace detail

}  // namespace nn
