// nn/optim/rmsprop.hpp — RMSprop (torch.optim.RMSprop).
//   g = grad + weight_decay * p
//   s = alpha s + (1 - alpha) g^2                       (alpha is Keras' rho)
//   centered: a = alpha a + (1 - alpha) g;  denom = sqrt(s - a^2) + eps
//   else:     denom = sqrt(s) + eps
//   momentum > 0: b = momentum b + g / denom;  p -= lr b
//   else:         p -= lr g / denom
// Defaults: lr 0.01, alpha 0.99, eps 1e-8 (Keras: lr 1e-3, rho 0.9, eps 1e-7).
#pragma once
#include "nn/optim/optimizer.hpp"

namespace nn {

struct RMSpropOptions {
  double lr = 0.01, alpha = 0.99, eps = 1e-8, weight_decay = 0.0, momentum = 0.0;
  bool centered = false;
};

template <class T>
class RMSprop : public Optimizer<T> {
 public:
  RMSprop(std::vector<Param<T>> params, RMSpropOptions o = {}) : Optimizer<T>(std::move(params), o.lr), o_(o) {
    if (!(o.alpha >= 0 && o.alpha <= 1) || !(o.eps > 0) || o.momentum < 0 || o.weight_decay < 0)
      throw std::invalid_argument("RMSprop: needs alpha in [0, 1], eps > 0, momentum and weight_decay >= 0");
    sq_ = &this->add_slot("square_avg");
    if (o.centered) avg_ = &this->add_slot("grad_avg");
    if (o.momentum > 0) buf_ = &this->add_slot("momentum_buffer");
  }
  std::string name() const override { return "RMSprop"; }
  void step() override {
    const T lr = static_cast<T>(this->lr_), a = static_cast<T>(o_.alpha), eps = static_cast<T>(o_.eps);
    const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      auto p = this->params_[i].value->array();
      scratch_.resize(p.size());
      scratch_ = this->params_[i].grad->array() + wd * p;  // g
      auto s = (*sq_)[i].array();
      s = a * s + (T(1) - a) * scratch_.square();
      denom_.resize(p.size());
      if (avg_) {
        auto av = (*avg_)[i].array();
        av = a * av + (T(1) - a) * scratch_;
        denom_ = (s - av.square()).sqrt() + eps;
      } else {
        denom_ = s.sqrt() + eps;
      }
      if (buf_) {
        auto b = (*buf_)[i].array();
        b = mom * b + scratch_ / denom_;
        p -= lr * b;
      } else {
        p -= lr * scratch_ / denom_;
      }
    }
    ++this->t_;
  }

 private:
  RMSpropOptions o_;
  std::vector<DeepTensor<T>>*sq_ = nullptr, *avg_ = nullptr, *buf_ = nullptr;
  Eigen::Array<T, Eigen::Dynamic, 1> scratch_, denom_;
};

}  // namespace nn
