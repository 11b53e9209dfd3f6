// nn/layers/reshape.hpp — layers that move data without arithmetic.
//   Flatten:       x (N, d1, ..., dk) -> y (N, d1*...*dk)
//   ZeroPadding2D: x (N, C, H, W) -> y (N, C, H+top+bottom, W+left+right)
#pragma once
#include <cstring>

#include "nn/runtime/parallel.hpp"
#include "nn/layers/layer.hpp"
#include "nn/layers/registry.hpp"

namespace nn {

template <class T>
class Flatten : public Layer<T> {
 public:
  std::string type() const override { return "Flatten"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<Flatten>();
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Flatten>(); }

 protected:
  Shape do_build(const Shape& in, Rng&) override { return Shape{in.size()}; }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    std::memcpy(this->out_.data(), x.data(), static_cast<std::size_t>(x.size()) * sizeof(T));
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    std::memcpy(this->dx_.data(), dy.data(), static_cast<std::size_t>(dy.size()) * sizeof(T));
    return this->dx_;
  }
};

template <class T>
class ZeroPadding2D : public Layer<T> {
 public:
  // Symmetric padding p (all sides), or (ph, pw), or explicit sides.
  explicit ZeroPadding2D(Index p = 1) : ZeroPadding2D(p, p, p, p) {}
  ZeroPadding2D(Index ph, Index pw) : ZeroPadding2D(ph, ph, pw, pw) {}
  ZeroPadding2D(Index top, Index bottom, Index left, Index right) : t_(top), b_(bottom), l_(left), r_(right) {
    if (t_ < 0 || b_ < 0 || l_ < 0 || r_ < 0) throw std::invalid_argument("ZeroPadding2D: padding must be >= 0");
  }
  std::string type() const override { return "ZeroPadding2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<ZeroPadding2D>(c.get_size("top"), c.get_size("bottom"), c.get_size("left"),
                                           c.get_size("right"));
  }
  std::string describe() const override {
    return "ZeroPadding2D(" + std::to_string(t_) + ", " + std::to_string(b_) + ", " + std::to_string(l_) + ", " +
           std::to_string(r_) + ")";
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<ZeroPadding2D>(); }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("top", double(t_)), c.set("bottom", double(b_)), c.set("left", double(l_)), c.set("right", double(r_));
  }
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() != 3) this->fail_shape(in, "is not (C, H, W)");
    return Shape{in[0], in[1] + t_ + b_, in[2] + l_ + r_};
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    const Index planes = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
    const Index OH = H + t_ + b_, OW = W + l_ + r_;
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    T* y = this->out_.data();
    const T* xd = x.data();
    // One pass, parallel over planes: zero only the border, copy the rows.
    nn::detail::parallel_for(planes, planes > 1 && planes * OH * OW > (1 << 16), 16, [&](Index p, int) {
      T* yp = y + p * OH * OW;
      std::fill(yp, yp + t_ * OW, T(0));
      for (Index h = 0; h < H; ++h) {
        T* row = yp + (h + t_) * OW;
        std::fill(row, row + l_, T(0));
        std::memcpy(row + l_, xd + (p * H + h) * W, static_cast<std::size_t>(W) * sizeof(T));
        std::fill(row + l_ + W, row + OW, T(0));
      }
      std::fill(yp + (H + t_) * OW, yp + OH * OW, T(0));
    });
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    const Index planes = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
    const Index OH = H + t_ + b_, OW = W + l_ + r_;
    this->dx_.resize(x.shape());
    for (Index p = 0; p < planes; ++p)
      for (Index h = 0; h < H; ++h)
        std::memcpy(this->dx_.data() + (p * H + h) * W, dy.data() + (p * OH + h + t_) * OW + l_,
                    static_cast<std::size_t>(W) * sizeof(T));
    return this->dx_;
  }

 private:
  Index t_, b_, l_, r_;
};

NN_REGISTER_LAYER(Flatten)
NN_REGISTER_LAYER(ZeroPadding2D)

}  // namespace nn
