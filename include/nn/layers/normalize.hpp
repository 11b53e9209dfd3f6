// nn/layers/normalize.hpp — L2Normalize: unit length along one per-sample
// axis, as PyTorch's F.normalize.
//   x (N, ...) -> y (N, ...), y = x / max(|x|, eps) with |x| the L2 norm of
//   each vector along `axis` (-1: the last per-sample axis).
#pragma once
#include <algorithm>
#include <cmath>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class L2Normalize : public Layer<T> {
 public:
  explicit L2Normalize(int axis = -1, double eps = 1e-12) : axis_(axis), eps_(eps) {
    if (!(eps > 0)) throw std::invalid_argument("L2Normalize: eps must be > 0");
  }
  std::string type() const override { return "L2Normalize"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<L2Normalize>(static_cast<int>(c.get_int("axis", -4, 3)), c.get_real("eps"));
  }
  std::string describe() const override { return "L2Normalize(axis " + std::to_string(axis_) + ")"; }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<L2Normalize>(); }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("axis", axis_);
    c.set("eps", eps_);
  }
  // Per sample the input is (outer, len, inner) around the axis.
  Shape do_build(const Shape& in, Rng&) override {
    const int r = in.rank();
    if (axis_ < -r || axis_ >= r) this->fail_shape(in, "has no axis " + std::to_string(axis_));
    const int a = axis_ < 0 ? axis_ + r : axis_;
    outer_ = 1, len_ = in[a], inner_ = 1;
    for (int d = 0; d < r; ++d) {
      if (d < a) outer_ *= in[d];
      if (d > a) inner_ *= in[d];
    }
    return in;
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(x.shape());
    each(x.dim(0), [&](Index base) {
      const T inv = T(1) / norm(x.data() + base);
      for (Index k = 0; k < len_; ++k) this->out_[base + k * inner_] = x[base + k * inner_] * inv;
    });
    return this->out_;
  }
  // Where |x| > eps: dx = (dy - y (y·dy)) / |x|; elsewhere the norm is the
  // constant eps and dx = dy / eps.
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    each(x.dim(0), [&](Index base) {
      const T n = norm(x.data() + base);
      const bool clipped = !(n > static_cast<T>(eps_));
      T ydy = 0;
      for (Index k = 0; k < len_; ++k) ydy += y[base + k * inner_] * dy[base + k * inner_];
      if (clipped) ydy = 0;
      for (Index k = 0; k < len_; ++k)
        this->dx_[base + k * inner_] = (dy[base + k * inner_] - y[base + k * inner_] * ydy) / n;
    });
    return this->dx_;
  }

 private:
  T norm(const T* p) const {
    T s = 0;
    for (Index k = 0; k < len_; ++k) s += p[k * inner_] * p[k * inner_];
    return std::max(std::sqrt(s), static_cast<T>(eps_));
  }
  template <class Fn>
  void each(Index N, Fn fn) const {
    for (Index n = 0; n < N * outer_; ++n)
      for (Index i = 0; i < inner_; ++i) fn(n * len_ * inner_ + i);
  }
  int axis_;
  double eps_;
  Index outer_ = 1, len_ = 1, inner_ = 1;
};

}  // namespace nn
