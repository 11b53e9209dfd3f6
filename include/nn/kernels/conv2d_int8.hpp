// nn/kernels/conv2d_int8.hpp — int8 convolution: u8 activations (C4 layout,
// nn/kernels/quant8.hpp) times s8 weights, int32 sums, and the epilogue that
// turns each sum into the next layer's input (bias, ReLU, max pooling,
// requantization to u8, or float output) while the tile is in cache.
//   x (N, ceil(C/4), H, W, 4) u8 -> y (N, ceil(OC/4), OH', OW', 4) u8 or (N, OC, OH', OW') float
//   weights (OC, C, KH, KW) quantized per output channel
// (OH', OW') is (OH, OW), or the max pool's output when one is fused.
//
// Any stride, padding and dilation run through one kernel, by reading the
// padded input as SH x SW "phase planes": plane (a, b)[i][j] = xpad[i*SH + a][j*SW + b].
// Tap (kh, kw) of output pixel (oh, ow) reads xpad[oh*SH + r][ow*SW + s]
// (r = kh*DH, s = kw*DW), which is plane (r % SH, s % SW) at
// [oh + r / SH][ow + s / SW]: with output pixel p = oh * Wq + ow (Wq the
// planes' width), every tap is one contiguous run of the planes, for all
// output rows at once — conv2d_direct.hpp's "wide" trick, per phase. The
// Wq - OW extra columns per row are computed and dropped by the epilogue.
// Padding holds the input's zero point, so it is exactly 0 in real terms.
//
// Micro-kernel (AVX-512 VNNI): 8 output channels x 48 pixels = 24 int32
// accumulators; per (channel quad, tap): 3 loads of 16 pixels x 4 channels,
// 8 broadcasts of 4 weights, 24 vpdpbusd (64 u8 x s8 products each). The
// portable kernel computes the same integer sums (integer addition is exact,
// so every path agrees bit for bit).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/pool2d.hpp"
#include "nn/kernels/quant8.hpp"

namespace nn::kernels::q8 {

constexpr Index kConvOC = 8;    // output channels per micro-tile
constexpr Index kConvPix = 48;  // pixels per micro-tile (3 x 16)

// Where everything sits for one convolution geometry.
//
// Few input channels (an image's 1 or 3) would leave most of each 4-byte
// word's lanes empty. When it takes fewer words, a stride-1 (in width)
// convolution is "folded": its KW taps along the width become channels,
// x'[c * KW + kw][h][j] = xpad[c][h][j + kw * DW] (width OW, the horizontal
// padding applied), and the convolution runs as a KH x 1 one over C * KW
// channels (W1's first layer, 1 channel 5x5: 10 words per output instead
// of 25). `g` is then the folded geometry; `orig` is always the layer's.
struct ConvLayout {
  Conv2DGeom g, orig;
  bool folded = false;
  Index Cq = 0, P = 1, Hq = 0, Wq = 0, plane = 0, taps = 0, wide = 0, OCp = 0, slack = 0;
  std::vector<Index> tap;  // byte offset of each tap from its channel quad's first phase plane

