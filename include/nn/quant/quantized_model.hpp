// nn/quant/quantized_model.hpp — post-training int8 quantization (and bf16
// conversion) of a trained Sequential, and the model that runs inference.
//
//   nn::quant::QuantizedModel q = nn::quant::quantize(model, calibration_images);
//   nn::quant::QuantizedModel b = nn::quant::quantize_bf16(model);
//   const Tensor<float>& logits = q.forward(x);    // float in, float out
//   std::cout << q.summary();
//
// quantize() groups the model's layers into steps:
//   [ZeroPadding2D] Conv2D [BatchNorm] [ReLU] [MaxPool2D]   one int8 convolution
//   [Flatten] Dense [BatchNorm] [ReLU]                      one int8 dense layer
//   Dropout                                                 dropped (identity at inference)
//   any other layer                                         runs in float
// A batch norm is folded into the convolution's weights and bias; padding
// layers into its padding. Weights are quantized per output channel
// (symmetric int8); each quantized step's input gets one scale and zero point
// from the calibration data (nn/quant/calibration.hpp). Sums are int32; the
// epilogue adds the bias, applies ReLU and the max pool, and requantizes with
// the next step's input parameters, or writes float when the next step runs
// in float or is the model's output. Float and int8 steps meet through
// quantize/dequantize steps.
//
// Numerically the int8 model equals a float model in which every quantized
// step's input is rounded to its 8-bit grid and every weight to its int8
// value (tests/quant/quantized_model_test.cpp checks this "fake-quantized"
// float simulation). quantize_bf16() makes the same steps with bf16 weights
// and activations and float sums, without calibration.
#pragma once
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/kernels/conv2d_bf16.hpp"
#include "nn/kernels/conv2d_int8.hpp"
#include "nn/kernels/dense_bf16.hpp"
#include "nn/kernels/dense_int8.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/model/sequential.hpp"
#include "nn/quant/calibration.hpp"

namespace nn::quant {

namespace q8 = kernels::q8;
namespace bf = kernels::bf16;

// int8: u8 activations, s8 weights, int32 sums (calibrated). bf16: bf16
// activations and weights, float sums (no calibration).
enum class Precision { Int8, BF16 };
inline const char* precision_name(Precision p) { return p == Precision::Int8 ? "int8" : "bf16"; }

struct QuantizeOptions {
  Calibration calibration;
  Index batch_size = 64;     // calibration batches
  Index max_samples = 1024;  // calibration samples used (the first ones)
};

class QuantizedModel;
namespace detail {
QuantizedModel build(Sequential<float>& model, Precision precision, const Tensor<float>* calibration,
                     const QuantizeOptions& o);
}
QuantizedModel quantize(Sequential<float>& model, const Tensor<float>& calibration, const QuantizeOptions& o = {});
QuantizedModel quantize_bf16(Sequential<float>& model);

class QuantizedModel {
 public:
  // One step of the quantized program.
  struct Step {
    enum Kind { Quantize, Dequantize, Conv, Dense, Float };
    Kind kind = Float;
    std::string layers;  // the float layers this step replaces
    Shape in_shape, out_shape;
    QParams in_q, out_q;  // u8 input / output parameters (where int8)
    bool float_out = false;
    // Conv and Dense.
    bool relu = false;
    std::vector<std::int8_t> weight;  // int8: Conv (OC, C, KH, KW); Dense (O, row bytes) in the input's order
    std::vector<bf::bf16_t> weight16;  // bf16: the same shapes, bf16 values
    std::vector<float> weight_scale, bias;  // weight_scale: int8 only
    q8::Requant rq;
    // Conv.
    kernels::Conv2DGeom geom;
    bool pooled = false;
    kernels::Pool2DGeom pool;
    q8::ConvLayout layout;
    q8::ConvWeights conv_w;
    std::vector<std::uint32_t> bf_conv_w;  // bf16 packed
    // Dense.
    q8::DenseWeights dense_w;
    bf::DenseWeights bf_dense_w;
    // Float.
    std::unique_ptr<Layer<float>> layer;
    // Buffers.
    std::vector<std::uint8_t> qout;
    Tensor<float> fout;
    double seconds = 0;  // with profiling on
    Index calls = 0;
  };

