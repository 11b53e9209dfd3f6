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

TEST_CASE("MaskedSoftmaxCrossEntropy on a wide batch (rows in parallel): a naive reference, any thread count") {
  // 64 x 2048 entries: above the size where rows run in parallel
  const Index N = 64, K = 2048;
  auto x = randn({N, K}, 21, 3.0);
  Tensor<D> t({N, K});
  for (Index n = 0; n < N; ++n)
    for (Index k = 0; k < K; ++k) t[n * K + k] = (k * 7 + n) % 5 == 0 ? 0 : -1;  // every 5th a candidate
  for (Index n = 0; n < N; ++n) t[n * K + (n * 37) % K] = 1;
  double want = 0;  // naive: -log softmax over the candidates at the true one
  for (Index n = 0; n < N; ++n) {
    double s = 0, zt = 0;
    for (Index k = 0; k < K; ++k)
      if (t[n * K + k] >= 0) s += std::exp(x[n * K + k]);
    for (Index k = 0; k < K; ++k)
      if (t[n * K + k] == 1) zt = x[n * K + k];
    want += std::log(s) - zt;
  }
  want /= double(N);
  nn::MaskedSoftmaxCrossEntropy<D> l;
  const int threads = nn::num_threads();
  Tensor<D> g1, g2;
  nn::set_num_threads(1);
  const D one = l.compute(x, t, &g1);
  nn::set_num_threads(2);
  const D two = l.compute(x, t, &g2);
  nn::set_num_threads(threads);
  CHECK(one == doctest::Approx(want).epsilon(1e-12));
  CHECK(one == two);  // the same bits on 1 and 2 threads
  CHECK(std::equal(g1.begin(), g1.end(), g2.begin()));
  // a bad row far down the batch is still named
  t[50 * K + 3] = 0.5;
  CHECK_THROWS_WITH_AS(l(x, t), doctest::Contains("target row 50 holds a value other than 1, 0 or -1"),
                       std::invalid_argument);
}

TEST_CASE("per-pixel cross-entropy and SoftmaxDice: gradients by finite differences") {
  auto x = randn({2, 3, 2, 3}, 11, 2.0);
  auto labels = Tensor<D>::from({2, 2, 3}, {0, 0, 1, 2, 0, 0, 1, 1, 0, 2, 2, 0});
  Tensor<D> soft({2, 3, 2, 3});
  {
    auto r = randn({2, 3, 2, 3}, 12);
    for (Index n = 0; n < 2; ++n)  // softmax over the class axis at every position
      for (Index s = 0; s < 6; ++s) {
        double z = 0;
        for (Index c = 0; c < 3; ++c) z += std::exp(r[(n * 3 + c) * 6 + s]);
        for (Index c = 0; c < 3; ++c) soft[(n * 3 + c) * 6 + s] = std::exp(r[(n * 3 + c) * 6 + s]) / z;
      }
  }
  std::vector<D> w{0.2, 1.5, 3.0};
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(), x, labels);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Sum, 0.1, w), x, labels);
  check_loss_gradient(nn::SoftmaxCrossEntropy<D>(nn::Reduction::Mean, 0.0, w), x, soft);
  check_loss_gradient(nn::SoftmaxDice<D>(), x, labels);
  check_loss_gradient(nn::SoftmaxDice<D>(nn::Reduction::Sum), x, labels);
  check_loss_gradient(nn::SoftmaxDice<D>(), x, soft);
  auto x2 = randn({5, 4}, 13, 2.0);
  check_loss_gradient(nn::SoftmaxDice<D>(), x2, Tensor<D>::from({5}, {0, 3, 3, 1, 0}));  // (N, C) too
  nn::SoftmaxCrossEntropy<D> ce;
  nn::SoftmaxDice<D> dice;
  nn::WeightedSum<D> both({{&ce, 1.0}, {&dice, 0.5}});
  CHECK(both.name() == "SoftmaxCrossEntropy + 0.5 * SoftmaxDice");
  check_loss_gradient(both, x, labels);
  CHECK(both(x, labels) == doctest::Approx(ce(x, labels) + 0.5 * dice(x, labels)).epsilon(1e-14));
}

TEST_CASE("per-pixel cross-entropy equals the (N*H*W, C) cross-entropy of the same pixels") {
  auto x = randn({2, 3, 4, 2}, 21, 1.5);
  Tensor<D> labels({2, 4, 2}), rows({16, 3}), row_labels({16});
  nn::Rng r(22);
  for (auto& v : labels) v = double(r.below(3));
  for (Index n = 0; n < 2; ++n)
    for (Index s = 0; s < 8; ++s) {
      for (Index c = 0; c < 3; ++c) rows[(n * 8 + s) * 3 + c] = x[(n * 3 + c) * 8 + s];
      row_labels[n * 8 + s] = labels[n * 8 + s];
    }
  nn::SoftmaxCrossEntropy<D> ce(nn::Reduction::Mean, 0.05, {1.0, 2.0, 0.5});
  Tensor<D> g, g_rows;
  CHECK(ce.compute(x, labels, &g) == doctest::Approx(ce.compute(rows, row_labels, &g_rows)).epsilon(1e-14));
  for (Index n = 0; n < 2; ++n)
    for (Index s = 0; s < 8; ++s)
      for (Index c = 0; c < 3; ++c) CHECK(g[(n * 3 + c) * 8 + s] == doctest::Approx(g_rows[(n * 8 + s) * 3 + c]).epsilon(1e-14));
}

