// nn/kernels/conv2d_winograd.hpp — a 5x5 or 3x3 convolution (stride 1,
// dilation 1) with its epilogue and a 2x2 / stride 2 max pool, by Winograd's
// minimal filtering F(4x4, 5x5) or F(4x4, 3x3); float, AVX-512 CPUs (checked
// at run time). conv2d_pool.hpp runs it for Conv2D -> ReLU -> MaxPool2D where
// it applies (e.g. 5x5, 32 -> 64 channels on 12x12; 3x3 on 16x16 to 52x52 maps).
//
// Each 4x4 block of output pixels comes from an NxN tile d of the padded
// input (N = 8 for 5x5, 6 for 3x3; tiles 4 apart, overlapping), per input
// channel c:
//   V = B^T d B (NxN),  U = G g G^T (NxN, g the RxR kernel of (o, c)),
//   M[pos] = sum_c U[pos][c][o] * V[pos][c]  for each of the P = N*N positions,
//   y (4x4) = A^T M A,
// with the matrices of the Toom-Cook construction on the points 0, ±1, ±2,
// (±1/2 for 5x5) and infinity (winograd_transforms.hpp; derived and checked
// by scripts/winograd.py, checked again in double by
// tests/kernels/conv2d_winograd_test.cpp). The
// multiply-adds per output pixel drop from R*R * C to P * C / 16: 6.25x fewer
// for 5x5, 4x for 3x3, spent in P small GEMMs (positions) of (tiles, C) x
// (C, OC) — gemm_small.hpp's register tiles — plus the transforms
// (vectorized over 16 channels).
//
// Accuracy: the transforms scale by up to 21 and 1/360 (5x5), so float
// rounding is larger than in a direct sum: about 1e-5 (5x5) and 6e-6 (3x3)
// relative to the output's magnitude (the direct sum: 2e-7). Pooled values
// and their argmax can therefore differ from the direct kernels' on near
// ties. ConvAlgorithm::Direct (conv_select.hpp) switches it off.
//
// Layouts (per thread, for a chunk of S samples, T = S * tiles per sample):
//   xq (Hq, Wq, Cp)      one sample's input, zero-padded, channels last
//   V  (P, Tp, Cp)       transformed input tiles, Tp = T rounded up to 24
//   M  (P, Tp, OCp)      the P products
//   U  (P, Cp, OCp)      transformed weights, shared
// Cp, OCp: channels rounded up to 16 (zero beyond C, OC).
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV, direct::transpose
#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/gemm_small.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/kernels/pool2d.hpp"
#include "nn/kernels/winograd_transforms.hpp"

namespace nn::kernels::winograd {

inline Index padded16(Index c) { return (c + 15) / 16 * 16; }

struct Workspace {
  std::vector<float> wv;  // the weights transposed, (C*R*R, OCp)
  std::vector<float> U;   // (P, Cp, OCp)
  std::array<Index, 10> key{};  // the geometry the per-thread buffers were prepared for
  std::vector<float> sc, sh;  // the epilogue, padded to OCp
  std::vector<std::vector<float>> xt, xq, V, M;  // per thread
  // backward_maxpool: U transposed (P, OCp, Cp); per thread the chunk's
  // input gradients dV (P, Tp, Cp) (V and M as the forward's) and its
  // input-gradient grid dq (Hq, Wq, Cp); per group of samples the weights'
  // gradient dU (P, Cp, OCp)
  std::vector<std::vector<float>> dVt, dq;
  std::vector<float> UT, dU;
};

#if NN_DIRECT_CONV
// U (P, Cp, OCp) = G g G^T for every (c, o) of w (OC, C, R, R), 16 output
// channels per vector; with transposed, also UT (P, OCp, Cp).
template <class F>
__attribute__((target("avx512f"))) inline void transform_weights(const float* w, Index OC, Index C, Workspace& ws,
                                                                  bool transposed = false) {
  constexpr int R = F::R, N = F::N;
  const Index Cp = padded16(C), OCp = padded16(OC), K = C * R * R;
  ws.wv.assign(static_cast<std::size_t>(K * OCp), 0.0f);
  direct::transpose(w, OC, K, K, ws.wv.data(), OCp);
  ws.U.assign(static_cast<std::size_t>(F::P * Cp * OCp), 0.0f);
  for (Index c = 0; c < C; ++c)
    for (Index o0 = 0; o0 < OCp; o0 += 16) {
      __m512 g[R][R], t[N][R];
      for (int k = 0; k < R; ++k)
        for (int l = 0; l < R; ++l) g[k][l] = _mm512_loadu_ps(ws.wv.data() + (c * R * R + k * R + l) * OCp + o0);
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i)
#pragma GCC unroll 5
        for (int l = 0; l < R; ++l) {  // t = G g
          __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 5
          for (int k = 0; k < R; ++k)
            if (F::G[i][k] != 0.0f) a = _mm512_fmadd_ps(_mm512_set1_ps(F::G[i][k]), g[k][l], a);
          t[i][l] = a;
        }
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < N; ++j) {  // U = t G^T
          __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 5
          for (int l = 0; l < R; ++l)
            if (F::G[j][l] != 0.0f) a = _mm512_fmadd_ps(t[i][l], _mm512_set1_ps(F::G[j][l]), a);
          _mm512_storeu_ps(ws.U.data() + ((i * N + j) * Cp + c) * OCp + o0, a);
        }
    }
  if (transposed) {
    ws.UT.resize(static_cast<std::size_t>(F::P * OCp * Cp));
    for (Index pos = 0; pos < F::P; ++pos)
      direct::transpose(ws.U.data() + pos * Cp * OCp, Cp, OCp, OCp, ws.UT.data() + pos * OCp * Cp, Cp);
  }
}

