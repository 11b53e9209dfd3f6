#include "../support/test_util.hpp"

using namespace testutil;
using F = float;

namespace {
// Two Gaussian blobs per class in `dims` dimensions: linearly separable
// enough for an MLP, and as images for a convnet.
void make_blobs(Index n, Index classes, const Shape& sample, std::uint64_t seed, Tensor<F>& x, Tensor<F>& y) {
  nn::Rng rng(seed);
  x = Tensor<F>(sample.with_batch(n));
  y = Tensor<F>({n});
  const Index d = sample.size();
  Tensor<F> centers({classes, d});
  centers.fill_normal(rng, 0, 1);
  for (Index i = 0; i < n; ++i) {
    const Index c = Index(rng.below(std::uint64_t(classes)));
    y[i] = F(c);
    for (Index j = 0; j < d; ++j) x[i * d + j] = centers(c, j) + F(rng.normal(0, 0.7));
  }
}

double train_and_score(nn::Sequential<F>& model, const Tensor<F>& x, const Tensor<F>& y, int epochs, Index batch,
                       double lr) {
  nn::SoftmaxCrossEntropy<F> loss;
  nn::AdamOptions o;
  o.lr = lr;
  nn::Adam<F> opt(model.parameters(), o);
  const Index n = x.dim(0), d = x.size() / n;
  Tensor<F> xb, yb, g;
  for (int e = 0; e < epochs; ++e)
    for (Index s = 0; s < n; s += batch) {
      const Index b = std::min(batch, n - s);
      xb.resize(x.shape().tail().with_batch(b));
      yb.resize(Shape{b});
      std::copy(x.data() + s * d, x.data() + (s + b) * d, xb.data());
      std::copy(y.data() + s, y.data() + s + b, yb.data());
      model.zero_grad();
      loss.compute(model.forward(xb, true), yb, &g);
      model.backward(g);
      opt.step();
    }
  const auto& out = model.forward(x, false);
  Index correct = 0;
  for (Index i = 0; i < n; ++i) {
    Index best = 0;
    for (Index c = 1; c < out.dim(1); ++c)
      if (out(i, c) > out(i, best)) best = c;
    correct += best == Index(y[i]);
  }
  return double(correct) / double(n);
}

// All parameters, flattened, for bit-for-bit comparisons.
std::vector<F> flat_weights(nn::Sequential<F>& m) {
  std::vector<F> w;
  for (auto& p : m.parameters()) w.insert(w.end(), p.value->begin(), p.value->end());
  return w;
}

void check_identical(const std::vector<F>& a, const std::vector<F>& b) {
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(F)) == 0);
}
}  // namespace

TEST_CASE("a small MLP learns a separable problem to > 95%") {
  Tensor<F> x, y;
  make_blobs(600, 4, Shape{10}, 1, x, y);
  nn::Sequential<F> m(Shape{10}, 1);
  m.add(nn::Dense<F>(32));
  m.add(nn::ReLU<F>());
  m.add(nn::Dense<F>(4));
  CHECK(train_and_score(m, x, y, 15, 32, 1e-2) > 0.95);
}

TEST_CASE("a small convnet learns a separable problem to > 95%") {
  Tensor<F> x, y;
  make_blobs(400, 3, Shape{1, 8, 8}, 2, x, y);
  nn::Sequential<F> m(Shape{1, 8, 8}, 2);
  m.add<nn::Conv2D<F>>(8, 3, 1, nn::Padding::same());
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Dropout<F>(0.1));
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(3));
  CHECK(train_and_score(m, x, y, 10, 32, 5e-3) > 0.95);
}

