// nn/layers/conv2d_transpose.hpp — transposed 2-D convolution (the gradient
// of a convolution with respect to its input), for upsampling in decoders.
//   x (N, C, H, W) -> y (N, filters, OH, OW),
//   OH = (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
//   weight (C, filters, KH, KW) and bias (filters), as PyTorch's ConvTranspose2d.
// It runs as the convolution it transposes, on the convolution kernels: a
// convolution g with input y's shape, C output channels and the same kernel,
// stride, padding and dilation maps y back to x's shape, with the same weight
// layout; forward is g's input gradient (conv2d_backward_data), backward's dx
// is g's forward of dy, and dw is g's weight gradient with dy as its input
// and x as its output gradient. The kernels choose_conv picks for g run.
#pragma once
#include <vector>

#include "nn/kernels/conv2d.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/reduce.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Conv2DTranspose : public Layer<T> {
 public:
  Conv2DTranspose(Index filters, Size2 kernel, Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0,
                  Size2 dilation = 1, bool bias = true, Init weight_init = Init::HeUniform, Init bias_init = Init::Zeros)
      : filters_(filters), k_(kernel), s_(stride), p_(padding), op_(output_padding), d_(dilation), has_bias_(bias),
        winit_(weight_init), binit_(bias_init) {
    if (filters < 1 || k_.h < 1 || k_.w < 1 || s_.h < 1 || s_.w < 1 || d_.h < 1 || d_.w < 1)
      throw std::invalid_argument("Conv2DTranspose: filters, kernel, stride and dilation must be >= 1");
    if (p_.h < 0 || p_.w < 0) throw std::invalid_argument("Conv2DTranspose: padding must be >= 0");
    if (op_.h < 0 || op_.w < 0 || op_.h >= s_.h || op_.w >= s_.w)
      throw std::invalid_argument("Conv2DTranspose: output_padding must be >= 0 and smaller than the stride");
  }
  std::string type() const override { return "Conv2DTranspose"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Conv2DTranspose>(
        c.get_size("filters"), Size2(c.get_size("kernel_h"), c.get_size("kernel_w")),
        Size2(c.get_size("stride_h"), c.get_size("stride_w")), Size2(c.get_size("pad_h"), c.get_size("pad_w")),
        Size2(c.get_size("output_pad_h"), c.get_size("output_pad_w")),
        Size2(c.get_size("dilation_h"), c.get_size("dilation_w")), c.get_bool("bias"));
  }
  std::string describe() const override {
    std::string s = "Conv2DTranspose(" + std::to_string(filters_) + ", " + k_.str() + ", stride " + s_.str();
    if (p_.h || p_.w) s += ", pad " + p_.str();
    if (op_.h || op_.w) s += ", output pad " + op_.str();
    if (d_.h != 1 || d_.w != 1) s += ", dilation " + d_.str();
    return s + (has_bias_ ? ")" : ", no bias)");
  }
  std::vector<Param<T>> parameters() override {
    std::vector<Param<T>> p{{"weight", &w_, &dw_}};
    if (has_bias_) p.push_back({"bias", &b_, &db_});
    return p;
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Conv2DTranspose>(); }
  Tensor<T>& weight() { return w_; }
  Tensor<T>& bias() { return b_; }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("filters", double(filters_));
    c.set("kernel_h", double(k_.h)), c.set("kernel_w", double(k_.w));
    c.set("stride_h", double(s_.h)), c.set("stride_w", double(s_.w));
    c.set("pad_h", double(p_.h)), c.set("pad_w", double(p_.w));
    c.set("output_pad_h", double(op_.h)), c.set("output_pad_w", double(op_.w));
    c.set("dilation_h", double(d_.h)), c.set("dilation_w", double(d_.w));
    c.set("bias", has_bias_);
  }
  // g is the convolution that maps y (filters, OH, OW) to x (C, H, W).
  Shape do_build(const Shape& in, Rng& rng) override {
    if (in.rank() != 3) this->fail_shape(in, "is not (C, H, W)");
    const Index OH = (in[1] - 1) * s_.h - 2 * p_.h + d_.h * (k_.h - 1) + op_.h + 1;
    const Index OW = (in[2] - 1) * s_.w - 2 * p_.w + d_.w * (k_.w - 1) + op_.w + 1;
    if (OH < 1 || OW < 1) this->fail_shape(in, "gives an empty output (padding too large)");
    g_ = kernels::Conv2DGeom{};
    g_.C = filters_, g_.H = OH, g_.W = OW, g_.OC = in[0];
    g_.KH = k_.h, g_.KW = k_.w, g_.SH = s_.h, g_.SW = s_.w, g_.DH = d_.h, g_.DW = d_.w;
    g_.PT = g_.PB = p_.h, g_.PL = g_.PR = p_.w;
    g_.infer_output();
    if (g_.OH != in[1] || g_.OW != in[2]) this->fail_shape(in, "does not invert (internal geometry error)");
    const Index fan_in = in[0] * k_.h * k_.w, fan_out = filters_ * k_.h * k_.w;
    w_ = Tensor<T>({in[0], filters_, k_.h, k_.w});
    dw_ = Tensor<T>({in[0], filters_, k_.h, k_.w});
    initialize(w_, winit_, fan_in, fan_out, rng);
    if (has_bias_) {
      b_ = Tensor<T>({filters_});
      db_ = Tensor<T>({filters_});
      initialize(b_, binit_, fan_in, fan_out, rng);
    }
    return Shape{filters_, OH, OW};
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    g_.N = x.dim(0);
    this->out_.resize(this->output_shape().with_batch(g_.N));
    kernels::conv2d_backward_data<T>(w_.data(), x.data(), this->out_.data(), g_, ws_);
    if (has_bias_) {
      const Index HW = g_.H * g_.W;
      for (Index n = 0; n < g_.N; ++n)
        for (Index c = 0; c < g_.C; ++c) {
          T* plane = this->out_.data() + (n * g_.C + c) * HW;
          for (Index i = 0; i < HW; ++i) plane[i] += b_[c];
        }
    }
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    g_.N = x.dim(0);
    // dw += g's weight gradient: g's input is dy, its output gradient x
    kernels::conv2d_backward<T>(dy.data(), w_.data(), x.data(), nullptr, dw_.data(), nullptr, g_, ws_);
    if (has_bias_) {
      const Index HW = g_.H * g_.W;
      for (Index n = 0; n < g_.N; ++n)
        for (Index c = 0; c < g_.C; ++c) db_[c] += kernels::sum_fixed(dy.data() + (n * g_.C + c) * HW, HW);
    }
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    kernels::conv2d_forward<T>(dy.data(), w_.data(), nullptr, this->dx_.data(), g_, ws_);
    return this->dx_;
  }

 private:
  Index filters_;
  Size2 k_, s_, p_, op_, d_;
  bool has_bias_;
  Init winit_, binit_;
  kernels::Conv2DGeom g_;
  kernels::ConvWorkspace<T> ws_;
  DeepTensor<T> w_, dw_, b_, db_;
};

}  // namespace nn
