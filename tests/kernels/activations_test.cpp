#include <cstring>

#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
namespace k = nn::kernels;

TEST_CASE_TEMPLATE("vectorized activations match scalar references", T, float, double) {
  const Index n = 1037;  // odd: exercises the SIMD tail
  auto x = randn<T>({n}, 2, 4.0);
  x[0] = T(0), x[1] = T(-80), x[2] = T(80);
  Tensor<T> y({n});
  const double tol = std::is_same<T, float>::value ? 2e-6 : 1e-13;
  auto check = [&](const char* name, auto ref) {
    Tensor<T> r({n});
    for (Index i = 0; i < n; ++i) r[i] = T(ref(double(x[i])));
    check_close(y, r, tol, tol, name);
  };
  k::relu_forward(x.data(), y.data(), n);
  check("relu", naive::relu);
  k::leaky_relu_forward(x.data(), y.data(), n, T(0.1));
  check("leaky", [](double v) { return naive::leaky(v, 0.1); });
  k::elu_forward(x.data(), y.data(), n, T(0.7));
  check("elu", [](double v) { return naive::elu(v, 0.7); });
  k::selu_forward(x.data(), y.data(), n);
  check("selu", naive::selu);
  k::sigmoid_forward(x.data(), y.data(), n);
  check("sigmoid", naive::sigmoid);
  k::tanh_forward(x.data(), y.data(), n);
  check("tanh", [](double v) { return std::tanh(v); });
  CHECK(y.all_finite());
}

TEST_CASE("softmax is stable for large logits") {
  Tensor<float> x = Tensor<float>::from({2, 3}, {1000, 1001, 1002, -1000, -1000, -1000}), y({2, 3});
  k::softmax_forward(x.data(), y.data(), 2, 3);
  CHECK(y.all_finite());
  CHECK(y(0, 2) == doctest::Approx(0.66524096));
  CHECK(y(1, 1) == doctest::Approx(1.0 / 3));
}

TEST_CASE("log-softmax forward and backward match the naive reference") {
  const Index rows = 3, cols = 7;
  auto x = randn<double>({rows, cols}, 5, 4.0), dy = randn<double>({rows, cols}, 6);
  x[2] = 900;  // a large logit: the kernel subtracts the maximum first
  Tensor<double> y({rows, cols}), dx({rows, cols});
  k::log_softmax_forward(x.data(), y.data(), rows, cols);
  k::log_softmax_backward(y.data(), dy.data(), dx.data(), rows, cols);
  for (Index r = 0; r < rows; ++r) {
    double m = -1e300, z = 0, sdy = 0;
    for (Index c = 0; c < cols; ++c) m = std::max(m, x(r, c));
    for (Index c = 0; c < cols; ++c) z += std::exp(x(r, c) - m), sdy += dy(r, c);
    for (Index c = 0; c < cols; ++c) {
      const double want = x(r, c) - m - std::log(z);
      CHECK(y(r, c) == doctest::Approx(want).epsilon(1e-12));
      // d/dx_c of sum_j dy_j (x_j - lse) = dy_c - softmax_c * sum(dy)
      CHECK(dx(r, c) == doctest::Approx(dy(r, c) - std::exp(want) * sdy).epsilon(1e-12));
    }
  }
}

TEST_CASE_TEMPLATE("sum_fixed: the same bits wherever the values sit, strided or not, close to the exact sum", T, float,
                   double) {
  for (Index n : {0, 1, 15, 16, 17, 100, 1037}) {
    INFO("n " << n);
    auto x = randn<T>({n + 40}, 7, 3.0);
    std::vector<T> strided(static_cast<std::size_t>(3 * n + 1), T(99));
    double exact = 0;
    for (Index i = 0; i < n; ++i) exact += double(x[i]), strided[static_cast<std::size_t>(3 * i)] = x[i];
    const T ref = k::sum_fixed(x.data(), n);
    CHECK(std::abs(double(ref) - exact) <= (std::is_same<T, float>::value ? 1e-4 : 1e-12) * (1 + std::abs(exact)));
    for (Index shift = 1; shift < 40; shift += 3) {  // the same values at other alignments
      Tensor<T> moved({n + 40});
      std::copy_n(x.data(), n, moved.data() + shift);
      const T s = k::sum_fixed(moved.data() + shift, n);
      CHECK(std::memcmp(&s, &ref, sizeof(T)) == 0);
    }
    const T st = k::sum_fixed(strided.data(), n, 3);
    CHECK(std::memcmp(&st, &ref, sizeof(T)) == 0);
  }
}
