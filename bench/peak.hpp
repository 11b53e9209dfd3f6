// bench/peak.hpp — the CPU's measured multiply-accumulate peak for the
// instruction each kind of nn kernel is built on: 512-bit float FMA
// (vfmadd, 16 MACs), int8 VNNI (vpdpbusd, 64 u8 x s8 MACs) and bf16
// (vdpbf16ps, 32 MACs). Each thread runs 12 independent accumulator chains
// of one instruction (enough to hide its latency); the figure is MACs per
// second over all threads. A kernel's efficiency is its MAC rate over the
// peak of its instruction measured in the same run.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

#include <nn/nn.hpp>

#if NN_X86_AVX512_KERNELS
#include <immintrin.h>
#endif

namespace peak {

enum class Op { Fma32, Vnni8, Bf16 };
inline const char* name(Op op) { return op == Op::Fma32 ? "fp32 fma" : op == Op::Vnni8 ? "int8 vnni" : "bf16 dot"; }
inline int macs_per_instruction(Op op) { return op == Op::Fma32 ? 16 : op == Op::Vnni8 ? 64 : 32; }
inline bool available(Op op) {
  return op == Op::Fma32   ? nn::kernels::cpu_has_avx512()
         : op == Op::Vnni8 ? nn::kernels::cpu_has_avx512_vnni()
                           : nn::kernels::cpu_has_avx512_bf16();
}

#if NN_X86_AVX512_KERNELS
constexpr int kChains = 12;
// n iterations of kChains independent instructions, written in assembly:
// compiled from intrinsics, GCC 12 copies and spills the accumulators of
// vpdpbusd inside the loop, and the spills were what got measured (the same
// source ran at 230 or 420 GMAC/s depending on the flags).
#define NN_PEAK_ASM(insn)                                                                                         \
  asm volatile(insn " %[a], %[b], %[c0]\n\t" insn " %[a], %[b], %[c1]\n\t" insn " %[a], %[b], %[c2]\n\t" insn    \
               " %[a], %[b], %[c3]\n\t" insn " %[a], %[b], %[c4]\n\t" insn " %[a], %[b], %[c5]\n\t" insn         \
               " %[a], %[b], %[c6]\n\t" insn " %[a], %[b], %[c7]\n\t" insn " %[a], %[b], %[c8]\n\t" insn         \
               " %[a], %[b], %[c9]\n\t" insn " %[a], %[b], %[c10]\n\t" insn " %[a], %[b], %[c11]\n\t"            \
               : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), [c5] "+v"(c5),           \
                 [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)        \
               : [a] "v"(a), [b] "v"(b))
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512bf16"), noinline)) inline float chains(Op op, long n,
                                                                                               float x) {
  const __m512 a = _mm512_set1_ps(x), b = _mm512_set1_ps(1 - x);
  __m512 c0 = a, c1 = b, c2 = a, c3 = b, c4 = a, c5 = b, c6 = a, c7 = b, c8 = a, c9 = b, c10 = a, c11 = b;
  for (long it = 0; it < n; ++it) {
    if (op == Op::Fma32) NN_PEAK_ASM("vfmadd231ps");
    else if (op == Op::Vnni8) NN_PEAK_ASM("vpdpbusd");
    else NN_PEAK_ASM("vdpbf16ps");
  }
  const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                 _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)),
                                               _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11))));
  return _mm512_reduce_add_ps(s);
}
#undef NN_PEAK_ASM
#endif

// MACs per second of op on `threads` threads (0 when the CPU lacks it).
inline double measure(Op op, int threads, double seconds = 0.2) {
#if NN_X86_AVX512_KERNELS
  if (!available(op)) return 0;
  const long n = 2000000;  // iterations per timed chunk
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    long chunks = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double el = 0;
    volatile float sink = 0;
    while (el < seconds) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int t = 0; t < threads; ++t) {
        const float x = 0.5f + 1e-7f * float(t);
        const float s = chains(op, n, x);
        if (s == 12345.0f) sink = s;
      }
      ++chunks;
      el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    (void)sink;
    const double rate = double(chunks) * double(threads) * double(n) * kChains * macs_per_instruction(op) / el;
    best = std::max(best, rate);
  }
  return best;
#else
  (void)op, (void)threads, (void)seconds;
  return 0;
#endif
}

}  // namespace peak