  QuantizedModel() = default;
  QuantizedModel(QuantizedModel&&) noexcept = default;
  QuantizedModel& operator=(QuantizedModel&&) noexcept = default;

  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }
  const std::vector<Step>& steps() const { return steps_; }
  Precision precision() const { return precision_; }
  // Bytes per sample of a quantized activation of per-sample shape s.
  Index row_bytes(const Shape& s) const { return precision_ == Precision::Int8 ? q8::row_bytes(s) : bf::row_bytes(s); }

  // x (N, input_shape...) -> (N, output_shape...); the result is valid until
  // the next call.
  const Tensor<float>& forward(const Tensor<float>& x) {
    if (steps_.empty()) throw std::logic_error("QuantizedModel: empty (made by quantize() or load)");
    if (x.rank() < 1 || x.dim(0) < 1 || x.shape().tail() != in_)
      throw std::invalid_argument("QuantizedModel::forward: expected input " + batch_str(in_) + " but got " +
                                  x.shape().str());
    const Index N = x.dim(0);
    const Tensor<float>* f = &x;
    const std::uint8_t* q = nullptr;
    for (Step& s : steps_) {
      const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      switch (s.kind) {
        case Step::Quantize:
          s.qout.resize(static_cast<std::size_t>(N * row_bytes(s.in_shape)));
          if (int8()) q8::quantize(f->data(), s.in_shape, N, s.out_q, s.qout.data());
          else bf::convert(f->data(), s.in_shape, N, s.qout.data());
          q = s.qout.data(), f = nullptr;
          break;
        case Step::Dequantize:
          s.fout.resize(s.out_shape.with_batch(N));
          if (int8()) q8::dequantize(q, s.in_shape, N, s.in_q, s.fout.data());
          else bf::convert_back(q, s.in_shape, N, s.fout.data());
          f = &s.fout, q = nullptr;
          break;
        case Step::Conv: {
          void* y = output_buffer(s, N);
          if (int8()) {
            q8::ConvOut o{&s.rq, s.relu, s.pooled ? &s.pool : nullptr, s.float_out, s.out_q};
            q8::conv2d_int8(q, N, s.layout, s.conv_w, s.in_q.zero_point, o, y);
          } else {
            bf::ConvOut o{s.bias.data(), s.relu, s.pooled ? &s.pool : nullptr, s.float_out};
            bf::conv2d_bf16(q, N, s.layout, s.bf_conv_w, o, y);
          }
          advance(s, f, q);
          break;
        }
        case Step::Dense: {
          void* y = output_buffer(s, N);
          if (int8()) {
            q8::DenseOut o{&s.rq, s.relu, s.float_out, s.out_q};
            q8::dense_int8(q, N, s.dense_w, o, y);
          } else {
            bf::DenseOut o{s.bias.data(), s.relu, s.float_out};
            bf::dense_bf16(q, N, s.bf_dense_w, o, y);
          }
          advance(s, f, q);
          break;
        }
        case Step::Float:
          f = &s.layer->forward(*f, false);
          q = nullptr;
          break;
      }
      if (profiling_) {
        s.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++s.calls;
      }
    }
    if (!f) throw std::logic_error("QuantizedModel: the last step does not produce float");
    return *f;
  }

  // Outputs for inputs (M, input_shape...), in batches.
  Tensor<float> predict(const Tensor<float>& x, Index batch_size = 256) {
    if (x.rank() < 1 || x.dim(0) < 1 || batch_size < 1)
      throw std::invalid_argument("QuantizedModel::predict: empty input " + x.shape().str() + " or batch size < 1");
    const Index M = x.dim(0), per = x.size() / M;
    Tensor<float> out(out_.with_batch(M)), xb;
    for (Index b0 = 0; b0 < M; b0 += batch_size) {
      const Index nb = std::min(batch_size, M - b0);
      xb.resize(x.shape().tail().with_batch(nb));
      std::copy(x.data() + b0 * per, x.data() + (b0 + nb) * per, xb.data());
      const Tensor<float>& y = forward(xb);
      std::copy(y.data(), y.data() + y.size(), out.data() + b0 * out_.size());
    }
    return out;
  }

  // Bytes of weights (int8 values, scales, biases, float layers' parameters).
  Index weight_bytes() const {
    Index b = 0;
    for (const Step& s : steps_) {
      b += static_cast<Index>(s.weight.size() + 2 * s.weight16.size() + 4 * (s.weight_scale.size() + s.bias.size()));
      if (s.layer)
        for (auto& p : const_cast<Layer<float>&>(*s.layer).parameters()) b += 4 * p.value->size();
    }
    return b;
  }

