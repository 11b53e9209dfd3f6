// nn/kernels/conv2d.hpp — 2-D convolution (cross-correlation, as in PyTorch)
// by im2col/col2im + GEMM, NCHW, with stride, asymmetric zero padding and
// dilation. Parallel over the batch; each thread has its own column buffer.
// For float on an AVX-512 CPU the direct kernels (conv2d_direct.hpp,
// conv2d_oc.hpp) and nn's own input-gradient kernels (gemm_small.hpp,
// conv2d_input_grad.hpp) run instead where conv_select.hpp chooses them.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"
#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/conv2d_input_grad.hpp"
#include "nn/kernels/conv2d_oc.hpp"
#include "nn/kernels/conv_select.hpp"
#include "nn/kernels/epilogue.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/gemm_small.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/kernels/reduce.hpp"

namespace nn::kernels {

// x: (C, H, W) one sample -> col: (C*KH*KW, (oh1-oh0)*OW), the columns of
// output rows oh0 <= oh < oh1 (all rows by default).
template <class T>
void im2col(const T* x, const Conv2DGeom& g, T* col, Index oh0 = 0, Index oh1 = -1) {
  if (oh1 < 0) oh1 = g.OH;
  const Index P = (oh1 - oh0) * g.OW;
  for (Index c = 0; c < g.C; ++c)
    for (Index kh = 0; kh < g.KH; ++kh)
      for (Index kw = 0; kw < g.KW; ++kw) {
        T* dst = col + ((c * g.KH + kh) * g.KW + kw) * P - oh0 * g.OW;
        const T* src = x + c * g.H * g.W;
        for (Index oh = oh0; oh < oh1; ++oh) {
          const Index ih = oh * g.SH - g.PT + kh * g.DH;
          T* drow = dst + oh * g.OW;
          if (ih < 0 || ih >= g.H) {
            std::fill(drow, drow + g.OW, T(0));
            continue;
          }
          const T* srow = src + ih * g.W;
          const Index off = kw * g.DW - g.PL;
          if (g.SW == 1) {
            // valid ow range: 0 <= ow + off < W
            const Index lo = std::clamp<Index>(-off, 0, g.OW);
            const Index hi = std::max(lo, std::clamp<Index>(g.W - off, 0, g.OW));
            std::fill(drow, drow + lo, T(0));
            std::copy(srow + lo + off, srow + hi + off, drow + lo);
            std::fill(drow + hi, drow + g.OW, T(0));
          } else {
            for (Index ow = 0; ow < g.OW; ++ow) {
              const Index iw = ow * g.SW + off;
              drow[ow] = (iw >= 0 && iw < g.W) ? srow[iw] : T(0);
            }
          }
        }
      }
}

// col: (C*KH*KW, (oh1-oh0)*OW) for output rows oh0 <= oh < oh1 -> dx: (C, H, W)
// one sample; adds into dx.
template <class T>
void col2im(const T* col, const Conv2DGeom& g, T* dx, Index oh0 = 0, Index oh1 = -1) {
  if (oh1 < 0) oh1 = g.OH;
  const Index P = (oh1 - oh0) * g.OW;
  for (Index c = 0; c < g.C; ++c)
    for (Index kh = 0; kh < g.KH; ++kh)
      for (Index kw = 0; kw < g.KW; ++kw) {
        const T* src = col + ((c * g.KH + kh) * g.KW + kw) * P - oh0 * g.OW;
        T* dst = dx + c * g.H * g.W;
        for (Index oh = oh0; oh < oh1; ++oh) {
          const Index ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          const T* srow = src + oh * g.OW;
          T* drow = dst + ih * g.W;
          const Index off = kw * g.DW - g.PL;
          if (g.SW == 1) {
            const Index lo = std::clamp<Index>(-off, 0, g.OW);
            const Index hi = std::max(lo, std::clamp<Index>(g.W - off, 0, g.OW));
            for (Index ow = lo; ow < hi; ++ow) drow[ow + off] += srow[ow];
          } else {
            for (Index ow = 0; ow < g.OW; ++ow) {
              const Index iw = ow * g.SW + off;
              if (iw >= 0 && iw < g.W) drow[iw] += srow[ow];
            }
          }
        }
      }
}

// Output rows per im2col chunk: the column buffer of a chunk, (C*KH*KW, rows*OW),
// is kept near a quarter of a typical L2 (128K floats = 512 KiB) so the GEMM
// reads it from cache instead of memory; at least one row.
inline Index conv_chunk_rows(const Conv2DGeom& g, Index budget) {
  return std::clamp<Index>(budget / std::max<Index>(1, g.col_rows() * g.OW), 1, std::max<Index>(g.OH, 1));
}

// Reusable scratch memory for the conv kernels (one column buffer per thread,
// plus per-group weight-gradient partial sums).
template <class T>
struct ConvWorkspace {
  std::vector<std::vector<T>> col, dw;
  // Column-buffer budget in elements per chunk of output rows (conv_chunk_rows).
  Index chunk_elems = Index(1) << 17;
  direct::Workspace direct;  // the direct kernels' scratch (float only)
  std::vector<T> shift;      // bias folded into the epilogue's shift
  std::vector<T> apack;      // the weights transposed for gemm_small.hpp or conv2d_oc.hpp
  std::vector<Index> toff, poff;       // conv2d_oc.hpp's tap and pixel offsets
  std::vector<T> oc_scale, oc_shift;  // its epilogue, padded to whole vectors
  void reserve(int threads, Index col_size) {
    if (static_cast<int>(col.size()) < threads) col.resize(static_cast<std::size_t>(threads));
    for (auto& c : col)
      if (static_cast<Index>(c.size()) < col_size) c.resize(static_cast<std::size_t>(col_size));
  }
};

// The output gradient of a convolution followed by [ReLU and] a max pool,
// given as the pool's: dy (N, OC, PQ) of the pooled output, the pool's
// argmax (flat index into each (OH, OW) plane, as maxpool2d_forward writes
// it) and, with a ReLU between, the pool's output y (route only where y > 0).
// The dense gradient it stands for is maxpool2d_backward's dx.
template <class T>
struct PooledGrad {
  const T* dy = nullptr;
  const std::int32_t* argmax = nullptr;
  const T* relu_y = nullptr;
  Index PQ = 0;
};

namespace detail {
// The padded input plane of g as the direct kernels see it.
inline direct::Plane direct_plane(const Conv2DGeom& g) {
  direct::Plane pl;
  pl.C = g.C, pl.H = g.H, pl.W = g.W, pl.PT = g.PT, pl.PL = g.PL;
  pl.Hp = g.H + g.PT + g.PB, pl.Wp = g.W + g.PL + g.PR, pl.KH = g.KH, pl.KW = g.KW, pl.OH = g.OH, pl.OW = g.OW;
  return pl;
}
inline Index direct_ocp(const Conv2DGeom& g) { return (g.OC + 31) / 32 * 32; }

// shift: the bias already folded into the epilogue's shift (fold_bias).
// ws.direct.wpack = w (OC, C, KH, KW) as (ceil(OC/8), C, KH, KW, 8).
inline void direct_pack_weights(const float* w, const Conv2DGeom& g, ConvWorkspace<float>& ws) {
  const Index KK = g.C * g.KH * g.KW, OCB = (g.OC + direct::kOC - 1) / direct::kOC;
  auto& wp = ws.direct.wpack;
  wp.assign(static_cast<std::size_t>(OCB * KK * direct::kOC), 0.0f);
  for (Index o = 0; o < g.OC; ++o)
    for (Index k = 0; k < KK; ++k)
      wp[static_cast<std::size_t>(((o / direct::kOC) * KK + k) * direct::kOC + o % direct::kOC)] = w[o * KK + k];
}

inline void direct_forward(const float* x, const float* w, const float* shift, float* y, const Conv2DGeom& g,
                           ConvWorkspace<float>& ws, const Epilogue<float>& ep) {
  direct_pack_weights(w, g, ws);
  direct::run(x, y, g.N, g.OC, direct_plane(g), ep.scale, shift, ep.relu, ws.direct);
}

// conv2d_oc.hpp's forward: one sample per work item.
inline void oc_forward(const float* x, const float* w, const float* shift, float* y, const Conv2DGeom& g,
                       ConvWorkspace<float>& ws, const Epilogue<float>& ep) {
  const Index K = g.col_rows(), P = g.OH * g.OW, OCp = oc::padded_channels(g.OC);
  oc::pack_weights(w, g.OC, K, ws.apack);
  oc::offsets(g, ws.toff, ws.poff);
  const auto padded = [&](const float* v, std::vector<float>& buf) -> const float* {
    if (!v) return nullptr;
    buf.assign(static_cast<std::size_t>(OCp), 0.0f);
    std::copy(v, v + g.OC, buf.begin());
    return buf.data();
  };
  const float* scale = padded(ep.scale, ws.oc_scale);
  const float* sh = padded(shift, ws.oc_shift);
  const direct::Plane pl = direct_plane(g);
  const nn::detail::Team team = nn::detail::plan_team(g.N > 1);
  ws.direct.reserve(team.threads, pl.padded_size(), P * OCp);
  nn::detail::parallel_for(team, g.N, 1, [&](Index n, int tid) {
    float* xp = ws.direct.xpad[static_cast<std::size_t>(tid)].data();
    direct::pad_sample(x + n * g.C * g.H * g.W, pl, xp);
    oc::forward_sample(xp, ws.toff, ws.poff, ws.apack.data(), g.OC, scale, sh, ep.relu,
                       ws.direct.wide[static_cast<std::size_t>(tid)].data(), y + n * g.OC * P);
  });
}

// Samples per call of the direct weight-gradient kernel: enough for about
// 256 pixels per tile (4 on 8x8 maps), so the accumulators are added
// into the (C*KH*KW, OCp) sums once per 4 samples rather than per sample.
inline Index direct_dw_samples(const Conv2DGeom& g) {
  return std::max<Index>(1, std::min<Index>(4, 256 / std::max<Index>(1, g.OH * g.OW)));
}

// Weight (and bias) gradient of samples [n0, n1), accumulated into partT:
// (C*KH*KW, OCp) transposed, then db (OC). tid picks the thread's buffers.
// With pooled, dy is unused: each sample's transposed gradient is scattered
// from the pool's (the values maxpool2d_backward would write, added in its
// order), so the dense (N, OC, OH, OW) gradient is never written or read.
inline void direct_weight_grad(const float* x, const float* dy, Index n0, Index n1, const Conv2DGeom& g,
                               float* partT, bool with_db, ConvWorkspace<float>& ws, int tid,
                               const PooledGrad<float>* pooled = nullptr) {
  const direct::Plane pl = direct_plane(g);
  const Index P = g.OH * g.OW, OCp = direct_ocp(g), K = g.C * g.KH * g.KW, S = direct_dw_samples(g);
  const Index xs = pl.padded_size(), ds = P * OCp;
  float* xp = ws.direct.xpad[static_cast<std::size_t>(tid)].data();
  float* dyT = ws.direct.wide[static_cast<std::size_t>(tid)].data();
  if (OCp != g.OC && !pooled) std::fill(dyT, dyT + S * ds, 0.0f);  // columns past OC stay zero
  for (Index n = n0; n < n1; n += S) {
    const Index s1 = std::min(S, n1 - n);
    for (Index s = 0; s < s1; ++s) {
      direct::pad_sample(x + (n + s) * g.C * g.H * g.W, pl, xp + s * xs);
      if (pooled) {
        float* d = dyT + s * ds;
        std::fill(d, d + ds, 0.0f);
        const Index PQ = pooled->PQ, base = (n + s) * g.OC * PQ;
        for (Index o = 0; o < g.OC; ++o) {
          const float* dp = pooled->dy + base + o * PQ;
          const std::int32_t* ap = pooled->argmax + base + o * PQ;
          const float* yp = pooled->relu_y ? pooled->relu_y + base + o * PQ : nullptr;
          for (Index q = 0; q < PQ; ++q)
            if (!yp || yp[q] > 0.0f) d[Index(ap[q]) * OCp + o] += dp[q];
          // from the scattered gradient, in the order of the unfused path
          if (with_db) partT[K * OCp + o] += sum_fixed(d + o, P, OCp);
        }
        continue;
      }
      const float* dyn = dy + (n + s) * g.OC * P;
      direct::transpose(dyn, g.OC, P, P, dyT + s * ds, OCp);  // dyT_s (P, OCp) = dy_n (OC, P)^T
      if (with_db)
        for (Index o = 0; o < g.OC; ++o) partT[K * OCp + o] += sum_fixed(dyn + o * P, P);
    }
    direct::weight_grad(xp, pl, dyT, OCp, partT, s1, xs, ds);
  }
}

// dx (N, C, H, W) = the "full" correlation of dy with w flipped and transposed:
// a stride-1 convolution of dy padded by KH-1-PT, KH-1-PB, KW-1-PL, KW-1-PR.
inline void direct_backward_data(const float* dy, const float* w, float* dx, const Conv2DGeom& g,
                                 ConvWorkspace<float>& ws) {
  const Index KK = g.OC * g.KH * g.KW, CB = (g.C + direct::kOC - 1) / direct::kOC;
  auto& wp = ws.direct.wpack;
  wp.assign(static_cast<std::size_t>(CB * KK * direct::kOC), 0.0f);  // (CB, OC, KH, KW, 8)
  for (Index c = 0; c < g.C; ++c)
    for (Index o = 0; o < g.OC; ++o)
      for (Index kh = 0; kh < g.KH; ++kh)
        for (Index kw = 0; kw < g.KW; ++kw)
          wp[static_cast<std::size_t>(((c / direct::kOC) * KK + (o * g.KH + kh) * g.KW + kw) * direct::kOC +
                                      c % direct::kOC)] =
              w[((o * g.C + c) * g.KH + (g.KH - 1 - kh)) * g.KW + (g.KW - 1 - kw)];
  direct::Plane pl;
  pl.C = g.OC, pl.H = g.OH, pl.W = g.OW, pl.PT = g.KH - 1 - g.PT, pl.PL = g.KW - 1 - g.PL;
  pl.Hp = g.OH + 2 * (g.KH - 1) - g.PT - g.PB, pl.Wp = g.OW + 2 * (g.KW - 1) - g.PL - g.PR;
  pl.KH = g.KH, pl.KW = g.KW, pl.OH = g.H, pl.OW = g.W;
  direct::run(dy, dx, g.N, g.C, pl, nullptr, nullptr, false, ws.direct);
}
}  // namespace detail

// y (N, OC, OH, OW) = conv(x (N, C, H, W), w (OC, C, KH, KW)) + b (OC) [b may be null]
// then the epilogue (nn/kernels/epilogue.hpp), if any, applied to each
// sample's output while it is in cache.
// Samples are handed to threads dynamically (a busy core just takes fewer).
template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const Conv2DGeom& g, ConvWorkspace<T>& ws,
                    const Epilogue<T>& ep = {}) {
  const T* shift = fold_bias(b, ep, g.OC, ws.shift);
  const ConvKernel algo = choose_conv<T>(g).forward;
  if constexpr (std::is_same<T, float>::value) {
    if (algo == ConvKernel::Channels) {
      detail::oc_forward(x, w, shift, y, g, ws, ep);
      return;
    }
    if (algo == ConvKernel::Direct) {
      detail::direct_forward(x, w, shift, y, g, ws, ep);
      return;
    }
  }
  const Index K = g.col_rows(), P = g.col_cols();
  const nn::detail::Team team = nn::detail::plan_team(g.N > 1);
  const bool pointwise = algo == ConvKernel::Gemm1x1;
  const Index rows = pointwise ? g.OH : conv_chunk_rows(g, ws.chunk_elems);
  ws.reserve(team.threads, pointwise ? 0 : K * rows * g.OW);
  nn::detail::parallel_for(team, g.N, 1, [&](Index n, int tid) {
    const T* xn = x + n * g.C * g.H * g.W;
    T* yn = y + n * g.OC * P;
    T* buf = pointwise ? nullptr : ws.col[static_cast<std::size_t>(tid)].data();
    for (Index oh0 = 0; oh0 < g.OH; oh0 += rows) {
      const Index oh1 = std::min(g.OH, oh0 + rows), p0 = oh0 * g.OW, Pc = (oh1 - oh0) * g.OW;
      // y_n[:, p0:p0+Pc] (OC, Pc) = w (OC, K) * col (K, Pc)
      if (pointwise) {
        gemm<T>(false, false, g.OC, Pc, K, T(1), w, K, xn + p0, P, T(0), yn + p0, P);
      } else {
        im2col(xn, g, buf, oh0, oh1);
        gemm<T>(false, false, g.OC, Pc, K, T(1), w, K, buf, Pc, T(0), yn + p0, P);
      }
      for (Index o = 0; o < g.OC; ++o) {  // bias and epilogue while the chunk is in cache
        T* row = yn + o * P + p0;
        epilogue_row(row, row, Pc, ep.scale ? ep.scale[o] : T(1), shift ? shift[o] : T(0), ep.relu);
      }
    }
  });
}

