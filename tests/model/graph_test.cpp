// Graph models: gradients through whole graphs against finite differences
// (residual block, concat, a shared layer used twice, two outputs with
// weighted losses), equality with Sequential, the plan's fusion rules in a
// graph, shared layers' parameters and buffers, errors, summary, clone.
#include "../support/test_util.hpp"

using namespace testutil;
using D = double;
using F = float;

namespace {
// A basic residual block with a projection shortcut:
// y = ReLU(BN(conv3x3(ReLU(BN(conv3x3(x))))) + conv1x1(x)).
template <class T>
nn::NodeRef residual_block(nn::Graph<T>& g, nn::NodeRef x, nn::Index filters, nn::Index stride) {
  auto h = g.add(nn::Conv2D<T>(filters, 3, stride, 1, 1, false), x);
  h = g.add(nn::ReLU<T>(), g.add(nn::BatchNorm<T>(), h));
  h = g.add(nn::BatchNorm<T>(), g.add(nn::Conv2D<T>(filters, 3, 1, 1, 1, false), h));
  auto s = g.add(nn::Conv2D<T>(filters, 1, stride), x);
  return g.add(nn::ReLU<T>(), g.add(nn::Add<T>(), {h, s}));
}
// Parameters away from their initial values (BN affine non-trivial).
template <class T>
void perturb(nn::Graph<T>& g, std::uint64_t seed) {
  nn::Rng rng(seed);
  for (auto& p : g.parameters())
    if (p.name.find("batchnorm") != std::string::npos) p.value->fill_normal(rng, 0.5, 0.3);
}
}  // namespace

TEST_CASE("graph gradients: a residual block (fused and unfused, training and eval)") {
  for (bool fuse : {true, false})
    for (bool training : {true, false}) {
      CAPTURE(fuse);
      CAPTURE(training);
      nn::Graph<D> g(3);
      auto x = g.input({2, 6, 6}, "x");
      g.output(residual_block(g, x, 3, 2));
      g.set_fusion(fuse);
      perturb(g, 4);
      if (!training) {  // running statistics from a few training batches
        for (int k = 0; k < 3; ++k) {
          auto b = randn({4, 2, 6, 6}, 10 + k);
          g.forward(b, true);
        }
      }
      GradCheck o;
      o.training = training;
      check_graph_gradients(g, list(randn({3, 2, 6, 6}, 5)), o);
    }
}

TEST_CASE("graph gradients: concat of two branches and a node read three times") {
  nn::Graph<D> g(5);
  auto x = g.input({8}, "x");
  auto a = g.add(nn::Dense<D>(4), x);
  auto b = g.add(nn::Tanh<D>(), g.add(nn::Dense<D>(3), x));
  auto c = g.add(nn::Concat<D>(), {a, b, x});  // x read by two Dense layers and the concat
  g.output(g.add(nn::Dense<D>(2), g.add(nn::ELU<D>(), c)));
  check_graph_gradients(g, list(randn({3, 8}, 6)));
}

TEST_CASE("graph gradients: a shared tower on two inputs (siamese) with cosine similarity") {
  nn::Graph<D> g(7);
  auto a = g.input({1, 6, 6}, "left"), b = g.input({1, 6, 6}, "right");
  auto conv = g.share(nn::Conv2D<D>(2, 3), "conv");
  auto bn = g.share(nn::BatchNorm<D>(), "bn");
  auto fc = g.share(nn::Dense<D>(4), "fc");
  auto tower = [&](nn::NodeRef in) {
    auto h = g.add(nn::ReLU<D>(), g.add(bn, g.add(conv, in)));
    return g.add(fc, g.add(nn::Flatten<D>(), g.add(nn::MaxPool2D<D>(2), h)));
  };
  auto ea = tower(a), eb = tower(b);
  g.output(g.add(nn::CosineSimilarity<D>(), {ea, eb}), "similarity");
  g.output(ea, "embedding");
  // parameters once: conv weight + bias, bn weight + bias, fc weight + bias
  const auto params = g.parameters();
  REQUIRE(params.size() == 6);
  CHECK(params[0].name == "conv.weight");
  CHECK(params[4].name == "fc.weight");
  perturb(g, 8);
  check_graph_gradients(g, list(randn({3, 1, 6, 6}, 9), randn({3, 1, 6, 6}, 10)), {}, {1.0, 0.5});
}

