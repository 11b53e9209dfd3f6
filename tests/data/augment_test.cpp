#include "../support/test_util.hpp"

using namespace testutil;
using F = float;

TEST_CASE("augmentation is deterministic for a seed and differs across seeds") {
  nn::data::Augment a;
  a.hflip = true, a.translate = 2, a.rotate_degrees = 15, a.brightness = 0.1, a.contrast = 0.2;
  auto x = randn<F>({3, 9, 7}, 1);
  Tensor<F> p = x.clone(), q = x.clone(), r = x.clone();
  nn::Rng r1(5), r2(5), r3(6);
  a.apply(p.data(), 3, 9, 7, r1);
  a.apply(q.data(), 3, 9, 7, r2);
  a.apply(r.data(), 3, 9, 7, r3);
  CHECK(std::equal(p.begin(), p.end(), q.begin()));
  CHECK(!std::equal(p.begin(), p.end(), r.begin()));
}

TEST_CASE("flip mirrors, translation shifts with zero fill") {
  auto x = Tensor<F>::from({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  nn::data::Augment flip;
  flip.hflip = true;
  // find a seed whose first draw flips
  for (std::uint64_t s = 0;; ++s) {
    nn::Rng probe(s);
    if (probe.uniform() < 0.5) {
      Tensor<F> y = x.clone();
      nn::Rng rng(s);
      flip.apply(y.data(), 1, 2, 3, rng);
      CHECK(std::vector<F>(y.begin(), y.end()) == std::vector<F>{3, 2, 1, 6, 5, 4});
      break;
    }
  }
  nn::data::Augment shift;
  shift.translate = 1;
  int moved = 0;
  for (std::uint64_t s = 0; s < 20; ++s) {
    Tensor<F> y = x.clone();
    nn::Rng rng(s);
    shift.apply(y.data(), 1, 2, 3, rng);
    F sum = 0;
    for (auto v : y) sum += v;
    moved += sum < 21;  // something fell off the edge
    for (auto v : y) CHECK((v == 0 || (v >= 1 && v <= 6)));
  }
  CHECK(moved > 0);
}

TEST_CASE("batches with augmentation are reproducible and independent of the thread count") {
  Tensor<F> xs = randn<F>({37, 2, 5, 5}, 3), ys({37});
  for (Index i = 0; i < 37; ++i) ys[i] = F(i % 4);
  nn::data::TensorDataset<F> ds(std::move(xs), std::move(ys));
  nn::data::Augment a;
  a.hflip = true, a.translate = 1;
  std::vector<Index> order(37);
  std::iota(order.begin(), order.end(), 0);
  auto run = [&](int threads) {
    nn::set_num_threads(threads);
    nn::data::BatchIterator<F> it(ds, order, 10, &a, 42, 3);
    CHECK(it.batches() == 4);
    Tensor<F> x, y;
    std::vector<F> all;
    Index last = 0;
    while (it.next(x, y)) all.insert(all.end(), x.begin(), x.end()), last = x.dim(0);
    CHECK(last == 7);  // the last batch is partial
    return all;
  };
  const auto one = run(1), two = run(2);
  nn::set_num_threads(1);
  CHECK(one == two);
}

TEST_CASE("seeded splits: sizes, disjointness, stratification, balancing") {
  auto parts = nn::data::split_indices(100, {0.7, 0.2, 0.1}, 1);
  CHECK(parts[0].size() == 70);
  CHECK(parts[1].size() == 20);
  CHECK(parts[2].size() == 10);
  std::vector<Index> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end());
  for (Index i = 0; i < 100; ++i) CHECK(all[size_t(i)] == i);
  CHECK(nn::data::split_indices(100, {0.7, 0.2, 0.1}, 1) == parts);
  CHECK(nn::data::split_indices(100, {0.7, 0.2, 0.1}, 2) != parts);
  CHECK_THROWS_AS(nn::data::split_indices(10, {0.5, 0.4}, 1), std::invalid_argument);

  std::vector<int> labels;
  for (int i = 0; i < 90; ++i) labels.push_back(i < 60 ? 0 : 1);  // 60 / 30
  auto st = nn::data::stratified_split(labels, {0.5, 0.5}, 3);
  int ones = 0;
  for (Index i : st[0]) ones += labels[size_t(i)];
  CHECK(ones == 15);
  auto bal = nn::data::balance_by_oversampling(st[0], labels, 4);
  int b0 = 0, b1 = 0;
  for (Index i : bal) (labels[size_t(i)] ? b1 : b0)++;
  CHECK(b0 == 30);
  CHECK(b1 == 30);
  auto oh = nn::data::one_hot(Tensor<F>::from({3}, {2, 0, 1}), 3);
  CHECK(oh(0, 2) == 1);
  CHECK(oh(1, 0) == 1);
  CHECK(oh.array().sum() == 3);
  CHECK_THROWS_AS(nn::data::one_hot(Tensor<F>::from({1}, {3}), 3), std::invalid_argument);
}
