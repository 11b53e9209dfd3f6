// nn/kernels/conv2d_winograd.hpp — a 5x5 convolution (stride 1, dilation 1)
// with its epilogue and a 2x2 / stride 2 max pool, by Winograd's minimal
// filtering F(4x4, 5x5); float, AVX-512 CPUs (checked at run time).
// conv2d_pool.hpp runs it for Conv2D -> ReLU -> MaxPool2D where it applies
// (W1's second layer: 32 -> 64 channels on 12x12).
//
// Each 4x4 block of output pixels comes from an 8x8 tile d of the padded
// input (tiles 4 apart, overlapping by 4), per input channel c:
//   V = B^T d B (8x8),  U = G g G^T (8x8, g the 5x5 kernel of (o, c)),
//   M[pos] = sum_c U[pos][c][o] * V[pos][c]  for each of the 64 positions,
//   y (4x4) = A^T M A,
// with the matrices of the Toom-Cook construction on the points 0, ±1, ±2,
// ±1/2 and infinity (derived and checked by scripts/winograd_f4x4_5x5.py;
// tests/kernels/conv2d_winograd_test.cpp checks them again in double). The
// products per output pixel drop from 25 * C to 64 * C / 16 = 4 * C: on W1's
// layer 6.25x fewer multiply-adds, spent in 64 small GEMMs (positions) of
// (tiles, C) x (C, OC) — gemm_small.hpp's register tiles — plus the two
// transforms (vectorized over 16 channels).
//
// Accuracy: the transforms scale by up to 21 and 1/360, so float rounding is
// larger than in a direct sum: about 1e-5 relative to the output's magnitude
// (the direct sum: 2e-7). Pooled values and their argmax can therefore differ
// from the direct kernels' on near ties. ConvAlgorithm::Direct
// (conv2d_direct.hpp) switches it off.
//
// Layouts (per thread, for a chunk of S samples, T = S * tiles per sample):
//   xq (Hq, Wq, Cp)      one sample's input, zero-padded, channels last
//   V  (64, Tp, Cp)      transformed input tiles, Tp = T rounded up to 24
//   M  (64, Tp, OCp)     the 64 products
//   U  (64, Cp, OCp)     transformed weights, shared
// Cp, OCp: channels rounded up to 16 (zero beyond C, OC).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV, conv_algorithm, direct::transpose
#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/gemm_small.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/kernels/pool2d.hpp"

