// nn/dist/mpi.hpp under mpirun (ctest runs it on 2 and on 3 ranks). Every
// test case runs on every rank and calls the collectives in the same order.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <nn/dist/mpi.hpp>
#include <nn/nn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <unistd.h>

using nn::Index;
using nn::Tensor;

namespace {
nn::dist::Communicator* world = nullptr;

template <class T>
nn::Sequential<T> mlp(std::uint64_t seed, Index hidden = 8, bool batch_norm = false) {
  nn::Sequential<T> m(seed);
  m.add(nn::Dense<T>(hidden));
  if (batch_norm) m.add(nn::BatchNorm<T>());
  m.add(nn::Tanh<T>());
  m.add(nn::Dense<T>(3));
  m.build({5});
  return m;
}

// Rows [begin, begin + n) of x (N, ...).
template <class T>
Tensor<T> rows(const Tensor<T>& x, Index begin, Index n) {
  nn::Shape s = x.shape();
  s[0] = n;
  Tensor<T> r(s);
  const Index per = x.size() / x.dim(0);
  std::copy(x.data() + begin * per, x.data() + (begin + n) * per, r.data());
  return r;
}

template <class T>
double max_rel_diff(nn::Model<T>& a, nn::Model<T>& b) {
  auto pa = a.parameters(), pb = b.parameters();
  double d = 0;
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (Index k = 0; k < pa[i].value->size(); ++k) {
      const double x = (*pa[i].value)[k], y = (*pb[i].value)[k];
      d = std::max(d, std::abs(x - y) / std::max(1.0, std::abs(y)));
    }
  return d;
}

struct Variant {
  bool overlap = false;     // buckets started from the gradient hook during backward
  bool batch_norm = false;  // a BatchNorm in the model ...
  bool sync = false;        // ... with synchronized statistics
};

// N ranks with local batch B against one model with batch N * B on the same
// samples, stepped on every rank; the parameters' hash is compared across
// ranks after every step.
template <class T, class MakeOpt>
double data_parallel_vs_one_process(MakeOpt make_opt, int steps, Index B, Variant v = {}) {
  const int N = world->size(), r = world->rank();
  nn::Rng rng(42);  // the same data on every rank
  Tensor<T> x({Index(steps) * N * B, 5}), y({Index(steps) * N * B});
  for (Index i = 0; i < x.size(); ++i) x[i] = T(rng.normal());
  for (Index i = 0; i < y.size(); ++i) y[i] = T(rng() % 3);
  auto dist = mlp<T>(100 + std::uint64_t(r), 8, v.batch_norm);  // different on every rank until the broadcast
  nn::dist::check_same_model(*world, dist);
  nn::dist::broadcast_model(*world, dist);
  if (v.sync) CHECK(nn::dist::sync_batch_norm(dist, *world) == 1);
  auto ref = mlp<T>(100, 8, v.batch_norm);  // rank 0's initialization
  REQUIRE(nn::dist::parameter_hash(ref) == nn::dist::parameter_hash(dist));
  auto opt_d = make_opt(dist.parameters());
  auto opt_r = make_opt(ref.parameters());
  typename nn::dist::GradientAverager<T>::Options o;
  o.bucket_bytes = 16 * sizeof(T);  // several buckets even for this small model (75 parameters)
  nn::dist::GradientAverager<T> avg(*world, dist.parameters(), o);
  CHECK(avg.buckets() > 1);
  // overlap: the hook reports each layer to the averager; record how many
  // buckets were running when the first layer (the last one backward
  // finishes) was reported
  std::size_t started_before_first = 0;
  nn::Layer<T>* first = dist.layers().front();
  if (v.overlap)
    dist.set_gradient_hook([&](nn::Layer<T>& l) {
      if (&l == first) started_before_first = avg.started();
      avg.ready(l);
    });
  nn::SoftmaxCrossEntropy<T> loss;
  Tensor<T> g;
  double worst = 0;
  for (int s = 0; s < steps; ++s) {
    const Index global = Index(s) * N * B;
    // this rank: its B samples of the step's N * B
    const auto xl = rows(x, global + r * B, B), yl = rows(y, global + r * B, B);
    dist.zero_grad();
    loss.compute(dist.forward(xl, true), yl, &g);
    dist.backward(g);
    if (v.overlap) {
      CHECK(started_before_first > 0);           // communication began inside backward
      CHECK(avg.started() == avg.buckets());     // every layer reported: all started
      avg.finish();
    } else {
      CHECK(avg.started() == 0);
      avg.average();
    }
    opt_d.step();
    // one process: all N * B samples
    const auto xa = rows(x, global, N * B), ya = rows(y, global, N * B);
    ref.zero_grad();
    loss.compute(ref.forward(xa, true), ya, &g);
    ref.backward(g);
    opt_r.step();
    worst = std::max(worst, max_rel_diff(dist, ref));
    if (v.sync) {  // the running statistics follow the combined batch's
      auto bd = dist.buffers(), br = ref.buffers();
      for (std::size_t i = 0; i < bd.size(); ++i)
        for (Index k = 0; k < bd[i].second->size(); ++k)
          worst = std::max(worst, std::abs(double((*bd[i].second)[k]) - double((*br[i].second)[k])) /
                                      std::max(1.0, std::abs(double((*br[i].second)[k]))));
    }
    if (v.batch_norm && !v.sync) continue;  // each rank's running statistics are its own
    const auto hashes = world->gather_all(nn::dist::parameter_hash(dist));
    CHECK(std::all_of(hashes.begin(), hashes.end(), [&](std::uint64_t h) { return h == hashes[0]; }));
  }
  dist.set_gradient_hook({});
  if (world->is_root())
    std::printf("%d ranks x batch %ld vs one process x batch %ld, %s, %d steps%s%s: max relative parameter difference %.3g\n",
                N, long(B), long(N * B), sizeof(T) == 8 ? "double" : "float", steps, v.overlap ? ", overlap" : "",
                v.batch_norm ? (v.sync ? ", synced batch norm" : ", per-rank batch norm") : "", worst);
  return worst;
}
}  // namespace

