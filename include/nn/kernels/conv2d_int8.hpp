// nn/kernels/conv2d_int8.hpp — int8 convolution: u8 activations (C4 layout,
// nn/kernels/quant8.hpp) times s8 weights, int32 sums, and the epilogue that
// turns each sum into the next layer's input (bias, ReLU, max pooling,
// requantization to u8, or float output) while the tile is in cache.
//   x (N, ceil(C/4), H, W, 4) u8 -> y (N, ceil(OC/4), OH', OW', 4) u8 or (N, OC, OH', OW') float
//   weights (OC, C, KH, KW) quantized per output channel
// (OH', OW') is (OH, OW), or the max pool's output when one is fused.
//
// Any stride, padding and dilation run through one kernel over phase planes
// (conv2d_phase.hpp, shared with the bf16 convolution). Padding holds the
// input's zero point, so it is exactly 0 in real terms.
//
// Micro-kernel (AVX-512 VNNI): 8 output channels x 48 pixels = 24 int32
// accumulators; per (channel quad, tap): 3 loads of 16 pixels x 4 channels,
// 8 broadcasts of 4 weights, 24 vpdpbusd (64 u8 x s8 products each). The
// portable kernel computes the same integer sums (integer addition is exact,
// so every path agrees bit for bit).
#pragma once
#include "nn/kernels/avx512.hpp"
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "nn/kernels/conv2d_phase.hpp"
#include "nn/kernels/quant8.hpp"

