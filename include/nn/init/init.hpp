// nn/init/init.hpp — seeded weight initializers.
//
// fan_in / fan_out: Dense (out, in): fan_in = in, fan_out = out.
// Conv2D (OC, C, KH, KW): fan_in = C*KH*KW, fan_out = OC*KH*KW.
//
//   GlorotUniform  U(-a, a), a = sqrt(6 / (fan_in + fan_out))   (Keras' default)
//   GlorotNormal   N(0, sqrt(2 / (fan_in + fan_out)))
//   HeUniform      U(-a, a), a = sqrt(6 / fan_in)                (nn's default for weights)
//   HeNormal       N(0, sqrt(2 / fan_in))
//   LecunUniform   U(-a, a), a = sqrt(3 / fan_in)
//   LecunNormal    N(0, sqrt(1 / fan_in))                        (for SELU nets)
//   Normal(std)    N(0, std)                                     (Embedding's default, std 1)
//   Zeros, Constant(value)
// Normals are not truncated (as PyTorch's *_normal_, unlike Keras' truncated
// He/LeCun normal).
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>

#include "nn/tensor/tensor.hpp"

namespace nn {

struct Init {
  enum Kind { Zeros, Constant, Normal, GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal };
  Kind kind = HeUniform;
  double value = 0.0;  // Constant: the value; Normal: the standard deviation

  Init() = default;
  Init(Kind k, double v = 0.0) : kind(k), value(v) {}  // NOLINT: implicit from Kind on purpose
  static Init constant(double v) { return Init(Constant, v); }
  static Init normal(double stddev) { return Init(Normal, stddev); }

  const char* name() const {
    switch (kind) {
      case Zeros: return "zeros";
      case Constant: return "constant";
      case Normal: return "normal";
      case GlorotUniform: return "glorot_uniform";
      case GlorotNormal: return "glorot_normal";
      case HeUniform: return "he_uniform";
      case HeNormal: return "he_normal";
      case LecunUniform: return "lecun_uniform";
      case LecunNormal: return "lecun_normal";
    }
    return "?";
  }
};

// While a SkipInitialization object lives on this thread, initialize() does
// nothing: a model whose weights are about to be loaded from a file is built
// without drawing random numbers for them (nn/io/serialize.hpp).
class SkipInitialization {
 public:
  SkipInitialization() : prev_(active()) { active() = true; }
  ~SkipInitialization() { active() = prev_; }
  SkipInitialization(const SkipInitialization&) = delete;
  SkipInitialization& operator=(const SkipInitialization&) = delete;
  static bool& active() {
    thread_local bool on = false;
    return on;
  }

 private:
  bool prev_;
};

template <class T>
void initialize(Tensor<T>& w, const Init& init, Index fan_in, Index fan_out, Rng& rng) {
  if (SkipInitialization::active()) return;
  const double fi = static_cast<double>(std::max<Index>(fan_in, 1));
  const double fo = static_cast<double>(std::max<Index>(fan_out, 1));
  double a = 0;
  switch (init.kind) {
    case Init::Zeros: w.fill(T(0)); return;
    case Init::Constant: w.fill(static_cast<T>(init.value)); return;
    case Init::Normal: w.fill_normal(rng, 0.0, init.value); return;
    case Init::GlorotUniform: a = std::sqrt(6.0 / (fi + fo)); w.fill_uniform(rng, -a, a); return;
    case Init::GlorotNormal: w.fill_normal(rng, 0.0, std::sqrt(2.0 / (fi + fo))); return;
    case Init::HeUniform: a = std::sqrt(6.0 / fi); w.fill_uniform(rng, -a, a); return;
    case Init::HeNormal: w.fill_normal(rng, 0.0, std::sqrt(2.0 / fi)); return;
    case Init::LecunUniform: a = std::sqrt(3.0 / fi); w.fill_uniform(rng, -a, a); return;
    case Init::LecunNormal: w.fill_normal(rng, 0.0, std::sqrt(1.0 / fi)); return;
  }
  throw std::invalid_argument("nn::initialize: unknown initializer");
}

}  // namespace nn
