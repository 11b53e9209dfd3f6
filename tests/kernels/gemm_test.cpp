#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;

TEST_CASE_TEMPLATE("gemm matches the naive reference on random shapes", T, float, double) {
  nn::Rng rng(11);
  const double tol = std::is_same<T, float>::value ? 1e-4 : 1e-12;
  for (int trial = 0; trial < 40; ++trial) {
    const Index M = 1 + Index(rng.below(37)), N = 1 + Index(rng.below(41)), K = 1 + Index(rng.below(53));
    const bool ta = rng.below(2), tb = rng.below(2);
    const Index lda = (ta ? M : K) + Index(rng.below(3)), ldb = (tb ? K : N) + Index(rng.below(3));
    const Index ldc = N + Index(rng.below(3));
    std::vector<T> A(size_t((ta ? K : M) * lda)), B(size_t((tb ? N : K) * ldb)), C(size_t(M * ldc));
    for (auto& v : A) v = T(rng.normal());
    for (auto& v : B) v = T(rng.normal());
    for (auto& v : C) v = T(rng.normal());
    std::vector<T> R(C);  // (copy-constructed: GCC 12's -Wnonnull misfires on assigning to an empty vector)
    const T alpha = T(rng.uniform(-2, 2)), beta = trial % 3 == 0 ? T(0) : T(rng.uniform(-1, 1));
    CAPTURE(M); CAPTURE(N); CAPTURE(K); CAPTURE(ta); CAPTURE(tb);
    nn::kernels::gemm<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    naive::gemm<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, R.data(), ldc);
    CHECK(worst(C.data(), R.data(), Index(C.size()), tol, tol) <= 1.0);
  }
}

TEST_CASE("gemm with beta = 0 ignores NaN in C") {
  std::vector<float> A{1, 2, 3, 4}, B{1, 0, 0, 1}, C(4, NAN);
  nn::kernels::gemm<float>(false, false, 2, 2, 2, 1.f, A.data(), 2, B.data(), 2, 0.f, C.data(), 2);
  CHECK(C == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("gemm's blocked parallel path (large products, rows or columns split) matches the reference") {
  nn::Rng rng(21);
  nn::set_num_threads(2);
  struct S { Index M, N, K; };
  // The last shape's depth is several of Eigen's k-panels (the packing
  // buffers are nn's own, reused across calls and shapes).
  for (S s : {S{257, 130, 65}, S{70, 611, 97}, S{129, 129, 300}, S{96, 130, 2500}}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const Index lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
      std::vector<float> A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), C(size_t(s.M * s.N));
      for (auto& v : A) v = float(rng.normal());
      for (auto& v : B) v = float(rng.normal());
      for (auto& v : C) v = float(rng.normal());
      std::vector<float> R(C);
      CAPTURE(s.M); CAPTURE(s.N); CAPTURE(ta); CAPTURE(tb);
      REQUIRE(2.0 * double(s.M * s.N * s.K) > 4e6);
      const float beta = t == 0 ? 0.0f : t == 1 ? 1.0f : -0.5f;
      nn::kernels::gemm<float>(ta, tb, s.M, s.N, s.K, 0.5f, A.data(), lda, B.data(), ldb, beta, C.data(), s.N);
      naive::gemm<float>(ta, tb, s.M, s.N, s.K, 0.5f, A.data(), lda, B.data(), ldb, beta, R.data(), s.N);
      CHECK(worst(C.data(), R.data(), Index(C.size()), 2e-3, 1e-4) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}

// The packed AVX-512 SGEMM (sgemm_packed.hpp) called directly, against the
// naive product in double: partial 12 x 32 tiles in M and N (N below and
// between the two vectors), several depth blocks (K > 384, uneven), N past
// one packed block (1024 columns), M past one packed A block (96 rows), all
// four transposes, leading dimensions larger than the matrices, alpha.
TEST_CASE("packed SGEMM matches the naive product in double") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(31);
  struct S { Index M, N, K; };
  for (S s : {S{1, 1, 1}, S{12, 32, 16}, S{13, 33, 17}, S{7, 5, 3}, S{25, 20, 800}, S{200, 47, 1000}, S{97, 1100, 40},
              S{130, 64, 385}, S{40, 16, 31}}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const Index lda = (ta ? s.M : s.K) + 3, ldb = (tb ? s.K : s.N) + 5, ldc = s.N + 2;
      std::vector<float> A(size_t((ta ? s.K : s.M) * lda)), B(size_t((tb ? s.N : s.K) * ldb)), C(size_t(s.M * ldc));
      for (auto& v : A) v = float(rng.normal());
      for (auto& v : B) v = float(rng.normal());
      for (auto& v : C) v = float(rng.normal());
      std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end()), R(C.begin(), C.end());
      const float alpha = float(rng.uniform(-2, 2));
      CAPTURE(s.M); CAPTURE(s.N); CAPTURE(s.K); CAPTURE(ta); CAPTURE(tb);
      nn::kernels::packed::gemm_accumulate(s.M, s.N, s.K, alpha, A.data(), ta ? 1 : lda, ta ? lda : 1, B.data(),
                                           tb ? 1 : ldb, tb ? ldb : 1, C.data(), ldc);
      naive::gemm<double>(ta, tb, s.M, s.N, s.K, double(alpha), Ad.data(), lda, Bd.data(), ldb, 1.0, R.data(), ldc);
      CHECK(worst(C.data(), R.data(), Index(C.size()), 1e-5 * double(s.K), 1e-4) <= 1.0);
    }
  }
}