// V[pos][t][c0..c0+16) = (B^T d B)[pos] of the NxN tile whose top-left pixel
// is xq[0]: pixel (i, j) of the tile at xq[(i * Wq + j) * Cp].
template <class F>
__attribute__((target("avx512f"))) inline void input_tile(const float* xq, Index Wq, Index Cp, float* V, Index vs) {
  constexpr int N = F::N;
  __m512 tmp[N][N];
  for (int j = 0; j < N; ++j) {  // columns: tmp[.][j] = B^T d[.][j]
    __m512 d[N], r[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) d[i] = _mm512_loadu_ps(xq + (i * Wq + j) * Cp);
    bt(F{}, d, r);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) tmp[i][j] = r[i];
  }
  for (int i = 0; i < N; ++i) {  // rows: V[i][.] = tmp[i][.] B
    __m512 r[N];
    bt(F{}, tmp[i], r);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) _mm512_storeu_ps(V + (i * N + j) * vs, r[j]);
  }
}

// The output of one tile for 16 channels: y (4x4) = A^T M A from M[pos] at
// m + pos * ms, then the epilogue.
template <class F>
__attribute__((target("avx512f"))) inline void output_tile(const float* m, Index ms, __m512 scale, __m512 shift,
                                                           bool has_scale, bool relu, __m512 (&y)[4][4]) {
  constexpr int N = F::N;
  __m512 u[4][N];
  for (int j = 0; j < N; ++j) {  // columns: u[.][j] = A^T M[.][j]
    __m512 c[N], r[4];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) c[i] = _mm512_loadu_ps(m + (i * N + j) * ms);
    at(F{}, c, r);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) u[i][j] = r[i];
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < 4; ++i) {  // rows: y[i][.] = u[i][.] A
    at(F{}, u[i], y[i]);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      __m512 v = has_scale ? _mm512_fmadd_ps(y[i][j], scale, shift) : _mm512_add_ps(y[i][j], shift);
      if (relu) v = _mm512_maskz_max_ps(0xFFFF, zero, v);  // NaN stays NaN (max returns its second operand); zero-masked: see transpose16
      y[i][j] = v;
    }
  }
}

