// nn/optim/optimizer.hpp — the optimizer interface.
//
// An optimizer holds the parameters it updates (value + grad pointers, e.g.
// from Sequential::parameters()) and per-parameter state. step() applies one
// update from the accumulated gradients; zero_grad() clears them. Update rules
// and defaults follow PyTorch (torch.optim); each header states where Keras
// differs.
#pragma once
#include <deque>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  virtual void step() = 0;

  void zero_grad() {
    for (auto& p : params_) p.grad->zero();
  }
  double lr() const { return lr_; }
  void set_lr(double lr) {
    if (!(lr >= 0)) throw std::invalid_argument(name() + ": learning rate must be >= 0");
    lr_ = lr;
  }
  long steps() const { return t_; }
  const std::vector<Param<T>>& params() const { return params_; }
  // Per-parameter state tensors (for checkpoints), named "<param>.<slot>".
  std::vector<std::pair<std::string, Tensor<T>*>> state() {
    std::vector<std::pair<std::string, Tensor<T>*>> s;
    for (auto& [slot, ts] : slots_)
      for (std::size_t i = 0; i < ts.size(); ++i) s.push_back({params_[i].name + "." + slot, &ts[i]});
    return s;
  }
  void set_steps(long t) { t_ = t; }

 protected:
  Optimizer(std::vector<Param<T>> params, double lr) : params_(std::move(params)) {
    set_lr(lr);
    for (auto& p : params_) {
      if (!p.value || !p.grad || p.value->shape() != p.grad->shape())
        throw std::invalid_argument("optimizer: parameter '" + p.name + "' has no gradient of its shape");
    }
  }
  // A zero-initialized state tensor per parameter, registered under `slot`.
  std::vector<DeepTensor<T>>& add_slot(const std::string& slot) {
    slots_.emplace_back(slot, std::vector<DeepTensor<T>>{});
    auto& v = slots_.back().second;
    for (auto& p : params_) v.emplace_back(p.value->shape());
    return v;
  }

  std::vector<Param<T>> params_;
  double lr_ = 0;
  long t_ = 0;  // completed steps

 private:
  std::deque<std::pair<std::string, std::vector<DeepTensor<T>>>> slots_;  // deque: add_slot references stay valid
};

}  // namespace nn
