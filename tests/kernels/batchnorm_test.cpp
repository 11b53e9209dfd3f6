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

TEST_CASE_TEMPLATE("batch-norm partial sums and the split backward match the naive reference", T, float, double) {
  // the pieces synchronized batch norm exchanges between processes
  nn::Rng rng(11);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 20; ++trial) {
      const Index N = 1 + Index(rng.below(9)), C = 1 + Index(rng.below(7)), S = 1 + Index(rng.below(300));
      auto x = randn<T>({N, C, S}, rng(), 2.0);
      const auto dy = randn<T>({N, C, S}, rng());
      const auto nc = static_cast<std::size_t>(C);
      std::vector<T> mean(nc), invstd(nc), gamma(nc), mdy(nc), mdyx(nc);
      for (std::size_t c = 0; c < nc; ++c)
        mean[c] = T(rng.normal()), invstd[c] = T(0.5 + rng.uniform()), gamma[c] = T(rng.normal());
      // naive: plain loops in double
      std::vector<double> s(nc), q(nc), sdy(nc), sdyx(nc);
      for (Index c = 0; c < C; ++c)
        for (Index n = 0; n < N; ++n)
          for (Index i = 0; i < S; ++i) {
            const Index k = (n * C + c) * S + i;
            const double xh = (double(x[k]) - double(mean[c])) * double(invstd[c]);
            s[c] += double(x[k]);
            q[c] += (double(x[k]) - double(mean[c])) * (double(x[k]) - double(mean[c]));
            sdy[c] += double(dy[k]);
            sdyx[c] += double(dy[k]) * xh;
          }
      std::vector<double> s2(nc), q2(nc), sdy2(nc), sdyx2(nc);
      nn::kernels::batchnorm_sums(x.data(), N, C, S, static_cast<const T*>(nullptr), s2.data());
      nn::kernels::batchnorm_sums(x.data(), N, C, S, mean.data(), q2.data());
      nn::kernels::batchnorm_backward_sums(x.data(), dy.data(), N, C, S, mean.data(), invstd.data(), sdy2.data(),
                                           sdyx2.data());
      const double tol = std::is_same<T, float>::value ? 1e-4 : 1e-11;
      const double M = double(N * S);
      for (std::size_t c = 0; c < nc; ++c) {
        CHECK(s2[c] == doctest::Approx(s[c]).epsilon(tol).scale(M));
        CHECK(q2[c] == doctest::Approx(q[c]).epsilon(tol).scale(M));
        CHECK(sdy2[c] == doctest::Approx(sdy[c]).epsilon(tol).scale(M));
        CHECK(sdyx2[c] == doctest::Approx(sdyx[c]).epsilon(tol).scale(M));
        mdy[c] = T(sdy[c] / M), mdyx[c] = T(sdyx[c] / M);
      }
      Tensor<T> dx({N, C, S});
      nn::kernels::batchnorm_backward_dx(x.data(), dy.data(), N, C, S, mean.data(), invstd.data(), gamma.data(),
                                         mdy.data(), mdyx.data(), dx.data());
      double err = 0;
      for (Index c = 0; c < C; ++c)
        for (Index n = 0; n < N; ++n)
          for (Index i = 0; i < S; ++i) {
            const Index k = (n * C + c) * S + i;
            const double xh = (double(x[k]) - double(mean[c])) * double(invstd[c]);
            const double want = double(gamma[c]) * double(invstd[c]) * (double(dy[k]) - double(mdy[c]) - xh * double(mdyx[c]));
            err = std::max(err, std::abs(double(dx[k]) - want) / (1.0 + std::abs(want)));
          }
      CHECK(err < tol);
    }
  }
  nn::set_num_threads(1);
}