namespace nn::kernels::winograd {

constexpr Index kPos = 64;  // 8x8 transform positions

// G (8x5): rows 5 and 6 carry the factor 16 that B^T's rows 5 and 6 drop.
constexpr float kG[8][5] = {{1.0f / 4, 0, 0, 0, 0},
                            {1.0f / 18, 1.0f / 18, 1.0f / 18, 1.0f / 18, 1.0f / 18},
                            {1.0f / 18, -1.0f / 18, 1.0f / 18, -1.0f / 18, 1.0f / 18},
                            {1.0f / 360, 1.0f / 180, 1.0f / 90, 1.0f / 45, 2.0f / 45},
                            {1.0f / 360, -1.0f / 180, 1.0f / 90, -1.0f / 45, 2.0f / 45},
                            {16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45, 1.0f / 45},
                            {16.0f / 45, -8.0f / 45, 4.0f / 45, -2.0f / 45, 1.0f / 45},
                            {0, 0, 0, 0, 1.0f / 4}};
// B^T (8x8) and A^T (4x8), for the scalar reference in the tests; the kernels
// below apply them in factored form.
constexpr float kBT[8][8] = {{4, 0, -21, 0, 21, 0, -4, 0},      {0, -4, -4, 17, 17, -4, -4, 0},
                             {0, 4, -4, -17, 17, 4, -4, 0},     {0, 2, 1, -10, -5, 8, 4, 0},
                             {0, -2, 1, 10, -5, -8, 4, 0},      {0, 4, 8, -5, -10, 1, 2, 0},
                             {0, -4, 8, 5, -10, -1, 2, 0},      {0, -4, 0, 21, 0, -21, 0, 4}};
constexpr float kAT[4][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                             {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
                             {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
                             {0, 1, -1, 8, -8, 0.125f, -0.125f, 1}};

inline Index padded16(Index c) { return (c + 15) / 16 * 16; }

// Whether conv2d_forward_maxpool runs this kernel: float on an AVX-512 CPU,
// ConvAlgorithm::Auto, a 5x5 kernel with stride 1 and dilation 1, at least 16
// input channels (fewer leave the 64 GEMMs too short to pay for the
// transforms: W1's first layer, one channel, stays direct), and a 2x2 /
// stride 2 pool without padding.
inline bool applies(const Conv2DGeom& g, const Pool2DGeom& pg) {
  return conv_algorithm() == ConvAlgorithm::Auto && direct::cpu_supported() && g.KH == 5 && g.KW == 5 &&
         g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && g.C >= 16 && pg.KH == 2 && pg.KW == 2 &&
         pg.SH == 2 && pg.SW == 2 && pg.PH == 0 && pg.PW == 0 && pg.H == g.OH && pg.W == g.OW;
}

struct Workspace {
  std::vector<float> wv;  // the weights transposed, (C*25, OCp)
  std::vector<float> U;   // (64, Cp, OCp)
  std::vector<float> sc, sh;  // the epilogue, padded to OCp
  std::vector<std::vector<float>> xt, xq, V, M;  // per thread
};

#if NN_DIRECT_CONV
// U (64, Cp, OCp) = G g G^T for every (c, o) of w (OC, C, 5, 5), 16 output
// channels per vector.
__attribute__((target("avx512f"))) inline void transform_weights(const float* w, Index OC, Index C, Workspace& ws) {
  const Index Cp = padded16(C), OCp = padded16(OC), K = C * 25;
  ws.wv.assign(static_cast<std::size_t>(K * OCp), 0.0f);
  direct::transpose(w, OC, K, K, ws.wv.data(), OCp);
  ws.U.assign(static_cast<std::size_t>(kPos * Cp * OCp), 0.0f);
  for (Index c = 0; c < C; ++c)
    for (Index o0 = 0; o0 < OCp; o0 += 16) {
      __m512 g[5][5], t[8][5];
      for (int k = 0; k < 5; ++k)
        for (int l = 0; l < 5; ++l) g[k][l] = _mm512_loadu_ps(ws.wv.data() + (c * 25 + k * 5 + l) * OCp + o0);
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
#pragma GCC unroll 5
        for (int l = 0; l < 5; ++l) {  // t = G g
          __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 5
          for (int k = 0; k < 5; ++k)
            if (kG[i][k] != 0.0f) a = _mm512_fmadd_ps(_mm512_set1_ps(kG[i][k]), g[k][l], a);
          t[i][l] = a;
        }
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {  // U = t G^T
          __m512 a = _mm512_setzero_ps();
#pragma GCC unroll 5
          for (int l = 0; l < 5; ++l)
            if (kG[j][l] != 0.0f) a = _mm512_fmadd_ps(t[i][l], _mm512_set1_ps(kG[j][l]), a);
          _mm512_storeu_ps(ws.U.data() + ((i * 8 + j) * Cp + c) * OCp + o0, a);
        }
    }
}

// r = B^T d for 8 vectors (a column or a row of a tile, 16 channels each).
__attribute__((target("avx512f"))) inline void bt8(const __m512* d, __m512* r) {
  const __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c17 = _mm512_set1_ps(17), c21 = _mm512_set1_ps(21),
               two = _mm512_set1_ps(2);
  r[0] = _mm512_fmadd_ps(c4, _mm512_sub_ps(d[0], d[6]), _mm512_mul_ps(c21, _mm512_sub_ps(d[4], d[2])));
  r[7] = _mm512_fmadd_ps(c4, _mm512_sub_ps(d[7], d[1]), _mm512_mul_ps(c21, _mm512_sub_ps(d[3], d[5])));
  {  // rows 1, 2: a = 17 d4 - 4 (d2 + d6), b = 17 d3 - 4 (d1 + d5)
    const __m512 a = _mm512_fnmadd_ps(c4, _mm512_add_ps(d[2], d[6]), _mm512_mul_ps(c17, d[4]));
    const __m512 b = _mm512_fnmadd_ps(c4, _mm512_add_ps(d[1], d[5]), _mm512_mul_ps(c17, d[3]));
    r[1] = _mm512_add_ps(a, b), r[2] = _mm512_sub_ps(a, b);
  }
  {  // rows 3, 4: a = d2 - 5 d4 + 4 d6, b = 2 (d1 - 5 d3 + 4 d5)
    const __m512 a = _mm512_fmadd_ps(c4, d[6], _mm512_fnmadd_ps(c5, d[4], d[2]));
    const __m512 b = _mm512_mul_ps(two, _mm512_fmadd_ps(c4, d[5], _mm512_fnmadd_ps(c5, d[3], d[1])));
    r[3] = _mm512_add_ps(a, b), r[4] = _mm512_sub_ps(a, b);
  }
  {  // rows 5, 6: a = 2 (4 d2 - 5 d4 + d6), b = 4 d1 - 5 d3 + d5
    const __m512 a = _mm512_mul_ps(two, _mm512_add_ps(_mm512_fnmadd_ps(c5, d[4], _mm512_mul_ps(c4, d[2])), d[6]));
    const __m512 b = _mm512_add_ps(_mm512_fnmadd_ps(c5, d[3], _mm512_mul_ps(c4, d[1])), d[5]);
    r[5] = _mm512_add_ps(a, b), r[6] = _mm512_sub_ps(a, b);
  }
}

// y = A^T m for 8 vectors -> 4.
__attribute__((target("avx512f"))) inline void at8(const __m512* m, __m512* y) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  const __m512 s3 = _mm512_add_ps(m[5], m[6]), d3 = _mm512_sub_ps(m[5], m[6]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), _mm512_add_ps(s2, s3));
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(0.5f), d3, _mm512_fmadd_ps(_mm512_set1_ps(2), d2, d1));
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), s3, _mm512_fmadd_ps(_mm512_set1_ps(4), s2, s1));
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.125f), d3, _mm512_fmadd_ps(_mm512_set1_ps(8), d2, d1)), m[7]);
}

