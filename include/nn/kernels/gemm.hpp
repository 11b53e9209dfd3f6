// nn/kernels/gemm.hpp — general matrix multiply: nn's packed AVX-512 SGEMM
// (sgemm_packed.hpp) for large float products on AVX-512 CPUs, Eigen's SIMD
// kernels for everything else (double, small products, other CPUs).
// Outside a parallel region, a large product is split into blocks of rows
// (or of columns, whichever dimension is larger) that threads take
// dynamically; each block is one single-threaded GEMM. Every output
// element is computed by exactly one block with the same arithmetic, so the
// result does not depend on the thread count, and a busy core only slows the
// blocks it runs instead of stalling a static split.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "nn/runtime/parallel.hpp"
#include "nn/kernels/sgemm_packed.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

// Which kernel float products use. Auto: nn's packed AVX-512 SGEMM on
// AVX-512 CPUs where it beats Eigen, Eigen elsewhere (double, other CPUs):
//   - Eigen compiled for AVX-512 (-march=native): M >= 128, N >= 64,
//     K >= 32. With fewer rows the 12-row tiles waste up to a third and
//     Eigen's kernel is as fast or faster.
//   - Eigen compiled for less (the default build: SSE2): every product of
//     M * N * K >= 32768, where the AVX-512 kernel is faster than SSE2 code
//     even on small, thin products (docs/performance.md has the figures).
// Eigen: always Eigen (A/B measurements, tests). Default from
// NN_GEMM=auto|eigen, else Auto.
enum class GemmAlgorithm { Auto, Eigen };

namespace detail {
inline std::atomic<int>& gemm_algorithm_state() {
  static std::atomic<int> a{[] {
    const char* e = std::getenv("NN_GEMM");
    return e && std::strcmp(e, "eigen") == 0 ? int(GemmAlgorithm::Eigen) : int(GemmAlgorithm::Auto);
  }()};
  return a;
}
}  // namespace detail

inline void set_gemm_algorithm(GemmAlgorithm a) { detail::gemm_algorithm_state() = int(a); }
inline GemmAlgorithm gemm_algorithm() { return GemmAlgorithm(detail::gemm_algorithm_state().load()); }

#ifdef EIGEN_VECTORIZE_AVX512
constexpr bool kEigenAvx512 = true;
#else
constexpr bool kEigenAvx512 = false;
#endif

namespace detail {
// Whether gemm<T> runs this product on the packed SGEMM. Depends on the shape
// only, never on the thread count (results must not).
template <class T>
bool use_packed(Index M, Index N, Index K) {
#if NN_DIRECT_CONV
  if constexpr (std::is_same<T, float>::value)
    return gemm_algorithm() == GemmAlgorithm::Auto && avx512_enabled() &&
           (kEigenAvx512 ? M >= 128 && N >= 64 && K >= 32 : M * N * K >= 32768);
#endif
  (void)M, (void)N, (void)K;
  return false;
}

template <class T>
void gemm_serial(bool packed, Index kc, bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A,
                 Index lda, const T* B, Index ldb, T beta, T* C, Index ldc);
template <class T>
Index eigen_depth_block(Index M, Index N, Index K);
}  // namespace detail

