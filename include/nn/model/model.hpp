// nn/model/model.hpp — Model<T>: what fit(), evaluate() and the callbacks
// need from a model, whichever kind it is (Sequential<T>, Graph<T>).
//
// Inputs and outputs are numbered and named (a Sequential has one of each,
// "input" and "output"). forward() takes one tensor per input, (N, shape...),
// and returns one per output, valid until the next forward; backward() takes
// dL/d(output) per output, accumulates parameter gradients and returns
// dL/d(input) per input when asked (else nulls).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Model {
 public:
  virtual ~Model() = default;
  virtual std::size_t num_inputs() const = 0;
  virtual std::size_t num_outputs() const = 0;
  virtual const Shape& input_shape(std::size_t i) const = 0;
  virtual const Shape& output_shape(std::size_t i) const = 0;
  virtual std::string input_name(std::size_t i) const = 0;
  virtual std::string output_name(std::size_t i) const = 0;

  virtual const std::vector<const Tensor<T>*>& forward(const std::vector<const Tensor<T>*>& xs, bool training) = 0;
  virtual std::vector<const Tensor<T>*> backward(const std::vector<const Tensor<T>*>& dys,
                                                 bool want_input_grads = false) = 0;

  virtual std::vector<Param<T>> parameters() = 0;
  // Every distinct layer object whose parameters parameters() lists (a
  // shared layer once), in that order.
  virtual std::vector<Layer<T>*> layers() = 0;
  // hook(layer) is called during backward() as soon as that layer's
  // parameter gradients for this backward are complete (a shared layer's
  // after its last call), once per layer of layers() per backward, in an
  // order fixed by the model's structure. A data-parallel runtime starts
  // averaging gradients from it while the rest of backward runs. An empty
  // function removes the hook.
  virtual void set_gradient_hook(std::function<void(Layer<T>&)> hook) = 0;
  virtual std::vector<std::pair<std::string, Tensor<T>*>> buffers() = 0;
  virtual void zero_grad() = 0;
  virtual void train() = 0;
  virtual void eval() = 0;
  virtual bool is_training() const = 0;
  virtual std::uint64_t seed() const = 0;
  // Reseeds every layer's own generator (dropout masks) from `s`.
  virtual void reseed_layers(std::uint64_t s) = 0;

 protected:
  Model() = default;
  Model(const Model&) = default;
  Model(Model&&) noexcept = default;
  Model& operator=(const Model&) = default;
  Model& operator=(Model&&) noexcept = default;
};

}  // namespace nn
