// nn/kernels/parallel.hpp — thread control for nn's kernels.
//
// nn parallelizes with OpenMP where the work is (over the batch, over
// channels, inside GEMM through Eigen). set_num_threads(n) sets both OpenMP's
// and Eigen's thread count; without OpenMP it is a no-op and num_threads() is 1.
#pragma once
#include <Eigen/Core>
#include <stdexcept>
#include <string>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace nn {

inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("nn::set_num_threads: n must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

namespace detail {
inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}
}  // namespace detail

}  // namespace nn
