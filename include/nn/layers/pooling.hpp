// nn/layers/pooling.hpp — MaxPool2D, AvgPool2D and GlobalAvgPool2D over NCHW.
//   MaxPool2D / AvgPool2D: x (N, C, H, W) -> y (N, C, OH, OW), floor output
//   size; stride defaults to the kernel size. AvgPool2D counts padded zeros
//   in the divisor (PyTorch's default).
//   GlobalAvgPool2D: x (N, C, H, W) -> y (N, C).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/kernels/pool2d.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

// A max pool's geometry and output buffers, handed to Conv2D::forward_pooled
// by the plan: argmax is null after an eval-mode forward.
template <class T>
struct MaxPoolOutput {
  const kernels::Pool2DGeom* geom = nullptr;
  Tensor<T>* y = nullptr;
  std::int32_t* argmax = nullptr;
};

namespace detail {
template <class T>
class Pool2DBase : public Layer<T> {
 public:
  Pool2DBase(Size2 kernel, Size2 stride, Size2 padding) : k_(kernel), s_(stride), p_(padding) {
    if (k_.h < 1 || k_.w < 1 || s_.h < 1 || s_.w < 1 || p_.h < 0 || p_.w < 0)
      throw std::invalid_argument("Pool2D: kernel and stride must be >= 1, padding >= 0");
  }
  std::string describe() const override {
    std::string s = this->type() + "(" + k_.str() + ", stride " + s_.str();
    if (p_.h || p_.w) s += ", pad " + p_.str();
    return s + ")";
  }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("kernel_h", double(k_.h)), c.set("kernel_w", double(k_.w));
    c.set("stride_h", double(s_.h)), c.set("stride_w", double(s_.w));
    c.set("pad_h", double(p_.h)), c.set("pad_w", double(p_.w));
  }
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() != 3) this->fail_shape(in, "is not (C, H, W)");
    g_ = kernels::Pool2DGeom{};
    g_.C = in[0], g_.H = in[1], g_.W = in[2];
    g_.KH = k_.h, g_.KW = k_.w, g_.SH = s_.h, g_.SW = s_.w, g_.PH = p_.h, g_.PW = p_.w;
    try {
      g_.infer_output();
    } catch (const std::invalid_argument& e) {
      this->fail_shape(in, std::string("does not fit: ") + e.what());
    }
    return Shape{g_.C, g_.OH, g_.OW};
  }

 public:
  const kernels::Pool2DGeom& geometry() const { return g_; }

 protected:
  Size2 k_, s_, p_;
  kernels::Pool2DGeom g_;
};
}  // namespace detail