  // Per-step wall time of forward() calls while profiling is on.
  void set_profiling(bool on) {
    profiling_ = on;
    for (Step& s : steps_) s.seconds = 0, s.calls = 0;
  }
  std::string profile() const {
    double total = 0;
    for (const Step& s : steps_) total += s.seconds;
    std::ostringstream os;
    os << "step  ms/call  share  what\n";
    int i = 0;
    for (const Step& s : steps_) {
      char line[96];
      std::snprintf(line, sizeof line, "%4d %8.3f %5.1f%%  ", i++, s.calls ? 1e3 * s.seconds / double(s.calls) : 0.0,
                    total > 0 ? 100.0 * s.seconds / total : 0.0);
      os << line << kind_name(s.kind) << (s.layers.empty() ? "" : " " + s.layers) << "\n";
    }
    return os.str();
  }

  std::string summary() const {
    std::ostringstream os;
    os << "QuantizedModel " << precision_name(precision_) << ": input " << in_.str() << ", output " << out_.str() << ", " << weight_bytes()
       << " bytes of weights\n";
    int i = 0;
    for (const Step& s : steps_) {
      os << "  " << i++ << "  ";
      switch (s.kind) {
        case Step::Quantize:
          os << (int8() ? "quantize " : "to bf16 ") << s.in_shape.str();
          if (int8()) os << " -> u8 " << qstr(s.out_q);
          break;
        case Step::Dequantize: os << (int8() ? "dequantize u8 " : "from bf16 ") << s.in_shape.str(); break;
        case Step::Conv:
        case Step::Dense: {
          const char* t = int8() ? "u8 " : "bf16 ";
          os << (int8() ? "int8" : "bf16") << (s.kind == Step::Conv ? " conv  " : " dense ") << s.layers << ": " << t
             << s.in_shape.str() << " -> " << (s.float_out ? "float " : t) << s.out_shape.str();
          if (!s.float_out && int8()) os << " " << qstr(s.out_q);
          break;
        }
        case Step::Float: os << "float      " << s.layers << " -> " << s.out_shape.str(); break;
      }
      os << "\n";
    }
    return os.str();
  }

 private:
  friend QuantizedModel detail::build(Sequential<float>&, Precision, const Tensor<float>*, const QuantizeOptions&);
  friend struct Access;

  const char* kind_name(Step::Kind k) const {
    switch (k) {
      case Step::Quantize: return int8() ? "quantize" : "to bf16";
      case Step::Dequantize: return int8() ? "dequantize" : "from bf16";
      case Step::Conv: return int8() ? "int8 conv" : "bf16 conv";
      case Step::Dense: return int8() ? "int8 dense" : "bf16 dense";
      default: return "float";
    }
  }
  static std::string qstr(const QParams& q) {
    std::ostringstream os;
    os << "(scale " << q.scale << ", zero " << q.zero_point << ")";
    return os.str();
  }
  bool int8() const { return precision_ == Precision::Int8; }
  void* output_buffer(Step& s, Index N) const {
    if (s.float_out) {
      s.fout.resize(s.out_shape.with_batch(N));
      return s.fout.data();
    }
    s.qout.resize(static_cast<std::size_t>(N * row_bytes(s.out_shape)));
    return s.qout.data();
  }
  static void advance(Step& s, const Tensor<float>*& f, const std::uint8_t*& q) {
    if (s.float_out) f = &s.fout, q = nullptr;
    else q = s.qout.data(), f = nullptr;
  }

  Shape in_, out_;
  std::vector<Step> steps_;
  Precision precision_ = Precision::Int8;
  bool profiling_ = false;
};

