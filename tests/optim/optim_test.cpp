#include "../support/test_util.hpp"

using namespace testutil;
using D = double;

namespace {
// Ten steps on the fixture's problem: y = x W^T + b, MSE loss — the same
// sequence PyTorch ran in make_golden.py.
template <class Make>
void run_golden(const std::string& name, Make make) {
  Golden g("optimizers");
  nn::Dense<D> lin(3);
  nn::Rng rng(0);
  lin.build(Shape{4}, rng);
  lin.weight().copy_from(g["W0"]);
  lin.bias().copy_from(g["b0"]);
  auto opt = make(lin.parameters());
  nn::MSE<D> mse;
  Tensor<D> grad;
  for (int step = 0; step < 10; ++step) {
    opt.zero_grad();
    const auto& y = lin.forward(g["X"], true);
    const double l = mse.compute(y, g["Y"], &grad);
    CHECK(l == doctest::Approx(g[name + ".losses"][step]).epsilon(1e-10));
    lin.backward(g["X"], y, grad);
    opt.step();
  }
  check_close(lin.weight(), g[name + ".W"], 1e-12, 1e-10, name + " W");
  check_close(lin.bias(), g[name + ".b"], 1e-12, 1e-10, name + " b");
}
}  // namespace

TEST_CASE("optimizers follow PyTorch for ten steps") {
  using P = std::vector<nn::Param<D>>;
  run_golden("sgd_momentum", [](P p) { return nn::SGD<D>(p, {0.05, 0.9, 0.0, 0.01, false}); });
  run_golden("sgd_nesterov", [](P p) { return nn::SGD<D>(p, {0.05, 0.9, 0.0, 0.0, true}); });
  run_golden("adam", [](P p) {
    nn::AdamOptions o;
    o.lr = 0.02, o.weight_decay = 0.01;
    return nn::Adam<D>(p, o);
  });
  run_golden("adamw", [](P p) {
    nn::AdamOptions o;
    o.lr = 0.02, o.weight_decay = 0.1;
    return nn::AdamW<D>(p, o);
  });
  run_golden("rmsprop", [](P p) { return nn::RMSprop<D>(p, {0.01}); });
  run_golden("rmsprop_centered_momentum", [](P p) {
    nn::RMSpropOptions o;
    o.lr = 0.01, o.alpha = 0.9, o.momentum = 0.5, o.centered = true, o.weight_decay = 0.01;
    return nn::RMSprop<D>(p, o);
  });
}

TEST_CASE("optimizer options are validated") {
  nn::Dense<D> lin(2);
  nn::Rng rng(0);
  lin.build(Shape{2}, rng);
  CHECK_THROWS_AS(nn::SGD<D>(lin.parameters(), {0.1, 0.0, 0.0, 0.0, true}), std::invalid_argument);
  nn::AdamOptions bad;
  bad.beta1 = 1.0;
  CHECK_THROWS_AS(nn::Adam<D>(lin.parameters(), bad), std::invalid_argument);
  nn::SGD<D> sgd(lin.parameters());
  CHECK_THROWS_AS(sgd.set_lr(-1), std::invalid_argument);
  nn::Adam<D> adam(lin.parameters());
  CHECK(adam.state().size() == 4);  // exp_avg and exp_avg_sq for weight and bias
}

TEST_CASE("learning-rate schedules") {
  CHECK(nn::StepLR(3, 0.5).lr_at(0, 1.0) == 1.0);
  CHECK(nn::StepLR(3, 0.5).lr_at(5, 1.0) == 0.5);
  CHECK(nn::StepLR(3, 0.5).lr_at(6, 1.0) == 0.25);
  CHECK(nn::ExponentialLR(0.9).lr_at(2, 1.0) == doctest::Approx(0.81));
  nn::CosineLR cos(10, 0.1);
  CHECK(cos.lr_at(0, 1.0) == doctest::Approx(1.0));
  CHECK(cos.lr_at(5, 1.0) == doctest::Approx(0.55));
  CHECK(cos.lr_at(10, 1.0) == doctest::Approx(0.1));
  CHECK(cos.lr_at(20, 1.0) == doctest::Approx(0.1));

  nn::Dense<D> lin(1);
  nn::Rng rng(0);
  lin.build(Shape{1}, rng);
  nn::SGD<D> opt(lin.parameters(), {1.0});
  nn::ReduceLROnPlateau plateau(nn::ReduceLROnPlateau::Min, 0.5, /*patience=*/2);
  std::vector<double> metric{1.0, 0.9, 0.95, 0.92, 0.91, 0.99, 0.98, 0.97};
  std::vector<double> lrs;
  for (double m : metric) {
    plateau.step(opt, m);
    lrs.push_back(opt.lr());
  }
  // best 0.9 at epoch 1; epochs 2, 3, 4 are bad -> reduce after the third
  CHECK(lrs == std::vector<double>{1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25});
}
