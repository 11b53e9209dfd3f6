// nn/kernels/conv2d_direct.hpp — direct convolution for stride 1, dilation 1,
// float, on CPUs with AVX-512 (checked at run time; the code is compiled for
// AVX-512 whatever the -march flags). No im2col matrix: the padded input plane
// is read in place.
//
// The "wide" trick: a sample's input is copied once, zero-padded, into planes
// of Hp x Wp (Wp = W + left + right). Output pixel (oh, ow) then sits at
// p = oh * Wp + ow, and tap (kh, kw) of every output pixel reads
//   xpad[c][p + kh * Wp + kw]
// — one contiguous run per tap, for all output rows at once. Computing the
// output over p in [0, OH * Wp) also yields Wp - OW garbage columns per row
// (a few percent for 3x3 kernels on 16-56 wide maps), which the copy into y drops;
// that copy applies the bias and the epilogue.
//
// Micro-kernel: 8 output channels x 48 pixels (3 zmm) = 24 accumulators; per
// tap 3 loads of input, 8 weight broadcasts, 24 FMAs.
//
// The input gradient of a stride-1 convolution is itself one (a "full"
// correlation of dy with the flipped, transposed kernel), so backward_data
// runs the same kernel. The weight gradient (weight_grad) reads the same
// padded planes, with the output gradient transposed so that SIMD lanes run
// over output channels.
#pragma once
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "nn/kernels/cpu.hpp"
#include "nn/kernels/epilogue.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>
#endif
#define NN_DIRECT_CONV NN_X86_AVX512_KERNELS