// One tile's 2x2 pool windows for 16 channels o0.. (n < 16 of them real):
// tile (th, tw) of sample n covers output rows 4 th.., columns 4 tw...
// First maximum in window order; a NaN wins (the first one), as
// maxpool2d_forward.
__attribute__((target("avx512f"))) inline void pool_tile(const __m512 (&y)[4][4], Index th, Index tw, Index OW,
                                                         Index POH, Index POW, float* yp, std::int32_t* arg,
                                                         Index plane, Index nc) {
  alignas(64) float best_v[16], vals[4][16];
  alignas(64) std::int32_t best_i[16];
  for (int wa = 0; wa < 2; ++wa)
    for (int wb = 0; wb < 2; ++wb) {
      const Index ph = 2 * th + wa, pw = 2 * tw + wb;
      if (ph >= POH || pw >= POW) continue;
      const __m512 a = y[2 * wa][2 * wb], b = y[2 * wa][2 * wb + 1], c = y[2 * wa + 1][2 * wb],
                   d = y[2 * wa + 1][2 * wb + 1];
      const std::int32_t r0 = static_cast<std::int32_t>((2 * ph) * OW + 2 * pw);
      const std::int32_t w32 = static_cast<std::int32_t>(OW);
      __m512 best = a;
      __m512i bi = _mm512_set1_epi32(r0);
      __mmask16 k = _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, k, b), bi = _mm512_mask_mov_epi32(bi, k, _mm512_set1_epi32(r0 + 1));
      k = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, k, c), bi = _mm512_mask_mov_epi32(bi, k, _mm512_set1_epi32(r0 + w32));
      k = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, k, d), bi = _mm512_mask_mov_epi32(bi, k, _mm512_set1_epi32(r0 + w32 + 1));
      const __mmask16 nan = static_cast<__mmask16>(
          _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q) |
          _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q));
      _mm512_store_ps(best_v, best);
      _mm512_store_si512(best_i, bi);
      if (nan) {
        _mm512_store_ps(vals[0], a), _mm512_store_ps(vals[1], b), _mm512_store_ps(vals[2], c),
            _mm512_store_ps(vals[3], d);
        const std::int32_t offs[4] = {0, 1, w32, w32 + 1};
        for (int l = 0; l < 16; ++l)
          if (nan >> l & 1)
            for (int q = 0; q < 4; ++q)
              if (vals[q][l] != vals[q][l]) {
                best_v[l] = vals[q][l], best_i[l] = r0 + offs[q];
                break;
              }
      }
      const Index o = ph * POW + pw;
      for (Index l = 0; l < nc; ++l) yp[l * plane + o] = best_v[l];
      if (arg)
        for (Index l = 0; l < nc; ++l) arg[l * plane + o] = best_i[l];
    }
}
#endif

// The shape of one call: tiles per sample, the padded grid, the chunking.
struct Plan {
  Index P, Cp, OCp, TH, TW, TS, Hq, Wq, S, Tp, POH, POW;
  // N: the transform's tile size; chunk_tiles: tiles per chunk (at least one sample's)
  Plan(const Conv2DGeom& g, const Pool2DGeom& pg, Index N, Index chunk_tiles)
      : P(N * N), Cp(padded16(g.C)), OCp(padded16(g.OC)), TH((g.OH + 3) / 4), TW((g.OW + 3) / 4), TS(TH * TW),
        Hq(4 * TH + N - 4), Wq(4 * TW + N - 4), S(std::max<Index>(1, chunk_tiles / TS)),
        Tp(small::padded_rows(S * TS)), POH(pg.OH), POW(pg.OW) {}
};

// The per-thread buffers for plan p. The kernels never write the tile grid's
// borders, the channels past C or the rows past a chunk's tiles, which must
// be zero (the first two) or finite (the GEMMs read the rows); so they are
// zeroed when the geometry changes and kept as they are otherwise (zeroing
// them on every call is a measurable part of a small model's step).
inline void prepare(Workspace& ws, const Conv2DGeom& g, const Plan& p, std::size_t nt, bool with_dx) {
  // everything that places the interior in the grid or sizes a buffer: with
  // another Wq the same interior pixel lands elsewhere, even at equal sizes
  const std::array<Index, 10> key{g.C, g.H, g.W, g.PT, g.PL, g.OC, p.Hq, p.Wq, p.Tp, p.P};
  const bool same = key == ws.key;
  ws.key = key;
  auto fit = [&](std::vector<std::vector<float>>& v, Index n) {
    if (v.size() < nt) v.resize(nt);
    for (std::size_t i = 0; i < nt; ++i)
      if (!same || v[i].size() != static_cast<std::size_t>(n)) v[i].assign(static_cast<std::size_t>(n), 0.0f);
  };
  fit(ws.xt, g.H * g.W * p.Cp);
  fit(ws.xq, p.Hq * p.Wq * p.Cp);
  fit(ws.V, p.P * p.Tp * p.Cp);
  fit(ws.M, p.P * p.Tp * p.OCp);
  if (with_dx) fit(ws.dVt, p.P * p.Tp * p.Cp), fit(ws.dq, p.Hq * p.Wq * p.Cp);
}

