// mnist — a convnet on MNIST: the official 60k/10k split, a seeded 5k
// validation set for early stopping and checkpoints, the test accuracy, and
// the saved model reloaded and checked. Outputs in --out (example.hpp).
// With --distributed (a build with MPI), data-parallel over the ranks of
// mpirun -np N: each rank trains on its share of every batch.
#include "../common/example.hpp"

#include <cstdio>
#include <optional>
#if NN_EXAMPLE_MPI
#include <nn/dist/mpi.hpp>
#endif

using F = float;

nn::Sequential<F> make_model(const std::string& kind, std::uint64_t seed) {
  nn::Sequential<F> m(nn::Shape{1, 28, 28}, seed);
  if (kind == "mlp") {  // the classic 784-300-10 baseline
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(300));
    m.add(nn::ReLU<F>());
    m.add(nn::Dense<F>(10));
    return m;
  }
  const bool bn = kind == "cnn";  // lenet: the benchmark's W1, no batch norm or dropout
  for (int filters : {32, 64}) {  // 28 -> 24 -> 12 -> 8 -> 4
    m.add<nn::Conv2D<F>>(filters, 5);
    if (bn) m.add(nn::BatchNorm<F>());
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
  }
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(bn ? 256 : 128));
  if (bn) m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  if (bn) m.add(nn::Dropout<F>(0.4));
  m.add(nn::Dense<F>(10));
  return m;
}

int main(int argc, char** argv) {
  example::Example ex("mnist", "Trains a classifier on MNIST and reports its test accuracy.",
                      {/*epochs*/ 15, /*batch*/ 64, /*lr*/ 2e-3, "runs/mnist"});
  std::string kind = "cnn", dataset = "mnist";
  bool distributed = false, sync_bn = false;
  ex.cli()
      .option("--model", &kind, "cnn|lenet|mlp", "architecture (lenet: the benchmark's W1)")
      .option("--dataset", &dataset, "mnist|fashion-mnist", "the digits, or Zalando's clothes in the same format")
      .flag("--distributed", &distributed,
            "data-parallel over MPI: mpirun -np N ./mnist --distributed (--batch-size per rank)")
      .flag("--sync-bn", &sync_bn, "with --distributed: batch norm over every rank's samples (else each rank's own)");
  ex.parse(argc, argv);
  if (kind != "cnn" && kind != "lenet" && kind != "mlp") ex.fail("--model must be cnn, lenet or mlp");
  if (dataset != "mnist" && dataset != "fashion-mnist") ex.fail("--dataset must be mnist or fashion-mnist");
  if (sync_bn && !distributed) ex.fail("--sync-bn needs --distributed");
  auto& c = ex.common();
  nn::DataParallel<F>* parallel = nullptr;
  int rank = 0, ranks = 1;
#if NN_EXAMPLE_MPI
  std::optional<nn::dist::Environment> env;
  std::optional<nn::dist::Communicator> comm;
  std::optional<nn::dist::MpiDataParallel<F>> dp;
  if (distributed) {
    env.emplace(&argc, &argv);
    comm.emplace();
    nn::dist::MpiDataParallel<F>::Options dpo;
    dpo.sync_batch_norm = sync_bn;
    dp.emplace(*comm, dpo);
    parallel = &*dp, rank = comm->rank(), ranks = comm->size();
    if (rank != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;  // rank 0 speaks for all
  }
#else
  if (distributed) ex.fail("--distributed: this build has no MPI (install libopenmpi-dev openmpi-bin, reconfigure)");
#endif
  return ex.run([&] {
    try {
      auto mn = nn::data::load_mnist<F>(ex.data_dir(dataset));
      nn::data::TensorDataset<F> all(std::move(mn.train_x), std::move(mn.train_y));
      auto parts = nn::data::split_indices(all.size(), {11.0 / 12, 1.0 / 12}, c.seed);  // 55k train, 5k validation
      if (c.quick) parts[0].resize(10000), parts[1].resize(1000), c.epochs = 1;
      nn::data::Subset<F> train(all, parts[0]), val(all, parts[1]);
      std::cout << "train " << train.size() << ", validation " << val.size() << ", test " << mn.test_y.size() << "\n";

      auto model = make_model(kind, c.seed);
      std::cout << model.summary();
      if (parallel)
        std::printf("data-parallel on %d ranks: batch %d per rank, %d per step, batch norm %s\n", ranks, c.batch,
                    ranks * c.batch, sync_bn ? "synchronized over the ranks" : "per rank");
      nn::SoftmaxCrossEntropy<F> loss;
      nn::Adam<F> opt(model.parameters(), {c.lr});
      nn::FitOptions<F> o;
      o.epochs = c.epochs, o.batch_size = c.batch, o.seed = c.seed, o.validation = &val, o.parallel = parallel;
      if (kind == "cnn") o.augment.translate = 2;
      o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::CosineLR>(c.epochs, 0.0), c.lr),
                     std::make_shared<nn::EarlyStopping<F>>("val_accuracy", 5, 0.0, true)};
      for (auto& cb : ex.callbacks(c.out, "val_accuracy")) o.callbacks.push_back(cb);
      auto trained = example::train(model, loss, opt, train, o);
      if (rank != 0) return 0;  // every rank holds the same model; rank 0 tests and saves it

      const std::vector<std::string> names =
          dataset == "mnist" ? std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
                             : std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
      auto test = example::test_report(model, loss, mn.test_x, mn.test_y, names, trained, c.out, dataset + " " + kind);
      example::save_and_check(model, c.out + "/model.nn", mn.test_x, test.logits);
      auto j = ex.metrics(test, trained).set("model", kind).set("dataset", dataset).set("train_images", long(train.size()))
                   .set("ranks", ranks);
      example::quantize_report(ex, model, train, mn.test_x, mn.test_y, test, j);
      j.save(c.out + "/metrics.json");
      std::printf("train time %.1fs over %d epochs, %.0f images/s\ntest accuracy: %.2f%%\n", trained.seconds,
                  trained.history.epochs(), trained.images_per_second, 100 * test.accuracy);
      return 0;
    } catch (const std::exception& e) {
#if NN_EXAMPLE_MPI
      if (comm) comm->abort(std::string("mnist: error: ") + e.what());  // ends every rank, not only this one
#endif
      throw;
    }
  });
}
