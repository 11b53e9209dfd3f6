// nn/model/sequential.hpp — Sequential<T>: layers applied in order, built at
// run time.
//
//   nn::Sequential<float> model({1, 28, 28}, /*seed=*/42);   // per-sample input shape
//   model.add<nn::Conv2D<float>>(32, 5);
//   model.add(nn::ReLU<float>());
//   ...
//   const auto& logits = model.forward(x);            // x (N, 1, 28, 28)
//   loss.compute(logits, y, &dlogits);
//   model.backward(dlogits);                          // accumulates parameter grads
//   opt.step(); model.zero_grad();
//
// Shape inference: with an input shape, every add() builds the new layer at
// once, so a layer that cannot take its predecessor's output throws there,
// naming the layer's index and type and both shapes. Without one, the model
// builds at the first forward() (or an explicit build()).
// The model's seed fixes every layer's initialization and dropout stream.
#pragma once
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/layers/layer.hpp"
#include "nn/model/executor.hpp"
#include "nn/model/model.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn {

template <class T>
class Sequential : public Model<T> {
 public:
  explicit Sequential(std::uint64_t seed = 0) : seed_(seed), rng_(seed) {}
  explicit Sequential(const Shape& input_shape, std::uint64_t seed = 0) : Sequential(seed) {
    in_shape_ = input_shape;
    has_input_ = true;
  }
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;
  Sequential(const Sequential&) = delete;  // deep copies are explicit: clone()
  Sequential& operator=(const Sequential&) = delete;

  Sequential clone() const {
    Sequential m(seed_);
    m.in_shape_ = in_shape_;
    m.has_input_ = has_input_;
    m.built_ = built_;
    m.training_ = training_;
    m.fusion_ = fusion_;
    m.rng_ = rng_;
    for (const auto& l : layers_) m.layers_.push_back(l->clone());
    return m;
  }

  // Appends a layer (given by value or as a unique_ptr) and returns it.
  template <class L, class = std::enable_if_t<std::is_base_of<Layer<T>, std::decay_t<L>>::value>>
  std::decay_t<L>& add(L&& layer) {
    auto p = std::make_unique<std::decay_t<L>>(std::forward<L>(layer));
    auto& ref = *p;
    add(std::unique_ptr<Layer<T>>(std::move(p)));
    return ref;
  }
  // Constructs a layer in place: add<Conv2D<float>>(32, 3).
  template <class L, class... A>
  L& add(A&&... args) {
    return add(L(std::forward<A>(args)...));
  }
  Layer<T>& add(std::unique_ptr<Layer<T>> layer) {
    if (!layer) throw std::invalid_argument("Sequential::add: null layer");
    layers_.push_back(std::move(layer));
    if (has_input_) {
      try {
        build_layer(layers_.size() - 1);
      } catch (...) {
        layers_.pop_back();
        throw;
      }
      built_ = true;
    }
    return *layers_.back();
  }

  // Builds every layer for the per-sample input shape.
  void build(const Shape& input_shape) {
    nodes_.clear();
    in_shape_ = input_shape;
    has_input_ = true;
    for (std::size_t i = 0; i < layers_.size(); ++i) build_layer(i);
    built_ = true;
  }

  const Tensor<T>& forward(const Tensor<T>& x) { return forward(x, training_); }
  const Tensor<T>& forward(const Tensor<T>& x, bool training) {
    if (x.rank() < 1 || x.dim(0) < 1) throw std::invalid_argument("Sequential::forward: empty batch " + x.shape().str());
    if (!built_) build(x.shape().tail());
    if (x.shape().tail() != in_shape_)
      throw std::invalid_argument("Sequential::forward: expected input " + batch_str(in_shape_) + " but got " +
                                  x.shape().str());
    detail::copy_checked(x, input_, "Sequential::forward");
    sync_nodes();
    return *exec_.forward(nodes_, outputs_, {&input_}, training, fusion_)[0];
  }
  // The Model interface: one input, one output.
  const std::vector<const Tensor<T>*>& forward(const std::vector<const Tensor<T>*>& xs, bool training) override {
    if (xs.size() != 1 || !xs[0])
      throw std::invalid_argument("Sequential::forward: " + std::to_string(xs.size()) + " inputs given, it takes 1");
    forward(*xs[0], training);
    outs_.assign(1, exec_.output_of(outputs_[0]));
    return outs_;
  }