#if NN_DIRECT_CONV
// One sample's tiles: V[pos][t][c] (t < TS; pos stride vs) = B^T d B of
// xs (C, H, W), through xt (H*W, Cp) and the zero-bordered grid xq.
template <class F>
__attribute__((target("avx512f"))) inline void transform_input(const float* xs, const Conv2DGeom& g, const Plan& p,
                                                               float* xt, float* xq, float* V, Index vs) {
  const Index HW = g.H * g.W, Cp = p.Cp;
  direct::transpose(xs, g.C, HW, HW, xt, Cp);  // channels last; channels past C stay zero
  for (Index h = 0; h < g.H; ++h)
    std::copy(xt + h * g.W * Cp, xt + (h + 1) * g.W * Cp, xq + ((h + g.PT) * p.Wq + g.PL) * Cp);
  for (Index th = 0; th < p.TH; ++th)
    for (Index tw = 0; tw < p.TW; ++tw)
      for (Index c0 = 0; c0 < Cp; c0 += 16)
        input_tile<F>(xq + (4 * th * p.Wq + 4 * tw) * Cp + c0, p.Wq, Cp, V + (th * p.TW + tw) * Cp + c0, vs);
}

// Samples n0 .. n0 + ns of forward_maxpool, on one thread's buffers.
template <class F>
__attribute__((target("avx512f"))) inline void run_chunk(const float* x, const float* U, const float* sc,
                                                         const float* sh, bool has_scale, bool relu, float* yp,
                                                         std::int32_t* argmax, const Conv2DGeom& g, const Plan& p,
                                                         Index n0, Index ns, float* xt, float* xq, float* V,
                                                         float* M) {
  const Index HW = g.H * g.W, Cp = p.Cp, OCp = p.OCp, PQ = p.POH * p.POW, T1 = ns * p.TS;
  for (Index s = 0; s < ns; ++s)
    transform_input<F>(x + (n0 + s) * g.C * HW, g, p, xt, xq, V + s * p.TS * Cp, p.Tp * Cp);
  for (Index pos = 0; pos < F::P; ++pos)
    small::gemm(V + pos * p.Tp * Cp, T1, Cp, U + pos * Cp * OCp, OCp, OCp, M + pos * p.Tp * OCp, OCp);
  for (Index t = 0; t < T1; ++t) {
    const Index n = n0 + t / p.TS, th = (t % p.TS) / p.TW, tw = t % p.TW;
    for (Index o0 = 0; o0 < g.OC; o0 += 16) {
      __m512 y[4][4];
      output_tile<F>(M + t * OCp + o0, p.Tp * OCp, _mm512_loadu_ps(sc + o0), _mm512_loadu_ps(sh + o0), has_scale,
                     relu, y);
      const Index off = (n * g.OC + o0) * PQ;
      pool_tile(y, th, tw, g.OW, p.POH, p.POW, yp + off, argmax ? argmax + off : nullptr, PQ,
                std::min<Index>(16, g.OC - o0));
    }
  }
}
#endif

