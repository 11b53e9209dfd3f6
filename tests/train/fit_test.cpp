#include "../support/test_util.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace testutil;
using F = float;
namespace fs = std::filesystem;

namespace {
// Gaussian blobs as 1x6x6 images, 3 classes.
nn::data::TensorDataset<F> blobs(Index n, std::uint64_t seed) {
  nn::Rng rng(seed);
  Tensor<F> x({n, 1, 6, 6}), y({n});
  Tensor<F> centers({3, 36});
  nn::Rng crng(1234);
  centers.fill_normal(crng, 0, 1);
  for (Index i = 0; i < n; ++i) {
    const Index c = Index(rng.below(3));
    y[i] = F(c);
    for (Index j = 0; j < 36; ++j) x[i * 36 + j] = centers(c, j) + F(rng.normal(0, 0.8));
  }
  return nn::data::TensorDataset<F>(std::move(x), std::move(y), {"a", "b", "c"});
}
nn::Sequential<F> small_net(std::uint64_t seed) {
  nn::Sequential<F> m(Shape{1, 6, 6}, seed);
  m.add<nn::Conv2D<F>>(4, 3);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::Dropout<F>(0.2));
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(3));
  return m;
}
std::string tmp(const std::string& n) { return (fs::temp_directory_path() / ("nn_fit_" + std::to_string(::getpid()) + "_" + n)).string(); }
std::vector<F> weights(nn::Sequential<F>& m) {
  std::vector<F> w;
  for (auto& p : m.parameters()) w.insert(w.end(), p.value->begin(), p.value->end());
  for (auto& b : m.buffers()) w.insert(w.end(), b.second->begin(), b.second->end());
  return w;
}
}  // namespace

TEST_CASE("fit learns, records history for train and validation, evaluate and predict agree") {
  nn::set_num_threads(1);
  auto train = blobs(300, 1), test = blobs(100, 2);
  auto m = small_net(3);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::Adam<F> opt(m.parameters(), {0.01});
  nn::FitOptions<F> o;
  o.epochs = 4, o.batch_size = 32, o.seed = 5, o.validation_split = 0.2, o.progress = nn::Progress::Off;
  o.metrics = {"accuracy", "top2_accuracy"};
  auto h = nn::fit(m, loss, opt, train, o);
  CHECK(h.epochs() == 4);
  for (const char* k : {"epoch", "loss", "accuracy", "top2_accuracy", "val_loss", "val_accuracy", "val_top2_accuracy", "lr",
                        "seconds", "images_per_second"})
    CHECK_MESSAGE(h.has(k), k);
  CHECK(h["loss"].back() < h["loss"].front());
  CHECK(h.last("val_accuracy") > 0.9);
  auto r = nn::evaluate(m, test, loss, {"accuracy"});
  CHECK(r.at("accuracy") > 0.9);
  auto logits = nn::predict(m, test.inputs(), 17);
  nn::ConfusionMatrix cm(3);
  cm.add_batch(logits, test.targets());
  CHECK(cm.accuracy() == doctest::Approx(r.at("accuracy")));
  CHECK(h.csv().rfind("epoch,loss,accuracy,top2_accuracy,val_loss", 0) == 0);
}

TEST_CASE("resuming from a checkpoint gives the same weights as an uninterrupted run (1 thread)") {
  nn::set_num_threads(1);
  auto train = blobs(200, 7);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::FitOptions<F> o;
  o.epochs = 4, o.batch_size = 16, o.seed = 11, o.progress = nn::Progress::Off;
  o.augment.translate = 1, o.augment.hflip = true;

  auto a = small_net(3);
  nn::Adam<F> opt_a(a.parameters(), {0.01});
  nn::fit(a, loss, opt_a, train, o);

  const std::string ck = tmp("resume.nn");
  auto b = small_net(3);
  nn::Adam<F> opt_b(b.parameters(), {0.01});
  auto o2 = o;
  o2.epochs = 2;
  o2.callbacks = {std::make_shared<nn::ModelCheckpoint<F>>("", ck)};
  nn::fit(b, loss, opt_b, train, o2);

  auto c = nn::load_model<F>(ck);
  nn::Adam<F> opt_c(c.parameters(), {0.5});  // lr and state come from the file
  const int next = nn::load_training_state(ck, c, opt_c);
  CHECK(next == 2);
  CHECK(opt_c.lr() == doctest::Approx(0.01));
  auto o3 = o;
  o3.initial_epoch = next;
  nn::fit(c, loss, opt_c, train, o3);
  const auto wa = weights(a), wc = weights(c);
  REQUIRE(wa.size() == wc.size());
  CHECK(std::memcmp(wa.data(), wc.data(), wa.size() * sizeof(F)) == 0);
  std::remove(ck.c_str());
}

