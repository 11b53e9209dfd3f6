// nn/layers/conv2d_transpose.hpp — transposed 2-D convolution (the gradient
// of a convolution with respect to its input), for upsampling in decoders.
//   x (N, C, H, W) -> y (N, filters, OH, OW),
//   OH = (H - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
//   weight (C, filters, KH, KW) and bias (filters), as PyTorch's ConvTranspose2d.
// It runs as the convolution it transposes: a convolution with input y's
// shape, C output channels and the same kernel, stride, padding and
// dilation maps y back to x's shape; forward is that convolution's
// input-gradient (columns w^T x, then col2im) and backward its forward
// (dx = w * im2col(dy)) and weight gradient.
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
  // Per sample: cols (K, P) = w^T (K, C_in) * x_n (C_in, P); y_n = col2im(cols) + bias.
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    const Index N = x.dim(0), K = g_.col_rows(), P = g_.col_cols(), Y = g_.C * g_.H * g_.W;
    this->out_.resize(this->output_shape().with_batch(N));
    col_.resize(static_cast<std::size_t>(K * P));
    for (Index n = 0; n < N; ++n) {
      T* yn = this->out_.data() + n * Y;
      kernels::gemm<T>(true, false, K, P, g_.OC, T(1), w_.data(), K, x.data() + n * g_.OC * P, P, T(0), col_.data(), P);
      std::fill(yn, yn + Y, T(0));
      kernels::col2im(col_.data(), g_, yn);
      if (has_bias_)
        for (Index c = 0; c < g_.C; ++c) {
          T* plane = yn + c * g_.H * g_.W;
          for (Index i = 0; i < g_.H * g_.W; ++i) plane[i] += b_[c];
        }
    }
    return this->out_;
  }
  // Per sample: cols = im2col(dy_n); dw (C_in, K) += x_n (C_in, P) * cols^T;
  // dx_n (C_in, P) = w (C_in, K) * cols; db += the sums of dy's planes.
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    const Index N = x.dim(0), K = g_.col_rows(), P = g_.col_cols(), Y = g_.C * g_.H * g_.W;
    col_.resize(static_cast<std::size_t>(K * P));
    if (this->input_grad()) this->dx_.resize(x.shape());
    for (Index n = 0; n < N; ++n) {
      const T* dyn = dy.data() + n * Y;
      kernels::im2col(dyn, g_, col_.data());
      kernels::gemm<T>(false, true, g_.OC, K, P, T(1), x.data() + n * g_.OC * P, P, col_.data(), P, T(1), dw_.data(), K);
      if (this->input_grad())
        kernels::gemm<T>(false, false, g_.OC, P, K, T(1), w_.data(), K, col_.data(), P, T(0), this->dx_.data() + n * g_.OC * P,
                         P);
      if (has_bias_)
        for (Index c = 0; c < g_.C; ++c) db_[c] += kernels::sum_fixed(dyn + c * g_.H * g_.W, g_.H * g_.W);
    }
    return this->input_grad() ? this->dx_ : this->none_;
  }

 private:
  Index filters_;
  Size2 k_, s_, p_, op_, d_;
  bool has_bias_;
  Init winit_, binit_;
  kernels::Conv2DGeom g_;
  std::vector<T> col_;
  DeepTensor<T> w_, dw_, b_, db_;
};

}  // namespace nn
