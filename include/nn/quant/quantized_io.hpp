// nn/quant/quantized_io.hpp — saving and loading an int8 QuantizedModel.
//
//   nn::quant::save("model.int8.nn", qm);         // int8 or bf16
//   nn::quant::QuantizedModel qm = nn::quant::load("model.int8.nn");
//
// The file is nn's model envelope (nn/io/serialize.hpp: magic, version,
// length, CRC-32, atomic write) at format version 3, with the quantized
// program as payload: int8 weights and per-channel weight scales (or bf16
// weights), biases (batch norms already folded in), every scale and zero
// point, the geometry of each step, and the float layers' configs and
// tensors. docs/serialization.md has
// the byte layout. Loading checks every field and every size against the
// bytes present before it allocates, rebuilds the packed kernels' weights,
// and checks that the steps chain (each step's input is the previous
// step's output); every problem is an nn::io::FormatError naming the file.
#pragma once
#include <string>
#include <vector>

#include "nn/io/serialize.hpp"
#include "nn/quant/quantized_model.hpp"

namespace nn::quant {

constexpr std::uint32_t kPrecisionInt8 = 1, kPrecisionBF16 = 2;

// The members save/load read and write.
struct Access {
  static Shape& in(QuantizedModel& m) { return m.in_; }
  static Shape& out(QuantizedModel& m) { return m.out_; }
  static std::vector<QuantizedModel::Step>& steps(QuantizedModel& m) { return m.steps_; }
  static Precision& precision(QuantizedModel& m) { return m.precision_; }
};

namespace detail {
inline void write_shape(io::Writer& w, const Shape& s) {
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(s.rank()));
  for (int i = 0; i < s.rank(); ++i) w.pod<std::uint64_t>(static_cast<std::uint64_t>(s[i]));
}
inline Shape read_shape(io::Reader& r, const char* what) {
  const auto rank = r.pod<std::uint32_t>(what);
  if (rank > 5) r.fail(std::string(what) + " has rank " + std::to_string(rank) + " (> 5)");
  Shape s;
  std::uint64_t total = 1;
  for (std::uint32_t i = 0; i < rank; ++i) {
    const auto d = r.pod<std::uint64_t>(what);
    if (d < 1 || d > (std::uint64_t(1) << 31) || total > (std::uint64_t(1) << 40) / d)
      r.fail(std::string(what) + " has an implausible dimension " + std::to_string(d));
    total *= d;
    s.push_back(static_cast<Index>(d));
  }
  return s;
}
inline void write_q(io::Writer& w, const QParams& q) {
  w.pod<float>(q.scale);
  w.pod<std::int32_t>(q.zero_point);
}
inline QParams read_q(io::Reader& r, const std::string& what) {
  QParams q;
  q.scale = r.pod<float>("a quantization scale");
  q.zero_point = r.pod<std::int32_t>("a zero point");
  if (!(q.scale > 0 && std::isfinite(q.scale)) || q.zero_point < 0 || q.zero_point > 255)
    r.fail(what + ": invalid quantization parameters (scale " + std::to_string(q.scale) + ", zero point " +
           std::to_string(q.zero_point) + ")");
  return q;
}
template <class V>
void write_vec(io::Writer& w, const std::vector<V>& v) {
  w.pod<std::uint64_t>(v.size());
  for (const V& e : v) w.pod<V>(e);
}
// A stored vector that must hold exactly n values; its bytes are shown to
// exist before the vector is allocated.
template <class V>
std::vector<V> read_vec(io::Reader& r, std::uint64_t n, const std::string& what) {
  const auto stored = r.pod<std::uint64_t>("a vector length");
  if (stored != n) r.fail(what + " holds " + std::to_string(stored) + " values, the step needs " + std::to_string(n));
  if (r.left() / sizeof(V) < n) r.fail("truncated: " + what + " needs " + std::to_string(n * sizeof(V)) + " bytes");
  std::vector<V> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = r.pod<V>(what.c_str());
  return v;
}
inline std::uint32_t read_size(io::Reader& r, const char* what, std::uint32_t lo, std::uint32_t hi) {
  const auto v = r.pod<std::uint32_t>(what);
  if (v < lo || v > hi)
    r.fail(std::string(what) + " = " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]");
  return v;
}
}  // namespace detail