  // Layer fusion (on by default; the plan in nn/model/plan.hpp):
  //  - training: Conv2D + ReLU in one pass. The ReLU's backward then reads
  //    the fused output, which has the same sign pattern as the conv's own
  //    output, so results are bit-identical to the unfused layers.
  //  - training and eval: Conv2D + ReLU + MaxPool2D in one pass, forward and
  //    backward (max-pool fusion in layer.hpp; where the direct kernel runs,
  //    the conv's full-size output is not written, and for a first layer
  //    neither is its gradient). Bit-identical but for the bias gradient of
  //    a first layer (equal up to rounding).
  //  - eval (training == false): Conv2D [+ BatchNorm] [+ ReLU] in one pass,
  //    and eval-mode identities (Dropout) passed through without a copy.
  //    Results equal the unfused ones up to float rounding; a backward after
  //    such a forward first recomputes it unfused.
  // The profile charges the fused layers' time to the first of them.
  void set_fusion(bool on) { fusion_ = on; }
  bool fusion() const { return fusion_; }

  // Backpropagates dL/doutput through every layer, accumulating parameter
  // gradients. Returns dL/dinput when want_input_grad, else an empty tensor.
  const Tensor<T>& backward(const Tensor<T>& dy, bool want_input_grad = false) {
    if (!exec_.has_forward()) throw std::logic_error("Sequential::backward: no forward() to backpropagate through");
    const Tensor<T>* out = exec_.output_of(outputs_[0]);
    if (dy.shape() != out->shape())
      throw std::invalid_argument("Sequential::backward: gradient shape " + dy.shape().str() +
                                  " does not match output shape " + out->shape().str());
    std::function<void(int)> done;
    if (grad_hook_) done = [this](int j) { grad_hook_(*nodes_[static_cast<std::size_t>(j)].layer); };
    const auto g = exec_.backward(nodes_, outputs_, {&dy}, want_input_grad, fusion_, done);
    if (!want_input_grad) return grad_in_none_;
    if (layers_.empty()) {
      grad_in_.copy_from(dy);
      return grad_in_;
    }
    return *g[0];
  }

  std::vector<const Tensor<T>*> backward(const std::vector<const Tensor<T>*>& dys,
                                         bool want_input_grads = false) override {
    if (dys.size() != 1 || !dys[0])
      throw std::invalid_argument("Sequential::backward: " + std::to_string(dys.size()) + " gradients given, it has 1 output");
    const Tensor<T>& g = backward(*dys[0], want_input_grads);
    return {want_input_grads ? &g : nullptr};
  }

  std::size_t num_inputs() const override { return 1; }
  std::size_t num_outputs() const override { return 1; }
  const Shape& input_shape(std::size_t) const override { return in_shape_; }
  const Shape& output_shape(std::size_t) const override {
    return layers_.empty() ? in_shape_ : layers_.back()->output_shape();
  }
  std::string input_name(std::size_t) const override { return "input"; }
  std::string output_name(std::size_t) const override { return "output"; }

  // The steps a forward runs (one line each; fused layers share a line).
  std::string plan(bool training) {
    sync_nodes();
    return plan_str(exec_.plan(nodes_, outputs_, training, fusion_), nodes_);
  }

  std::vector<Layer<T>*> layers() override {
    std::vector<Layer<T>*> out;
    for (auto& l : layers_) out.push_back(l.get());
    return out;
  }
  void set_gradient_hook(std::function<void(Layer<T>&)> hook) override { grad_hook_ = std::move(hook); }

  // Trainable parameters, named "<layer index>.<name>" (e.g. "0.weight").
  std::vector<Param<T>> parameters() override {
    std::vector<Param<T>> out;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (auto& p : layers_[i]->parameters()) out.push_back({std::to_string(i) + "." + p.name, p.value, p.grad});
    return out;
  }
  std::vector<std::pair<std::string, Tensor<T>*>> buffers() override {
    std::vector<std::pair<std::string, Tensor<T>*>> out;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      for (auto& b : layers_[i]->buffers()) out.push_back({std::to_string(i) + "." + b.first, b.second});
    return out;
  }
  void zero_grad() override {
    for (auto& l : layers_) l->zero_grad();
  }
  void train() override { training_ = true; }
  void eval() override { training_ = false; }
  bool is_training() const override { return training_; }

  // Reseeds the model: the next build() initializes from this seed.
  void seed(std::uint64_t s) {
    seed_ = s;
    rng_.reseed(s);
  }
  std::uint64_t seed() const override { return seed_; }
  // Reseeds every layer's own generator (dropout masks) from `s`. fit() calls
  // this at the start of each epoch with (seed, epoch), so a run resumed from
  // a checkpoint draws the same masks as an uninterrupted one.
  void reseed_layers(std::uint64_t s) override {
    Rng r(s);
    for (auto& l : layers_) l->seed(r());
  }

  std::size_t size() const { return layers_.size(); }
  Layer<T>& layer(std::size_t i) { return *layers_.at(i); }
  const Layer<T>& layer(std::size_t i) const { return *layers_.at(i); }
  bool built() const { return built_; }
  const Shape& input_shape() const { return in_shape_; }
  const Shape& output_shape() const { return output_shape(0); }
  Index num_parameters() {
    Index n = 0;
    for (auto& p : parameters()) n += p.value->size();
    return n;
  }

