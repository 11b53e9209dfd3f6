// nn/data/augment.hpp — seeded image augmentation on CHW buffers.
//
//   Augment a;  a.hflip = true; a.translate = 4; a.rotate_degrees = 10;
//               a.brightness = 0.1; a.contrast = 0.2;
//   a.apply(chw, C, H, W, rng);    // in place
//
// - hflip: mirror left-right with probability 1/2
// - translate: shift by up to ±translate pixels in x and y, filling with 0
//   (the same as zero-padding by `translate` and cropping at random)
// - rotate_degrees: rotate by U(-r, r) degrees about the centre (bilinear, 0 fill)
// - brightness: add U(-b, b) to every value
// - contrast: scale each channel's deviation from its mean by U(1 - c, 1 + c)
// The batch iterator gives each (epoch, sample) its own generator, so the
// augmentation of a sample depends only on the seed, the epoch and the sample.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/tensor/random.hpp"
#include "nn/tensor/shape.hpp"

namespace nn::data {

struct Augment {
  bool hflip = false;
  int translate = 0;
  double rotate_degrees = 0;
  double brightness = 0;
  double contrast = 0;

  bool any() const { return hflip || translate > 0 || rotate_degrees > 0 || brightness > 0 || contrast > 0; }

  template <class T>
  void apply(T* x, Index C, Index H, Index W, Rng& rng) const {
    // Draw every random number first, in a fixed order, so the stream does
    // not depend on which transforms are on.
    const bool flip = rng.uniform() < 0.5;
    const Index dx = translate ? Index(rng.below(std::uint64_t(2 * translate + 1))) - translate : 0;
    const Index dy = translate ? Index(rng.below(std::uint64_t(2 * translate + 1))) - translate : 0;
    const double angle = rng.uniform(-rotate_degrees, rotate_degrees) * 3.14159265358979323846 / 180.0;
    const double b = rng.uniform(-brightness, brightness);
    const double c = rng.uniform(1.0 - contrast, 1.0 + contrast);
    const Index S = H * W;
    std::vector<T> tmp(static_cast<std::size_t>(S));
    for (Index ch = 0; ch < C; ++ch) {
      T* p = x + ch * S;
      if (hflip && flip)
        for (Index h = 0; h < H; ++h) std::reverse(p + h * W, p + (h + 1) * W);
      if (dx || dy) {
        std::fill(tmp.begin(), tmp.end(), T(0));
        for (Index h = 0; h < H; ++h) {
          const Index sh = h - dy;
          if (sh < 0 || sh >= H) continue;
          for (Index w = 0; w < W; ++w) {
            const Index sw = w - dx;
            if (sw >= 0 && sw < W) tmp[static_cast<std::size_t>(h * W + w)] = p[sh * W + sw];
          }
        }
        std::copy(tmp.begin(), tmp.end(), p);
      }
      if (rotate_degrees > 0 && angle != 0) rotate(p, H, W, angle, tmp);
      if (contrast > 0) {
        double mean = 0;
        for (Index i = 0; i < S; ++i) mean += p[i];
        mean /= double(S);
        for (Index i = 0; i < S; ++i) p[i] = static_cast<T>(mean + (p[i] - mean) * c);
      }
      if (brightness > 0)
        for (Index i = 0; i < S; ++i) p[i] = static_cast<T>(p[i] + b);
    }
  }

 private:
  template <class T>
  static void rotate(T* p, Index H, Index W, double angle, std::vector<T>& tmp) {
    const double cy = (H - 1) / 2.0, cx = (W - 1) / 2.0, cs = std::cos(angle), sn = std::sin(angle);
    for (Index h = 0; h < H; ++h)
      for (Index w = 0; w < W; ++w) {
        // source position of output pixel (h, w): inverse rotation
        const double y = cs * (h - cy) + sn * (w - cx) + cy;
        const double x = -sn * (h - cy) + cs * (w - cx) + cx;
        const Index y0 = Index(std::floor(y)), x0 = Index(std::floor(x));
        const double fy = y - double(y0), fx = x - double(x0);
        double v = 0;
        for (int k = 0; k < 4; ++k) {
          const Index yy = y0 + (k >> 1), xx = x0 + (k & 1);
          if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
          v += double(p[yy * W + xx]) * ((k >> 1) ? fy : 1 - fy) * ((k & 1) ? fx : 1 - fx);
        }
        tmp[static_cast<std::size_t>(h * W + w)] = static_cast<T>(v);
      }
    std::copy(tmp.begin(), tmp.end(), p);
  }
};

}  // namespace nn::data
