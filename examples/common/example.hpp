// examples/common/example.hpp — what every training example does around its
// model and data, written once:
//
//   example::Example ex("mnist", "Trains ...", {/*epochs*/ 15, /*batch*/ 64, /*lr*/ 2e-3, "runs/mnist"});
//   ex.cli().option("--model", &kind, ...);      // the example's own flags
//   ex.parse(argc, argv);                        // common flags checked; --threads applied
//   return ex.run([&] {                          // errors: "mnist: error: ..." and exit code 1
//     auto dir = ex.data_dir("mnist");           // --data, else find_dataset; prints the build and the data
//     ... model, data, FitOptions (callbacks: ex.callbacks()) ...
//     auto trained = example::train(model, loss, opt, train, o);
//     auto test = example::test_report(model, loss, x, y, names, trained, ex.out(), "mnist");
//     example::save_and_check(model, ex.out() + "/model.nn", x, test.logits);
//     ex.metrics(test, trained).set("model", kind).save(ex.out() + "/metrics.json");
//     return 0;
//   });
//
// Outputs in --out: history.csv (one row per epoch, written as training
// goes), curves.png, confusion.csv, confusion.png, metrics.json, model.nn,
// and the checkpoints best.nn / last.nn when asked for.
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.hpp"

namespace example {

using F = float;

// The flags every training example has.
struct Common {
  Common() = default;
  Common(int epochs_, int batch_, double lr_, std::string out_)
      : epochs(epochs_), batch(batch_), lr(lr_), out(std::move(out_)) {}
  int epochs = 10, batch = 64;
  double lr = 1e-3;
  std::string out = "runs/example";
  std::string data;
  std::uint64_t seed = 1;
  int threads = 0;
  bool quick = false;
  bool int8 = false, bf16 = false;      // also quantize the trained model (quantize_report)
  std::string calibration = "percentile";
  int calibration_samples = 512;
};

// A finished fit(): its history and timing.
struct Trained {
  nn::History history;
  double seconds = 0, images_per_second = 0;
};

// A classifier's result on its test set.
struct TestReport {
  double accuracy = 0, loss = 0;
  nn::ConfusionMatrix confusion{1};
  nn::Tensor<F> logits;
  nn::Index images = 0;
};

class Example {
 public:
  Example(std::string name, std::string about, Common defaults)
      : name_(std::move(name)), c_(std::move(defaults)), cli_(name_, std::move(about)) {
    cli_.option("--data", &c_.data, "DIR", "data folder; default: found by nn::data::find_dataset")
        .option("--epochs", &c_.epochs, "N", "training epochs")
        .option("--batch-size", &c_.batch, "N", "batch size")
        .option("--lr", &c_.lr, "X", "learning rate")
        .option("--seed", &c_.seed, "N", "seed for the split, initialization, shuffling, dropout, augmentation")
        .option("--threads", &c_.threads, "N", "threads (0: OpenMP's default)")
        .option("--out", &c_.out, "DIR", "output folder")
        .flag("--quick", &c_.quick, "smoke test: a short run on a subset")
        .flag("--int8", &c_.int8, "also quantize the trained model to int8 and score it (a Sequential model)")
        .flag("--bf16", &c_.bf16, "also convert the trained model to bf16 and score it (a Sequential model)")
        .option("--calibration", &c_.calibration, "minmax|mse|percentile[:P]", "int8 calibration method")
        .option("--calibration-samples", &c_.calibration_samples, "N", "training images the int8 calibration sees");
  }
  cli::Cli& cli() { return cli_; }
  Common& common() { return c_; }
  const Common& common() const { return c_; }
  const std::string& out() const { return c_.out; }

