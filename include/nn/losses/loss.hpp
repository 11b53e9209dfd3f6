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
  Reduction reduction_;
};

}  // namespace nn