  // Per-layer timing: set_profiling(true) starts accumulating the wall time
  // of each layer's forward and backward (from zero); profile() reports it.
  void set_profiling(bool on) {
    sync_nodes();
    exec_.set_profiling(on, nodes_.size());
  }
  std::string profile() const {
    std::ostringstream os;
    const auto& prof = exec_.times();  // node i + 1 is layer i
    double total = 0;
    for (auto& p : prof) total += p.first + p.second;
    os << std::left << std::setw(44) << "layer" << std::right << std::setw(12) << "forward s" << std::setw(12)
       << "backward s" << std::setw(8) << "share" << "  kernels\n";
    for (std::size_t i = 0; i + 1 < prof.size() && i < layers_.size(); ++i) {
      const auto& p = prof[i + 1];
      os << std::left << std::setw(44) << (std::to_string(i) + " " + layers_[i]->describe()).substr(0, 43) << std::right
         << std::fixed << std::setprecision(4) << std::setw(12) << p.first << std::setw(12) << p.second
         << std::setprecision(1) << std::setw(7) << (total > 0 ? 100 * (p.first + p.second) / total : 0.0) << "%"
         << exec_.kernels_column(i + 1) << "\n";
    }
    os << "total " << std::setprecision(4) << total << " s\n";
    return os.str();
  }

  // A Keras-style table: layer, output shape, parameter count, totals.
  // Buffers (batch-norm running statistics) count as non-trainable.
  std::string summary() {
    std::ostringstream os;
    const int w1 = 44, w2 = 22, w3 = 12;
    const std::string rule(w1 + w2 + w3, '=');
    os << "Model: Sequential<" << (std::is_same<T, float>::value ? "float" : "double") << ">\n"
       << std::string(w1 + w2 + w3, '_') << "\n"
       << std::left << std::setw(w1) << "Layer (type)" << std::setw(w2) << "Output Shape" << "Param #\n"
       << rule << "\n";
    Index trainable = 0, fixed = 0;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      auto& l = *layers_[i];
      Index np = 0, nb = 0;
      for (auto& p : l.parameters()) np += p.value->size();
      for (auto& b : l.buffers()) nb += b.second->size();
      trainable += np, fixed += nb;
      std::string shape = l.built() ? batch_str(l.output_shape()) : "(unbuilt)";
      os << std::setw(w1) << (std::to_string(i) + " " + l.describe()).substr(0, w1 - 1) << std::setw(w2) << shape
         << std::right << std::setw(w3 - 4) << detail::thousands(np + nb) << std::left << "\n";
    }
    os << rule << "\n"
       << "Total params: " << detail::thousands(trainable + fixed) << "\n"
       << "Trainable params: " << detail::thousands(trainable) << "\n"
       << "Non-trainable params: " << detail::thousands(fixed) << "\n"
       << std::string(w1 + w2 + w3, '_') << "\n";
    return os.str();
  }

 private:
  // The chain as nodes: node 0 is the input, node i + 1 calls layer i.
  void sync_nodes() {
    if (nodes_.size() == layers_.size() + 1) return;
    nodes_.assign(1, Node<T>{});
    nodes_[0].shape = in_shape_;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Node<T> n;
      n.kind = Node<T>::Kind::Layer;
      n.layer = layers_[i].get();
      n.inputs = {int(i)};
      n.shape = layers_[i]->output_shape();
      nodes_.push_back(std::move(n));
    }
    outputs_ = {int(layers_.size())};
    exec_.invalidate();
  }

  void build_layer(std::size_t i) {
    const Shape in = i == 0 ? in_shape_ : layers_[i - 1]->output_shape();
    try {
      layers_[i]->build(in, rng_);
    } catch (const std::invalid_argument& e) {
      std::string prev = i == 0 ? "the model input" : "layer " + std::to_string(i - 1) + " " + layers_[i - 1]->describe();
      throw std::invalid_argument("Sequential: layer " + std::to_string(i) + " " + layers_[i]->describe() +
                                  " cannot take input shape " + batch_str(in) + " from " + prev + ": " + e.what());
    }
    layers_[i]->set_input_grad(i != 0);
  }

  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::uint64_t seed_;
  Rng rng_;
  Shape in_shape_;
  bool has_input_ = false, built_ = false, training_ = true;
  bool fusion_ = true;
  Tensor<T> input_, grad_in_, grad_in_none_;
  std::vector<const Tensor<T>*> outs_;
  std::vector<Node<T>> nodes_;
  std::vector<int> outputs_;
  std::function<void(Layer<T>&)> grad_hook_;
  Executor<T> exec_;
};

}  // namespace nn