// V[pos][t][c0..c0+16) = (B^T d B)[pos] of the 8x8 tile whose top-left pixel
// is xq[0]: pixel (i, j) of the tile at xq[(i * Wq + j) * Cp].
__attribute__((target("avx512f"))) inline void input_tile(const float* xq, Index Wq, Index Cp, float* V, Index vs) {
  __m512 tmp[8][8];
  for (int j = 0; j < 8; ++j) {  // columns: tmp[.][j] = B^T d[.][j]
    __m512 d[8], r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) d[i] = _mm512_loadu_ps(xq + (i * Wq + j) * Cp);
    bt8(d, r);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) tmp[i][j] = r[i];
  }
  for (int i = 0; i < 8; ++i) {  // rows: V[i][.] = tmp[i][.] B
    __m512 r[8];
    bt8(tmp[i], r);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) _mm512_storeu_ps(V + (i * 8 + j) * vs, r[j]);
  }
}

// The output of one tile for 16 channels: y (4x4) = A^T M A from M[pos] at
// m + pos * ms, then the epilogue.
__attribute__((target("avx512f"))) inline void output_tile(const float* m, Index ms, __m512 scale, __m512 shift,
                                                           bool has_scale, bool relu, __m512 (&y)[4][4]) {
  __m512 u[4][8];
  for (int j = 0; j < 8; ++j) {  // columns: u[.][j] = A^T M[.][j]
    __m512 c[8], r[4];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) c[i] = _mm512_loadu_ps(m + (i * 8 + j) * ms);
    at8(c, r);
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) u[i][j] = r[i];
  }
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < 4; ++i) {  // rows: y[i][.] = u[i][.] A
    at8(u[i], y[i]);
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
  Index Cp, OCp, TH, TW, TS, Hq, Wq, S, T, Tp, POH, POW;
  Plan(const Conv2DGeom& g, const Pool2DGeom& pg)
      : Cp(padded16(g.C)), OCp(padded16(g.OC)), TH((g.OH + 3) / 4), TW((g.OW + 3) / 4), TS(TH * TW),
        Hq(4 * TH + 4), Wq(4 * TW + 4), S(std::max<Index>(1, 12 / TS)),  // 12+ tiles per chunk: rows for the GEMMs
        T(S * TS), Tp(small::padded_rows(T)), POH(pg.OH), POW(pg.OW) {}
};