// yp (N, OC, POH, POW) = maxpool(act(scale * conv(x, w) + shift)) and argmax
// (same shape, unless null) as conv2d_forward_maxpool: shift has the bias
// folded in (may be null: 0), scale may be null (1). Only where choose_conv
// (conv_select.hpp) picks Winograd.
template <class F>
void forward_maxpool_f(const float* x, const float* w, const float* scale, const float* shift, bool relu, float* yp,
                       std::int32_t* argmax, const Conv2DGeom& g, const Pool2DGeom& pg, Workspace& ws) {
#if NN_DIRECT_CONV
  const Plan p(g, pg, F::N, 12);  // 12+ tiles per chunk: rows for the GEMMs
  const Index chunks = (g.N + p.S - 1) / p.S;
  transform_weights<F>(w, g.OC, g.C, ws);
  ws.sc.assign(static_cast<std::size_t>(p.OCp), 1.0f);
  ws.sh.assign(static_cast<std::size_t>(p.OCp), 0.0f);
  for (Index o = 0; o < g.OC; ++o) {
    if (scale) ws.sc[static_cast<std::size_t>(o)] = scale[o];
    if (shift) ws.sh[static_cast<std::size_t>(o)] = shift[o];
  }
  const nn::detail::Team team = nn::detail::plan_team(chunks > 1);
  const auto nt = static_cast<std::size_t>(team.threads);
  prepare(ws, g, p, nt, false);
  nn::detail::parallel_for(team, chunks, 1, [&](Index ch, int tid) {
    const auto i = static_cast<std::size_t>(tid);
    const Index n0 = ch * p.S;
    run_chunk<F>(x, ws.U.data(), ws.sc.data(), ws.sh.data(), scale != nullptr, relu, yp, argmax, g, p, n0,
                 std::min(p.S, g.N - n0), ws.xt[i].data(), ws.xq[i].data(), ws.V[i].data(), ws.M[i].data());
  });
#else
  (void)x, (void)w, (void)scale, (void)shift, (void)relu, (void)yp, (void)argmax, (void)g, (void)pg, (void)ws;
#endif
}

inline void forward_maxpool(const float* x, const float* w, const float* scale, const float* shift, bool relu,
                            float* yp, std::int32_t* argmax, const Conv2DGeom& g, const Pool2DGeom& pg,
                            Workspace& ws) {
  if (g.KH == 5) forward_maxpool_f<F5>(x, w, scale, shift, relu, yp, argmax, g, pg, ws);
  else forward_maxpool_f<F3>(x, w, scale, shift, relu, yp, argmax, g, pg, ws);
}

#if NN_DIRECT_CONV
// The output gradient of one tile for 16 channels o0.. (nc real), from the
// pool's: each window's gradient (zero where the pooled output is not > 0,
// with a ReLU) goes to its argmax pixel; then M (NxN) = A dy A^T, stored at
// m + pos * ms.
template <class F>
__attribute__((target("avx512f"))) inline void grad_tile(const float* dyp, const std::int32_t* arg, const float* ry,
                                                         Index plane, Index nc, Index th, Index tw, Index OW,
                                                         Index POH, Index POW, float* m, Index ms) {
  const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(static_cast<std::int32_t>(plane)));
  const __mmask16 real = static_cast<__mmask16>(nc >= 16 ? 0xFFFFu : (1u << nc) - 1u);
  const __m512 zero = _mm512_setzero_ps();
  __m512 d[4][4];
  for (int wa = 0; wa < 2; ++wa)
    for (int wb = 0; wb < 2; ++wb) {
      const Index ph = 2 * th + wa, pw = 2 * tw + wb;
      __m512 gv = zero;
      __m512i ai = _mm512_set1_epi32(-1);
      if (ph < POH && pw < POW) {
        const Index o = ph * POW + pw;
        gv = _mm512_mask_i32gather_ps(zero, real, lane, dyp + o, 4);
        ai = _mm512_mask_i32gather_epi32(ai, real, lane, arg + o, 4);
        if (ry) {
          const __m512 y = _mm512_mask_i32gather_ps(zero, real, lane, ry + o, 4);
          gv = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, zero, _CMP_GT_OQ), gv);
        }
      }
      const std::int32_t r0 = static_cast<std::int32_t>((4 * th + 2 * wa) * OW + 4 * tw + 2 * wb);
      const std::int32_t w32 = static_cast<std::int32_t>(OW);
      d[2 * wa][2 * wb] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(ai, _mm512_set1_epi32(r0)), gv);
      d[2 * wa][2 * wb + 1] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(ai, _mm512_set1_epi32(r0 + 1)), gv);
      d[2 * wa + 1][2 * wb] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(ai, _mm512_set1_epi32(r0 + w32)), gv);
      d[2 * wa + 1][2 * wb + 1] =
          _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(ai, _mm512_set1_epi32(r0 + w32 + 1)), gv);
    }
  constexpr int N = F::N;
  __m512 cn[N][4];
  for (int b = 0; b < 4; ++b) {  // columns: cn[.][b] = A d[.][b]
    __m512 col[4], r[N];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) col[i] = d[i][b];
    a(F{}, col, r);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) cn[i][b] = r[i];
  }
  for (int i = 0; i < N; ++i) {  // rows: M[i][.] = cn[i][.] A^T
    __m512 r[N];
    a(F{}, cn[i], r);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) _mm512_storeu_ps(m + (i * N + j) * ms, r[j]);
  }
}

