// nn/kernels/conv2d_phase.hpp — what the low-precision convolutions (int8:
// conv2d_int8.hpp, bf16: conv2d_bf16.hpp) share: activations stored as
// 32-bit words of `lanes` channels (4 u8 or 2 bf16: one word is what one
// lane of a VNNI or BF16 dot product reads), the phase-plane layout that
// runs any stride, padding and dilation through one kernel, the folding of
// few-channel inputs, the max pool over a tile's sums, and the driver that
// shares samples and output-channel tiles among threads.
//
// Phase planes: the padded input is read as SH x SW planes,
// plane (a, b)[i][j] = xpad[i*SH + a][j*SW + b]. Tap (kh, kw) of output
// pixel (oh, ow) reads xpad[oh*SH + r][ow*SW + s] (r = kh*DH, s = kw*DW),
// which is plane (r % SH, s % SW) at [oh + r / SH][ow + s / SW]: with output
// pixel p = oh * Wq + ow (Wq the planes' width), every tap is one contiguous
// run of the planes, for all output rows at once — conv2d_direct.hpp's
// "wide" trick, per phase. The Wq - OW extra columns per row are computed and
// dropped by the epilogue.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/avx512.hpp"
#include "nn/kernels/cpu.hpp"
#include "nn/kernels/pool2d.hpp"
#include "nn/runtime/parallel.hpp"

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>
#endif

namespace nn::kernels::phase {

constexpr Index kConvOC = 8;    // output channels per micro-tile
constexpr Index kConvPix = 48;  // pixels per micro-tile (3 x 16)

// Words of `lanes` channels that hold c channels.
inline Index groups(Index c, Index lanes) { return (c + lanes - 1) / lanes; }

// Where everything sits for one convolution geometry.
//
// Few input channels (an image's 1 or 3) would leave most of each 32-bit
// word's lanes empty. When it takes fewer words, a stride-1 (in width)
// convolution is "folded": its KW taps along the width become channels,
// x'[c * KW + kw][h][j] = xpad[c][h][j + kw * DW] (width OW, the horizontal
// padding applied), and the convolution runs as a KH x 1 one over C * KW
// channels (W1's first layer, 1 channel 5x5: 10 words per output instead
// of 25). `g` is then the folded geometry; `orig` is always the layer's.
struct ConvLayout {
  Conv2DGeom g, orig;
  bool folded = false;
  Index lanes = 4;
  Index Cq = 0, P = 1, Hq = 0, Wq = 0, plane = 0, taps = 0, wide = 0, OCp = 0, slack = 0;
  std::vector<Index> tap;  // byte offset of each tap from its channel group's first phase plane

