// nn/kernels/conv2d_oc.hpp — direct convolution forward for small output
// maps, vectorized over output channels; float, AVX-512 CPUs (checked at run
// time). Any stride and dilation.
//
// The wide kernel of conv2d_direct.hpp runs its SIMD lanes along a padded
// row, so it computes Wp - OW columns per output row that are thrown away:
// a 12x12 input with a 5x5 kernel (8x8 output) computes 96
// pixels for 64. Here the lanes are output channels: a register tile holds R
// output pixels x 16*NV channels; per tap it loads NV vectors of weights
// (w packed as (K, OCp), K = C*KH*KW taps) and broadcasts one input value per
// pixel from the sample's padded planes, so any pixel set and any stride
// costs the same, and nothing is computed twice. The tile leaves through the
// epilogue into a (pixels, OCp) buffer, transposed into y (OC, OH*OW) at the
// end of the sample. Worth it where the wide kernel wastes much and K is
// large enough to pay for the transpose (conv2d.hpp decides).
#pragma once
#include <algorithm>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"
#include "nn/kernels/conv2d_geom.hpp"

namespace nn::kernels::oc {

inline Index padded_channels(Index OC) { return (OC + 15) / 16 * 16; }

// wv (K, OCp) = w (OC, K) transposed, channels past OC zero.
inline void pack_weights(const float* w, Index OC, Index K, std::vector<float>& wv) {
  const Index OCp = padded_channels(OC);
  wv.assign(static_cast<std::size_t>(K * OCp), 0.0f);
  direct::transpose(w, OC, K, K, wv.data(), OCp);
}

// Offsets into the padded planes (C, Hp, Wp): of each tap k = (c, kh, kw)
// and of each output pixel p = (oh, ow), so that pixel p reads tap k at
// xp[toff[k] + poff[p]].
inline void offsets(const Conv2DGeom& g, std::vector<Index>& toff, std::vector<Index>& poff) {
  const Index Hp = g.H + g.PT + g.PB, Wp = g.W + g.PL + g.PR;
  toff.resize(static_cast<std::size_t>(g.C * g.KH * g.KW));
  poff.resize(static_cast<std::size_t>(g.OH * g.OW));
  for (Index c = 0; c < g.C; ++c)
    for (Index kh = 0; kh < g.KH; ++kh)
      for (Index kw = 0; kw < g.KW; ++kw)
        toff[static_cast<std::size_t>((c * g.KH + kh) * g.KW + kw)] = c * Hp * Wp + kh * g.DH * Wp + kw * g.DW;
  for (Index oh = 0; oh < g.OH; ++oh)
    for (Index ow = 0; ow < g.OW; ++ow) poff[static_cast<std::size_t>(oh * g.OW + ow)] = oh * g.SH * Wp + ow * g.SW;
}

#if NN_DIRECT_CONV
// out[r * OCp + o] (r < rows) = act(scale[o] * sum_k wv[k * OCp + o] * xp[toff[k] + poff[r]] + shift[o])
// for 16 * NV channels from o0; scale/shift already offset to o0 and padded
// to OCp (scale null: 1). poff has R entries (the last ones repeated when
// rows < R).
// Taps go in blocks (K of them here; toff and wv start at the block): the
// first block starts from zero, later ones from out; only the last applies
// the epilogue.
template <int R, int NV>
__attribute__((target("avx512f"))) inline void tile(const float* xp, const Index* toff, Index K, const float* wv,
                                                     Index OCp, const Index* poff, Index rows, bool first, bool last,
                                                     const float* scale, const float* shift, bool relu, float* out) {
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[r][j] = first || r >= rows ? _mm512_setzero_ps() : _mm512_loadu_ps(out + r * OCp + 16 * j);
  Index pr[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) pr[r] = poff[r];
  for (Index k = 0; k < K; ++k) {
    const float* x = xp + toff[k];
    const float* wk = wv + k * OCp;
    __m512 wj[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) wj[j] = _mm512_loadu_ps(wk + 16 * j);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(x[pr[r]]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = _mm512_fmadd_ps(b, wj[j], acc[r][j]);
    }
  }
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const __m512 a = scale ? _mm512_loadu_ps(scale + 16 * j) : _mm512_set1_ps(1.0f);
    const __m512 s = shift ? _mm512_loadu_ps(shift + 16 * j) : zero;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      if (r >= rows) break;
      __m512 v = acc[r][j];
      if (last) {
        v = _mm512_fmadd_ps(v, a, s);
        // max(v, 0) as a masked move: GCC 12 warns about _mm512_max_ps's
        // internal undefined pass-through
        if (relu) v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), zero);
      }
      _mm512_storeu_ps(out + r * OCp + 16 * j, v);
    }
  }
}

// One sample: xp its padded planes (direct::pad_sample), yT (P, OCp)
// scratch, y (OC, P) the output. scale/shift padded to OCp (or null).
inline void forward_sample(const float* xp, const std::vector<Index>& toff, const std::vector<Index>& poff,
                           const float* wv, Index OC, const float* scale, const float* shift, bool relu, float* yT,
                           float* y) {
  const Index K = static_cast<Index>(toff.size()), P = static_cast<Index>(poff.size()), OCp = padded_channels(OC);
  Index pbuf[12];
  // Blocks of taps whose weights (kKB x 64 channels: 32 KiB) stay in L1 while
  // every pixel tile uses them; streaming all of them from L2 for each tile
  // ran at ~2/3 of the FMA peak.
  constexpr Index kKB = 128;
  for (Index o0 = 0; o0 < OCp; o0 += 64) {
    const Index NV = std::min<Index>(4, (OCp - o0) / 16), R = NV == 4 ? 6 : NV == 3 ? 8 : 12;
    const float* sc = scale ? scale + o0 : nullptr;
    const float* sh = shift ? shift + o0 : nullptr;
    for (Index k0 = 0; k0 < K; k0 += kKB) {
      const Index kb = std::min(kKB, K - k0);
      const bool first = k0 == 0, last = k0 + kb == K;
      const Index* tk = toff.data() + k0;
      const float* wk = wv + k0 * OCp + o0;
      for (Index p0 = 0; p0 < P; p0 += R) {
        const Index rows = std::min(R, P - p0);
        for (Index r = 0; r < R; ++r) pbuf[r] = poff[static_cast<std::size_t>(p0 + std::min(r, rows - 1))];
        float* out = yT + p0 * OCp + o0;
        switch (NV) {
          case 4: tile<6, 4>(xp, tk, kb, wk, OCp, pbuf, rows, first, last, sc, sh, relu, out); break;
          case 3: tile<8, 3>(xp, tk, kb, wk, OCp, pbuf, rows, first, last, sc, sh, relu, out); break;
          case 2: tile<12, 2>(xp, tk, kb, wk, OCp, pbuf, rows, first, last, sc, sh, relu, out); break;
          default: tile<12, 1>(xp, tk, kb, wk, OCp, pbuf, rows, first, last, sc, sh, relu, out); break;
        }
      }
    }
  }
  direct::transpose(yT, P, OC, OCp, y, P);  // y (OC, P) = yT (P, OCp)^T
}
#else
// Not x86-64: never called (avx512_enabled() is false).
inline void forward_sample(const float*, const std::vector<Index>&, const std::vector<Index>&, const float*, Index,
                           const float*, const float*, bool, float*, float*) {}
#endif

}  // namespace nn::kernels::oc
