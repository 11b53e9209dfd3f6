// nn/io/onnx/import.hpp — ONNX models into nn Graphs: nn::onnx::load.
// What is read and what is refused: the top of nn/io/onnx.hpp. The importer
// walks the nodes in file order (ONNX's are topologically sorted), keeps
// initializers and Constant outputs as constants and every other value as a
// node of the Graph it builds, and maps each operator to layers in one
// member function below.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nn/io/onnx/tensor.hpp"
#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/conv2d_transpose.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/embedding.hpp"
#include "nn/layers/merge.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/reshape.hpp"
#include "nn/layers/upsample.hpp"
#include "nn/model/graph.hpp"

namespace nn::onnx {

namespace detail {

// One node's attributes, read with checks.
class Attrs {
 public:
  Attrs(const NodeProto& n, std::string who) : who_(std::move(who)) {
    for (const auto& a : n.attribute()) a_[a.name()] = &a;
  }
  bool has(const std::string& k) const { return a_.count(k) > 0; }
  std::int64_t i(const std::string& k, std::int64_t def) const {
    auto* a = get(k, AttributeProto::INT);
    return a ? a->i() : def;
  }
  double f(const std::string& k, double def) const {
    auto* a = get(k, AttributeProto::FLOAT);
    return a ? a->f() : def;
  }
  std::string s(const std::string& k, const std::string& def) const {
    auto* a = get(k, AttributeProto::STRING);
    return a ? a->s() : def;
  }
  std::vector<std::int64_t> ints(const std::string& k, std::vector<std::int64_t> def) const {
    auto* a = get(k, AttributeProto::INTS);
    return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : def;
  }
  const AttributeProto* raw(const std::string& k) const {
    auto it = a_.find(k);
    return it == a_.end() ? nullptr : it->second;
  }
  // Every attribute present must be one of `known`.
  void only(std::initializer_list<const char*> known) const {
    for (const auto& kv : a_) {
      bool ok = false;
      for (const char* k : known) ok = ok || kv.first == k;
      if (!ok) throw Unsupported(who_ + ": attribute '" + kv.first + "' is not supported");
    }
  }

 private:
  const AttributeProto* get(const std::string& k, AttributeProto::AttributeType type) const {
    auto it = a_.find(k);
    if (it == a_.end()) return nullptr;
    if (it->second->type() != type)
      throw io::FormatError(who_ + ": attribute '" + k + "' has the wrong type");
    return it->second;
  }
  std::string who_;
  std::map<std::string, const AttributeProto*> a_;
};

// Bounds on what a file may ask the importer to build: values per sample
// of an input or an upsampled tensor, and pixels per side of an upsampled
// image (layers size some tables from their shapes when they are built).
constexpr Index kMaxSampleSize = Index(1) << 28, kMaxSide = Index(1) << 20;

template <class T>
class Importer {
 public:
  Importer(const ModelProto& m, std::string name) : m_(m), file_(std::move(name)) {}

