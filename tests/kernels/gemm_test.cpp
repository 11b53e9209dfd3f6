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
