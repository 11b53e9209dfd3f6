// nn/kernels/bf16.hpp — bfloat16 activations and weights: the type, the
// conversions, and the layouts the bf16 kernels read.
//
// bf16 is float's upper half (8 exponent bits, 7 mantissa bits). Float ->
// bf16 rounds to nearest even; like the AVX-512 BF16 instructions it flushes
// denormals to zero, and NaN stays NaN (quiet). The product of two bf16
// values is exact in float, so a bf16 dot product loses only what the float
// accumulation loses.
//
// Layouts, per sample (the batch is the outer dimension), in 32-bit words of
// two channels (the unit one lane of vdpbf16ps reads):
//   (C, H, W) feature maps: "C2", words [ceil(C/2)][H][W], channel c of
//     pixel p in the half c % 2 of word (c/2, p); a channel past C is 0.
//   (K) feature vectors: K values padded to an even count with 0.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "nn/kernels/avx512.hpp"
#include "nn/kernels/cpu.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>
#endif

namespace nn::kernels::bf16 {

using bf16_t = std::uint16_t;

inline bf16_t from_float(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7F800000u) == 0x7F800000u && (b & 0x007FFFFFu)) return static_cast<bf16_t>((b >> 16) | 0x40);  // NaN
  if ((b & 0x7F800000u) == 0) return static_cast<bf16_t>((b >> 16) & 0x8000);  // zero, denormal: signed 0
  b += 0x7FFFu + ((b >> 16) & 1u);
  return static_cast<bf16_t>(b >> 16);
}
inline float to_float(bf16_t h) {
  const std::uint32_t b = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

#if NN_X86_AVX512_KERNELS
// 16 lanes of from_float, as 32-bit integers holding the bf16 bits.
__attribute__((target("avx512f"))) inline __m512i from_float16(__m512 v) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i exp = _mm512_and_si512(b, _mm512_set1_epi32(0x7F800000));
  const __mmask16 nan = _mm512_cmpeq_epi32_mask(exp, _mm512_set1_epi32(0x7F800000)) &
                        _mm512_test_epi32_mask(b, _mm512_set1_epi32(0x007FFFFF));
  const __mmask16 tiny = _mm512_cmpeq_epi32_mask(exp, _mm512_setzero_si512());
  const __m512i odd = _mm512_and_si512(avx512::srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = avx512::srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(avx512::srli_epi32(b, 16), _mm512_set1_epi32(0x40)));
  r = _mm512_mask_mov_epi32(r, tiny, _mm512_and_si512(avx512::srli_epi32(b, 16), _mm512_set1_epi32(0x8000)));
  return r;
}

// 16 values of two float rows a, b into 16 words a | b << 16.
__attribute__((target("avx512f"))) inline __m512i pair16(__m512 a, __m512 b) {
  return _mm512_or_si512(from_float16(a), avx512::slli_epi32(from_float16(b), 16));
}
#endif

#if NN_X86_AVX512_KERNELS
// pack_pairs' vector part: the first multiple of 16 of n; returns how many.
__attribute__((target("avx512f"))) inline Index pack_pairs16(const float* a, const float* b, Index n,
                                                              std::uint8_t* out) {
  Index j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 va = a ? _mm512_loadu_ps(a + j) : _mm512_setzero_ps();
    const __m512 vb = b ? _mm512_loadu_ps(b + j) : _mm512_setzero_ps();
    _mm512_storeu_si512(out + 4 * j, pair16(va, vb));
  }
  return j;
}
#endif

// Two float rows (null: a channel past C, stored as 0) into n words at out.
inline void pack_pairs(const float* a, const float* b, Index n, std::uint8_t* out) {
  Index i = 0;
#if NN_X86_AVX512_KERNELS
  if (avx512_enabled()) i = pack_pairs16(a, b, n, out);
#endif
  for (; i < n; ++i) {
    const std::uint32_t w = std::uint32_t(a ? from_float(a[i]) : 0) | std::uint32_t(b ? from_float(b[i]) : 0) << 16;
    std::memcpy(out + 4 * i, &w, 4);
  }
}

// Bytes per sample of a per-sample shape: (C, H, W) in C2, (K) padded to even.
inline Index row_bytes(const Shape& s) {
  if (s.rank() == 3) return (s[0] + 1) / 2 * s[1] * s[2] * 4;
  if (s.rank() == 1) return (s[0] + 1) / 2 * 4;
  throw std::invalid_argument("bf16 activations are (C, H, W) or (K) per sample, not " + s.str());
}

// x (N, s...) float -> out (N, row_bytes(s)).
inline void convert(const float* x, const Shape& per_sample, Index N, std::uint8_t* out) {
  const Index rb = row_bytes(per_sample), n_in = per_sample.size();
  nn::detail::parallel_for(N, N * n_in >= (1 << 16), 1, [&](std::ptrdiff_t n, int) {
    const float* xs = x + n * n_in;
    std::uint8_t* o = out + n * rb;
    if (per_sample.rank() == 3) {
      const Index C = per_sample[0], HW = per_sample[1] * per_sample[2];
      for (Index g = 0; g < (C + 1) / 2; ++g)
        pack_pairs(xs + 2 * g * HW, 2 * g + 1 < C ? xs + (2 * g + 1) * HW : nullptr, HW, o + g * HW * 4);
    } else {
      for (Index k = 0; k < rb / 2; ++k) {
        const bf16_t h = k < n_in ? from_float(xs[k]) : bf16_t(0);
        std::memcpy(o + 2 * k, &h, 2);
      }
    }
  });
}

// in (N, row_bytes(s)) -> y (N, s...) float.
inline void convert_back(const std::uint8_t* in, const Shape& per_sample, Index N, float* y) {
  const Index rb = row_bytes(per_sample), n_out = per_sample.size();
  nn::detail::parallel_for(N, N * n_out >= (1 << 16), 1, [&](std::ptrdiff_t n, int) {
    const std::uint8_t* s = in + n * rb;
    auto at = [&](Index k) {  // the k-th bf16 of the sample
      bf16_t h;
      std::memcpy(&h, s + 2 * k, 2);
      return to_float(h);
    };
    float* ys = y + n * n_out;
    if (per_sample.rank() == 3) {
      const Index C = per_sample[0], HW = per_sample[1] * per_sample[2];
      for (Index c = 0; c < C; ++c)
        for (Index i = 0; i < HW; ++i) ys[c * HW + i] = at(((c / 2) * HW + i) * 2 + c % 2);
    } else {
      for (Index k = 0; k < n_out; ++k) ys[k] = at(k);
    }
  });
}

}  // namespace nn::kernels::bf16
