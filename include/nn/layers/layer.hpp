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
// Layer fusion (optional hooks; Sequential uses them unless set_fusion(false)):
//   eval_fusion() says what the layer is in eval mode: the identity, y = x
//     with x's shape (Dropout), a per-channel affine y[n,c,...] = scale[c]*x[n,c,...] +
//     shift[c] (BatchNorm on running statistics; eval_channel_affine()
//     fills scale and shift), or ReLU.
//   A layer with supports_epilogue() (Conv2D) computes, in forward_fused(x,
//     e), its output followed by e's affine and ReLU in the same pass, while
//     each sample's output is still in cache. The result must equal the
//     unfused layers' up to float rounding. Such a layer's forward must not
//     depend on `training` and its backward must not read y: in training,
//     Sequential fuses it with a following ReLU (no affine), hands the fused
//     output to both layers' backward, and the ReLU masks by y > 0.
//   A layer with folds_relu_backward() (MaxPool2D) whose input x is a ReLU's
//     output computes, in backward_through_relu(x, y, dy), the gradient with
//     respect to that ReLU's input: its own backward followed by the ReLU's,
//     bit-identical to the two layers' backward calls in a row. Sequential
//     then skips the ReLU's backward (one pass over the activation less).
//   Max-pool fusion: for Conv2D -> ReLU -> MaxPool2D, Sequential asks the
//     pool for its output buffers (max_pool_output(N, training): the pooled
//     y, and the argmax in training) and the conv, which says
//     supports_pool_epilogue(), fills them in forward_pooled(x, e, pool)
//     without writing its own full-size output; the conv's and the ReLU's
//     outputs then do not exist. backward_pooled(x, dy_pool, pool, relu)
//     takes the pool's output gradient and does the three backward passes
//     (parameter gradients accumulate, dx as backward). The pooled output,
//     argmax, input gradient, weight gradient and bias gradient equal the
//     unfused layers' bit for bit (sums in an order fixed by the shape,
//     nn/kernels/reduce.hpp), on every CPU; where the fused conv runs as a
//     Winograd transform (outputs differ in rounding anyway) they agree to
//     float rounding. A layer with fuses_after_conv() (MaxPool2D) provides the
//     buffers, and max_pool_output() returns those of its last forward.
// ================================================================================
#pragma once
#include <cstdint>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nn/init/init.hpp"
#include "nn/kernels/epilogue.hpp"  // Epilogue<T>: what forward_fused applies
#include "nn/kernels/pool2d.hpp"    // Pool2DGeom: max-pool fusion
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
};

template <class T>
struct Param {
  std::string name;
  Tensor<T>* value = nullptr;
  Tensor<T>* grad = nullptr;
};

// What a layer is in eval mode, for inference fusion (see the contract).
enum class EvalFusion { None, Identity, ChannelAffine, ReLU };

// A max pool's geometry and output buffers, for max-pool fusion (see the
// contract): geom null means "not a max pool"; argmax null after an
// eval-mode forward.
template <class T>
struct MaxPoolOutput {
  const kernels::Pool2DGeom* geom = nullptr;
  Tensor<T>* y = nullptr;
  std::int32_t* argmax = nullptr;
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

  // Inference fusion hooks (see the contract at the top).
  virtual EvalFusion eval_fusion() const { return EvalFusion::None; }
  virtual void eval_channel_affine(std::vector<T>& /*scale*/, std::vector<T>& /*shift*/) const {
    throw std::logic_error(describe() + " is not a per-channel affine in eval mode");
  }
  virtual bool supports_epilogue() const { return false; }
  virtual bool folds_relu_backward() const { return false; }
  const Tensor<T>& backward_through_relu(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) {
    check_backward(x, y, dy);
    return do_backward_through_relu(x, y, dy);
  }
  const Tensor<T>& forward_fused(const Tensor<T>& x, const Epilogue<T>& e) {
    check_input(x);
    return do_forward_fused(x, e);
  }
  // Max-pool fusion hooks (see the contract).
  virtual bool supports_pool_epilogue() const { return false; }
  virtual bool fuses_after_conv() const { return false; }
  virtual MaxPoolOutput<T> max_pool_output(Index /*N*/, bool /*training*/) { return {}; }
  virtual MaxPoolOutput<T> max_pool_output() { return {}; }
  const Tensor<T>& forward_pooled(const Tensor<T>& x, const Epilogue<T>& e, const MaxPoolOutput<T>& pool) {
    check_input(x);
    check_pool(pool, x.dim(0));
    return do_forward_pooled(x, e, pool);
  }
  const Tensor<T>& backward_pooled(const Tensor<T>& x, const Tensor<T>& dy, const MaxPoolOutput<T>& pool,
                                   bool relu) {
    check_input(x);
    check_pool(pool, x.dim(0));
    if (!pool.argmax)
      throw std::logic_error(describe() + "::backward_pooled: the pool's forward kept no argmax (eval mode)");
    if (dy.shape() != pool.y->shape())
      throw std::invalid_argument(type() + "::backward: gradient shape " + dy.shape().str() +
                                  " does not match the pooled output shape " + pool.y->shape().str());
    return do_backward_pooled(x, dy, pool, relu);
  }

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
  virtual const Tensor<T>& do_forward_fused(const Tensor<T>&, const Epilogue<T>&) {
    throw std::logic_error(describe() + " has no fused forward");
  }
  virtual const Tensor<T>& do_backward_through_relu(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&) {
    throw std::logic_error(describe() + " does not fold a ReLU's backward");
  }
  virtual const Tensor<T>& do_forward_pooled(const Tensor<T>&, const Epilogue<T>&, const MaxPoolOutput<T>&) {
    throw std::logic_error(describe() + " has no max-pool epilogue");
  }
  virtual const Tensor<T>& do_backward_pooled(const Tensor<T>&, const Tensor<T>&, const MaxPoolOutput<T>&, bool) {
    throw std::logic_error(describe() + " has no max-pool epilogue");
  }

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

 private:
  void check_backward(const Tensor<T>& x, const Tensor<T>& y, const Tensor<T>& dy) const {
    check_input(x);
    if (dy.shape() != y.shape())
      throw std::invalid_argument(type() + "::backward: gradient shape " + dy.shape().str() +
                                  " does not match output shape " + y.shape().str());
  }
  // The pool must take this layer's output: (C, H, W) = output_shape().
  void check_pool(const MaxPoolOutput<T>& p, Index N) const {
    if (!p.geom || !p.y)
      throw std::logic_error(describe() + ": max-pool fusion without a max pool's buffers");
    const Shape pin{p.geom->C, p.geom->H, p.geom->W};
    if (pin != out_shape_ || p.y->rank() != 4 || p.y->dim(0) != N || p.y->dim(1) != p.geom->C ||
        p.y->dim(2) != p.geom->OH || p.y->dim(3) != p.geom->OW)
      throw std::invalid_argument(describe() + ": a max pool over " + pin.str() + " with output " +
                                  p.y->shape().str() + " cannot follow output " + batch_str(out_shape_) +
                                  " for a batch of " + std::to_string(N));
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

  Shape in_shape_, out_shape_;
  bool built_ = false;
  bool input_grad_ = true;
};

}  // namespace nn