  static ConvLayout make(const Conv2DGeom& geom) {
    ConvLayout L;
    L.orig = geom;
    L.orig.infer_output();
    Conv2DGeom g = L.orig;
    if (g.SW == 1 && g.KW > 1 && quads(g.C * g.KW) < quads(g.C) * g.KW && g.C * g.KW * g.KH <= kMaxDepth) {
      L.folded = true;
      g.C = g.C * g.KW, g.W = L.orig.OW, g.KW = 1, g.DW = 1, g.PL = g.PR = 0;
      g.infer_output();
    }
    L.g = g;
    L.Cq = quads(g.C);
    L.P = g.SH * g.SW;
    const Index hp = g.H + g.PT + g.PB, wp = g.W + g.PL + g.PR;
    L.Hq = (hp + g.SH - 1) / g.SH;
    L.Wq = (wp + g.SW - 1) / g.SW;
    L.plane = L.Hq * L.Wq;
    L.taps = g.KH * g.KW;
    L.wide = (L.g.OH * L.Wq + kConvPix - 1) / kConvPix * kConvPix;
    L.OCp = (g.OC + kConvOC - 1) / kConvOC * kConvOC;
    if (L.Cq * 4 * L.taps > kMaxDepth)
      throw std::invalid_argument("conv2d_int8: " + std::to_string(geom.C) + " channels x " +
                                  std::to_string(geom.KH * geom.KW) + " taps exceeds the int32 accumulator's safe depth");
    Index far = 0;
    for (Index kh = 0; kh < g.KH; ++kh)
      for (Index kw = 0; kw < g.KW; ++kw) {
        const Index r = kh * g.DH, s = kw * g.DW;
        const Index off = (r % g.SH * g.SW + s % g.SW) * L.plane + (r / g.SH) * L.Wq + s / g.SW;
        L.tap.push_back(off * 4);
        far = std::max(far, off);
      }
    // The last tile reads up to wide + far pixels past the last quad's start.
    L.slack = std::max<Index>(0, L.wide + far - L.P * L.plane) * 4 + 64;
    return L;
  }
  Index quad_bytes() const { return P * plane * 4; }
  Index padded_bytes() const { return Cq * quad_bytes() + slack; }
  // Bytes of one sample of the layer's input (C4 layout of orig).
  Index in_bytes() const { return quads(orig.C) * orig.H * orig.W * 4; }
  // Bytes of one folded sample (C4 layout of g), when folded.
  Index folded_bytes() const { return Cq * g.H * g.W * 4; }
};

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

// One sample's input x (Cq, H, W, 4) into the phase planes xp
// (Cq, P, Hq, Wq, 4) + slack, padding with zero point zp.
inline void pad_sample(const std::uint8_t* x, const ConvLayout& L, std::int32_t zp, std::uint8_t* xp) {
  const Conv2DGeom& g = L.g;
  std::memset(xp, zp, static_cast<std::size_t>(L.padded_bytes()));
  for (Index cq = 0; cq < L.Cq; ++cq)
    for (Index a = 0; a < g.SH; ++a)
      for (Index b = 0; b < g.SW; ++b) {
        std::uint8_t* pl = xp + cq * L.quad_bytes() + (a * g.SW + b) * L.plane * 4;
        for (Index i = 0; i < L.Hq; ++i) {
          const Index h = i * g.SH + a - g.PT;
          if (h < 0 || h >= g.H) continue;
          const std::uint8_t* src = x + (cq * g.H + h) * g.W * 4;
          std::uint8_t* dst = pl + i * L.Wq * 4;
          if (g.SW == 1) {
            std::memcpy(dst + g.PL * 4, src, static_cast<std::size_t>(g.W * 4));
            continue;
          }
          for (Index j = 0; j < L.Wq; ++j) {
            const Index w = j * g.SW + b - g.PL;
            if (w >= 0 && w < g.W) std::memcpy(dst + j * 4, src + w * 4, 4);
          }
        }
      }
}

// A folded layout's input: one sample x (quads(C), H, W, 4) -> xf
// (quads(C * KW), H, OW, 4), channel c * KW + kw at column j holding
// x[c][h][j + kw * DW - PL] (zp outside the image).
inline void fold_sample(const std::uint8_t* x, const ConvLayout& L, std::int32_t zp, std::uint8_t* xf) {
  const Conv2DGeom& G = L.orig;
  const Index OW = L.g.W;
  std::memset(xf, zp, static_cast<std::size_t>(L.folded_bytes()));
  for (Index c = 0; c < G.C; ++c)
    for (Index kw = 0; kw < G.KW; ++kw) {
      const Index cf = c * G.KW + kw, shift = kw * G.DW - G.PL;
      for (Index h = 0; h < G.H; ++h) {
        const std::uint8_t* src = x + ((c / 4) * G.H + h) * G.W * 4 + c % 4;
        std::uint8_t* dst = xf + ((cf / 4) * G.H + h) * OW * 4 + cf % 4;
        const Index j0 = std::max<Index>(0, -shift), j1 = std::min<Index>(OW, G.W - shift);
        for (Index j = j0; j < j1; ++j) dst[4 * j] = src[4 * (j + shift)];
      }
    }
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
    __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), vm, vb);
    if (relu) f = _mm512_max_ps(f, z);
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

// Max pool of one channel's sums acc (rows of stride ld, H x W used) into
// dst (OH, OW) int32; padded positions are left out of each window. Pooling
// the sums before the affine map gives the same result as pooling its
// output: the map (scale > 0, then ReLU) never decreases, so it commutes
// with max exactly.
inline void max_pool_sums(const std::int32_t* acc, Index ld, const Pool2DGeom& p, std::int32_t* dst) {
  for (Index oh = 0; oh < p.OH; ++oh)
    for (Index ow = 0; ow < p.OW; ++ow) {
      const Index h0 = oh * p.SH - p.PH, w0 = ow * p.SW - p.PW;
      std::int32_t m = std::numeric_limits<std::int32_t>::min();
      for (Index i = std::max<Index>(h0, 0); i < std::min(h0 + p.KH, p.H); ++i)
        for (Index j = std::max<Index>(w0, 0); j < std::min(w0 + p.KW, p.W); ++j) m = std::max(m, acc[i * ld + j]);
      dst[oh * p.OW + ow] = m;
    }
}

