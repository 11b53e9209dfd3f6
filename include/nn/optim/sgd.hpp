// nn/optim/sgd.hpp — stochastic gradient descent (torch.optim.SGD).
//   g = grad + weight_decay * p
//   momentum > 0: b = g (first step), else b = momentum * b + (1 - dampening) * g
//                 g = nesterov ? g + momentum * b : b
//   p -= lr * g
// Keras' SGD(momentum, nesterov) uses v = m*v - lr*g, which is the same
// trajectory for a constant learning rate.
#pragma once
#include "nn/runtime/parallel.hpp"
#include "nn/optim/optimizer.hpp"

namespace nn {

struct SGDOptions {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

template <class T>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Param<T>> params, SGDOptions o = {}) : Optimizer<T>(std::move(params), o.lr), o_(o) {
    if (o.momentum < 0 || o.weight_decay < 0) throw std::invalid_argument("SGD: momentum and weight_decay must be >= 0");
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
      throw std::invalid_argument("SGD: nesterov needs momentum > 0 and dampening 0");
    if (o.momentum > 0) buf_ = &this->add_slot("momentum");
  }
  std::string name() const override { return "SGD"; }
  void step() override {
    const T lr = static_cast<T>(this->lr_), mom = static_cast<T>(o_.momentum), wd = static_cast<T>(o_.weight_decay);
    const T damp = static_cast<T>(1.0 - o_.dampening);
    for (std::size_t i = 0; i < this->params_.size(); ++i) {
      auto pa = this->params_[i].value->array();
      auto ga = this->params_[i].grad->array();
      // Element-wise, in fixed chunks (in parallel for large tensors).
      nn::detail::parallel_chunks(pa.size(), [&](Index s, Index e) {
        auto p = pa.segment(s, e - s);
        auto g0 = ga.segment(s, e - s);
        if (!buf_) {
          if (wd != 0) p -= lr * (g0 + wd * p);
          else p -= lr * g0;
          return;
        }
        auto b = (*buf_)[i].array().segment(s, e - s);
        if (this->t_ == 0) b = g0 + wd * p;
        else b = mom * b + damp * (g0 + wd * p);
        if (o_.nesterov) p -= lr * ((g0 + wd * p) + mom * b);
        else p -= lr * b;
      });
    }
    ++this->t_;
  }

 private:
  SGDOptions o_;
  std::vector<DeepTensor<T>>* buf_ = nullptr;
};

}  // namespace nn
