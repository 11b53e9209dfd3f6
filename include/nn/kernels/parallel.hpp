// nn/kernels/parallel.hpp — thread control for nn's kernels.
//
// nn parallelizes with OpenMP where the work is (over the batch, over
// channels, over blocks of a GEMM's output). set_num_threads(n) sets OpenMP's
// thread count; without OpenMP it is a no-op and num_threads() is 1.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace nn {

// nn does all its own threading (OpenMP, dynamic where the work is uneven);
// Eigen's internal GEMM threading is switched off, because its static split
// collapses when another process keeps a core busy.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("nn::set_num_threads: n must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(1);
}

namespace detail {
// Switches Eigen's own GEMM threading off in every program that includes nn.
inline const bool eigen_single_threaded = (Eigen::setNbThreads(1), true);
}  // namespace detail

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace detail {
// Runs fn(begin, end) over [0, n) in fixed chunks: in parallel when n is large
// enough to be worth it (memory-bound element-wise work), serially otherwise.
// Chunk boundaries do not depend on the thread count.
template <class Fn>
void parallel_chunks(std::ptrdiff_t n, Fn fn, std::ptrdiff_t chunk = 1 << 15) {
  const std::ptrdiff_t chunks = (n + chunk - 1) / chunk;
  if (chunks <= 1) {
    if (n > 0) fn(std::ptrdiff_t(0), n);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1) if (n >= (1 << 16))
  for (std::ptrdiff_t c = 0; c < chunks; ++c) fn(c * chunk, std::min(n, (c + 1) * chunk));
}

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
}  // namespace detail

}  // namespace nn