namespace nn::kernels::q8 {

using phase::ConvLayout;
using phase::kConvOC;
using phase::kConvPix;
using phase::pool_sums;

// The int8 layout of a convolution: u8 in 4-channel words.
inline ConvLayout conv_layout(const Conv2DGeom& g) { return ConvLayout::make(g, 4, kMaxDepth); }

// Packed weights: words [OCp / 8][Cq][taps][8], each word the 4 s8 weights
// of one output channel for one channel quad at one tap (channels past C and
// output channels past OC are 0). wsum[o] = sum of output channel o's weights.
struct ConvWeights {
  std::vector<std::int32_t> packed;
  std::vector<std::int32_t> wsum;
};

// q (OC, C, KH, KW) int8 -> packed for layout L.
inline ConvWeights pack_conv_weights(const std::int8_t* q, const ConvLayout& L) {
  const Conv2DGeom& g = L.g;
  const Conv2DGeom& G = L.orig;
  ConvWeights w;
  w.packed.assign(static_cast<std::size_t>(L.OCp * L.Cq * L.taps), 0);
  w.wsum.assign(static_cast<std::size_t>(g.OC), 0);
  for (Index o = 0; o < g.OC; ++o)
    for (Index c = 0; c < g.C; ++c)
      for (Index t = 0; t < L.taps; ++t) {
        // folded: channel c = c0 * KW + kw at tap t = kh holds weight (c0, kh, kw)
        const std::int8_t v = L.folded ? q[((o * G.C + c / G.KW) * G.KH + t) * G.KW + c % G.KW]
                                       : q[(o * g.C + c) * L.taps + t];
        w.wsum[static_cast<std::size_t>(o)] += v;
        const Index word = ((o / kConvOC * L.Cq + c / 4) * L.taps + t) * kConvOC + o % kConvOC;
        auto* bytes = reinterpret_cast<unsigned char*>(&w.packed[static_cast<std::size_t>(word)]);
        bytes[c % 4] = static_cast<unsigned char>(v);
      }
  return w;
}

#if NN_X86_AVX512_KERNELS
// acc (8, ld) = the int32 sums of output channels [8 * tile, 8 * tile + 8)
// for pixels [0, wide). Not inlined, for the same reason as
// conv2d_direct.hpp's tile: stable code whatever the caller.
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) inline void tile_vnni(const std::uint8_t* xp,
                                                                                      const ConvLayout& L,
                                                                                      const std::int32_t* wb,
                                                                                      std::int32_t* acc, Index ld) {
  const Index qb = L.quad_bytes(), taps = L.taps;
  const Index* tap = L.tap.data();
  for (Index p0 = 0; p0 < L.wide; p0 += kConvPix) {
    __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00,
            a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00, a40 = a00, a41 = a00, a42 = a00, a50 = a00,
            a51 = a00, a52 = a00, a60 = a00, a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
    const std::int32_t* wt = wb;
    for (Index cq = 0; cq < L.Cq; ++cq) {
      const std::uint8_t* xc = xp + cq * qb + p0 * 4;
      for (Index t = 0; t < taps; ++t, wt += kConvOC) {
        const std::uint8_t* xr = xc + tap[t];
        const __m512i v0 = _mm512_loadu_si512(xr), v1 = _mm512_loadu_si512(xr + 64),
                      v2 = _mm512_loadu_si512(xr + 128);
#define NN_Q8_ROW(o)                                  \
  {                                                   \
    const __m512i w = _mm512_set1_epi32(wt[o]);       \
    a##o##0 = _mm512_dpbusd_epi32(a##o##0, v0, w);    \
    a##o##1 = _mm512_dpbusd_epi32(a##o##1, v1, w);    \
    a##o##2 = _mm512_dpbusd_epi32(a##o##2, v2, w);    \
  }
        NN_Q8_ROW(0) NN_Q8_ROW(1) NN_Q8_ROW(2) NN_Q8_ROW(3) NN_Q8_ROW(4) NN_Q8_ROW(5) NN_Q8_ROW(6) NN_Q8_ROW(7)
#undef NN_Q8_ROW
      }
    }
#define NN_Q8_STORE(o)                                          \
  _mm512_storeu_si512(acc + (o) * ld + p0, a##o##0);            \
  _mm512_storeu_si512(acc + (o) * ld + p0 + 16, a##o##1);       \
  _mm512_storeu_si512(acc + (o) * ld + p0 + 32, a##o##2);
    NN_Q8_STORE(0) NN_Q8_STORE(1) NN_Q8_STORE(2) NN_Q8_STORE(3) NN_Q8_STORE(4) NN_Q8_STORE(5) NN_Q8_STORE(6)
    NN_Q8_STORE(7)
#undef NN_Q8_STORE
  }
}
#endif

// The portable kernel: the same sums, in plain integer code.
inline void tile_portable(const std::uint8_t* xp, const ConvLayout& L, const std::int32_t* wb, std::int32_t* acc,
                          Index ld) {
  for (Index o = 0; o < kConvOC; ++o) std::fill(acc + o * ld, acc + o * ld + L.wide, 0);
  const std::int32_t* wt = wb;
  for (Index cq = 0; cq < L.Cq; ++cq)
    for (Index t = 0; t < L.taps; ++t, wt += kConvOC) {
      const std::uint8_t* xr = xp + cq * L.quad_bytes() + L.tap[static_cast<std::size_t>(t)];
      for (Index o = 0; o < kConvOC; ++o) {
        std::int8_t w[4];
        std::memcpy(w, wt + o, 4);
        if ((w[0] | w[1] | w[2] | w[3]) == 0) continue;
        std::int32_t* a = acc + o * ld;
        for (Index p = 0; p < L.wide; ++p)
          a[p] += std::int32_t(xr[4 * p]) * w[0] + std::int32_t(xr[4 * p + 1]) * w[1] +
                  std::int32_t(xr[4 * p + 2]) * w[2] + std::int32_t(xr[4 * p + 3]) * w[3];
      }
    }
}

// What a convolution's epilogue produces.
struct ConvOut {
  const Requant* rq = nullptr;      // mult, bias, offset per output channel
  bool relu = false;
  const Pool2DGeom* pool = nullptr; // a max pool over the conv output, or null
  bool float_out = false;           // float (N, OC, OH', OW') instead of u8 C4
  QParams q;                        // the u8 output's parameters
};

namespace detail {
#if NN_X86_AVX512_KERNELS
// y[i] = fma(float(a[i] - off), m, b), then max(0) when relu; i in [0, n).
__attribute__((target("avx512f"))) inline void affine_row_avx512(const std::int32_t* a, Index n, std::int32_t off,
                                                                 float m, float b, bool relu, float* y) {
  const __m512i vo = _mm512_set1_epi32(off);
  const __m512 vm = _mm512_set1_ps(m), vb = _mm512_set1_ps(b), z = _mm512_setzero_ps();
  for (Index i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512i v = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, a + i), vo);
    __m512 f = _mm512_fmadd_ps(avx512::cvtepi32_ps(v), vm, vb);
    if (relu) f = avx512::max_ps(f, z);
    _mm512_mask_storeu_ps(y + i, k, f);
  }
}
#endif

inline void affine_row(const std::int32_t* a, Index n, std::int32_t off, float m, float b, bool relu, float* y) {
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled()) return affine_row_avx512(a, n, off, m, b, relu, y);
#endif
  for (Index i = 0; i < n; ++i) {
    const float f = std::fma(static_cast<float>(a[i] - off), m, b);
    y[i] = relu ? (f > 0.0f ? f : 0.0f) : f;
  }
}

struct ConvScratch {
  std::vector<std::int32_t> acc, pooled;
  static ConvScratch& mine() {
    thread_local ConvScratch s;
    return s;
  }
};

// Four channels' sums src[l] (rows of stride ld, OH x OW used; null: a
// channel past OC) -> OH * OW C4 words at out: affine map, ReLU and
// quantization in registers, one pass.
struct QuadRequant {
  const std::int32_t* src[4];
  std::int32_t off[4];
  float mult[4], bias[4];
};

#if NN_X86_AVX512_KERNELS
__attribute__((target("avx512f"))) inline void requant_quad_avx512(const QuadRequant& c, Index ld, Index OH, Index OW,
                                                                   bool relu, float inv, std::int32_t zp,
                                                                   std::uint8_t* out) {
  const __m512 vinv = _mm512_set1_ps(inv), vz = _mm512_set1_ps(static_cast<float>(zp)), zero = _mm512_setzero_ps();
  const __m512i zq = _mm512_set1_epi32(zp);
  for (Index oh = 0; oh < OH; ++oh)
    for (Index ow = 0; ow < OW; ow += 16) {
      const __mmask16 k = OW - ow >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (OW - ow)) - 1);
      __m512i w = _mm512_setzero_si512();
      for (int l = 0; l < 4; ++l) {
        __m512i q = zq;
        if (c.src[l]) {
          const __m512i a = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, c.src[l] + oh * ld + ow), _mm512_set1_epi32(c.off[l]));
          __m512 f = _mm512_fmadd_ps(avx512::cvtepi32_ps(a), _mm512_set1_ps(c.mult[l]), _mm512_set1_ps(c.bias[l]));
          if (relu) f = avx512::max_ps(f, zero);
          q = quantize16(f, vinv, vz);
        }
        w = _mm512_or_si512(w, avx512::slli_epi32(q, 8 * l));
      }
      _mm512_mask_storeu_epi32(out + 4 * (oh * OW + ow), k, w);
    }
}
#endif

