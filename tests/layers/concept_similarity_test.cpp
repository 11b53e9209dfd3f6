// ConceptSimilarity (cosines against a learned concept table) and the
// CosinePushPull loss on its output: values against direct computation,
// gradients against finite differences in double, agreement with
// ConceptPushPull on unit vectors, errors.
#include "../support/test_util.hpp"

using namespace testutil;
using D = double;

namespace {
D cosine(const D* a, const D* b, Index n) {
  D ab = 0, aa = 0, bb = 0;
  for (Index i = 0; i < n; ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}
}  // namespace

TEST_CASE("ConceptSimilarity: cosines of every sample with every concept, gradients") {
  nn::ConceptSimilarity<D> layer(5);
  nn::Rng rng(3);
  CHECK(layer.build({4}, rng) == nn::Shape{5});
  CHECK(layer.parameters().size() == 1);
  CHECK(layer.weight().shape() == nn::Shape{5, 4});
  auto x = randn({3, 4}, 7);
  const auto& y = layer.forward(x, true);
  REQUIRE(y.shape() == nn::Shape{3, 5});
  for (Index n = 0; n < 3; ++n)
    for (Index k = 0; k < 5; ++k)
      CHECK(y[n * 5 + k] == doctest::Approx(cosine(x.data() + n * 4, layer.weight().data() + k * 4, 4)).epsilon(1e-12));
  check_layer_gradients(layer, x);
  // a zero embedding has cosine 0 with everything and a finite gradient
  Tensor<D> z({2, 4});
  z.zero();
  z[4] = 0.5;
  const auto& yz = layer.forward(z, false);
  for (Index k = 0; k < 5; ++k) CHECK(yz[k] == 0.0);
  Tensor<D> dy = randn({2, 5}, 8);
  layer.zero_grad();
  CHECK(layer.backward(z, yz, dy).all_finite());
}

TEST_CASE("ConceptSimilarity: shape errors name the layer, config round trip") {
  nn::ConceptSimilarity<float> layer(3);
  nn::Rng rng(1);
  CHECK_THROWS_WITH_AS(layer.build({2, 4}, rng), doctest::Contains("ConceptSimilarity(3)"), std::invalid_argument);
  CHECK_THROWS_AS(nn::ConceptSimilarity<float>(0), std::invalid_argument);
  nn::Graph<float> g(2);
  auto in = g.input({6}, "x");
  g.output(g.add(nn::ConceptSimilarity<float>(4), g.add(nn::Dense<float>(8), in)), "concepts");
  CHECK(g.summary().find("ConceptSimilarity(4)") != std::string::npos);
  auto copy = nn::make_layer<float>(nn::ConceptSimilarity<float>(4).config());
  CHECK(copy->describe() == "ConceptSimilarity(4)");
}

TEST_CASE("CosinePushPull: by hand, equal to ConceptPushPull on unit vectors, gradients") {
  // by hand: active at cos 0.5 -> 2 - 1 = 1; inactive at cos 0.5 -> d = 1, sqrt(2) - 1;
  // inactive at cos -0.2 -> d = sqrt(2.4) > sqrt(2), 0
  nn::CosinePushPull<D> sum(std::sqrt(2.0), nn::Reduction::Sum);
  auto c = Tensor<D>::from({1, 3}, {0.5, 0.5, -0.2});
  auto t = Tensor<D>::from({1, 3}, {1, 0, 0});
  CHECK(sum(c, t) == doctest::Approx(1 + std::sqrt(2.0) - 1));

  // the same loss as ConceptPushPull on the normalized embeddings and table
  for (double margin : {1.0, std::sqrt(2.0), 1.7}) {
    CAPTURE(margin);
    nn::ConceptSimilarity<D> layer(6);
    nn::Rng rng(5);
    layer.build({4}, rng);
    auto e = randn({5, 4}, 11);
    const Tensor<D> cos = layer.forward(e, false).clone();
    Tensor<D> target({5, 6});
    std::vector<std::vector<int>> active(5);
    for (Index n = 0; n < 5; ++n)
      for (Index k = 0; k < 6; ++k) {
        const bool on = (n * 7 + k * 3) % 4 == 0;
        target[n * 6 + k] = on ? 1 : 0;
        if (on) active[std::size_t(n)].push_back(int(k));
      }
    auto unit = [](const Tensor<D>& v) {
      Tensor<D> u = v.clone();
      const Index R = v.dim(0), C = v.dim(1);
      for (Index r = 0; r < R; ++r) {
        D s = 0;
        for (Index j = 0; j < C; ++j) s += v[r * C + j] * v[r * C + j];
        for (Index j = 0; j < C; ++j) u[r * C + j] = v[r * C + j] / std::sqrt(s);
      }
      return u;
    };
    const D direct = nn::ConceptPushPull<D>(margin).compute(unit(e), unit(layer.weight()), active, {}, nullptr, nullptr);
    CHECK(nn::CosinePushPull<D>(margin)(cos, target) == doctest::Approx(direct).epsilon(1e-10));
  }

  // gradients, away from the kinks (d = margin) and from d = 0
  Tensor<D> cs({4, 5}), ts({4, 5});
  for (Index i = 0; i < cs.size(); ++i) {
    cs[i] = -0.85 + 0.087 * double(i);
    ts[i] = i % 3 == 0 ? 1 : 0;
  }
  check_loss_gradient(nn::CosinePushPull<D>(), cs, ts);
  check_loss_gradient(nn::CosinePushPull<D>(1.2, nn::Reduction::Sum), cs, ts);
}

TEST_CASE("CosinePushPull: bad targets and inputs are clear errors") {
  nn::CosinePushPull<float> loss;
  auto c = Tensor<float>::from({1, 2}, {0.1f, 0.2f});
  CHECK_THROWS_WITH_AS(loss(c, Tensor<float>::from({1, 2}, {1, 0.5f})), doctest::Contains("target element 1 is 0.5"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(loss(Tensor<float>::from({1, 2}, {1.5f, 0}), Tensor<float>::from({1, 2}, {1, 0})),
                       doctest::Contains("not a cosine"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(loss(c, Tensor<float>::from({2, 1}, {1, 0})), doctest::Contains("CosinePushPull"),
                       std::invalid_argument);
  CHECK_THROWS_AS(nn::CosinePushPull<float>(0.0), std::invalid_argument);
}
