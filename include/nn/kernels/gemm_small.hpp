// nn/kernels/gemm_small.hpp — C = A * B for products with few columns (a
// convolution's pixels of one sample, e.g. 64 for 8x8 maps), float, on
// AVX-512 CPUs (checked at run time, as for the direct convolution).
//
// Eigen's GEMM packs both operands on every call, so products repeated per
// sample with the same A (the weights) pack it again each time, which on
// 800 x 64 x 64 input-gradient products costs a quarter of the product
// itself. Here A is transposed and padded
// once per call (pad_rows_transposed) and read by broadcasts; B is read in
// place, 16 columns per zmm: register tiles of R rows x J vectors,
// R x J <= 24 accumulators; per depth step J loads of B, R broadcasts of A,
// R x J FMAs (about three quarters of the FMA peak on one core).
#pragma once
#include <algorithm>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV, direct::transpose
#include "nn/tensor/tensor.hpp"

namespace nn::kernels::small {

constexpr Index kRowPad = 24;  // A's rows are padded to a multiple of every tile height

inline Index padded_rows(Index M) { return (M + kRowPad - 1) / kRowPad * kRowPad; }

// Ap (padded_rows(M), K) = A^T where A is (K, M): the rows past M zero.
inline void pad_rows_transposed(const float* A, Index K, Index M, std::vector<float>& Ap) {
  Ap.assign(static_cast<std::size_t>(padded_rows(M) * K), 0.0f);
  direct::transpose(A, K, M, M, Ap.data(), K);
}

#if NN_DIRECT_CONV
// C[r * ldc + q] (r < rows, q < n) = sum_k A[r * K + k] * B[k * ldb + q],
// 16 * (J - 1) < n <= 16 * J.
template <int R, int J>
__attribute__((target("avx512f"))) inline void tile(const float* A, Index K, const float* B, Index ldb, Index n,
                                                     Index rows, float* C, Index ldc) {
  const int tail = static_cast<int>(n - 16 * (J - 1));
  const __mmask16 m = static_cast<__mmask16>(tail >= 16 ? 0xFFFFu : (1u << tail) - 1u);
  __m512 acc[R][J];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
  for (Index k = 0; k < K; ++k) {
    const float* b = B + k * ldb;
    __m512 v[J];
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) v[j] = j + 1 < J ? _mm512_loadu_ps(b + 16 * j) : _mm512_maskz_loadu_ps(m, b + 16 * j);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * K + k]);
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) acc[r][j] = _mm512_fmadd_ps(a, v[j], acc[r][j]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    if (r < rows)
#pragma GCC unroll 4
      for (int j = 0; j < J; ++j) {
        float* c = C + r * ldc + 16 * j;
        if (j + 1 < J)
          _mm512_storeu_ps(c, acc[r][j]);
        else
          _mm512_mask_storeu_ps(c, m, acc[r][j]);
      }
}

// C (M, N) = Ap (M, K) * B (K, N), overwritten; Ap as pad_rows_transposed made it
// (rows past M are read, never written out); B's rows ldb apart, C's ldc.
// Single-threaded: callers parallelize over samples.
inline void gemm(const float* Ap, Index M, Index K, const float* B, Index ldb, Index N, float* C, Index ldc) {
  for (Index q0 = 0; q0 < N; q0 += 64) {
    const Index n = std::min<Index>(64, N - q0), J = (n + 15) / 16;
    const Index R = J == 4 ? 6 : J == 3 ? 8 : 12;
    for (Index r0 = 0; r0 < M; r0 += R) {
      const float* a = Ap + r0 * K;
      const Index rows = std::min(R, M - r0);
      float* c = C + r0 * ldc + q0;
      switch (J) {
        case 4: tile<6, 4>(a, K, B + q0, ldb, n, rows, c, ldc); break;
        case 3: tile<8, 3>(a, K, B + q0, ldb, n, rows, c, ldc); break;
        case 2: tile<12, 2>(a, K, B + q0, ldb, n, rows, c, ldc); break;
        default: tile<12, 1>(a, K, B + q0, ldb, n, rows, c, ldc); break;
      }
    }
  }
}
#else
// Not x86-64: never called (avx512_enabled() is false).
inline void gemm(const float*, Index, Index, const float*, Index, Index, float*, Index) {}
#endif

}  // namespace nn::kernels::small