// C = alpha * op(A) * op(B) + beta * C, all row-major.
//   op(A): (M, K)  — A is stored (M, K) with leading dim lda, or (K, M) if trans_a
//   op(B): (K, N)  — B is stored (K, N) with leading dim ldb, or (N, K) if trans_b
//   C:     (M, N)  with leading dim ldc
// beta == 0 ignores C's previous contents (NaNs included).
template <class T>
void gemm(bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A, Index lda,
          const T* B, Index ldb, T beta, T* C, Index ldc) {
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const bool packed = detail::use_packed<T>(M, N, K);
  // Eigen's depth block, from the whole product: Eigen would choose it per
  // block from the block's size, and another kc would sum in another order.
  // (The block edges below are what makes results independent of the
  // thread count; a fixed kc is needed as well.)
  const Index kc = packed ? 0 : detail::eigen_depth_block<T>(M, N, K);
  const nn::detail::Team team = nn::detail::plan_team(flops >= 4e6);  // 1 inside a parallel region
  if (team.threads < 2) {  // one work item
    nn::detail::parallel_for(team, 1, 1, [&](Index, int) {
      detail::gemm_serial(packed, kc, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    });
    return;
  }
  // Blocks of rows when M >= N, else of columns; 2 blocks per thread at least
  // 64 wide. Each block packs the whole other operand again, so more blocks
  // per thread cost packing time; one block per thread is a little faster but leaves
  // nothing to rebalance when a core is busy. Block edges are multiples of 48
  // on Eigen's path: its kernel handles rows in panels of 3, 2, 1 and half a
  // vector (48 floats with AVX-512, 12 with SSE2) with different summation
  // orders, so a block edge elsewhere moved some elements to another panel
  // and 1 and 2 threads differed in the last bits (64 x 1024 x 1024: 2,874
  // elements). The packed kernel does not care: multiples of its 32 columns.
  const bool rows = M >= N;
  const Index D = rows ? M : N;
  const Index granule = packed && !rows ? packed::kNR : 48;
  Index bs = std::max<Index>(64, (D + 2 * team.threads - 1) / (2 * team.threads));
  bs = (bs + granule - 1) / granule * granule;
  const Index blocks = (D + bs - 1) / bs;
  nn::detail::parallel_for(team, blocks, 1, [&](Index b, int) {
    const Index d0 = b * bs, d = std::min(bs, D - d0);
    if (rows)  // C[d0:d0+d, :] = op(A)[d0:d0+d, :] op(B)
      detail::gemm_serial(packed, kc, trans_a, trans_b, d, N, K, alpha, trans_a ? A + d0 : A + d0 * lda, lda, B, ldb, beta,
                          C + d0 * ldc, ldc);
    else  // C[:, d0:d0+d] = op(A) op(B)[:, d0:d0+d]
      detail::gemm_serial(packed, kc, trans_a, trans_b, M, d, K, alpha, A, lda, trans_b ? B + d0 * ldb : B + d0, ldb, beta,
                          C + d0, ldc);
  });
}

namespace detail {
#if EIGEN_VERSION_AT_LEAST(3, 4, 0) && !EIGEN_VERSION_AT_LEAST(3, 4, 90)
#define NN_GEMM_OWN_PACKING 1
// Eigen's GEMM allocates its packing buffers (hundreds of KiB to MiBs for
// nn's large products) on every call and frees them; glibc then returns them
// to the OS when they sit at the top of a thread's heap, so the next call
// page-faults them back in (hundreds of faults per call for a large Dense
// layer). nn keeps one pair of buffers per thread instead and
// hands them to Eigen's single-threaded GEMM driver. This uses Eigen's
// internal API, stable across 3.4.x; other versions take the plain path.
template <class T>
struct PackBuffers {
  std::vector<T, Eigen::aligned_allocator<T>> a, b;
  static PackBuffers& mine() {
    thread_local PackBuffers buffers;
    return buffers;
  }
};

// Eigen's blocking (cache block sizes), with the thread's buffers.
template <class T>
class OwnBlocking : public Eigen::internal::level3_blocking<T, T> {
 public:
  // Sizes as Eigen's gemm_blocking_space computes them for a row-major
  // destination (M, N), which Eigen runs as the transposed product.
  // kc_whole: the depth block of the whole product (eigen_depth_block).
  OwnBlocking(Index M, Index N, Index K, Index kc_whole) {
    Index kc = K, mc = N, nc = M;
    Eigen::internal::computeProductBlockingSizes<T, T, 1>(kc, mc, nc, Index(1));
    kc = std::min(kc_whole, K);
    this->m_kc = kc, this->m_mc = mc, this->m_nc = nc;
    auto& buf = PackBuffers<T>::mine();
    const auto sa = static_cast<std::size_t>(kc * std::min(mc, N)), sb = static_cast<std::size_t>(kc * std::min(nc, M));
    if (buf.a.size() < sa) buf.a.resize(sa);
    if (buf.b.size() < sb) buf.b.resize(sb);
    this->m_blockA = buf.a.data();
    this->m_blockB = buf.b.data();
  }
};

// C (M, N) row-major += alpha * op(A) * op(B), single-threaded.
template <class T, int AOrder, int BOrder>
void gemm_accumulate(Index M, Index N, Index K, Index kc, T alpha, const T* A, Index lda, const T* B, Index ldb, T* C,
                     Index ldc) {
  OwnBlocking<T> blocking(M, N, K, kc);
  Eigen::internal::general_matrix_matrix_product<Index, T, AOrder, false, T, BOrder, false, Eigen::RowMajor, 1>::run(
      M, N, K, A, lda, B, ldb, C, 1, ldc, alpha, blocking, nullptr);
}
#else
#define NN_GEMM_OWN_PACKING 0
#endif

// Eigen's depth block for a row-major (M, N) += (M, K) (K, N) product.
template <class T>
Index eigen_depth_block(Index M, Index N, Index K) {
  Index kc = K, mc = N, nc = M;
  Eigen::internal::computeProductBlockingSizes<T, T, 1>(kc, mc, nc, Index(1));
  return std::max<Index>(kc, 1);
}

template <class T>
void gemm_serial(bool packed, Index kc, bool trans_a, bool trans_b, Index M, Index N, Index K, T alpha, const T* A,
                 Index lda, const T* B, Index ldb, T beta, T* C, Index ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MMap = Eigen::Map<Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  if (M == 0 || N == 0) return;
  MMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (beta == T(0)) c.setZero();  // ignores C's contents, NaN included
  else if (beta != T(1)) c *= beta;
  if (K == 0) return;
  // Then C += alpha * op(A) * op(B).
#if NN_DIRECT_CONV
  if constexpr (std::is_same<T, float>::value)
    if (packed) {  // op(A)(i, k) = A[i * ra + k * ca], op(B)(k, j) = B[k * rb + j * cb]
      packed::gemm_accumulate(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, trans_b ? 1 : ldb,
                              trans_b ? ldb : 1, C, ldc);
      return;
    }
#endif
  (void)packed, (void)kc;
#if NN_GEMM_OWN_PACKING
  constexpr int R = Eigen::RowMajor, Cm = Eigen::ColMajor;
  // op(A) is A row-major, or A^T: the same memory read column-major.
  if (!trans_a && !trans_b) gemm_accumulate<T, R, R>(M, N, K, kc, alpha, A, lda, B, ldb, C, ldc);
  else if (trans_a && !trans_b) gemm_accumulate<T, Cm, R>(M, N, K, kc, alpha, A, lda, B, ldb, C, ldc);
  else if (!trans_a && trans_b) gemm_accumulate<T, R, Cm>(M, N, K, kc, alpha, A, lda, B, ldb, C, ldc);
  else gemm_accumulate<T, Cm, Cm>(M, N, K, kc, alpha, A, lda, B, ldb, C, ldc);
#else
  using CMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  CMap a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
  CMap b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
  auto run = [&](const auto& op_a, const auto& op_b) { c.noalias() += alpha * op_a * op_b; };
  if (!trans_a && !trans_b) run(a, b);
  else if (trans_a && !trans_b) run(a.transpose(), b);
  else if (!trans_a && trans_b) run(a, b.transpose());
  else run(a.transpose(), b.transpose());
#endif
}
}  // namespace detail

}  // namespace nn::kernels
