// nn/layers/layer.hpp — the layer contract, and the base class every layer
// derives from.
//
// ============================== THE LAYER CONTRACT ==============================
// Shapes. Tensors are batch first. A layer is built for a per-sample input
// shape (without the batch dimension) and then accepts any batch size N >= 1:
// forward(x) takes x of shape (N, in...) and returns (N, out...).
//
// build(in, rng) -> out
//   Checks that the per-sample input shape `in` suits the layer (otherwise it
//   throws std::invalid_argument naming the layer type and the shapes),
//   allocates the parameters and initializes them from `rng`, and returns the
//   per-sample output shape. Building again with the same shape keeps the
//   parameters; with a different shape it re-initializes them.
//
// forward(x, training) -> const Tensor& y
//   Computes the output into a buffer the layer owns and returns a reference
//   to it. The reference stays valid, and the contents unchanged, until the
//   next forward() on this layer. Buffers are reused across calls of the same
//   shape, so a training loop allocates nothing after its first step.
//   Forward may cache what backward needs and cannot cheaply recompute from x
//   and y (max-pool argmax, batch-norm batch mean/invstd, dropout mask); it
//   never keeps a pointer to x. `training` selects training behaviour
//   (dropout active, batch norm on batch statistics, running stats updated);
//   with training == false forward is a pure function of x and the weights.
//   x must have the built per-sample shape and N >= 1, or forward throws,
//   naming the layer type and both shapes.
//
// backward(x, y, dy) -> const Tensor& dx
//   x and y must be the input and output of the most recent forward() on this
//   layer (y is the reference forward returned), and that forward must have
//   had training == true for layers whose behaviour depends on it. dy has y's
//   shape. Backward
//     - OVERWRITES and returns dx = dL/dx (a layer-owned buffer, valid until
//       the next backward), unless input gradients are switched off with
//       set_input_grad(false) — then it returns an empty tensor;
//     - ACCUMULATES (+=) dL/dθ into each parameter's grad, so gradients of
//       several backward calls add up until zero_grad() (as in PyTorch).
//
// parameters() lists trainable tensors with their gradients and local names
// ("weight", "bias", ...). buffers() lists non-trainable state that belongs
// to the model (batch-norm running statistics). clone() is a deep copy of
// configuration, parameters and buffers.
//
// Randomness inside forward (dropout) comes from a generator the layer owns,
// seeded by build() from the model's rng, and reseedable with seed().
//
// Fusion is not part of the contract: the plan (nn/model/plan.hpp) decides
// which layers run fused and calls the concrete layers' own fused routines
// (Conv2D::forward_fused, MaxPool2D::backward_through_relu, ...).
//
// Adding a layer: derive from Layer<T> in one header under layers/, implement
// type(), do_build(), do_forward(), do_backward() and clone() (clone_as<D>()
// does it when every member copies deeply: use DeepTensor for tensors),
// parameters() / buffers() if it has any, add_config() for its
// hyper-parameters, and a static from_config() that inverts it; then add its
// name to NN_LIBRARY_LAYERS in nn/io/layer_factory.hpp (a layer outside the
// library uses NN_REGISTER_LAYER, nn/layers/registry.hpp). Tests: a
// finite-difference gradient check in tests/layers/gradcheck_test.cpp and
// PyTorch golden values in tests/golden/.
// ================================================================================
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/init/init.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn {

// A trainable parameter: its value and the gradient accumulated for it.
// A layer's hyper-parameters as (key, number) pairs: enough to rebuild the
// layer with make_layer() (nn/io/layer_factory.hpp) before loading weights.
struct LayerConfig {
  std::string type;
  std::vector<std::pair<std::string, double>> values;
  void set(const std::string& k, double v) { values.emplace_back(k, v); }
  double get(const std::string& k) const {
    for (const auto& kv : values)
      if (kv.first == k) return kv.second;
    throw std::invalid_argument("layer config for " + type + " has no '" + k + "'");
  }
  // A whole number in [lo, hi] (a file's value must not reach a
  // float-to-integer conversion it would overflow).
  std::int64_t get_int(const std::string& k, double lo = 0, double hi = 2147483648.0) const {
    const double v = get(k);
    if (!(v >= lo && v <= hi) || v != std::floor(v))
      throw std::invalid_argument(type + ": '" + k + "' = " + std::to_string(v) + " is not a whole number in [" +
                                  std::to_string(static_cast<long long>(lo)) + ", " +
                                  std::to_string(static_cast<long long>(hi)) + "]");
    return static_cast<std::int64_t>(v);
  }
  // A size: get_int in [0, 2^31].
  Index get_size(const std::string& k) const { return static_cast<Index>(get_int(k)); }
  // A finite real within float's range.
  double get_real(const std::string& k) const {
    const double v = get(k);
    if (!(std::abs(v) <= 1e30)) throw std::invalid_argument(type + ": '" + k + "' = " + std::to_string(v));
    return v;
  }
  bool get_bool(const std::string& k) const { return get(k) != 0; }
};

template <class T>
struct Param {
  std::string name;
  Tensor<T>* value = nullptr;
  Tensor<T>* grad = nullptr;
};

// A (height, width) pair that converts from a single number: `3` is 3x3.
struct Size2 {
  Index h = 1, w = 1;
  Size2(Index v) : h(v), w(v) {}  // NOLINT: implicit on purpose
  Size2(Index h_, Index w_) : h(h_), w(w_) {}
  std::string str() const { return h == w ? std::to_string(h) : std::to_string(h) + "x" + std::to_string(w); }
};

// "(N, a, b)" for the per-sample shape (a, b).
inline std::string batch_str(const Shape& per_sample) {
  std::string s = per_sample.str();
  return per_sample.rank() ? "(N, " + s.substr(1) : "(N)";
}

template <class T>
class Layer {
 public:
  virtual ~Layer() = default;

  // Short type name, e.g. "Conv2D".
  virtual std::string type() const = 0;
  // Type plus hyper-parameters, e.g. "Conv2D(32, 3x3, stride 1, same)".
  virtual std::string describe() const { return type(); }
  // Hyper-parameters for serialization (type() plus add_config()).
  LayerConfig config() const {
    LayerConfig c;
    c.type = type();
    add_config(c);
    return c;
  }

  Shape build(const Shape& in, Rng& rng) {
    if (built_ && in == in_shape_) return out_shape_;
    out_shape_ = do_build(in, rng);
    in_shape_ = in;
    built_ = true;
    return out_shape_;
  }
  bool built() const { return built_; }
  const Shape& input_shape() const { return in_shape_; }
  const Shape& output_shape() const { return out_shape_; }

  const Tensor<T>& forward(const Tensor<T>& x, bool training) {
    check_input(x);
    return do_forward(x, training);
  }
  const Tensor<T>& backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) {
    check_backward(x, y, dy);
    return do_backward(x, y, dy);
  }

  virtual std::vector<Param<T>> parameters() { return {}; }
  virtual std::vector<std::pair<std::string, Tensor<T>*>> buffers() { return {}; }
  Index num_parameters() {
    Index n = 0;
    for (auto& p : parameters()) n += p.value->size();
    return n;
  }
  void zero_grad() {
    for (auto& p : parameters()) p.grad->zero();
  }
  virtual std::unique_ptr<Layer<T>> clone() const = 0;
  virtual void seed(std::uint64_t) {}

  // When false, backward skips dL/dx (used for a model's first layer).
  void set_input_grad(bool on) { input_grad_ = on; }
  bool input_grad() const { return input_grad_; }

 protected:
  Layer() = default;
  Layer(const Layer& o)
      : in_shape_(o.in_shape_), out_shape_(o.out_shape_), built_(o.built_), input_grad_(o.input_grad_) {}
  Layer& operator=(const Layer&) = delete;

  virtual void add_config(LayerConfig&) const {}
  virtual Shape do_build(const Shape& in, Rng& rng) = 0;
  virtual const Tensor<T>& do_forward(const Tensor<T>& x, bool training) = 0;
  virtual const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) = 0;
  [[noreturn]] void fail_shape(const Shape& in, const std::string& why) const {
    throw std::invalid_argument(describe() + ": input shape " + in.str() + " " + why);
  }
  // Helper for clone(): a copy with tensors deep-copied by the derived class.
  template <class D>
  std::unique_ptr<Layer<T>> clone_as() const {
    return std::make_unique<D>(static_cast<const D&>(*this));
  }

  Tensor<T> out_;  // forward output buffer
  Tensor<T> dx_;   // backward input-gradient buffer
  Tensor<T> none_;  // returned when input gradients are off

 protected:
  void check_backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) const {
    check_input(x);
    if (dy.shape() != y.shape())
      throw std::invalid_argument(type() + "::backward: gradient shape " + dy.shape().str() +
                                  " does not match output shape " + y.shape().str());
  }
  void check_input(const Tensor<T>& x) const {
    if (!built_)
      throw std::logic_error(describe() + ": forward/backward before build(); add the layer to a Sequential or call build()");
    if (x.rank() < 1 || x.dim(0) < 1)
      throw std::invalid_argument(describe() + ": empty batch " + x.shape().str());
    if (x.shape().tail() != in_shape_)
      throw std::invalid_argument(describe() + ": expected input " + batch_str(in_shape_) + " but got " +
                                  x.shape().str());
  }

 private:
  Shape in_shape_, out_shape_;
  bool built_ = false;
  bool input_grad_ = true;
};

}  // namespace nn
