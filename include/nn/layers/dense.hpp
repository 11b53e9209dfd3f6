// nn/layers/dense.hpp — fully connected layer on the last dimension.
//   x (N, ..., in) -> y (N, ..., units);  y = x W^T + b
//   weight (units, in) as in PyTorch; bias (units), optional.
#pragma once
#include "nn/kernels/gemm.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Dense : public Layer<T> {
 public:
  explicit Dense(Index units, bool bias = true, Init weight_init = Init::HeUniform, Init bias_init = Init::Zeros)
      : units_(units), has_bias_(bias), winit_(weight_init), binit_(bias_init) {
    if (units < 1) throw std::invalid_argument("Dense: units must be >= 1, got " + std::to_string(units));
  }
  std::string type() const override { return "Dense"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Dense>(c.get_size("units"), c.get_bool("bias"));
  }
  std::string describe() const override {
    return "Dense(" + std::to_string(units_) + (has_bias_ ? "" : ", no bias") + ")";
  }
  std::vector<Param<T>> parameters() override {
    std::vector<Param<T>> p{{"weight", &w_, &dw_}};
    if (has_bias_) p.push_back({"bias", &b_, &db_});
    return p;
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Dense>(); }
  Index units() const { return units_; }
  Tensor<T>& weight() { return w_; }
  Tensor<T>& bias() { return b_; }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("units", double(units_));
    c.set("bias", has_bias_);
  }
  Shape do_build(const Shape& in, Rng& rng) override {
    if (in.rank() < 1) this->fail_shape(in, "has no feature dimension");
    in_ = in[in.rank() - 1];
    w_ = Tensor<T>({units_, in_});
    dw_ = Tensor<T>({units_, in_});
    initialize(w_, winit_, in_, units_, rng);
    if (has_bias_) {
      b_ = Tensor<T>({units_});
      db_ = Tensor<T>({units_});
      initialize(b_, binit_, in_, units_, rng);
    }
    Shape out = in;
    out[out.rank() - 1] = units_;
    return out;
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    const Index rows = x.size() / in_;
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    // y (rows, units) = x (rows, in) * W^T (in, units)
    kernels::gemm<T>(false, true, rows, units_, in_, T(1), x.data(), in_, w_.data(), in_, T(0), this->out_.data(),
                     units_);
    if (has_bias_) this->out_.matrix(rows, units_).rowwise() += b_.matrix(1, units_).row(0);
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    const Index rows = x.size() / in_;
    // dW (units, in) += dy^T (units, rows) * x (rows, in)
    kernels::gemm<T>(true, false, units_, in_, rows, T(1), dy.data(), units_, x.data(), in_, T(1), dw_.data(), in_);
    if (has_bias_) db_.matrix(1, units_).row(0) += dy.matrix(rows, units_).colwise().sum();
    if (!this->input_grad()) return this->none_;
    // dx (rows, in) = dy (rows, units) * W (units, in)
    this->dx_.resize(x.shape());
    kernels::gemm<T>(false, false, rows, in_, units_, T(1), dy.data(), units_, w_.data(), in_, T(0), this->dx_.data(),
                     in_);
    return this->dx_;
  }

 private:
  Index units_, in_ = 0;
  bool has_bias_;
  Init winit_, binit_;
  DeepTensor<T> w_, dw_, b_, db_;
};

}  // namespace nn
