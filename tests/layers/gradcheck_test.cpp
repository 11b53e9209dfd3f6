// Finite-difference gradient checks, in double, for every layer: input
// gradient and every parameter gradient.
#include "../support/test_util.hpp"

using namespace testutil;
using D = double;

namespace {
// Builds the layer for x's per-sample shape and runs the check.
void gradcheck(nn::Layer<D>& layer, const Tensor<D>& x, GradCheck o = {}) {
  nn::Rng rng(3);
  layer.build(x.shape().tail(), rng);
  // non-trivial biases / BN affine parameters
  for (auto& p : layer.parameters())
    if (p.name != "weight" || layer.type() == "BatchNorm") p.value->fill_normal(rng, 0.5, 0.3);
  check_layer_gradients(layer, x, o);
}
// Inputs kept away from the kink at 0 of ReLU-like functions.
Tensor<D> away_from_zero(const Shape& s, std::uint64_t seed) {
  auto x = randn(s, seed);
  for (auto& v : x) v += v >= 0 ? 0.05 : -0.05;
  return x;
}
}  // namespace

TEST_CASE("Dense gradients") {
  nn::Dense<D> a(5);
  gradcheck(a, randn({3, 4}, 1));
  nn::Dense<D> b(3, /*bias=*/false);
  gradcheck(b, randn({2, 4, 6}, 2));  // acts on the last dimension
}

TEST_CASE("Conv2D gradients: stride, padding, dilation, no bias") {
  nn::Conv2D<D> a(3, 3);
  gradcheck(a, randn({2, 2, 6, 5}, 1));
  nn::Conv2D<D> b(2, {3, 2}, {2, 1}, nn::Padding::same());
  gradcheck(b, randn({2, 3, 7, 6}, 2));
  nn::Conv2D<D> c(2, 3, 1, 2, /*dilation=*/2, /*bias=*/false);
  gradcheck(c, randn({1, 2, 6, 6}, 3));
  nn::Conv2D<D> d(2, 2, 2, nn::Padding::explicit_(1, 0, 0, 2));
  gradcheck(d, randn({2, 1, 5, 5}, 4));
}

TEST_CASE("pooling gradients") {
  // distinct values make the max unique, so the max is differentiable
  auto x = randn({2, 2, 6, 7}, 5);
  for (Index i = 0; i < x.size(); ++i) x[i] += 0.01 * double(i % 13);
  nn::MaxPool2D<D> a(2);
  gradcheck(a, x);
  nn::MaxPool2D<D> b(3, 2, 1);
  gradcheck(b, x);
  nn::AvgPool2D<D> c(3, 2, 1);
  gradcheck(c, x);
  nn::AvgPool2D<D> d(2);
  gradcheck(d, x);
  nn::GlobalAvgPool2D<D> e;
  gradcheck(e, x);
}

TEST_CASE("ZeroPadding2D and Flatten gradients") {
  nn::ZeroPadding2D<D> a(1, 2, 0, 3);
  gradcheck(a, randn({2, 2, 3, 4}, 6));
  nn::Flatten<D> b;
  gradcheck(b, randn({2, 2, 3, 4}, 7));
}

TEST_CASE("BatchNorm gradients, after conv and after dense, train and eval") {
  nn::BatchNorm<D> a;
  gradcheck(a, randn({3, 2, 3, 4}, 8, 2.0));
  nn::BatchNorm<D> b;
  gradcheck(b, randn({5, 4}, 9, 2.0));
  GradCheck eval;
  eval.training = false;
  nn::BatchNorm<D> c;
  gradcheck(c, randn({3, 2, 3, 4}, 10), eval);
  // synchronized statistics over one process: the exchange path's own gradients
  nn::BatchNorm<D> d;
  d.set_sync([](std::vector<double>&) {});
  gradcheck(d, randn({3, 2, 3, 4}, 13, 2.0));
  nn::BatchNorm<D> e;
  e.set_sync([](std::vector<double>&) {});
  gradcheck(e, randn({5, 4}, 14, 2.0));
}

TEST_CASE("Dropout gradients with a fixed mask") {
  nn::Dropout<D> a(0.4);
  gradcheck(a, randn({4, 10}, 11));
  GradCheck eval;
  eval.training = false;
  nn::Dropout<D> b(0.4);
  gradcheck(b, randn({4, 10}, 12), eval);
}

TEST_CASE("Embedding gradients") {
  nn::Embedding<D> e(7, 3);
  nn::Rng rng(1);
  e.build(Shape{4}, rng);
  auto ids = Tensor<D>::from({2, 4}, {0, 3, 6, 3, 1, 1, 2, 5});
  // input gradient is zero by definition; check the weight gradient numerically
  const auto& y = e.forward(ids, true);
  auto R = randn(y.shape(), 3);
  e.zero_grad();
  const auto& dx = e.backward(ids, y, R);
  for (auto v : dx) CHECK(v == 0.0);
  auto f = [&] {
    const auto& yy = e.forward(ids, true);
    double sum = 0;
    for (Index j = 0; j < yy.size(); ++j) sum += yy[j] * R[j];
    return sum;
  };
  const Tensor<D> num = numeric_gradient(e.weight(), f);
  check_close(*e.parameters()[0].grad, num, 1e-8, 1e-6, "Embedding dL/dweight");
}

TEST_CASE("activation gradients") {
  const auto x = away_from_zero({3, 2, 5}, 13);
  nn::ReLU<D> relu;
  gradcheck(relu, x);
  nn::LeakyReLU<D> leaky(0.2);
  gradcheck(leaky, x);
  nn::ELU<D> elu(0.7);
  gradcheck(elu, x);
  nn::SELU<D> selu;
  gradcheck(selu, x);
  nn::Sigmoid<D> sig;
  gradcheck(sig, x);
  nn::Tanh<D> tanh;
  gradcheck(tanh, x);
  nn::Softmax<D> sm;
  gradcheck(sm, x);
  nn::LogSoftmax<D> lsm;
  gradcheck(lsm, x);
}

TEST_CASE("parameter gradients accumulate across backward calls") {
  nn::Dense<D> d(3);
  nn::Rng rng(1);
  d.build(Shape{4}, rng);
  auto x = randn({2, 4}, 1), dy = randn({2, 3}, 2);
  d.zero_grad();
  const auto& y = d.forward(x, true);
  d.backward(x, y, dy);
  Tensor<D> once = d.parameters()[0].grad->clone();
  d.backward(x, y, dy);
  for (Index i = 0; i < once.size(); ++i) CHECK((*d.parameters()[0].grad)[i] == doctest::Approx(2 * once[i]));
}

TEST_CASE("Upsample2D, Reshape and Conv2DTranspose gradients") {
  nn::Upsample2D<D> near(2), bil({3, 2}, nn::Upsample2D<D>::Mode::Bilinear);
  gradcheck(near, randn({2, 2, 3, 4}, 1));
  gradcheck(bil, randn({2, 2, 3, 4}, 2));
  nn::Reshape<D> r({-1, 4});
  gradcheck(r, randn({2, 3, 4}, 3));
  nn::Conv2DTranspose<D> a(3, 3);
  gradcheck(a, randn({2, 2, 4, 3}, 4));
  nn::Conv2DTranspose<D> b(2, 3, 2, 1, 1);  // stride 2, padding 1, output padding 1: 2x upsampling
  gradcheck(b, randn({2, 3, 3, 4}, 5));
  nn::Conv2DTranspose<D> c(2, {2, 3}, {1, 2}, {0, 1}, 0, {2, 1}, /*bias=*/false);
  gradcheck(c, randn({1, 2, 4, 4}, 6));
}
