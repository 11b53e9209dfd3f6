// nn/losses/mse.hpp — mean squared error.
//   pred and target of the same shape; l = (pred - target)^2.
//   Mean divides by the number of elements (PyTorch's MSELoss).
#pragma once
#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class MSE : public Loss<T> {
 public:
  explicit MSE(Reduction r = Reduction::Mean) : Loss<T>(r) {}
  std::string name() const override { return "MSE"; }
  T compute(const Tensor<T>& x, const Tensor<T>& t, Tensor<T>* grad) const override {
    this->check_same(x, t);
    this->check_finite(t, "target");
    const double norm = this->reduction_ == Reduction::Mean ? static_cast<double>(x.size()) : 1.0;
    double loss = 0;
    if (grad) grad->resize(x.shape());
    for (Index i = 0; i < x.size(); ++i) {
      const double d = static_cast<double>(x[i]) - t[i];
      loss += d * d;
      if (grad) (*grad)[i] = static_cast<T>(2.0 * d / norm);
    }
    return static_cast<T>(loss / norm);
  }
};

}  // namespace nn
