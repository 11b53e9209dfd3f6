// Layer behaviour that gradients do not show: modes, shapes, errors, clone.
#include "../support/test_util.hpp"

using namespace testutil;
using F = float;

TEST_CASE("Conv2D 'same' padding keeps the size (stride 1) or gives ceil(H / stride)") {
  nn::Rng rng(0);
  nn::Conv2D<F> a(4, 3, 1, nn::Padding::same());
  CHECK(a.build(Shape{2, 9, 8}, rng) == Shape{4, 9, 8});
  nn::Conv2D<F> b(4, 4, 2, nn::Padding::same());
  CHECK(b.build(Shape{2, 9, 8}, rng) == Shape{4, 5, 4});
  nn::Conv2D<F> c(4, 3, 1, nn::Padding::same(), 2);
  CHECK(c.build(Shape{2, 9, 8}, rng) == Shape{4, 9, 8});
}

TEST_CASE("Dropout: identity in eval, inverted scaling and the right rate in training") {
  nn::Dropout<F> d(0.3);
  nn::Rng rng(1);
  d.build(Shape{10000}, rng);
  Tensor<F> x({2, 10000}, 1.0f);
  const auto& ye = d.forward(x, false);
  for (auto v : ye) REQUIRE(v == 1.0f);
  const auto& y = d.forward(x, true);
  Index zeros = 0;
  for (auto v : y) {
    if (v == 0) ++zeros;
    else REQUIRE(v == doctest::Approx(1 / 0.7));
  }
  CHECK(double(zeros) / 20000 == doctest::Approx(0.3).epsilon(0.05));
}

TEST_CASE("Dropout masks are reproducible from the seed") {
  nn::Dropout<F> a(0.5), b(0.5);
  nn::Rng r1(42), r2(42);
  a.build(Shape{64}, r1);
  b.build(Shape{64}, r2);
  Tensor<F> x({3, 64}, 1.0f);
  Tensor<F> ya = a.forward(x, true).clone();
  const auto& yb = b.forward(x, true);
  for (Index i = 0; i < x.size(); ++i) REQUIRE(ya[i] == yb[i]);
}

TEST_CASE("Dropout masks do not depend on the thread count") {
  auto mask = [](int threads) {
    nn::set_num_threads(threads);
    nn::Dropout<F> d(0.5);
    nn::Rng rng(3);
    d.build(Shape{70000}, rng);  // large enough to run in parallel chunks
    Tensor<F> x({2, 70000}, 1.0f);
    const auto& y = d.forward(x, true);
    return std::vector<F>(y.begin(), y.end());
  };
  const auto a = mask(1), b = mask(2);
  nn::set_num_threads(1);
  CHECK(a == b);
}

TEST_CASE("BatchNorm: eval uses running statistics, training on one value per channel is an error") {
  nn::BatchNorm<F> bn;
  nn::Rng rng(0);
  bn.build(Shape{3}, rng);
  Tensor<F> x = randn<F>({8, 3}, 1);
  const auto& y = bn.forward(x, false);  // fresh running stats: mean 0, var 1
  for (Index i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(x[i] / std::sqrt(1 + 1e-5)));
  Tensor<F> one({1, 3});
  CHECK_THROWS_WITH_AS(bn.forward(one, true), doctest::Contains("more than one value per channel"),
                       std::invalid_argument);
  CHECK_NOTHROW(bn.forward(one, false));
}