template <class T>
class MaxPool2D : public detail::Pool2DBase<T> {
 public:
  explicit MaxPool2D(Size2 kernel = 2, Size2 stride = 0, Size2 padding = 0)
      : detail::Pool2DBase<T>(kernel, stride.h ? stride : kernel, padding) {}
  std::string type() const override { return "MaxPool2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<MaxPool2D>(Size2(c.get_size("kernel_h"), c.get_size("kernel_w")),
                                       Size2(c.get_size("stride_h"), c.get_size("stride_w")),
                                       Size2(c.get_size("pad_h"), c.get_size("pad_w")));
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<MaxPool2D>(); }

  // Fused routines, called by the plan (nn/model/plan.hpp).
  // backward_through_relu: x = ReLU(z), and the result is dL/dz: a window's
  // output y is x at its argmax, so the ReLU's mask there (x > 0) is y > 0
  // and dy is routed only where y > 0. Bit-identical to this layer's backward
  // followed by the ReLU's; the ReLU's pass over the activation is skipped.
  const Tensor<T>& backward_through_relu(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) {
    this->check_backward(x, y, dy);
    return backward_impl(x, dy, y.data());
  }
  // Max-pool fusion: the preceding Conv2D writes these buffers (out_, and
  // argmax_ in training) itself.
  MaxPoolOutput<T> pooled_output(Index N, bool training) {
    this->g_.N = N;
    this->out_.resize(this->output_shape().with_batch(N));
    has_argmax_ = training;
    if (training) argmax_.resize(static_cast<std::size_t>(this->out_.size()));
    return pooled_output();
  }
  MaxPoolOutput<T> pooled_output() { return {&this->g_, &this->out_, has_argmax_ ? argmax_.data() : nullptr}; }

 protected:
  // Eval mode skips the argmax; backward after it recomputes the argmax from x.
  const Tensor<T>& do_forward(const Tensor<T>& x, bool training) override {
    this->g_.N = x.dim(0);
    this->out_.resize(this->output_shape().with_batch(this->g_.N));
    has_argmax_ = training;
    if (training) argmax_.resize(static_cast<std::size_t>(this->out_.size()));
    kernels::maxpool2d_forward(x.data(), this->out_.data(), training ? argmax_.data() : nullptr, this->g_);
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    return backward_impl(x, dy, nullptr);
  }
 private:
  const Tensor<T>& backward_impl(const Tensor<T>& x, const Tensor<T>& dy, const T* relu_mask) {
    if (!this->input_grad()) return this->none_;
    const T* y = relu_mask;
    if (!has_argmax_) {
      argmax_.resize(static_cast<std::size_t>(dy.size()));
      scratch_.resize(dy.shape());
      kernels::maxpool2d_forward(x.data(), scratch_.data(), argmax_.data(), this->g_);
      has_argmax_ = true;
      if (y) y = scratch_.data();  // the output of this recomputation (an eval-mode y may be fused)
    }
    this->dx_.resize(x.shape());
    kernels::maxpool2d_backward(dy.data(), argmax_.data(), this->dx_.data(), this->g_, y);
    return this->dx_;
  }


  std::vector<std::int32_t> argmax_;
  bool has_argmax_ = false;
  DeepTensor<T> scratch_;
};

template <class T>
class AvgPool2D : public detail::Pool2DBase<T> {
 public:
  explicit AvgPool2D(Size2 kernel = 2, Size2 stride = 0, Size2 padding = 0)
      : detail::Pool2DBase<T>(kernel, stride.h ? stride : kernel, padding) {}
  std::string type() const override { return "AvgPool2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<AvgPool2D>(Size2(c.get_size("kernel_h"), c.get_size("kernel_w")),
                                       Size2(c.get_size("stride_h"), c.get_size("stride_w")),
                                       Size2(c.get_size("pad_h"), c.get_size("pad_w")));
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<AvgPool2D>(); }

 protected:
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->g_.N = x.dim(0);
    this->out_.resize(this->output_shape().with_batch(this->g_.N));
    kernels::avgpool2d_forward(x.data(), this->out_.data(), this->g_);
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    kernels::avgpool2d_backward(dy.data(), this->dx_.data(), this->g_);
    return this->dx_;
  }
};

template <class T>
class GlobalAvgPool2D : public Layer<T> {
 public:
  std::string type() const override { return "GlobalAvgPool2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<GlobalAvgPool2D>();
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<GlobalAvgPool2D>(); }

 protected:
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() != 3 || in[1] * in[2] == 0) this->fail_shape(in, "is not a non-empty (C, H, W)");
    return Shape{in[0]};
  }
  // y (N*C) = mean of each (H*W) plane
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    const Index planes = x.dim(0) * x.dim(1), S = x.dim(2) * x.dim(3);
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    this->out_.matrix(planes, 1) = x.matrix(planes, S).rowwise().mean();
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    const Index planes = x.dim(0) * x.dim(1), S = x.dim(2) * x.dim(3);
    this->dx_.resize(x.shape());
    this->dx_.matrix(planes, S).colwise() = dy.matrix(planes, 1).col(0) / static_cast<T>(S);
    return this->dx_;
  }
};

}  // namespace nn