TEST_CASE("SoftmaxDice by hand: a perfect prediction scores 0, a uniform one 1 - mean_c 2 n_c / (n_c + N S / C)") {
  // Two classes, four pixels, labels 0 0 0 1.
  auto labels = Tensor<D>::from({1, 4}, {0, 0, 0, 1});
  Tensor<D> sure({1, 2, 4}), flat({1, 2, 4});
  for (Index s = 0; s < 4; ++s) sure[s] = labels[s] == 0 ? 50 : -50, sure[4 + s] = -sure[s];
  nn::SoftmaxDice<D> dice(nn::Reduction::Mean, 0.0);
  CHECK(dice(sure, labels) == doctest::Approx(0.0).epsilon(1e-12));
  // p = 0.5 everywhere: class 0: TP 1.5, D 2 + 3; class 1: TP 0.5, D 2 + 1.
  CHECK(dice(flat, labels) == doctest::Approx(1 - 0.5 * (3.0 / 5 + 1.0 / 3)).epsilon(1e-12));
}

TEST_CASE("pixel losses match PyTorch") {
  Golden g("pixel_losses");
  const auto& logits = g["logits"];
  std::vector<D> w(g["weights"].begin(), g["weights"].end());
  using CE = nn::SoftmaxCrossEntropy<D>;
  const auto M = nn::Reduction::Mean;
  std::vector<std::tuple<std::string, CE, const Tensor<D>*>> ces{
      {"plain", CE(), &g["labels"]},          {"sum", CE(nn::Reduction::Sum), &g["labels"]},
      {"weighted", CE(M, 0.0, w), &g["labels"]}, {"weighted_smooth", CE(M, 0.1, w), &g["labels"]},
      {"soft", CE(), &g["soft"]}};
  for (auto& [name, loss, target] : ces) {
    CAPTURE(name);
    Tensor<D> grad;
    CHECK(loss.compute(logits, *target, &grad) == doctest::Approx(g["ce." + name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g["ce." + name + ".grad"], 1e-12, 1e-10, "ce." + name);
  }
  std::vector<std::tuple<std::string, nn::SoftmaxDice<D>, const Tensor<D>*>> dices{
      {"labels", nn::SoftmaxDice<D>(), &g["labels"]},
      {"labels_sum", nn::SoftmaxDice<D>(nn::Reduction::Sum), &g["labels"]},
      {"soft", nn::SoftmaxDice<D>(), &g["soft"]}};
  for (auto& [name, loss, target] : dices) {
    CAPTURE(name);
    Tensor<D> grad;
    CHECK(loss.compute(logits, *target, &grad) == doctest::Approx(g["dice." + name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g["dice." + name + ".grad"], 1e-12, 1e-10, "dice." + name);
  }
}

TEST_CASE("pixel losses reject bad input naming the loss, sample and position") {
  nn::SoftmaxCrossEntropy<float> ce;
  nn::SoftmaxDice<float> dice;
  Tensor<float> x({2, 3, 2, 2}), g;
  Tensor<float> bad({2, 2, 2});
  bad[5] = 3;  // sample 1, position 1
  CHECK_THROWS_WITH_AS(ce.compute(x, bad, &g), doctest::Contains("label 3 of sample 1 at position 1 is not a class in [0, 3)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(dice.compute(x, bad, &g),
                       doctest::Contains("SoftmaxDice: label 3 of sample 1 at position 1 is not a class in [0, 3)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ce.compute(x, Tensor<float>({2, 2, 3}), &g), doctest::Contains("target shape (2, 2, 3) matches neither"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(dice.compute(x, Tensor<float>({2, 3}), &g),
                       doctest::Contains("SoftmaxDice: target shape (2, 3) matches neither"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::WeightedSum<float>({{&ce, -1.0}}), doctest::Contains("weights must be finite"), std::invalid_argument);
}

TEST_CASE("SoftmaxBCE (Keras' binary cross-entropy on a softmax): value by hand, gradients, PyTorch") {
  // Two classes, p = (0.5, 0.5), label 0: each entry -log(0.5); mean over the 2 entries.
  nn::SoftmaxBCE<D> bce;
  CHECK(bce(Tensor<D>({1, 2}), Tensor<D>::from({1}, {0})) == doctest::Approx(std::log(2.0)).epsilon(1e-14));
  auto x = randn({5, 4}, 31, 1.5);  // no entry near the clipping bounds
  check_loss_gradient(bce, x, Tensor<D>::from({5}, {0, 3, 2, 2, 1}));
  check_loss_gradient(nn::SoftmaxBCE<D>(nn::Reduction::Sum), x, Tensor<D>::from({5}, {1, 1, 0, 3, 2}));
  Tensor<D> onehot({5, 4});
  for (Index n = 0; n < 5; ++n) onehot(n, (n * 3) % 4) = 1;
  check_loss_gradient(bce, x, onehot);
  Golden g("softmax_bce");
  for (std::string name : {"mean", "sum"}) {
    CAPTURE(name);
    nn::SoftmaxBCE<D> loss(name == "mean" ? nn::Reduction::Mean : nn::Reduction::Sum);
    Tensor<D> grad;
    CHECK(loss.compute(g["logits"], g["labels"], &grad) == doctest::Approx(g[name + ".loss"][0]).epsilon(1e-12));
    check_close(grad, g[name + ".grad"], 1e-12, 1e-10, "softmax_bce." + name);
  }
  CHECK_THROWS_WITH_AS(bce.compute(x, Tensor<D>::from({5}, {0, 4, 0, 0, 0}), nullptr),
                       doctest::Contains("label 4 of sample 1 is not a class in [0, 4)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::SoftmaxBCE<D>(nn::Reduction::Mean, 0.0), doctest::Contains("eps must be in (0, 0.5)"),
                       std::invalid_argument);
}