TEST_CASE("shape inference names the layer index, type and both shapes") {
  nn::Sequential<F> m(Shape{1, 28, 28});
  m.add<nn::Conv2D<F>>(8, 5);
  m.add(nn::MaxPool2D<F>(2));
  CHECK(m.output_shape() == Shape{8, 12, 12});
  CHECK_THROWS_WITH_AS(m.add<nn::Conv2D<F>>(4, 13),
                       doctest::Contains("Sequential: layer 2 Conv2D(4, 13, stride 1, valid) cannot take input shape "
                                         "(N, 8, 12, 12) from layer 1 MaxPool2D(2, stride 2)"),
                       std::invalid_argument);
  CHECK(m.size() == 2);  // the failed layer was not added
  nn::Sequential<F> lazy;
  lazy.add<nn::Conv2D<F>>(3, 3);
  CHECK_THROWS_WITH_AS(lazy.forward(Tensor<F>({2, 4}), true),
                       doctest::Contains("layer 0 Conv2D(3, 3, stride 1, valid) cannot take input shape (N, 4)"),
                       std::invalid_argument);
}

TEST_CASE("Sequential rejects bad input") {
  nn::Sequential<F> m(Shape{4});
  m.add(nn::Dense<F>(2));
  CHECK_THROWS_WITH_AS(m.forward(Tensor<F>({3, 5})), doctest::Contains("expected input (N, 4) but got (3, 5)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.forward(Tensor<F>({0, 4})), doctest::Contains("empty batch"), std::invalid_argument);
  auto x = Tensor<F>({2, 4});
  x[5] = NAN;
  CHECK_THROWS_WITH_AS(m.forward(x), doctest::Contains("input element 5 is nan"), std::invalid_argument);
  nn::Sequential<F> fresh(Shape{4});
  fresh.add(nn::Dense<F>(2));
  CHECK_THROWS_AS(fresh.backward(Tensor<F>({2, 2})), std::logic_error);
  m.forward(Tensor<F>({2, 4}));
  CHECK_THROWS_WITH_AS(m.backward(Tensor<F>({2, 3})), doctest::Contains("does not match output shape (2, 2)"),
                       std::invalid_argument);
}

TEST_CASE("summary lists layers, shapes and parameter counts like Keras") {
  // The grocery blog's model: 40,453 parameters, 64 of them non-trainable.
  nn::Sequential<F> m(Shape{3, 104, 104});
  m.add(nn::ZeroPadding2D<F>(1));
  m.add<nn::Conv2D<F>>(32, 3);
  m.add(nn::BatchNorm<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Dropout<F>(0.2));
  for (int i = 0; i < 4; ++i) {
    m.add<nn::Conv2D<F>>(32, 3);
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Dropout<F>(0.2));
  }
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(64));
  m.add(nn::ReLU<F>());
  m.add(nn::Dropout<F>(0.2));
  m.add(nn::Dense<F>(5));
  const std::string s = m.summary();
  CHECK(s.find("Total params: 40,453") != std::string::npos);
  CHECK(s.find("Trainable params: 40,389") != std::string::npos);
  CHECK(s.find("Non-trainable params: 64") != std::string::npos);
  CHECK(s.find("(N, 32, 104, 104)") != std::string::npos);
  CHECK(s.find("(N, 32, 1, 1)") != std::string::npos);
  CHECK(m.output_shape() == Shape{5});
}

TEST_CASE("parameters are named by layer index, clone is deep") {
  nn::Sequential<F> m(Shape{3}, 5);
  m.add(nn::Dense<F>(4));
  m.add(nn::BatchNorm<F>());
  m.add(nn::Dense<F>(2, false));
  std::vector<std::string> names;
  for (auto& p : m.parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "2.weight"});
  CHECK(m.buffers().size() == 2);
  auto c = m.clone();
  auto x = randn<F>({4, 3}, 1);
  Tensor<F> a = m.forward(x, false).clone();
  CHECK(worst(a.data(), c.forward(x, false).data(), a.size(), 0, 0) <= 1.0);
  m.parameters()[0].value->fill(0);
  CHECK(worst(a.data(), c.forward(x, false).data(), a.size(), 0, 0) <= 1.0);
}

