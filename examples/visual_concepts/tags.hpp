// tags.hpp — visual tags of Fashion-MNIST images, computed from their pixels
// with integral images (nn/image/integral.hpp), and the super-categories.
//
// Per image (28 x 28, values in [0, 1]) measure() computes raw features:
//   the object: pixels above kInk; its bounding box (rows r0..r1, columns c0..c1)
//   brightness   mean value over the object's pixels
//   contrast     standard deviation of the values inside the bounding box
//                (sum and sum of squares tables: four look-ups each)
//   texture      mean variance of the 5 x 5 windows that lie wholly on the
//                object (a mask table counts the object pixels of a window;
//                the value tables give its variance): stitching, prints,
//                knit, not the silhouette's edge
//   aspect       bounding-box width / height
//   top_share    share of the object's mass in the upper half of the box
//   asymmetry    mean |x - mirror(x)| over the box, relative to brightness
//   coverage     object pixels / 784
//   open_centre  1 - (mean of the box's central quarter / brightness): holes,
//                straps and handles leave the centre dark
// Thresholds are quantiles of the training images' features (fit()), so
// that every tag holds for a stated share of the training set; the same
// thresholds then tag validation and test images.
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace tags {

using F = float;
constexpr double kInk = 0.1;  // a pixel above this belongs to the object
constexpr int kSide = 28;

struct Features {
  double brightness = 0, contrast = 0, texture = 0, aspect = 1, top_share = 0.5, asymmetry = 0, coverage = 0,
         open_centre = 0;
};

inline Features measure(const F* img) {
  Features f;
  const int S = kSide;
  std::vector<F> mask(std::size_t(S * S));
  int r0 = S, r1 = -1, c0 = S, c1 = -1;
  double ink = 0, count = 0;
  for (int r = 0; r < S; ++r)
    for (int c = 0; c < S; ++c) {
      const bool on = img[r * S + c] > kInk;
      mask[std::size_t(r * S + c)] = on ? 1.0f : 0.0f;
      if (!on) continue;
      ink += img[r * S + c], count += 1;
      r0 = std::min(r0, r), r1 = std::max(r1, r), c0 = std::min(c0, c), c1 = std::max(c1, c);
    }
  if (count == 0) return f;  // a blank image: every feature at its neutral value
  const nn::image::IntegralImage values(img, S, S, /*squares=*/true), objects(mask.data(), S, S);
  f.brightness = ink / count;
  f.coverage = count / double(S * S);
  const int h = r1 - r0 + 1, w = c1 - c0 + 1;
  f.aspect = double(w) / double(h);
  f.contrast = std::sqrt(std::max(0.0, values.variance(r0, c0, r1 + 1, c1 + 1)));
  const double top = values.sum(r0, c0, r0 + h / 2, c1 + 1), all = values.sum(r0, c0, r1 + 1, c1 + 1);
  f.top_share = all > 0 ? top / all : 0.5;
  const int k = 5;
  double tex = 0, windows = 0;
  for (int r = r0; r + k <= r1 + 1; ++r)
    for (int c = c0; c + k <= c1 + 1; ++c)
      if (objects.sum(r, c, r + k, c + k) == double(k * k)) tex += values.variance(r, c, r + k, c + k), windows += 1;
  f.texture = windows > 0 ? tex / windows : 0.0;
  double diff = 0;
  for (int r = r0; r <= r1; ++r)
    for (int c = c0; c <= c1; ++c) diff += std::abs(double(img[r * S + c]) - img[r * S + (c0 + c1 - c)]);
  f.asymmetry = diff / double(h * w) / f.brightness;
  const double centre = values.mean(r0 + h / 4, c0 + w / 4, r0 + h / 4 + std::max(1, h / 2), c0 + w / 4 + std::max(1, w / 2));
  f.open_centre = 1.0 - centre / f.brightness;
  return f;
}

// One tag: a feature, a side and a quantile of the training images.
struct Rule {
  const char* name;
  double Features::*feature;
  bool above;       // tag holds when feature > threshold (else when <= threshold)
  double quantile;  // the threshold's quantile of the training images
  const char* about;
};

inline const std::vector<Rule>& rules() {
  static const std::vector<Rule> r{
      {"dark", &Features::brightness, false, 1.0 / 3, "object brightness in the lowest third"},
      {"medium", &Features::brightness, true, 1.0 / 3, "object brightness in the middle third"},  // and <= 2/3, below
      {"bright", &Features::brightness, true, 2.0 / 3, "object brightness in the highest third"},
      {"high_contrast", &Features::contrast, true, 0.7, "bounding-box standard deviation in the top 30%"},
      {"textured", &Features::texture, true, 0.7, "within-object 5x5 variance in the top 30%"},
      {"plain", &Features::texture, false, 0.3, "within-object 5x5 variance in the bottom 30%"},
      {"wide", &Features::aspect, true, 0.7, "bounding box width/height in the top 30%"},
      {"tall", &Features::aspect, false, 0.3, "bounding box width/height in the bottom 30%"},
      {"top_heavy", &Features::top_share, true, 0.7, "upper half's share of the mass in the top 30%"},
      {"bottom_heavy", &Features::top_share, false, 0.3, "upper half's share of the mass in the bottom 30%"},
      {"symmetric", &Features::asymmetry, false, 0.35, "left-right difference in the bottom 35%"},
      {"large", &Features::coverage, true, 0.7, "object pixels in the top 30%"},
      {"small", &Features::coverage, false, 0.3, "object pixels in the bottom 30%"},
      {"open_centre", &Features::open_centre, true, 0.75, "dark centre (straps, handles, gaps) in the top 25%"},
  };
  return r;
}
inline int count() { return int(rules().size()); }

// Quantile thresholds of the training features; "medium" also needs the
// upper third's threshold (it is the band between dark and bright).
struct Thresholds {
  std::vector<double> t;
  double medium_high = 0;
};

inline double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t i = std::size_t(pos);
  const double frac = pos - double(i);
  return i + 1 < v.size() ? v[i] * (1 - frac) + v[i + 1] * frac : v[i];
}

inline Thresholds fit(const std::vector<Features>& train) {
  Thresholds th;
  for (const auto& r : rules()) {
    std::vector<double> v;
    v.reserve(train.size());
    for (const auto& f : train) v.push_back(f.*r.feature);
    th.t.push_back(quantile(v, r.quantile));
    if (std::string(r.name) == "medium") th.medium_high = quantile(v, 2.0 / 3);
  }
  return th;
}

inline std::vector<int> apply(const Features& f, const Thresholds& th) {
  std::vector<int> on(rules().size());
  for (std::size_t k = 0; k < rules().size(); ++k) {
    const auto& r = rules()[k];
    const double v = f.*r.feature;
    on[k] = r.above ? v > th.t[k] : v <= th.t[k];
    if (std::string(r.name) == "medium") on[k] = on[k] && v <= th.medium_high;
  }
  return on;
}

// Fashion-MNIST's ten categories and five super-categories.
inline const std::vector<std::string>& categories() {
  static const std::vector<std::string> c{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return c;
}
inline const std::vector<std::string>& super_categories() {
  static const std::vector<std::string> s{"tops", "bottoms", "dresses", "footwear", "bags"};
  return s;
}
inline int super_of(int category) {
  static const std::array<int, 10> m{0, 1, 0, 2, 0, 3, 0, 3, 4, 3};
  return m.at(std::size_t(category));
}

}  // namespace tags
