// fit(), evaluate() and predict() on graph models: several inputs and
// outputs, one weighted loss per output, metrics per output, callbacks.
#include "../support/test_util.hpp"

#include <cstdio>
#include <filesystem>

using namespace testutil;
using F = float;

namespace {
// Tags of a Fashion-MNIST class (0 T-shirt/top, 1 trouser, 2 pullover, 3 dress,
// 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot): upper body,
// footwear, long sleeves, worn (not a bag).
const int kTags[10][4] = {{1, 0, 0, 1}, {0, 0, 0, 1}, {1, 0, 1, 1}, {0, 0, 0, 1}, {1, 0, 1, 1},
                          {0, 1, 0, 1}, {1, 0, 1, 1}, {0, 1, 0, 1}, {0, 0, 0, 0}, {0, 1, 0, 1}};
nn::data::TensorMultiDataset<F> fashion_part(const Tensor<F>& x, const Tensor<F>& y, Index first, Index n) {
  const Index d = x.size() / x.dim(0);
  Tensor<F> xi({n, 1, 28, 28}), cat({n}), tags({n, 4});
  std::copy(x.data() + first * d, x.data() + (first + n) * d, xi.data());
  for (Index i = 0; i < n; ++i) {
    const int c = int(y[first + i]);
    cat[i] = F(c);
    for (int t = 0; t < 4; ++t) tags[i * 4 + t] = F(kTags[c][t]);
  }
  nn::data::TensorMultiDataset<F> ds;
  ds.add_input("image", std::move(xi)).add_target("category", std::move(cat)).add_target("tags", std::move(tags));
  return ds;
}
nn::Graph<F> two_heads(std::uint64_t seed) {
  nn::Graph<F> g(seed);
  auto x = g.input({1, 28, 28}, "image");
  auto h = g.add(nn::MaxPool2D<F>(2), g.add(nn::ReLU<F>(), g.add(nn::Conv2D<F>(8, 5), x)));
  h = g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(32), g.add(nn::Flatten<F>(), h)));
  g.output(g.add(nn::Dense<F>(10), h), "category");
  g.output(g.add(nn::Dense<F>(4), h), "tags");
  return g;
}
}  // namespace

TEST_CASE("a two-head model (category + tags) trains jointly on real Fashion-MNIST images, both heads learn") {
  const std::string dir = find_or_empty("fashion-mnist");
  if (dir.empty()) NN_SKIP("Fashion-MNIST not found (set NN_DATA_DIR or run datasets/download.sh)");
  auto m = nn::data::load_mnist<F>(dir);
  auto train = fashion_part(m.train_x, m.train_y, 0, 4000);
  auto test = fashion_part(m.test_x, m.test_y, 0, 1000);
  auto g = two_heads(3);
  nn::SoftmaxCrossEntropy<F> ce;
  nn::BCEWithLogits<F> bce;
  nn::Losses<F> losses;
  losses.add("category", ce, 1.0, {"accuracy"}).add("tags", bce, 0.5, {"macro_f1", "subset_accuracy"});
  nn::Adam<F> opt(g.parameters(), {2e-3});
  nn::FitOptions<F> o;
  o.epochs = 3;
  o.batch_size = 64;
  o.seed = 1;
  o.validation_split = 0.1;
  o.progress = nn::Progress::Off;
  const auto before = nn::evaluate(g, test, losses);
  const nn::History h = nn::fit(g, losses, opt, train, o);
  for (const char* k : {"loss", "category_loss", "tags_loss", "category_accuracy", "tags_macro_f1",
                        "tags_subset_accuracy", "val_loss", "val_category_loss", "val_tags_loss",
                        "val_category_accuracy", "val_tags_macro_f1"})
    CHECK_MESSAGE(h.has(k), k);
  // the total is the weighted sum of the heads' losses
  for (std::size_t e = 0; e < 3; ++e)
    CHECK(h["loss"][e] == doctest::Approx(h["category_loss"][e] + 0.5 * h["tags_loss"][e]).epsilon(1e-6));
  CHECK(h["category_loss"].back() < h["category_loss"].front());
  CHECK(h["tags_loss"].back() < h["tags_loss"].front());
  const auto after = nn::evaluate(g, test, losses);
  MESSAGE("test before: category acc " << before.at("category_accuracy") << ", tags macro F1 "
                                       << before.at("tags_macro_f1") << "; after: " << after.at("category_accuracy")
                                       << ", " << after.at("tags_macro_f1"));
  CHECK(after.at("category_accuracy") > 0.7);  // chance: 0.1
  CHECK(after.at("tags_macro_f1") > 0.85);
  CHECK(after.at("category_loss") < before.at("category_loss"));
  CHECK(after.at("tags_loss") < before.at("tags_loss"));
  // predict: one tensor per output
  const Tensor<F>& x = test.input("image");
  const auto outs = nn::predict(g, {&x});
  REQUIRE(outs.size() == 2);
  CHECK(outs[0].shape() == Shape{1000, 10});
  CHECK(outs[1].shape() == Shape{1000, 4});
}

