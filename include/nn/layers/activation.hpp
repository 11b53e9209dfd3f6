// nn/layers/activation.hpp — activation layers. All keep the input shape.
//   ReLU, LeakyReLU(slope = 0.01), ELU(alpha = 1), SELU, Sigmoid, Tanh:
//     element-wise, any shape.
//   Softmax, LogSoftmax: over the last dimension, x (N, ..., C). For
//     training use a loss on logits (SoftmaxCrossEntropy) instead: it is
//     exact and stable. LogSoftmax is there for models that end in one
//     (PyTorch's log_softmax + NLLLoss, imported from ONNX).
#pragma once
#include "nn/kernels/activations.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

namespace detail {
// Shared plumbing for shape-preserving activations: derived classes provide
// apply(x, y, n) and grad(x, y, dy, dx, n).
template <class T, class D>
class Pointwise : public Layer<T> {
 public:
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<D>(); }

 protected:
  Shape do_build(const Shape& in, Rng&) override { return in; }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(x.shape());
    static_cast<D*>(this)->apply(x, this->out_);
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    static_cast<D*>(this)->grad(x, y, dy, this->dx_);
    return this->dx_;
  }
};
}  // namespace detail

template <class T>
class ReLU : public detail::Pointwise<T, ReLU<T>> {
 public:
  std::string type() const override { return "ReLU"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<ReLU>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::relu_forward(x.data(), y.data(), x.size()); }
  void grad(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::relu_backward(x.data(), dy.data(), dx.data(), x.size());
  }
};

template <class T>
class LeakyReLU : public detail::Pointwise<T, LeakyReLU<T>> {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope_(static_cast<T>(slope)) {}
  std::string type() const override { return "LeakyReLU"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<LeakyReLU>(c.get_real("slope"));
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "LeakyReLU(" << slope_ << ")";
    return os.str();
  }
  void add_config(LayerConfig& c) const override { c.set("slope", double(slope_)); }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::leaky_relu_forward(x.data(), y.data(), x.size(), slope_); }
  void grad(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::leaky_relu_backward(x.data(), dy.data(), dx.data(), x.size(), slope_);
  }

 private:
  T slope_;
};

template <class T>
class ELU : public detail::Pointwise<T, ELU<T>> {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(static_cast<T>(alpha)) {}
  std::string type() const override { return "ELU"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<ELU>(c.get_real("alpha"));
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "ELU(" << alpha_ << ")";
    return os.str();
  }
  void add_config(LayerConfig& c) const override { c.set("alpha", double(alpha_)); }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::elu_forward(x.data(), y.data(), x.size(), alpha_); }
  void grad(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::elu_backward(x.data(), y.data(), dy.data(), dx.data(), x.size(), alpha_);
  }

 private:
  T alpha_;
};

template <class T>
class SELU : public detail::Pointwise<T, SELU<T>> {
 public:
  std::string type() const override { return "SELU"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<SELU>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::selu_forward(x.data(), y.data(), x.size()); }
  void grad(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::selu_backward(x.data(), y.data(), dy.data(), dx.data(), x.size());
  }
};

template <class T>
class Sigmoid : public detail::Pointwise<T, Sigmoid<T>> {
 public:
  std::string type() const override { return "Sigmoid"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<Sigmoid>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::sigmoid_forward(x.data(), y.data(), x.size()); }
  void grad(const Tensor<T>&, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::sigmoid_backward(y.data(), dy.data(), dx.data(), y.size());
  }
};

template <class T>
class Tanh : public detail::Pointwise<T, Tanh<T>> {
 public:
  std::string type() const override { return "Tanh"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<Tanh>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) { kernels::tanh_forward(x.data(), y.data(), x.size()); }
  void grad(const Tensor<T>&, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    kernels::tanh_backward(y.data(), dy.data(), dx.data(), y.size());
  }
};

template <class T>
class Softmax : public detail::Pointwise<T, Softmax<T>> {
 public:
  std::string type() const override { return "Softmax"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<Softmax>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) {
    const Index c = x.dim(x.rank() - 1);
    kernels::softmax_forward(x.data(), y.data(), x.size() / c, c);
  }
  void grad(const Tensor<T>&, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    const Index c = y.dim(y.rank() - 1);
    kernels::softmax_backward(y.data(), dy.data(), dx.data(), y.size() / c, c);
  }

 protected:
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() < 1) this->fail_shape(in, "has no class dimension");
    return in;
  }
};

template <class T>
class LogSoftmax : public detail::Pointwise<T, LogSoftmax<T>> {
 public:
  std::string type() const override { return "LogSoftmax"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig&) {
    return std::make_unique<LogSoftmax>();
  }
  void apply(const Tensor<T>& x, Tensor<T>& y) {
    const Index c = x.dim(x.rank() - 1);
    kernels::log_softmax_forward(x.data(), y.data(), x.size() / c, c);
  }
  void grad(const Tensor<T>&, const Tensor<T>& y, const Tensor<T>& dy, Tensor<T>& dx) {
    const Index c = y.dim(y.rank() - 1);
    kernels::log_softmax_backward(y.data(), dy.data(), dx.data(), y.size() / c, c);
  }

 protected:
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() < 1) this->fail_shape(in, "has no class dimension");
    return in;
  }
};

}  // namespace nn