namespace detail {
// dx_n += col2im(dcol) with dcol (K, Pc) = w^T (K, OC) * dy_n[:, p0:p0+Pc] (OC, Pc)
// for the output rows [oh0, oh1) (p0 = oh0 * OW, Pc their pixels), through the
// column buffer col; `own` (float) uses w^T packed in ws.apack.
template <class T>
void input_grad_rows(const T* w, const T* dyn, T* dxn, T* col, Index oh0, Index oh1, bool own, const Conv2DGeom& g,
                     const ConvWorkspace<T>& ws) {
  const Index K = g.col_rows(), P = g.col_cols(), p0 = oh0 * g.OW, Pc = (oh1 - oh0) * g.OW;
  if constexpr (std::is_same<T, float>::value)
    if (own) {
      small::gemm(ws.apack.data(), K, g.OC, dyn + p0, P, Pc, col, Pc);
      if (g.SW == 1 && g.KW <= 64)
        input_grad::col2im_gather(col, g, dxn, oh0, oh1);
      else
        col2im(col, g, dxn, oh0, oh1);
      return;
    }
  (void)own;
  gemm<T>(true, false, K, Pc, g.OC, T(1), w, K, dyn + p0, P, T(0), col, Pc);
  col2im(col, g, dxn, oh0, oh1);
}
}  // namespace detail