inline std::vector<unsigned char> save_to_bytes(QuantizedModel& qm) {
  using Step = QuantizedModel::Step;
  if (qm.steps().empty()) throw std::logic_error("nn::quant::save: the model is empty");
  io::Writer w;
  const bool int8 = qm.precision() == Precision::Int8;
  w.pod<std::uint32_t>(int8 ? kPrecisionInt8 : kPrecisionBF16);
  detail::write_shape(w, qm.input_shape());
  detail::write_shape(w, qm.output_shape());
  auto& steps = Access::steps(qm);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(steps.size()));
  for (Step& s : steps) {
    w.pod<std::uint8_t>(static_cast<std::uint8_t>(s.kind));
    w.str(s.layers);
    detail::write_shape(w, s.in_shape);
    detail::write_shape(w, s.out_shape);
    detail::write_q(w, s.in_q);
    detail::write_q(w, s.out_q);
    w.pod<std::uint8_t>(s.float_out ? 1 : 0);
    w.pod<std::uint8_t>(s.relu ? 1 : 0);
    if (s.kind == Step::Conv) {
      const auto& g = s.geom;
      for (Index v : {g.C, g.H, g.W, g.OC, g.KH, g.KW, g.SH, g.SW, g.PT, g.PB, g.PL, g.PR, g.DH, g.DW})
        w.pod<std::uint32_t>(static_cast<std::uint32_t>(v));
      w.pod<std::uint8_t>(s.pooled ? 1 : 0);
      for (Index v : {s.pool.KH, s.pool.KW, s.pool.SH, s.pool.SW, s.pool.PH, s.pool.PW})
        w.pod<std::uint32_t>(static_cast<std::uint32_t>(s.pooled ? v : 0));
    } else if (s.kind == Step::Dense) {
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(int8 ? s.dense_w.O : s.bf_dense_w.O));
    }
    if (s.kind == Step::Conv || s.kind == Step::Dense) {
      if (int8) {
        detail::write_vec(w, s.weight);
        detail::write_vec(w, s.weight_scale);
      } else {
        detail::write_vec(w, s.weight16);
      }
      detail::write_vec(w, s.bias);
    }
    if (s.kind == Step::Float) {
      io::write_config(w, s.layer->config());
      auto params = s.layer->parameters();
      auto bufs = s.layer->buffers();
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(params.size() + bufs.size()));
      for (auto& p : params) w.tensor(p.name, *p.value);
      for (auto& b : bufs) w.tensor(b.first, *b.second);
    }
  }
  return std::move(w.bytes());
}

inline void save(const std::string& path, QuantizedModel& qm) {
  std::vector<unsigned char> payload = save_to_bytes(qm);
  io::write_envelope(path, payload, io::kQuantizedVersion);
}

