// nn/model/graph.hpp — Graph<T>: models with several inputs and outputs,
// shared layers, residual connections and merges, built in the style of
// Keras' functional API.
//
//   nn::Graph<float> g(/*seed=*/1);
//   auto x = g.input({3, 32, 32}, "image");
//   auto h = g.add(nn::Conv2D<float>(16, 3, 1, nn::Padding::same()), x);
//   auto r = g.add(nn::ReLU<float>(), g.add(nn::Add<float>(), {h, x}));     // residual
//   auto tower = g.share(nn::Dense<float>(32), "tower");                    // one layer ...
//   auto e1 = g.add(tower, a), e2 = g.add(tower, b);                         // ... called twice
//   g.output(logits, "category");
//   const auto& outs = g.forward({&images}, /*training=*/true);             // one tensor per output
//   g.backward({&dlogits});
//
// Every add() builds its layer at once for the input's shape, so a layer that
// does not fit throws at the line that adds it, naming the node. Nodes only
// read nodes that exist, so a graph is a DAG by construction. Design and
// the rules for shared layers: docs/architecture.md ("Models, plans and the
// executor"); running: nn/model/executor.hpp.
#pragma once
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/layers/layer.hpp"
#include "nn/layers/merge.hpp"
#include "nn/model/executor.hpp"
#include "nn/model/model.hpp"

namespace nn {

// A node of a Graph, as returned by input() and add().
struct NodeRef {
  int id = -1;
};
// A layer that several nodes call (Graph::share).
struct SharedLayer {
  int layer = -1;
};

template <class T>
class Graph : public Model<T> {
 public:
  explicit Graph(std::uint64_t seed = 0) : seed_(seed), rng_(seed) {}
  Graph(Graph&&) noexcept = default;
  Graph& operator=(Graph&&) noexcept = default;
  Graph(const Graph&) = delete;  // deep copies are explicit: clone()
  Graph& operator=(const Graph&) = delete;

  // A model input of per-sample shape `shape`.
  NodeRef input(const Shape& shape, std::string name = "") {
    if (shape.rank() < 1 || shape.size() < 1) throw std::invalid_argument("Graph::input: empty shape " + shape.str());
    Node<T> n;
    n.kind = Node<T>::Kind::Input;
    n.shape = shape;
    return push(std::move(n), std::move(name), "input", -1);
  }