// Given dy (N, OC, OH, OW):
//   dx (N, C, H, W)      is overwritten (skipped when null)
//   dw (OC, C, KH, KW)   is accumulated (+=)
//   db (OC)              is accumulated (+=) (skipped when null)
// The batch is cut into a fixed number of groups that threads take
// dynamically; each group sums its weight gradient in its own buffer, and the
// buffers are added in group order, so dw does not depend on the thread count.
// pooled (conv2d_pool.hpp's fused backward) replaces dy by the pool's
// gradient; only where the direct weight gradient runs and dx is null.
template <class T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const Conv2DGeom& g,
                     ConvWorkspace<T>& ws, const PooledGrad<T>* pooled = nullptr) {
  const ConvChoice algo = choose_conv<T>(g, nullptr, dx != nullptr);
  const bool direct_dw = algo.weight_grad == ConvKernel::Direct;
  const bool direct_dx = dx && algo.input_grad == ConvInputGrad::Direct;
  const bool own_dx = dx && algo.input_grad == ConvInputGrad::Im2colOwn;
  if (pooled && (dx || !direct_dw))
    throw std::logic_error("conv2d_backward: a pooled gradient needs the direct weight gradient and no dx");
  const bool im2col_dx = dx && !direct_dx && !own_dx;
  const Index K = g.col_rows(), P = g.col_cols();
  // Partial sums per group: dw (OC, K) for im2col, or transposed (K, OCp) for
  // the direct kernel; then db (OC).
  const Index WS = direct_dw ? K * detail::direct_ocp(g) : g.OC * K;
  const nn::detail::Team team = nn::detail::plan_team(g.N > 1);
  const Index groups = std::min<Index>(g.N, 16), per = (g.N + groups - 1) / groups;
  const Index rows = conv_chunk_rows(g, ws.chunk_elems);
  ws.reserve(team.threads, direct_dw && !im2col_dx && !own_dx ? 0 : K * rows * g.OW);
  if (direct_dw)
    ws.direct.reserve(team.threads, detail::direct_dw_samples(g) * detail::direct_plane(g).padded_size(),
                      detail::direct_dw_samples(g) * P * detail::direct_ocp(g));
  if constexpr (std::is_same<T, float>::value)
    if (own_dx) small::pad_rows_transposed(w, g.OC, K, ws.apack);  // (K, OC)
  if (static_cast<Index>(ws.dw.size()) < groups) ws.dw.resize(static_cast<std::size_t>(groups));
  for (Index q = 0; q < groups; ++q) {  // per group: dw partial (OC, K), then db partial (OC)
    auto& part = ws.dw[static_cast<std::size_t>(q)];
    if (static_cast<Index>(part.size()) < WS + g.OC) part.resize(static_cast<std::size_t>(WS + g.OC));
  }
  nn::detail::parallel_for(team, groups, 1, [&](Index q, int tid) {
    T* part = ws.dw[static_cast<std::size_t>(q)].data();
    std::fill(part, part + WS + g.OC, T(0));  // here, not before the region: each thread touches its own groups' buffers
    if constexpr (std::is_same<T, float>::value)
      if (direct_dw) {
        detail::direct_weight_grad(x, dy, q * per, std::min(g.N, (q + 1) * per), g, part, db != nullptr, ws,
                                   tid, pooled);
        if (!im2col_dx && !own_dx) return;
      }
    T* col = ws.col[static_cast<std::size_t>(tid)].data();
    for (Index n = q * per; n < std::min(g.N, (q + 1) * per); ++n) {
      const T* dyn = dy + n * g.OC * P;
      const T* xn = x + n * g.C * g.H * g.W;
      T* dxn = im2col_dx || own_dx ? dx + n * g.C * g.H * g.W : nullptr;
      if (db && !direct_dw)
        for (Index o = 0; o < g.OC; ++o) part[WS + o] += sum_fixed(dyn + o * P, P);
      if (dxn) std::fill(dxn, dxn + g.C * g.H * g.W, T(0));
      // Chunks of output rows, so the column buffer stays in cache.
      for (Index oh0 = 0; oh0 < g.OH; oh0 += rows) {
        const Index oh1 = std::min(g.OH, oh0 + rows), p0 = oh0 * g.OW, Pc = (oh1 - oh0) * g.OW;
        if (!direct_dw) {
          im2col(xn, g, col, oh0, oh1);
          // part (OC, K) += dy_n[:, p0:p0+Pc] (OC, Pc) * col^T (Pc, K)
          gemm<T>(false, true, g.OC, K, Pc, T(1), dyn + p0, P, col, Pc, T(1), part, K);
        }
        if (dxn) detail::input_grad_rows(w, dyn, dxn, col, oh0, oh1, own_dx, g, ws);
      }
    }
  });
  if constexpr (std::is_same<T, float>::value)
    if (direct_dx) detail::direct_backward_data(dy, w, dx, g, ws);
  // The groups' partial sums added in group order into group 0's buffer (the
  // result does not depend on threads), in parallel over chunks of it; then
  // dw and db += that total.
  T* total = ws.dw[0].data();
  constexpr Index kChunk = 8192;
  nn::detail::parallel_for((WS + g.OC + kChunk - 1) / kChunk, (WS + g.OC) * groups >= (1 << 16), 1, [&](Index c, int) {
    const Index i0 = c * kChunk, i1 = std::min(WS + g.OC, i0 + kChunk);
    for (Index q = 1; q < groups; ++q) {
      const T* part = ws.dw[static_cast<std::size_t>(q)].data();
      for (Index i = i0; i < i1; ++i) total[i] += part[i];
    }
  });
  if (direct_dw) {  // total is (K, OCp): transposed
    const Index OCp = WS / K;
    for (Index k0 = 0; k0 < K; k0 += 16)  // in 16 x 16 blocks
      for (Index o0 = 0; o0 < g.OC; o0 += 16)
        for (Index o = o0; o < std::min(g.OC, o0 + 16); ++o)
          for (Index k = k0; k < std::min(K, k0 + 16); ++k) dw[o * K + k] += total[k * OCp + o];
  } else {
    for (Index i = 0; i < WS; ++i) dw[i] += total[i];
  }
  if (db)
    for (Index o = 0; o < g.OC; ++o) db[o] += total[WS + o];
}