inline void requant_quad(const QuadRequant& c, Index ld, Index OH, Index OW, bool relu, float inv, std::int32_t zp,
                         std::uint8_t* out) {
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled()) return requant_quad_avx512(c, ld, OH, OW, relu, inv, zp, out);
#endif
  for (Index oh = 0; oh < OH; ++oh)
    for (Index ow = 0; ow < OW; ++ow)
      for (int l = 0; l < 4; ++l) {
        std::uint8_t q = static_cast<std::uint8_t>(zp);
        if (c.src[l]) {
          float f = std::fma(static_cast<float>(c.src[l][oh * ld + ow] - c.off[l]), c.mult[l], c.bias[l]);
          if (relu) f = f > 0.0f ? f : 0.0f;
          q = quantize_one(f, inv, zp);
        }
        out[4 * (oh * OW + ow) + l] = q;
      }
}

// The epilogue of one 8-channel tile of one sample: acc (8, ld) -> y.
inline void finish_tile(const std::int32_t* acc, Index ld, Index tile, const ConvLayout& L, const ConvOut& out,
                        void* y_sample, ConvScratch& s) {
  const Conv2DGeom& g = L.g;
  const Index OH = out.pool ? out.pool->OH : g.OH, OW = out.pool ? out.pool->OW : g.OW, n = OH * OW;
  const Index o0 = tile * kConvOC, src_ld = out.pool ? OW : L.Wq;
  // Each channel's sums, pooled first when a pool is fused.
  const std::int32_t* src[kConvOC] = {};
  if (out.pool) s.pooled.resize(static_cast<std::size_t>(kConvOC * n));
  for (Index l = 0; l < kConvOC && o0 + l < g.OC; ++l) {
    src[l] = acc + l * ld;
    if (out.pool) {
      pool_sums(src[l], L.Wq, *out.pool, s.pooled.data() + l * n);
      src[l] = s.pooled.data() + l * n;
    }
  }
  if (out.float_out) {
    for (Index l = 0; l < kConvOC && o0 + l < g.OC; ++l) {
      const auto o = static_cast<std::size_t>(o0 + l);
      float* row = static_cast<float*>(y_sample) + (o0 + l) * n;
      for (Index oh = 0; oh < OH; ++oh)
        affine_row(src[l] + oh * src_ld, OW, out.rq->offset[o], out.rq->mult[o], out.rq->bias[o], out.relu,
                   row + oh * OW);
    }
    return;
  }
  auto* yq = static_cast<std::uint8_t*>(y_sample);
  for (Index h = 0; h < 2; ++h) {
    const Index quad = o0 / 4 + h;
    if (quad * 4 >= g.OC) break;
    QuadRequant c{};
    for (int l = 0; l < 4; ++l) {
      const Index o = quad * 4 + l;
      c.src[l] = o < g.OC ? src[o - o0] : nullptr;
      if (o < g.OC)
        c.off[l] = out.rq->offset[std::size_t(o)], c.mult[l] = out.rq->mult[std::size_t(o)],
        c.bias[l] = out.rq->bias[std::size_t(o)];
    }
    requant_quad(c, src_ld, OH, OW, out.relu, out.q.inv_scale(), out.q.zero_point, yq + quad * n * 4);
  }
}
}  // namespace detail