namespace nn::kernels {

namespace direct {

constexpr Index kOC = 8;   // output channels per micro-tile
constexpr Index kPix = 48;  // pixels per micro-tile (3 x 16 floats)

// One convolution in the wide layout: input planes (C, Hp, Wp) padded,
// kernel (KH, KW), output rows OH = Hp - KH + 1 of width OW <= Wp - KW + 1.
struct Plane {
  Index C = 0, Hp = 0, Wp = 0, KH = 0, KW = 0, OH = 0, OW = 0;
  Index PT = 0, PL = 0, H = 0, W = 0;  // where the unpadded input sits
  Index wide() const { return (OH * Wp + kPix - 1) / kPix * kPix; }  // computed pixels per channel
  Index padded_size() const { return C * Hp * Wp + kPix + KW + 16; }  // + slack read by the last tile
};

#if NN_DIRECT_CONV
// out (8, ld) overwritten: out[o][p] = sum_{c,kh,kw} wb[((c*KH+kh)*KW+kw)*8 + o] * xp[c][p + kh*Wp + kw]
// for p in [0, wide) in tiles of 48. xp: padded planes (C, Hp, Wp) plus slack.
// Not inlined: inlined into the OpenMP region of each caller, its code
// (register allocation, spills) would change with the program around it.
__attribute__((target("avx512f"), noinline)) inline void tile_8x48(const float* xp, const Plane& pl,
                                                                   const float* wb, float* out, Index ld) {
  const Index HpWp = pl.Hp * pl.Wp, wide = pl.wide();
  for (Index p0 = 0; p0 < wide; p0 += kPix) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00, a21 = a00,
           a22 = a00, a30 = a00, a31 = a00, a32 = a00, a40 = a00, a41 = a00, a42 = a00, a50 = a00, a51 = a00,
           a52 = a00, a60 = a00, a61 = a00, a62 = a00, a70 = a00, a71 = a00, a72 = a00;
    const float* wt = wb;
    for (Index c = 0; c < pl.C; ++c)
      for (Index kh = 0; kh < pl.KH; ++kh) {
        const float* xr = xp + c * HpWp + kh * pl.Wp + p0;
        for (Index kw = 0; kw < pl.KW; ++kw, wt += kOC) {
          const __m512 v0 = _mm512_loadu_ps(xr + kw), v1 = _mm512_loadu_ps(xr + kw + 16),
                       v2 = _mm512_loadu_ps(xr + kw + 32);
#define NN_DIRECT_ROW(o)                       \
  {                                            \
    const __m512 w = _mm512_set1_ps(wt[o]);    \
    a##o##0 = _mm512_fmadd_ps(w, v0, a##o##0); \
    a##o##1 = _mm512_fmadd_ps(w, v1, a##o##1); \
    a##o##2 = _mm512_fmadd_ps(w, v2, a##o##2); \
  }
          NN_DIRECT_ROW(0) NN_DIRECT_ROW(1) NN_DIRECT_ROW(2) NN_DIRECT_ROW(3)
          NN_DIRECT_ROW(4) NN_DIRECT_ROW(5) NN_DIRECT_ROW(6) NN_DIRECT_ROW(7)
#undef NN_DIRECT_ROW
        }
      }
#define NN_DIRECT_STORE(o)                               \
  _mm512_storeu_ps(out + o * ld + p0, a##o##0);          \
  _mm512_storeu_ps(out + o * ld + p0 + 16, a##o##1);     \
  _mm512_storeu_ps(out + o * ld + p0 + 32, a##o##2);
    NN_DIRECT_STORE(0) NN_DIRECT_STORE(1) NN_DIRECT_STORE(2) NN_DIRECT_STORE(3)
    NN_DIRECT_STORE(4) NN_DIRECT_STORE(5) NN_DIRECT_STORE(6) NN_DIRECT_STORE(7)
#undef NN_DIRECT_STORE
  }
}

// Weight gradient of S samples, vectorized along output channels:
//   dwT (C*KH*KW, OCp) += sum_{s, oh, ow} xp_s[c][(oh+kh)*Wp + ow + kw] * dyT_s[oh*OW + ow][o]
// xp_s = xp + s * xs: padded planes (C, Hp, Wp); dyT_s = dyT + s * ds:
// (OH*OW, OCp) the output gradient transposed, zero in columns >= OC; OCp a
// multiple of 32. Micro-tile: 32 output channels (2 zmm) x NT taps of one
// input channel = 2*NT accumulators; per pixel 2 loads, NT broadcasts, 2*NT
// FMAs. No horizontal sums: lanes are output channels. The accumulators run
// over all S samples before they are added into dwT: on small maps (8x8) one
// sample is only 64 pixels per tile, and a read-modify-write of dwT (in L2)
// after every sample would cost more than the products of that sample.
template <int NT>
__attribute__((target("avx512f"))) inline void weight_grad_tile(const float* xc, const Index* off, const float* dyT,
                                                                 Index OCp, Index OH, Index OW, Index Wp, Index S,
                                                                 Index xs, Index ds, float* out) {
  __m512 a0[NT], a1[NT];
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) a0[t] = _mm512_setzero_ps(), a1[t] = _mm512_setzero_ps();
  for (Index s = 0; s < S; ++s)
    for (Index oh = 0; oh < OH; ++oh) {
      const float* xr = xc + s * xs + oh * Wp;
      const float* dr = dyT + s * ds + oh * OW * OCp;
      for (Index ow = 0; ow < OW; ++ow) {
        const __m512 d0 = _mm512_loadu_ps(dr + ow * OCp), d1 = _mm512_loadu_ps(dr + ow * OCp + 16);
#pragma GCC unroll 16
        for (int t = 0; t < NT; ++t) {
          const __m512 b = _mm512_set1_ps(xr[ow + off[t]]);
          a0[t] = _mm512_fmadd_ps(b, d0, a0[t]);
          a1[t] = _mm512_fmadd_ps(b, d1, a1[t]);
        }
      }
    }
#pragma GCC unroll 16
  for (int t = 0; t < NT; ++t) {
    float* o = out + t * OCp;
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), a0[t]));
    _mm512_storeu_ps(o + 16, _mm512_add_ps(_mm512_loadu_ps(o + 16), a1[t]));
  }
}

// All taps of every input channel, for 32 output channels at a time; taps of
// a channel go in equal tiles of up to 14 (3x3: one of 9; 5x5: 13 and 12
// rather than 12, 12 and a one-tap tile bound by FMA latency).
// S samples: xp + s * xs and dyT + s * ds.
inline void weight_grad(const float* xp, const Plane& pl, const float* dyT, Index OCp, float* dwT, Index S = 1,
                        Index xs = 0, Index ds = 0) {
  const Index HpWp = pl.Hp * pl.Wp, T = pl.KH * pl.KW;
  const Index tiles = (T + 13) / 14, step = (T + tiles - 1) / tiles;
  Index off[14];
  for (Index o0 = 0; o0 < OCp; o0 += 32)
    for (Index c = 0; c < pl.C; ++c)
      for (Index t0 = 0; t0 < T; t0 += step) {
        const Index nt = std::min<Index>(step, T - t0);
        for (Index t = 0; t < nt; ++t) off[t] = ((t0 + t) / pl.KW) * pl.Wp + (t0 + t) % pl.KW;
        const float* xc = xp + c * HpWp;
        float* out = dwT + (c * T + t0) * OCp + o0;
        const float* d = dyT + o0;
        switch (nt) {
#define NN_DW_CASE(n) \
  case n: weight_grad_tile<n>(xc, off, d, OCp, pl.OH, pl.OW, pl.Wp, S, xs, ds, out); break;
          NN_DW_CASE(1) NN_DW_CASE(2) NN_DW_CASE(3) NN_DW_CASE(4) NN_DW_CASE(5) NN_DW_CASE(6)
          NN_DW_CASE(7) NN_DW_CASE(8) NN_DW_CASE(9) NN_DW_CASE(10) NN_DW_CASE(11) NN_DW_CASE(12)
          NN_DW_CASE(13) NN_DW_CASE(14)
#undef NN_DW_CASE
          default: break;
        }
      }
}

