// nn/kernels/quant8.hpp — 8-bit quantized activations: parameters, layout,
// and the conversions to and from float.
//
// An activation value v is stored as an unsigned byte q with
//   v = scale * (q - zero_point),   q in [0, 255]
// (asymmetric, one scale per tensor). Weights are signed bytes, symmetric,
// one scale per output channel (zero point 0, values in [-127, 127]), so an
// int8 product sums u8 x s8 terms: what VNNI's vpdpbusd computes, four
// terms per 32-bit lane.
//
// Layouts, per sample (the batch is the outer dimension):
//   (C, H, W) feature maps: "C4", bytes [ceil(C/4)][H][W][4]: channel c of
//     pixel (h, w) at [c/4][h][w][c%4]; the lanes past C hold zero_point.
//     Four consecutive channels of one pixel are one 32-bit word, the unit a
//     VNNI dot product reads.
//   (K) feature vectors: bytes [ceil(K/4)*4], the tail holding zero_point.
// row_bytes() gives a sample's size in either layout.
//
// Rounding: q = clamp(nearbyint(v * (1 / scale)) + zero_point, 0, 255),
// round half to even (the CPU's default mode), in float, the same in the
// vector and scalar code (NaN becomes 0).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/kernels/avx512.hpp"
#include "nn/kernels/cpu.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>
#endif

namespace nn::kernels::q8 {

// Scale and zero point of a quantized tensor.
struct QParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  float inv_scale() const { return 1.0f / scale; }
  // The parameters that cover [lo, hi] (widened to contain 0, so that 0 is
  // exact: zero padding and ReLU's floor stay exact in 8 bits).
  static QParams cover(float lo, float hi) {
    lo = std::min(lo, 0.0f), hi = std::max(hi, 0.0f);
    if (!(std::isfinite(lo) && std::isfinite(hi)))
      throw std::invalid_argument("quantization range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "] is not finite");
    QParams q;
    // A range below 1e-30 (all but 0 in practice) gets that much: a scale
    // that underflows to 0 would make every step inverse infinite.
    q.scale = hi > lo ? std::max((hi - lo) / 255.0f, 1e-30f) : 1.0f;
    q.zero_point = std::clamp(static_cast<std::int32_t>(std::nearbyint(-lo / q.scale)), 0, 255);
    return q;
  }
};

inline Index quads(Index c) { return (c + 3) / 4; }

// Bytes per sample of a per-sample shape: (C, H, W) in C4, (K) padded to 4.
inline Index row_bytes(const Shape& s) {
  if (s.rank() == 3) return quads(s[0]) * s[1] * s[2] * 4;
  if (s.rank() == 1) return quads(s[0]) * 4;
  throw std::invalid_argument("int8 activations are (C, H, W) or (K) per sample, not " + s.str());
}

// One quantized value (the scalar rule every path follows).
inline std::uint8_t quantize_one(float v, float inv_scale, std::int32_t zp) {
  float c = std::nearbyint(v * inv_scale) + static_cast<float>(zp);
  c = c > 0.0f ? c : 0.0f;  // NaN -> 0, as avx512::max_ps(c, 0)
  c = c < 255.0f ? c : 255.0f;
  return static_cast<std::uint8_t>(c);
}

#if NN_X86_AVX512_KERNELS
// 16 lanes of quantize_one, as int32 in [0, 255].
__attribute__((target("avx512f"))) inline __m512i quantize16(__m512 v, __m512 inv, __m512 zp) {
  const __m512 r = avx512::round_even_ps(_mm512_mul_ps(v, inv));
  const __m512 c = avx512::min_ps(avx512::max_ps(_mm512_add_ps(r, zp), _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
  return avx512::cvttps_epi32(c);
}
#endif

#if NN_X86_AVX512_KERNELS
// pack_quads' vector part: the first multiple of 16 of n; returns how many.
__attribute__((target("avx512f"))) inline Index pack_quads16(const float* const r[4], Index n, float inv_scale,
                                                              std::int32_t zp, std::uint8_t* out) {
  const __m512 inv = _mm512_set1_ps(inv_scale), z = _mm512_set1_ps(static_cast<float>(zp));
  const __m512i zq = _mm512_set1_epi32(zp);
  Index j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512i w = _mm512_setzero_si512();
    for (int l = 0; l < 4; ++l) {
      const __m512i q = r[l] ? quantize16(_mm512_loadu_ps(r[l] + j), inv, z) : zq;
      w = _mm512_or_si512(w, avx512::slli_epi32(q, 8 * l));
    }
    _mm512_storeu_si512(out + 4 * j, w);
  }
  return j;
}
#endif

// Four float rows r[0..3] (n values each; a null row is a channel past C)
// into n C4 words at out (out[4 * i + l] = q(r[l][i])).
inline void pack_quads(const float* const r[4], Index n, float inv_scale, std::int32_t zp, std::uint8_t* out) {
  Index i = 0;
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled()) i = pack_quads16(r, n, inv_scale, zp, out);
#endif
  for (; i < n; ++i)
    for (int l = 0; l < 4; ++l)
      out[4 * i + l] = r[l] ? quantize_one(r[l][i], inv_scale, zp) : static_cast<std::uint8_t>(zp);
}

