// nn/optim/adam.hpp — Adam and AdamW (torch.optim.Adam / AdamW).
//   Adam:  g = grad + weight_decay * p            (L2 penalty in the gradient)
//   AdamW: p *= 1 - lr * weight_decay             (decoupled decay), g = grad
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t += 1
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8; AdamW weight_decay 0.01.
// Keras' Adam uses eps 1e-7 and adds eps to sqrt(v_hat) the same way.
#pragma once
#include <cmath>

#include "nn/runtime/parallel.hpp"
#include "nn/optim/optimizer.hpp"

namespace nn {

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

template <class T>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Param<T>> params, AdamOptions o = {}, bool decoupled = false)
      : Optimizer<T>(std::move(params), o.lr), o_(o), decoupled_(decoupled) {
    if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1))
      throw std::invalid_argument(name() + ": betas must be in [0, 1)");
    if (!(o.eps > 0) || o.weight_decay < 0) throw std::invalid_argument(name() + ": eps must be > 0, weight_decay >= 0");
    m_ = &this->add_slot("exp_avg");
    v_ = &this->add_slot("exp_avg_sq");
  }
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  void step() override {
    const long t = this->t_ + 1;
    const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t));
    const T step = static_cast<T>(this->lr_ / bc1), sbc2 = static_cast<T>(std::sqrt(bc2));
    const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2), eps = static_cast<T>(o_.eps);
    const T wd = static_cast<T>(o_.weight_decay), decay = static_cast<T>(1.0 - this->lr_ * o_.weight_decay);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      auto pa = this->params_[i].value->array();
      auto ga = this->params_[i].grad->array();
      auto ma = (*m_)[i].array();
      auto va = (*v_)[i].array();
      // Element-wise, in fixed chunks (in parallel for large tensors): the
      // result does not depend on the thread count.
      nn::detail::parallel_chunks(pa.size(), [&](Index b, Index e) {
        auto p = pa.segment(b, e - b);
        auto g = ga.segment(b, e - b);
        auto m = ma.segment(b, e - b);
        auto v = va.segment(b, e - b);
        if (decoupled_) {
          if (wd != 0) p *= decay;
          m = b1 * m + (T(1) - b1) * g;
          v = b2 * v + (T(1) - b2) * g.square();
        } else {
          m = b1 * m + (T(1) - b1) * (g + wd * p);
          v = b2 * v + (T(1) - b2) * (g + wd * p).square();
        }
        p -= step * m / (v.sqrt() / sbc2 + eps);
      });
    }
    this->t_ = t;
  }

 private:
  AdamOptions o_;
  bool decoupled_;
  std::vector<DeepTensor<T>>*m_ = nullptr, *v_ = nullptr;
};

// AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch).
template <class T>
class AdamW : public Adam<T> {
 public:
  static AdamOptions with_decay(double wd = 0.01) {
    AdamOptions o;
    o.weight_decay = wd;
    return o;
  }
  // Two constructors rather than a default argument that calls with_decay():
  // clang rejects a default argument that uses another member's default
  // argument before the class is complete.
  explicit AdamW(std::vector<Param<T>> params) : Adam<T>(std::move(params), with_decay(0.01), true) {}
  AdamW(std::vector<Param<T>> params, AdamOptions o) : Adam<T>(std::move(params), o, true) {}
};

}  // namespace nn