TEST_CASE("same seed, one thread: two training runs give identical weights") {
  nn::set_num_threads(1);
  auto run = [] {
    Tensor<F> x, y;
    make_blobs(96, 3, Shape{2, 6, 6}, 3, x, y);
    nn::Sequential<F> m(Shape{2, 6, 6}, 77);
    m.add<nn::Conv2D<F>>(4, 3);
    m.add(nn::BatchNorm<F>());
    m.add(nn::ELU<F>());
    m.add(nn::Dropout<F>(0.3));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(3));
    train_and_score(m, x, y, 3, 16, 1e-2);
    return flat_weights(m);
  };
  check_identical(run(), run());
}

TEST_CASE("training at one and at two threads gives identical weights (the governor may switch freely)") {
  // Big enough for every parallel path: conv over the batch, batch norm and
  // pooling over planes, a dense GEMM over 4e6 flops, dropout chunks.
  auto run = [](int threads) {
    nn::set_num_threads(threads);
    const bool adaptive = nn::adaptive_threads();
    nn::set_adaptive_threads(false);
    Tensor<F> x, y;
    make_blobs(64, 4, Shape{3, 16, 16}, 5, x, y);
    nn::Sequential<F> m(Shape{3, 16, 16}, 9);
    m.add<nn::Conv2D<F>>(16, 3, 1, nn::Padding::same());
    m.add(nn::BatchNorm<F>());
    m.add(nn::ReLU<F>());
    m.add<nn::Conv2D<F>>(16, 3, 1, nn::Padding::same());
    m.add(nn::ReLU<F>());
    m.add<nn::MaxPool2D<F>>(2);
    m.add(nn::Dropout<F>(0.25));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(128));
    m.add(nn::ELU<F>());
    m.add(nn::Dense<F>(4));
    train_and_score(m, x, y, 2, 32, 1e-3);
    nn::set_adaptive_threads(adaptive);
    return flat_weights(m);
  };
  const auto one = run(1), two = run(2);
  nn::set_num_threads(1);
  check_identical(one, two);
}

TEST_CASE("per-layer profiling accumulates forward and backward time for each layer") {
  nn::Sequential<F> m(Shape{1, 8, 8}, 1);
  m.add<nn::Conv2D<F>>(4, 3);
  m.add(nn::ReLU<F>());
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(2));
  m.set_profiling(true);
  auto x = randn<F>({4, 1, 8, 8}, 1);
  for (int i = 0; i < 3; ++i) {
    const auto& y = m.forward(x, true);
    m.backward(Tensor<F>(y.shape(), 1.0f));
  }
  const std::string p = m.profile();
  CHECK(p.find("0 Conv2D(4, 3, stride 1, valid)") != std::string::npos);
  CHECK(p.find("3 Dense(2)") != std::string::npos);
  CHECK(p.find("total ") != std::string::npos);
  CHECK(p.find("100.0%") == std::string::npos);  // time is split over layers
}

namespace {
// Conv + BN + ReLU, conv + ReLU, conv + BN (no ReLU), conv alone, with
// dropout and pooling between: every fusion pattern and the unfused ones.
nn::Sequential<F> fusion_model(std::uint64_t seed) {
  nn::Sequential<F> m(Shape{3, 12, 12}, seed);
  m.add<nn::Conv2D<F>>(6, 3);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Dropout<F>(0.4));
  m.add<nn::Conv2D<F>>(5, 3, 1, 1);
  m.add(nn::ReLU<F>());
  m.add<nn::Conv2D<F>>(4, 2, 1, nn::Padding::valid(), 1, false);
  m.add(nn::BatchNorm<F>());
  m.add<nn::Conv2D<F>>(3, 1);
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(4));
  m.add(nn::ReLU<F>());
  m.add(nn::Dense<F>(2));
  return m;
}
}  // namespace