// dx (N, C, H, W) = the input gradient of conv(x, w) for dy (N, OC, OH, OW),
// overwritten; the weights' gradient is not computed. This is also the
// forward pass of a transposed convolution (nn/layers/conv2d_transpose.hpp).
// The kernel is choose_conv's input-gradient choice; samples run in parallel.
template <class T>
void conv2d_backward_data(const T* w, const T* dy, T* dx, const Conv2DGeom& g, ConvWorkspace<T>& ws) {
  const ConvInputGrad algo = choose_conv<T>(g, nullptr, true).input_grad;
  if constexpr (std::is_same<T, float>::value)
    if (algo == ConvInputGrad::Direct) {
      detail::direct_backward_data(dy, w, dx, g, ws);
      return;
    }
  bool own = false;
  if constexpr (std::is_same<T, float>::value) own = algo == ConvInputGrad::Im2colOwn;
  const Index K = g.col_rows(), P = g.col_cols();
  const nn::detail::Team team = nn::detail::plan_team(g.N > 1);
  const Index rows = conv_chunk_rows(g, ws.chunk_elems);
  ws.reserve(team.threads, K * rows * g.OW);
  if constexpr (std::is_same<T, float>::value)
    if (own) small::pad_rows_transposed(w, g.OC, K, ws.apack);  // (K, OC)
  nn::detail::parallel_for(team, g.N, 1, [&](Index n, int tid) {
    T* col = ws.col[static_cast<std::size_t>(tid)].data();
    const T* dyn = dy + n * g.OC * P;
    T* dxn = dx + n * g.C * g.H * g.W;
    std::fill(dxn, dxn + g.C * g.H * g.W, T(0));
    for (Index oh0 = 0; oh0 < g.OH; oh0 += rows)
      detail::input_grad_rows(w, dyn, dxn, col, oh0, std::min(g.OH, oh0 + rows), own, g, ws);
  });
}

}  // namespace nn::kernels