  // Parses the command line; `resolve` (optional) then fills in defaults
  // that depend on other flags; a bad common value is a usage error (exit 2).
  void parse(int argc, char** argv, const std::function<void(Common&)>& resolve = {}) {
    cli_.parse(argc, argv);
    if (resolve) resolve(c_);
    if (c_.epochs < 1 || c_.batch < 2 || !(c_.lr > 0) || c_.threads < 0)
      fail("--epochs >= 1, --batch-size >= 2, --lr > 0, --threads >= 0");
    if (c_.calibration_samples < 1) fail("--calibration-samples >= 1");
    try {
      nn::quant::Calibration::parse(c_.calibration);
    } catch (const std::exception& e) {
      fail(std::string("--calibration: ") + e.what());
    }
    if (c_.threads > 0) nn::set_num_threads(c_.threads);
  }
  [[noreturn]] void fail(const std::string& msg) { cli_.fail(msg); }

  // Runs the example; an exception prints "<name>: error: <what>" and gives 1.
  int run(const std::function<int()>& body) const {
    try {
      return body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", name_.c_str(), e.what());
      return 1;
    }
  }

  // Prints the build, creates --out, and returns --data or, without it, the
  // dataset's folder from find_dataset.
  std::string data_dir(const std::string& dataset) {
    std::cout << "build: " << nn::build_info() << "\n";
    std::string d = c_.data;
    if (d.empty()) d = nn::data::find_dataset(dataset);
    else if (!std::filesystem::is_directory(d)) throw std::runtime_error("--data " + d + ": no such folder");
    std::cout << "data: " << d << "\n";
    std::filesystem::create_directories(c_.out);
    return d;
  }

  // history.csv as training goes, and checkpoints: best.nn (by `monitor`,
  // when given) and last.nn (every epoch, with optimizer state).
  std::vector<std::shared_ptr<nn::Callback<F>>> callbacks(const std::string& dir, const std::string& monitor = "") const {
    return {std::make_shared<nn::CSVLogger<F>>(dir + "/history.csv"),
            std::make_shared<nn::ModelCheckpoint<F>>(monitor.empty() ? "" : dir + "/best.nn", dir + "/last.nn",
                                                     monitor.empty() ? "val_accuracy" : monitor)};
  }

  // metrics.json's common fields; the example adds its own with set().
  nn::io::JsonObject metrics(const TestReport& t, const Trained& tr) const;

