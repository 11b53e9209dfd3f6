// nn/layers/reshape.hpp — layers that move data without arithmetic.
//   Flatten:       x (N, d1, ..., dk) -> y (N, d1*...*dk)
//   Reshape(shape): x (N, ...) -> y (N, shape...), same elements in the same
//                  order; one dimension of `shape` may be -1 (inferred)
//   ZeroPadding2D: x (N, C, H, W) -> y (N, C, H+top+bottom, W+left+right)
#pragma once
#include <cstring>
#include <vector>

#include "nn/runtime/parallel.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

namespace detail {
// A layer whose output is its input's elements in the same order under
// another per-sample shape (do_build says which): forward and backward copy.
template <class T>
class SameElements : public Layer<T> {
 protected:
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
}  // namespace detail

template <class T>
class Flatten : public detail::SameElements<T> {
 public:
  std::string type() const override { return "Flatten"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) { return std::make_unique<Flatten>(); }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Flatten>(); }

 protected:
  Shape do_build(const Shape& in, Rng&) override { return Shape{in.size()}; }
};

template <class T>
class Reshape : public detail::SameElements<T> {
 public:
  explicit Reshape(std::vector<Index> shape) : target_(std::move(shape)) {
    int unknown = 0;
    if (target_.empty() || target_.size() > 4) throw std::invalid_argument("Reshape: the shape needs 1-4 dimensions");
    for (Index d : target_) {
      if (d == -1) ++unknown;
      else if (d < 1) throw std::invalid_argument("Reshape: dimensions must be >= 1 (or one -1)");
    }
    if (unknown > 1) throw std::invalid_argument("Reshape: at most one dimension may be -1");
  }
  std::string type() const override { return "Reshape"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    std::vector<Index> s(static_cast<std::size_t>(c.get_int("rank", 1, 4)));
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<Index>(c.get_int("d" + std::to_string(i), -1));
    return std::make_unique<Reshape>(std::move(s));
  }
  std::string describe() const override {
    std::string s = "Reshape(";
    for (std::size_t i = 0; i < target_.size(); ++i) s += (i ? ", " : "") + std::to_string(target_[i]);
    return s + ")";
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Reshape>(); }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("rank", double(target_.size()));
    for (std::size_t i = 0; i < target_.size(); ++i) c.set("d" + std::to_string(i), double(target_[i]));
  }
  Shape do_build(const Shape& in, Rng&) override {
    Index known = 1;
    for (Index d : target_)
      if (d != -1) known *= d;
    Shape out;
    for (Index d : target_) out.push_back(d == -1 ? in.size() / known : d);
    if (out.size() != in.size()) this->fail_shape(in, "has " + std::to_string(in.size()) + " elements, not " + describe() + "'s");
    return out;
  }

 private:
  std::vector<Index> target_;
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

}  // namespace nn
