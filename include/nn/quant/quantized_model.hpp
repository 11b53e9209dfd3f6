// nn/quant/quantized_model.hpp — post-training int8 quantization of a
// trained Sequential, and the quantized model that runs inference.
//
//   nn::quant::QuantizedModel q = nn::quant::quantize(model, calibration_images);
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
// float simulation).
#pragma once
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/kernels/conv2d_int8.hpp"
#include "nn/kernels/dense_int8.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/model/sequential.hpp"
#include "nn/quant/calibration.hpp"

namespace nn::quant {

namespace q8 = kernels::q8;

struct QuantizeOptions {
  Calibration calibration;
  Index batch_size = 64;     // calibration batches
  Index max_samples = 1024;  // calibration samples used (the first ones)
};

class QuantizedModel;
QuantizedModel quantize(Sequential<float>& model, const Tensor<float>& calibration, const QuantizeOptions& o = {});

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
    std::vector<std::int8_t> weight;  // Conv (OC, C, KH, KW); Dense (O, Kq * 4) in the input's byte order
    std::vector<float> weight_scale, bias;
    q8::Requant rq;
    // Conv.
    kernels::Conv2DGeom geom;
    bool pooled = false;
    kernels::Pool2DGeom pool;
    q8::ConvLayout layout;
    q8::ConvWeights conv_w;
    // Dense.
    q8::DenseWeights dense_w;
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
          s.qout.resize(static_cast<std::size_t>(N * q8::row_bytes(s.in_shape)));
          q8::quantize(f->data(), s.in_shape, N, s.out_q, s.qout.data());
          q = s.qout.data(), f = nullptr;
          break;
        case Step::Dequantize:
          s.fout.resize(s.out_shape.with_batch(N));
          q8::dequantize(q, s.in_shape, N, s.in_q, s.fout.data());
          f = &s.fout, q = nullptr;
          break;
        case Step::Conv: {
          q8::ConvOut o{&s.rq, s.relu, s.pooled ? &s.pool : nullptr, s.float_out, s.out_q};
          q8::conv2d_int8(q, N, s.layout, s.conv_w, s.in_q.zero_point, o, output_buffer(s, N));
          advance(s, f, q);
          break;
        }
        case Step::Dense: {
          q8::DenseOut o{&s.rq, s.relu, s.float_out, s.out_q};
          q8::dense_int8(q, N, s.dense_w, o, output_buffer(s, N));
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
      b += static_cast<Index>(s.weight.size() + 4 * (s.weight_scale.size() + s.bias.size()));
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
    os << "QuantizedModel int8: input " << in_.str() << ", output " << out_.str() << ", " << weight_bytes()
       << " bytes of weights\n";
    int i = 0;
    for (const Step& s : steps_) {
      os << "  " << i++ << "  ";
      switch (s.kind) {
        case Step::Quantize: os << "quantize " << s.in_shape.str() << " -> u8 " << qstr(s.out_q); break;
        case Step::Dequantize: os << "dequantize u8 " << s.in_shape.str(); break;
        case Step::Conv:
        case Step::Dense:
          os << (s.kind == Step::Conv ? "int8 conv  " : "int8 dense ") << s.layers << ": u8 " << s.in_shape.str()
             << " -> " << (s.float_out ? "float " : "u8 ") << s.out_shape.str();
          if (!s.float_out) os << " " << qstr(s.out_q);
          break;
        case Step::Float: os << "float      " << s.layers << " -> " << s.out_shape.str(); break;
      }
      os << "\n";
    }
    return os.str();
  }

 private:
  friend QuantizedModel quantize(Sequential<float>&, const Tensor<float>&, const QuantizeOptions&);
  friend struct Access;

  static const char* kind_name(Step::Kind k) {
    switch (k) {
      case Step::Quantize: return "quantize";
      case Step::Dequantize: return "dequantize";
      case Step::Conv: return "int8 conv";
      case Step::Dense: return "int8 dense";
      default: return "float";
    }
  }
  static std::string qstr(const QParams& q) {
    std::ostringstream os;
    os << "(scale " << q.scale << ", zero " << q.zero_point << ")";
    return os.str();
  }
  static void* output_buffer(Step& s, Index N) {
    if (s.float_out) {
      s.fout.resize(s.out_shape.with_batch(N));
      return s.fout.data();
    }
    s.qout.resize(static_cast<std::size_t>(N * q8::row_bytes(s.out_shape)));
    return s.qout.data();
  }
  static void advance(Step& s, const Tensor<float>*& f, const std::uint8_t*& q) {
    if (s.float_out) f = &s.fout, q = nullptr;
    else q = s.qout.data(), f = nullptr;
  }