// dst[i * ldd + j] = src[j * lds + i] for i, j < 16: a 16 x 16 block
// transposed in registers (two rounds of in-lane unpacks, two of 128-bit
// lane shuffles), where the scalar loop moved one float per load and store.
__attribute__((target("avx512f"))) inline void transpose16(const float* src, Index lds, float* dst, Index ldd) {
  // the zero-masked forms with every lane on: the plain ones trip GCC 12's
  // uninitialized-variable warning on their internal pass-through operand
  constexpr __mmask16 kAll = 0xFFFF;
  constexpr __mmask8 kAll8 = 0xFF;
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {  // per 128-bit lane: r_i0 r_j0 r_i1 r_j1 | r_i2 r_j2 r_i3 r_j3
    t[i] = _mm512_maskz_unpacklo_ps(kAll, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[i], r[i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {  // per lane, rows g..g+3 of columns 0, 1, 2, 3 (+4, +8, +12 by lane)
    const __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]), c = _mm512_castps_pd(t[g + 2]),
                  d = _mm512_castps_pd(t[g + 3]);
    r[g] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, a, c));
    r[g + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, a, c));
    r[g + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, b, d));
    r[g + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, b, d));
  }
  for (int k = 0; k < 4; ++k) {  // r[4q + k] holds column k + 4m in lane m for rows 4q..4q+3
    const __m512 v0 = _mm512_maskz_shuffle_f32x4(kAll, r[k], r[4 + k], 0x88), v1 = _mm512_maskz_shuffle_f32x4(kAll, r[k], r[4 + k], 0xDD);
    const __m512 w0 = _mm512_maskz_shuffle_f32x4(kAll, r[8 + k], r[12 + k], 0x88),
                 w1 = _mm512_maskz_shuffle_f32x4(kAll, r[8 + k], r[12 + k], 0xDD);
    _mm512_storeu_ps(dst + k * ldd, _mm512_maskz_shuffle_f32x4(kAll, v0, w0, 0x88));
    _mm512_storeu_ps(dst + (k + 8) * ldd, _mm512_maskz_shuffle_f32x4(kAll, v0, w0, 0xDD));
    _mm512_storeu_ps(dst + (k + 4) * ldd, _mm512_maskz_shuffle_f32x4(kAll, v1, w1, 0x88));
    _mm512_storeu_ps(dst + (k + 12) * ldd, _mm512_maskz_shuffle_f32x4(kAll, v1, w1, 0xDD));
  }
}
#else
// Not x86-64: avx512_enabled() is false, so these are never called.
inline void weight_grad(const float*, const Plane&, const float*, Index, float*, Index = 1, Index = 0, Index = 0) {}
inline void transpose16(const float*, Index, float*, Index) {}
#endif

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: whole 16 x 16
// blocks by transpose16 (on AVX-512 CPUs), the edges element by element.
inline void transpose(const float* src, Index rows, Index cols, Index lds, float* dst, Index ldd) {
  const bool simd = avx512_enabled();
  for (Index c0 = 0; c0 < cols; c0 += 16)
    for (Index r0 = 0; r0 < rows; r0 += 16) {
      const Index ce = std::min(cols, c0 + 16), re = std::min(rows, r0 + 16);
      if (simd && ce - c0 == 16 && re - r0 == 16) {
        transpose16(src + r0 * lds + c0, lds, dst + c0 * ldd + r0, ldd);
        continue;
      }
      for (Index c = c0; c < ce; ++c)
        for (Index r = r0; r < re; ++r) dst[c * ldd + r] = src[r * lds + c];
    }
}

// x (C, H, W) one sample -> xp (C, Hp, Wp) zero-padded, then zero slack.
inline void pad_sample(const float* x, const Plane& pl, float* xp) {
  const Index HpWp = pl.Hp * pl.Wp;
  for (Index c = 0; c < pl.C; ++c) {
    float* pc = xp + c * HpWp;
    const float* xc = x + c * pl.H * pl.W;
    std::fill(pc, pc + pl.PT * pl.Wp, 0.0f);
    for (Index h = 0; h < pl.H; ++h) {
      float* row = pc + (pl.PT + h) * pl.Wp;
      std::fill(row, row + pl.PL, 0.0f);
      std::memcpy(row + pl.PL, xc + h * pl.W, static_cast<std::size_t>(pl.W) * sizeof(float));
      std::fill(row + pl.PL + pl.W, row + pl.Wp, 0.0f);
    }
    std::fill(pc + (pl.PT + pl.H) * pl.Wp, pc + HpWp, 0.0f);
  }
  std::fill(xp + pl.C * HpWp, xp + pl.padded_size(), 0.0f);
}