TEST_CASE("N ranks with batch B step as one process with batch N * B: SGD and Adam, double and float") {
  using PD = std::vector<nn::Param<double>>;
  using PF = std::vector<nn::Param<float>>;
  // Only the order of the sums differs (a local mean of B, then a mean over
  // ranks, against one mean of N * B): a few units in the last place after
  // 6 steps (measured on 2 and 3 ranks: at most 2.2e-16 in double, 6e-8 in
  // float). The bounds leave a margin of about 500x (double) and 16x (float;
  // 160x for Adam, whose division by the root of its second moment can
  // magnify a rounding difference in a near-zero gradient); a wrong average
  // (a sum, a missing bucket, one rank's gradient) is off by far more.
  CHECK(data_parallel_vs_one_process<double>([](PD p) { return nn::SGD<double>(p, {0.1, 0.9}); }, 6, 4) < 1e-13);
  CHECK(data_parallel_vs_one_process<double>([](PD p) { return nn::Adam<double>(p, {0.01}); }, 6, 4) < 1e-13);
  CHECK(data_parallel_vs_one_process<float>([](PF p) { return nn::SGD<float>(p, {0.1, 0.9}); }, 6, 4) < 1e-6);
  CHECK(data_parallel_vs_one_process<float>([](PF p) { return nn::Adam<float>(p, {0.01}); }, 6, 4) < 1e-5);
}

TEST_CASE("overlap: buckets started from the gradient hook during backward give the same steps") {
  using PD = std::vector<nn::Param<double>>;
  using PF = std::vector<nn::Param<float>>;
  Variant ov;
  ov.overlap = true;
  CHECK(data_parallel_vs_one_process<double>([](PD p) { return nn::SGD<double>(p, {0.1, 0.9}); }, 6, 4, ov) < 1e-13);
  CHECK(data_parallel_vs_one_process<float>([](PF p) { return nn::Adam<float>(p, {0.01}); }, 6, 4, ov) < 1e-5);
}

TEST_CASE("synchronized batch norm: N ranks step as one process on the combined batch, statistics included") {
  using PD = std::vector<nn::Param<double>>;
  Variant v;
  v.batch_norm = v.sync = v.overlap = true;
  // the batch statistics' sums cross the ranks in another order: the same
  // rounding-level bound as without batch norm
  CHECK(data_parallel_vs_one_process<double>([](PD p) { return nn::SGD<double>(p, {0.1, 0.9}); }, 6, 4, v) < 1e-12);
  // the control: each rank normalizing its own 4 samples is far from it
  v.sync = false;
  if (world->size() > 1)
    CHECK(data_parallel_vs_one_process<double>([](PD p) { return nn::SGD<double>(p, {0.1, 0.9}); }, 6, 4, v) > 1e-4);
}

