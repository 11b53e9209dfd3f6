// Layers against PyTorch golden values (tests/golden/make_golden.py), in
// double (tight) and float (loose).
#include "../support/test_util.hpp"

using namespace testutil;

TEST_CASE_TEMPLATE("Conv2D matches PyTorch: stride, padding, dilation", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 2e-4 : 1e-10;
  Golden g("conv2d");
  for (std::string name : {"basic", "stride2_pad1", "dilation2_pad2", "stride21_pad01"}) {
    CAPTURE(name);
    const auto& cfg = g[name + ".cfg"];
    auto x = g.as<T>(name + ".x"), w = g.as<T>(name + ".w");
    nn::Conv2D<T> conv(w.dim(0), {w.dim(2), w.dim(3)}, {Index(cfg[0]), Index(cfg[1])},
                       nn::Padding(Index(cfg[2]), Index(cfg[3])), {Index(cfg[4]), Index(cfg[5])});
    nn::Rng rng(0);
    conv.build(x.shape().tail(), rng);
    conv.weight().copy_from(w);
    conv.bias().copy_from(g.as<T>(name + ".b"));
    const auto& y = conv.forward(x, true);
    check_close(y, g[name + ".y"], tol, tol, name + " y");
    conv.zero_grad();
    const auto& dx = conv.backward(x, y, g.as<T>(name + ".dy"));
    check_close(dx, g[name + ".dx"], tol, tol, name + " dx");
    check_close(*conv.parameters()[0].grad, g[name + ".dw"], tol * 10, tol, name + " dw");
    check_close(*conv.parameters()[1].grad, g[name + ".db"], tol * 10, tol, name + " db");
  }
}

TEST_CASE_TEMPLATE("MaxPool2D matches PyTorch", T, double, float) {
  Golden g("maxpool2d");
  for (std::string name : {"k2s2", "k3s2p1", "k3s1"}) {
    CAPTURE(name);
    const auto& cfg = g[name + ".cfg"];
    nn::MaxPool2D<T> pool{Index(cfg[0]), Index(cfg[1]), Index(cfg[2])};
    auto x = g.as<T>(name + ".x");
    nn::Rng rng(0);
    pool.build(x.shape().tail(), rng);
    const auto& y = pool.forward(x, true);
    check_close(y, g[name + ".y"], 1e-7, 1e-7, name + " y");
    const auto& dx = pool.backward(x, y, g.as<T>(name + ".dy"));
    check_close(dx, g[name + ".dx"], 1e-6, 1e-6, name + " dx");
  }
}

TEST_CASE_TEMPLATE("BatchNorm matches PyTorch in training and eval, with running statistics", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 1e-4 : 1e-10;
  Golden g("batchnorm");
  for (std::string name : {"conv", "dense"}) {
    CAPTURE(name);
    auto x = g.as<T>(name + ".x");
    nn::BatchNorm<T> bn;  // PyTorch defaults: momentum 0.1, eps 1e-5
    nn::Rng rng(0);
    bn.build(x.shape().tail(), rng);
    bn.parameters()[0].value->copy_from(g.as<T>(name + ".gamma"));
    bn.parameters()[1].value->copy_from(g.as<T>(name + ".beta"));
    bn.zero_grad();
    const auto& y = bn.forward(x, true);
    check_close(y, g[name + ".y_train"], tol, tol, name + " y_train");
    const auto& dx = bn.backward(x, y, g.as<T>(name + ".dy"));
    check_close(dx, g[name + ".dx"], tol, tol, name + " dx");
    check_close(*bn.parameters()[0].grad, g[name + ".dgamma"], tol, tol, name + " dgamma");
    check_close(*bn.parameters()[1].grad, g[name + ".dbeta"], tol, tol, name + " dbeta");
    bn.forward(g.as<T>(name + ".x2"), true);
    check_close(bn.running_mean(), g[name + ".running_mean"], tol, tol, name + " running_mean");
    check_close(bn.running_var(), g[name + ".running_var"], tol, tol, name + " running_var");
    check_close(bn.forward(g.as<T>(name + ".x3"), false), g[name + ".y_eval"], tol, tol, name + " y_eval");
  }
}

TEST_CASE_TEMPLATE("ELU and SELU match PyTorch", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
  Golden g("activations");
  auto x = g.as<T>("x");
  nn::Rng rng(0);
  nn::ELU<T> elu1(1.0), elu05(0.5);
  nn::SELU<T> selu;
  std::vector<std::pair<std::string, nn::Layer<T>*>> cases{{"elu1", &elu1}, {"elu05", &elu05}, {"selu", &selu}};
  for (auto& [name, layer] : cases) {
    layer->build(x.shape().tail(), rng);
    const auto& y = layer->forward(x, true);
    check_close(y, g[name + ".y"], tol, tol, name + " y");
    check_close(layer->backward(x, y, g.as<T>(name + ".dy")), g[name + ".dx"], tol, tol, name + " dx");
  }
}

