// fit()'s data-parallel plumbing without MPI: the shards, the metrics'
// combinable states, and a one-rank runtime that must change nothing. The
// multi-process behaviour is tested under mpirun (tests/dist/mpi_test.cpp).
#include "../support/test_util.hpp"

#include <set>

using namespace testutil;
using F = float;
using D = double;

TEST_CASE("shard: strided shares of an order, padded to equal counts or not") {
  const std::vector<Index> order{9, 8, 7, 6, 5, 4, 3};
  CHECK(nn::detail::shard(order, 0, 3, false) == std::vector<Index>{9, 6, 3});
  CHECK(nn::detail::shard(order, 1, 3, false) == std::vector<Index>{8, 5});
  CHECK(nn::detail::shard(order, 2, 3, false) == std::vector<Index>{7, 4});
  // padded: 9 positions, the last two repeat the order's first two
  CHECK(nn::detail::shard(order, 1, 3, true) == std::vector<Index>{8, 5, 9});
  CHECK(nn::detail::shard(order, 2, 3, true) == std::vector<Index>{7, 4, 8});
  CHECK(nn::detail::shard({}, 0, 2, true).empty());
  CHECK(nn::detail::shard({5}, 1, 2, false).empty());  // more ranks than samples: some get none
}

TEST_CASE("metric states: the sum of two parts' states is the whole's") {
  auto x = randn({10, 4}, 3);
  Tensor<F> xf({10, 4}), labels({10}), multi({10, 4});
  for (Index i = 0; i < 40; ++i) xf[i] = F(x[i]), multi[i] = F((i * 7) % 3 == 0);
  for (Index i = 0; i < 10; ++i) labels[i] = F(i % 4);
  auto part = [](const Tensor<F>& t, Index b, Index n) { return rows(t, b, n); };
  for (const std::string name : {"accuracy", "top2_accuracy", "binary_accuracy", "mean_iou", "macro_f1", "subset_accuracy"}) {
    const bool multilabel = name == "macro_f1" || name == "subset_accuracy";
    const Tensor<F>& y = multilabel ? multi : labels;
    auto whole = nn::make_metric<F>(name), a = nn::make_metric<F>(name), b = nn::make_metric<F>(name);
    whole->update(xf, y);
    a->update(part(xf, 0, 6), part(y, 0, 6));
    b->update(part(xf, 6, 4), part(y, 6, 4));
    auto s = a->state();
    const auto sb = b->state();
    REQUIRE(s.size() == sb.size());
    for (std::size_t k = 0; k < s.size(); ++k) s[k] += sb[k];
    auto combined = nn::make_metric<F>(name);
    combined->set_state(s);
    CHECK_MESSAGE(combined->value() == doctest::Approx(whole->value()), name);
    // nothing seen: an empty state, and zeros mean the same
    auto fresh = nn::make_metric<F>(name);
    CHECK(fresh->state().empty());
    fresh->set_state(std::vector<double>(s.size(), 0.0));
    CHECK(fresh->value() == 0.0);
  }
}

namespace {
// One rank: every collective is the identity.
class OneRank : public nn::DataParallel<D> {
 public:
  int rank() const override { return 0; }
  int ranks() const override { return 1; }
  void start(nn::Model<D>&) override { ++starts; }
  void average_gradients(nn::Model<D>&) override { ++averages; }
  void sum(std::vector<double>&) override {}
  void max(std::vector<double>&) override {}
  int starts = 0, averages = 0;
};
}  // namespace

TEST_CASE("fit with a one-rank data-parallel runtime gives the same history and weights") {
  auto x = randn({40, 5}, 9);
  Tensor<D> y({40});
  for (Index i = 0; i < 40; ++i) y[i] = D(i % 3);
  nn::data::TensorDataset<D> train(x.clone(), y.clone());
  auto run = [&](nn::DataParallel<D>* dp) {
    nn::Sequential<D> m(4);
    m.add(nn::Dense<D>(6));
    m.add(nn::ReLU<D>());
    m.add(nn::Dense<D>(3));
    m.build({5});
    nn::SGD<D> opt(m.parameters(), {0.1, 0.9});
    nn::SoftmaxCrossEntropy<D> loss;
    nn::FitOptions<D> o;
    o.epochs = 3, o.batch_size = 8, o.seed = 2, o.validation_split = 0.25, o.progress = nn::Progress::Off;
    o.parallel = dp;
    auto h = nn::fit(m, loss, opt, train, o);
    return std::make_pair(h, m.parameters()[0].value->clone());
  };
  OneRank one;
  const auto [h1, w1] = run(&one);
  const auto [h0, w0] = run(nullptr);
  CHECK(one.starts == 1);
  CHECK(one.averages == 3 * 4);  // 3 epochs x 30 training samples in batches of 8
  for (const auto* k : {"loss", "accuracy", "val_loss", "val_accuracy"}) CHECK(h1[k] == h0[k]);
  CHECK(std::equal(w1.begin(), w1.end(), w0.begin()));
}