// One tile's input gradient for 16 channels: dd (NxN) = B dV B^T from
// dV[pos] at v + pos * vs, added into the grid dq (pixel (i, j) at
// dq[(i * Wq + j) * Cp]).
template <class F>
__attribute__((target("avx512f"))) inline void input_grad_tile(const float* v, Index vs, float* dq, Index Wq,
                                                               Index Cp) {
  constexpr int N = F::N;
  __m512 tmp[N][N];
  for (int j = 0; j < N; ++j) {  // columns: tmp[.][j] = B dV[.][j]
    __m512 c[N], r[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) c[i] = _mm512_loadu_ps(v + (i * N + j) * vs);
    b(F{}, c, r);
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) tmp[i][j] = r[i];
  }
  for (int i = 0; i < N; ++i) {  // rows: dd[i][.] = tmp[i][.] B^T
    __m512 r[N];
    b(F{}, tmp[i], r);
#pragma GCC unroll 8
    for (int j = 0; j < N; ++j) {
      float* q = dq + (i * Wq + j) * Cp;
      _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), r[j]));
    }
  }
}

// C[r * ldc + 16 j + l] += sum_k A[k * lda + r] * B[k * ldb + 16 j + l] for
// r < R: a product with A read transposed (dU += V^T M: rows are input
// channels).
template <int R, int J>
__attribute__((target("avx512f"))) inline void tile_at(const float* A, Index lda, Index K, const float* B, Index ldb,
                                                       float* C, Index ldc) {
  __m512 acc[R][J];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) acc[r][j] = _mm512_loadu_ps(C + r * ldc + 16 * j);
  for (Index k = 0; k < K; ++k) {
    __m512 v[J];
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) v[j] = _mm512_loadu_ps(B + k * ldb + 16 * j);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[k * lda + r]);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) acc[r][j] = _mm512_fmadd_ps(a, v[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) _mm512_storeu_ps(C + r * ldc + 16 * j, acc[r][j]);
}

// dU (Cp, OCp) += V^T (Cp, T) M (T, OCp); V (T, Cp), M (T, OCp). Tiles of 4
// or 8 rows, which divide Cp.
inline void gemm_at(const float* V, Index Cp, const float* M, Index OCp, Index T, float* dU) {
  for (Index o0 = 0; o0 < OCp; o0 += 64) {
    const Index J = std::min<Index>(4, (OCp - o0) / 16), R = J >= 3 ? 4 : 8;
    for (Index c0 = 0; c0 < Cp; c0 += R) {
      const float* a = V + c0;
      const float* b = M + o0;
      float* c = dU + c0 * OCp + o0;
      switch (J) {
        case 4: tile_at<4, 4>(a, Cp, T, b, OCp, c, OCp); break;
        case 3: tile_at<4, 3>(a, Cp, T, b, OCp, c, OCp); break;
        case 2: tile_at<8, 2>(a, Cp, T, b, OCp, c, OCp); break;
        default: tile_at<8, 1>(a, Cp, T, b, OCp, c, OCp); break;
      }
    }
  }
}