TEST_CASE_TEMPLATE("a residual block with a concat matches PyTorch (graph, training mode, fused and unfused)", T, double,
                   float) {
  const double tol = std::is_same<T, float>::value ? 2e-4 : 1e-10;
  Golden gd("graph");
  const std::string p = "residual_concat.";
  for (bool fuse : {true, false}) {
    CAPTURE(fuse);
    nn::Graph<T> g(1);
    auto x = g.input({3, 6, 6}, "x");
    auto a = g.add(nn::ReLU<T>(), g.add(nn::Conv2D<T>(4, 3, 1, 1), x, "conv_a"));
    auto b = g.add(nn::Conv2D<T>(2, 1), x, "conv_b");
    auto c = g.add(nn::Concat<T>(0), {a, b});
    auto r = g.add(nn::BatchNorm<T>(), g.add(nn::Conv2D<T>(3, 3, 1, 1), c, "conv_c"), "bn");
    g.output(g.add(nn::ReLU<T>(), g.add(nn::Add<T>(), {r, x})));
    g.set_fusion(fuse);
    const char* names[] = {"wa", "ba", "wb", "bb", "wc", "bc", "gamma", "beta"};
    auto params = g.parameters();
    REQUIRE(params.size() == 8);
    for (std::size_t k = 0; k < 8; ++k) params[k].value->copy_from(gd.as<T>(p + names[k]));
    const auto xin = gd.as<T>(p + "x");
    const Tensor<T>& y = g.forward(xin, true);
    check_close(y, gd[p + "y"], tol, tol, "y");
    g.zero_grad();
    const Tensor<T>& dx = g.backward(gd.as<T>(p + "dy"), true);
    check_close(dx, gd[p + "dx"], tol * 10, tol, "dx");
    for (std::size_t k = 0; k < 8; ++k)
      check_close(*params[k].grad, gd[p + "d" + names[k]], tol * 10, tol, std::string("d") + names[k]);
  }
}

TEST_CASE_TEMPLATE("Upsample2D (nearest, bilinear) matches PyTorch's interpolate", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
  Golden g("decoder");
  for (std::string mode : {"nearest", "bilinear"})
    for (std::string sc : {"2x2", "3x2"}) {
      const std::string name = "up_" + mode + "_" + sc;
      CAPTURE(name);
      const auto& cfg = g[name + ".cfg"];
      nn::Upsample2D<T> up({Index(cfg[0]), Index(cfg[1])},
                           mode == "nearest" ? nn::Upsample2D<T>::Mode::Nearest : nn::Upsample2D<T>::Mode::Bilinear);
      auto x = g.as<T>(name + ".x");
      nn::Rng rng(0);
      up.build(x.shape().tail(), rng);
      const auto& y = up.forward(x, true);
      check_close(y, g[name + ".y"], tol, tol, name + " y");
      check_close(up.backward(x, y, g.as<T>(name + ".dy")), g[name + ".dx"], tol, tol, name + " dx");
    }
}

TEST_CASE_TEMPLATE("Conv2DTranspose matches PyTorch: stride, padding, output padding, dilation", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 2e-4 : 1e-10;
  Golden g("decoder");
  for (std::string name : {"k3s1", "k3s2p1op1", "k2s2", "k3s21p10d2"}) {
    CAPTURE(name);
    const std::string p = "convt_" + name + ".";
    const auto& c = g[p + "cfg"];
    auto x = g.as<T>(p + "x"), w = g.as<T>(p + "w");
    nn::Conv2DTranspose<T> ct(w.dim(1), {Index(c[0]), Index(c[1])}, {Index(c[2]), Index(c[3])},
                              {Index(c[4]), Index(c[5])}, {Index(c[6]), Index(c[7])}, {Index(c[8]), Index(c[9])});
    nn::Rng rng(0);
    ct.build(x.shape().tail(), rng);
    ct.weight().copy_from(w);
    ct.bias().copy_from(g.as<T>(p + "b"));
    const auto& y = ct.forward(x, true);
    check_close(y, g[p + "y"], tol, tol, name + " y");
    ct.zero_grad();
    check_close(ct.backward(x, y, g.as<T>(p + "dy")), g[p + "dx"], tol * 10, tol, name + " dx");
    check_close(*ct.parameters()[0].grad, g[p + "dw"], tol * 10, tol, name + " dw");
    check_close(*ct.parameters()[1].grad, g[p + "db"], tol * 10, tol, name + " db");
  }
}

TEST_CASE_TEMPLATE("MaskedSoftmaxCrossEntropy matches PyTorch's cross-entropy on -inf-masked logits", T, double, float) {
  const double tol = std::is_same<T, float>::value ? 1e-5 : 1e-12;
  Golden g("decoder");
  nn::MaskedSoftmaxCrossEntropy<T> loss;
  Tensor<T> grad;
  const T l = loss.compute(g.as<T>("masked_ce.z"), g.as<T>("masked_ce.t"), &grad);
  CHECK(double(l) == doctest::Approx(g["masked_ce.loss"][0]).epsilon(tol));
  check_close(grad, g["masked_ce.dz"], tol, tol, "masked CE gradient");
}