inline QuantizedModel load_from_bytes(const std::vector<unsigned char>& file, const std::string& name) {
  using Step = QuantizedModel::Step;
  std::uint32_t version = 0;
  io::Reader r = io::open_payload(file, name, &version);
  if (version != io::kQuantizedVersion)
    r.fail("holds a float model (format version " + std::to_string(version) +
           "), not a quantized one; load it with nn::load_model or nn::load_graph");
  const auto precision = r.pod<std::uint32_t>("the precision");
  if (precision != kPrecisionInt8 && precision != kPrecisionBF16)
    r.fail("unknown precision code " + std::to_string(precision));
  const bool int8 = precision == kPrecisionInt8;
  QuantizedModel qm;
  Access::precision(qm) = int8 ? Precision::Int8 : Precision::BF16;
  Access::in(qm) = detail::read_shape(r, "the input shape");
  Access::out(qm) = detail::read_shape(r, "the output shape");
  const auto n = r.pod<std::uint32_t>("the step count");
  if (n < 1 || n > 100000) r.fail("implausible step count " + std::to_string(n));
  auto& steps = Access::steps(qm);
  Shape cur = qm.input_shape();
  bool u8 = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::string where = "step " + std::to_string(i);
    Step s;
    const auto kind = r.pod<std::uint8_t>("a step kind");
    if (kind > Step::Float) r.fail(where + ": unknown step kind " + std::to_string(kind));
    s.kind = static_cast<Step::Kind>(kind);
    s.layers = r.str("a step's layer list");
    s.in_shape = detail::read_shape(r, "a step's input shape");
    s.out_shape = detail::read_shape(r, "a step's output shape");
    s.in_q = detail::read_q(r, where);
    s.out_q = detail::read_q(r, where);
    s.float_out = r.pod<std::uint8_t>("a flag") != 0;
    s.relu = r.pod<std::uint8_t>("a flag") != 0;
    if (s.in_shape != cur)
      r.fail(where + " takes " + s.in_shape.str() + " but the previous step gives " + cur.str());
    const bool takes_u8 = s.kind == Step::Conv || s.kind == Step::Dense || s.kind == Step::Dequantize;
    if (takes_u8 != u8) r.fail(where + ": takes " + (takes_u8 ? "int8" : "float") + " input after a step giving " + (u8 ? "int8" : "float"));
    try {
      if (s.kind == Step::Quantize || s.kind == Step::Dequantize) {
        if (s.out_shape != s.in_shape) r.fail(where + ": a conversion changes the shape");
        qm.row_bytes(s.in_shape);
        u8 = s.kind == Step::Quantize;
      } else if (s.kind == Step::Conv) {
        kernels::Conv2DGeom& g = s.geom;
        Index* f[] = {&g.C, &g.H, &g.W, &g.OC, &g.KH, &g.KW, &g.SH, &g.SW, &g.PT, &g.PB, &g.PL, &g.PR, &g.DH, &g.DW};
        for (Index* v : f) *v = detail::read_size(r, "a convolution size", 0, 1 << 20);
        s.pooled = r.pod<std::uint8_t>("a flag") != 0;
        Index* pf[] = {&s.pool.KH, &s.pool.KW, &s.pool.SH, &s.pool.SW, &s.pool.PH, &s.pool.PW};
        for (Index* v : pf) *v = detail::read_size(r, "a pool size", 0, 1 << 20);
        if (s.in_shape != Shape{g.C, g.H, g.W}) r.fail(where + ": the convolution's input does not match the step's");
        if (g.OC < 1 || g.C < 1 || g.C * g.KH * g.KW > (Index(1) << 24)) r.fail(where + ": implausible convolution sizes");
        g.infer_output();
        Shape o{g.OC, g.OH, g.OW};
        if (s.pooled) {
          s.pool.C = g.OC, s.pool.H = g.OH, s.pool.W = g.OW;
          s.pool.infer_output();
          o = Shape{g.OC, s.pool.OH, s.pool.OW};
        }
        if (o != s.out_shape) r.fail(where + ": the convolution gives " + o.str() + ", the step says " + s.out_shape.str());
        const Index K = g.C * g.KH * g.KW;
        if (int8) {
          s.weight = detail::read_vec<std::int8_t>(r, std::uint64_t(g.OC * K), where + "'s weights");
          s.layout = q8::conv_layout(g);
          s.conv_w = q8::pack_conv_weights(s.weight.data(), s.layout);
        } else {
          s.weight16 = detail::read_vec<bf::bf16_t>(r, std::uint64_t(g.OC * K), where + "'s weights");
          s.layout = bf::conv_layout(g);
          s.bf_conv_w = bf::pack_conv_weights(s.weight16.data(), s.layout);
        }
      } else if (s.kind == Step::Dense) {
        const Index O = detail::read_size(r, "a dense layer's units", 1, 1 << 24);
        if (s.out_shape != Shape{O}) r.fail(where + ": the dense layer gives (" + std::to_string(O) + "), the step says " + s.out_shape.str());
        const Index bytes = qm.row_bytes(s.in_shape);
        if (O * bytes > (Index(1) << 34)) r.fail(where + ": implausible dense layer size");
        if (int8) {
          s.weight = detail::read_vec<std::int8_t>(r, std::uint64_t(O * bytes), where + "'s weights");
          s.dense_w = q8::pack_dense_weights(s.weight.data(), O, bytes / 4);
        } else {
          s.weight16 = detail::read_vec<bf::bf16_t>(r, std::uint64_t(O * bytes / 2), where + "'s weights");
          s.bf_dense_w = bf::pack_dense_weights(s.weight16.data(), O, bytes / 4);
        }
      }
    } catch (const io::FormatError&) {
      throw;
    } catch (const std::exception& e) {
      r.fail(where + ": " + e.what());
    }
    if (s.kind == Step::Conv || s.kind == Step::Dense) {
      const Index O = s.kind == Step::Conv ? s.geom.OC : int8 ? s.dense_w.O : s.bf_dense_w.O;
      if (int8) s.weight_scale = detail::read_vec<float>(r, std::uint64_t(O), where + "'s weight scales");
      s.bias = detail::read_vec<float>(r, std::uint64_t(O), where + "'s biases");
      for (Index o = 0; o < O; ++o) {
        const float sc = int8 ? s.weight_scale[std::size_t(o)] : 1.0f, b = s.bias[std::size_t(o)];
        if (!(sc > 0 && std::isfinite(sc)) || !std::isfinite(b)) r.fail(where + ": a non-positive or non-finite scale or bias");
      }
      if (int8) {
        try {
          detail::set_requant(s);
        } catch (const std::invalid_argument& e) {
          r.fail(where + ": " + e.what());
        }
      }
      u8 = !s.float_out;
    }
    if (s.kind == Step::Float) {
      const LayerConfig c = io::read_config(r);
      const auto nt = r.pod<std::uint32_t>("a tensor count");
      if (nt > 64) r.fail(where + ": implausible tensor count " + std::to_string(nt));
      std::vector<io::StoredTensor> stored;
      std::size_t bytes = 0;
      for (std::uint32_t t = 0; t < nt; ++t) {
        stored.push_back(r.tensor_header<float>());
        bytes += stored.back().bytes;
      }
      {
        nn::detail::AllocationLimit limit(2 * bytes + 128 * (nt + 1) + (std::size_t(1) << 20));
        SkipInitialization no_init;
        try {
          s.layer = make_layer<float>(c);
          Rng rng(0);
          const Shape out = s.layer->build(s.in_shape, rng);
          if (out != s.out_shape) r.fail(where + ": " + c.type + " gives " + out.str() + ", the step says " + s.out_shape.str());
        } catch (const io::FormatError&) {
          throw;
        } catch (const std::exception& e) {
          r.fail(where + " (" + c.type + "): " + e.what());
        }
      }
      std::vector<std::pair<std::string, Tensor<float>*>> mine;
      for (auto& p : s.layer->parameters()) mine.push_back({p.name, p.value});
      for (auto& b : s.layer->buffers()) mine.push_back(b);
      if (mine.size() != stored.size())
        r.fail(where + " (" + c.type + "): " + std::to_string(stored.size()) + " stored tensors, the layer has " +
               std::to_string(mine.size()));
      for (std::size_t t = 0; t < mine.size(); ++t) {
        if (stored[t].name != mine[t].first || stored[t].shape != mine[t].second->shape())
          r.fail(where + " (" + c.type + "): stored tensor '" + stored[t].name + "' " + stored[t].shape.str() +
                 " does not match '" + mine[t].first + "' " + mine[t].second->shape().str());
        r.values(stored[t], *mine[t].second);
      }
      u8 = false;
    }
    cur = s.out_shape;
    steps.push_back(std::move(s));
  }
  if (u8) r.fail("the last step gives int8, not float");
  if (cur != qm.output_shape()) r.fail("the steps give " + cur.str() + ", the header says " + qm.output_shape().str());
  if (!r.done()) r.fail("corrupt: " + std::to_string(r.left()) + " unexpected bytes after the model");
  return qm;
}

inline QuantizedModel load(const std::string& path) { return load_from_bytes(io::read_file(path), path); }

}  // namespace nn::quant
