// nn/kernels/reduce.hpp — sums whose rounding depends on the values only.
//
// Eigen's vectorized sum() starts its aligned packets at the first aligned
// address, so the same numbers at another address can round differently.
// Where two code paths must agree bit for bit (a fused and an unfused bias
// gradient), both sum with sum_fixed.
#pragma once
#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

// sum_{i < n} p[i * stride], in 16 interleaved partial sums (element i goes
// to partial i % 16) that are then added pairwise: the order is fixed by n
// alone, whatever the address, thread or CPU; with stride 1 the compiler
// can keep the 16 partials in vector registers.
template <class T>
T sum_fixed(const T* p, Index n, Index stride = 1) {
  constexpr Index L = 16;
  T acc[L] = {};
  Index i = 0;
  if (stride == 1) {
    for (; i + L <= n; i += L)
      for (Index j = 0; j < L; ++j) acc[j] += p[i + j];
  } else {
    for (; i + L <= n; i += L)
      for (Index j = 0; j < L; ++j) acc[j] += p[(i + j) * stride];
  }
  for (Index j = 0; i + j < n; ++j) acc[j] += p[(i + j) * stride];
  for (Index w = L / 2; w >= 1; w /= 2)
    for (Index j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

}  // namespace nn::kernels