TEST_CASE("a shared layer's gradient is the sum of its calls' gradients") {
  nn::Graph<D> g(1);
  auto a = g.input({4}), b = g.input({4});
  auto fc = g.share(nn::Dense<D>(3));
  g.output(g.add(nn::Add<D>(), {g.add(fc, a), g.add(fc, b)}));
  auto xa = randn({2, 4}, 1), xb = randn({2, 4}, 2);
  // one Dense on the stacked batch gives the same weight gradient
  nn::Dense<D> ref(3);
  nn::Rng rng(1);
  ref.build({4}, rng);
  ref.weight().copy_from(*g.parameters()[0].value);
  ref.bias().copy_from(*g.parameters()[1].value);
  Tensor<D> stacked({4, 4});
  std::copy(xa.begin(), xa.end(), stacked.begin());
  std::copy(xb.begin(), xb.end(), stacked.begin() + 8);
  g.zero_grad();
  g.forward({&xa, &xb}, true);
  Tensor<D> dy({2, 3});
  dy.fill(1.0);
  g.backward({&dy});
  const auto& y = ref.forward(stacked, true);
  Tensor<D> dy2({4, 3});
  dy2.fill(1.0);
  ref.zero_grad();
  ref.backward(stacked, y, dy2);
  check_close(*g.parameters()[0].grad, ref.parameters()[0].grad->clone(), 1e-12, 1e-12, "shared weight gradient");
  check_close(*g.parameters()[1].grad, ref.parameters()[1].grad->clone(), 1e-12, 1e-12, "shared bias gradient");
}

TEST_CASE("a shared BatchNorm's running statistics see every call in order") {
  nn::Graph<D> g(1);
  auto a = g.input({2, 3, 3}), b = g.input({2, 3, 3});
  auto bn = g.share(nn::BatchNorm<D>(0.1));
  g.output(g.add(nn::Add<D>(), {g.add(bn, a), g.add(bn, b)}));
  auto xa = randn({4, 2, 3, 3}, 1), xb = randn({4, 2, 3, 3}, 2, 3.0);
  g.forward({&xa, &xb}, true);
  nn::BatchNorm<D> ref(0.1);
  nn::Rng rng(1);
  ref.build({2, 3, 3}, rng);
  ref.forward(xa, true);
  ref.forward(xb, true);
  const auto bufs = g.buffers();
  REQUIRE(bufs.size() == 2);
  check_close(*bufs[0].second, ref.running_mean().clone(), 1e-14, 1e-14, "running mean");
  check_close(*bufs[1].second, ref.running_var().clone(), 1e-14, 1e-14, "running var");
}

TEST_CASE("two outputs with weighted losses: gradients of the total") {
  nn::Graph<D> g(11);
  auto x = g.input({10}, "x");
  auto h = g.add(nn::Tanh<D>(), g.add(nn::Dense<D>(8), x));
  auto cat = g.add(nn::Dense<D>(4), h, "category");
  auto tags = g.add(nn::Dense<D>(3), h, "tags");
  g.output(cat);
  g.output(tags);
  auto xb = randn({5, 10}, 1);
  Tensor<D> labels({5}), targets({5, 3});
  for (Index i = 0; i < 5; ++i) labels[i] = D(i % 4);
  for (Index i = 0; i < 15; ++i) targets[i] = D((i * 7) % 3 == 0);
  nn::SoftmaxCrossEntropy<D> ce;
  nn::BCEWithLogits<D> bce;
  const D w1 = 1.0, w2 = 0.3;
  auto total = [&]() {
    const auto& o = g.forward({&xb}, true);
    return w1 * ce(*o[0], labels) + w2 * bce(*o[1], targets);
  };
  g.zero_grad();
  const auto& o = g.forward({&xb}, true);
  Tensor<D> d1, d2;
  ce.compute(*o[0], labels, &d1);
  bce.compute(*o[1], targets, &d2);
  d1.array() *= w1;
  d2.array() *= w2;
  auto gx = g.backward({&d1, &d2}, true);
  Tensor<D> dx = gx[0]->clone();
  std::vector<Tensor<D>> pg;
  for (auto& p : g.parameters()) pg.push_back(p.grad->clone());
  check_close(dx, numeric_gradient(xb, total), 1e-7, 1e-5, "dL/dx");
  auto ps = g.parameters();
  for (std::size_t k = 0; k < ps.size(); ++k)
    check_close(pg[k], numeric_gradient(*ps[k].value, total), 1e-7, 1e-5, "dL/d" + ps[k].name);
}

