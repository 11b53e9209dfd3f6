// nn/io/onnx.hpp — ONNX import and export (optional: link nn::onnx, which
// exists when CMake finds ONNX and protobuf; nn::nn never needs it).
//
//   nn::Graph<float> g = nn::onnx::load<float>("model.onnx");   // eval mode
//   const auto& y = g.forward({&x});                              // x (N, C, H, W)
//   nn::Tensor<float> t = nn::onnx::read_tensor<float>("input_0.pb");
//   nn::onnx::save("model.onnx", model);                         // Graph or Sequential
//
// Export writes opset 13 with a dynamic batch dimension ("N") on every input
// and output, the nn input and output names, and the parameters as
// initializers; see save() below for the operators each layer becomes.
//
// The ONNX graph becomes a Graph: the first dimension of every graph input
// and output is the batch (any size; the file's value, fixed or symbolic, is
// ignored), the others must be fixed. Initializers become weights.
// Operators (default domain, opsets 6 to 17) and what is supported of them:
//   Conv (2-D, group 1, any strides, pads, dilations, auto_pad),
//   ConvTranspose (2-D, group 1, symmetric pads, output_padding, dilations),
//   Gemm (transA 0, alpha, beta), MatMul by an initializer (+ Add of a bias
//   initializer: one Dense), Relu, LeakyRelu, Elu, Selu (default constants),
//   Sigmoid, Tanh, Softmax and LogSoftmax (over the last axis), MaxPool and
//   AveragePool (2-D, symmetric pads, ceil_mode 0; AveragePool with pads
//   counts them: count_include_pad 1), GlobalAveragePool, BatchNormalization
//   (inference), Dropout (inference), Flatten (axis 1), Reshape to a constant
//   shape that keeps the batch first (0 or -1), Pad (constant zeros, H and W),
//   Concat (not along the batch), Add and Mul of two tensors of one shape,
//   Resize / Upsample (integer scales on H and W: nearest as PyTorch exports
//   it, bilinear with half-pixel centres), Gather from an initializer along
//   axis 0 (an Embedding), Cast (to float, or to integers for Gather's
//   indices), Identity, Constant.
// Anything else throws nn::onnx::Unsupported naming the node, the operator
// and what is missing, before any computation: a model either loads with
// the meaning it has in ONNX or does not load. A file that is not a valid
// ONNX model throws nn::io::FormatError naming the file and the fault; sizes
// in the file are checked against the bytes actually present before
// anything is allocated from them.
#pragma once
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/atomic_file.hpp"
#include "nn/io/serialize.hpp"
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
#include "nn/model/sequential.hpp"

