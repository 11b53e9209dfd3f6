// nn/model/plan.hpp — a model as nodes, and the plan that says how to run
// them: which nodes run alone and which run fused.
//
// A model is a vector of Node<T> in topological order (every node reads only
// nodes before it): graph inputs, layer calls and merge calls. make_plan()
// is a pure function of the nodes, the outputs and the mode; the executor
// (executor.hpp) runs its steps forward in order and backward in reverse.
//
// Steps (each fuses only where every inner node has one reader and is not a
// model output; "eval" means training == false):
//   Single        one node
//   Alias         eval: Dropout passes its input on, no copy
//   ConvEpilogue  Conv2D [+ BatchNorm (eval)] [+ ReLU] in one pass
//                 (Conv2D::forward_fused); in training only + ReLU, whose
//                 backward then masks by the fused output (same signs)
//   ConvReluPool  Conv2D -> ReLU -> MaxPool2D: the conv writes the pooled
//                 output and argmax directly (Conv2D::forward_pooled), one
//                 backward for the three (Conv2D::backward_pooled)
//   ReluPool      ReLU -> MaxPool2D run forward as two steps; the backward is
//                 the pool's through the ReLU (MaxPool2D::backward_through_relu),
//                 the ReLU's own pass skipped
// Every step that starts with a Conv2D also records the kernels that
// nn/kernels/conv_select.hpp chooses for it, which are the ones that run
// (for a conv reading a model input: when backward is not asked for input
// gradients, the default).
// Fusion levels: Off; Exact — only ReluPool, whose forward computes every
// node's output (used to recompute a fused eval forward before a backward);
// All.
#pragma once
#include <sstream>
#include <string>
#include <vector>

#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/merge.hpp"
#include "nn/layers/pooling.hpp"

