// mnist — trains a classifier on MNIST and reports its test accuracy.
//
// Loads the official 60k/10k split, carves a seeded validation set out of the
// training images for early stopping and checkpoints, trains with fit(),
// evaluates on the test set, saves the model and reloads it to check that the
// reloaded model scores exactly the same. Writes to --out:
//   history.csv, metrics.json, curves.png, confusion.png, confusion.csv,
//   model.nn (the final model), best.nn / last.nn (checkpoints).
#include <nn/nn.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "../common/cli.hpp"

namespace {

using F = float;

nn::Sequential<F> make_model(const std::string& kind, std::uint64_t seed) {
  nn::Sequential<F> m(nn::Shape{1, 28, 28}, seed);
  if (kind == "mlp") {  // the classic 784-hidden-10 baseline
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(300));
    m.add(nn::ReLU<F>());
    m.add(nn::Dense<F>(10));
    return m;
  }
  if (kind == "lenet") {  // the benchmark's W1: no batch norm, Conv -> ReLU -> MaxPool (fused; Winograd for conv 2)
    m.add<nn::Conv2D<F>>(32, 5);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add<nn::Conv2D<F>>(64, 5);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(128));
    m.add(nn::ReLU<F>());
    m.add(nn::Dense<F>(10));
    return m;
  }
  m.add<nn::Conv2D<F>>(32, 5);  // 24x24
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));   // 12x12
  m.add<nn::Conv2D<F>>(64, 5);  // 8x8
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));   // 4x4
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(256));
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::Dropout<F>(0.4));
  m.add(nn::Dense<F>(10));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, model_kind = "cnn", out = "runs/mnist";
  int epochs = 15, batch = 64, threads = 0;
  double lr = 2e-3;
  std::uint64_t seed = 1;
  bool quick = false;
  cli::Cli cli("mnist", "Trains a classifier on MNIST and reports its test accuracy.");
  cli.option("--data", &data, "DIR", "MNIST folder; default: find_dataset(\"mnist\")")
      .option("--epochs", &epochs, "N", "maximum epochs (early stopping may end sooner)")
      .option("--batch-size", &batch, "N", "batch size")
      .option("--lr", &lr, "X", "Adam learning rate (cosine-annealed to 0)")
      .option("--seed", &seed, "N", "seed for initialization, shuffling, dropout, augmentation")
      .option("--threads", &threads, "N", "threads (0: OpenMP's default)")
      .option("--model", &model_kind, "cnn|lenet|mlp", "architecture (lenet: the benchmark's W1)")
      .option("--out", &out, "DIR", "output folder")
      .flag("--quick", &quick, "smoke test: 1 epoch on 10,000 training images");
  cli.parse(argc, argv);
  if (model_kind != "cnn" && model_kind != "lenet" && model_kind != "mlp") cli.fail("--model must be cnn, lenet or mlp");
  if (epochs < 1 || batch < 2 || !(lr > 0) || threads < 0) cli.fail("--epochs >= 1, --batch-size >= 2, --lr > 0, --threads >= 0");

  try {
    if (threads > 0) nn::set_num_threads(threads);
    std::cout << "build: " << nn::build_info() << "\n";
    if (data.empty()) data = nn::data::find_dataset("mnist");
    else if (!std::filesystem::is_directory(data)) throw std::runtime_error("--data " + data + ": no such folder");
    std::cout << "data: " << data << "\n";
    auto mn = nn::data::load_mnist<F>(data);
    std::filesystem::create_directories(out);

    // 60k official training images -> 55k train + 5k validation (seeded)
    nn::data::TensorDataset<F> all_train(std::move(mn.train_x), std::move(mn.train_y));
    nn::data::TensorDataset<F> test(std::move(mn.test_x), std::move(mn.test_y));
    auto parts = nn::data::split_indices(all_train.size(), {11.0 / 12, 1.0 / 12}, seed);
    if (quick) {
      parts[0].resize(10000);
      parts[1].resize(1000);
      epochs = 1;
    }
    nn::data::Subset<F> train(all_train, parts[0]), val(all_train, parts[1]);
    std::cout << "train " << train.size() << ", validation " << val.size() << ", test " << test.size() << " images\n";

    auto model = make_model(model_kind, seed);
    std::cout << model.summary();
    nn::SoftmaxCrossEntropy<F> loss;
    nn::AdamOptions ao;
    ao.lr = lr;
    nn::Adam<F> opt(model.parameters(), ao);

    nn::FitOptions<F> o;
    o.epochs = epochs;
    o.batch_size = batch;
    o.seed = seed;
    o.validation = &val;
    if (model_kind == "cnn") o.augment.translate = 2;
    o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::CosineLR>(epochs, 0.0), lr),
                   std::make_shared<nn::EarlyStopping<F>>("val_accuracy", 5, 0.0, true),
                   std::make_shared<nn::ModelCheckpoint<F>>(out + "/best.nn", out + "/last.nn", "val_accuracy"),
                   std::make_shared<nn::CSVLogger<F>>(out + "/history.csv")};
    const auto t0 = std::chrono::steady_clock::now();
    nn::History h = nn::fit(model, loss, opt, train, o);
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (h.epochs() == 0) throw std::runtime_error("training stopped before finishing an epoch: " + h.stop_reason);
    h.save_csv(out + "/history.csv");
    nn::plot::save_history_plot(out + "/curves.png", h, "mnist " + model_kind);

    // test set
    auto scores = nn::evaluate(model, test, loss, {"accuracy"});
    const nn::Tensor<F> logits = nn::predict(model, test.inputs());
    nn::ConfusionMatrix cm(10, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    cm.add_batch(logits, test.targets());
    std::printf("\ntest accuracy: %.2f%%  test loss: %.4f  (%lld images)\n\n", 100 * scores["accuracy"], scores["loss"],
                static_cast<long long>(test.size()));
    std::cout << cm.str();
    cm.save_csv(out + "/confusion.csv");
    nn::plot::save_confusion_png(out + "/confusion.png", cm, "mnist " + model_kind + " (test set)");

    // save, reload into a fresh object, and check the score is identical
    nn::save_model(out + "/model.nn", model);
    auto reloaded = nn::load_model<F>(out + "/model.nn");
    const double again = nn::evaluate(reloaded, test, loss, {"accuracy"})["accuracy"];
    if (again != scores["accuracy"]) {
      std::fprintf(stderr, "mnist: error: the reloaded model scores %.4f%%, not %.4f%%\n", 100 * again,
                   100 * scores["accuracy"]);
      return 1;
    }
    std::printf("reloaded %s/model.nn: test accuracy identical (%.2f%%)\n", out.c_str(), 100 * again);

    double imgs = 0;
    for (double v : h["images_per_second"]) imgs += v;
    std::vector<double> f1;
    for (nn::Index c = 0; c < 10; ++c) f1.push_back(cm.f1(c));
    nn::io::JsonObject j;
    j.set("model", model_kind)
        .set("test_accuracy", scores["accuracy"])
        .set("test_loss", scores["loss"])
        .set("epochs", h.epochs())
        .set("train_seconds", train_seconds)
        .set("images_per_second", imgs / h.epochs())
        .set("best_val_accuracy", *std::max_element(h["val_accuracy"].begin(), h["val_accuracy"].end()))
        .set("train_images", long(train.size()))
        .set("seed", long(seed))
        .set("threads", nn::num_threads())
        .set("quick", quick)
        .set("stop_reason", h.stop_reason)
        .set("build", nn::build_info())
        .set_array("per_class_f1", f1)
        .set("macro_f1", cm.macro_f1());
    j.save(out + "/metrics.json");
    std::printf("wrote %s/{history.csv, metrics.json, curves.png, confusion.png, confusion.csv, model.nn}\n", out.c_str());
    std::printf("train time %.1fs over %d epochs, %.0f images/s\n", train_seconds, h.epochs(), imgs / h.epochs());
    std::printf("test accuracy: %.2f%%\n", 100 * scores["accuracy"]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist: error: %s\n", e.what());
    return 1;
  }
}