namespace nn::onnx {

// An operator, attribute, opset or data type nn does not support.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kMinOpset = 6, kMaxOpset = 17;

namespace detail {

using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

// An initializer or Constant: its dims and values (as double: every type
// nn reads fits, and it is converted once, to the layer's T).
struct Const {
  std::vector<std::int64_t> dims;
  std::vector<double> v;
  std::int64_t size() const { return static_cast<std::int64_t>(v.size()); }
};

inline std::size_t elem_size(int type) {
  switch (type) {
    case TensorProto::FLOAT: case TensorProto::INT32: return 4;
    case TensorProto::DOUBLE: case TensorProto::INT64: return 8;
    case TensorProto::UINT8: case TensorProto::INT8: case TensorProto::BOOL: return 1;
    default: return 0;
  }
}
inline std::string type_name(int type) {
  return TensorProto::DataType_IsValid(type) ? TensorProto::DataType_Name(static_cast<TensorProto::DataType>(type))
                                             : "type " + std::to_string(type);
}

// The values of a TensorProto. `where` names it in errors (file, tensor).
inline Const to_const(const TensorProto& t, const std::string& where) {
  Const c;
  const int type = t.data_type();
  const std::size_t es = elem_size(type);
  if (es == 0) throw Unsupported(where + ": data type " + type_name(type) + " is not supported");
  std::int64_t n = 1;
  for (auto d : t.dims()) {
    if (d < 0) throw io::FormatError(where + ": negative dimension " + std::to_string(d));
    if (d > 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw io::FormatError(where + ": dimensions overflow");
    n *= d;
    c.dims.push_back(d);
  }
  if (t.data_location() == TensorProto::EXTERNAL)
    throw Unsupported(where + ": tensor data in an external file is not supported");
  auto count_error = [&](std::int64_t have) {
    return io::FormatError(where + ": " + std::to_string(have) + " values for dims of " + std::to_string(n) +
                           " elements");
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    // the bytes present decide: n elements need n * es bytes
    if (static_cast<std::uint64_t>(raw.size()) != static_cast<std::uint64_t>(n) * es)
      throw count_error(static_cast<std::int64_t>(raw.size() / es));
    c.v.resize(static_cast<std::size_t>(n));
    const char* p = raw.data();
    for (std::int64_t i = 0; i < n; ++i, p += es) {
      switch (type) {  // little-endian, as ONNX stores raw data
        case TensorProto::FLOAT: { float f; std::memcpy(&f, p, 4); c.v[std::size_t(i)] = f; break; }
        case TensorProto::DOUBLE: { double f; std::memcpy(&f, p, 8); c.v[std::size_t(i)] = f; break; }
        case TensorProto::INT32: { std::int32_t f; std::memcpy(&f, p, 4); c.v[std::size_t(i)] = f; break; }
        case TensorProto::INT64: { std::int64_t f; std::memcpy(&f, p, 8); c.v[std::size_t(i)] = double(f); break; }
        case TensorProto::UINT8: case TensorProto::BOOL: c.v[std::size_t(i)] = static_cast<unsigned char>(*p); break;
        case TensorProto::INT8: c.v[std::size_t(i)] = static_cast<signed char>(*p); break;
        default: break;
      }
    }
    return c;
  }
  auto take = [&](const auto& field) {
    if (static_cast<std::int64_t>(field.size()) != n) throw count_error(static_cast<std::int64_t>(field.size()));
    c.v.assign(field.begin(), field.end());
  };
  switch (type) {
    case TensorProto::FLOAT: take(t.float_data()); break;
    case TensorProto::DOUBLE: take(t.double_data()); break;
    case TensorProto::INT64: take(t.int64_data()); break;
    default: take(t.int32_data()); break;  // INT32, INT8, UINT8, BOOL are stored in int32_data
  }
  return c;
}

inline std::vector<unsigned char> read_bytes(const std::string& path) { return io::read_file(path); }

template <class Msg>
Msg parse(const std::vector<unsigned char>& bytes, const std::string& name, const char* what) {
  Msg m;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw io::FormatError(name + ": too large for a protobuf message (2 GiB)");
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw io::FormatError(name + ": not " + what + " (the protobuf does not parse)");
  return m;
}

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

// A tensor file (an ONNX TensorProto, as the ONNX test data's input_0.pb):
// float, double and integer types, converted to T.
template <class T>
Tensor<T> read_tensor(const std::string& path) {
  const auto t = detail::parse<::onnx::TensorProto>(io::read_file(path), path, "an ONNX tensor");
  const auto c = detail::to_const(t, path);
  if (c.dims.size() > std::size_t(Shape::kMaxRank))
    throw Unsupported(path + ": rank " + std::to_string(c.dims.size()) + " (nn: at most " +
                      std::to_string(Shape::kMaxRank) + ")");
  Tensor<T> out(Shape::from_range(c.dims.begin(), c.dims.end()));
  for (Index i = 0; i < out.size(); ++i) out[i] = static_cast<T>(c.v[std::size_t(i)]);
  return out;
}


namespace detail {

// Writes a model: one call per nn node, in order (inputs come first).
template <class T>
class Exporter {
 public:
  Exporter() {
    m_.set_ir_version(7);
    m_.set_producer_name("nn");
    auto* o = m_.add_opset_import();
    o->set_domain("");
    o->set_version(13);
    g_ = m_.mutable_graph();
    g_->set_name("nn");
  }
  static constexpr int elem() { return sizeof(T) == 8 ? TensorProto::DOUBLE : TensorProto::FLOAT; }

  void input(const std::string& name, const Shape& per_sample) { typed(g_->add_input(), name, per_sample); }
  void output(const std::string& name, const Shape& per_sample) { typed(g_->add_output(), name, per_sample); }
  // value `out` = layer(value `in`); `key` names the layer's initializers
  // (a shared layer's calls share them)
  void layer(Layer<T>& l, const std::string& key, const std::string& in, const std::string& out) {
    const std::string t = l.type();
    const LayerConfig c = l.config();
    auto params = l.parameters();
    auto pk = [&](std::size_t k) { return key + "." + params.at(k).name; };
    if (t == "Dense") {
      const Tensor<T>& w = *params[0].value;  // (units, in)
      const Index units = w.dim(0), in_f = w.dim(1);
      const bool bias = params.size() > 1;
      if (l.input_shape().rank() == 1) {
        weight(pk(0), w, {units, in_f});
        std::vector<std::string> ins{in, pk(0)};
        if (bias) weight(pk(1), *params[1].value, {units}), ins.push_back(pk(1));
        set_i(node("Gemm", ins, {out}), "transB", 1);
      } else {  // (N, ..., in) x (in, units): MatMul, then the bias
        if (!have(pk(0) + ".T")) {
          Tensor<T> wt({in_f, units});
          for (Index u = 0; u < units; ++u)
            for (Index i = 0; i < in_f; ++i) wt[i * units + u] = w[u * in_f + i];
          weight(pk(0) + ".T", wt, {in_f, units});
        }
        if (!bias) {
          node("MatMul", {in, pk(0) + ".T"}, {out});
        } else {
          const std::string mm = fresh(out + "_matmul");
          node("MatMul", {in, pk(0) + ".T"}, {mm});
          weight(pk(1), *params[1].value, {units});
          node("Add", {mm, pk(1)}, {out});
        }
      }
    } else if (t == "Conv2D") {
      const auto& geo = static_cast<Conv2D<T>&>(l).geometry();
      weight(pk(0), *params[0].value, {geo.OC, geo.C, geo.KH, geo.KW});
      std::vector<std::string> ins{in, pk(0)};
      if (params.size() > 1) weight(pk(1), *params[1].value, {geo.OC}), ins.push_back(pk(1));
      auto* n = node("Conv", ins, {out});
      set_ints(n, "kernel_shape", {geo.KH, geo.KW});
      set_ints(n, "strides", {geo.SH, geo.SW});
      set_ints(n, "pads", {geo.PT, geo.PL, geo.PB, geo.PR});
      set_ints(n, "dilations", {geo.DH, geo.DW});
    } else if (t == "Conv2DTranspose") {
      const Tensor<T>& w = *params[0].value;  // (C, filters, KH, KW)
      weight(pk(0), w, {w.dim(0), w.dim(1), w.dim(2), w.dim(3)});
      std::vector<std::string> ins{in, pk(0)};
      if (params.size() > 1) weight(pk(1), *params[1].value, {w.dim(1)}), ins.push_back(pk(1));
      auto* n = node("ConvTranspose", ins, {out});
      set_ints(n, "kernel_shape", {c.get_size("kernel_h"), c.get_size("kernel_w")});
      set_ints(n, "strides", {c.get_size("stride_h"), c.get_size("stride_w")});
      const Index ph = c.get_size("pad_h"), pw = c.get_size("pad_w");
      set_ints(n, "pads", {ph, pw, ph, pw});
      set_ints(n, "output_padding", {c.get_size("output_pad_h"), c.get_size("output_pad_w")});
      set_ints(n, "dilations", {c.get_size("dilation_h"), c.get_size("dilation_w")});
    } else if (t == "ReLU" || t == "Sigmoid" || t == "Tanh" || t == "SELU") {
      node(t == "ReLU" ? "Relu" : t == "SELU" ? "Selu" : t, {in}, {out});
    } else if (t == "LeakyReLU") {
      set_f(node("LeakyRelu", {in}, {out}), "alpha", c.get_real("slope"));
    } else if (t == "ELU") {
      set_f(node("Elu", {in}, {out}), "alpha", c.get_real("alpha"));
    } else if (t == "Softmax" || t == "LogSoftmax") {
      set_i(node(t, {in}, {out}), "axis", -1);
    } else if (t == "MaxPool2D" || t == "AvgPool2D") {
      auto* n = node(t == "MaxPool2D" ? "MaxPool" : "AveragePool", {in}, {out});
      set_ints(n, "kernel_shape", {c.get_size("kernel_h"), c.get_size("kernel_w")});
      set_ints(n, "strides", {c.get_size("stride_h"), c.get_size("stride_w")});
      const Index ph = c.get_size("pad_h"), pw = c.get_size("pad_w");
      set_ints(n, "pads", {ph, pw, ph, pw});
      if (t == "AvgPool2D") set_i(n, "count_include_pad", 1);
    } else if (t == "GlobalAvgPool2D") {
      const std::string p = fresh(out + "_pooled");
      node("GlobalAveragePool", {in}, {p});
      set_i(node("Flatten", {p}, {out}), "axis", 1);
    } else if (t == "BatchNorm") {
      const Index C = params[0].value->size();
      auto bufs = l.buffers();
      weight(pk(0), *params[0].value, {C});
      weight(pk(1), *params[1].value, {C});
      weight(key + "." + bufs[0].first, *bufs[0].second, {C});
      weight(key + "." + bufs[1].first, *bufs[1].second, {C});
      auto* n = node("BatchNormalization", {in, pk(0), pk(1), key + "." + bufs[0].first, key + "." + bufs[1].first}, {out});
      set_f(n, "epsilon", c.get_real("eps"));
      set_f(n, "momentum", 1.0 - c.get_real("momentum"));  // ONNX weighs the running value
    } else if (t == "Dropout") {
      node("Identity", {in}, {out});  // inference
    } else if (t == "Flatten") {
      set_i(node("Flatten", {in}, {out}), "axis", 1);
    } else if (t == "Reshape") {
      const Shape& o = l.output_shape();
      std::vector<std::int64_t> shape{0};  // 0: the batch, copied
      for (int i = 0; i < o.rank(); ++i) shape.push_back(o[i]);
      node("Reshape", {in, ints(fresh(key + ".shape"), shape)}, {out});
    } else if (t == "ZeroPadding2D") {
      node("Pad", {in, ints(fresh(key + ".pads"), {0, 0, c.get_int("top"), c.get_int("left"), 0, 0,
                                                   c.get_int("bottom"), c.get_int("right")})},
           {out});
    } else if (t == "Upsample2D") {
      const bool nearest = c.get_int("mode") == int(Upsample2D<T>::Mode::Nearest);
      const std::string sc = fresh(key + ".scales");
      auto* st = g_->add_initializer();
      st->set_name(sc);
      st->set_data_type(TensorProto::FLOAT);
      st->add_dims(4);
      for (double v : {1.0, 1.0, c.get_real("scale_h"), c.get_real("scale_w")}) st->add_float_data(float(v));
      auto* n = node("Resize", {in, "", sc}, {out});
      set_s(n, "mode", nearest ? "nearest" : "linear");
      set_s(n, "coordinate_transformation_mode", nearest ? "asymmetric" : "half_pixel");
      if (nearest) set_s(n, "nearest_mode", "floor");
    } else if (t == "Embedding") {
      const Tensor<T>& w = *params[0].value;
      weight(pk(0), w, {w.dim(0), w.dim(1)});
      const std::string ids = fresh(out + "_ids");
      set_i(node("Cast", {in}, {ids}), "to", TensorProto::INT64);
      node("Gather", {pk(0), ids}, {out});
    } else {
      throw Unsupported("nn::onnx::save: layer '" + key + "' " + l.describe() + " has no ONNX operator nn writes");
    }
  }
  void merge(Merge<T>& mg, const std::string& key, const std::vector<std::string>& ins, const std::string& out) {
    const std::string t = mg.type();
    if (t == "Add" || t == "Multiply") {
      const char* op = t == "Add" ? "Add" : "Mul";
      std::string acc = ins[0];
      for (std::size_t k = 1; k < ins.size(); ++k) {
        const std::string dst = k + 1 == ins.size() ? out : fresh(out + "_partial");
        node(op, {acc, ins[k]}, {dst});
        acc = dst;
      }
    } else if (t == "Concat") {
      const int axis = int(mg.config().get_int("axis", -8, 8));
      set_i(node("Concat", ins, {out}), "axis", axis >= 0 ? axis + 1 : axis);  // nn counts per sample
    } else {
      throw Unsupported("nn::onnx::save: merge '" + key + "' " + mg.describe() + " has no ONNX operator nn writes");
    }
  }
  void identity(const std::string& in, const std::string& out) { node("Identity", {in}, {out}); }
  ModelProto& model() { return m_; }
  std::string fresh(const std::string& base) {
    std::string n = base;
    for (int k = 1; names_.count(n); ++k) n = base + "_" + std::to_string(k);
    names_.insert(n);
    return n;
  }
  void reserve(const std::string& name) { names_.insert(name); }

 private:
  void typed(::onnx::ValueInfoProto* v, const std::string& name, const Shape& per_sample) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem());
    tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (int i = 0; i < per_sample.rank(); ++i) tt->mutable_shape()->add_dim()->set_dim_value(per_sample[i]);
  }
  bool have(const std::string& name) const { return inits_.count(name) > 0; }
  void weight(const std::string& name, const Tensor<T>& t, std::vector<Index> dims) {
    if (!inits_.insert(name).second) return;  // a shared layer's second call
    auto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(elem());
    for (Index d : dims) p->add_dims(d);
    std::string raw(std::size_t(t.size()) * sizeof(T), '\0');  // little-endian, as ONNX stores it
    std::memcpy(&raw[0], t.data(), raw.size());
    p->set_raw_data(raw);
  }
  std::string ints(const std::string& name, const std::vector<std::int64_t>& v) {
    auto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(TensorProto::INT64);
    p->add_dims(std::int64_t(v.size()));
    for (auto x : v) p->add_int64_data(x);
    return name;
  }
  NodeProto* node(const std::string& op, const std::vector<std::string>& ins, const std::vector<std::string>& outs) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(fresh(outs[0] + "_" + op));
    for (const auto& i : ins) n->add_input(i);
    for (const auto& o : outs) n->add_output(o);
    return n;
  }
  static AttributeProto* attr(NodeProto* n, const std::string& k, AttributeProto::AttributeType type) {
    auto* a = n->add_attribute();
    a->set_name(k);
    a->set_type(type);
    return a;
  }
  static void set_i(NodeProto* n, const std::string& k, std::int64_t v) { attr(n, k, AttributeProto::INT)->set_i(v); }
  static void set_f(NodeProto* n, const std::string& k, double v) { attr(n, k, AttributeProto::FLOAT)->set_f(float(v)); }
  static void set_s(NodeProto* n, const std::string& k, const std::string& v) {
    attr(n, k, AttributeProto::STRING)->set_s(v);
  }
  static void set_ints(NodeProto* n, const std::string& k, std::initializer_list<Index> v) {
    auto* a = attr(n, k, AttributeProto::INTS);
    for (Index x : v) a->add_ints(x);
  }