TEST_CASE("broadcast gives every rank rank 0's parameters and batch-norm statistics") {
  nn::Sequential<float> m(7 + std::uint64_t(world->rank()));
  m.add(nn::Dense<float>(6));
  m.add(nn::BatchNorm<float>());
  m.add(nn::ReLU<float>());
  m.add(nn::Dense<float>(2));
  m.build({4});
  // move the running statistics differently on every rank
  Tensor<float> x({8, 4});
  nn::Rng rng(std::uint64_t(world->rank()) + 1);
  for (Index i = 0; i < x.size(); ++i) x[i] = float(rng.normal());
  m.forward(x, true);
  const auto before = world->gather_all(nn::dist::parameter_hash(m));
  if (world->size() > 1) CHECK(before[0] != before[1]);
  nn::dist::broadcast_model(*world, m);
  const auto after = world->gather_all(nn::dist::parameter_hash(m));
  CHECK(std::all_of(after.begin(), after.end(), [&](std::uint64_t h) { return h == before[0]; }));
}

TEST_CASE("a model that differs on one rank is reported on every rank") {
  if (world->size() < 2) return;
  auto m = mlp<float>(1, world->rank() == 1 ? 9 : 8);  // rank 1 has a wider hidden layer
  CHECK_THROWS_WITH_AS(nn::dist::check_same_model(*world, m), doctest::Contains("rank 1 ("), std::runtime_error);
  auto same = mlp<float>(1);
  CHECK_NOTHROW(nn::dist::check_same_model(*world, same));
}

TEST_CASE("the distributed sampler covers every sample once per epoch across ranks") {
  const int N = world->size(), r = world->rank();
  for (Index n : {Index(1), Index(10), Index(11), Index(12), Index(13), Index(100)}) {
    for (auto tail : {nn::dist::DistributedSampler::Tail::Pad, nn::dist::DistributedSampler::Tail::Drop}) {
      if (tail == nn::dist::DistributedSampler::Tail::Drop && n < N) continue;
      nn::dist::DistributedSampler s(n, N, r, 5, tail);
      for (int epoch = 0; epoch < 2; ++epoch) {
        const auto mine = s.indices(epoch);
        REQUIRE(Index(mine.size()) == s.per_rank());
        // every rank's indices, in rank order (each rank has per_rank())
        std::vector<long long> local(mine.begin(), mine.end()), all(std::size_t(N) * mine.size());
        MPI_Allgather(local.data(), int(local.size()), MPI_LONG_LONG, all.data(), int(local.size()), MPI_LONG_LONG,
                      world->get());
        std::multiset<long long> seen(all.begin(), all.end());
        std::set<long long> distinct(all.begin(), all.end());
        for (long long i : all) CHECK((i >= 0 && i < n));
        if (tail == nn::dist::DistributedSampler::Tail::Pad) {
          CHECK(Index(distinct.size()) == n);                          // every sample
          CHECK(Index(all.size()) == (n + N - 1) / N * N);             // padded with a few repeats
        } else {
          CHECK(distinct.size() == all.size());                        // no sample twice
          CHECK(Index(all.size()) == n / N * N);                       // the tail left out
        }
        CHECK(seen.size() == all.size());
      }
      // another epoch, another order; the same on every rank (seeded)
      if (n >= 10) CHECK(s.indices(0) != s.indices(1));
    }
  }
  CHECK_THROWS_AS(nn::dist::DistributedSampler(0, N, r, 1), std::invalid_argument);
  CHECK_THROWS_AS(nn::dist::DistributedSampler(5, N, N, 1), std::invalid_argument);
}

namespace {
struct FitData {
  Index n;
  nn::data::TensorDataset<double> train, val;
};
// n = N * B * steps training samples (full batches on every rank) and 12
// validation samples (the ranks evaluate shares of them); the same on every rank
FitData fit_data(Index B, Index steps, std::uint64_t seed) {
  const Index n = Index(world->size()) * B * steps;
  nn::Rng rng(seed);
  Tensor<double> x({n + 12, 5}), y({n + 12});
  for (Index i = 0; i < x.size(); ++i) x[i] = rng.normal();
  for (Index i = 0; i < y.size(); ++i) y[i] = double(rng() % 3);
  return {n, nn::data::TensorDataset<double>(rows(x, 0, n), rows(y, 0, n)),
          nn::data::TensorDataset<double>(rows(x, n, 12), rows(y, n, 12))};
}
// every rank holds the same value
bool same_everywhere(std::uint64_t v) {
  const auto all = world->gather_all(v);
  return std::all_of(all.begin(), all.end(), [&](std::uint64_t h) { return h == all[0]; });
}
}  // namespace

