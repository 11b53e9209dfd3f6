// nn/kernels/cpu.hpp — run-time choice between nn's AVX-512 kernels and the
// portable ones.
//
// nn's own AVX-512 kernels (direct and Winograd convolutions, the packed
// SGEMM, the 2x2 max pool row) are compiled for AVX-512 whatever the -march
// flags and called only when avx512_enabled() is true: the CPU reports
// AVX-512F and the portable path is not forced. Everything else (Eigen,
// element-wise code) runs at the instruction set the program was compiled
// for.
//
// Forcing the portable path — what a CPU without AVX-512 runs — is for tests
// and A/B measurements: set_simd(Simd::Portable), or the environment variable
// NN_SIMD=portable read at the first call. NN_SIMD=auto (or unset) is the
// default. Results on the two paths agree to float rounding, not bit for bit.
#pragma once
#include <atomic>
#include <cstdlib>
#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NN_X86_AVX512_KERNELS 1
#else
#define NN_X86_AVX512_KERNELS 0
#endif

namespace nn::kernels {

enum class Simd { Auto, Portable };

// Whether this CPU has AVX-512F (false off x86-64).
inline bool cpu_has_avx512() {
#if NN_X86_AVX512_KERNELS
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
#else
  return false;
#endif
}

namespace detail {
inline std::atomic<int>& simd_state() {
  static std::atomic<int> s{[] {
    const char* e = std::getenv("NN_SIMD");
    return e && std::strcmp(e, "portable") == 0 ? int(Simd::Portable) : int(Simd::Auto);
  }()};
  return s;
}
}  // namespace detail

inline void set_simd(Simd s) { detail::simd_state() = int(s); }
inline Simd simd() { return Simd(detail::simd_state().load(std::memory_order_relaxed)); }

// True where nn's AVX-512 kernels run.
inline bool avx512_enabled() { return simd() == Simd::Auto && cpu_has_avx512(); }

// Whether this CPU has AVX-512 VNNI (vpdpbusd: int8 dot products into int32)
// with AVX-512BW, and AVX-512 BF16 (vdpbf16ps: bf16 pairs into float).
inline bool cpu_has_avx512_vnni() {
#if NN_X86_AVX512_KERNELS
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vnni");
  return ok;
#else
  return false;
#endif
}
inline bool cpu_has_avx512_bf16() {
#if NN_X86_AVX512_KERNELS
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512bf16");
  return ok;
#else
  return false;
#endif
}
// True where nn's int8 (VNNI) and bf16 kernels run; the portable path
// (set_simd(Simd::Portable)) turns them off like every AVX-512 kernel.
inline bool vnni_enabled() { return simd() == Simd::Auto && cpu_has_avx512_vnni(); }
inline bool bf16_enabled() { return simd() == Simd::Auto && cpu_has_avx512_bf16(); }

}  // namespace nn::kernels