  // lanes: channels per 32-bit word (4 for u8, 2 for bf16); max_depth: the
  // longest sum (lanes x words x taps) the accumulator allows.
  static ConvLayout make(const Conv2DGeom& geom, Index lanes, Index max_depth) {
    ConvLayout L;
    L.lanes = lanes;
    L.orig = geom;
    L.orig.infer_output();
    Conv2DGeom g = L.orig;
    if (g.SW == 1 && g.KW > 1 && groups(g.C * g.KW, lanes) < groups(g.C, lanes) * g.KW &&
        g.C * g.KW * g.KH <= max_depth) {
      L.folded = true;
      g.C = g.C * g.KW, g.W = L.orig.OW, g.KW = 1, g.DW = 1, g.PL = g.PR = 0;
      g.infer_output();
    }
    L.g = g;
    L.Cq = groups(g.C, lanes);
    L.P = g.SH * g.SW;
    const Index hp = g.H + g.PT + g.PB, wp = g.W + g.PL + g.PR;
    L.Hq = (hp + g.SH - 1) / g.SH;
    L.Wq = (wp + g.SW - 1) / g.SW;
    L.plane = L.Hq * L.Wq;
    L.taps = g.KH * g.KW;
    L.wide = (L.g.OH * L.Wq + kConvPix - 1) / kConvPix * kConvPix;
    L.OCp = (g.OC + kConvOC - 1) / kConvOC * kConvOC;
    if (L.Cq * lanes * L.taps > max_depth)
      throw std::invalid_argument("conv2d: " + std::to_string(geom.C) + " channels x " +
                                  std::to_string(geom.KH * geom.KW) + " taps exceeds the accumulator's safe depth");
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
  // Bytes of one sample of the layer's input (orig's channels in words).
  Index in_bytes() const { return groups(orig.C, lanes) * orig.H * orig.W * 4; }
  // Bytes of one folded sample (g's channels in words), when folded.
  Index folded_bytes() const { return Cq * g.H * g.W * 4; }
};

// One sample's input x (Cq, H, W) words into the phase planes xp
// (Cq, P, Hq, Wq) words + slack; padding bytes are `fill` (u8: the zero
// point; bf16: 0).
inline void pad_sample(const std::uint8_t* x, const ConvLayout& L, std::int32_t fill, std::uint8_t* xp) {
  const Conv2DGeom& g = L.g;
  std::memset(xp, fill, static_cast<std::size_t>(L.padded_bytes()));
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

// A folded layout's input: one sample x (groups(C), H, W) words -> xf
// (groups(C * KW), H, OW) words, channel c * KW + kw at column j holding
// x[c][h][j + kw * DW - PL] (`fill` bytes outside the image).
inline void fold_sample(const std::uint8_t* x, const ConvLayout& L, std::int32_t fill, std::uint8_t* xf) {
  const Conv2DGeom& G = L.orig;
  const Index OW = L.g.W, lanes = L.lanes, eb = 4 / lanes;  // element bytes
  std::memset(xf, fill, static_cast<std::size_t>(L.folded_bytes()));
  for (Index c = 0; c < G.C; ++c)
    for (Index kw = 0; kw < G.KW; ++kw) {
      const Index cf = c * G.KW + kw, shift = kw * G.DW - G.PL;
      for (Index h = 0; h < G.H; ++h) {
        const std::uint8_t* src = x + ((c / lanes) * G.H + h) * G.W * 4 + (c % lanes) * eb;
        std::uint8_t* dst = xf + ((cf / lanes) * G.H + h) * OW * 4 + (cf % lanes) * eb;
        const Index j0 = std::max<Index>(0, -shift), j1 = std::min<Index>(OW, G.W - shift);
        for (Index j = j0; j < j1; ++j) std::memcpy(dst + 4 * j, src + 4 * (j + shift), static_cast<std::size_t>(eb));
      }
    }
}

// Max pool of one channel's sums acc (rows of stride ld, H x W used) into
// dst (OH, OW); padded positions are left out of each window. Pooling the
// sums before the epilogue's map gives the same result as pooling its
// output: the map (a positive scale, a bias, ReLU) never decreases, so it
// commutes with max exactly.
template <class T>
void max_pool_sums(const T* acc, Index ld, const Pool2DGeom& p, T* dst) {
  for (Index oh = 0; oh < p.OH; ++oh)
    for (Index ow = 0; ow < p.OW; ++ow) {
      const Index h0 = oh * p.SH - p.PH, w0 = ow * p.SW - p.PW;
      T m = std::numeric_limits<T>::lowest();
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
      const __m512i a = avx512::max_epi32(_mm512_loadu_si512(r0 + 2 * ow), _mm512_loadu_si512(r1 + 2 * ow));
      const __m512i b = avx512::max_epi32(_mm512_loadu_si512(r0 + 2 * ow + 16), _mm512_loadu_si512(r1 + 2 * ow + 16));
      _mm512_storeu_si512(d + ow, avx512::max_epi32(_mm512_permutex2var_epi32(a, even, b),
                                                   _mm512_permutex2var_epi32(a, odd, b)));
    }
    for (; ow < p.OW; ++ow)
      d[ow] = std::max(std::max(r0[2 * ow], r0[2 * ow + 1]), std::max(r1[2 * ow], r1[2 * ow + 1]));
  }
}
#endif

#if NN_X86_AVX512_KERNELS
__attribute__((target("avx512f"))) inline void max_pool_sums_2x2(const float* acc, Index ld, const Pool2DGeom& p,
                                                                 float* dst) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (Index oh = 0; oh < p.OH; ++oh) {
    const float* r0 = acc + 2 * oh * ld;
    const float* r1 = r0 + ld;
    float* d = dst + oh * p.OW;
    Index ow = 0;
    for (; ow + 16 <= p.OW; ow += 16) {
      const __m512 a = avx512::max_ps(_mm512_loadu_ps(r0 + 2 * ow), _mm512_loadu_ps(r1 + 2 * ow));
      const __m512 b = avx512::max_ps(_mm512_loadu_ps(r0 + 2 * ow + 16), _mm512_loadu_ps(r1 + 2 * ow + 16));
      _mm512_storeu_ps(d + ow, avx512::max_ps(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b)));
    }
    for (; ow < p.OW; ++ow)
      d[ow] = std::max(std::max(r0[2 * ow], r0[2 * ow + 1]), std::max(r1[2 * ow], r1[2 * ow + 1]));
  }
}
#endif

