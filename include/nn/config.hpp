// nn/config.hpp — library version and a description of the build, for
// programs to print: compiler, C++ standard, OpenMP threads, SIMD
// instruction sets Eigen uses, the GEMM and convolution algorithms, and whether
// assertions are on.
#pragma once
#include <Eigen/Core>
#include <sstream>
#include <string>

#include "nn/kernels/conv_select.hpp"
#include "nn/kernels/cpu.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn {

constexpr const char* kVersion = "0.1.0";

inline std::string build_info() {
  std::ostringstream os;
  os << "nn " << kVersion << " | compiler: ";
#if defined(__clang__)
  os << "clang " << __clang_major__ << "." << __clang_minor__ << "." << __clang_patchlevel__;
#elif defined(__GNUC__)
  os << "g++ " << __GNUC__ << "." << __GNUC_MINOR__ << "." << __GNUC_PATCHLEVEL__;
#else
  os << "unknown";
#endif
  os << " | C++" << (__cplusplus / 100 % 100) << " | OpenMP: ";
#ifdef _OPENMP
  os << "on, " << num_threads() << " threads";
  if (num_threads() > 1)
    os << (detail::Governor::instance().always_blocking() ? " (blocking team)"
           : adaptive_threads()                          ? " (adaptive)"
                                                         : " (fixed)");
#else
  os << "off";
#endif
  os << " | SIMD: " << Eigen::SimdInstructionSetsInUse() << " | nn kernels: "
     << (kernels::avx512_enabled()        ? "AVX-512"
         : kernels::cpu_has_avx512() ? "portable (NN_SIMD=portable)"
                                     : "portable (no AVX-512)")
     << " | gemm: "
     << (kernels::avx512_enabled() && kernels::gemm_algorithm() == kernels::GemmAlgorithm::Auto
             ? "packed AVX-512 (large float), Eigen"
             : "Eigen")
     << " | conv: "
     << (!kernels::avx512_enabled() || kernels::conv_algorithm() == kernels::ConvAlgorithm::Im2col
             ? "im2col"
             : kernels::conv_algorithm() == kernels::ConvAlgorithm::Direct
                   ? "direct AVX-512 (stride 1) + im2col"
                   : "Winograd 3x3/5x5+pool, direct AVX-512 (stride 1), im2col")
     << " | assertions: ";
#ifdef NDEBUG
  os << "off (NDEBUG)";
#else
  os << "on";
#endif
  return os.str();
}

}  // namespace nn