#if NN_X86_AVX512_KERNELS
// The 2x2, stride 2, unpadded case: 16 outputs per step.
__attribute__((target("avx512f"))) inline void max_pool_sums_2x2(const std::int32_t* acc, Index ld,
                                                                 const Pool2DGeom& p, std::int32_t* dst) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (Index oh = 0; oh < p.OH; ++oh) {
    const std::int32_t* r0 = acc + 2 * oh * ld;
    const std::int32_t* r1 = r0 + ld;
    std::int32_t* d = dst + oh * p.OW;
    Index ow = 0;
    for (; ow + 16 <= p.OW; ow += 16) {
      const __m512i a = _mm512_max_epi32(_mm512_loadu_si512(r0 + 2 * ow), _mm512_loadu_si512(r1 + 2 * ow));
      const __m512i b = _mm512_max_epi32(_mm512_loadu_si512(r0 + 2 * ow + 16), _mm512_loadu_si512(r1 + 2 * ow + 16));
      _mm512_storeu_si512(d + ow, _mm512_max_epi32(_mm512_permutex2var_epi32(a, even, b),
                                                   _mm512_permutex2var_epi32(a, odd, b)));
    }
    for (; ow < p.OW; ++ow)
      d[ow] = std::max(std::max(r0[2 * ow], r0[2 * ow + 1]), std::max(r1[2 * ow], r1[2 * ow + 1]));
  }
}
#endif

inline void pool_sums(const std::int32_t* acc, Index ld, const Pool2DGeom& p, std::int32_t* dst) {
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled() && p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2 && p.PH == 0 && p.PW == 0)
    return max_pool_sums_2x2(acc, ld, p, dst);
#endif
  max_pool_sums(acc, ld, p, dst);
}

struct ConvScratch {
  std::vector<std::uint8_t> padded, folded;
  std::vector<std::int32_t> acc;
  std::vector<std::int32_t> pooled;
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
          __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(c.mult[l]), _mm512_set1_ps(c.bias[l]));
          if (relu) f = _mm512_max_ps(f, zero);
          q = quantize16(f, vinv, vz);
        }
        w = _mm512_or_si512(w, _mm512_slli_epi32(q, 8 * l));
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
  const Index tiles = L.OCp / kConvOC;
  const Index OH = out.pool ? out.pool->OH : g.OH, OW = out.pool ? out.pool->OW : g.OW;
  const Index y_bytes = out.float_out ? g.OC * OH * OW * Index(sizeof(float)) : quads(g.OC) * OH * OW * 4;
  if (out.pool)
    for (float m : out.rq->mult)
      if (!(m > 0)) throw std::invalid_argument("conv2d_int8: a fused max pool needs positive requantization scales");
  const bool vnni = vnni_enabled();
  const double work = double(N) * double(L.OCp) * double(L.wide) * double(L.Cq * L.taps);
  auto tile = [&](const std::uint8_t* xp, Index n, Index t, detail::ConvScratch& s) {
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
  const nn::detail::Team team = nn::detail::plan_team(work >= 1e6);
  // One sample into its padded phase planes (through the folded layout if any).
  auto pad = [&](Index n, std::uint8_t* dst, detail::ConvScratch& s) {
    const std::uint8_t* src = x + n * L.in_bytes();
    if (L.folded) {
      s.folded.resize(static_cast<std::size_t>(L.folded_bytes()));
      fold_sample(src, L, zp_x, s.folded.data());
      src = s.folded.data();
    }
    pad_sample(src, L, zp_x, dst);
  };
  if (N >= team.threads) {  // a sample per work item
    nn::detail::parallel_for(team, N, 1, [&](std::ptrdiff_t n, int) {
      auto& s = detail::ConvScratch::mine();
      s.padded.resize(static_cast<std::size_t>(L.padded_bytes()));
      pad(n, s.padded.data(), s);
      for (Index t = 0; t < tiles; ++t) tile(s.padded.data(), n, t, s);
    });
    return;
  }
  // Fewer samples than threads: pad them all, then share out the tiles.
  std::vector<std::uint8_t> padded(static_cast<std::size_t>(N * L.padded_bytes()));
  for (Index n = 0; n < N; ++n) pad(n, padded.data() + n * L.padded_bytes(), detail::ConvScratch::mine());
  nn::detail::parallel_for(team, N * tiles, 1, [&](std::ptrdiff_t i, int) {
    const Index n = i / tiles;
    tile(padded.data() + n * L.padded_bytes(), n, i % tiles, detail::ConvScratch::mine());
  });
}

}  // namespace nn::kernels::q8