namespace {
// Random op(A) (M, K), op(B) (K, N) with the given transposes, and
// C = 0.5 op(A) op(B) computed on 1 thread (C1) and on 2 (C2).
struct TwoRuns {
  std::vector<float> A, B, C1, C2;
};
TwoRuns on_1_and_2_threads(Index M, Index N, Index K, bool ta, bool tb, nn::Rng& rng) {
  TwoRuns r{std::vector<float>(size_t(M * K)), std::vector<float>(size_t(K * N)), std::vector<float>(size_t(M * N), NAN),
            std::vector<float>(size_t(M * N), NAN)};
  for (auto& v : r.A) v = float(rng.normal());
  for (auto& v : r.B) v = float(rng.normal());
  const Index lda = ta ? M : K, ldb = tb ? K : N;
  nn::set_num_threads(1);
  nn::kernels::gemm<float>(ta, tb, M, N, K, 0.5f, r.A.data(), lda, r.B.data(), ldb, 0.f, r.C1.data(), N);
  nn::set_num_threads(2);
  nn::kernels::gemm<float>(ta, tb, M, N, K, 0.5f, r.A.data(), lda, r.B.data(), ldb, 0.f, r.C2.data(), N);
  nn::set_num_threads(1);
  return r;
}
}  // namespace

// gemm<float> picks the packed kernel for large products: same values as
// Eigen's within rounding, and bit for bit the same on 1 and 2 threads
// (blocks of rows, then of columns).
TEST_CASE("gemm on the packed kernel: close to Eigen's, independent of the thread count") {
  nn::Rng rng(41);
  struct S { Index M, N, K; };
  for (S s : {S{300, 200, 500}, S{130, 700, 64}}) {
    REQUIRE(nn::kernels::detail::use_packed<float>(s.M, s.N, s.K) == nn::kernels::avx512_enabled());
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      CAPTURE(s.M); CAPTURE(s.N); CAPTURE(ta); CAPTURE(tb);
      const TwoRuns r = on_1_and_2_threads(s.M, s.N, s.K, ta, tb, rng);
      const auto &A = r.A, &B = r.B, &C1 = r.C1, &C2 = r.C2;
      std::vector<float> E(C1.size(), NAN);
      nn::kernels::set_gemm_algorithm(nn::kernels::GemmAlgorithm::Eigen);
      nn::kernels::gemm<float>(ta, tb, s.M, s.N, s.K, 0.5f, A.data(), ta ? s.M : s.K, B.data(), tb ? s.K : s.N, 0.f,
                               E.data(), s.N);
      nn::kernels::set_gemm_algorithm(nn::kernels::GemmAlgorithm::Auto);
      CHECK(C1 == C2);
      CHECK(worst(C1.data(), E.data(), Index(E.size()), 1e-4, 1e-4) <= 1.0);
    }
  }
  CHECK_FALSE(nn::kernels::detail::use_packed<double>(300, 200, 500));
  // With Eigen at AVX-512 too few rows for 12-row tiles; below that Eigen is slower everywhere.
  CHECK(nn::kernels::detail::use_packed<float>(64, 1024, 1024) ==
        (nn::kernels::avx512_enabled() && !nn::kernels::kEigenAvx512));
  CHECK_FALSE(nn::kernels::detail::use_packed<float>(8, 8, 8));
}

TEST_CASE("build_info names the GEMM in use") {
  using nn::kernels::GemmAlgorithm;
  nn::kernels::set_gemm_algorithm(GemmAlgorithm::Eigen);
  CHECK(nn::build_info().find("| gemm: Eigen |") != std::string::npos);
  nn::kernels::set_gemm_algorithm(GemmAlgorithm::Auto);
  const bool packed = nn::build_info().find("| gemm: packed AVX-512 (large float), Eigen |") != std::string::npos;
  CHECK(packed == nn::kernels::avx512_enabled());
}

// Eigen's path, split into blocks of columns (M < N) and of rows: bit for bit
// the same on 1 and 2 threads. Block edges that were not multiples of Eigen's
// 48-row panels changed the summation order of some elements (64 x 1024 x
// 1024: 2,874 of them). Only Eigen's AVX-512 kernel has panels that differ
// so: this fails without the fix in a -DNN_NATIVE=ON build on an AVX-512 CPU,
// not in the portable (SSE2) build.
TEST_CASE("gemm on Eigen's path: the same bits on 1 and 2 threads") {
  nn::Rng rng(51);
  const bool adaptive = nn::adaptive_threads();
  nn::set_adaptive_threads(false);  // the team, whatever this machine's load
  nn::kernels::set_gemm_algorithm(nn::kernels::GemmAlgorithm::Eigen);
  struct S { Index M, N, K; };
  for (S s : {S{64, 1024, 256}, S{64, 3136, 128}, S{1000, 70, 200}}) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      CAPTURE(s.M); CAPTURE(s.N); CAPTURE(ta); CAPTURE(tb);
      const TwoRuns r = on_1_and_2_threads(s.M, s.N, s.K, ta, tb, rng);
      CHECK(r.C1 == r.C2);
    }
  }
  nn::kernels::set_gemm_algorithm(nn::kernels::GemmAlgorithm::Auto);
  nn::set_adaptive_threads(adaptive);
  nn::set_num_threads(1);
}
