// nn/io/onnx/export.hpp — nn models as ONNX: nn::onnx::to_model, save,
// and check (the ONNX checker with strict shape inference). Opset 13, a
// dynamic batch dimension "N" on every input and output, the nn input and
// output names, the parameters as initializers.
#pragma once
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "nn/io/atomic_file.hpp"
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
#include "nn/model/sequential.hpp"

namespace nn::onnx {

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

// The ONNX model of `g` (opset 13). Layers map to:
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

// The ONNX checker, then shape inference in strict mode with type checks
// (what Python's onnx.checker.check_model(model, full_check=True) runs).
// Throws the checker's exception (onnx::checker::ValidationError, a
// std::runtime_error) or shape inference's on the first fault.
inline void check(::onnx::ModelProto m) {
  ::onnx::checker::check_model(m);
  ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(),
                                       ::onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
}

}  // namespace nn::onnx