TEST_CASE("early stopping stops and restores the best weights, checkpoints keep the best") {
  nn::set_num_threads(1);
  auto train = blobs(120, 3);
  auto m = small_net(1);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::SGD<F> opt(m.parameters(), {0.05});
  // min_delta so large that only the first epoch counts as an improvement
  auto es = std::make_shared<nn::EarlyStopping<F>>("val_loss", 2, 1e9, true);
  const std::string best = tmp("best.nn"), csv = tmp("hist.csv");
  std::vector<double> seen;
  int batches = 0;
  nn::FitOptions<F> o;
  o.epochs = 40, o.batch_size = 16, o.seed = 2, o.validation_split = 0.25, o.progress = nn::Progress::Off;
  o.callbacks = {es, std::make_shared<nn::ModelCheckpoint<F>>(best), std::make_shared<nn::CSVLogger<F>>(csv),
                 std::make_shared<nn::LambdaCallback<F>>([&](nn::TrainContext<F>&) { ++batches; },
                                                        [&](nn::TrainContext<F>& c) { seen.push_back(c.logs.at("val_loss")); })};
  auto h = nn::fit(m, loss, opt, train, o);
  CHECK(h.epochs() == 3);
  CHECK(h.stop_reason.find("early stopping") != std::string::npos);
  CHECK(int(seen.size()) == h.epochs());
  CHECK(batches > 0);
  CHECK(es->best_epoch() == 0);
  // the restored weights are epoch 1's; the best checkpoint has the lowest validation loss
  auto loaded = nn::load_model<F>(best);
  auto val = nn::data::Subset<F>(train, nn::data::split_indices(train.size(), {0.75, 0.25}, nn::data::mix_seed(2, 0xFA11))[1]);
  const double restored = nn::evaluate(m, val, loss).at("loss");
  CHECK(restored == doctest::Approx(h["val_loss"][0]).epsilon(1e-4));
  const auto& vl = h["val_loss"];
  CHECK(nn::evaluate(loaded, val, loss).at("loss") == doctest::Approx(*std::min_element(vl.begin(), vl.end())).epsilon(1e-4));
  std::ifstream in(csv);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) ++rows;
  CHECK(rows == h.epochs() + 1);
  std::remove(best.c_str());
  std::remove(csv.c_str());
}

TEST_CASE("learning-rate schedule and reduce-on-plateau callbacks set the optimizer's rate") {
  auto train = blobs(64, 4);
  auto m = small_net(1);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::SGD<F> opt(m.parameters(), {0.1});
  nn::FitOptions<F> o;
  o.epochs = 4, o.batch_size = 32, o.progress = nn::Progress::Off;
  o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::StepLR>(2, 0.5), 0.1)};
  auto h = nn::fit(m, loss, opt, train, o);
  CHECK(h["lr"] == std::vector<double>{0.1, 0.1, 0.05, 0.05});
  nn::SGD<F> opt2(m.parameters(), {0.1});
  o.callbacks = {std::make_shared<nn::ReduceLROnPlateauCallback<F>>("loss", 0.5, 0)};
  o.epochs = 3;
  nn::fit(m, loss, opt2, train, o);  // patience 0: any epoch without improvement halves it
  CHECK(opt2.lr() <= 0.1);
}

