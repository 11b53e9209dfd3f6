// nn/kernels/conv2d_bf16.hpp — bf16 convolution: bf16 activations (C2
// layout, nn/kernels/bf16.hpp) times bf16 weights, float sums, and the
// epilogue (bias, ReLU, max pooling, then bf16 or float output) while the
// tile is in cache.
//   x (N, ceil(C/2), H, W) words -> y (N, ceil(OC/2), OH', OW') words or (N, OC, OH', OW') float
//   weights (OC, C, KH, KW) bf16
// Any stride, padding and dilation run through the phase planes of
// conv2d_phase.hpp (padding is bf16 0).
//
// Micro-kernel (AVX-512 BF16): 8 output channels x 48 pixels = 24 float
// accumulators; per (channel pair, tap): 3 loads of 16 pixels x 2 channels,
// 8 broadcasts of 2 weights, 24 vdpbf16ps (32 products each). The portable
// kernel computes the same products (exact in float) with float fused
// multiply-adds: the two paths round their sums differently, so they agree
// to float rounding, not bit for bit.
#pragma once
#include "nn/kernels/avx512.hpp"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nn/kernels/bf16.hpp"
#include "nn/kernels/conv2d_phase.hpp"

namespace nn::kernels::bf16 {

using phase::ConvLayout;
using phase::kConvOC;
using phase::kConvPix;

// Sums of at most this many products per output (float keeps them accurate
// well past it; the bound only keeps the layout's sizes sane).
constexpr Index kMaxDepth = Index(1) << 24;

// The bf16 layout of a convolution: 2-channel words.
inline ConvLayout conv_layout(const Conv2DGeom& g) { return ConvLayout::make(g, 2, kMaxDepth); }

// Packed weights: words [OCp / 8][C2][taps][8], each word the 2 bf16
// weights of one output channel for one channel pair at one tap (0 past C
// and OC).
// w (OC, C, KH, KW) bf16 -> packed for layout L.
inline std::vector<std::uint32_t> pack_conv_weights(const bf16_t* w, const ConvLayout& L) {
  const Conv2DGeom& g = L.g;
  const Conv2DGeom& G = L.orig;
  std::vector<std::uint32_t> packed(static_cast<std::size_t>(L.OCp * L.Cq * L.taps), 0);
  for (Index o = 0; o < g.OC; ++o)
    for (Index c = 0; c < g.C; ++c)
      for (Index t = 0; t < L.taps; ++t) {
        const bf16_t v = L.folded ? w[((o * G.C + c / G.KW) * G.KH + t) * G.KW + c % G.KW] : w[(o * g.C + c) * L.taps + t];
        const Index word = ((o / kConvOC * L.Cq + c / 2) * L.taps + t) * kConvOC + o % kConvOC;
        packed[static_cast<std::size_t>(word)] |= std::uint32_t(v) << (16 * (c % 2));
      }
  return packed;
}

#if NN_X86_AVX512_KERNELS
// acc (8, ld) = the float sums of output channels [8 * tile, 8 * tile + 8)
// for pixels [0, wide).
__attribute__((target("avx512f,avx512bw,avx512bf16"), noinline)) inline void tile_bf16(const std::uint8_t* xp,
                                                                                      const ConvLayout& L,
                                                                                      const std::uint32_t* wb,
                                                                                      float* acc, Index ld) {
  const Index qb = L.quad_bytes(), taps = L.taps;
  const Index* tap = L.tap.data();
  for (Index p0 = 0; p0 < L.wide; p0 += kConvPix) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00, a21 = a00,
           a22 = a00, a30 = a00, a31 = a00, a32 = a00, a40 = a00, a41 = a00, a42 = a00, a50 = a00, a51 = a00,
           a52 = a00, a60 = a00, a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
    const std::uint32_t* wt = wb;
    for (Index cq = 0; cq < L.Cq; ++cq) {
      const std::uint8_t* xc = xp + cq * qb + p0 * 4;
      for (Index t = 0; t < taps; ++t, wt += kConvOC) {
        const std::uint8_t* xr = xc + tap[t];
        const __m512bh v0 = (__m512bh)_mm512_loadu_si512(xr), v1 = (__m512bh)_mm512_loadu_si512(xr + 64),
                       v2 = (__m512bh)_mm512_loadu_si512(xr + 128);
#define NN_BF_ROW(o)                                                     \
  {                                                                      \
    const __m512bh w = (__m512bh)_mm512_set1_epi32(std::int32_t(wt[o])); \
    a##o##0 = _mm512_dpbf16_ps(a##o##0, v0, w);                          \
    a##o##1 = _mm512_dpbf16_ps(a##o##1, v1, w);                          \
    a##o##2 = _mm512_dpbf16_ps(a##o##2, v2, w);                          \
  }
        NN_BF_ROW(0) NN_BF_ROW(1) NN_BF_ROW(2) NN_BF_ROW(3) NN_BF_ROW(4) NN_BF_ROW(5) NN_BF_ROW(6) NN_BF_ROW(7)
#undef NN_BF_ROW
      }
    }
#define NN_BF_STORE(o)                                    \
  _mm512_storeu_ps(acc + (o) * ld + p0, a##o##0);         \
  _mm512_storeu_ps(acc + (o) * ld + p0 + 16, a##o##1);    \
  _mm512_storeu_ps(acc + (o) * ld + p0 + 32, a##o##2);
    NN_BF_STORE(0) NN_BF_STORE(1) NN_BF_STORE(2) NN_BF_STORE(3) NN_BF_STORE(4) NN_BF_STORE(5) NN_BF_STORE(6)
    NN_BF_STORE(7)
#undef NN_BF_STORE
  }
}
#endif

// The portable kernel: the same products, float fused multiply-adds.
inline void tile_portable(const std::uint8_t* xp, const ConvLayout& L, const std::uint32_t* wb, float* acc, Index ld) {
  for (Index o = 0; o < kConvOC; ++o) std::fill(acc + o * ld, acc + o * ld + L.wide, 0.0f);
  const std::uint32_t* wt = wb;
  for (Index cq = 0; cq < L.Cq; ++cq)
    for (Index t = 0; t < L.taps; ++t, wt += kConvOC) {
      const std::uint8_t* xr = xp + cq * L.quad_bytes() + L.tap[static_cast<std::size_t>(t)];
      for (Index o = 0; o < kConvOC; ++o) {
        if (wt[o] == 0) continue;
        const float w0 = to_float(bf16_t(wt[o] & 0xFFFF)), w1 = to_float(bf16_t(wt[o] >> 16));
        float* a = acc + o * ld;
        for (Index p = 0; p < L.wide; ++p) {
          std::uint32_t x;
          std::memcpy(&x, xr + 4 * p, 4);
          a[p] = std::fma(to_float(bf16_t(x >> 16)), w1, std::fma(to_float(bf16_t(x & 0xFFFF)), w0, a[p]));
        }
      }
    }
}

// What a bf16 convolution's epilogue produces.
struct ConvOut {
  const float* bias = nullptr;      // (OC), or null
  bool relu = false;
  const Pool2DGeom* pool = nullptr; // a max pool over the conv output, or null
  bool float_out = false;           // float (N, OC, OH', OW') instead of bf16 C2
};

namespace detail {
struct ConvScratch {
  std::vector<float> acc, pooled;
  static ConvScratch& mine() {
    thread_local ConvScratch s;
    return s;
  }
};

// y[i] = max(a[i] + b, 0 when relu), i in [0, n).
inline void bias_row(const float* a, Index n, float b, bool relu, float* y) {
  for (Index i = 0; i < n; ++i) {
    const float v = a[i] + b;
    y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}

// Two channels' sums (rows of stride ld, OH x OW used; b null: a channel
// past OC) -> OH * OW words: bias, ReLU and the bf16 conversion in one pass.
struct PairOut {
  const float* src[2];
  float bias[2];
};

#if NN_X86_AVX512_KERNELS
__attribute__((target("avx512f"))) inline void finish_pair_avx512(const PairOut& c, Index ld, Index OH, Index OW,
                                                                  bool relu, std::uint8_t* out) {
  const __m512 zero = _mm512_setzero_ps();
  for (Index oh = 0; oh < OH; ++oh)
    for (Index ow = 0; ow < OW; ow += 16) {
      const __mmask16 k = OW - ow >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (OW - ow)) - 1);
      __m512 v[2];
      for (int l = 0; l < 2; ++l) {
        v[l] = zero;
        if (!c.src[l]) continue;
        v[l] = _mm512_add_ps(_mm512_maskz_loadu_ps(k, c.src[l] + oh * ld + ow), _mm512_set1_ps(c.bias[l]));
        if (relu) v[l] = avx512::max_ps(v[l], zero);
      }
      _mm512_mask_storeu_epi32(out + 4 * (oh * OW + ow), k, pair16(v[0], v[1]));
    }
}
#endif

inline void finish_pair(const PairOut& c, Index ld, Index OH, Index OW, bool relu, std::uint8_t* out) {
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled()) return finish_pair_avx512(c, ld, OH, OW, relu, out);
#endif
  for (Index oh = 0; oh < OH; ++oh)
    for (Index ow = 0; ow < OW; ++ow) {
      std::uint32_t w = 0;
      for (int l = 0; l < 2; ++l) {
        if (!c.src[l]) continue;
        const float v = c.src[l][oh * ld + ow] + c.bias[l];
        w |= std::uint32_t(from_float(relu ? (v > 0.0f ? v : 0.0f) : v)) << (16 * l);
      }
      std::memcpy(out + 4 * (oh * OW + ow), &w, 4);
    }
}

// The epilogue of one 8-channel tile of one sample.
inline void finish_tile(const float* acc, Index ld, Index tile, const ConvLayout& L, const ConvOut& out, void* y_sample,
                        ConvScratch& s) {
  const Conv2DGeom& g = L.g;
  const Index OH = out.pool ? out.pool->OH : g.OH, OW = out.pool ? out.pool->OW : g.OW, n = OH * OW;
  const Index o0 = tile * kConvOC, src_ld = out.pool ? OW : L.Wq;
  if (out.pool) s.pooled.resize(static_cast<std::size_t>(kConvOC * n));
  const float* src[kConvOC] = {};
  for (Index l = 0; l < kConvOC && o0 + l < g.OC; ++l) {
    src[l] = acc + l * ld;
    if (out.pool) {
      phase::pool_sums(src[l], L.Wq, *out.pool, s.pooled.data() + l * n);
      src[l] = s.pooled.data() + l * n;
    }
  }
  if (out.float_out) {
    for (Index l = 0; l < kConvOC && o0 + l < g.OC; ++l) {
      float* row = static_cast<float*>(y_sample) + (o0 + l) * n;
      const float b = out.bias ? out.bias[o0 + l] : 0.0f;
      for (Index oh = 0; oh < OH; ++oh) bias_row(src[l] + oh * src_ld, OW, b, out.relu, row + oh * OW);
    }
    return;
  }
  auto* yb = static_cast<std::uint8_t*>(y_sample);
  for (Index h = 0; h < kConvOC / 2; ++h) {
    const Index pair = o0 / 2 + h;
    if (pair * 2 >= g.OC) break;
    PairOut c{};
    for (int l = 0; l < 2; ++l) {
      const Index o = pair * 2 + l;
      c.src[l] = o < g.OC ? src[o - o0] : nullptr;
      c.bias[l] = o < g.OC && out.bias ? out.bias[o] : 0.0f;
    }
    finish_pair(c, src_ld, OH, OW, out.relu, yb + pair * n * 4);
  }
}
}  // namespace detail

// The whole convolution: x (N, C2, H, W) words -> y.
inline void conv2d_bf16(const std::uint8_t* x, Index N, const ConvLayout& L, const std::vector<std::uint32_t>& w,
                        const ConvOut& out, void* y) {
  const Conv2DGeom& g = L.g;
  if (L.lanes != 2) throw std::invalid_argument("conv2d_bf16: the layout is not a bf16 one (conv_layout)");
  const Index OH = out.pool ? out.pool->OH : g.OH, OW = out.pool ? out.pool->OW : g.OW;
  const Index y_bytes = out.float_out ? g.OC * OH * OW * Index(sizeof(float)) : (g.OC + 1) / 2 * OH * OW * 4;
  const bool fast = bf16_enabled();
  (void)fast;
  const double work = double(N) * double(L.OCp) * double(L.wide) * double(L.Cq * L.taps);
  phase::for_each_tile(x, N, L, 0, work, [&](const std::uint8_t* xp, Index n, Index t) {
    auto& s = detail::ConvScratch::mine();
    s.acc.resize(static_cast<std::size_t>(kConvOC * L.wide));
    const std::uint32_t* wb = w.data() + t * L.Cq * L.taps * kConvOC;
#if NN_X86_AVX512_KERNELS
    if (fast) tile_bf16(xp, L, wb, s.acc.data(), L.wide);
    else
#endif
      tile_portable(xp, L, wb, s.acc.data(), L.wide);
    detail::finish_tile(s.acc.data(), L.wide, t, L, out, static_cast<char*>(y) + n * y_bytes, s);
  });
}

}  // namespace nn::kernels::bf16
