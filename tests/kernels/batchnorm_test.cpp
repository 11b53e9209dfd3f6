#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;

TEST_CASE_TEMPLATE("batch-norm statistics match the naive reference", T, float, double) {
  nn::Rng rng(9);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 20; ++trial) {
      const Index N = 1 + Index(rng.below(9)), C = 1 + Index(rng.below(7)), S = 1 + Index(rng.below(50));
      auto x = randn<T>({N, C, S}, rng(), 3.0);
      for (auto& v : x) v += T(5);  // an offset makes one-pass formulas lose digits
      const auto nc = static_cast<std::size_t>(C);
      std::vector<T> m(nc), v(nc), mr(nc), vr(nc);
      nn::kernels::batchnorm_stats(x.data(), N, C, S, m.data(), v.data());
      naive::batchnorm_stats(x.data(), N, C, S, mr.data(), vr.data());
      const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
      CHECK(worst(m.data(), mr.data(), C, tol, tol) <= 1.0);
      CHECK(worst(v.data(), vr.data(), C, tol, tol) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}