namespace nn {

template <class T>
struct Node {
  enum class Kind { Input, Layer, Merge };
  Kind kind = Kind::Input;
  std::string name;
  nn::Layer<T>* layer = nullptr;  // the object this call runs on (a replica for a shared layer's later calls)
  nn::Merge<T>* merge = nullptr;
  nn::Layer<T>* prev_call = nullptr;  // shared layer: the object of its previous call (buffers pass on)
  std::vector<int> inputs;
  Shape shape;  // per-sample output shape
  std::string describe() const {
    return kind == Kind::Input ? "Input" + shape.str() : kind == Kind::Layer ? layer->describe() : merge->describe();
  }
};

enum class Fusion { Off, Exact, All };

struct Step {
  enum class Kind { Single, Alias, ConvEpilogue, ConvReluPool, ReluPool };
  Kind kind = Kind::Single;
  std::vector<int> nodes;  // in order; the step's result is nodes.back()'s output
  bool affine = false, relu = false;  // ConvEpilogue: a BatchNorm, a ReLU follow the conv
  // A step that starts with a Conv2D: the kernels conv_select.hpp chooses for
  // it (with the pool, for ConvReluPool), and that choice in words.
  bool has_conv = false;
  kernels::ConvChoice conv;
  std::string algorithm;
  int first() const { return nodes.front(); }
  int last() const { return nodes.back(); }
};

namespace detail {
// 1234567 -> "1,234,567" (parameter counts in summaries).
inline std::string thousands(Index n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

template <class T, class L>
L* as(const Node<T>& n) {
  return n.kind == Node<T>::Kind::Layer ? dynamic_cast<L*>(n.layer) : nullptr;
}
}  // namespace detail

namespace detail {
template <class T>
void record_conv(Step& s, const Conv2D<T>& conv, const kernels::Pool2DGeom* pool, bool reads_input, bool training) {
  s.has_conv = true;
  s.conv = kernels::choose_conv<T>(conv.geometry(), pool, !reads_input);
  s.algorithm = s.conv.str(training, !reads_input);
}
}  // namespace detail

// For each node: whether some output depends on it ("live").
template <class T>
std::vector<char> live_nodes(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs) {
  std::vector<char> live(nodes.size(), 0);
  for (int o : outputs) live[static_cast<std::size_t>(o)] = 1;
  for (std::size_t i = nodes.size(); i-- > 0;)
    if (live[i])
      for (int j : nodes[i].inputs) live[static_cast<std::size_t>(j)] = 1;
  return live;
}

template <class T>
std::vector<Step> make_plan(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs, bool training,
                            Fusion level) {
  const bool fuse = level == Fusion::All;
  using K = typename Node<T>::Kind;
  const std::size_t n = nodes.size();
  const auto live = live_nodes(nodes, outputs);
  std::vector<int> readers(n, 0), reader(n, -1);
  std::vector<char> is_output(n, 0);
  for (int o : outputs) is_output[static_cast<std::size_t>(o)] = 1;
  for (std::size_t i = 0; i < n; ++i)
    if (live[i])
      for (int j : nodes[i].inputs) ++readers[static_cast<std::size_t>(j)], reader[static_cast<std::size_t>(j)] = int(i);
  // The single reader of node i, if i is an inner node a group may absorb.
  auto next = [&](int i) { return readers[i] == 1 && !is_output[i] ? reader[i] : -1; };
  // A layer that reads a model input computes no input gradient (the
  // executor's default: backward(..., want_input_grads = false)).
  auto reads_input = [&](const Node<T>& nd) {
    return nodes[static_cast<std::size_t>(nd.inputs[0])].kind == K::Input;
  };

  std::vector<Step> plan;
  std::vector<char> done(n, 0);
  for (std::size_t ui = 0; ui < n; ++ui) {
    const int i = int(ui);
    if (!live[ui] || done[ui] || nodes[ui].kind == K::Input) continue;
    Step s;
    s.nodes = {i};
    const Node<T>& nd = nodes[ui];
    if (fuse && !training && detail::as<T, Dropout<T>>(nd)) {
      s.kind = Step::Kind::Alias;
    } else if (fuse && detail::as<T, Conv2D<T>>(nd)) {
      const int r = next(i), p = r >= 0 ? next(r) : -1;
      if (r >= 0 && p >= 0 && detail::as<T, ReLU<T>>(nodes[r]) && detail::as<T, MaxPool2D<T>>(nodes[p])) {
        s.kind = Step::Kind::ConvReluPool;
        s.nodes = {i, r, p};
      } else {
        int j = next(i);
        if (!training && j >= 0 && detail::as<T, BatchNorm<T>>(nodes[j]) &&
            nodes[j].shape.rank() >= 1 && nodes[j].shape[0] == nd.shape[0]) {
          s.affine = true;
          s.nodes.push_back(j);
          j = next(j);
        }
        if (j >= 0 && detail::as<T, ReLU<T>>(nodes[j])) {
          s.relu = true;
          s.nodes.push_back(j);
        }
        if (s.affine || s.relu) s.kind = Step::Kind::ConvEpilogue;
      }
      const auto* conv = detail::as<T, Conv2D<T>>(nd);
      const kernels::Pool2DGeom* pool = nullptr;
      if (s.kind == Step::Kind::ConvReluPool)
        pool = &detail::as<T, MaxPool2D<T>>(nodes[static_cast<std::size_t>(s.last())])->geometry();
      detail::record_conv(s, *conv, pool, reads_input(nd), training);
    } else if (const auto* conv = detail::as<T, Conv2D<T>>(nd)) {  // unfused: the layer's own kernels
      detail::record_conv(s, *conv, nullptr, reads_input(nd), training);
    } else if (level != Fusion::Off && detail::as<T, ReLU<T>>(nd)) {
      const int p = next(i);
      if (p >= 0 && detail::as<T, MaxPool2D<T>>(nodes[p])) {
        s.kind = Step::Kind::ReluPool;
        s.nodes = {i, p};
      }
    }
    for (int j : s.nodes) done[static_cast<std::size_t>(j)] = 1;
    plan.push_back(s);
  }
  return plan;
}

// One line per step: "node 3-5 conv+relu+maxpool: Conv2D(...) | ReLU | MaxPool2D(2, stride 2)
// [forward winograd; backward winograd]".
template <class T>
std::string plan_str(const std::vector<Step>& plan, const std::vector<Node<T>>& nodes) {
  static const char* kinds[] = {"single", "alias (eval identity)", "conv+epilogue", "conv+relu+maxpool",
                                "relu+maxpool (backward folded)"};
  std::ostringstream os;
  for (const auto& s : plan) {
    os << "node " << s.first();
    if (s.nodes.size() > 1) os << "-" << s.last();
    os << " " << kinds[static_cast<int>(s.kind)] << ": ";
    for (std::size_t k = 0; k < s.nodes.size(); ++k) {
      const auto& nd = nodes[static_cast<std::size_t>(s.nodes[k])];
      os << (k ? " | " : "") << nd.describe();
    }
    if (s.has_conv) os << " [" << s.algorithm << "]";
    os << "\n";
  }
  return os.str();
}

}  // namespace nn
