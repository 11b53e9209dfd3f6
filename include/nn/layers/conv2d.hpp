// nn/layers/conv2d.hpp — 2-D convolution over NCHW.
//   x (N, C, H, W) -> y (N, filters, OH, OW)
//   weight (filters, C, KH, KW) as in PyTorch; bias (filters), optional.
// Padding: Padding::valid() (none), Padding::same() (TensorFlow's rule: output
// size ceil(H / stride); any odd extra row/column goes bottom/right), or
// explicit amounts: Padding(p), Padding(ph, pw), Padding::explicit_(t, b, l, r).
#pragma once
#include "nn/kernels/conv2d.hpp"
#include "nn/kernels/conv2d_pool.hpp"
#include "nn/layers/layer.hpp"
#include "nn/layers/pooling.hpp"  // MaxPoolOutput: max-pool fusion

namespace nn {

struct Padding {
  enum Mode { Valid, Same, Explicit };
  Mode mode = Valid;
  Index top = 0, bottom = 0, left = 0, right = 0;

  Padding() = default;
  Padding(Index p) : Padding(p, p) {}  // NOLINT: implicit, as PyTorch's padding=1
  Padding(Index ph, Index pw) : mode(Explicit), top(ph), bottom(ph), left(pw), right(pw) {}
  static Padding valid() { return Padding(); }
  static Padding same() {
    Padding p;
    p.mode = Same;
    return p;
  }
  static Padding explicit_(Index t, Index b, Index l, Index r) {
    Padding p(0);
    p.top = t, p.bottom = b, p.left = l, p.right = r;
    return p;
  }
  std::string str() const {
    if (mode == Valid) return "valid";
    if (mode == Same) return "same";
    if (top == bottom && left == right)
      return "pad " + (top == left ? std::to_string(top) : std::to_string(top) + "x" + std::to_string(left));
    return "pad " + std::to_string(top) + "," + std::to_string(bottom) + "," + std::to_string(left) + "," +
           std::to_string(right);
  }
};

template <class T>
class Conv2D : public Layer<T> {
 public:
  Conv2D(Index filters, Size2 kernel, Size2 stride = 1, Padding padding = Padding::valid(), Size2 dilation = 1,
         bool bias = true, Init weight_init = Init::HeUniform, Init bias_init = Init::Zeros)
      : filters_(filters), k_(kernel), s_(stride), pad_(padding), d_(dilation), has_bias_(bias), winit_(weight_init),
        binit_(bias_init) {
    if (filters < 1 || k_.h < 1 || k_.w < 1 || s_.h < 1 || s_.w < 1 || d_.h < 1 || d_.w < 1)
      throw std::invalid_argument("Conv2D: filters, kernel, stride and dilation must be >= 1");
    if (pad_.top < 0 || pad_.bottom < 0 || pad_.left < 0 || pad_.right < 0)
      throw std::invalid_argument("Conv2D: padding must be >= 0");
  }
  std::string type() const override { return "Conv2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    Padding p = Padding::explicit_(c.get_size("pad_top"), c.get_size("pad_bottom"), c.get_size("pad_left"),
                                   c.get_size("pad_right"));
    p.mode = static_cast<Padding::Mode>(c.get_int("padding_mode", 0, Padding::Explicit));
    return std::make_unique<Conv2D>(c.get_size("filters"), Size2(c.get_size("kernel_h"), c.get_size("kernel_w")),
                                    Size2(c.get_size("stride_h"), c.get_size("stride_w")), p,
                                    Size2(c.get_size("dilation_h"), c.get_size("dilation_w")), c.get_bool("bias"));
  }
  std::string describe() const override {
    std::string s = "Conv2D(" + std::to_string(filters_) + ", " + Size2(k_.h, k_.w).str() + ", stride " + s_.str() +
                    ", " + pad_.str();
    if (d_.h != 1 || d_.w != 1) s += ", dilation " + d_.str();
    return s + (has_bias_ ? ")" : ", no bias)");
  }
  std::vector<Param<T>> parameters() override {
    std::vector<Param<T>> p{{"weight", &w_, &dw_}};
    if (has_bias_) p.push_back({"bias", &b_, &db_});
    return p;
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Conv2D>(); }
  Tensor<T>& weight() { return w_; }
  Tensor<T>& bias() { return b_; }
  const kernels::Conv2DGeom& geometry() const { return g_; }