// Scratch for the direct kernels: packed weights, per-thread padded input,
// wide output, and a small buffer for what a store does with a tile.
struct Workspace {
  std::vector<float> wpack;
  std::vector<std::vector<float>> xpad, wide, tmp;
  void reserve(int threads, Index xsize, Index wsize, Index tsize = 0) {
    for (auto* vs : {&xpad, &wide, &tmp})
      if (static_cast<int>(vs->size()) < threads) vs->resize(static_cast<std::size_t>(threads));
    for (auto& v : xpad)
      if (static_cast<Index>(v.size()) < xsize) v.resize(static_cast<std::size_t>(xsize));
    for (auto& v : wide)
      if (static_cast<Index>(v.size()) < wsize) v.resize(static_cast<std::size_t>(wsize));
    for (auto& v : tmp)
      if (static_cast<Index>(v.size()) < tsize) v.resize(static_cast<std::size_t>(tsize));
  }
};

// Runs the convolution of N samples x (N, C, H, W), with ws.wpack already
// holding the weights as (ceil(OC/8), C, KH, KW, 8), and hands each computed
// block to store(n, o0, o1, wo, tid): output channels [o0, o1) of sample n,
// channel o at wo + (o - o0) * pl.wide(), output row oh at + oh * pl.Wp (the
// raw sums, before bias and epilogue); ws.tmp[tid] (tsize floats) is the
// store's own scratch.
// Work items are (sample, block of 8 output channels) when there are fewer
// samples than threads, else whole samples; threads take them dynamically.
template <class Store>
void run_to(const float* x, Index N, Index OC, const Plane& pl, Workspace& ws, Index tsize, Store&& store) {
#if NN_DIRECT_CONV
  const Index OCB = (OC + kOC - 1) / kOC, wide = pl.wide(), KK = pl.C * pl.KH * pl.KW;
  const nn::detail::Team team = nn::detail::plan_team(N * OCB > 1);
  const Index per_task = N >= team.threads ? OCB : 1;  // channel blocks per work item
  const Index tasks_per_n = (OCB + per_task - 1) / per_task, tasks = N * tasks_per_n;
  ws.reserve(team.threads, pl.padded_size(), kOC * wide, tsize);
  const Index in_size = pl.C * pl.H * pl.W;
  nn::detail::parallel_for(team, tasks, 1, [&](Index t, int tid) {
    const Index n = t / tasks_per_n, b0 = (t % tasks_per_n) * per_task, b1 = std::min(OCB, b0 + per_task);
    float* xp = ws.xpad[static_cast<std::size_t>(tid)].data();
    float* wo = ws.wide[static_cast<std::size_t>(tid)].data();
    pad_sample(x + n * in_size, pl, xp);
    for (Index b = b0; b < b1; ++b) {
      tile_8x48(xp, pl, ws.wpack.data() + b * KK * kOC, wo, wide);
      store(n, b * kOC, std::min(OC, (b + 1) * kOC), static_cast<const float*>(wo), tid);
    }
  });
#else
  (void)x, (void)N, (void)OC, (void)pl, (void)ws, (void)tsize, (void)store;
#endif
}

// y (N, OC, OH, OW) from run_to: per output channel o,
// y = act(scale[o] * conv + shift[o]), act = ReLU or identity; scale null
// means 1 (the caller folds bias into shift).
inline void run(const float* x, float* y, Index N, Index OC, const Plane& pl, const float* scale, const float* shift,
                bool relu, Workspace& ws) {
  const Index wide = pl.wide(), out_plane = pl.OH * pl.OW;
  run_to(x, N, OC, pl, ws, 0, [&](Index n, Index o0, Index o1, const float* wo, int) {
    for (Index o = o0; o < o1; ++o) {
      const float a = scale ? scale[o] : 1.0f, s = shift ? shift[o] : 0.0f;
      const float* src = wo + (o - o0) * wide;
      float* dst = y + (n * OC + o) * out_plane;
      for (Index oh = 0; oh < pl.OH; ++oh) epilogue_row(src + oh * pl.Wp, dst + oh * pl.OW, pl.OW, a, s, relu);
    }
  });
}

}  // namespace direct
}  // namespace nn::kernels
