// nn/model/executor.hpp — runs a model's nodes by a plan (plan.hpp):
// forward in step order, backward in reverse, gradients summed where a node
// has several readers. Sequential and Graph both run on it.
//
// The executor holds pointers to each node's output for the latest forward
// (layer- and merge-owned buffers, or the model's input copies) and, during
// backward, to each node's gradient: the first contribution in place, later
// ones added into a buffer it owns.
#pragma once
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/model/plan.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn {

namespace detail {
// dst = x, checked in the same vectorized pass: x * 0 is NaN exactly where x
// is NaN or Inf. A model's input is copied so that a backward that must
// recompute the forward still has it.
template <class T>
void copy_checked(const Tensor<T>& x, Tensor<T>& dst, const std::string& who) {
  dst.resize(x.shape());
  std::atomic<bool> finite{true};
  nn::detail::parallel_chunks(x.size(), [&](Index b, Index e) {
    std::memcpy(dst.data() + b, x.data() + b, static_cast<std::size_t>(e - b) * sizeof(T));
    if (!((ConstArrayMap<T>(x.data() + b, e - b) * T(0)).sum() == T(0))) finite = false;
  });
  if (!finite)
    for (Index i = 0; i < x.size(); ++i)
      if (!std::isfinite(x[i])) {
        std::ostringstream os;
        os << who << ": input element " << i << " is " << x[i] << " (NaN/Inf input)";
        throw std::invalid_argument(os.str());
      }
}
}  // namespace detail

template <class T>
class Executor {
 public:
  Executor() = default;
  // A moved model starts without a forward: the pointers of the last one
  // would point into the old object.
  Executor(Executor&&) noexcept {}
  Executor& operator=(Executor&&) noexcept {
    invalidate();
    has_forward_ = false;
    return *this;
  }
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // The model's nodes changed: plans are made again.
  void invalidate() {
    for (auto& p : planned_) p = false;
  }

  const std::vector<Step>& plan(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs, bool training,
                                bool fuse) {
    return plan(nodes, outputs, training, fuse ? Fusion::All : Fusion::Off);
  }
  const std::vector<Step>& plan(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs, bool training,
                                Fusion level) {
    const int k = (training ? 1 : 0) + 2 * static_cast<int>(level);
    // A plan holds the convolution kernels chosen under the policy and SIMD
    // setting of its time (conv_select.hpp); it is made again when they change.
    const int policy = static_cast<int>(kernels::conv_algorithm()) * 2 + static_cast<int>(kernels::simd());
    if (!planned_[k] || policy_[k] != policy) {
      plans_[k] = make_plan(nodes, outputs, training, level);
      planned_[k] = true;
      policy_[k] = policy;
    }
    return plans_[k];
  }

  // inputs[i]: the tensor of the i-th Input node (in node order). Returns the
  // outputs, in the order of `outputs`.
  const std::vector<const Tensor<T>*>& forward(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs,
                                               const std::vector<const Tensor<T>*>& inputs, bool training, bool fuse) {
    return forward(nodes, outputs, inputs, training, fuse ? Fusion::All : Fusion::Off);
  }
  const std::vector<const Tensor<T>*>& forward(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs,
                                               const std::vector<const Tensor<T>*>& inputs, bool training,
                                               Fusion level) {
    acts_.assign(nodes.size(), nullptr);
    std::size_t k = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].kind == Node<T>::Kind::Input) acts_[i] = inputs.at(k++);
    if (profiling_ && prof_.size() != nodes.size()) prof_.assign(nodes.size(), {0.0, 0.0});
    if (profiling_ && algo_.size() != nodes.size()) algo_.assign(nodes.size(), {});
    const auto& steps = plan(nodes, outputs, training, level);
    bool eval_fused = false;
    for (const Step& s : steps) {
      const auto t0 = profiling_ ? Clock::now() : Clock::time_point{};
      run_forward(nodes, s, training);
      if (s.kind != Step::Kind::Single && s.kind != Step::Kind::ReluPool && !training) eval_fused = true;
      if (profiling_) {
        prof_[static_cast<std::size_t>(s.first())].first += seconds(t0);
        if (s.has_conv) algo_[static_cast<std::size_t>(s.first())] = s.algorithm;
      }
    }
    outs_.clear();
    for (int o : outputs) outs_.push_back(acts_[static_cast<std::size_t>(o)]);
    has_forward_ = true;
    last_training_ = training;
    last_eval_fused_ = eval_fused;
    inputs_ = inputs;
    return outs_;
  }

  // dys[i]: dL/d(output i). Returns dL/d(input i) per Input node (null where
  // not wanted). Parameter gradients accumulate. on_done(j), when given, is
  // called for every Layer node j as soon as backward has finished with it
  // (its step ran, or was skipped for want of a gradient): from then on this
  // backward no longer touches that node's layer object.
  std::vector<const Tensor<T>*> backward(const std::vector<Node<T>>& nodes, const std::vector<int>& outputs,
                                         const std::vector<const Tensor<T>*>& dys, bool want_input_grads, bool fuse,
                                         const std::function<void(int)>& on_done = {}) {
    if (!has_forward_) throw std::logic_error("backward: no forward() to backpropagate through");
    if (dys.size() != outputs.size())
      throw std::invalid_argument("backward: " + std::to_string(dys.size()) + " gradients for " +
                                  std::to_string(outputs.size()) + " outputs");
    for (std::size_t i = 0; i < dys.size(); ++i)
      if (!dys[i] || dys[i]->shape() != outs_[i]->shape())
        throw std::invalid_argument("backward: gradient shape " + (dys[i] ? dys[i]->shape().str() : "(none)") +
                                    " does not match output shape " + outs_[i]->shape().str() +
                                    (outputs.size() > 1 ? " of output " + std::to_string(i) : ""));
    // Backward needs every layer's own output: redo a fused eval forward unfused.
    const bool rerun = last_eval_fused_;
    const Fusion level = !fuse ? Fusion::Off : rerun ? Fusion::Exact : Fusion::All;
    if (rerun) forward(nodes, outputs, inputs_, false, level);
    const auto& steps = plan(nodes, outputs, last_training_, level);
    // Which nodes need a gradient: any node whose gradient reaches a parameter
    // or a wanted input. Every non-input node does (cheap and simple); inputs
    // only when asked.
    need_.assign(nodes.size(), 1);
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].kind == Node<T>::Kind::Input) need_[i] = want_input_grads;
    grads_.assign(nodes.size(), nullptr);
    if (acc_.size() < nodes.size()) acc_.resize(nodes.size());
    owned_.assign(nodes.size(), 0);
    for (std::size_t i = 0; i < outputs.size(); ++i) add_grad(outputs[i], *dys[i]);
    for (std::size_t si = steps.size(); si-- > 0;) {
      const Step& s = steps[si];
      const auto t0 = profiling_ ? Clock::now() : Clock::time_point{};
      run_backward(nodes, s);
      if (profiling_) prof_[static_cast<std::size_t>(s.last())].second += seconds(t0);
      if (on_done)  // a fused step's nodes in backward order too
        for (auto j = s.nodes.rbegin(); j != s.nodes.rend(); ++j)
          if (nodes[static_cast<std::size_t>(*j)].kind == Node<T>::Kind::Layer) on_done(*j);
    }
    std::vector<const Tensor<T>*> in_grads;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].kind == Node<T>::Kind::Input) in_grads.push_back(want_input_grads ? grads_[i] : nullptr);
    return in_grads;
  }

  const Tensor<T>* output_of(int node) const { return acts_.at(static_cast<std::size_t>(node)); }
  bool has_forward() const { return has_forward_; }

  void set_profiling(bool on, std::size_t nodes) {
    profiling_ = on;
    prof_.assign(nodes, {0.0, 0.0});
    algo_.assign(nodes, {});
  }
  // The profile's kernels column for a node: "  " and the convolution
  // kernels its latest profiled step ran, as the plan records them; empty
  // for other nodes.
  std::string kernels_column(std::size_t node) const {
    return node < algo_.size() && !algo_[node].empty() ? "  " + algo_[node] : "";
  }
  bool profiling() const { return profiling_; }
  // Per node: forward and backward seconds (a fused step's forward is
  // charged to its first node, its backward to its last).
  const std::vector<std::pair<double, double>>& times() const { return prof_; }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
  const Tensor<T>& act(const Node<T>& n, std::size_t k = 0) const {
    return *acts_[static_cast<std::size_t>(n.inputs.at(k))];
  }

  void run_forward(const std::vector<Node<T>>& nodes, const Step& s, bool training) {
    const Node<T>& n0 = nodes[static_cast<std::size_t>(s.first())];
    auto set = [&](int node, const Tensor<T>* t) { acts_[static_cast<std::size_t>(node)] = t; };
    switch (s.kind) {
      case Step::Kind::Alias:
        set(s.first(), &act(n0));
        return;
      case Step::Kind::ConvEpilogue: {
        Epilogue<T> e;
        std::size_t k = 1;
        if (s.affine) {
          detail::as<T, BatchNorm<T>>(nodes[static_cast<std::size_t>(s.nodes[k++])])->eval_channel_affine(scale_, shift_);
          e.scale = scale_.data();
          e.shift = shift_.data();
        }
        e.relu = s.relu;
        const Tensor<T>* y = &detail::as<T, Conv2D<T>>(n0)->forward_fused(act(n0), e);
        for (int j : s.nodes) set(j, y);
        return;
      }
      case Step::Kind::ConvReluPool: {
        Epilogue<T> relu;
        relu.relu = true;
        const Tensor<T>& x = act(n0);
        auto* pool = detail::as<T, MaxPool2D<T>>(nodes[static_cast<std::size_t>(s.last())]);
        set(s.last(), &detail::as<T, Conv2D<T>>(n0)->forward_pooled(x, relu, pool->pooled_output(x.dim(0), training)));
        return;  // the conv's and the ReLU's outputs are never computed
      }
      case Step::Kind::Single:
      case Step::Kind::ReluPool:
        for (int j : s.nodes) forward_node(nodes, j, training);
        return;
    }
  }
  void forward_node(const std::vector<Node<T>>& nodes, int j, bool training) {
    const Node<T>& n = nodes[static_cast<std::size_t>(j)];
    if (n.kind == Node<T>::Kind::Merge) {
      xs_.clear();
      for (int i : n.inputs) xs_.push_back(acts_[static_cast<std::size_t>(i)]);
      acts_[static_cast<std::size_t>(j)] = &n.merge->forward(xs_);
      return;
    }
    if (training && n.prev_call)  // a shared layer's call starts from the buffers its previous call left
      copy_buffers(*n.prev_call, *n.layer);
    acts_[static_cast<std::size_t>(j)] = &n.layer->forward(act(n), training);
  }

  void run_backward(const std::vector<Node<T>>& nodes, const Step& s) {
    const Node<T>& n0 = nodes[static_cast<std::size_t>(s.first())];
    const Tensor<T>* dy = grads_[static_cast<std::size_t>(s.last())];
    if (!dy) return;  // nothing downstream of this step needs a gradient
    switch (s.kind) {
      case Step::Kind::Alias:
        add_grad(n0.inputs[0], *dy);
        return;
      case Step::Kind::ConvEpilogue: {  // training: conv + ReLU share the fused output
        const Tensor<T>& y = *acts_[static_cast<std::size_t>(s.last())];
        const Node<T>& r = nodes[static_cast<std::size_t>(s.last())];
        r.layer->set_input_grad(true);
        const Tensor<T>& dz = r.layer->backward(y, y, *dy);
        backward_layer(n0, s.first(), dz);
        return;
      }
      case Step::Kind::ConvReluPool: {
        const Node<T>& p = nodes[static_cast<std::size_t>(s.last())];
        auto* conv = detail::as<T, Conv2D<T>>(n0);
        const bool need = need_[static_cast<std::size_t>(n0.inputs[0])];
        conv->set_input_grad(need);
        const Tensor<T>& dx =
            conv->backward_pooled(act(n0), *dy, detail::as<T, MaxPool2D<T>>(p)->pooled_output(), true);
        if (need) add_grad(n0.inputs[0], dx);
        return;
      }
      case Step::Kind::ReluPool: {
        if (!need_[static_cast<std::size_t>(n0.inputs[0])]) return;  // no parameters, and no gradient wanted
        const Node<T>& p = nodes[static_cast<std::size_t>(s.last())];
        p.layer->set_input_grad(true);
        const Tensor<T>& dz = detail::as<T, MaxPool2D<T>>(p)->backward_through_relu(
            *acts_[static_cast<std::size_t>(s.first())], *acts_[static_cast<std::size_t>(s.last())], *dy);
        add_grad(n0.inputs[0], dz);
        return;
      }
      case Step::Kind::Single:
        if (n0.kind == Node<T>::Kind::Merge) {
          xs_.clear();
          for (int i : n0.inputs) xs_.push_back(acts_[static_cast<std::size_t>(i)]);
          const auto& dxs = n0.merge->backward(xs_, *acts_[static_cast<std::size_t>(s.first())], *dy);
          for (std::size_t k = 0; k < n0.inputs.size(); ++k)
            if (need_[static_cast<std::size_t>(n0.inputs[k])]) add_grad(n0.inputs[k], dxs[k]);
          return;
        }
        backward_layer(n0, s.first(), *dy);
        return;
    }
  }
  void backward_layer(const Node<T>& n, int j, const Tensor<T>& dy) {
    const bool need = need_[static_cast<std::size_t>(n.inputs[0])];
    n.layer->set_input_grad(need);
    const Tensor<T>& dx = n.layer->backward(act(n), *acts_[static_cast<std::size_t>(j)], dy);
    if (need) add_grad(n.inputs[0], dx);
  }
  void add_grad(int node, const Tensor<T>& g) {
    const auto i = static_cast<std::size_t>(node);
    if (!grads_[i]) {
      grads_[i] = &g;
      return;
    }
    if (!owned_[i]) {
      acc_[i].copy_from(*grads_[i]);
      grads_[i] = &acc_[i];
      owned_[i] = 1;
    }
    acc_[i].array() += g.array();
  }
  static void copy_buffers(Layer<T>& from, Layer<T>& to) {
    auto a = from.buffers();
    auto b = to.buffers();
    for (std::size_t k = 0; k < a.size() && k < b.size(); ++k) b[k].second->copy_from(*a[k].second);
  }

  bool planned_[6] = {false, false, false, false, false, false};
  int policy_[6] = {0, 0, 0, 0, 0, 0};
  std::vector<Step> plans_[6];
  std::vector<const Tensor<T>*> acts_, outs_, inputs_, xs_, grads_;
  std::vector<Tensor<T>> acc_;
  std::vector<char> owned_, need_;
  std::vector<T> scale_, shift_;
  bool has_forward_ = false, last_training_ = true, last_eval_fused_ = false;
  bool profiling_ = false;
  std::vector<std::pair<double, double>> prof_;
  std::vector<std::string> algo_;
};

}  // namespace nn
