#include "../support/test_util.hpp"

using namespace testutil;
using D = double;

TEST_CASE("SoftmaxCrossEntropy gradients: labels, soft targets, weights, smoothing, sum") {
  auto x = randn({5, 4}, 1, 2.0);
  auto labels = Tensor<D>::from({5}, {0, 3, 2, 2, 1});
  Tensor<D> soft({5, 4});
  nn::kernels::softmax_forward(randn({5, 4}, 2).data(), soft.data(), 5, 4);
  std::vector<D> w{0.5, 1.0, 2.0, 0.3};
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(), x, labels);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Sum), x, labels);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Mean, 0.1, w), x, labels);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Mean, 0.2), x, soft);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Sum, 0.0, w), x, soft);
}

TEST_CASE("BCEWithLogits, SoftF1, MSE and HingeEmbedding gradients") {
  auto x = randn({4, 6}, 3, 2.0);
  Tensor<D> t({4, 6});
  nn::Rng r(4);
  for (auto& v : t) v = r.uniform() < 0.4 ? 1.0 : 0.0;
  check_loss_gradient(nn::BCEWithLogits<D>(), x, t);
  check_loss_gradient(nn::BCEWithLogits<D>(nn::Reduction::Sum, {1, 2, 3, 1, 1, 0.5}), x, t);
  check_loss_gradient(nn::SoftF1<D>(), x, t);
  check_loss_gradient(nn::SoftF1<D>(nn::Reduction::Sum), x, t);
  check_loss_gradient(nn::MSE<D>(), x, randn({4, 6}, 5));
  check_loss_gradient(nn::MSE<D>(nn::Reduction::Sum), x, randn({4, 6}, 5));
  Tensor<D> d({3, 5}), y({3, 5});
  for (Index i = 0; i < d.size(); ++i) {
    d[i] = 0.1 + 0.13 * double(i);  // distances, none exactly at the margin
    y[i] = i % 3 ? -1 : 1;
  }
  check_loss_gradient(nn::HingeEmbedding<D>(1.0), d, y);
  check_loss_gradient(nn::HingeEmbedding<D>(1.55, nn::Reduction::Sum), d, y);
}