TEST_CASE("fit on N ranks with batch B gives one process's history and weights with batch N * B") {
  const int N = world->size();
  const Index B = 4;
  auto d = fit_data(B, 5, 3);  // 5 full steps per epoch on every rank
  auto run = [&](nn::DataParallel<double>* dp, Index batch, bool bn) {
    // different on every rank until fit broadcasts it
    auto m = mlp<double>(dp ? 200 + std::uint64_t(world->rank()) : 200, 8, bn);
    // SGD with batch norm: the bias of the Dense before it has a gradient of
    // pure rounding noise (batch norm removes any shift), which Adam would
    // scale up to full steps of different sign in the two runs
    std::unique_ptr<nn::Optimizer<double>> opt;
    if (bn)
      opt = std::make_unique<nn::SGD<double>>(m.parameters(), nn::SGDOptions{0.1, 0.9});
    else
      opt = std::make_unique<nn::Adam<double>>(m.parameters(), nn::AdamOptions{0.01});
    nn::SoftmaxCrossEntropy<double> loss;
    nn::FitOptions<double> o;
    o.epochs = 3, o.batch_size = batch, o.seed = 5, o.validation = &d.val, o.progress = nn::Progress::Off;
    o.metrics = {"accuracy", "top2_accuracy"};
    o.parallel = dp;
    auto h = nn::fit(m, loss, *opt, d.train, o);
    return std::make_pair(h, nn::dist::parameter_hash(m));
  };
  // with and without overlap; with a batch norm whose statistics are synchronized
  for (int variant = 0; variant < 3; ++variant) {
    CAPTURE(variant);
    nn::dist::MpiDataParallel<double>::Options opts;
    opts.overlap = variant != 1;
    opts.sync_batch_norm = variant == 2;
    nn::dist::MpiDataParallel<double> dp(*world, opts);
    const auto [hd, hash_d] = run(&dp, B, variant == 2);
    const auto [h1, hash_1] = run(nullptr, Index(N) * B, variant == 2);
    // counts are exact; losses differ in the order of their sums only
    for (const auto* k : {"accuracy", "top2_accuracy", "val_accuracy", "val_top2_accuracy"}) CHECK(hd[k] == h1[k]);
    for (const auto* k : {"loss", "val_loss"})
      for (std::size_t e = 0; e < hd[k].size(); ++e) {
        CAPTURE(k);
        CAPTURE(e);
        CAPTURE(std::abs(hd[k][e] - h1[k][e]));
        CHECK(hd[k][e] == doctest::Approx(h1[k][e]).epsilon(1e-12));
      }
    CHECK(same_everywhere(hash_d));
    CHECK(hd.epochs() == 3);
    CHECK(dp.stats().averages == 3 * 5);
  }
}

TEST_CASE("fit on N ranks resumes from a checkpoint as if never stopped") {
  const Index B = 4;
  auto d = fit_data(B, 4, 12);
  // one path for all ranks: rank 0's process id
  const auto pid = world->gather_all(std::uint64_t(getpid()))[0];
  const std::string path = "/tmp/nn_mpi_resume_" + std::to_string(pid) + ".nnm";
  auto options = [&](nn::DataParallel<double>& dp, int epochs) {
    nn::FitOptions<double> o;
    o.epochs = epochs, o.batch_size = B, o.seed = 9, o.validation = &d.val, o.progress = nn::Progress::Off;
    o.parallel = &dp;
    return o;
  };
  nn::dist::MpiDataParallel<double> dp(*world);
  nn::SoftmaxCrossEntropy<double> loss;
  // uninterrupted: 4 epochs
  auto full = mlp<double>(31);
  nn::Adam<double> opt_full(full.parameters(), {0.01});
  const auto h_full = nn::fit(full, loss, opt_full, d.train, options(dp, 4));
  // 2 epochs with a checkpoint (rank 0 writes it), then a fresh model and
  // optimizer on every rank load it and run epochs 3 and 4
  {
    auto first = mlp<double>(31);
    nn::Adam<double> opt(first.parameters(), {0.01});
    auto o = options(dp, 2);
    o.callbacks.push_back(std::make_shared<nn::ModelCheckpoint<double>>("", path));
    nn::fit(first, loss, opt, d.train, o);
  }
  MPI_Barrier(world->get());  // the file is complete before any rank reads it
  auto resumed = mlp<double>(77 + std::uint64_t(world->rank()));
  nn::Adam<double> opt(resumed.parameters(), {0.01});
  auto o = options(dp, 4);
  o.initial_epoch = nn::load_training_state(path, resumed, opt);
  CHECK(o.initial_epoch == 2);
  const auto h = nn::fit(resumed, loss, opt, d.train, o);
  CHECK(nn::dist::parameter_hash(resumed) == nn::dist::parameter_hash(full));
  CHECK(same_everywhere(nn::dist::parameter_hash(resumed)));
  REQUIRE(h["val_loss"].size() == 2);
  CHECK(h["val_loss"][1] == h_full["val_loss"][3]);
  MPI_Barrier(world->get());
  if (world->is_root()) std::remove(path.c_str());
}

