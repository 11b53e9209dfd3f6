// nn/kernels/dense_bf16.hpp — bf16 fully connected layer: bf16 inputs times
// bf16 weights, float sums, then bias, ReLU and bf16 or float output.
//   x (N, K2) words (a sample's words in either bf16.hpp layout)
//   weights (O, K2 * 2) bf16 in the same order as x's values
//   y (N, ceil(O/2) * 2) bf16, or (N, O) float
//
// Micro-kernel (AVX-512 BF16): up to 4 rows x 4 panels of 16 outputs = 16
// float accumulators; per input word: 4 loads of weights, 4 broadcasts, 16
// vdpbf16ps. The portable kernel sums the same exact products with float
// fused multiply-adds (agreeing to float rounding).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nn/kernels/bf16.hpp"

namespace nn::kernels::bf16 {

constexpr Index kDenseRows = 4, kDensePanel = 16, kDensePanels = 4;

// Weights packed as words [ceil(O/16)][K2][16]: word (panel, k, j) holds
// values 2k, 2k + 1 of output 16 * panel + j (0 past O).
struct DenseWeights {
  Index O = 0, K2 = 0;
  std::vector<std::uint32_t> packed;
  Index panels() const { return (O + kDensePanel - 1) / kDensePanel; }
};

// w (O, K2 * 2) bf16 -> packed.
inline DenseWeights pack_dense_weights(const bf16_t* w, Index O, Index K2) {
  DenseWeights d;
  d.O = O, d.K2 = K2;
  d.packed.assign(static_cast<std::size_t>(d.panels() * K2 * kDensePanel), 0);
  for (Index o = 0; o < O; ++o)
    for (Index k = 0; k < K2; ++k)
      d.packed[static_cast<std::size_t>((o / kDensePanel * K2 + k) * kDensePanel + o % kDensePanel)] =
          std::uint32_t(w[o * K2 * 2 + 2 * k]) | std::uint32_t(w[o * K2 * 2 + 2 * k + 1]) << 16;
  return d;
}

#if NN_X86_AVX512_KERNELS
template <int R, int NP>
__attribute__((target("avx512f,avx512bw,avx512bf16"), noinline)) void dense_tile_bf16(const std::uint8_t* x, Index ldx,
                                                                                     const DenseWeights& w, Index p0,
                                                                                     float* acc) {
  __m512 a[R][NP];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) a[r][j] = _mm512_setzero_ps();
  const std::uint32_t* wp = w.packed.data() + p0 * w.K2 * kDensePanel;
  const Index pstride = w.K2 * kDensePanel;
  for (Index k = 0; k < w.K2; ++k) {
    __m512bh v[NP];
    for (int j = 0; j < NP; ++j) v[j] = (__m512bh)_mm512_loadu_si512(wp + j * pstride + k * kDensePanel);
    for (int r = 0; r < R; ++r) {
      std::int32_t word;
      std::memcpy(&word, x + r * ldx + 4 * k, 4);
      const __m512bh b = (__m512bh)_mm512_set1_epi32(word);
      for (int j = 0; j < NP; ++j) a[r][j] = _mm512_dpbf16_ps(a[r][j], b, v[j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < NP; ++j) _mm512_storeu_ps(acc + r * NP * kDensePanel + j * kDensePanel, a[r][j]);
}

template <int R>
void dense_tile_bf16_np(const std::uint8_t* x, Index ldx, const DenseWeights& w, Index p0, Index np, float* acc) {
  switch (np) {
    case 1: return dense_tile_bf16<R, 1>(x, ldx, w, p0, acc);
    case 2: return dense_tile_bf16<R, 2>(x, ldx, w, p0, acc);
    case 3: return dense_tile_bf16<R, 3>(x, ldx, w, p0, acc);
    default: return dense_tile_bf16<R, 4>(x, ldx, w, p0, acc);
  }
}
#endif

inline void dense_tile_portable(const std::uint8_t* x, Index ldx, Index R, const DenseWeights& w, Index p0, Index np,
                                float* acc) {
  const Index cols = np * kDensePanel;
  for (Index r = 0; r < R; ++r)
    for (Index j = 0; j < cols; ++j) {
      const std::uint32_t* wp = w.packed.data() + ((p0 + j / kDensePanel) * w.K2) * kDensePanel + j % kDensePanel;
      float s = 0;
      for (Index k = 0; k < w.K2; ++k) {
        std::uint32_t xv;
        std::memcpy(&xv, x + r * ldx + 4 * k, 4);
        const std::uint32_t wv = wp[k * kDensePanel];
        s = std::fma(to_float(bf16_t(xv >> 16)), to_float(bf16_t(wv >> 16)),
                     std::fma(to_float(bf16_t(xv & 0xFFFF)), to_float(bf16_t(wv & 0xFFFF)), s));
      }
      acc[r * cols + j] = s;
    }
}

struct DenseOut {
  const float* bias = nullptr;  // (O), or null
  bool relu = false;
  bool float_out = false;
};

// x (N, K2 * 4 bytes) -> y: bf16 (N, ceil(O/2) * 2), or float (N, O).
inline void dense_bf16(const std::uint8_t* x, Index N, const DenseWeights& w, const DenseOut& out, void* y) {
  const Index row_blocks = (N + kDenseRows - 1) / kDenseRows;
  const Index groups = (w.panels() + kDensePanels - 1) / kDensePanels;
  const Index ldx = w.K2 * 4, ldy = out.float_out ? w.O : (w.O + 1) / 2 * 2;
  const bool fast = bf16_enabled();
  (void)fast;
  const double work = double(N) * double(w.O) * double(w.K2 * 2);
  nn::detail::parallel_for(row_blocks * groups, work >= 2e6, 1, [&](std::ptrdiff_t item, int) {
    const Index rb = item / groups, gi = item % groups;
    const Index r0 = rb * kDenseRows, R = std::min(kDenseRows, N - r0);
    const Index p0 = gi * kDensePanels, np = std::min(kDensePanels, w.panels() - p0);
    float acc[kDenseRows * kDensePanels * kDensePanel];
    const std::uint8_t* xr = x + r0 * ldx;
#if NN_X86_AVX512_KERNELS
    if (fast) {
      switch (R) {
        case 1: dense_tile_bf16_np<1>(xr, ldx, w, p0, np, acc); break;
        case 2: dense_tile_bf16_np<2>(xr, ldx, w, p0, np, acc); break;
        case 3: dense_tile_bf16_np<3>(xr, ldx, w, p0, np, acc); break;
        default: dense_tile_bf16_np<4>(xr, ldx, w, p0, np, acc); break;
      }
    } else
#endif
      dense_tile_portable(xr, ldx, R, w, p0, np, acc);
    const Index cols = np * kDensePanel;
    for (Index r = 0; r < R; ++r)
      for (Index j = 0; j < cols; ++j) {
        const Index o = p0 * kDensePanel + j;
        if (o >= w.O) break;
        float f = acc[r * cols + j] + (out.bias ? out.bias[o] : 0.0f);
        if (out.relu) f = f > 0.0f ? f : 0.0f;
        if (out.float_out) {
          static_cast<float*>(y)[(r0 + r) * ldy + o] = f;
        } else {
          const bf16_t h = from_float(f);
          std::memcpy(static_cast<std::uint8_t*>(y) + 2 * ((r0 + r) * ldy + o), &h, 2);
        }
      }
    if (!out.float_out && gi == groups - 1 && w.O % 2)  // the padding value of each output row is 0
      for (Index r = 0; r < R; ++r) std::memset(static_cast<std::uint8_t*>(y) + 2 * ((r0 + r) * ldy + w.O), 0, 2);
  });
}

}  // namespace nn::kernels::bf16