#if NN_DIRECT_CONV
// Samples n0 .. n0 + ns of forward_maxpool, on one thread's buffers.
__attribute__((target("avx512f"))) inline void run_chunk(const float* x, const float* U, const float* sc,
                                                         const float* sh, bool has_scale, bool relu, float* yp,
                                                         std::int32_t* argmax, const Conv2DGeom& g, const Plan& p,
                                                         Index n0, Index ns, float* xt, float* xq, float* V,
                                                         float* M) {
  const Index HW = g.H * g.W, Cp = p.Cp, OCp = p.OCp, PQ = p.POH * p.POW, T1 = ns * p.TS;
  for (Index s = 0; s < ns; ++s) {
    // channels last (channels past C stay zero), into the zero-bordered tile grid
    direct::transpose(x + (n0 + s) * g.C * HW, g.C, HW, HW, xt, Cp);
    for (Index h = 0; h < g.H; ++h)
      std::copy(xt + h * g.W * Cp, xt + (h + 1) * g.W * Cp, xq + ((h + g.PT) * p.Wq + g.PL) * Cp);
    for (Index th = 0; th < p.TH; ++th)
      for (Index tw = 0; tw < p.TW; ++tw) {
        const Index t = s * p.TS + th * p.TW + tw;
        for (Index c0 = 0; c0 < Cp; c0 += 16)
          input_tile(xq + (4 * th * p.Wq + 4 * tw) * Cp + c0, p.Wq, Cp, V + t * Cp + c0, p.Tp * Cp);
      }
  }
  for (Index pos = 0; pos < kPos; ++pos)
    small::gemm(V + pos * p.Tp * Cp, T1, Cp, U + pos * Cp * OCp, OCp, OCp, M + pos * p.Tp * OCp, OCp);
  for (Index t = 0; t < T1; ++t) {
    const Index n = n0 + t / p.TS, th = (t % p.TS) / p.TW, tw = t % p.TW;
    for (Index o0 = 0; o0 < g.OC; o0 += 16) {
      __m512 y[4][4];
      output_tile(M + t * OCp + o0, p.Tp * OCp, _mm512_loadu_ps(sc + o0), _mm512_loadu_ps(sh + o0), has_scale, relu,
                  y);
      const Index off = (n * g.OC + o0) * PQ;
      pool_tile(y, th, tw, g.OW, p.POH, p.POW, yp + off, argmax ? argmax + off : nullptr, PQ,
                std::min<Index>(16, g.OC - o0));
    }
  }
}
#endif

// yp (N, OC, POH, POW) = maxpool(act(scale * conv(x, w) + shift)) and argmax
// (same shape, unless null) as conv2d_forward_maxpool: shift has the bias
// folded in (may be null: 0), scale may be null (1). Needs applies(g, pg).
inline void forward_maxpool(const float* x, const float* w, const float* scale, const float* shift, bool relu,
                            float* yp, std::int32_t* argmax, const Conv2DGeom& g, const Pool2DGeom& pg,
                            Workspace& ws) {
#if NN_DIRECT_CONV
  const Plan p(g, pg);
  const Index chunks = (g.N + p.S - 1) / p.S;
  transform_weights(w, g.OC, g.C, ws);
  ws.sc.assign(static_cast<std::size_t>(p.OCp), 1.0f);
  ws.sh.assign(static_cast<std::size_t>(p.OCp), 0.0f);
  for (Index o = 0; o < g.OC; ++o) {
    if (scale) ws.sc[static_cast<std::size_t>(o)] = scale[o];
    if (shift) ws.sh[static_cast<std::size_t>(o)] = shift[o];
  }
  const nn::detail::Team team = nn::detail::plan_team(chunks > 1);
  const auto nt = static_cast<std::size_t>(team.threads);
  for (auto* v : {&ws.xt, &ws.xq, &ws.V, &ws.M})
    if (v->size() < nt) v->resize(nt);
  for (std::size_t i = 0; i < nt; ++i) {
    ws.xt[i].assign(static_cast<std::size_t>(g.H * g.W * p.Cp), 0.0f);   // channels past C stay zero
    ws.xq[i].assign(static_cast<std::size_t>(p.Hq * p.Wq * p.Cp), 0.0f);  // borders stay zero
    ws.V[i].assign(static_cast<std::size_t>(kPos * p.Tp * p.Cp), 0.0f);   // rows T..Tp are read, never used
    ws.M[i].resize(static_cast<std::size_t>(kPos * p.Tp * p.OCp));
  }
  nn::detail::parallel_for(team, chunks, 1, [&](Index ch, int tid) {
    const auto i = static_cast<std::size_t>(tid);
    const Index n0 = ch * p.S;
    run_chunk(x, ws.U.data(), ws.sc.data(), ws.sh.data(), scale != nullptr, relu, yp, argmax, g, p, n0,
              std::min(p.S, g.N - n0), ws.xt[i].data(), ws.xq[i].data(), ws.V[i].data(), ws.M[i].data());
  });
#else
  (void)x, (void)w, (void)scale, (void)shift, (void)relu, (void)yp, (void)argmax, (void)g, (void)pg, (void)ws;
#endif
}

}  // namespace nn::kernels::winograd