TEST_CASE("a chain as a Graph equals the Sequential, bit for bit, fused and unfused") {
  for (bool fuse : {true, false}) {
    CAPTURE(fuse);
    nn::Sequential<F> s(Shape{3, 12, 12}, 21);
    s.add(nn::Conv2D<F>(8, 3, 1, nn::Padding::same()));
    s.add(nn::ReLU<F>());
    s.add(nn::MaxPool2D<F>(2));
    s.add(nn::Conv2D<F>(8, 3));
    s.add(nn::BatchNorm<F>());
    s.add(nn::ReLU<F>());
    s.add(nn::MaxPool2D<F>(2));
    s.add(nn::Flatten<F>());
    s.add(nn::Dropout<F>(0.3));
    s.add(nn::Dense<F>(5));
    nn::Graph<F> g(21);
    auto h = g.input({3, 12, 12});
    h = g.add(nn::Conv2D<F>(8, 3, 1, nn::Padding::same()), h);
    h = g.add(nn::ReLU<F>(), h);
    h = g.add(nn::MaxPool2D<F>(2), h);
    h = g.add(nn::Conv2D<F>(8, 3), h);
    h = g.add(nn::BatchNorm<F>(), h);
    h = g.add(nn::ReLU<F>(), h);
    h = g.add(nn::MaxPool2D<F>(2), h);
    h = g.add(nn::Flatten<F>(), h);
    h = g.add(nn::Dropout<F>(0.3), h);
    g.output(g.add(nn::Dense<F>(5), h));
    s.set_fusion(fuse);
    g.set_fusion(fuse);
    CHECK(s.plan(true) == g.plan(true));
    CHECK(s.plan(false) == g.plan(false));
    auto x = randn<F>({4, 3, 12, 12}, 3);
    for (bool training : {true, false}) {
      s.reseed_layers(5);
      g.reseed_layers(5);
      s.zero_grad();
      g.zero_grad();
      const Tensor<F> ys = s.forward(x, training).clone();
      const Tensor<F>& yg = g.forward(x, training);
      REQUIRE(ys.size() == yg.size());
      CHECK(std::equal(ys.begin(), ys.end(), yg.begin()));
      auto dy = randn<F>(ys.shape(), 4);
      const Tensor<F> dxs = s.backward(dy, true).clone();
      const Tensor<F>& dxg = g.backward(dy, true);
      CHECK(std::equal(dxs.begin(), dxs.end(), dxg.begin()));
      auto ps = s.parameters(), pg = g.parameters();
      REQUIRE(ps.size() == pg.size());
      for (std::size_t k = 0; k < ps.size(); ++k)
        CHECK(std::equal(ps[k].grad->begin(), ps[k].grad->end(), pg[k].grad->begin()));
    }
  }
}

TEST_CASE("the plan fuses in a graph only where the fused tensors have one reader") {
  nn::Graph<F> g(1);
  auto x = g.input({4, 8, 8});
  auto c1 = g.add(nn::Conv2D<F>(4, 3, 1, 1), x, "c1");
  auto r1 = g.add(nn::ReLU<F>(), c1, "r1");
  auto p1 = g.add(nn::MaxPool2D<F>(2), r1, "p1");  // c1 -> r1 -> p1: fusable
  auto c2 = g.add(nn::Conv2D<F>(4, 3, 1, 1), x, "c2");
  auto r2 = g.add(nn::ReLU<F>(), c2, "r2");
  auto side = g.add(nn::MaxPool2D<F>(2), c2, "side");  // c2 has two readers: no fusion
  auto p2 = g.add(nn::MaxPool2D<F>(2), r2, "p2");
  g.output(g.add(nn::Add<F>(), {p1, p2, side}));
  const std::string train = g.plan(true), eval = g.plan(false);
  CHECK(train.find("node 1-3 conv+relu+maxpool") != std::string::npos);
  CHECK(train.find("node 5-7 relu+maxpool") != std::string::npos);  // r2 -> p2 still folds (r2 has one reader)
  CHECK(train.find("node 4 single") != std::string::npos);
  // an output in the middle of a chain stops fusion too
  nn::Graph<F> h(1);
  auto hx = h.input({4, 8, 8});
  auto hc = h.add(nn::Conv2D<F>(4, 3), hx);
  h.output(hc, "features");
  h.output(h.add(nn::ReLU<F>(), hc), "activations");
  CHECK(h.plan(false).find("conv+epilogue") == std::string::npos);
  (void)eval;
}