  // Calls a new layer on `in`.
  template <class L, class = std::enable_if_t<std::is_base_of<Layer<T>, std::decay_t<L>>::value>>
  NodeRef add(L&& layer, NodeRef in, std::string name = "") {
    return add(std::unique_ptr<Layer<T>>(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))), in,
               std::move(name));
  }
  NodeRef add(std::unique_ptr<Layer<T>> layer, NodeRef in, std::string name = "") {
    if (!layer) throw std::invalid_argument("Graph::add: null layer");
    layers_.push_back({std::move(layer), {}, {}, ""});
    try {
      return add(SharedLayer{int(layers_.size()) - 1}, in, std::move(name));
    } catch (...) {
      layers_.pop_back();
      throw;
    }
  }
  // A layer for several calls: add(handle, in) calls it; its parameters are
  // shared by every call and appear once in parameters(), under `name`.
  template <class L, class = std::enable_if_t<std::is_base_of<Layer<T>, std::decay_t<L>>::value>>
  SharedLayer share(L&& layer, std::string name = "") {
    return share(std::unique_ptr<Layer<T>>(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))),
                 std::move(name));
  }
  SharedLayer share(std::unique_ptr<Layer<T>> layer, std::string name = "") {
    if (!layer) throw std::invalid_argument("Graph::share: null layer");
    if (!name.empty()) check_new_name(name);
    layers_.push_back({std::move(layer), {}, {}, name});
    return SharedLayer{int(layers_.size()) - 1};
  }
  NodeRef add(SharedLayer h, NodeRef in, std::string name = "") {
    if (h.layer < 0 || h.layer >= int(layers_.size())) throw std::invalid_argument("Graph::add: unknown shared layer");
    const Node<T>& src = node(in, "Graph::add");
    Entry& e = layers_[static_cast<std::size_t>(h.layer)];
    Layer<T>* obj = e.layer.get();
    Node<T> n;
    n.kind = Node<T>::Kind::Layer;
    n.inputs = {in.id};
    const std::string who = "node '" + (name.empty() ? auto_name(obj->type()) : name) + "' " + obj->describe();
    if (e.calls.empty()) {
      try {
        n.shape = obj->build(src.shape, rng_);
      } catch (const std::invalid_argument& err) {
        throw std::invalid_argument("Graph: " + who + " cannot take input shape " + batch_str(src.shape) +
                                    " from node '" + src.name + "': " + err.what());
      }
    } else {
      if (src.shape != obj->input_shape())
        throw std::invalid_argument("Graph: " + who + " is a shared layer built for input " +
                                    batch_str(obj->input_shape()) + "; node '" + src.name + "' gives " +
                                    batch_str(src.shape));
      e.replicas.push_back(obj->clone());
      n.prev_call = e.calls.size() == 1 ? obj : e.replicas[e.replicas.size() - 2].get();
      obj = e.replicas.back().get();
      n.shape = obj->output_shape();
    }
    n.layer = obj;
    if (e.name.empty() && !name.empty() && !names_.count(name))
      for (const auto& other : layers_)
        if (other.name == name) throw std::invalid_argument("Graph: the name '" + name + "' is taken by a layer");
    const NodeRef r = push(std::move(n), std::move(name), lower(obj->type()), h.layer);
    e.calls.push_back(r.id);
    if (e.name.empty()) e.name = nodes_.back().name;
    return r;
  }

  // Calls a merge (Add, Multiply, Concat, Dot, CosineSimilarity) on `ins`.
  template <class M, class = std::enable_if_t<std::is_base_of<Merge<T>, std::decay_t<M>>::value>>
  NodeRef add(M&& merge, std::vector<NodeRef> ins, std::string name = "") {
    return add(std::unique_ptr<Merge<T>>(std::make_unique<std::decay_t<M>>(std::forward<M>(merge))), std::move(ins),
               std::move(name));
  }
  NodeRef add(std::unique_ptr<Merge<T>> merge, std::vector<NodeRef> ins, std::string name = "") {
    if (!merge) throw std::invalid_argument("Graph::add: null merge");
    Node<T> n;
    n.kind = Node<T>::Kind::Merge;
    std::vector<Shape> shapes;
    std::string from;
    for (auto r : ins) {
      const Node<T>& src = node(r, "Graph::add");
      n.inputs.push_back(r.id);
      shapes.push_back(src.shape);
      from += (from.empty() ? "'" : ", '") + src.name + "'";
    }
    try {
      n.shape = merge->build(shapes);
    } catch (const std::invalid_argument& err) {
      throw std::invalid_argument("Graph: node '" + (name.empty() ? auto_name(merge->type()) : name) +
                                  "' cannot merge nodes " + from + ": " + err.what());
    }
    n.merge = merge.get();
    merges_.push_back(std::move(merge));
    return push(std::move(n), std::move(name), lower(n.merge->type()), -1);
  }

  // Marks a node as a model output; outputs are numbered in call order.
  void output(NodeRef r, std::string name = "") {
    const Node<T>& n = node(r, "Graph::output");
    if (std::find(outputs_.begin(), outputs_.end(), r.id) != outputs_.end())
      throw std::invalid_argument("Graph::output: node '" + n.name + "' is already an output");
    if (name.empty()) name = n.name;
    if (std::find(output_names_.begin(), output_names_.end(), name) != output_names_.end())
      throw std::invalid_argument("Graph::output: two outputs named '" + name + "'");
    outputs_.push_back(r.id);
    output_names_.push_back(std::move(name));
    exec_.invalidate();
    checked_ = false;
  }

  // Runs the graph. xs[i] is input i ((N, shape_i...), in the order of the
  // input() calls); returns one tensor per output, valid until the next forward.
  const std::vector<const Tensor<T>*>& forward(const std::vector<const Tensor<T>*>& xs, bool training) override {
    check();
    if (xs.size() != inputs_.size())
      throw std::invalid_argument("Graph::forward: " + std::to_string(xs.size()) + " inputs given, the graph has " +
                                  std::to_string(inputs_.size()));
    in_copies_.resize(xs.size());
    std::vector<const Tensor<T>*> ins;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const Node<T>& n = nodes_[static_cast<std::size_t>(inputs_[i])];
      if (!xs[i] || xs[i]->rank() < 1 || xs[i]->dim(0) < 1 || xs[i]->shape().tail() != n.shape ||
          xs[i]->dim(0) != xs[0]->dim(0))
        throw std::invalid_argument("Graph::forward: input '" + n.name + "' expects " + batch_str(n.shape) +
                                    (i ? " with the batch size of the first input" : "") + ", got " +
                                    (xs[i] ? xs[i]->shape().str() : std::string("none")));
      detail::copy_checked(*xs[i], in_copies_[i], "Graph::forward: input '" + n.name + "'");
      ins.push_back(&in_copies_[i]);
    }
    sync_replicas();
    const auto& out = exec_.forward(nodes_, outputs_, ins, training, fusion_);
    if (training) keep_last_buffers();
    return out;
  }
  const std::vector<const Tensor<T>*>& forward(const std::vector<const Tensor<T>*>& xs) {
    return forward(xs, training_);
  }
  // One input, one output.
  const Tensor<T>& forward(const Tensor<T>& x, bool training) {
    check();
    if (outputs_.size() != 1 || inputs_.size() != 1)
      throw std::invalid_argument("Graph::forward(x): the graph has " + std::to_string(inputs_.size()) +
                                  " inputs and " + std::to_string(outputs_.size()) +
                                  " outputs; pass the inputs as a vector");
    return *forward(std::vector<const Tensor<T>*>{&x}, training)[0];
  }
  const Tensor<T>& forward(const Tensor<T>& x) { return forward(x, training_); }

  // dys[i] = dL/d(output i). Accumulates parameter gradients; returns
  // dL/d(input i) per input when want_input_grads, else nulls.
  std::vector<const Tensor<T>*> backward(const std::vector<const Tensor<T>*>& dys,
                                         bool want_input_grads = false) override {
    std::function<void(int)> done;
    if (grad_hook_)  // a shared layer's gradients are complete once its replicas' are gathered, below
      done = [this](int j) {
        const Entry& e = layers_[static_cast<std::size_t>(node_layer_[static_cast<std::size_t>(j)])];
        if (e.replicas.empty()) grad_hook_(*e.layer);
      };
    auto g = exec_.backward(nodes_, outputs_, dys, want_input_grads, fusion_, done);
    gather_replica_grads();
    if (grad_hook_)
      for (auto& e : layers_)
        if (!e.replicas.empty()) grad_hook_(*e.layer);
    return g;
  }
  const Tensor<T>& backward(const Tensor<T>& dy, bool want_input_grad = false) {
    auto g = backward(std::vector<const Tensor<T>*>{&dy}, want_input_grad);
    return g[0] ? *g[0] : none_;
  }

  std::vector<Layer<T>*> layers() override {
    std::vector<Layer<T>*> out;
    for (auto& e : layers_) out.push_back(e.layer.get());
    return out;
  }
  void set_gradient_hook(std::function<void(Layer<T>&)> hook) override { grad_hook_ = std::move(hook); }

  // Trainable parameters, "<layer name>.<name>" (e.g. "conv2d_1.weight"); a
  // shared layer's once.
  std::vector<Param<T>> parameters() override {
    std::vector<Param<T>> out;
    for (auto& e : layers_)
      for (auto& p : e.layer->parameters()) out.push_back({e.name + "." + p.name, p.value, p.grad});
    return out;
  }
  std::vector<std::pair<std::string, Tensor<T>*>> buffers() override {
    std::vector<std::pair<std::string, Tensor<T>*>> out;
    for (auto& e : layers_)
      for (auto& b : e.layer->buffers()) out.push_back({e.name + "." + b.first, b.second});
    return out;
  }
  void zero_grad() override {
    for (auto& e : layers_) {
      e.layer->zero_grad();
      for (auto& r : e.replicas) r->zero_grad();
    }
  }
  Index num_parameters() {
    Index n = 0;
    for (auto& p : parameters()) n += p.value->size();
    return n;
  }
  void train() override { training_ = true; }
  void eval() override { training_ = false; }
  bool is_training() const override { return training_; }
  void set_fusion(bool on) { fusion_ = on; }
  bool fusion() const { return fusion_; }
  std::uint64_t seed() const override { return seed_; }
  // Reseeds every layer call's own generator (dropout masks) from `s`.
  void reseed_layers(std::uint64_t s) override {
    Rng r(s);
    for (auto& e : layers_) {
      e.layer->seed(r());
      for (auto& rep : e.replicas) rep->seed(r());
    }
  }
  bool built() const { return !outputs_.empty(); }

  std::size_t num_inputs() const override { return inputs_.size(); }
  std::size_t num_outputs() const override { return outputs_.size(); }
  const Shape& input_shape(std::size_t i) const override { return nodes_[static_cast<std::size_t>(inputs_.at(i))].shape; }
  const Shape& input_shape() const { return input_shape(0); }
  std::string input_name(std::size_t i) const override { return nodes_[static_cast<std::size_t>(inputs_.at(i))].name; }
  const Shape& output_shape(std::size_t i) const override { return nodes_[static_cast<std::size_t>(outputs_.at(i))].shape; }
  const Shape& output_shape() const { return output_shape(0); }
  std::string output_name(std::size_t i) const override { return output_names_.at(i); }
  int output_index(const std::string& name) const {
    for (std::size_t i = 0; i < output_names_.size(); ++i)
      if (output_names_[i] == name) return int(i);
    throw std::invalid_argument("Graph: no output named '" + name + "'");
  }
  int input_index(const std::string& name) const {
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      if (nodes_[static_cast<std::size_t>(inputs_[i])].name == name) return int(i);
    throw std::invalid_argument("Graph: no input named '" + name + "'");
  }
  const std::vector<Node<T>>& nodes() const { return nodes_; }
  const std::vector<int>& output_nodes() const { return outputs_; }
  // The node's layer index (layers(i)) or -1 for inputs and merges.
  int node_layer(int node) const { return node_layer_.at(static_cast<std::size_t>(node)); }
  std::size_t num_layers() const { return layers_.size(); }
  Layer<T>& layer(std::size_t i) { return *layers_.at(i).layer; }
  const std::string& layer_name(std::size_t i) const { return layers_.at(i).name; }
  Merge<T>& merge_of(int node) { return *nodes_.at(static_cast<std::size_t>(node)).merge; }

  // The steps a forward runs in this mode.
  std::string plan(bool training) {
    check();
    return plan_str(exec_.plan(nodes_, outputs_, training, fusion_), nodes_);
  }

  // Checks what add() cannot: there is an output, and every input reaches one.
  void check() {
    if (checked_) return;
    if (outputs_.empty()) throw std::invalid_argument("Graph: no outputs; mark them with output()");
    const auto live = live_nodes(nodes_, outputs_);
    for (int i : inputs_)
      if (!live[static_cast<std::size_t>(i)])
        throw std::invalid_argument("Graph: input '" + nodes_[static_cast<std::size_t>(i)].name +
                                    "' reaches no output");
    checked_ = true;
  }

  // A deep copy: same structure, parameters and buffers.
  Graph clone() const {
    Graph g(seed_);
    g.rng_ = rng_;
    g.training_ = training_;
    g.fusion_ = fusion_;
    for (const auto& e : layers_) {
      Entry c{e.layer->clone(), {}, e.calls, e.name};
      for (const auto& r : e.replicas) c.replicas.push_back(r->clone());
      g.layers_.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      Node<T> n = nodes_[i];
      const int li = node_layer_[i];
      if (n.kind == Node<T>::Kind::Merge) {
        g.merges_.push_back(n.merge->clone());
        n.merge = g.merges_.back().get();
      } else if (li >= 0) {
        const auto& src = layers_[static_cast<std::size_t>(li)];
        auto& dst = g.layers_[static_cast<std::size_t>(li)];
        const auto k = static_cast<std::size_t>(std::find(src.calls.begin(), src.calls.end(), int(i)) - src.calls.begin());
        n.layer = k == 0 ? dst.layer.get() : dst.replicas[k - 1].get();
        n.prev_call = k == 0 ? nullptr : k == 1 ? dst.layer.get() : dst.replicas[k - 2].get();
      }
      g.nodes_.push_back(std::move(n));
    }
    g.node_layer_ = node_layer_;
    g.inputs_ = inputs_;
    g.outputs_ = outputs_;
    g.output_names_ = output_names_;
    return g;
  }

  // A table: node name, layer, output shape, parameter count, inputs.
  std::string summary() {
    std::ostringstream os;
    const int w0 = 18, w1 = 38, w2 = 20, w3 = 10;
    const std::string rule(w0 + w1 + w2 + w3 + 24, '=');
    os << "Model: Graph<" << (std::is_same<T, float>::value ? "float" : "double") << ">\n"
       << std::left << std::setw(w0) << "Node" << std::setw(w1) << "Layer" << std::setw(w2) << "Output Shape"
       << std::setw(w3) << "Param #" << "Inputs\n"
       << rule << "\n";
    Index trainable = 0, fixed = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const Node<T>& n = nodes_[i];
      Index np = 0;
      std::string what = n.kind == Node<T>::Kind::Input ? "Input" : n.describe();
      const int li = node_layer_[i];
      if (li >= 0) {
        auto& e = layers_[static_cast<std::size_t>(li)];
        if (e.calls.front() == int(i)) {
          Index p = 0, b = 0;
          for (auto& q : e.layer->parameters()) p += q.value->size();
          for (auto& q : e.layer->buffers()) b += q.second->size();
          trainable += p, fixed += b, np = p + b;
        }
        if (e.calls.size() > 1) what += " [shared '" + e.name + "']";
      }
      std::string ins;
      for (int j : n.inputs) ins += (ins.empty() ? "" : ", ") + nodes_[static_cast<std::size_t>(j)].name;
      for (std::size_t o = 0; o < outputs_.size(); ++o)
        if (outputs_[o] == int(i)) ins += " -> output '" + output_names_[o] + "'";
      os << std::setw(w0) << n.name.substr(0, w0 - 1) << std::setw(w1) << what.substr(0, w1 - 1) << std::setw(w2)
         << batch_str(n.shape) << std::setw(w3) << detail::thousands(np) << ins << "\n";
    }
    os << rule << "\n"
       << "Total params: " << detail::thousands(trainable + fixed) << "\n"
       << "Trainable params: " << detail::thousands(trainable) << "\n"
       << "Non-trainable params: " << detail::thousands(fixed) << "\n";
    return os.str();
  }

  // Per-node timing, as Sequential's.
  void set_profiling(bool on) { exec_.set_profiling(on, nodes_.size()); }
  std::string profile() const {
    std::ostringstream os;
    const auto& prof = exec_.times();
    double total = 0;
    for (auto& p : prof) total += p.first + p.second;
    os << std::left << std::setw(44) << "node" << std::right << std::setw(12) << "forward s" << std::setw(12)
       << "backward s" << std::setw(8) << "share" << "  kernels\n";
    for (std::size_t i = 0; i < prof.size() && i < nodes_.size(); ++i) {
      if (nodes_[i].kind == Node<T>::Kind::Input) continue;
      os << std::left << std::setw(44) << (nodes_[i].name + " " + nodes_[i].describe()).substr(0, 43) << std::right
         << std::fixed << std::setprecision(4) << std::setw(12) << prof[i].first << std::setw(12) << prof[i].second
         << std::setprecision(1) << std::setw(7)
         << (total > 0 ? 100 * (prof[i].first + prof[i].second) / total : 0.0) << "%"
         << exec_.kernels_column(i) << "\n";
    }
    os << "total " << std::setprecision(4) << total << " s\n";
    return os.str();
  }

 private:
  struct Entry {
    std::unique_ptr<Layer<T>> layer;                  // the layer (first call)
    std::vector<std::unique_ptr<Layer<T>>> replicas;  // objects of its later calls
    std::vector<int> calls;                           // nodes that call it, in order
    std::string name;
  };

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  std::string auto_name(const std::string& type) const {
    const std::string base = lower(type);
    for (int k = 1;; ++k) {
      std::string n = base + "_" + std::to_string(k);
      bool taken = names_.count(n) != 0;
      for (const auto& e : layers_) taken = taken || e.name == n;
      if (!taken) return n;
    }
  }
  void check_new_name(const std::string& name) const {
    if (names_.count(name)) throw std::invalid_argument("Graph: the name '" + name + "' is taken");
    for (const auto& e : layers_)
      if (e.name == name) throw std::invalid_argument("Graph: the name '" + name + "' is taken");
  }
  const Node<T>& node(NodeRef r, const char* who) const {
    if (r.id < 0 || r.id >= int(nodes_.size()))
      throw std::invalid_argument(std::string(who) + ": not a node of this graph (id " + std::to_string(r.id) + ")");
    return nodes_[static_cast<std::size_t>(r.id)];
  }
  NodeRef push(Node<T> n, std::string name, const std::string& base, int layer) {
    if (name.empty()) name = auto_name(base);
    else if (names_.count(name)) throw std::invalid_argument("Graph: two nodes named '" + name + "'");
    n.name = name;
    names_.insert(name);
    if (n.kind == Node<T>::Kind::Input) inputs_.push_back(int(nodes_.size()));
    nodes_.push_back(std::move(n));
    node_layer_.push_back(layer);
    exec_.invalidate();
    checked_ = false;
    return NodeRef{int(nodes_.size()) - 1};
  }
  // Replicas run on the layer's current parameters and buffers.
  void sync_replicas() {
    for (auto& e : layers_) {
      if (e.replicas.empty()) continue;
      auto src = e.layer->parameters();
      auto bsrc = e.layer->buffers();
      for (auto& r : e.replicas) {
        auto dst = r->parameters();
        for (std::size_t k = 0; k < src.size(); ++k) dst[k].value->copy_from(*src[k].value);
        auto bdst = r->buffers();
        for (std::size_t k = 0; k < bsrc.size(); ++k) bdst[k].second->copy_from(*bsrc[k].second);
      }
    }
  }
  // After a training forward: the layer keeps the buffers of its last call,
  // which started from its predecessor's (the executor passes them on).
  void keep_last_buffers() {
    for (auto& e : layers_) {
      if (e.replicas.empty()) continue;
      auto blast = e.replicas.back()->buffers();
      auto bdst = e.layer->buffers();
      for (std::size_t k = 0; k < bdst.size(); ++k) bdst[k].second->copy_from(*blast[k].second);
    }
  }
  // After a backward: the replicas' gradients are added to the layer's.
  void gather_replica_grads() {
    for (auto& e : layers_) {
      if (e.replicas.empty()) continue;
      auto dst = e.layer->parameters();
      for (auto& r : e.replicas) {
        auto src = r->parameters();
        for (std::size_t k = 0; k < dst.size(); ++k) {
          dst[k].grad->array() += src[k].grad->array();
          src[k].grad->zero();
        }
      }
    }
  }

  std::uint64_t seed_;
  Rng rng_;
  std::vector<Entry> layers_;
  std::vector<std::unique_ptr<Merge<T>>> merges_;
  std::vector<Node<T>> nodes_;
  std::vector<int> node_layer_;
  std::vector<int> inputs_, outputs_;
  std::vector<std::string> output_names_;
  std::set<std::string> names_;
  bool training_ = true, fusion_ = true, checked_ = false;
  std::vector<Tensor<T>> in_copies_;
  Tensor<T> none_;
  std::function<void(Layer<T>&)> grad_hook_;
  Executor<T> exec_;
};

}  // namespace nn
