// nn/kernels/gemm.hpp — general matrix multiply through Eigen (SIMD, and
// OpenMP-parallel when called outside a parallel region).
#pragma once
#include <Eigen/Core>

#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

// C = alpha * op(A) * op(B) + beta * C, all row-major.
//   op(A): (M, K)  — A is stored (M, K) with leading dim lda, or (K, M) if trans_a
//   op(B): (K, N)  — B is stored (K, N) with leading dim ldb, or (N, K) if trans_b
//   C:     (M, N)  with leading dim ldc
// beta == 0 ignores C's previous contents (NaNs included).
template <class T>
void gemm(bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A, Index lda,
          const T* B, Index ldb, T beta, T* C, Index ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  using MMap = Eigen::Map<Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (M == 0 || N == 0) return;
  MMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K == 0) {
    if (beta == T(0)) c.setZero(); else c *= beta;
    return;
  }
  CMap a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
  CMap b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
  auto run = [&](const auto& op_a, const auto& op_b) {
    if (beta == T(0)) {
      c.noalias() = alpha * op_a * op_b;
    } else {
      if (beta != T(1)) c *= beta;
      c.noalias() += alpha * op_a * op_b;
    }
  };
  if (!trans_a && !trans_b) run(a, b);
  else if (trans_a && !trans_b) run(a.transpose(), b);
  else if (!trans_a && trans_b) run(a, b.transpose());
  else run(a.transpose(), b.transpose());
}

}  // namespace nn::kernels