TEST_CASE("WarmupCosine sets the rate of every step: linear warm-up, then cosine decay") {
  auto train = blobs(64, 4);
  auto m = small_net(1);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::SGD<F> opt(m.parameters(), {0.5});
  std::vector<double> used;  // the lr of each step, seen before WarmupCosine sets the next one
  nn::FitOptions<F> o;
  o.epochs = 3, o.batch_size = 32, o.progress = nn::Progress::Off, o.shuffle = false;
  o.callbacks = {std::make_shared<nn::LambdaCallback<F>>([&](nn::TrainContext<F>& c) { used.push_back(c.opt.lr()); },
                                                         nullptr),
                 std::make_shared<nn::WarmupCosine<F>>(0.1, 1.0, 3)};
  nn::fit(m, loss, opt, train, o);
  const double pi = 3.14159265358979323846;
  const std::vector<double> want{0.001, 0.05, 0.1, 0.05 * (1 + std::cos(pi / 4)), 0.05, 0.05 * (1 + std::cos(3 * pi / 4))};
  REQUIRE(used.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(used[i] == doctest::Approx(want[i]).epsilon(1e-12));
  CHECK_THROWS_AS(nn::WarmupCosine<F>(0.1, 3.0, 3), std::invalid_argument);
  CHECK_THROWS_AS(nn::WarmupCosine<F>(0.0, 0.0, 3), std::invalid_argument);
}

TEST_CASE("a NaN loss stops training, names the epoch and batch, and keeps finite weights") {
  auto train = blobs(64, 5);
  auto m = small_net(1);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::SGD<F> opt(m.parameters(), {0.01});
  const std::string ck = tmp("nan_last.nn");
  nn::FitOptions<F> o;
  o.epochs = 3, o.batch_size = 16, o.progress = nn::Progress::Lines;
  std::ostringstream out;
  o.out = &out;
  // poison the weights in the middle of epoch 2
  o.callbacks = {std::make_shared<nn::ModelCheckpoint<F>>("", ck),
                 std::make_shared<nn::LambdaCallback<F>>(
                     [](nn::TrainContext<F>& c) {
                       if (c.epoch == 1 && c.batch == 1) (*c.model.parameters().back().value)[0] = NAN;
                     },
                     nullptr)};
  auto h = nn::fit(m, loss, opt, train, o);
  CHECK(h.epochs() == 1);
  CHECK(h.stop_reason.find("non-finite loss") != std::string::npos);
  CHECK(h.stop_reason.find("epoch 2, batch 3/4") != std::string::npos);
  CHECK(out.str().find("training stopped") != std::string::npos);
  for (auto& p : m.parameters()) CHECK(p.value->all_finite());
  auto last = nn::load_model<F>(ck);  // the checkpoint from epoch 1 is intact
  for (auto& p : last.parameters()) CHECK(p.value->all_finite());
  std::remove(ck.c_str());
}

TEST_CASE("fit rejects bad options and mismatched data") {
  auto train = blobs(20, 1);
  auto m = small_net(1);
  nn::SoftmaxCrossEntropy<F> loss;
  nn::SGD<F> opt(m.parameters());
  nn::FitOptions<F> o;
  o.progress = nn::Progress::Off;
  o.epochs = 0;
  CHECK_THROWS_AS(nn::fit(m, loss, opt, train, o), std::invalid_argument);
  o.epochs = 1;
  o.validation_split = 1.5;
  CHECK_THROWS_AS(nn::fit(m, loss, opt, train, o), std::invalid_argument);
  nn::Sequential<F> other(Shape{2, 6, 6});
  other.add(nn::Flatten<F>());
  nn::SGD<F> opt2(other.parameters());
  o.validation_split = 0;
  CHECK_THROWS_WITH_AS(nn::fit(other, loss, opt2, train, o), doctest::Contains("the model takes (2, 6, 6)"),
                       std::invalid_argument);
  o.metrics = {"nope"};
  CHECK_THROWS_AS(nn::fit(m, loss, opt, train, o), std::invalid_argument);
}