// x (N, s...) float -> out (N, row_bytes(s)) quantized with q.
inline void quantize(const float* x, const Shape& per_sample, Index N, const QParams& q, std::uint8_t* out) {
  const Index rb = row_bytes(per_sample), inv_n = per_sample.size();
  const float inv = q.inv_scale();
  nn::detail::parallel_for(N, N * inv_n >= (1 << 16), 1, [&](std::ptrdiff_t n, int) {
    const float* xs = x + n * inv_n;
    std::uint8_t* o = out + n * rb;
    if (per_sample.rank() == 3) {
      const Index C = per_sample[0], HW = per_sample[1] * per_sample[2];
      for (Index g = 0; g < quads(C); ++g) {
        const float* r[4];
        for (Index l = 0; l < 4; ++l) r[l] = 4 * g + l < C ? xs + (4 * g + l) * HW : nullptr;
        pack_quads(r, HW, inv, q.zero_point, o + g * HW * 4);
      }
    } else {
      for (Index k = 0; k < rb; ++k) o[k] = k < inv_n ? quantize_one(xs[k], inv, q.zero_point) : std::uint8_t(q.zero_point);
    }
  });
}

// in (N, row_bytes(s)) -> y (N, s...) float.
inline void dequantize(const std::uint8_t* in, const Shape& per_sample, Index N, const QParams& q, float* y) {
  const Index rb = row_bytes(per_sample), n_out = per_sample.size();
  nn::detail::parallel_for(N, N * n_out >= (1 << 16), 1, [&](std::ptrdiff_t n, int) {
    const std::uint8_t* s = in + n * rb;
    float* ys = y + n * n_out;
    if (per_sample.rank() == 3) {
      const Index C = per_sample[0], HW = per_sample[1] * per_sample[2];
      for (Index c = 0; c < C; ++c) {
        const std::uint8_t* src = s + (c / 4) * HW * 4 + c % 4;
        float* d = ys + c * HW;
        for (Index i = 0; i < HW; ++i) d[i] = q.scale * static_cast<float>(std::int32_t(src[4 * i]) - q.zero_point);
      }
    } else {
      for (Index k = 0; k < n_out; ++k) ys[k] = q.scale * static_cast<float>(std::int32_t(s[k]) - q.zero_point);
    }
  });
}

// Per-output-channel symmetric weights: w (O, K) float -> q (O, K) int8 in
// [-127, 127] and scale (O) with w ~ scale[o] * q[o][k]. An all-zero row
// gets scale 1.
inline void quantize_weights(const float* w, Index O, Index K, std::int8_t* q, float* scale) {
  for (Index o = 0; o < O; ++o) {
    float m = 0;
    for (Index k = 0; k < K; ++k) {
      const float a = std::abs(w[o * K + k]);
      m = a > m || a != a ? a : m;  // a NaN sticks
    }
    if (!std::isfinite(m)) throw std::invalid_argument("quantize_weights: output channel " + std::to_string(o) +
                                                       " has a non-finite weight");
    const float s = m > 0 ? m / 127.0f : 1.0f;
    scale[o] = s;
    for (Index k = 0; k < K; ++k)
      q[o * K + k] = static_cast<std::int8_t>(std::clamp(std::nearbyint(w[o * K + k] / s), -127.0f, 127.0f));
  }
}

// The requantization epilogue's per-channel constants for an output channel
// with integer sum acc = sum_k q_x[k] * q_w[k]:
//   y = fma(float(acc - zp_x * wsum), mult, bias)   (then ReLU, pooling, and
// quantization with the output's parameters, or float output), where
// mult = scale_x * scale_w and wsum = sum_k q_w[k]. mult must be > 0 (it is
// a product of scales): a fused max pool is taken over the sums, before the
// affine map, which commutes with max only when the map never decreases.
struct Requant {
  std::vector<float> mult, bias;
  std::vector<std::int32_t> offset;  // zp_x * wsum, subtracted from acc
};

// Largest reduction length whose int32 sums cannot overflow:
// |acc| + |zp * wsum| <= 2 * 255 * 127 * K < 2^31.
constexpr Index kMaxDepth = 33000;

}  // namespace nn::kernels::q8