TEST_CASE("eval-mode fusion (conv + batch norm + ReLU, dropout pass-through) matches the unfused layers") {
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    auto m = fusion_model(3);
    // Non-trivial running statistics and affine parameters.
    auto xt = randn<F>({8, 3, 12, 12}, 9, 2.0);
    for (int i = 0; i < 3; ++i) m.forward(xt, true);
    nn::Rng r(4);
    for (auto& p : m.parameters())
      if (p.name.find("weight") != std::string::npos && p.value->rank() == 1) p.value->fill_normal(r, 1.0, 0.3);
      else if (p.value->rank() == 1) p.value->fill_normal(r, 0.0, 0.5);
    auto x = randn<F>({5, 3, 12, 12}, 11);
    CHECK(m.fusion());
    const Tensor<F> fused = m.forward(x, false).clone();
    std::vector<Tensor<F>> fused_grads;
    m.zero_grad();
    m.backward(Tensor<F>(fused.shape(), 1.0f));  // backward after a fused forward recomputes unfused
    for (auto& p : m.parameters()) fused_grads.push_back(p.grad->clone());

    m.set_fusion(false);
    const Tensor<F> plain = m.forward(x, false).clone();
    check_close(fused, plain, 1e-5, 1e-5, "fused vs unfused eval output");
    m.zero_grad();
    m.backward(Tensor<F>(plain.shape(), 1.0f));
    std::size_t k = 0;
    for (auto& p : m.parameters()) check_close(*p.grad, fused_grads[k++], 0, 0, "gradient of " + p.name);

    CHECK_FALSE(m.clone().fusion());  // clone keeps the setting
  }
  nn::set_num_threads(1);
}

TEST_CASE("training-mode fusion (conv + ReLU) gives bit-identical outputs and gradients") {
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    nn::Sequential<F> m(Shape{3, 10, 10}, 5);
    m.add<nn::Conv2D<F>>(8, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add<nn::Conv2D<F>>(6, 3);
    m.add(nn::BatchNorm<F>());  // not fused in training: batch statistics
    m.add(nn::ReLU<F>());
    m.add<nn::Conv2D<F>>(4, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(3));
    auto u = m.clone();
    u.set_fusion(false);
    auto x = randn<F>({4, 3, 10, 10}, 2);
    const Tensor<F> a = m.forward(x, true).clone();
    const Tensor<F> b = u.forward(x, true).clone();
    CHECK(worst(a.data(), b.data(), a.size(), 0, 0) <= 1.0);  // exact
    auto dy = randn<F>(a.shape(), 3);
    m.zero_grad(), u.zero_grad();
    const Tensor<F> dxa = m.backward(dy, true).clone();
    const Tensor<F> dxb = u.backward(dy, true).clone();
    CHECK(worst(dxa.data(), dxb.data(), dxa.size(), 0, 0) <= 1.0);
    auto pa = m.parameters(), pb = u.parameters();
    for (std::size_t k = 0; k < pa.size(); ++k) check_close(*pa[k].grad, *pb[k].grad, 0, 0, "gradient of " + pa[k].name);
  }
  nn::set_num_threads(1);
}

TEST_CASE("eval-mode fusion: dropout is the identity, and a lone conv output is unchanged") {
  nn::Sequential<F> m(Shape{2, 5, 5}, 1);
  m.add(nn::Dropout<F>(0.5));
  m.add<nn::Conv2D<F>>(3, 3);
  m.add(nn::Dropout<F>(0.5));
  auto x = randn<F>({2, 2, 5, 5}, 3);
  const Tensor<F> fused = m.forward(x, false).clone();
  m.set_fusion(false);
  check_close(fused, m.forward(x, false), 0, 0, "dropout in eval mode");
}

namespace {
// A ReLU that counts its backward calls: the fold must skip them.
struct CountingReLU : nn::ReLU<F> {
  static inline int backward_calls = 0;
  std::unique_ptr<nn::Layer<F>> clone() const override { return std::make_unique<CountingReLU>(*this); }

 protected:
  const Tensor<F>& do_backward(const Tensor<F>& x, const Tensor<F>& y, const Tensor<F>& dy) override {
    ++backward_calls;
    return nn::ReLU<F>::do_backward(x, y, dy);
  }
};
}  // namespace