// The max pool of a tile's sums, vectorized for 2x2, stride 2, no padding.
template <class T>
void pool_sums(const T* acc, Index ld, const Pool2DGeom& p, T* dst) {
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled() && p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2 && p.PH == 0 && p.PW == 0)
    return max_pool_sums_2x2(acc, ld, p, dst);
#endif
  max_pool_sums(acc, ld, p, dst);
}

// Per-thread buffers of the drivers (padded and folded inputs).
struct Scratch {
  std::vector<std::uint8_t> padded, folded;
  static Scratch& mine() {
    thread_local Scratch s;
    return s;
  }
};

// Runs tile(xp, n, t) for every sample n and output-channel tile t (OCp / 8
// of them), xp being sample n's padded phase planes (through the folded
// layout if any; padding bytes `fill`): a sample per work item when there
// are enough samples, else all samples padded first and the tiles shared
// out. `work` (multiply-adds) decides whether threads are worth it.
template <class Tile>
void for_each_tile(const std::uint8_t* x, Index N, const ConvLayout& L, std::int32_t fill, double work, Tile&& tile) {
  const Index tiles = L.OCp / kConvOC;
  auto pad = [&](Index n, std::uint8_t* dst, Scratch& s) {
    const std::uint8_t* src = x + n * L.in_bytes();
    if (L.folded) {
      s.folded.resize(static_cast<std::size_t>(L.folded_bytes()));
      fold_sample(src, L, fill, s.folded.data());
      src = s.folded.data();
    }
    pad_sample(src, L, fill, dst);
  };
  const nn::detail::Team team = nn::detail::plan_team(work >= 1e6);
  if (N >= team.threads) {
    nn::detail::parallel_for(team, N, 1, [&](std::ptrdiff_t n, int) {
      auto& s = Scratch::mine();
      s.padded.resize(static_cast<std::size_t>(L.padded_bytes()));
      pad(n, s.padded.data(), s);
      for (Index t = 0; t < tiles; ++t) tile(s.padded.data(), Index(n), t);
    });
    return;
  }
  std::vector<std::uint8_t> padded(static_cast<std::size_t>(N * L.padded_bytes()));
  for (Index n = 0; n < N; ++n) pad(n, padded.data() + n * L.padded_bytes(), Scratch::mine());
  nn::detail::parallel_for(team, N * tiles, 1, [&](std::ptrdiff_t i, int) {
    const Index n = i / tiles;
    tile(padded.data() + n * L.padded_bytes(), n, Index(i % tiles));
  });
}

}  // namespace nn::kernels::phase