 private:
  std::string name_;
  Common c_;
  cli::Cli cli_;
};

// fit() timed; an error if no epoch finished (e.g. a non-finite loss at once).
inline Trained train(nn::Model<F>& model, const nn::Loss<F>& loss, nn::Optimizer<F>& opt,
                     const nn::data::Dataset<F>& data, const nn::FitOptions<F>& o) {
  Trained t;
  const auto t0 = std::chrono::steady_clock::now();
  t.history = nn::fit(model, loss, opt, data, o);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (t.history.epochs() == 0)
    throw std::runtime_error("training stopped before finishing an epoch: " + t.history.stop_reason);
  for (double v : t.history["images_per_second"]) t.images_per_second += v / t.history.epochs();
  return t;
}

// The inputs and targets of a dataset as two tensors.
inline std::pair<nn::Tensor<F>, nn::Tensor<F>> gather(const nn::data::Dataset<F>& ds) {
  const nn::Shape in = ds.input_shape();
  nn::Tensor<F> x(in.with_batch(ds.size())), y({ds.size()});
  for (nn::Index i = 0; i < ds.size(); ++i) ds.load(i, x.data() + i * in.size(), y.data() + i);
  return {std::move(x), std::move(y)};
}

// Scores the model on (x, y); prints the accuracy and the confusion matrix;
// writes curves.png (the training history), confusion.csv and confusion.png.
inline TestReport test_report(nn::Model<F>& model, const nn::Loss<F>& loss, const nn::Tensor<F>& x,
                              const nn::Tensor<F>& y, const std::vector<std::string>& class_names,
                              const Trained& trained, const std::string& dir, const std::string& title) {
  nn::plot::save_history_plot(dir + "/curves.png", trained.history, title);
  TestReport r;
  r.logits = nn::predict(model, x);
  r.confusion = nn::ConfusionMatrix(static_cast<int>(class_names.size()), class_names);
  r.confusion.add_batch(r.logits, y);
  r.accuracy = r.confusion.accuracy();
  r.loss = loss(r.logits, y);
  r.images = x.dim(0);
  std::printf("\ntest accuracy: %.2f%%  test loss: %.4f  (%lld images)\n\n", 100 * r.accuracy, r.loss,
              static_cast<long long>(r.images));
  std::cout << r.confusion.str();
  r.confusion.save_csv(dir + "/confusion.csv");
  nn::plot::save_confusion_png(dir + "/confusion.png", r.confusion, title + " (test set)");
  return r;
}

// Saves the model, loads it into a new object and checks that it gives the
// same test logits bit for bit (what a deployed copy would answer).
inline void save_and_check(nn::Model<F>& model, const std::string& path, const nn::Tensor<F>& x,
                           const nn::Tensor<F>& logits) {
  nn::save_model(path, model);
  nn::Tensor<F> again;
  if (dynamic_cast<nn::Sequential<F>*>(&model)) {
    auto reloaded = nn::load_model<F>(path);
    again = nn::predict(reloaded, x);
  } else {
    auto reloaded = nn::load_graph<F>(path);
    again = nn::predict(reloaded, x);
  }
  if (!std::equal(again.begin(), again.end(), logits.begin()))
    throw std::runtime_error(path + ": the reloaded model's test predictions differ from the trained model's");
  std::printf("saved %s; reloaded, it gives the same test predictions\n", path.c_str());
}

// With --int8 and/or --bf16: the trained model (a Sequential) at that
// precision (int8 calibrated with the first --calibration-samples images of
// a seeded shuffle of `train`), scored on (x, y) beside the float model's
// test logits, both timed on the test set (3 alternating rounds, medians),
// saved as model.int8.nn / model.bf16.nn (reloaded and checked bit for
// bit); adds int8_* / bf16_* fields to metrics j.
inline void quantize_report(const Example& ex, nn::Model<F>& model, const nn::data::Dataset<F>& train,
                            const nn::Tensor<F>& x, const nn::Tensor<F>& y, const TestReport& t,
                            nn::io::JsonObject& j) {
  const Common& c = ex.common();
  if (!c.int8 && !c.bf16) return;
  auto* seq = dynamic_cast<nn::Sequential<F>*>(&model);
  if (!seq) {
    std::printf("int8/bf16: skipped (quantization takes a Sequential model; this one is a graph)\n");
    return;
  }
  for (const nn::quant::Precision p : {nn::quant::Precision::Int8, nn::quant::Precision::BF16}) {
    const bool int8 = p == nn::quant::Precision::Int8;
    if ((int8 && !c.int8) || (!int8 && !c.bf16)) continue;
    const std::string name = nn::quant::precision_name(p);
    nn::quant::QuantizeOptions qo;
    qo.calibration = nn::quant::Calibration::parse(c.calibration);
    const nn::Index n = std::min<nn::Index>(c.calibration_samples, train.size());
    const auto t0 = std::chrono::steady_clock::now();
    nn::quant::QuantizedModel qm;
    if (int8) {
      std::vector<nn::Index> order(static_cast<std::size_t>(train.size()));
      for (nn::Index i = 0; i < train.size(); ++i) order[std::size_t(i)] = i;
      nn::Rng rng(c.seed + 17);
      for (nn::Index i = train.size() - 1; i > 0; --i)
        std::swap(order[std::size_t(i)], order[std::size_t(rng() % std::uint64_t(i + 1))]);
      const nn::Shape in = train.input_shape();
      nn::Tensor<F> calib(in.with_batch(n));
      F label = 0;
      for (nn::Index i = 0; i < n; ++i) train.load(order[std::size_t(i)], calib.data() + i * in.size(), &label);
      qm = nn::quant::quantize(*seq, calib, qo);
    } else {
      qm = nn::quant::quantize_bf16(*seq);
    }
    const double qsec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "\n" << qm.summary();
    const nn::Tensor<F> ql = qm.predict(x);
    nn::ConfusionMatrix cm(static_cast<int>(t.confusion.classes()));
    cm.add_batch(ql, y);
    nn::Index agree = 0;
    const nn::Index K = ql.size() / ql.dim(0);
    for (nn::Index i = 0; i < x.dim(0); ++i) {
      const F* a = ql.data() + i * K;
      const F* b = t.logits.data() + i * K;
      agree += std::max_element(a, a + K) - a == std::max_element(b, b + K) - b;
    }
    // Speed: float and the other precision alternating over the test set.
    std::vector<double> tf, tq;
    for (int r = 0; r < 3; ++r) {
      auto s0 = std::chrono::steady_clock::now();
      nn::predict(model, x);
      tf.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count());
      s0 = std::chrono::steady_clock::now();
      qm.predict(x);
      tq.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count());
    }
    std::sort(tf.begin(), tf.end());
    std::sort(tq.begin(), tq.end());
    const double ips_f = double(x.dim(0)) / tf[1], ips_q = double(x.dim(0)) / tq[1];
    const std::string path = ex.out() + "/model." + name + ".nn";
    nn::quant::save(path, qm);
    nn::quant::QuantizedModel back = nn::quant::load(path);
    const nn::Tensor<F> again = back.predict(x);
    if (!std::equal(again.begin(), again.end(), ql.begin()))
      throw std::runtime_error(path + ": the reloaded " + name + " model's test predictions differ");
    const std::string how = int8 ? "calibration: " + qo.calibration.str() + ", " + std::to_string(n) + " training images"
                                 : std::string("no calibration");
    std::printf("%s (%s, %.2f s): test accuracy %.2f%% (float %.2f%%, %+.2f points); "
                "the same class for %.2f%% of the test images\n"
                "inference on the test set: float %.0f images/s, %s %.0f images/s (%.2fx)\n"
                "saved %s (%lld bytes of weights); reloaded, it gives the same test predictions\n",
                name.c_str(), how.c_str(), qsec, 100 * cm.accuracy(), 100 * t.accuracy,
                100 * (cm.accuracy() - t.accuracy), 100.0 * double(agree) / double(x.dim(0)), ips_f, name.c_str(),
                ips_q, ips_q / ips_f, path.c_str(), static_cast<long long>(qm.weight_bytes()));
    j.set(name + "_test_accuracy", cm.accuracy())
        .set(name + "_accuracy_change", cm.accuracy() - t.accuracy)
        .set(name + "_agreement", double(agree) / double(x.dim(0)))
        .set(name + "_images_per_second", ips_q)
        .set(name + "_float_images_per_second", ips_f)
        .set(name + "_speedup", ips_q / ips_f);
    if (int8) j.set("int8_calibration", qo.calibration.str()).set("int8_calibration_images", long(n));
  }
}

inline nn::io::JsonObject Example::metrics(const TestReport& t, const Trained& tr) const {
  const auto& h = tr.history;
  nn::io::JsonObject j;
  j.set("test_accuracy", t.accuracy)
      .set("test_loss", t.loss)
      .set("test_images", long(t.images))
      .set("macro_f1", t.confusion.macro_f1())
      .set("epochs", h.epochs())
      .set("train_seconds", tr.seconds)
      .set("images_per_second", tr.images_per_second)
      .set("stop_reason", h.stop_reason)
      .set("seed", long(c_.seed))
      .set("threads", nn::num_threads())
      .set("quick", c_.quick)
      .set("build", nn::build_info());
  if (h.has("val_accuracy")) {
    const auto& va = h["val_accuracy"];
    j.set("best_val_accuracy", *std::max_element(va.begin(), va.end())).set("final_val_accuracy", va.back());
  }
  std::vector<double> f1;
  for (nn::Index c = 0; c < t.confusion.classes(); ++c) f1.push_back(t.confusion.f1(c));
  j.set_array("per_class_f1", f1);
  return j;
}

}  // namespace example
