// nn/quant/calibration.hpp — choosing an activation's 8-bit range from the
// values it takes on calibration data.
//
//   RangeObserver obs;                  // one per quantized tensor
//   obs.observe(x.data(), x.size());    // over a few hundred real samples
//   QParams q = obs.params(Calibration::percentile(99.99));
//
// The observer keeps the exact minimum and maximum and a uniform random
// sample of the values (reservoir sampling, at most `capacity` values, seeded:
// the same data give the same sample). Methods:
//   MinMax      the whole observed range: no value is clipped, but one
//               outlier widens every step.
//   Percentile  [q(1 - p), q(p)] of the sample (p = 99.99%: one value in
//               10,000 clips).
//   Mse         the range (lo, hi) = (a * min, a * max) whose quantization
//               error over the sample is smallest, a on a grid in [0.3, 1]
//               (clipping error against rounding error).
// Every range is widened to contain 0 (QParams::cover).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/kernels/quant8.hpp"
#include "nn/tensor/random.hpp"

namespace nn::quant {

using kernels::q8::QParams;

struct Calibration {
  enum Method { MinMax, Percentile, Mse };
  Method method = Percentile;
  double percentile = 99.99;
  static Calibration min_max() { return {MinMax, 100.0}; }
  static Calibration percentile_of(double p) {
    if (!(p > 50.0 && p <= 100.0))
      throw std::invalid_argument("Calibration: percentile " + std::to_string(p) + " is not in (50, 100]");
    return {Percentile, p};
  }
  static Calibration mse() { return {Mse, 100.0}; }
  std::string str() const {
    if (method == MinMax) return "min-max";
    if (method == Mse) return "mse";
    std::string s = std::to_string(percentile);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
    return "percentile " + s;
  }
  // "minmax", "mse", "percentile" or "percentile:P".
  static Calibration parse(const std::string& s) {
    if (s == "minmax" || s == "min-max") return min_max();
    if (s == "mse") return mse();
    if (s == "percentile") return Calibration{};
    if (s.rfind("percentile:", 0) == 0) {
      const std::string v = s.substr(11);
      std::size_t used = 0;
      double p = 0;
      try {
        p = std::stod(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || v.empty())
        throw std::invalid_argument("calibration '" + s + "': '" + v + "' is not a number");
      return percentile_of(p);
    }
    throw std::invalid_argument("unknown calibration '" + s + "' (minmax, mse, percentile, percentile:P)");
  }
};

class RangeObserver {
 public:
  explicit RangeObserver(std::size_t capacity = 1 << 20, std::uint64_t seed = 1) : cap_(capacity), rng_(seed) {}

  void observe(const float* v, Index n) {
    for (Index i = 0; i < n; ++i) {
      const float x = v[i];
      if (!std::isfinite(x))
        throw std::invalid_argument("calibration: a non-finite activation (" + std::to_string(x) +
                                    "): the model or its calibration data are broken");
      lo_ = std::min(lo_, x), hi_ = std::max(hi_, x);
      ++seen_;
      if (sample_.size() < cap_) sample_.push_back(x);
      else {
        const std::uint64_t j = rng_() % seen_;
        if (j < cap_) sample_[static_cast<std::size_t>(j)] = x;
      }
    }
  }
  std::uint64_t count() const { return seen_; }
  float min() const { return lo_; }
  float max() const { return hi_; }

  QParams params(const Calibration& c) const {
    if (seen_ == 0) throw std::logic_error("calibration: an observer saw no values");
    if (c.method == Calibration::MinMax || (c.method == Calibration::Percentile && c.percentile >= 100.0))
      return QParams::cover(lo_, hi_);
    if (c.method == Calibration::Percentile) {
      std::vector<float> s = sample_;
      const double p = c.percentile / 100.0;
      return QParams::cover(quantile(s, 1.0 - p), quantile(s, p));
    }
    // Mse: the scale factor of [min, max] with the smallest error.
    QParams best = QParams::cover(lo_, hi_);
    double best_err = std::numeric_limits<double>::infinity();
    for (int i = 0; i <= 70; ++i) {
      const float a = 1.0f - 0.01f * static_cast<float>(i);
      const QParams q = QParams::cover(a * lo_, a * hi_);
      const double e = error(q);
      if (e < best_err) best_err = e, best = q;
    }
    return best;
  }
  // Mean squared error of quantizing the sample with q.
  double error(const QParams& q) const {
    double e = 0;
    const float inv = q.inv_scale();
    for (float x : sample_) {
      const float r = q.scale * static_cast<float>(kernels::q8::quantize_one(x, inv, q.zero_point) - q.zero_point);
      e += double(x - r) * double(x - r);
    }
    return e / static_cast<double>(std::max<std::size_t>(sample_.size(), 1));
  }

 private:
  static float quantile(std::vector<float>& s, double p) {
    const auto k = static_cast<std::size_t>(std::llround(p * static_cast<double>(s.size() - 1)));
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
    return s[k];
  }

  std::size_t cap_;
  Rng rng_;
  std::vector<float> sample_;
  std::uint64_t seen_ = 0;
  float lo_ = std::numeric_limits<float>::infinity(), hi_ = -std::numeric_limits<float>::infinity();
};

}  // namespace nn::quant