TEST_CASE("fit on N ranks: early stopping stops every rank at the same epoch, as one process would") {
  const int N = world->size();
  const Index B = 4;
  auto d = fit_data(B, 3, 21);
  auto run = [&](nn::DataParallel<double>* dp, Index batch) {
    auto m = mlp<double>(5, 16);
    nn::Adam<double> opt(m.parameters(), {0.05});  // fast enough to overfit 12 validation samples
    nn::SoftmaxCrossEntropy<double> loss;
    nn::FitOptions<double> o;
    o.epochs = 40, o.batch_size = batch, o.seed = 2, o.validation = &d.val, o.progress = nn::Progress::Off;
    o.parallel = dp;
    o.callbacks.push_back(std::make_shared<nn::EarlyStopping<double>>("val_loss", 2));
    const auto h = nn::fit(m, loss, opt, d.train, o);
    return std::make_pair(h.epochs(), nn::dist::parameter_hash(m));
  };
  nn::dist::MpiDataParallel<double> dp(*world);
  const auto [epochs, hash] = run(&dp, B);
  const auto [epochs_1, hash_1] = run(nullptr, Index(N) * B);
  CHECK(epochs < 40);  // it did stop early
  CHECK(epochs == epochs_1);
  CHECK(same_everywhere(std::uint64_t(epochs)));
  CHECK(same_everywhere(hash));  // the restored best weights too
  if (world->is_root()) std::printf("early stopping on %d ranks: after %d epochs, as one process\n", N, epochs);
}

TEST_CASE("fit on N ranks: a batch that fails on one rank makes every rank throw, none waits") {
  const int N = world->size();
  const Index B = 4, n = Index(N) * B * 6;
  nn::Rng rng(8);
  Tensor<double> x({n, 5}), y({n});
  for (Index i = 0; i < x.size(); ++i) x[i] = rng.normal();
  for (Index i = 0; i < y.size(); ++i) y[i] = double(rng() % 3);
  x[17 * 5 + 2] = std::nan("");  // one sample: the rank that draws it fails in forward (NaN input)
  nn::data::TensorDataset<double> train(std::move(x), std::move(y));
  auto m = mlp<double>(1);
  nn::SGD<double> opt(m.parameters(), {0.1});
  nn::SoftmaxCrossEntropy<double> loss;
  nn::FitOptions<double> o;
  o.epochs = 2, o.batch_size = B, o.seed = 3, o.progress = nn::Progress::Off;
  nn::dist::MpiDataParallel<double> dp(*world);
  o.parallel = &dp;
  std::string what;
  try {
    nn::fit(m, loss, opt, train, o);
  } catch (const std::exception& e) {
    what = e.what();
  }
  // the failing rank has its own error; the others name it
  const bool own = what.find("NaN/Inf input") != std::string::npos;
  const bool told = what.find(" failed at epoch 1, batch ") != std::string::npos &&
                    what.find("every rank stops") != std::string::npos;
  CHECK_MESSAGE((own || told), what);
  const auto owners = world->gather_all(own ? 1 : 0);
  CHECK(std::count(owners.begin(), owners.end(), std::uint64_t(1)) == 1);  // exactly one rank drew the sample
}

int main(int argc, char** argv) {
  nn::dist::Environment env(&argc, &argv);
  nn::dist::Communicator comm;
  world = &comm;
  doctest::Context ctx(argc, argv);
  const int failed = ctx.run();
  // a rank whose checks failed fails the run; the others must still get here
  // (no collective is left waiting), so the sum is taken at the end
  const double failures = comm.sum(double(failed != 0));
  if (comm.is_root())
    std::printf("nn_mpi_tests on %d ranks: %s\n", comm.size(), failures == 0 ? "all passed" : "FAILED on some rank");
  return failures == 0 ? 0 : 1;
}