  Shape in_, out_;
  std::vector<Step> steps_;
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

// Quantizes a trained model for inference: calibration (M, input...) holds
// real samples (a few hundred); the first max_samples are used.
inline QuantizedModel quantize(Sequential<float>& model, const Tensor<float>& calibration, const QuantizeOptions& o) {
  using Step = QuantizedModel::Step;
  if (!model.built()) throw std::invalid_argument("quantize: the model is not built");
  const Shape in = model.input_shape();
  if (calibration.rank() < 1 || calibration.dim(0) < 1 || calibration.shape().tail() != in)
    throw std::invalid_argument("quantize: calibration data " + calibration.shape().str() +
                                " do not match the model's input " + batch_str(in));
  if (o.batch_size < 1 || o.max_samples < 1) throw std::invalid_argument("quantize: batch_size and max_samples must be >= 1");
  const std::vector<Layer<float>*> L = model.layers();
  std::vector<detail::Group> groups = detail::group_layers(L);
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const detail::Group& g) { return g.kind == Step::Quantize; }),
               groups.end());  // dropouts
  if (groups.empty()) throw std::invalid_argument("quantize: the model has no layers to run");

  // Calibration: each int8 group's input.
  std::vector<RangeObserver> obs(groups.size());
  const Index M = std::min(calibration.dim(0), o.max_samples), per = in.size();
  for (Index b0 = 0; b0 < M; b0 += o.batch_size) {
    const Index nb = std::min(o.batch_size, M - b0);
    Tensor<float> xb(in.with_batch(nb));
    std::copy(calibration.data() + b0 * per, calibration.data() + (b0 + nb) * per, xb.data());
    const Tensor<float>* x = &xb;
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      const auto& g = groups[gi];
      if (g.kind != Step::Float) obs[gi].observe(x->data(), x->size());
      for (std::size_t l = g.begin; l < g.end; ++l)
        if (!detail::is(L[l], "Dropout")) x = &L[l]->forward(*x, false);
    }
  }

  QuantizedModel qm;
  qm.in_ = in;
  qm.out_ = L.back()->output_shape();
  bool u8 = false;  // whether the running value is u8
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& g = groups[gi];
    std::string names;
    for (std::size_t l = g.begin; l < g.end; ++l)
      if (!detail::is(L[l], "Dropout")) names += (names.empty() ? "" : " | ") + L[l]->describe();
    const Shape gin = L[g.begin]->input_shape(), gout = L[g.end - 1]->output_shape();
    if (g.kind == Step::Float) {
      if (u8) throw std::logic_error("quantize: a float step after an int8 step without float output");
      Step s;
      s.kind = Step::Float, s.layers = names, s.in_shape = gin, s.out_shape = gout;
      s.layer = L[g.begin]->clone();
      qm.steps_.push_back(std::move(s));
      continue;
    }
    const QParams qin = obs[gi].params(o.calibration);
    if (!u8) {
      Step s;
      s.kind = Step::Quantize, s.in_shape = gin, s.out_shape = gin, s.out_q = qin;
      qm.steps_.push_back(std::move(s));
    }
    Step s;
    s.kind = g.kind, s.layers = names, s.in_shape = gin, s.out_shape = gout, s.in_q = qin, s.relu = g.relu;
    const bool next_int8 = gi + 1 < groups.size() && groups[gi + 1].kind != Step::Float;
    s.float_out = !next_int8;
    if (next_int8) s.out_q = obs[gi + 1].params(o.calibration);
    std::vector<float> wf;  // float weights as quantized: (OC, C*KH*KW) or (O, K)
    Index O = 0, K = 0;
    if (g.kind == Step::Conv) {
      auto& conv = dynamic_cast<Conv2D<float>&>(*L[std::size_t(g.conv)]);
      kernels::Conv2DGeom geom = conv.geometry();
      if (g.pad >= 0) {
        const LayerConfig c = L[std::size_t(g.pad)]->config();
        geom.H = gin[1], geom.W = gin[2];
        geom.PT += c.get_size("top"), geom.PB += c.get_size("bottom");
        geom.PL += c.get_size("left"), geom.PR += c.get_size("right");
      }
      geom.N = 0;
      geom.infer_output();
      O = geom.OC, K = geom.C * geom.KH * geom.KW;
      wf.assign(conv.weight().data(), conv.weight().data() + O * K);
      s.bias.assign(static_cast<std::size_t>(O), 0.0f);
      if (conv.bias().size() == O) std::copy(conv.bias().data(), conv.bias().data() + O, s.bias.begin());
      if (g.bn >= 0) {
        std::vector<float> scale, shift;
        dynamic_cast<BatchNorm<float>&>(*L[std::size_t(g.bn)]).eval_channel_affine(scale, shift);
        for (Index oc = 0; oc < O; ++oc) {
          for (Index k = 0; k < K; ++k) wf[std::size_t(oc * K + k)] *= scale[std::size_t(oc)];
          s.bias[std::size_t(oc)] = s.bias[std::size_t(oc)] * scale[std::size_t(oc)] + shift[std::size_t(oc)];
        }
      }
      if (g.pool >= 0) {
        s.pooled = true;
        s.pool = dynamic_cast<MaxPool2D<float>&>(*L[std::size_t(g.pool)]).geometry();
        s.pool.N = 0;
      }
      s.geom = geom;
      s.layout = q8::conv_layout(geom);
      s.weight.resize(wf.size());
      s.weight_scale.resize(static_cast<std::size_t>(O));
      q8::quantize_weights(wf.data(), O, K, s.weight.data(), s.weight_scale.data());
      s.conv_w = q8::pack_conv_weights(s.weight.data(), s.layout);
      s.rq.offset.resize(std::size_t(O));
      for (Index oc = 0; oc < O; ++oc) s.rq.offset[std::size_t(oc)] = qin.zero_point * s.conv_w.wsum[std::size_t(oc)];
    } else {
      auto& dense = dynamic_cast<Dense<float>&>(*L[std::size_t(g.dense)]);
      O = dense.units(), K = dense.weight().dim(1);
      const Index bytes = q8::row_bytes(gin), Kq = bytes / 4;
      wf.assign(dense.weight().data(), dense.weight().data() + O * K);
      std::vector<float> bn_scale, bn_shift;
      if (g.bn >= 0) {
        dynamic_cast<BatchNorm<float>&>(*L[std::size_t(g.bn)]).eval_channel_affine(bn_scale, bn_shift);
        for (Index oo = 0; oo < O; ++oo)
          for (Index k = 0; k < K; ++k) wf[std::size_t(oo * K + k)] *= bn_scale[std::size_t(oo)];
      }
      std::vector<std::int8_t> qw(static_cast<std::size_t>(O * K));
      s.weight_scale.resize(static_cast<std::size_t>(O));
      q8::quantize_weights(wf.data(), O, K, qw.data(), s.weight_scale.data());
      // Byte j of an input row holds float feature col(j) (or padding).
      s.weight.assign(static_cast<std::size_t>(O * bytes), 0);
      for (Index j = 0; j < bytes; ++j) {
        Index col = j;
        if (gin.rank() == 3) {
          const Index HW = gin[1] * gin[2], quad = j / (HW * 4), rem = j % (HW * 4), c = quad * 4 + rem % 4;
          col = c < gin[0] ? c * HW + rem / 4 : -1;
        } else if (j >= K) {
          col = -1;
        }
        if (col >= 0)
          for (Index oo = 0; oo < O; ++oo) s.weight[std::size_t(oo * bytes + j)] = qw[std::size_t(oo * K + col)];
      }
      s.dense_w = q8::pack_dense_weights(s.weight.data(), O, Kq);
      s.bias.assign(static_cast<std::size_t>(O), 0.0f);
      if (dense.bias().size() == O) std::copy(dense.bias().data(), dense.bias().data() + O, s.bias.begin());
      if (g.bn >= 0)  // folded: the scale went into the weights above
        for (Index oo = 0; oo < O; ++oo)
          s.bias[std::size_t(oo)] = s.bias[std::size_t(oo)] * bn_scale[std::size_t(oo)] + bn_shift[std::size_t(oo)];
      s.rq.offset.resize(std::size_t(O));
      for (Index oo = 0; oo < O; ++oo) s.rq.offset[std::size_t(oo)] = qin.zero_point * s.dense_w.wsum[std::size_t(oo)];
    }
    s.rq.mult.resize(std::size_t(O));
    for (Index oo = 0; oo < O; ++oo) {
      const float m = qin.scale * s.weight_scale[std::size_t(oo)];
      if (!(m > 0) || !std::isfinite(m))
        throw std::invalid_argument("quantize: " + names + ": the input scale " + std::to_string(qin.scale) +
                                    " times the weight scale of output " + std::to_string(oo) +
                                    " is outside float's positive range (weights or activations almost all 0?)");
      s.rq.mult[std::size_t(oo)] = m;
    }
    s.rq.bias = s.bias;
    u8 = next_int8;
    qm.steps_.push_back(std::move(s));
  }
  return qm;
}

}  // namespace nn::quant
