// nn/kernels/avx512.hpp — AVX-512 intrinsics in forms that GCC 12 compiles
// without warnings in builds without -march=native.
//
// Many AVX-512 intrinsics (_mm512_max_ps, _mm512_slli_epi32, ...) pass
// _mm512_undefined_*() as the pass-through operand of a masked builtin; once
// inlined into a function compiled with a target attribute, GCC 12 reports
// that value as "may be used uninitialized" (-Wmaybe-uninitialized, an error
// under NN_WERROR). These wrappers use the masked forms with every lane
// selected and a defined pass-through: the same instructions, the same
// results.
#pragma once
#include "nn/kernels/cpu.hpp"

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>

namespace nn::kernels::avx512 {

#define NN_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline
NN_AVX512_INLINE __m512 max_ps(__m512 a, __m512 b) { return _mm512_mask_max_ps(a, 0xFFFF, a, b); }
NN_AVX512_INLINE __m512 min_ps(__m512 a, __m512 b) { return _mm512_mask_min_ps(a, 0xFFFF, a, b); }
NN_AVX512_INLINE __m512i max_epi32(__m512i a, __m512i b) { return _mm512_mask_max_epi32(a, 0xFFFF, a, b); }
NN_AVX512_INLINE __m512 cvtepi32_ps(__m512i a) { return _mm512_mask_cvtepi32_ps(_mm512_setzero_ps(), 0xFFFF, a); }
// Float to int32, truncating.
NN_AVX512_INLINE __m512i cvttps_epi32(__m512 a) {
  return _mm512_mask_cvttps_epi32(_mm512_setzero_si512(), 0xFFFF, a);
}
// Round to the nearest integer, ties to even.
NN_AVX512_INLINE __m512 round_even_ps(__m512 a) {
  return _mm512_mask_roundscale_ps(a, 0xFFFF, a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
NN_AVX512_INLINE __m512i slli_epi32(__m512i a, unsigned n) { return _mm512_mask_slli_epi32(a, 0xFFFF, a, n); }
NN_AVX512_INLINE __m512i srli_epi32(__m512i a, unsigned n) { return _mm512_mask_srli_epi32(a, 0xFFFF, a, n); }
#undef NN_AVX512_INLINE

}  // namespace nn::kernels::avx512
#endif
