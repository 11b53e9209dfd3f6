// nn/kernels/sgemm_packed.hpp — single-threaded packed SGEMM for AVX-512
// CPUs (checked at run time, as for the direct convolution), used by gemm.hpp
// for float products large enough to pay for the packing.
//
// GotoBLAS loop nest over row-major C (M, N) += alpha * op(A) op(B):
//   for jc in N step nc:                    B block (kc, nc) packed: ~1.5 MiB, L2
//     for pc in K step kc:
//       pack B[pc:pc+kc, jc:jc+nc] into 32-column slivers  (sliver: kc x 32)
//       for ic in M step mc:
//         pack alpha * A[ic:ic+mc, pc:pc+kc] into 12-row slivers (kc x 12)
//         for ir in mc step 12:             A sliver (12 KiB at kc 256) stays in L1
//           for jr in nc step 32:           B slivers stream from L2
//             micro: C[12 x 32 tile] += A sliver * B sliver
// The micro-kernel keeps the 12 x 32 tile in 24 zmm accumulators; per depth
// step 2 loads of B, 12 broadcasts of A, 24 FMAs. Walking jr innermost moves
// the C tile along its rows (12 sequential streams, prefetched at the start
// of each tile). Speed next to OpenBLAS and Eigen: docs/performance.md.
//
// Every element of C is summed in the same order (k in blocks of kc fixed by K
// alone, alpha folded into the packed A) whatever M, N and the caller's split
// into blocks, so gemm.hpp's results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV, avx512_enabled
#include "nn/tensor/tensor.hpp"

namespace nn::kernels::packed {

constexpr Index kMR = 12;   // rows of C per micro-tile (broadcasts of A)
constexpr Index kNR = 32;   // columns of C per micro-tile (2 zmm of B)
constexpr Index kKC = 384;  // depth per packed block (at most)
constexpr Index kMC = 96;   // rows of A packed at a time
constexpr Index kNC = 1024; // columns of B packed at a time

// Depth blocks of at most kKC, as even as possible: kc depends on K only.
inline Index depth_block(Index K) {
  const Index blocks = (K + kKC - 1) / kKC;
  return (K + blocks - 1) / blocks;
}

// Per-thread packing buffers, kept across calls (no page faults per call).
struct Buffers {
  std::vector<float> a, b;
  static Buffers& mine() {
    thread_local Buffers buffers;
    return buffers;
  }
  // A 64-byte aligned pointer to at least n floats of v.
  static float* aligned(std::vector<float>& v, Index n) {
    if (static_cast<Index>(v.size()) < n + 16) v.resize(static_cast<std::size_t>(n + 16));
    const auto p = reinterpret_cast<std::uintptr_t>(v.data());
    return v.data() + ((64 - p % 64) % 64) / sizeof(float);
  }
};

#if NN_DIRECT_CONV
// Packed A: for each 12-row sliver, kc steps of 12 values alpha * A(i, k),
// rows past mc zero. A(i, k) = A[i * ra + k * ca].
//   A block: (mc, kc)   out: (ceil(mc / 12), kc, 12)
__attribute__((target("avx512f"))) inline void pack_a(Index mc, Index kc, const float* A, Index ra, Index ca,
                                                       float alpha, float* out) {
  alignas(64) float rows[16 * 16], cols[16 * 16];
  const __m512 va = _mm512_set1_ps(alpha);
  for (Index i0 = 0; i0 < mc; i0 += kMR, out += kc * kMR) {
    const Index m = std::min(kMR, mc - i0);
    if (ca == 1) {  // rows of A contiguous: 16 x 16 blocks transposed in registers
      std::fill(rows + m * 16, rows + 16 * 16, 0.0f);
      Index k0 = 0;
      for (; k0 + 16 <= kc; k0 += 16) {
        for (Index i = 0; i < m; ++i)
          _mm512_store_ps(rows + i * 16, _mm512_mul_ps(va, _mm512_loadu_ps(A + (i0 + i) * ra + k0)));
        direct::transpose16(rows, 16, cols, 16);  // cols[k * 16 + i]
        for (Index k = 0; k < 16; ++k) _mm512_mask_storeu_ps(out + (k0 + k) * kMR, 0x0FFF, _mm512_load_ps(cols + k * 16));
      }
      for (Index k = k0; k < kc; ++k)
        for (Index i = 0; i < kMR; ++i) out[k * kMR + i] = i < m ? alpha * A[(i0 + i) * ra + k] : 0.0f;
    } else {  // A transposed in memory (ra == 1): 12 contiguous values per k
      const __mmask16 mk = static_cast<__mmask16>((1u << m) - 1u);
      for (Index k = 0; k < kc; ++k)
        _mm512_mask_storeu_ps(out + k * kMR, 0x0FFF, _mm512_mul_ps(va, _mm512_maskz_loadu_ps(mk, A + k * ca + i0)));
    }
  }
}

// The first n lanes of a 16-float vector (none for n <= 0, all for n >= 16).
inline __mmask16 lane_mask(Index n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1u);
}