namespace detail {

// A group of consecutive layers that becomes one step.
struct Group {
  QuantizedModel::Step::Kind kind;
  std::size_t begin, end;  // layers [begin, end)
  Index conv = -1, bn = -1, pool = -1, pad = -1, dense = -1;
  bool relu = false;
};

inline bool is(Layer<float>* l, const char* type) { return l->type() == type; }

inline std::vector<Group> group_layers(const std::vector<Layer<float>*>& L) {
  std::vector<Group> gs;
  const std::size_t n = L.size();
  auto skip_dropout = [&](std::size_t j) {
    while (j < n && is(L[j], "Dropout")) ++j;
    return j;
  };
  for (std::size_t i = 0; i < n;) {
    Group g{QuantizedModel::Step::Float, i, i + 1};
    std::size_t j = i;
    if (is(L[j], "ZeroPadding2D") && j + 1 < n && is(L[j + 1], "Conv2D")) g.pad = Index(j++);
    if (is(L[j], "Conv2D")) {
      g.kind = QuantizedModel::Step::Conv, g.conv = Index(j++);
      if (j < n && is(L[j], "BatchNorm")) g.bn = Index(j++);
      j = skip_dropout(j);
      if (j < n && is(L[j], "ReLU")) g.relu = true, j = skip_dropout(j + 1);
      if (j < n && is(L[j], "MaxPool2D")) g.pool = Index(j++);
      g.end = j;
    } else if ((is(L[j], "Flatten") && j + 1 < n && is(L[j + 1], "Dense") && L[j]->input_shape().rank() == 3) ||
               (is(L[j], "Dense") && L[j]->input_shape().rank() == 1)) {
      if (is(L[j], "Flatten")) ++j;
      g.kind = QuantizedModel::Step::Dense, g.dense = Index(j++);
      if (j < n && is(L[j], "BatchNorm")) g.bn = Index(j++);
      j = skip_dropout(j);
      if (j < n && is(L[j], "ReLU")) g.relu = true, ++j;
      g.end = j;
    } else if (is(L[j], "Dropout")) {
      g.kind = QuantizedModel::Step::Quantize;  // marks "nothing to run"
    }
    gs.push_back(g);
    i = g.end;
  }
  return gs;
}

}  // namespace detail

namespace detail {
// Which float feature (column of a Dense weight) element e of an input row
// holds, for a layout of `lanes` elements per word (int8: 4, bf16: 2);
// -1 for padding.
inline Index feature_of(const Shape& in, Index e, Index lanes) {
  if (in.rank() == 3) {
    const Index HW = in[1] * in[2], word = e / lanes, c = word / HW * lanes + e % lanes;
    return c < in[0] ? c * HW + word % HW : -1;
  }
  return e < in[0] ? e : -1;
}

// A conv or dense group's float weights and bias with its batch norm folded
// in: w (O, K), K = C*KH*KW for a conv, the Dense input width otherwise.
struct FoldedGroup {
  std::vector<float> w, bias;
  Index O = 0, K = 0;
  kernels::Conv2DGeom geom;
  bool pooled = false;
  kernels::Pool2DGeom pool;
};

inline FoldedGroup fold_group(const std::vector<Layer<float>*>& L, const Group& g, const Shape& gin) {
  FoldedGroup f;
  const Tensor<float>* w = nullptr;
  const Tensor<float>* b = nullptr;
  if (g.kind == QuantizedModel::Step::Conv) {
    auto& conv = dynamic_cast<Conv2D<float>&>(*L[std::size_t(g.conv)]);
    f.geom = conv.geometry();
    if (g.pad >= 0) {
      const LayerConfig c = L[std::size_t(g.pad)]->config();
      f.geom.H = gin[1], f.geom.W = gin[2];
      f.geom.PT += c.get_size("top"), f.geom.PB += c.get_size("bottom");
      f.geom.PL += c.get_size("left"), f.geom.PR += c.get_size("right");
    }
    f.geom.N = 0;
    f.geom.infer_output();
    f.O = f.geom.OC, f.K = f.geom.C * f.geom.KH * f.geom.KW;
    w = &conv.weight(), b = &conv.bias();
    if (g.pool >= 0) {
      f.pooled = true;
      f.pool = dynamic_cast<MaxPool2D<float>&>(*L[std::size_t(g.pool)]).geometry();
      f.pool.N = 0;
    }
  } else {
    auto& dense = dynamic_cast<Dense<float>&>(*L[std::size_t(g.dense)]);
    f.O = dense.units(), f.K = dense.weight().dim(1);
    w = &dense.weight(), b = &dense.bias();
  }
  f.w.assign(w->data(), w->data() + f.O * f.K);
  f.bias.assign(static_cast<std::size_t>(f.O), 0.0f);
  if (b->size() == f.O) std::copy(b->data(), b->data() + f.O, f.bias.begin());
  if (g.bn >= 0) {
    std::vector<float> scale, shift;
    dynamic_cast<BatchNorm<float>&>(*L[std::size_t(g.bn)]).eval_channel_affine(scale, shift);
    for (Index o = 0; o < f.O; ++o) {
      for (Index k = 0; k < f.K; ++k) f.w[std::size_t(o * f.K + k)] *= scale[std::size_t(o)];
      f.bias[std::size_t(o)] = f.bias[std::size_t(o)] * scale[std::size_t(o)] + shift[std::size_t(o)];
    }
  }
  return f;
}
}  // namespace detail