TEST_CASE("a max pool after a ReLU folds the ReLU's backward: bit-identical gradients, the ReLU's backward skipped") {
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (bool eval_forward : {false, true}) {
      INFO("threads " << threads << " eval forward " << eval_forward);
      nn::Sequential<F> m(Shape{3, 11, 11}, 7);
      m.add(CountingReLU());  // first layer: folded when the input gradient is wanted, else skipped
      m.add(nn::MaxPool2D<F>(2));
      m.add<nn::Conv2D<F>>(6, 3, 1, 1);
      m.add(CountingReLU());  // fused into the conv's forward, then folded into the pool's backward
      m.add(nn::MaxPool2D<F>(3, 2, 1));  // overlapping windows: gradients add up at shared maxima
      m.add<nn::Conv2D<F>>(4, 1);
      m.add(CountingReLU());  // not before a pool: its own backward
      m.add(nn::Flatten<F>());
      m.add(nn::Dense<F>(3));
      auto u = m.clone();
      u.set_fusion(false);
      auto x = randn<F>({4, 3, 11, 11}, 8);  // half negative: the masks matter
      const Tensor<F> a = m.forward(x, !eval_forward).clone();
      const Tensor<F> b = u.forward(x, !eval_forward).clone();
      auto dy = randn<F>(a.shape(), 9);
      for (bool want_dx : {true, false}) {
        m.zero_grad(), u.zero_grad();
        CountingReLU::backward_calls = 0;
        const Tensor<F> dxa = m.backward(dy, want_dx).clone();
        // without dx the first ReLU -> pool pair needs no backward at all (no parameters, nothing upstream)
        CHECK(CountingReLU::backward_calls == 1);
        CountingReLU::backward_calls = 0;
        const Tensor<F> dxb = u.backward(dy, want_dx).clone();
        CHECK(CountingReLU::backward_calls == 3);  // fusion off: every ReLU runs its backward
        REQUIRE(dxa.size() == dxb.size());
        if (want_dx) CHECK(worst(dxa.data(), dxb.data(), dxa.size(), 0, 0) <= 1.0);
        auto pa = m.parameters(), pb = u.parameters();
        for (std::size_t k = 0; k < pa.size(); ++k)
          check_close(*pa[k].grad, *pb[k].grad, 0, 0, "gradient of " + pa[k].name);
      }
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("conv + ReLU + max pool fusion: the same outputs and gradients without the conv's full-size output") {
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (bool eval_forward : {false, true}) {
      INFO("threads " << threads << " eval forward " << eval_forward);
      nn::Sequential<F> m(Shape{1, 20, 20}, 11);
      m.add<nn::Conv2D<F>>(8, 5);  // first layer: no input gradient, the scattered weight gradient
      m.add(nn::ReLU<F>());
      m.add(nn::MaxPool2D<F>(2));
      m.add<nn::Conv2D<F>>(6, 3);  // needs its input gradient: the unfused kernels behind the fused call
      m.add(nn::ReLU<F>());
      m.add(nn::MaxPool2D<F>(2));
      m.add(nn::Flatten<F>());
      m.add(nn::Dense<F>(3));
      auto u = m.clone();
      u.set_fusion(false);
      auto x = randn<F>({5, 1, 20, 20}, 12);
      const Tensor<F> a = m.forward(x, !eval_forward).clone();
      const Tensor<F> b = u.forward(x, !eval_forward).clone();
      CHECK(worst(a.data(), b.data(), a.size(), 0, 0) <= 1.0);  // exact
      auto dy = randn<F>(a.shape(), 13);
      m.zero_grad(), u.zero_grad();
      m.backward(dy), u.backward(dy);
      auto pa = m.parameters(), pb = u.parameters();
      for (std::size_t k = 0; k < pa.size(); ++k)  // the first conv's bias: summed in another order
        check_close(*pa[k].grad, *pb[k].grad, pa[k].name == "0.bias" ? 1e-5 : 0, pa[k].name == "0.bias" ? 1e-5 : 0,
                    "gradient of " + pa[k].name);
      // a training step changes the weights the same way: train again, compare the outputs
      for (std::size_t k = 0; k < pa.size(); ++k) {
        pa[k].value->copy_from(*pb[k].value);
        for (Index i = 0; i < pa[k].value->size(); ++i) (*pa[k].value)[i] -= 0.01f * (*pb[k].grad)[i];
        pb[k].value->copy_from(*pa[k].value);
      }
      const Tensor<F> a2 = m.forward(x, true).clone();
      CHECK(worst(a2.data(), u.forward(x, true).data(), a2.size(), 0, 0) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("max-pool fusion routines reject a pool that does not fit and a backward without argmax") {
  nn::Sequential<F> m(Shape{1, 8, 8}, 3);
  auto& conv = m.add<nn::Conv2D<F>>(4, 3);
  m.add(nn::ReLU<F>());
  auto& pool = m.add(nn::MaxPool2D<F>(2));
  m.forward(randn<F>({2, 1, 8, 8}, 4), true);
  auto x = randn<F>({2, 1, 8, 8}, 5);
  // a pool sized for another batch
  CHECK_THROWS_WITH_AS(conv.forward_pooled(x, nn::Epilogue<F>{}, pool.pooled_output(3, true)),
                       doctest::Contains("cannot follow output"), std::invalid_argument);
  const auto p = pool.pooled_output(2, false);  // eval mode: no argmax
  conv.forward_pooled(x, nn::Epilogue<F>{}, p);
  CHECK_THROWS_WITH_AS(conv.backward_pooled(x, Tensor<F>(p.y->shape()), p, true), doctest::Contains("no argmax"),
                       std::logic_error);
  // the plan names the fused step
  CHECK(m.plan(true).find("conv+relu+maxpool") != std::string::npos);
  m.set_fusion(false);
  CHECK(m.plan(true).find("conv+relu+maxpool") == std::string::npos);
}

// The plan records, per convolution, the kernels conv_select.hpp chooses;
// plan() and profile() print them; a new policy makes a new plan.
TEST_CASE("the plan and the profile name the convolution kernels, on either SIMD path") {
  namespace k = nn::kernels;
  const k::Simd before = k::simd();
  for (k::Simd path : {k::Simd::Auto, k::Simd::Portable}) {
    k::set_simd(path);
    CAPTURE(int(path));
    nn::Sequential<F> m(Shape{1, 28, 28}, 3);  // W1's convolutions
    auto& c1 = m.add<nn::Conv2D<F>>(32, 5);
    m.add(nn::ReLU<F>());
    auto& p1 = m.add(nn::MaxPool2D<F>(2));
    auto& c2 = m.add<nn::Conv2D<F>>(64, 5);
    m.add(nn::ReLU<F>());
    auto& p2 = m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(10));
    const auto first = k::choose_conv<F>(c1.geometry(), &p1.geometry(), false);
    const auto second = k::choose_conv<F>(c2.geometry(), &p2.geometry(), true);
    const std::string plan = m.plan(true);
    CHECK(plan.find("[" + first.str(true, false) + "]") != std::string::npos);
    CHECK(plan.find("[" + second.str(true, true) + "]") != std::string::npos);
    if (k::avx512_enabled()) {
      CHECK(first.str(true, false) == "forward direct; dW direct (from the pool's gradient)");
      CHECK(second.str(true, true) == "forward winograd; backward winograd");
    } else {
      CHECK(first.str(true, false) == "forward im2col + pool; dW im2col");
      CHECK(second.str(true, true) == "forward im2col + pool; dW im2col; dX im2col");
    }
    CHECK(m.plan(false).find("[" + second.str(false) + "]") != std::string::npos);
    m.set_profiling(true);
    auto x = randn<F>({2, 1, 28, 28}, 1);
    const auto& y = m.forward(x, true);
    m.backward(Tensor<F>(y.shape(), 1.0f));
    CHECK(m.profile().find(second.str(true, true)) != std::string::npos);
    // the policy changes: the next plan (and the kernels) follow
    k::set_conv_algorithm(k::ConvAlgorithm::Im2col);
    CHECK(m.plan(true).find("[forward im2col + pool; dW im2col; dX im2col]") != std::string::npos);
    k::set_conv_algorithm(k::ConvAlgorithm::Auto);
  }
  k::set_simd(before);
}