  Graph<T> run() {
    opset_ = 0;
    for (const auto& o : m_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = int(o.version());
    if (opset_ == 0) throw Unsupported(file_ + ": no opset of the default ONNX domain");
    if (opset_ < kMinOpset || opset_ > kMaxOpset)
      throw Unsupported(file_ + ": opset " + std::to_string(opset_) + " (nn reads opsets " +
                        std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
    const GraphProto& gp = m_.graph();
    // operators first: a model nn cannot run is refused for that reason
    // before its tensors are read
    for (int k = 0; k < gp.node_size(); ++k) {
      const NodeProto& n = gp.node(k);
      node_index_ = k;
      if (!n.domain().empty() && n.domain() != "ai.onnx")
        throw Unsupported(who(n) + ": domain '" + n.domain() + "' is not supported");
      if (!known_op(n.op_type())) throw Unsupported(who(n) + ": operator " + n.op_type() + " is not supported");
    }
    for (const auto& t : gp.initializer()) consts_[t.name()] = to_const(t, file_ + ": initializer '" + t.name() + "'");
    for (const auto& n : gp.node())
      for (const auto& i : n.input()) ++readers_[i];
    for (const auto& o : gp.output()) ++readers_[o.name()];
    for (const auto& in : gp.input()) {
      if (consts_.count(in.name())) continue;  // an initializer listed as an input (older exporters)
      add_input(in);
    }
    for (int k = 0; k < gp.node_size(); ++k) {
      if (skip_.count(k)) continue;
      node_index_ = k;
      import_node(gp.node(k));
    }
    for (const auto& o : gp.output()) {
      auto it = vals_.find(o.name());
      if (it == vals_.end())
        throw Unsupported(file_ + ": output '" + o.name() + "' is " +
                          (consts_.count(o.name()) ? "a constant" : "not computed by any node"));
      g_.output(it->second, o.name());
    }
    g_.check();
    g_.eval();
    return std::move(g_);
  }

 private:
  // ---- values --------------------------------------------------------------
  void add_input(const ::onnx::ValueInfoProto& in) {
    const std::string who = file_ + ": input '" + in.name() + "'";
    if (!in.type().has_tensor_type()) throw Unsupported(who + " is not a tensor");
    const auto& tt = in.type().tensor_type();
    const int et = tt.elem_type();
    if (et != TensorProto::FLOAT && et != TensorProto::DOUBLE && et != TensorProto::INT64 && et != TensorProto::INT32)
      throw Unsupported(who + ": element type " + type_name(et) + " is not supported");
    if (!tt.has_shape()) throw Unsupported(who + " has no shape");
    const auto& dims = tt.shape().dim();
    if (dims.size() < 2)
      throw Unsupported(who + ": rank " + std::to_string(dims.size()) +
                        " (nn needs a batch dimension and at least one more)");
    std::vector<Index> s;
    for (int d = 1; d < dims.size(); ++d) {
      if (!dims[d].has_dim_value() || dims[d].dim_value() < 1)
        throw Unsupported(who + ": dimension " + std::to_string(d) + " is not a fixed size (only the batch may vary)");
      s.push_back(Index(dims[d].dim_value()));
    }
    if (s.size() >= std::size_t(Shape::kMaxRank))
      throw Unsupported(who + ": rank " + std::to_string(dims.size()) + " (nn: at most " +
                        std::to_string(Shape::kMaxRank) + " with the batch)");
    const Shape shape = Shape::from_range(s.begin(), s.end());
    if (shape.size() > kMaxSampleSize)
      throw Unsupported(who + ": " + std::to_string(shape.size()) + " values per sample (nn imports at most 2^28)");
    vals_[in.name()] = g_.input(shape, in.name());
  }
  bool is_const(const std::string& name) const { return consts_.count(name) > 0; }
  const Const& cst(const NodeProto& n, int k, const char* what) const {
    if (k >= n.input_size() || n.input(k).empty()) throw Unsupported(who(n) + ": " + what + " is missing");
    auto it = consts_.find(n.input(k));
    if (it == consts_.end())
      throw Unsupported(who(n) + ": " + what + " ('" + n.input(k) + "') must be an initializer or a constant");
    return it->second;
  }
  NodeRef val(const NodeProto& n, int k) const {
    if (k >= n.input_size() || n.input(k).empty()) throw Unsupported(who(n) + ": input " + std::to_string(k) + " is missing");
    auto it = vals_.find(n.input(k));
    if (it != vals_.end()) return it->second;
    if (is_const(n.input(k)))
      throw Unsupported(who(n) + ": input '" + n.input(k) + "' is a constant where nn needs a computed tensor");
    throw io::FormatError(who(n) + ": input '" + n.input(k) + "' is not defined before this node");
  }
  const Shape& shape(NodeRef r) const { return g_.nodes()[std::size_t(r.id)].shape; }
  std::string who(const NodeProto& n) const {
    return file_ + ": node " + std::to_string(node_index_) + (n.name().empty() ? "" : " '" + n.name() + "'") + " (" +
           n.op_type() + ")";
  }
  std::string node_name(const NodeProto& n) {
    std::string name = n.name().empty() ? "" : n.name();
    if (!name.empty() && !used_names_.insert(name).second) name.clear();  // duplicate: nn names it
    return name;
  }
  void set(const NodeProto& n, NodeRef r, int out = 0) {
    if (out < n.output_size() && !n.output(out).empty()) vals_[n.output(out)] = r;
  }
  // Extra outputs (a mask, indices, training statistics) must be unused.
  void only_first_output(const NodeProto& n) const {
    for (int k = 1; k < n.output_size(); ++k)
      if (!n.output(k).empty() && readers_.count(n.output(k)))
        throw Unsupported(who(n) + ": output " + std::to_string(k) + " ('" + n.output(k) + "') is used; nn computes only the first");
  }
  template <class L>
  std::pair<NodeRef, L*> add_layer(const NodeProto& n, L layer, NodeRef in) {
    auto p = std::make_unique<L>(std::move(layer));
    L* raw = p.get();
    NodeRef r;
    try {
      r = g_.add(std::unique_ptr<Layer<T>>(std::move(p)), in, node_name(n));
    } catch (const std::invalid_argument& e) {
      throw Unsupported(who(n) + ": " + e.what());
    }
    return {r, raw};
  }
  // Copies `c` into the parameter tensor `dst` (shape checked), v[i] = f(c, i).
  template <class F>
  void fill(const NodeProto& n, Tensor<T>& dst, const Const& c, const std::string& what, F f) const {
    if (c.size() != dst.size())
      throw Unsupported(who(n) + ": " + what + " has " + std::to_string(c.size()) + " values, the layer " +
                        dst.shape().str() + " needs " + std::to_string(dst.size()));
    for (Index i = 0; i < dst.size(); ++i) dst[i] = static_cast<T>(f(i));
  }
  void fill(const NodeProto& n, Tensor<T>& dst, const Const& c, const std::string& what) const {
    fill(n, dst, c, what, [&](Index i) { return c.v[std::size_t(i)]; });
  }
  static std::string dims_str(const std::vector<std::int64_t>& d) {
    std::string s = "(";
    for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
  }
  // 2-D spatial input: per-sample (C, H, W)
  void need_image(const NodeProto& n, NodeRef x) const {
    if (shape(x).rank() != 3)
      throw Unsupported(who(n) + ": input of shape " + batch_str(shape(x)) + "; nn supports the 2-D case (N, C, H, W)");
  }
  // pads [t, l, b, r] for a 2-D window, from auto_pad or pads
  std::vector<std::int64_t> pads2d(const NodeProto& n, const Attrs& a, const Shape& in, Index kh, Index kw, Index sh,
                                   Index sw, Index dh, Index dw) const {
    const std::string ap = a.s("auto_pad", "NOTSET");
    if (ap == "NOTSET") {
      auto p = a.ints("pads", {0, 0, 0, 0});
      if (p.size() != 4) throw Unsupported(who(n) + ": pads " + dims_str(p) + " (nn needs 4 for 2-D)");
      for (auto v : p)
        if (v < 0) throw Unsupported(who(n) + ": negative pads " + dims_str(p));
      return p;
    }
    if (ap == "VALID") return {0, 0, 0, 0};
    if (ap != "SAME_UPPER" && ap != "SAME_LOWER") throw Unsupported(who(n) + ": auto_pad '" + ap + "'");
    auto total = [](Index size, Index k, Index s, Index d) {
      const Index out = (size + s - 1) / s;
      return std::max<Index>(0, (out - 1) * s + (k - 1) * d + 1 - size);
    };
    const Index th = total(in[1], kh, sh, dh), tw = total(in[2], kw, sw, dw);
    const bool upper = ap == "SAME_UPPER";  // the extra padding at the end
    return {upper ? th / 2 : th - th / 2, upper ? tw / 2 : tw - tw / 2, upper ? th - th / 2 : th / 2,
            upper ? tw - tw / 2 : tw / 2};
  }
  std::vector<std::int64_t> pair_attr(const NodeProto& n, const Attrs& a, const char* k, std::int64_t def) const {
    auto v = a.ints(k, {def, def});
    if (v.size() != 2) throw Unsupported(who(n) + ": " + k + " " + dims_str(v) + " (nn supports 2-D)");
    for (auto x : v)
      if (x < 1) throw Unsupported(who(n) + ": " + k + " " + dims_str(v));
    return v;
  }
  // the axis of a rank-r tensor (batch included), negative counted from the end
  std::int64_t axis(const NodeProto& n, std::int64_t ax, std::int64_t rank) const {
    if (ax < -rank || ax >= rank) throw io::FormatError(who(n) + ": axis " + std::to_string(ax) + " out of range");
    return ax < 0 ? ax + rank : ax;
  }

  // ---- operators -------------------------------------------------------------
  static bool known_op(const std::string& op) {
    static const std::set<std::string> ops{
        "Constant", "Identity", "Dropout", "Conv", "ConvTranspose", "Gemm", "MatMul", "Relu", "Sigmoid", "Tanh",
        "LeakyRelu", "Elu", "Selu", "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool",
        "BatchNormalization", "Flatten", "Reshape", "Pad", "Concat", "Add", "Mul", "Resize", "Upsample", "Gather",
        "Cast"};
    return ops.count(op) > 0;
  }
  void import_node(const NodeProto& n) {
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      throw Unsupported(who(n) + ": domain '" + n.domain() + "' is not supported");
    const std::string& op = n.op_type();
    if (n.output_size() < 1 || n.output(0).empty()) throw io::FormatError(who(n) + ": no output");
    const Attrs a(n, who(n));
    if (op == "Constant") return constant(n, a);
    if (op == "Identity") return alias(n);
    if (op == "Dropout") {
      a.only({"ratio", "seed", "is_test"});
      if (opset_ < 7 && a.i("is_test", 0) == 0) throw Unsupported(who(n) + ": is_test 0 (training; nn imports for inference)");
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const Const& tm = cst(n, 2, "training_mode");
        if (tm.size() != 1 || tm.v[0] != 0) throw Unsupported(who(n) + ": training_mode true (nn imports for inference)");
      }
      only_first_output(n);
      return alias(n);
    }
    if (op == "Cast") return cast(n, a);
    if (op == "Conv") return conv(n, a);
    if (op == "ConvTranspose") return conv_transpose(n, a);
    if (op == "Gemm") return gemm(n, a);
    if (op == "MatMul") return matmul(n);
    if (op == "Relu") return activation(n, a, ReLU<T>(), {});
    if (op == "Sigmoid") return activation(n, a, Sigmoid<T>(), {});
    if (op == "Tanh") return activation(n, a, Tanh<T>(), {});
    if (op == "LeakyRelu") return activation(n, a, LeakyReLU<T>(a.f("alpha", 0.01)), {"alpha"});
    if (op == "Elu") return activation(n, a, ELU<T>(a.f("alpha", 1.0)), {"alpha"});
    if (op == "Selu") {
      if (std::abs(a.f("alpha", 1.67326319217681884765625) - 1.6732632423543772) > 1e-6 ||
          std::abs(a.f("gamma", 1.05070102214813232421875) - 1.0507009873554805) > 1e-6)
        throw Unsupported(who(n) + ": alpha and gamma other than SELU's constants");
      return activation(n, a, SELU<T>(), {"alpha", "gamma"});
    }
    if (op == "Softmax") return softmax(n, a, Softmax<T>());
    if (op == "LogSoftmax") return softmax(n, a, LogSoftmax<T>());
    if (op == "MaxPool" || op == "AveragePool") return pool(n, a);
    if (op == "GlobalAveragePool") return global_avg_pool(n, a);
    if (op == "BatchNormalization") return batch_norm(n, a);
    if (op == "Flatten") return flatten(n, a);
    if (op == "Reshape") return reshape(n, a);
    if (op == "Pad") return pad(n, a);
    if (op == "Concat") return concat(n, a);
    if (op == "Add" || op == "Mul") return elementwise(n, a);
    if (op == "Resize" || op == "Upsample") return resize(n, a);
    if (op == "Gather") return gather(n, a);
    throw Unsupported(who(n) + ": operator " + op + " is not supported");
  }

  void constant(const NodeProto& n, const Attrs& a) {
    const std::string name = n.output(0);
    if (auto* t = a.raw("value")) {
      consts_[name] = to_const(t->t(), who(n));
    } else if (a.has("value_float")) {
      consts_[name] = Const{{}, {a.f("value_float", 0)}};
    } else if (a.has("value_int")) {
      consts_[name] = Const{{}, {double(a.i("value_int", 0))}};
    } else if (auto* v = a.raw("value_ints")) {
      Const c{{v->ints_size()}, {}};
      for (auto x : v->ints()) c.v.push_back(double(x));
      consts_[name] = c;
    } else if (auto* v2 = a.raw("value_floats")) {
      Const c{{v2->floats_size()}, {}};
      for (auto x : v2->floats()) c.v.push_back(double(x));
      consts_[name] = c;
    } else {
      throw Unsupported(who(n) + ": a Constant other than a tensor, float(s) or int(s)");
    }
  }
  void alias(const NodeProto& n) {
    if (n.input_size() < 1) throw io::FormatError(who(n) + ": no input");
    auto c = consts_.find(n.input(0));
    if (c != consts_.end()) {
      consts_[n.output(0)] = c->second;
      return;
    }
    set(n, val(n, 0));
  }

  // nn computes in T: a cast to float or double changes nothing; a cast to
  // an integer type only where the result is only read as Gather's indices
  // (ids that are whole numbers already).
  void cast(const NodeProto& n, const Attrs& a) {
    a.only({"to", "saturate"});
    const auto to = a.i("to", 0);
    if (to == TensorProto::FLOAT || to == TensorProto::DOUBLE) return alias(n);
    if (to != TensorProto::INT64 && to != TensorProto::INT32)
      throw Unsupported(who(n) + ": cast to " + type_name(int(to)));
    const GraphProto& gp = m_.graph();
    for (const auto& o : gp.output())
      if (o.name() == n.output(0)) throw Unsupported(who(n) + ": an integer cast as a model output");
    for (const auto& r : gp.node())
      for (int k = 0; k < r.input_size(); ++k)
        if (r.input(k) == n.output(0) && !(r.op_type() == "Gather" && k == 1))
          throw Unsupported(who(n) + ": cast to " + type_name(int(to)) + " read by " + r.op_type() +
                            " (nn casts to integers only for Gather's indices)");
    alias(n);
  }
  void conv(const NodeProto& n, const Attrs& a) {
    a.only({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
    const NodeRef x = val(n, 0);
    need_image(n, x);
    const Const& w = cst(n, 1, "the weight");
    if (w.dims.size() != 4) throw Unsupported(who(n) + ": weight of shape " + dims_str(w.dims) + " (nn supports 2-D)");
    if (a.i("group", 1) != 1)
      throw Unsupported(who(n) + ": group " + std::to_string(a.i("group", 1)) + " (grouped or depthwise convolution)");
    const auto k = a.ints("kernel_shape", {w.dims[2], w.dims[3]});
    if (k.size() != 2 || k[0] != w.dims[2] || k[1] != w.dims[3])
      throw io::FormatError(who(n) + ": kernel_shape " + dims_str(k) + " does not match the weight " + dims_str(w.dims));
    const auto s = pair_attr(n, a, "strides", 1), d = pair_attr(n, a, "dilations", 1);
    const auto p = pads2d(n, a, shape(x), k[0], k[1], s[0], s[1], d[0], d[1]);
    const bool bias = n.input_size() > 2 && !n.input(2).empty();
    auto [r, layer] = add_layer(n, Conv2D<T>(Index(w.dims[0]), Size2(k[0], k[1]), Size2(s[0], s[1]),
                                             Padding::explicit_(p[0], p[2], p[1], p[3]), Size2(d[0], d[1]), bias),
                                x);
    auto params = layer->parameters();
    fill(n, *params[0].value, w, "the weight " + dims_str(w.dims));
    if (bias) fill(n, *params[1].value, cst(n, 2, "the bias"), "the bias");
    set(n, r);
  }
  void conv_transpose(const NodeProto& n, const Attrs& a) {
    a.only({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "output_padding"});
    const NodeRef x = val(n, 0);
    need_image(n, x);
    const Const& w = cst(n, 1, "the weight");
    if (w.dims.size() != 4) throw Unsupported(who(n) + ": weight of shape " + dims_str(w.dims) + " (nn supports 2-D)");
    if (a.i("group", 1) != 1) throw Unsupported(who(n) + ": group " + std::to_string(a.i("group", 1)));
    if (a.s("auto_pad", "NOTSET") != "NOTSET") throw Unsupported(who(n) + ": auto_pad (give pads)");
    const auto k = a.ints("kernel_shape", {w.dims[2], w.dims[3]});
    if (k.size() != 2 || k[0] != w.dims[2] || k[1] != w.dims[3])
      throw io::FormatError(who(n) + ": kernel_shape " + dims_str(k) + " does not match the weight " + dims_str(w.dims));
    const auto s = pair_attr(n, a, "strides", 1), d = pair_attr(n, a, "dilations", 1);
    const auto p = a.ints("pads", {0, 0, 0, 0});
    if (p.size() != 4 || p[0] != p[2] || p[1] != p[3] || p[0] < 0 || p[1] < 0)
      throw Unsupported(who(n) + ": pads " + dims_str(p) + " (nn needs the same padding at both ends)");
    auto op = a.ints("output_padding", {0, 0});
    if (op.size() != 2 || op[0] < 0 || op[1] < 0) throw Unsupported(who(n) + ": output_padding " + dims_str(op));
    const bool bias = n.input_size() > 2 && !n.input(2).empty();
    auto [r, layer] = add_layer(n, Conv2DTranspose<T>(Index(w.dims[1]), Size2(k[0], k[1]), Size2(s[0], s[1]),
                                                      Size2(p[0], p[1]), Size2(op[0], op[1]), Size2(d[0], d[1]), bias),
                                x);
    auto params = layer->parameters();
    fill(n, *params[0].value, w, "the weight " + dims_str(w.dims));
    if (bias) fill(n, *params[1].value, cst(n, 2, "the bias"), "the bias");
    set(n, r);
  }
  // Dense from a (K, M) matrix (transposed: B is (M, K)), scaled by alpha,
  // and an optional bias broadcast to M, scaled by beta.
  void dense(const NodeProto& n, NodeRef x, const Const& B, bool trans, double alpha, const Const* C, double beta,
             const NodeProto& out_node) {
    if (B.dims.size() != 2) throw Unsupported(who(n) + ": weight of shape " + dims_str(B.dims) + " (nn needs a matrix)");
    const std::int64_t K = trans ? B.dims[1] : B.dims[0], M = trans ? B.dims[0] : B.dims[1];
    const Shape& in = shape(x);
    if (in[in.rank() - 1] != K)
      throw Unsupported(who(n) + ": input " + batch_str(in) + " does not match the weight " + dims_str(B.dims));
    if (C) {
      const bool ok = C->size() == M || C->size() == 1;
      if (!ok) throw Unsupported(who(n) + ": bias of shape " + dims_str(C->dims) + " (nn adds one value per output)");
    }
    auto [r, layer] = add_layer(n, Dense<T>(Index(M), C != nullptr), x);
    auto params = layer->parameters();
    // nn's weight is (M, K)
    fill(n, *params[0].value, B, "the weight " + dims_str(B.dims), [&](Index i) {
      const std::int64_t m = i / K, k = i % K;
      return alpha * B.v[std::size_t(trans ? m * K + k : k * M + m)];
    });
    if (C) {
      Tensor<T>& b = *params[1].value;
      for (Index m = 0; m < b.size(); ++m) b[m] = static_cast<T>(beta * C->v[std::size_t(C->size() == 1 ? 0 : m)]);
    }
    set(out_node, r);
  }
  void gemm(const NodeProto& n, const Attrs& a) {
    a.only({"alpha", "beta", "transA", "transB"});
    if (a.i("transA", 0) != 0) throw Unsupported(who(n) + ": transA 1");
    const NodeRef x = val(n, 0);
    if (shape(x).rank() != 1) throw Unsupported(who(n) + ": input " + batch_str(shape(x)) + " (Gemm takes (N, K))");
    const Const* C = n.input_size() > 2 && !n.input(2).empty() ? &cst(n, 2, "C") : nullptr;
    if (C && C->dims.size() == 2 && C->dims[0] != 1)
      throw Unsupported(who(n) + ": C of shape " + dims_str(C->dims) + " (nn adds one bias per output)");
    dense(n, x, cst(n, 1, "B"), a.i("transB", 0) != 0, a.f("alpha", 1.0), C, a.f("beta", 1.0), n);
  }
  // MatMul by an initializer; a following Add of a bias initializer (its only
  // reader) becomes the Dense's bias.
  void matmul(const NodeProto& n) {
    const NodeRef x = val(n, 0);
    const Const& B = cst(n, 1, "the second operand");
    const GraphProto& gp = m_.graph();
    const std::string& y = n.output(0);
    if (readers_[y] == 1)
      for (int k = node_index_ + 1; k < gp.node_size(); ++k) {
        const NodeProto& next = gp.node(k);
        if (next.op_type() != "Add" || next.input_size() != 2) continue;
        const int other = next.input(0) == y ? 1 : next.input(1) == y ? 0 : -1;
        if (other < 0 || !is_const(next.input(other))) continue;
        const Const& c = consts_.at(next.input(other));
        bool vector_like = !c.dims.empty();
        for (std::size_t d = 0; d + 1 < c.dims.size(); ++d) vector_like = vector_like && c.dims[d] == 1;
        if (!vector_like || c.dims.back() != B.dims.back()) continue;
        skip_.insert(k);
        dense(n, x, B, false, 1.0, &c, 1.0, next);
        return;
      }
    dense(n, x, B, false, 1.0, nullptr, 1.0, n);
  }
  template <class L>
  void activation(const NodeProto& n, const Attrs& a, L layer, std::initializer_list<const char*> known) {
    a.only(known);
    set(n, add_layer(n, std::move(layer), val(n, 0)).first);
  }
  template <class L>
  void softmax(const NodeProto& n, const Attrs& a, L layer) {
    a.only({"axis"});
    const NodeRef x = val(n, 0);
    const std::int64_t rank = shape(x).rank() + 1;
    const std::int64_t ax = axis(n, a.i("axis", opset_ >= 13 ? -1 : 1), rank);
    if (ax != rank - 1)
      throw Unsupported(who(n) + ": axis " + std::to_string(ax) + " of a rank-" + std::to_string(rank) +
                        " input (nn normalizes over the last axis)");
    set(n, add_layer(n, std::move(layer), x).first);
  }
  void pool(const NodeProto& n, const Attrs& a) {
    const bool max = n.op_type() == "MaxPool";
    if (max)
      a.only({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
    else
      a.only({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
    only_first_output(n);
    const NodeRef x = val(n, 0);
    need_image(n, x);
    if (!a.has("kernel_shape")) throw io::FormatError(who(n) + ": no kernel_shape");
    const auto k = pair_attr(n, a, "kernel_shape", 1), s = pair_attr(n, a, "strides", 1);
    if (a.i("ceil_mode", 0) != 0) throw Unsupported(who(n) + ": ceil_mode 1");
    if (max && (pair_attr(n, a, "dilations", 1) != std::vector<std::int64_t>{1, 1}))
      throw Unsupported(who(n) + ": dilations");
    if (a.i("storage_order", 0) != 0) throw Unsupported(who(n) + ": storage_order 1");
    const auto p = pads2d(n, a, shape(x), k[0], k[1], s[0], s[1], 1, 1);
    if (p[0] != p[2] || p[1] != p[3])
      throw Unsupported(who(n) + ": pads " + dims_str(p) + " (nn needs the same padding at both ends)");
    if (!max && (p[0] || p[1]) && a.i("count_include_pad", 0) == 0)
      throw Unsupported(who(n) + ": count_include_pad 0 with padding (nn divides by the whole window)");
    NodeRef r;
    if (max)
      r = add_layer(n, MaxPool2D<T>(Size2(k[0], k[1]), Size2(s[0], s[1]), Size2(p[0], p[1])), x).first;
    else
      r = add_layer(n, AvgPool2D<T>(Size2(k[0], k[1]), Size2(s[0], s[1]), Size2(p[0], p[1])), x).first;
    set(n, r);
  }
  void global_avg_pool(const NodeProto& n, const Attrs& a) {
    a.only({});
    const NodeRef x = val(n, 0);
    need_image(n, x);
    const Index C = shape(x)[0];
    const NodeRef p = add_layer(n, GlobalAvgPool2D<T>(), x).first;
    NodeRef r;  // ONNX keeps (N, C, 1, 1)
    try {
      r = g_.add(Reshape<T>({C, 1, 1}), p);
    } catch (const std::invalid_argument& e) {
      throw Unsupported(who(n) + ": " + e.what());
    }
    set(n, r);
  }
  void batch_norm(const NodeProto& n, const Attrs& a) {
    a.only({"epsilon", "momentum", "training_mode", "spatial", "consumed_inputs", "is_test"});
    if (a.i("training_mode", 0) != 0 || (opset_ < 7 && a.i("is_test", 0) == 0))
      throw Unsupported(who(n) + ": training mode (nn imports for inference)");
    if (a.i("spatial", 1) != 1) throw Unsupported(who(n) + ": spatial 0");
    only_first_output(n);
    const NodeRef x = val(n, 0);
    const Const &scale = cst(n, 1, "scale"), &bias = cst(n, 2, "B"), &mean = cst(n, 3, "mean"),
                &var = cst(n, 4, "var");
    auto [r, layer] = add_layer(n, BatchNorm<T>(0.1, a.f("epsilon", 1e-5)), x);
    auto params = layer->parameters();
    fill(n, *params[0].value, scale, "scale");
    fill(n, *params[1].value, bias, "B");
    fill(n, layer->running_mean(), mean, "mean");
    fill(n, layer->running_var(), var, "var");
    set(n, r);
  }
  void flatten(const NodeProto& n, const Attrs& a) {
    a.only({"axis"});
    const NodeRef x = val(n, 0);
    if (axis(n, a.i("axis", 1), shape(x).rank() + 1) != 1)
      throw Unsupported(who(n) + ": axis " + std::to_string(a.i("axis", 1)) + " (nn flattens everything after the batch)");
    set(n, add_layer(n, Flatten<T>(), x).first);
  }
  void reshape(const NodeProto& n, const Attrs& a) {
    a.only({"allowzero", "shape"});
    if (a.i("allowzero", 0) != 0) throw Unsupported(who(n) + ": allowzero 1");
    const NodeRef x = val(n, 0);
    std::vector<std::int64_t> s;
    if (opset_ < 5 || a.has("shape")) {
      s = a.ints("shape", {});
    } else {
      const Const& c = cst(n, 1, "the shape");
      for (double v : c.v) s.push_back(std::int64_t(v));
    }
    if (s.empty() || (s[0] != 0 && s[0] != -1))
      throw Unsupported(who(n) + ": shape " + dims_str(s) +
                        " (nn needs the batch first: 0 or -1 there; export with torch.flatten or x.reshape(-1, ...))");
    const Shape& in = shape(x);
    std::vector<Index> out;
    int minus = 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i] == 0) {
        if (i - 1 >= std::size_t(in.rank())) throw io::FormatError(who(n) + ": 0 in shape " + dims_str(s) + " beyond the input's rank");
        out.push_back(in[int(i - 1)]);
      } else {
        if (s[i] == -1) ++minus;
        else if (s[i] < 1) throw io::FormatError(who(n) + ": shape " + dims_str(s));
        out.push_back(Index(s[i]));
      }
    }
    if (s[0] == -1 && minus > 0)
      throw Unsupported(who(n) + ": shape " + dims_str(s) + " (the batch and another dimension both -1)");
    set(n, add_layer(n, Reshape<T>(out), x).first);
  }
  void pad(const NodeProto& n, const Attrs& a) {
    a.only({"mode", "pads", "value"});
    if (a.s("mode", "constant") != "constant") throw Unsupported(who(n) + ": mode '" + a.s("mode", "") + "'");
    const NodeRef x = val(n, 0);
    need_image(n, x);
    std::vector<std::int64_t> p;
    double value = a.f("value", 0.0);
    if (opset_ < 11) {
      p = a.ints("pads", {});
    } else {
      for (double v : cst(n, 1, "pads").v) p.push_back(std::int64_t(v));
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const Const& cv = cst(n, 2, "constant_value");
        value = cv.size() ? cv.v[0] : 0.0;
      }
      if (n.input_size() > 3 && !n.input(3).empty()) throw Unsupported(who(n) + ": axes");
    }
    if (value != 0) throw Unsupported(who(n) + ": constant value " + std::to_string(value) + " (nn pads with zeros)");
    if (p.size() != 8 || p[0] || p[1] || p[4] || p[5])
      throw Unsupported(who(n) + ": pads " + dims_str(p) + " (nn pads H and W of (N, C, H, W))");
    for (auto v : p)
      if (v < 0) throw Unsupported(who(n) + ": negative pads " + dims_str(p));
    set(n, add_layer(n, ZeroPadding2D<T>(Index(p[2]), Index(p[6]), Index(p[3]), Index(p[7])), x).first);
  }
  template <class M>
  NodeRef add_merge(const NodeProto& n, M merge, std::vector<NodeRef> ins) {
    try {
      return g_.add(std::move(merge), ins, node_name(n));
    } catch (const std::invalid_argument& e) {
      throw Unsupported(who(n) + ": " + e.what());
    }
  }
  void concat(const NodeProto& n, const Attrs& a) {
    a.only({"axis"});
    std::vector<NodeRef> ins;
    for (int k = 0; k < n.input_size(); ++k) ins.push_back(val(n, k));
    if (ins.empty()) throw io::FormatError(who(n) + ": no inputs");
    if (!a.has("axis")) throw io::FormatError(who(n) + ": no axis");
    const std::int64_t ax = axis(n, a.i("axis", 0), shape(ins[0]).rank() + 1);
    if (ax == 0) throw Unsupported(who(n) + ": axis 0 (the batch)");
    set(n, ins.size() == 1 ? ins[0] : add_merge(n, Concat<T>(int(ax - 1)), ins));
  }
  void elementwise(const NodeProto& n, const Attrs& a) {
    a.only({"axis", "broadcast"});
    if (n.input_size() != 2) throw io::FormatError(who(n) + ": needs two inputs");
    const NodeRef x = val(n, 0), y = val(n, 1);
    if (shape(x) != shape(y))
      throw Unsupported(who(n) + ": shapes " + batch_str(shape(x)) + " and " + batch_str(shape(y)) +
                        " (nn adds and multiplies tensors of one shape, no broadcasting)");
    set(n, n.op_type() == "Add" ? add_merge(n, Add<T>(), {x, y}) : add_merge(n, Multiply<T>(), {x, y}));
  }
  void resize(const NodeProto& n, const Attrs& a) {
    const bool upsample = n.op_type() == "Upsample";
    if (upsample)
      a.only({"mode", "scales"});
    else
      a.only({"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
              "extrapolation_value"});
    const NodeRef x = val(n, 0);
    need_image(n, x);
    const std::string mode = a.s("mode", "nearest");
    std::vector<double> scales;
    if (upsample) {
      if (opset_ < 9) {
        auto* f = a.raw("scales");
        if (f) scales.assign(f->floats().begin(), f->floats().end());
      } else {
        scales = cst(n, 1, "scales").v;
      }
    } else {
      // opset 10: (X, scales); 11+: (X, roi, scales, sizes)
      const int si = opset_ == 10 ? 1 : 2;
      if (n.input_size() > si && !n.input(si).empty() && cst(n, si, "scales").size() > 0) {
        scales = cst(n, si, "scales").v;
      } else if (n.input_size() > 3 && !n.input(3).empty()) {
        const Const& sz = cst(n, 3, "sizes");
        const Shape& in = shape(x);
        if (sz.size() != 4) throw Unsupported(who(n) + ": sizes " + dims_str(sz.dims));
        scales = {1.0, sz.v[1] / double(in[0]), sz.v[2] / double(in[1]), sz.v[3] / double(in[2])};
      }
    }
    if (scales.size() != 4 || scales[0] != 1 || scales[1] != 1)
      throw Unsupported(who(n) + ": scales other than (1, 1, sh, sw)");
    const double sh = scales[2], sw = scales[3];
    if (sh != std::floor(sh) || sw != std::floor(sw) || sh < 1 || sw < 1)
      throw Unsupported(who(n) + ": scales " + std::to_string(sh) + " x " + std::to_string(sw) +
                        " (nn upsamples by whole factors)");
    const Shape& in = shape(x);
    // the layer sizes its interpolation tables from the output at build
    if (double(in[1]) * sh > double(kMaxSide) || double(in[2]) * sw > double(kMaxSide) ||
        double(in.size()) * sh * sw > double(kMaxSampleSize))
      throw Unsupported(who(n) + ": an output of " + std::to_string(in[1]) + " x " + std::to_string(sh) + " by " +
                        std::to_string(in[2]) + " x " + std::to_string(sw) + " (nn imports at most 2^20 per side, " +
                        "2^28 values per sample)");
    typename Upsample2D<T>::Mode m;
    if (mode == "nearest") {
      const std::string ct = a.s("coordinate_transformation_mode", "half_pixel"), nm = a.s("nearest_mode", "round_prefer_floor");
      // nn's nearest repeats each pixel: output i reads floor(i / s). For a
      // whole factor s, ONNX gives that with half-pixel centres rounded to
      // the nearest ((i + 0.5) / s - 0.5 is less than 0.5 from floor(i / s)),
      // with asymmetric or tf_half_pixel_for_nn and floor (PyTorch's
      // export), and in Upsample.
      const bool half = (ct == "half_pixel" || ct == "pytorch_half_pixel") &&
                        (nm == "round_prefer_floor" || nm == "round_prefer_ceil");
      const bool floor = (ct == "asymmetric" || ct == "tf_half_pixel_for_nn") && nm == "floor";
      if (!upsample && !half && !floor)
        throw Unsupported(who(n) + ": nearest with coordinate_transformation_mode '" + ct + "' and nearest_mode '" +
                          nm + "' (nn repeats pixels)");
      m = Upsample2D<T>::Mode::Nearest;
    } else if (mode == "linear" || mode == "bilinear") {
      const std::string ct = a.s("coordinate_transformation_mode", "half_pixel");
      if (upsample || (ct != "half_pixel" && ct != "pytorch_half_pixel"))
        throw Unsupported(who(n) + ": linear with coordinate_transformation_mode '" + (upsample ? "asymmetric" : ct) +
                          "' (nn: half_pixel, PyTorch's align_corners=False)");
      m = Upsample2D<T>::Mode::Bilinear;
    } else {
      throw Unsupported(who(n) + ": mode '" + mode + "'");
    }
    set(n, add_layer(n, Upsample2D<T>(Size2(Index(sh), Index(sw)), m), x).first);
  }
  void gather(const NodeProto& n, const Attrs& a) {
    a.only({"axis"});
    if (a.i("axis", 0) != 0) throw Unsupported(who(n) + ": axis " + std::to_string(a.i("axis", 0)) + " (nn: 0)");
    const Const& table = cst(n, 0, "the data (an embedding table)");
    if (table.dims.size() != 2) throw Unsupported(who(n) + ": data of shape " + dims_str(table.dims) + " (nn: a matrix)");
    const NodeRef ids = val(n, 1);
    auto [r, layer] = add_layer(n, Embedding<T>(Index(table.dims[0]), Index(table.dims[1])), ids);
    fill(n, *layer->parameters()[0].value, table, "the data");
    set(n, r);
  }

  const ModelProto& m_;
  std::string file_;
  int opset_ = 0, node_index_ = 0;
  Graph<T> g_;
  std::map<std::string, Const> consts_;
  std::map<std::string, NodeRef> vals_;
  std::map<std::string, int> readers_;
  std::set<int> skip_;
  std::set<std::string> used_names_;
};

}  // namespace detail

// The model in `bytes` (an ONNX ModelProto); `name` names it in errors.
template <class T>
Graph<T> load_from_bytes(const std::vector<unsigned char>& bytes, const std::string& name) {
  const auto m = detail::parse<::onnx::ModelProto>(bytes, name, "an ONNX model");
  if (!m.has_graph()) throw io::FormatError(name + ": an ONNX model without a graph");
  if (m.graph().output_size() == 0) throw io::FormatError(name + ": the graph has no outputs");
  try {
    return detail::Importer<T>(m, name).run();
  } catch (const std::invalid_argument& e) {  // the graph's structure (names, unreachable inputs)
    throw io::FormatError(name + ": " + e.what());
  } catch (const std::length_error& e) {  // shapes whose sizes overflow
    throw io::FormatError(name + ": " + e.what());
  }
}
template <class T>
Graph<T> load(const std::string& path) {
  return load_from_bytes<T>(io::read_file(path), path);
}

}  // namespace nn::onnx