namespace detail {
// An int8 conv or dense step's requantization constants (Requant), from its
// input parameters, weight scales, packed weights' sums and biases; throws
// std::invalid_argument when a product of scales leaves float's positive
// range. quantize() and the loader both make them here.
inline void set_requant(QuantizedModel::Step& s) {
  using Step = QuantizedModel::Step;
  const std::vector<std::int32_t>& wsum = s.kind == Step::Conv ? s.conv_w.wsum : s.dense_w.wsum;
  const std::size_t O = wsum.size();
  s.rq.mult.assign(O, 0.0f);
  s.rq.offset.assign(O, 0);
  for (std::size_t o = 0; o < O; ++o) {
    const float m = s.in_q.scale * s.weight_scale[o];
    if (!(m > 0) || !std::isfinite(m))
      throw std::invalid_argument("the input scale " + std::to_string(s.in_q.scale) + " times the weight scale of output " +
                                  std::to_string(o) + " is " + std::to_string(m) + ", outside float's positive range");
    s.rq.mult[o] = m;
    s.rq.offset[o] = s.in_q.zero_point * wsum[o];
  }
  s.rq.bias = s.bias;
}

// The steps for a Sequential at either precision; calibration (int8 only)
// holds real samples.
inline QuantizedModel build(Sequential<float>& model, Precision precision, const Tensor<float>* calibration,
                            const QuantizeOptions& o) {
  using Step = QuantizedModel::Step;
  const char* who = precision == Precision::Int8 ? "quantize" : "quantize_bf16";
  if (!model.built()) throw std::invalid_argument(std::string(who) + ": the model is not built");
  const Shape in = model.input_shape();
  const bool int8 = precision == Precision::Int8;
  if (int8) {
    if (calibration->rank() < 1 || calibration->dim(0) < 1 || calibration->shape().tail() != in)
      throw std::invalid_argument("quantize: calibration data " + calibration->shape().str() +
                                  " do not match the model's input " + batch_str(in));
    if (o.batch_size < 1 || o.max_samples < 1)
      throw std::invalid_argument("quantize: batch_size and max_samples must be >= 1");
  }
  const std::vector<Layer<float>*> L = model.layers();
  std::vector<detail::Group> groups = detail::group_layers(L);
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const detail::Group& g) { return g.kind == Step::Quantize; }),
               groups.end());  // dropouts
  if (groups.empty()) throw std::invalid_argument(std::string(who) + ": the model has no layers to run");

  // Calibration: each int8 group's input.
  std::vector<RangeObserver> obs(groups.size());
  if (int8) {
    const Index M = std::min(calibration->dim(0), o.max_samples), per = in.size();
    for (Index b0 = 0; b0 < M; b0 += o.batch_size) {
      const Index nb = std::min(o.batch_size, M - b0);
      Tensor<float> xb(in.with_batch(nb));
      std::copy(calibration->data() + b0 * per, calibration->data() + (b0 + nb) * per, xb.data());
      const Tensor<float>* x = &xb;
      for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        const auto& g = groups[gi];
        if (g.kind != Step::Float) obs[gi].observe(x->data(), x->size());
        for (std::size_t l = g.begin; l < g.end; ++l)
          if (!detail::is(L[l], "Dropout")) x = &L[l]->forward(*x, false);
      }
    }
  }

  QuantizedModel qm;
  qm.precision_ = precision;
  qm.in_ = in;
  qm.out_ = L.back()->output_shape();
  bool low = false;  // whether the running value is int8/bf16
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    std::string names;
    for (std::size_t l = g.begin; l < g.end; ++l)
      if (!detail::is(L[l], "Dropout")) names += (names.empty() ? "" : " | ") + L[l]->describe();
    const Shape gin = L[g.begin]->input_shape(), gout = L[g.end - 1]->output_shape();
    if (g.kind == Step::Float) {
      if (low) throw std::logic_error("quantize: a float step after a low-precision step without float output");
      Step s;
      s.kind = Step::Float, s.layers = names, s.in_shape = gin, s.out_shape = gout;
      s.layer = L[g.begin]->clone();
      qm.steps_.push_back(std::move(s));
      continue;
    }
    const QParams qin = int8 ? obs[gi].params(o.calibration) : QParams{};
    if (!low) {
      Step s;
      s.kind = Step::Quantize, s.in_shape = gin, s.out_shape = gin, s.out_q = qin;
      qm.steps_.push_back(std::move(s));
    }
    Step s;
    s.kind = g.kind, s.layers = names, s.in_shape = gin, s.out_shape = gout, s.in_q = qin, s.relu = g.relu;
    const bool next_low = gi + 1 < groups.size() && groups[gi + 1].kind != Step::Float;
    s.float_out = !next_low;
    if (next_low && int8) s.out_q = obs[gi + 1].params(o.calibration);
    detail::FoldedGroup f = detail::fold_group(L, g, gin);
    const Index O = f.O, K = f.K;
    s.bias = f.bias;
    s.geom = f.geom, s.pooled = f.pooled, s.pool = f.pool;
    // Weights in the order the kernels read: a conv's (O, C, KH, KW) as it is,
    // a dense layer's columns permuted into the input's element order.
    const Index lanes = int8 ? 4 : 2, row = g.kind == Step::Conv ? K : qm.row_bytes(gin) / (4 / lanes);
    std::vector<Index> col(static_cast<std::size_t>(row));
    for (Index e = 0; e < row; ++e) col[std::size_t(e)] = g.kind == Step::Conv ? e : detail::feature_of(gin, e, lanes);
    if (int8) {
      std::vector<std::int8_t> qw(static_cast<std::size_t>(O * K));
      s.weight_scale.resize(static_cast<std::size_t>(O));
      q8::quantize_weights(f.w.data(), O, K, qw.data(), s.weight_scale.data());
      s.weight.assign(static_cast<std::size_t>(O * row), 0);
      for (Index oo = 0; oo < O; ++oo)
        for (Index e = 0; e < row; ++e)
          if (col[std::size_t(e)] >= 0) s.weight[std::size_t(oo * row + e)] = qw[std::size_t(oo * K + col[std::size_t(e)])];
      if (g.kind == Step::Conv) {
        s.layout = q8::conv_layout(s.geom);
        s.conv_w = q8::pack_conv_weights(s.weight.data(), s.layout);
      } else {
        s.dense_w = q8::pack_dense_weights(s.weight.data(), O, row / 4);
      }
      try {
        set_requant(s);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("quantize: " + names + ": " + e.what() + " (weights or activations almost all 0?)");
      }
    } else {
      s.weight16.assign(static_cast<std::size_t>(O * row), 0);
      for (Index oo = 0; oo < O; ++oo)
        for (Index e = 0; e < row; ++e)
          if (col[std::size_t(e)] >= 0)
            s.weight16[std::size_t(oo * row + e)] = bf::from_float(f.w[std::size_t(oo * K + col[std::size_t(e)])]);
      if (g.kind == Step::Conv) {
        s.layout = bf::conv_layout(s.geom);
        s.bf_conv_w = bf::pack_conv_weights(s.weight16.data(), s.layout);
      } else {
        s.bf_dense_w = bf::pack_dense_weights(s.weight16.data(), O, row / 2);
      }
    }
    low = next_low;
    qm.steps_.push_back(std::move(s));
  }
  return qm;
}
}  // namespace detail

// Quantizes a trained model for int8 inference: calibration (M, input...)
// holds real samples (a few hundred); the first max_samples are used.
inline QuantizedModel quantize(Sequential<float>& model, const Tensor<float>& calibration, const QuantizeOptions& o) {
  return detail::build(model, Precision::Int8, &calibration, o);
}

// The model for bf16 inference: weights rounded to bf16 (batch norms folded
// in first), activations converted at the same boundaries as int8's; no
// calibration.
inline QuantizedModel quantize_bf16(Sequential<float>& model) {
  return detail::build(model, Precision::BF16, nullptr, {});
}

}  // namespace nn::quant