TEST_CASE("wrong input shapes name the layer and both shapes") {
  nn::Rng rng(0);
  nn::Conv2D<F> conv(4, 3);
  conv.build(Shape{3, 8, 8}, rng);
  Tensor<F> bad({2, 1, 8, 8});
  CHECK_THROWS_WITH_AS(conv.forward(bad, true), "Conv2D(4, 3, stride 1, valid): expected input (N, 3, 8, 8) but got (2, 1, 8, 8)",
                       std::invalid_argument);
  Tensor<F> empty({0, 3, 8, 8});
  CHECK_THROWS_WITH_AS(conv.forward(empty, true), doctest::Contains("empty batch"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv.build(Shape{3, 2, 2}, rng), doctest::Contains("too small"), std::invalid_argument);
  nn::Dense<F> dense(3);
  CHECK_THROWS_WITH_AS(dense.forward(Tensor<F>({2, 4}), true), doctest::Contains("before build()"), std::logic_error);
  nn::MaxPool2D<F> pool(2);
  CHECK_THROWS_WITH_AS(pool.build(Shape{10}, rng), doctest::Contains("is not (C, H, W)"), std::invalid_argument);
  CHECK_THROWS_AS(nn::Conv2D<F>(0, 3), std::invalid_argument);
  CHECK_THROWS_AS(nn::Dropout<F>(1.0), std::invalid_argument);
}

TEST_CASE("Embedding rejects ids that are not integers in range") {
  nn::Embedding<F> e(5, 2);
  nn::Rng rng(0);
  e.build(Shape{2}, rng);
  CHECK_THROWS_WITH_AS(e.forward(Tensor<F>::from({1, 2}, {1, 5}), true), doctest::Contains("not an integer id in [0, 5)"),
                       std::invalid_argument);
  CHECK_THROWS_AS(e.forward(Tensor<F>::from({1, 2}, {1, 1.5f}), true), std::invalid_argument);
  const auto& y = e.forward(Tensor<F>::from({1, 2}, {4, 0}), true);
  CHECK(y.shape() == Shape{1, 2, 2});
  CHECK(y(0, 0, 1) == e.weight()(4, 1));
}

TEST_CASE("clone() is a deep copy") {
  nn::Dense<F> d(2);
  nn::Rng rng(0);
  d.build(Shape{3}, rng);
  auto c = d.clone();
  d.weight().fill(0.f);
  CHECK(c->parameters()[0].value->array().abs().sum() > 0);
}

TEST_CASE("MaxPool2D: backward after an eval-mode forward (no argmax kept) equals backward after training") {
  nn::Rng rng(0);
  for (Index k : {2, 3}) {
    nn::MaxPool2D<F> pool(k);
    pool.build(Shape{2, 7, 9}, rng);
    auto x = testutil::randn<F>({3, 2, 7, 9}, 4);
    const Tensor<F> y = pool.forward(x, true).clone();
    auto dy = testutil::randn<F>(y.shape(), 5);
    const Tensor<F> dx_train = pool.backward(x, y, dy).clone();
    const Tensor<F>& ye = pool.forward(x, false);
    CHECK(testutil::worst(ye.data(), y.data(), y.size(), 0, 0) <= 1.0);
    const Tensor<F>& dx_eval = pool.backward(x, ye, dy);
    CHECK(testutil::worst(dx_eval.data(), dx_train.data(), dx_train.size(), 0, 0) <= 1.0);
  }
}

TEST_CASE("Reshape, Upsample2D and Conv2DTranspose: shapes, configs, clear errors") {
  nn::Rng rng(1);
  nn::Reshape<float> r({-1, 6});
  CHECK(r.build({3, 4}, rng) == Shape{2, 6});
  nn::Reshape<float> bad({5, 5});
  CHECK_THROWS_WITH_AS(bad.build({3, 4}, rng), doctest::Contains("has 12 elements, not Reshape(5, 5)'s"),
                       std::invalid_argument);
  CHECK_THROWS_AS(nn::Reshape<float>({-1, -1}), std::invalid_argument);
  CHECK_THROWS_AS(nn::Reshape<float>({0, 3}), std::invalid_argument);
  nn::Upsample2D<float> up({2, 3}, nn::Upsample2D<float>::Mode::Bilinear);
  CHECK(up.build({4, 5, 6}, rng) == Shape{4, 10, 18});
  CHECK_THROWS_WITH_AS(up.build({4, 5}, rng), doctest::Contains("is not (C, H, W)"), std::invalid_argument);
  nn::Conv2DTranspose<float> ct(8, 3, 2, 1, 1);
  CHECK(ct.build({4, 16, 16}, rng) == Shape{8, 32, 32});
  CHECK_THROWS_WITH_AS(nn::Conv2DTranspose<float>(8, 3, 2, 1, 2), doctest::Contains("smaller than the stride"),
                       std::invalid_argument);
  for (const nn::Layer<float>* l : std::initializer_list<const nn::Layer<float>*>{&r, &up, &ct})
    CHECK(nn::make_layer<float>(l->config())->describe() == l->describe());
}
