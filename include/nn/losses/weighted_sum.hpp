// nn/losses/weighted_sum.hpp — several losses on one prediction and target,
// added with weights: L = sum_i w_i L_i, dL/dx = sum_i w_i dL_i/dx.
//   nn::WeightedSum<float> both({{&ce, 1.0}, {&dice, 1.0}});   // CE + Dice
// The losses are not owned and must outlive the sum. Each checks the shapes
// it accepts; the reduction of the sum is that of its parts.
#pragma once
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class WeightedSum : public Loss<T> {
 public:
  WeightedSum(std::vector<std::pair<const Loss<T>*, double>> parts) : Loss<T>(Reduction::Mean), parts_(std::move(parts)) {
    if (parts_.empty()) throw std::invalid_argument("WeightedSum: needs at least one loss");
    for (auto& [l, w] : parts_) {
      if (!l) throw std::invalid_argument("WeightedSum: a null loss");
      if (!(w >= 0) || !std::isfinite(w)) throw std::invalid_argument("WeightedSum: weights must be finite and >= 0");
    }
  }
  std::string name() const override {
    std::string s;
    for (auto& [l, w] : parts_) {
      char b[32];
      std::snprintf(b, sizeof b, "%g * ", w);
      s += (s.empty() ? "" : " + ") + (w == 1.0 ? std::string() : std::string(b)) + l->name();
    }
    return s;
  }
  T compute(const Tensor<T>& x, const Tensor<T>& target, Tensor<T>* grad) const override {
    double total = 0;
    if (grad) grad->resize(x.shape()), grad->zero();
    for (auto& [l, w] : parts_) {
      total += w * static_cast<double>(l->compute(x, target, grad ? &part_ : nullptr));
      if (grad)
        for (Index i = 0; i < x.size(); ++i) (*grad)[i] += static_cast<T>(w) * part_[i];
    }
    return static_cast<T>(total);
  }

 private:
  std::vector<std::pair<const Loss<T>*, double>> parts_;
  mutable DeepTensor<T> part_;
};

}  // namespace nn