TEST_CASE("graph errors name the nodes") {
  nn::Graph<F> g(1);
  auto x = g.input({3, 8, 8}, "image");
  auto v = g.input({5}, "vector");
  CHECK_THROWS_WITH_AS(g.add(nn::Conv2D<F>(4, 3), v, "conv"),
                       doctest::Contains("node 'conv' Conv2D(4, 3, stride 1, valid) cannot take input shape (N, 5) "
                                         "from node 'vector'"),
                       std::invalid_argument);
  auto c = g.add(nn::Conv2D<F>(4, 3), x, "conv");
  CHECK_THROWS_WITH_AS(g.add(nn::ReLU<F>(), c, "conv"), doctest::Contains("two nodes named 'conv'"),
                       std::invalid_argument);
  CHECK_THROWS_AS(g.add(nn::ReLU<F>(), nn::NodeRef{42}), std::invalid_argument);
  auto tower = g.share(nn::Dense<F>(3), "tower");
  g.add(tower, v);
  CHECK_THROWS_WITH_AS(g.add(tower, g.add(nn::Flatten<F>(), c)),
                       doctest::Contains("shared layer built for input (N, 5)"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(g.forward(randn<F>({1, 3, 8, 8}, 1)), doctest::Contains("no outputs"), std::invalid_argument);
  g.output(c, "features");
  CHECK_THROWS_WITH_AS(g.output(c), doctest::Contains("already an output"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(g.plan(true), doctest::Contains("input 'vector' reaches no output"), std::invalid_argument);
  nn::Graph<F> ok(1);
  auto i1 = ok.input({2}, "a"), i2 = ok.input({2}, "b");
  ok.output(ok.add(nn::Add<F>(), {i1, i2}));
  auto a = randn<F>({3, 2}, 1), b = randn<F>({4, 2}, 2), bad = randn<F>({3, 3}, 3);
  CHECK_THROWS_WITH_AS(ok.forward({&a}, true), doctest::Contains("1 inputs given, the graph has 2"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ok.forward({&a, &b}, true), doctest::Contains("input 'b' expects (N, 2) with the batch size"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ok.forward({&a, &bad}, true), doctest::Contains("input 'b'"), std::invalid_argument);
  a[1] = std::nanf("");
  CHECK_THROWS_WITH_AS(ok.forward({&a, &a}, true), doctest::Contains("NaN/Inf"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(ok.forward(a), doctest::Contains("pass the inputs as a vector"), std::invalid_argument);
}

TEST_CASE("graph summary: nodes, layers, shapes, parameters, inputs, shared layers counted once") {
  nn::Graph<F> g(1);
  auto a = g.input({4}, "a"), b = g.input({4}, "b");
  auto fc = g.share(nn::Dense<F>(3), "tower");
  auto s = g.add(nn::Concat<F>(), {g.add(fc, a), g.add(fc, b)}, "pair");
  g.output(g.add(nn::Dense<F>(1), s, "score"), "score");
  const std::string t = g.summary();
  CHECK(t.find("Dense(3) [shared 'tower']") != std::string::npos);
  CHECK(t.find("pair") != std::string::npos);
  CHECK(t.find("(N, 6)") != std::string::npos);
  CHECK(t.find("-> output 'score'") != std::string::npos);
  CHECK(t.find("Trainable params: 22") != std::string::npos);  // 4*3+3 + 6*1+1
  CHECK(g.num_parameters() == 22);
}

TEST_CASE("a cloned graph computes the same and owns its parameters") {
  nn::Graph<F> g(2);
  auto a = g.input({6}), b = g.input({6});
  auto fc = g.share(nn::Dense<F>(4));
  auto bn = g.share(nn::BatchNorm<F>());
  g.output(g.add(nn::Multiply<F>(), {g.add(bn, g.add(fc, a)), g.add(bn, g.add(fc, b))}));
  auto xa = randn<F>({3, 6}, 1), xb = randn<F>({3, 6}, 2);
  nn::Graph<F> c = g.clone();
  const Tensor<F> y1 = g.forward({&xa, &xb}, true)[0]->clone();
  const Tensor<F>& y2 = *c.forward({&xa, &xb}, true)[0];
  CHECK(std::equal(y1.begin(), y1.end(), y2.begin()));
  c.parameters()[0].value->fill(0.f);
  CHECK_FALSE(g.parameters()[0].value->array().abs().sum() == 0.f);
}