  // Fused routines, called by the plan (nn/model/plan.hpp), not part of the
  // layer contract.
  //
  // forward_fused: the output followed by e's per-channel affine and ReLU in
  // the same pass, while each sample's output is still in cache; equal to
  // the unfused layers up to float rounding (bit-identical for a ReLU alone).
  // forward() does not depend on `training` and backward() does not read y,
  // so a fused conv + ReLU output can serve as both layers' y in training.
  const Tensor<T>& forward_fused(const Tensor<T>& x, const Epilogue<T>& e) {
    this->check_input(x);
    g_.N = x.dim(0);
    this->out_.resize(this->output_shape().with_batch(g_.N));
    kernels::conv2d_forward<T>(x.data(), w_.data(), has_bias_ ? b_.data() : nullptr, this->out_.data(), g_, ws_.conv,
                               e);
    return this->out_;
  }
  // Conv2D -> ReLU -> MaxPool2D in one pass: fills the pool's buffers (the
  // pooled output, and the argmax in training) without writing the conv's
  // own full-size output.
  const Tensor<T>& forward_pooled(const Tensor<T>& x, const Epilogue<T>& e, const MaxPoolOutput<T>& p) {
    this->check_input(x);
    check_pool(p, x.dim(0));
    g_.N = x.dim(0);
    kernels::conv2d_forward_maxpool<T>(x.data(), w_.data(), has_bias_ ? b_.data() : nullptr, p.y->data(), p.argmax,
                                       g_, *p.geom, ws_, e);
    return *p.y;
  }
  // The three layers' backward from the pool's output gradient dy: parameter
  // gradients accumulate, dx as backward(). Pooled output, argmax and every
  // gradient equal the unfused layers' bit for bit (sums in an order fixed
  // by the shape, nn/kernels/reduce.hpp); where the fused conv runs as a
  // Winograd transform they agree to float rounding.
  const Tensor<T>& backward_pooled(const Tensor<T>& x, const Tensor<T>& dy, const MaxPoolOutput<T>& p, bool relu) {
    this->check_input(x);
    check_pool(p, x.dim(0));
    if (!p.argmax)
      throw std::logic_error(describe() + "::backward_pooled: the pool's forward kept no argmax (eval mode)");
    if (dy.shape() != p.y->shape())
      throw std::invalid_argument(type() + "::backward: gradient shape " + dy.shape().str() +
                                  " does not match the pooled output shape " + p.y->shape().str());
    g_.N = x.dim(0);
    T* dx = nullptr;
    if (this->input_grad()) {
      this->dx_.resize(x.shape());
      dx = this->dx_.data();
    }
    kernels::conv2d_backward_maxpool<T>(x.data(), w_.data(), dy.data(), p.argmax, relu ? p.y->data() : nullptr, dx,
                                        dw_.data(), has_bias_ ? db_.data() : nullptr, g_, *p.geom, ws_);
    return dx ? this->dx_ : this->none_;
  }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("filters", double(filters_));
    c.set("kernel_h", double(k_.h)), c.set("kernel_w", double(k_.w));
    c.set("stride_h", double(s_.h)), c.set("stride_w", double(s_.w));
    c.set("padding_mode", double(pad_.mode));
    c.set("pad_top", double(pad_.top)), c.set("pad_bottom", double(pad_.bottom));
    c.set("pad_left", double(pad_.left)), c.set("pad_right", double(pad_.right));
    c.set("dilation_h", double(d_.h)), c.set("dilation_w", double(d_.w));
    c.set("bias", has_bias_);
  }
  Shape do_build(const Shape& in, Rng& rng) override {
    if (in.rank() != 3) this->fail_shape(in, "is not (C, H, W)");
    g_ = kernels::Conv2DGeom{};
    g_.C = in[0], g_.H = in[1], g_.W = in[2];
    g_.OC = filters_, g_.KH = k_.h, g_.KW = k_.w, g_.SH = s_.h, g_.SW = s_.w, g_.DH = d_.h, g_.DW = d_.w;
    if (pad_.mode == Padding::Same) {
      auto same = [](Index n, Index k, Index s, Index d, Index& lo, Index& hi) {
        const Index out = (n + s - 1) / s;
        const Index total = std::max<Index>((out - 1) * s + d * (k - 1) + 1 - n, 0);
        lo = total / 2;
        hi = total - lo;
      };
      same(g_.H, g_.KH, g_.SH, g_.DH, g_.PT, g_.PB);
      same(g_.W, g_.KW, g_.SW, g_.DW, g_.PL, g_.PR);
    } else {
      g_.PT = pad_.top, g_.PB = pad_.bottom, g_.PL = pad_.left, g_.PR = pad_.right;
    }
    try {
      g_.infer_output();
    } catch (const std::invalid_argument& e) {
      this->fail_shape(in, std::string("is too small: ") + e.what());
    }
    const Index fan_in = g_.C * g_.KH * g_.KW, fan_out = g_.OC * g_.KH * g_.KW;
    w_ = Tensor<T>({g_.OC, g_.C, g_.KH, g_.KW});
    dw_ = Tensor<T>({g_.OC, g_.C, g_.KH, g_.KW});
    initialize(w_, winit_, fan_in, fan_out, rng);
    if (has_bias_) {
      b_ = Tensor<T>({g_.OC});
      db_ = Tensor<T>({g_.OC});
      initialize(b_, binit_, fan_in, fan_out, rng);
    }
    return Shape{g_.OC, g_.OH, g_.OW};
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    g_.N = x.dim(0);
    this->out_.resize(this->output_shape().with_batch(g_.N));
    kernels::conv2d_forward<T>(x.data(), w_.data(), has_bias_ ? b_.data() : nullptr, this->out_.data(), g_, ws_.conv);
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    g_.N = x.dim(0);
    T* dx = nullptr;
    if (this->input_grad()) {
      this->dx_.resize(x.shape());
      dx = this->dx_.data();
    }
    kernels::conv2d_backward<T>(x.data(), w_.data(), dy.data(), dx, dw_.data(), has_bias_ ? db_.data() : nullptr, g_,
                                ws_.conv);
    return dx ? this->dx_ : this->none_;
  }

 private:
  // The pool must take this layer's output: (C, H, W) = output_shape().
  void check_pool(const MaxPoolOutput<T>& p, Index N) const {
    if (!p.geom || !p.y) throw std::logic_error(describe() + ": max-pool fusion without a max pool's buffers");
    const Shape pin{p.geom->C, p.geom->H, p.geom->W};
    if (pin != this->output_shape() || p.y->rank() != 4 || p.y->dim(0) != N || p.y->dim(1) != p.geom->C ||
        p.y->dim(2) != p.geom->OH || p.y->dim(3) != p.geom->OW)
      throw std::invalid_argument(describe() + ": a max pool over " + pin.str() + " with output " +
                                  p.y->shape().str() + " cannot follow output " + batch_str(this->output_shape()) +
                                  " for a batch of " + std::to_string(N));
  }

  Index filters_;
  Size2 k_, s_;
  Padding pad_;
  Size2 d_;
  bool has_bias_;
  Init winit_, binit_;
  kernels::Conv2DGeom g_;
  kernels::ConvPoolWorkspace<T> ws_;
  DeepTensor<T> w_, dw_, b_, db_;
};

}  // namespace nn
