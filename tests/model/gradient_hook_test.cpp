// Model::set_gradient_hook: during backward, each layer is reported once, as
// soon as its parameter gradients are final (what a data-parallel runtime
// relies on to start averaging them early), through fused plans and shared
// layers; Model::layers() lists the layers parameters() covers.
#include "../support/test_util.hpp"

#include <map>

using namespace testutil;
using D = double;

namespace {
// Runs forward + backward with a hook that copies each reported layer's
// gradients at the moment it is reported; checks every layer with
// parameters is reported exactly once and that the copies equal the
// gradients after backward. Returns the order of reports.
std::vector<nn::Layer<D>*> check_hook(nn::Model<D>& m, const std::vector<const Tensor<D>*>& xs) {
  std::vector<nn::Layer<D>*> order;
  std::map<nn::Layer<D>*, std::vector<Tensor<D>>> at_report;
  m.set_gradient_hook([&](nn::Layer<D>& l) {
    order.push_back(&l);
    auto& copies = at_report[&l];
    for (auto& p : l.parameters()) copies.push_back(p.grad->clone());
  });
  m.zero_grad();
  const auto& ys = m.forward(xs, true);
  std::vector<Tensor<D>> dys;
  for (std::size_t i = 0; i < ys.size(); ++i) dys.push_back(randn(ys[i]->shape(), 50 + i));
  std::vector<const Tensor<D>*> dptr;
  for (auto& d : dys) dptr.push_back(&d);
  m.backward(dptr);
  m.set_gradient_hook({});
  const auto layers = m.layers();
  std::size_t with_params = 0;
  for (nn::Layer<D>* l : layers) {
    CAPTURE(l->describe());
    CHECK(std::count(order.begin(), order.end(), l) == 1);
    auto params = l->parameters();
    if (!params.empty()) ++with_params;
    const auto& copies = at_report[l];
    REQUIRE(copies.size() == params.size());
    for (std::size_t k = 0; k < params.size(); ++k) {
      CHECK(params[k].grad->array().abs().sum() > 0);  // the test means something: gradients arrived
      CHECK((copies[k].array() == params[k].grad->array()).all());
    }
  }
  CHECK(order.size() == layers.size());
  CHECK(with_params > 0);
  // layers() covers parameters() in order
  std::vector<nn::Param<D>> from_layers;
  for (nn::Layer<D>* l : layers)
    for (auto& p : l->parameters()) from_layers.push_back(p);
  const auto all = m.parameters();
  REQUIRE(all.size() == from_layers.size());
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].grad == from_layers[i].grad);
  return order;
}
}  // namespace

TEST_CASE("gradient hook: a Sequential reports each layer once, last layer first, fused or not") {
  for (bool fuse : {true, false}) {
    CAPTURE(fuse);
    nn::Sequential<D> m({1, 8, 8}, 3);
    m.add(nn::Conv2D<D>(3, 3, 1, 1));  // Conv + ReLU + MaxPool: one fused step
    m.add(nn::ReLU<D>());
    m.add(nn::MaxPool2D<D>(2));
    m.add(nn::Conv2D<D>(4, 3, 1, 1));
    m.add(nn::BatchNorm<D>());
    m.add(nn::ReLU<D>());
    m.add(nn::Flatten<D>());
    m.add(nn::Dense<D>(5));
    m.set_fusion(fuse);
    const auto x = randn({2, 1, 8, 8}, 1);
    const auto order = check_hook(m, {&x});
    const auto layers = m.layers();
    REQUIRE(order.size() == layers.size());
    CHECK(std::equal(order.begin(), order.end(), layers.rbegin()));  // backward order
  }
}

TEST_CASE("gradient hook: a Graph reports a shared layer once, after all of its calls") {
  nn::Graph<D> g(7);
  auto a = g.input({4}, "a"), b = g.input({4}, "b");
  auto fc = g.share(nn::Dense<D>(3), "fc");
  auto ha = g.add(nn::Tanh<D>(), g.add(fc, a));
  auto hb = g.add(nn::Tanh<D>(), g.add(fc, b));
  auto head = g.add(nn::Dense<D>(2), g.add(nn::Concat<D>(), {ha, hb}), "head");
  g.output(head, "out");
  g.output(g.add(nn::Dense<D>(1), ha, "aux"), "aux");
  const auto xa = randn({3, 4}, 2), xb = randn({3, 4}, 3);
  const auto order = check_hook(g, {&xa, &xb});
  nn::Layer<D>* shared = &g.layer(0);
  CHECK(order.back() == shared);  // gathered from its replicas after the graph's backward
}

TEST_CASE("gradient hook: every backward reports again, an empty hook is removed") {
  nn::Sequential<D> m({3}, 1);
  m.add(nn::Dense<D>(2));
  m.add(nn::Dense<D>(2));
  int calls = 0;
  m.set_gradient_hook([&](nn::Layer<D>&) { ++calls; });
  const auto x = randn({2, 3}, 4);
  Tensor<D> dy({2, 2}, 1.0);
  for (int i = 0; i < 3; ++i) {
    m.forward(x, true);
    m.backward(dy);
  }
  CHECK(calls == 6);
  m.set_gradient_hook({});
  m.forward(x, true);
  m.backward(dy);
  CHECK(calls == 6);
}