TEST_CASE("ConceptPushPull: value by hand, gradients by finite differences") {
  nn::ConceptPushPull<D> loss(1.0, nn::Reduction::Sum);
  // one sample at the origin, concepts at distance 1 (active), 0.5 and 2 (inactive)
  auto e = Tensor<D>::from({1, 2}, {0, 0});
  auto W = Tensor<D>::from({3, 2}, {1, 0, 0, 0.5, 2, 0});
  // pull: 1^2 = 1; push: max(0, 1 - 0.5) + max(0, 1 - 2) = 0.5
  CHECK(loss.compute(e, W, {{0}}, {}, nullptr, nullptr) == doctest::Approx(1.5));
  CHECK(loss.compute(e, W, {{0}}, {{2}}, nullptr, nullptr) == doctest::Approx(1.0));

  nn::ConceptPushPull<D> mean(1.2);
  auto E = randn({3, 4}, 1, 0.5), C = randn({5, 4}, 2, 0.5);
  std::vector<std::vector<int>> act{{0, 3}, {}, {1, 2, 4}}, inact{};
  Tensor<D> ge, gw;
  mean.compute(E, C, act, inact, &ge, &gw);
  auto f = [&] { return double(mean.compute(E, C, act, inact, nullptr, nullptr)); };
  auto numeric = [&](Tensor<D>& t) { return numeric_gradient(t, f); };
  check_close(ge, numeric(E), 1e-8, 1e-5, "dL/de");
  check_close(gw, numeric(C), 1e-8, 1e-5, "dL/dW");
  CHECK_THROWS_WITH_AS(mean.compute(E, C, {{0}, {1}, {7}}, inact, nullptr, nullptr),
                       doctest::Contains("concept id 7 of sample 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(mean.compute(E, C, {{0}}, inact, nullptr, nullptr),
                       doctest::Contains("1 active-concept lists for 3 samples"), std::invalid_argument);
}

TEST_CASE("losses match PyTorch") {
  Golden g("losses");
  const auto& logits = g["ce.logits"];
  const auto& labels = g["ce.labels"];
  const auto& soft = g["ce.soft"];
  std::vector<D> w(g["ce.weights"].begin(), g["ce.weights"].end());
  using CE = nn::SoftmaxCrossEntropy<D>;
  auto M = nn::Reduction::Mean;
  struct Case {
    std::string name;
    CE loss;
    const Tensor<D>* target;
  };
  std::vector<Case> cases{{"plain", CE(), &labels},
                          {"sum", CE(nn::Reduction::Sum), &labels},
                          {"weighted", CE(M, 0.0, w), &labels},
                          {"smooth", CE(M, 0.1), &labels},
                          {"weighted_smooth", CE(M, 0.2, w), &labels},
                          {"soft", CE(), &soft},
                          {"soft_weighted_smooth", CE(M, 0.1, w), &soft}};
  for (auto& c : cases) {
    CAPTURE(c.name);
    Tensor<D> grad;
    const D l = c.loss.compute(logits, *c.target, &grad);
    CHECK(l == doctest::Approx(g["ce." + c.name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g["ce." + c.name + ".grad"], 1e-12, 1e-10, "ce." + c.name);
  }
  std::vector<D> bw(g["bce.weights"].begin(), g["bce.weights"].end());
  std::vector<std::pair<std::string, nn::BCEWithLogits<D>>> bces{
      {"mean", nn::BCEWithLogits<D>()}, {"sum", nn::BCEWithLogits<D>(nn::Reduction::Sum)}, {"weighted", nn::BCEWithLogits<D>(M, bw)}};
  for (auto& [name, loss] : bces) {
    Tensor<D> grad;
    CHECK(loss.compute(g["bce.logits"], g["bce.target"], &grad) == doctest::Approx(g["bce." + name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g["bce." + name + ".grad"], 1e-12, 1e-10, "bce." + name);
  }
  std::vector<std::pair<std::string, nn::HingeEmbedding<D>>> hinges{
      {"m1", nn::HingeEmbedding<D>(1.0)}, {"m15_sum", nn::HingeEmbedding<D>(1.5, nn::Reduction::Sum)}};
  for (auto& [name, loss] : hinges) {
    Tensor<D> grad;
    CHECK(loss.compute(g["hinge.x"], g["hinge.y"], &grad) == doctest::Approx(g["hinge." + name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g["hinge." + name + ".grad"], 1e-12, 1e-10, "hinge." + name);
  }
}

TEST_CASE("losses reject bad input with clear messages") {
  nn::SoftmaxCrossEntropy<float> ce;
  Tensor<float> x({3, 4}), g;
  CHECK_THROWS_WITH_AS(ce.compute(x, Tensor<float>::from({2}, {0, 1}), &g), doctest::Contains("target shape (2)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ce.compute(x, Tensor<float>::from({3}, {0, 4, 1}), &g),
                       doctest::Contains("label 4 of sample 1 is not a class in [0, 4)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ce.compute(Tensor<float>({0, 4}), Tensor<float>({0}), &g), doctest::Contains("empty batch"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ce.compute(x, Tensor<float>::from({3}, {0, NAN, 1}), &g), doctest::Contains("target element 1 is nan"),
                       std::invalid_argument);
  nn::BCEWithLogits<float> bce;
  CHECK_THROWS_WITH_AS(bce.compute(x, Tensor<float>({3, 5}), &g),
                       doctest::Contains("prediction shape (3, 4) and target shape (3, 5) differ"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::HingeEmbedding<float>().compute(x, Tensor<float>({3, 4}), &g),
                       doctest::Contains("targets must be +1 or -1"), std::invalid_argument);
}

TEST_CASE("cross-entropy from logits stays finite for extreme logits") {
  nn::SoftmaxCrossEntropy<float> ce;
  auto x = Tensor<float>::from({2, 3}, {1000, -1000, 0, -500, 500, 500});
  Tensor<float> g;
  const float l = ce.compute(x, Tensor<float>::from({2}, {1, 0}), &g);
  CHECK(std::isfinite(l));
  CHECK(l == doctest::Approx((2000 + 1000 + std::log(2.0)) / 2));
  CHECK(g.all_finite());
}

TEST_CASE("float cross-entropy keeps its precision next to large logits") {
  // log_softmax as (x - max) - log(sum): x - (max + log(sum)) rounds the
  // log to float's 1e-3 spacing at 1e4 (loss 0.313477 instead of 0.313262).
  const std::vector<double> xs = {1e4, -1e4, 0, 9999, 5e3};
  double s = 0;
  for (double v : xs) s += std::exp(v - 1e4);
  const double exact = std::log(s);  // -log_softmax(x)_0
  nn::SoftmaxCrossEntropy<float> ce;
  Tensor<float> g;
  const float l = ce.compute(Tensor<float>::from({1, 5}, {1e4f, -1e4f, 0.f, 9999.f, 5e3f}),
                             Tensor<float>::from({1}, {0}), &g);
  CHECK(std::abs(l - exact) <= 1e-6 * exact);
  for (Index c = 0; c < 5; ++c) {
    const double p = std::exp(xs[static_cast<std::size_t>(c)] - 1e4) / s;
    CHECK(std::abs(g[c] - (p - (c == 0 ? 1.0 : 0.0))) <= 1e-7);
  }
}

TEST_CASE("MaskedSoftmaxCrossEntropy: gradients, masked logits ignored, bad targets named") {
  auto x = randn({3, 5}, 1);
  auto t = Tensor<D>::from({3, 5}, {1, 0, -1, 0, -1, -1, -1, 0, 1, 0, 0, 0, 0, 0, 1});
  check_loss_gradient(nn::MaskedSoftmaxCrossEntropy<D>(), x, t);
  check_loss_gradient(nn::MaskedSoftmaxCrossEntropy<D>(nn::Reduction::Sum), x, t);
  // a masked logit changes nothing
  nn::MaskedSoftmaxCrossEntropy<D> l;
  const D before = l(x, t);
  x[2] = 1e6;
  CHECK(l(x, t) == before);
  // all but the true candidate masked: loss 0
  auto one = Tensor<D>::from({1, 3}, {-1, 1, -1});
  CHECK(l(randn({1, 3}, 2), one) == doctest::Approx(0.0));
  CHECK_THROWS_WITH_AS(l(x, Tensor<D>::from({3, 5}, {1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0})),
                       doctest::Contains("target row 0 has two true candidates"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(l(x, Tensor<D>::from({3, 5}, {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})),
                       doctest::Contains("target row 1 has no true candidate"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(l(x, Tensor<D>::from({3, 5}, {1, 0, 0.5, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0})),
                       doctest::Contains("other than 1, 0 or -1"), std::invalid_argument);
}
