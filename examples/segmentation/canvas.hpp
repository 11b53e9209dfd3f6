// examples/segmentation/canvas.hpp — the digit-segmentation data: canvases
// with 1-3 real MNIST digits at random positions and sizes, and a label map.
//
//   x (N, 1, H, W) in [0, 1]: the digits drawn with max() where they meet
//   y (N, H, W): the digit's class 0-9 where its stroke is (pixel >= 0.5 after
//                scaling), background (10) elsewhere; where two strokes cross,
//                the digit drawn later owns the pixel
//
// Every digit is scaled (bilinear) from 28x28 to a side of 20-32 pixels and
// placed where its stroke overlaps earlier strokes by at most 10% of its own
// (the best of 30 random positions otherwise), so digits may touch and overlap
// a little. A canvas depends only on (seed, its index) and the digit pool.
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace segdata {

using F = float;
constexpr int kClasses = 11;       // digits 0-9 and the background
constexpr int kBackground = 10;
constexpr int kMinSide = 20, kMaxSide = 32;

struct Canvases {
  nn::Tensor<F> x, y;
};

// A 28x28 digit resized to s x s (bilinear, pixel centres aligned).
inline std::vector<F> scale_digit(const F* d, int s) {
  std::vector<F> out(std::size_t(s) * std::size_t(s));
  const double r = 28.0 / s;
  for (int i = 0; i < s; ++i)
    for (int j = 0; j < s; ++j) {
      const double sy = std::clamp((i + 0.5) * r - 0.5, 0.0, 27.0), sx = std::clamp((j + 0.5) * r - 0.5, 0.0, 27.0);
      const int y0 = int(sy), x0 = int(sx), y1 = std::min(y0 + 1, 27), x1 = std::min(x0 + 1, 27);
      const double fy = sy - y0, fx = sx - x0;
      out[std::size_t(i * s + j)] = F((1 - fy) * ((1 - fx) * d[y0 * 28 + x0] + fx * d[y0 * 28 + x1]) +
                                      fy * ((1 - fx) * d[y1 * 28 + x0] + fx * d[y1 * 28 + x1]));
    }
  return out;
}

// `count` canvases of H x W from the digits (M, 1, 28, 28) and labels (M)
// whose indices are in `pool`.
inline Canvases make_canvases(const nn::Tensor<F>& digits, const nn::Tensor<F>& labels,
                              const std::vector<nn::Index>& pool, nn::Index count, int H, int W, std::uint64_t seed) {
  if (digits.rank() != 4 || digits.dim(1) != 1 || digits.dim(2) != 28 || digits.dim(3) != 28)
    throw std::invalid_argument("make_canvases: digits must be (M, 1, 28, 28), got " + digits.shape().str());
  if (pool.empty()) throw std::invalid_argument("make_canvases: no digits to draw from");
  if (H < kMaxSide || W < kMaxSide) throw std::invalid_argument("make_canvases: canvases must be at least 32x32");
  Canvases c{nn::Tensor<F>({count, 1, nn::Index(H), nn::Index(W)}), nn::Tensor<F>({count, nn::Index(H), nn::Index(W)})};
  c.y.fill(F(kBackground));
  const std::size_t plane = std::size_t(H) * std::size_t(W);
  for (nn::Index n = 0; n < count; ++n) {
    nn::Rng rng(seed * 0x9E3779B97F4A7C15ULL + std::uint64_t(n) + 1);
    F* px = c.x.data() + std::size_t(n) * plane;
    F* lab = c.y.data() + std::size_t(n) * plane;
    std::vector<char> stroke(plane, 0);
    const int k = 1 + int(rng.below(3));
    for (int d = 0; d < k; ++d) {
      const nn::Index id = pool[std::size_t(rng.below(pool.size()))];
      const int s = kMinSide + int(rng.below(kMaxSide - kMinSide + 1));
      const auto img = scale_digit(digits.data() + id * 784, s);
      long own = 0;
      for (F v : img) own += v >= F(0.5);
      int best_t = 0, best_l = 0;
      long best_overlap = -1;
      for (int tries = 0; tries < 30; ++tries) {
        const int t = int(rng.below(std::uint64_t(H - s + 1))), l = int(rng.below(std::uint64_t(W - s + 1)));
        long overlap = 0;
        for (int i = 0; i < s; ++i)
          for (int j = 0; j < s; ++j)
            overlap += img[std::size_t(i * s + j)] >= F(0.5) && stroke[std::size_t((t + i) * W + l + j)];
        if (best_overlap < 0 || overlap < best_overlap) best_overlap = overlap, best_t = t, best_l = l;
        if (overlap * 10 <= own) break;
      }
      const F cls = labels[id];
      for (int i = 0; i < s; ++i)
        for (int j = 0; j < s; ++j) {
          const F v = img[std::size_t(i * s + j)];
          const std::size_t p = std::size_t((best_t + i) * W + best_l + j);
          px[p] = std::max(px[p], v);
          if (v >= F(0.5)) lab[p] = cls, stroke[p] = 1;
        }
    }
  }
  return c;
}

// The share of each class among the pixels of y (N, H, W).
inline std::vector<double> class_shares(const nn::Tensor<F>& y) {
  std::vector<double> s(kClasses, 0.0);
  for (nn::Index i = 0; i < y.size(); ++i) s[std::size_t(y[i])] += 1.0;
  for (auto& v : s) v /= double(std::max<nn::Index>(y.size(), 1));
  return s;
}

}  // namespace segdata