// The whole convolution: x (N, Cq, H, W, 4) u8 with zero point zp_x -> y.
inline void conv2d_int8(const std::uint8_t* x, Index N, const ConvLayout& L, const ConvWeights& w,
                        std::int32_t zp_x, const ConvOut& out, void* y) {
  const Conv2DGeom& g = L.g;
  if (L.lanes != 4) throw std::invalid_argument("conv2d_int8: the layout is not an int8 one (conv_layout)");
  const Index OH = out.pool ? out.pool->OH : g.OH, OW = out.pool ? out.pool->OW : g.OW;
  const Index y_bytes = out.float_out ? g.OC * OH * OW * Index(sizeof(float)) : quads(g.OC) * OH * OW * 4;
  if (out.pool)
    for (float m : out.rq->mult)
      if (!(m > 0)) throw std::invalid_argument("conv2d_int8: a fused max pool needs positive requantization scales");
  const bool vnni = vnni_enabled();
  const double work = double(N) * double(L.OCp) * double(L.wide) * double(L.Cq * L.taps);
  auto tile = [&](const std::uint8_t* xp, Index n, Index t) {
    auto& s = detail::ConvScratch::mine();
    s.acc.resize(static_cast<std::size_t>(kConvOC * L.wide));
    const std::int32_t* wb = w.packed.data() + t * L.Cq * L.taps * kConvOC;
#if NN_X86_AVX512_KERNELS
    if (vnni) tile_vnni(xp, L, wb, s.acc.data(), L.wide);
    else
#endif
      tile_portable(xp, L, wb, s.acc.data(), L.wide);
    detail::finish_tile(s.acc.data(), L.wide, t, L, out, static_cast<char*>(y) + n * y_bytes, s);
  };
  (void)vnni;
  phase::for_each_tile(x, N, L, zp_x, work, tile);
}

}  // namespace nn::kernels::q8
