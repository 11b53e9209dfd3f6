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
