// nn/kernels/dense_int8.hpp — int8 fully connected layer: u8 inputs times s8
// weights, int32 sums, then the epilogue (bias, ReLU, requantization to u8
// or float output).
//   x (N, Kq * 4) u8 (a sample's bytes in either quant8.hpp layout)
//   weights (O, Kq * 4) s8 in the same byte order as x
//   y (N, ceil(O/4) * 4) u8, or (N, O) float
//
// Micro-kernel (AVX-512 VNNI): up to 4 rows x 4 panels of 16 outputs = 16
// int32 accumulators; per 4 input bytes: 4 loads of weights, 4 broadcasts of
// the rows' input words, 16 vpdpbusd. The portable kernel computes the same
// integer sums.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nn/kernels/quant8.hpp"

namespace nn::kernels::q8 {

constexpr Index kDenseRows = 4, kDensePanel = 16, kDensePanels = 4;

// Weights packed as words [ceil(O/16)][Kq][16]: word (panel, k, j) holds the
// 4 bytes k of output 16 * panel + j (0 past O).
struct DenseWeights {
  Index O = 0, Kq = 0;
  std::vector<std::int32_t> packed;
  std::vector<std::int32_t> wsum;
  Index panels() const { return (O + kDensePanel - 1) / kDensePanel; }
};

// q (O, Kq * 4) int8 -> packed.
inline DenseWeights pack_dense_weights(const std::int8_t* q, Index O, Index Kq) {
  if (Kq * 4 > kMaxDepth)
    throw std::invalid_argument("dense_int8: " + std::to_string(Kq * 4) +
                                " inputs exceed the int32 accumulator's safe depth");
  DenseWeights w;
  w.O = O, w.Kq = Kq;
  w.packed.assign(static_cast<std::size_t>(w.panels() * Kq * kDensePanel), 0);
  w.wsum.assign(static_cast<std::size_t>(O), 0);
  for (Index o = 0; o < O; ++o)
    for (Index k = 0; k < Kq; ++k) {
      std::int32_t word;
      std::memcpy(&word, q + o * Kq * 4 + k * 4, 4);
      w.packed[static_cast<std::size_t>((o / kDensePanel * Kq + k) * kDensePanel + o % kDensePanel)] = word;
      for (Index b = 0; b < 4; ++b) w.wsum[static_cast<std::size_t>(o)] += q[o * Kq * 4 + k * 4 + b];
    }
  return w;
}

#if NN_X86_AVX512_KERNELS
// acc (R, NP * 16) = rows x [R] (stride ldx bytes) times panels [p0, p0 + NP).
template <int R, int NP>
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) void dense_tile_vnni(const std::uint8_t* x,
                                                                                     Index ldx,
                                                                                     const DenseWeights& w,
                                                                                     Index p0, std::int32_t* acc) {
  __m512i a[R][NP];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) a[r][j] = _mm512_setzero_si512();
  const std::int32_t* wp = w.packed.data() + p0 * w.Kq * kDensePanel;
  const Index pstride = w.Kq * kDensePanel;
  for (Index k = 0; k < w.Kq; ++k) {
    __m512i v[NP];
    for (int j = 0; j < NP; ++j) v[j] = _mm512_loadu_si512(wp + j * pstride + k * kDensePanel);
    for (int r = 0; r < R; ++r) {
      std::int32_t word;
      std::memcpy(&word, x + r * ldx + 4 * k, 4);
      const __m512i b = _mm512_set1_epi32(word);
      for (int j = 0; j < NP; ++j) a[r][j] = _mm512_dpbusd_epi32(a[r][j], b, v[j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) _mm512_storeu_si512(acc + r * NP * kDensePanel + j * kDensePanel, a[r][j]);
}

template <int R>
void dense_tile_vnni_np(const std::uint8_t* x, Index ldx, const DenseWeights& w, Index p0, Index np,
                        std::int32_t* acc) {
  switch (np) {
    case 1: return dense_tile_vnni<R, 1>(x, ldx, w, p0, acc);
    case 2: return dense_tile_vnni<R, 2>(x, ldx, w, p0, acc);
    case 3: return dense_tile_vnni<R, 3>(x, ldx, w, p0, acc);
    default: return dense_tile_vnni<R, 4>(x, ldx, w, p0, acc);
  }
}
#endif

inline void dense_tile_portable(const std::uint8_t* x, Index ldx, Index R, const DenseWeights& w, Index p0, Index np,
                                std::int32_t* acc) {
  const Index cols = np * kDensePanel;
  for (Index r = 0; r < R; ++r)
    for (Index j = 0; j < cols; ++j) {
      const std::int32_t* wp = w.packed.data() + ((p0 + j / kDensePanel) * w.Kq) * kDensePanel + j % kDensePanel;
      std::int32_t s = 0;
      for (Index k = 0; k < w.Kq; ++k) {
        std::int8_t b[4];
        std::memcpy(b, wp + k * kDensePanel, 4);
        const std::uint8_t* xv = x + r * ldx + 4 * k;
        s += std::int32_t(xv[0]) * b[0] + std::int32_t(xv[1]) * b[1] + std::int32_t(xv[2]) * b[2] +
             std::int32_t(xv[3]) * b[3];
      }
      acc[r * cols + j] = s;
    }
}

// What a dense layer's epilogue produces.
struct DenseOut {
  const Requant* rq = nullptr;
  bool relu = false;
  bool float_out = false;
  QParams q;  // the u8 output's parameters
};

// x (N, Kq * 4) -> y: u8 (N, ceil(O/4) * 4), or float (N, O).
inline void dense_int8(const std::uint8_t* x, Index N, const DenseWeights& w, const DenseOut& out, void* y) {
  const Index row_blocks = (N + kDenseRows - 1) / kDenseRows;
  const Index groups = (w.panels() + kDensePanels - 1) / kDensePanels;
  const Index ldx = w.Kq * 4, ldy = out.float_out ? w.O : quads(w.O) * 4;
  const bool vnni = vnni_enabled();
  (void)vnni;
  const double work = double(N) * double(w.O) * double(ldx);
  nn::detail::parallel_for(row_blocks * groups, work >= 2e6, 1, [&](std::ptrdiff_t item, int) {
    const Index rb = item / groups, gi = item % groups;
    const Index r0 = rb * kDenseRows, R = std::min(kDenseRows, N - r0);
    const Index p0 = gi * kDensePanels, np = std::min(kDensePanels, w.panels() - p0);
    std::int32_t acc[kDenseRows * kDensePanels * kDensePanel];
    const std::uint8_t* xr = x + r0 * ldx;
#if NN_X86_AVX512_KERNELS
    if (vnni) {
      switch (R) {
        case 1: dense_tile_vnni_np<1>(xr, ldx, w, p0, np, acc); break;
        case 2: dense_tile_vnni_np<2>(xr, ldx, w, p0, np, acc); break;
        case 3: dense_tile_vnni_np<3>(xr, ldx, w, p0, np, acc); break;
        default: dense_tile_vnni_np<4>(xr, ldx, w, p0, np, acc); break;
      }
    } else
#endif
      dense_tile_portable(xr, ldx, R, w, p0, np, acc);
    const Index cols = np * kDensePanel;
    const float inv = out.q.inv_scale();
    for (Index r = 0; r < R; ++r)
      for (Index j = 0; j < cols; ++j) {
        const Index o = p0 * kDensePanel + j;
        if (o >= w.O) break;
        const std::size_t so = static_cast<std::size_t>(o);
        float f = std::fma(static_cast<float>(acc[r * cols + j] - out.rq->offset[so]), out.rq->mult[so], out.rq->bias[so]);
        if (out.relu) f = f > 0.0f ? f : 0.0f;
        if (out.float_out) static_cast<float*>(y)[(r0 + r) * ldy + o] = f;
        else static_cast<std::uint8_t*>(y)[(r0 + r) * ldy + o] = quantize_one(f, inv, out.q.zero_point);
      }
    if (!out.float_out && gi == groups - 1)  // the padding bytes of each output row hold the zero point
      for (Index r = 0; r < R; ++r)
        for (Index o = w.O; o < ldy; ++o) static_cast<std::uint8_t*>(y)[(r0 + r) * ldy + o] = std::uint8_t(out.q.zero_point);
  });
}

}  // namespace nn::kernels::q8