// Input channel c of the weight gradient: dw[o][c] (RxR) += G^T dU G with
// dU = the sum of the groups' partial sums (groups of them, DU apart, added in
// group order), 16 output channels per vector; dw (OC, C, R, R).
template <class F>
__attribute__((target("avx512f"))) inline void weight_grad_channel(const float* dU, Index groups, Index DU, Index c,
                                                                    Index C, Index Cp, Index OC, Index OCp,
                                                                    float* dw) {
  constexpr int N = F::N, R = F::R;
  alignas(64) float out[R * R][16];
  for (Index o0 = 0; o0 < OC; o0 += 16) {
    __m512 t[R][N];
    for (int j = 0; j < N; ++j) {  // t[k][j] = sum_i G[i][k] dU[i][j]
      __m512 u[N];
#pragma GCC unroll 8
      for (int i = 0; i < N; ++i) {
        const float* d = dU + ((i * N + j) * Cp + c) * OCp + o0;
        u[i] = _mm512_loadu_ps(d);
        for (Index q = 1; q < groups; ++q) u[i] = _mm512_add_ps(u[i], _mm512_loadu_ps(d + q * DU));
      }
#pragma GCC unroll 5
      for (int k = 0; k < R; ++k) {
        __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < N; ++i)
          if (F::G[i][k] != 0.0f) a = _mm512_fmadd_ps(_mm512_set1_ps(F::G[i][k]), u[i], a);
        t[k][j] = a;
      }
    }
#pragma GCC unroll 5
    for (int k = 0; k < R; ++k)
#pragma GCC unroll 5
      for (int l = 0; l < R; ++l) {  // dw[k][l] = sum_j t[k][j] G[j][l]
        __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int j = 0; j < N; ++j)
          if (F::G[j][l] != 0.0f) a = _mm512_fmadd_ps(t[k][j], _mm512_set1_ps(F::G[j][l]), a);
        _mm512_store_ps(out[k * R + l], a);
      }
    const Index n = std::min<Index>(16, OC - o0);
    for (Index o = 0; o < n; ++o)
      for (Index kk = 0; kk < R * R; ++kk) dw[((o0 + o) * C + c) * R * R + kk] += out[kk][o];
  }
}
#endif

#if NN_DIRECT_CONV
// Samples n0 .. n0 + ns of backward_maxpool on one thread's buffers: V and M
// of their tiles, then per position dU += V^T M and dV = M U^T, then dx.
template <class F>
__attribute__((target("avx512f"))) inline void backward_chunk(const float* x, const float* dyp,
                                                              const std::int32_t* argmax, const float* relu_y,
                                                              const float* UT, float* dx, float* dU,
                                                              const Conv2DGeom& g, const Plan& p, Index n0, Index ns,
                                                              float* xt, float* xq, float* V, float* M, float* dV,
                                                              float* dq) {
  const Index HW = g.H * g.W, Cp = p.Cp, OCp = p.OCp, PQ = p.POH * p.POW, T1 = ns * p.TS;
  for (Index s = 0; s < ns; ++s) {
    const Index n = n0 + s;
    transform_input<F>(x + n * g.C * HW, g, p, xt, xq, V + s * p.TS * Cp, p.Tp * Cp);
    for (Index tt = 0; tt < p.TS; ++tt) {
      const Index t = s * p.TS + tt, th = tt / p.TW, tw = tt % p.TW;
      for (Index o0 = 0; o0 < OCp; o0 += 16) {
        const Index off = (n * g.OC + o0) * PQ, nc = std::max<Index>(0, std::min<Index>(16, g.OC - o0));
        grad_tile<F>(dyp + off, argmax + off, relu_y ? relu_y + off : nullptr, PQ, nc, th, tw, g.OW, p.POH, p.POW,
                     M + t * OCp + o0, p.Tp * OCp);
      }
    }
  }
  for (Index pos = 0; pos < F::P; ++pos) {
    gemm_at(V + pos * p.Tp * Cp, Cp, M + pos * p.Tp * OCp, OCp, T1, dU + pos * Cp * OCp);
    if (dx) small::gemm(M + pos * p.Tp * OCp, T1, OCp, UT + pos * OCp * Cp, Cp, Cp, dV + pos * p.Tp * Cp, Cp);
  }
  if (!dx) return;
  for (Index s = 0; s < ns; ++s) {
    std::fill(dq, dq + p.Hq * p.Wq * Cp, 0.0f);
    for (Index tt = 0; tt < p.TS; ++tt) {
      const Index t = s * p.TS + tt, th = tt / p.TW, tw = tt % p.TW;
      for (Index c0 = 0; c0 < Cp; c0 += 16)
        input_grad_tile<F>(dV + t * Cp + c0, p.Tp * Cp, dq + (4 * th * p.Wq + 4 * tw) * Cp + c0, p.Wq, Cp);
    }
    for (Index h = 0; h < g.H; ++h)
      std::copy(dq + ((h + g.PT) * p.Wq + g.PL) * Cp, dq + ((h + g.PT) * p.Wq + g.PL + g.W) * Cp, xt + h * g.W * Cp);
    direct::transpose(xt, HW, g.C, Cp, dx + (n0 + s) * g.C * HW, HW);
  }
}
#endif