TEST_CASE("fit on a graph: names are matched, mismatches are clear errors, a loss-free output gets no gradient") {
  nn::Graph<F> g(1);
  auto a = g.input({3}, "a"), b = g.input({2}, "b");
  auto h = g.add(nn::Dense<F>(4), g.add(nn::Concat<F>(), {a, b}));
  g.output(g.add(nn::Dense<F>(1), h), "score");
  g.output(h, "features");  // no loss: zero gradient
  nn::data::TensorMultiDataset<F> ds;
  ds.add_input("b", randn<F>({20, 2}, 1)).add_input("a", randn<F>({20, 3}, 2)).add_target("score", randn<F>({20, 1}, 3));
  nn::MSE<F> mse;
  nn::Losses<F> losses;
  losses.add("score", mse);
  nn::SGD<F> opt(g.parameters(), {0.05});
  nn::FitOptions<F> o;
  o.epochs = 30;
  o.batch_size = 5;
  o.progress = nn::Progress::Off;
  const auto h1 = nn::fit(g, losses, opt, ds, o);
  CHECK(h1["loss"].back() < h1["loss"].front());
  CHECK_FALSE(h1.has("score_loss"));  // one loss: plain keys
  nn::Losses<F> wrong_output;
  wrong_output.add("category", mse);
  CHECK_THROWS_WITH_AS(nn::fit(g, wrong_output, opt, ds, o),
                       doctest::Contains("a loss for output 'category', which the model does not have (it has 'score', 'features')"),
                       std::invalid_argument);
  nn::Losses<F> no_target;
  no_target.add("features", mse);
  CHECK_THROWS_WITH_AS(nn::fit(g, no_target, opt, ds, o), doctest::Contains("no target 'features'"),
                       std::invalid_argument);
  nn::data::TensorMultiDataset<F> renamed;
  renamed.add_input("x", randn<F>({20, 3}, 1)).add_input("b", randn<F>({20, 2}, 2)).add_target("score", randn<F>({20, 1}, 3));
  CHECK_THROWS_WITH_AS(nn::fit(g, losses, opt, renamed, o), doctest::Contains("input 'a' has no dataset input"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(losses.add("score", mse), doctest::Contains("two losses"), std::invalid_argument);
}

TEST_CASE("a one-input graph fits a Dataset like a Sequential: same history bit for bit, checkpoints and early stopping") {
  auto x = randn<F>({64, 6}, 1);
  Tensor<F> y({64});
  for (Index i = 0; i < 64; ++i) y[i] = F(x[i * 6] + x[i * 6 + 1] > 0);
  nn::data::TensorDataset<F> ds(x.clone(), y.clone());
  nn::Sequential<F> s(Shape{6}, 5);
  s.add(nn::Dense<F>(8));
  s.add(nn::ReLU<F>());
  s.add(nn::Dropout<F>(0.2));
  s.add(nn::Dense<F>(2));
  nn::Graph<F> g(5);
  auto in = g.input({6}, "features");
  g.output(g.add(nn::Dense<F>(2), g.add(nn::Dropout<F>(0.2), g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(8), in)))), "logits");
  nn::SoftmaxCrossEntropy<F> ce;
  nn::FitOptions<F> o;
  o.epochs = 4;
  o.batch_size = 8;
  o.seed = 2;
  o.validation_split = 0.25;
  o.progress = nn::Progress::Off;
  nn::Adam<F> os(s.parameters()), og(g.parameters());
  const std::string best = (std::filesystem::temp_directory_path() / ("nn_fit_graph_" + std::to_string(::getpid()) + ".nn")).string();
  auto o2 = o;
  o2.callbacks = {std::make_shared<nn::ModelCheckpoint<F>>(best),
                  std::make_shared<nn::EarlyStopping<F>>("val_loss", 10, 0.0, true)};
  const auto hs = nn::fit(s, ce, os, ds, o);
  const auto hg = nn::fit(g, ce, og, ds, o2);
  CHECK(hs["loss"] == hg["loss"]);
  CHECK(hs["val_accuracy"] == hg["val_accuracy"]);
  auto loaded = nn::load_graph<F>(best);
  CHECK(loaded.output_name(0) == "logits");
  std::remove(best.c_str());
}