// Packed B: for each 32-column sliver, kc rows of 32 values, columns past nc
// zero. B(k, j) = B[k * rb + j * cb].
//   B block: (kc, nc)   out: (ceil(nc / 32), kc, 32)
__attribute__((target("avx512f"))) inline void pack_b(Index kc, Index nc, const float* B, Index rb, Index cb,
                                                       float* out) {
  for (Index j0 = 0; j0 < nc; j0 += kNR, out += kc * kNR) {
    const Index n = std::min(kNR, nc - j0);
    if (cb == 1) {  // rows of B contiguous
      const __mmask16 m0 = lane_mask(n), m1 = lane_mask(n - 16);
      for (Index k = 0; k < kc; ++k) {
        const float* s = B + k * rb + j0;
        _mm512_store_ps(out + k * kNR, _mm512_maskz_loadu_ps(m0, s));
        _mm512_store_ps(out + k * kNR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
      }
    } else {  // B transposed in memory (rb == 1): column j is contiguous in k
      Index j = 0, k0 = 0;
      for (; j + 16 <= n; j += 16) {  // 16 x 16 blocks transposed in registers
        for (k0 = 0; k0 + 16 <= kc; k0 += 16) direct::transpose16(B + (j0 + j) * cb + k0, cb, out + k0 * kNR + j, kNR);
        for (Index k = k0; k < kc; ++k)
          for (Index q = j; q < j + 16; ++q) out[k * kNR + q] = B[(j0 + q) * cb + k];
      }
      for (Index k = 0; k < kc; ++k)  // the last columns, zero past n
        for (Index q = j; q < kNR; ++q) out[k * kNR + q] = q < n ? B[(j0 + q) * cb + k] : 0.0f;
    }
  }
}

// C[i * ldc + j] += sum_k a[k * 12 + i] * b[k * 32 + j] for i < m, j < n.
//   a: (kc, 12) packed   b: (kc, 32) packed   C: (m <= 12, n <= 32) of ldc
// Not inlined: inlined into a caller compiled without -mavx512f (nn's
// default build), GCC 12 spills the two B vectors to the stack every step
// and the kernel runs at about 60% of its speed.
__attribute__((target("avx512f"), noinline)) inline void micro(Index kc, const float* __restrict a,
                                                                     const float* __restrict b, float* C, Index ldc,
                                                                     Index m, Index n) {
  __m512 acc[kMR][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < kMR; ++i) {  // the tile's rows arrive while the sums run
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 16), _MM_HINT_T0);
  }
  for (Index k = 0; k < kc; ++k, a += kMR, b += kNR) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < kMR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  if (m == kMR && n == kNR) {
#pragma GCC unroll 12
    for (int i = 0; i < kMR; ++i) {
      float* c = C + i * ldc;
      _mm512_storeu_ps(c, _mm512_add_ps(_mm512_loadu_ps(c), acc[i][0]));
      _mm512_storeu_ps(c + 16, _mm512_add_ps(_mm512_loadu_ps(c + 16), acc[i][1]));
    }
  } else {
    const __mmask16 m0 = lane_mask(n), m1 = lane_mask(n - 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMR; ++i) {
      if (i >= m) break;
      float* c = C + i * ldc;
      _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), acc[i][0]));
      _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), acc[i][1]));
    }
  }
}

// C (M, N) row-major += alpha * op(A) op(B), single-threaded, AVX-512 only
// (callers check avx512_enabled()). op(A)(i, k) = A[i * ra + k * ca],
// op(B)(k, j) = B[k * rb + j * cb]; one of ra, ca is 1 and one of rb, cb is 1.
__attribute__((target("avx512f"))) inline void gemm_accumulate(Index M, Index N, Index K, float alpha,
                                                                const float* A, Index ra, Index ca, const float* B,
                                                                Index rb, Index cb, float* C, Index ldc) {
  const Index kcb = depth_block(K);
  auto& buf = Buffers::mine();
  float* pa = Buffers::aligned(buf.a, (kMC + kMR - 1) / kMR * kMR * kcb);
  float* pb = Buffers::aligned(buf.b, (kNC + kNR - 1) / kNR * kNR * kcb);
  for (Index jc = 0; jc < N; jc += kNC) {
    const Index nc = std::min(kNC, N - jc);
    for (Index pc = 0; pc < K; pc += kcb) {
      const Index kc = std::min(kcb, K - pc);
      pack_b(kc, nc, B + pc * rb + jc * cb, rb, cb, pb);
      for (Index ic = 0; ic < M; ic += kMC) {
        const Index mc = std::min(kMC, M - ic);
        pack_a(mc, kc, A + ic * ra + pc * ca, ra, ca, alpha, pa);
        for (Index ir = 0; ir < mc; ir += kMR)
          for (Index jr = 0; jr < nc; jr += kNR)
            micro(kc, pa + ir * kc, pb + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, std::min(kMR, mc - ir),
                  std::min(kNR, nc - jr));
      }
    }
  }
}
#endif

}  // namespace nn::kernels::packed