// The backward of forward_maxpool (ReLU: relu_y is the pooled output, else
// null), as conv2d_backward_maxpool: dyp (N, OC, POH, POW) the pooled
// output's gradient, argmax from the training forward; dx (N, C, H, W)
// overwritten unless null, dw (OC, C, 5, 5) and db (OC, unless null)
// accumulated. The transposed algorithm: M = A dy A^T per tile and output
// channel, then per position dU = V^T M (the weights) and dV = M U^T (the
// input), dw += G^T dU G and dx = sum over tiles of B dV B^T. About 1e-5
// relative rounding, as the forward. Only where choose_conv (conv_select.hpp)
// picks Winograd.
//
// The batch goes in chunks of S samples (as the forward) so that a chunk's V,
// M and dV stay in L2 (a whole batch's can be several MB, which goes through
// L3 and stalls the scattered stores of M); the chunks form kGroups fixed groups of
// samples, each summing dU in its own buffer, added in group order: dw does
// not depend on the thread count.
template <class F>
void backward_maxpool_f(const float* x, const float* w, const float* dyp, const std::int32_t* argmax,
                        const float* relu_y, float* dx, float* dw, float* db, const Conv2DGeom& g,
                        const Pool2DGeom& pg, Workspace& ws) {
#if NN_DIRECT_CONV
  constexpr Index kGroups = 4;
  const Plan p(g, pg, F::N, 12);  // as the forward (24 or 32 tiles are no faster)
  const Index Cp = p.Cp, OCp = p.OCp, PQ = p.POH * p.POW;
  const Index groups = std::min<Index>(kGroups, g.N), DU = F::P * Cp * OCp;
  if (dx) transform_weights<F>(w, g.OC, g.C, ws, true);
  const nn::detail::Team team = nn::detail::plan_team(groups > 1);
  const auto nt = static_cast<std::size_t>(team.threads);
  prepare(ws, g, p, nt, dx != nullptr);
  ws.dU.resize(static_cast<std::size_t>(groups * DU));
  nn::detail::parallel_for(team, groups, 1, [&](Index q, int tid) {
    const auto i = static_cast<std::size_t>(tid);
    float* dU = ws.dU.data() + q * DU;
    std::fill(dU, dU + DU, 0.0f);
    const Index s0 = q * g.N / groups, s1 = (q + 1) * g.N / groups;
    for (Index n0 = s0; n0 < s1; n0 += p.S)
      backward_chunk<F>(x, dyp, argmax, relu_y, ws.UT.data(), dx, dU, g, p, n0, std::min(p.S, s1 - n0),
                        ws.xt[i].data(), ws.xq[i].data(), ws.V[i].data(), ws.M[i].data(),
                        dx ? ws.dVt[i].data() : nullptr, dx ? ws.dq[i].data() : nullptr);
  });
  // dw += G^T dU G per input channel; db += the pooled gradient where it
  // flowed, per output channel
  nn::detail::parallel_for(team, g.C + (db ? g.OC : 0), 4, [&](Index item, int) {
    if (item < g.C) {
      weight_grad_channel<F>(ws.dU.data(), groups, DU, item, g.C, Cp, g.OC, OCp, dw);
      return;
    }
    const Index o = item - g.C;
    float s = 0.0f;
    for (Index n = 0; n < g.N; ++n) {
      const Index off = (n * g.OC + o) * PQ;
      for (Index q = 0; q < PQ; ++q)
        if (!relu_y || relu_y[off + q] > 0.0f) s += dyp[off + q];
    }
    db[o] += s;
  });
#else
  (void)x, (void)w, (void)dyp, (void)argmax, (void)relu_y, (void)dx, (void)dw, (void)db, (void)g, (void)pg, (void)ws;
#endif
}

inline void backward_maxpool(const float* x, const float* w, const float* dyp, const std::int32_t* argmax,
                             const float* relu_y, float* dx, float* dw, float* db, const Conv2DGeom& g,
                             const Pool2DGeom& pg, Workspace& ws) {
  if (g.KH == 5) backward_maxpool_f<F5>(x, w, dyp, argmax, relu_y, dx, dw, db, g, pg, ws);
  else backward_maxpool_f<F3>(x, w, dyp, argmax, relu_y, dx, dw, db, g, pg, ws);
}

}  // namespace nn::kernels::winograd