  ModelProto m_;
  GraphProto* g_ = nullptr;
  std::set<std::string> names_, inits_;
};

}  // namespace detail

// The ONNX model of `g` (opset 13; see the top of the file). Layers map to:
// Dense -> Gemm (input (N, K)) or MatMul + Add, Conv2D -> Conv,
// Conv2DTranspose -> ConvTranspose, activations -> Relu, LeakyRelu, Elu,
// Selu, Sigmoid, Tanh, Softmax / LogSoftmax (last axis), MaxPool2D and
// AvgPool2D -> MaxPool and AveragePool (count_include_pad 1),
// GlobalAvgPool2D -> GlobalAveragePool + Flatten, BatchNorm ->
// BatchNormalization (running statistics), Dropout -> Identity, Flatten,
// Reshape, ZeroPadding2D -> Pad, Upsample2D -> Resize, Embedding -> Cast +
// Gather; merges Add, Multiply, Concat. Others (L2Normalize,
// ConceptSimilarity, Dot, CosineSimilarity) throw nn::onnx::Unsupported.
template <class T>
::onnx::ModelProto to_model(Graph<T>& g) {
  g.check();
  detail::Exporter<T> ex;
  const auto& nodes = g.nodes();
  std::map<int, std::vector<std::string>> out_names;
  for (std::size_t i = 0; i < g.num_outputs(); ++i) out_names[g.output_nodes()[i]].push_back(g.output_name(i));
  for (const auto& kv : out_names)
    for (const auto& n : kv.second) ex.reserve(n);
  for (const auto& n : nodes) ex.reserve(n.name);
  std::vector<std::string> value(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    auto it = out_names.find(int(i));
    // an output node's value takes the output's name (a second name: Identity)
    value[i] = it != out_names.end() && n.kind != Node<T>::Kind::Input ? it->second[0] : n.name;
    std::vector<std::string> ins;
    for (int k : n.inputs) ins.push_back(value[std::size_t(k)]);
    switch (n.kind) {
      case Node<T>::Kind::Input:
        ex.input(n.name, n.shape);
        break;
      case Node<T>::Kind::Layer: {
        const int li = g.node_layer(int(i));
        ex.layer(g.layer(std::size_t(li)), g.layer_name(std::size_t(li)), ins[0], value[i]);
        break;
      }
      case Node<T>::Kind::Merge:
        ex.merge(g.merge_of(int(i)), n.name, ins, value[i]);
        break;
    }
  }
  for (std::size_t o = 0; o < g.num_outputs(); ++o) {
    const int id = g.output_nodes()[o];
    const std::string& name = g.output_name(o);
    if (value[std::size_t(id)] != name) ex.identity(value[std::size_t(id)], name);
    ex.output(name, nodes[std::size_t(id)].shape);
  }
  return std::move(ex.model());
}
template <class T>
::onnx::ModelProto to_model(Sequential<T>& m) {
  if (!m.built()) throw std::logic_error("nn::onnx::to_model: the Sequential is not built (give it an input shape)");
  detail::Exporter<T> ex;
  ex.reserve("input");
  ex.reserve("output");
  ex.input("input", m.input_shape(0));
  std::string cur = "input";
  if (m.size() == 0) ex.identity(cur, "output");
  for (std::size_t i = 0; i < m.size(); ++i) {
    const std::string key = std::to_string(i) + "_" + m.layer(i).type();
    const std::string out = i + 1 == m.size() ? "output" : ex.fresh(key);
    ex.layer(m.layer(i), key, cur, out);
    cur = out;
  }
  ex.output("output", m.output_shape(0));
  return std::move(ex.model());
}

// Writes the model atomically. Throws nn::onnx::Unsupported for a layer
// without an ONNX operator (nothing is written then).
template <class M>
void save(const std::string& path, M& model) {
  const std::string bytes = to_model(model).SerializeAsString();
  io::write_file_atomic(path, bytes);
}

}  // namespace nn::onnx
