// nn-quantize — post-training int8 (and bf16) versions of a saved model,
// scored on an MNIST-format test set (MNIST or Fashion-MNIST).
//   nn-quantize --model runs/mnist/model.nn [--dataset mnist|fashion-mnist] [--data DIR]
//               [--precision int8|bf16|both] [--calibration minmax,mse,percentile[:P]]
//               [--calibration-samples N] [--seed N] [--out FILE]
// For each int8 calibration method (a comma list) it quantizes the model
// with the first N images of a seeded shuffle of the training set; bf16
// needs none. Each row gives the test accuracy beside float's, how often the
// two agree, and the time of each over the test set (alternating, medians of
// 3). The first row's model is saved to --out, reloaded and checked.
#include <nn/nn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "../common/cli.hpp"

namespace {
double accuracy(const nn::Tensor<float>& logits, const nn::Tensor<float>& y) {
  const nn::Index n = logits.dim(0), k = logits.size() / n;
  nn::Index right = 0;
  for (nn::Index i = 0; i < n; ++i) {
    const float* r = logits.data() + i * k;
    right += nn::Index(std::max_element(r, r + k) - r) == nn::Index(y[i]);
  }
  return double(right) / double(n);
}
template <class Fn>
double median_seconds(Fn&& fn) {
  std::vector<double> t;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[1];
}
}  // namespace

int main(int argc, char** argv) {
  std::string model_path, dataset = "mnist", data, methods = "percentile", out, precision = "int8";
  int samples = 512, threads = 0;
  std::uint64_t seed = 1;
  cli::Cli cli("nn-quantize", "Quantizes a saved model to int8 and scores it beside float on an MNIST-format test set.");
  cli.option("--model", &model_path, "FILE", "a Sequential saved by nn (e.g. runs/mnist/model.nn)")
      .option("--dataset", &dataset, "mnist|fashion-mnist", "the data set the model was trained on")
      .option("--data", &data, "DIR", "data folder; default: found by nn::data::find_dataset")
      .option("--precision", &precision, "int8|bf16|both", "what to make")
      .option("--calibration", &methods, "LIST", "int8: comma list of minmax, mse, percentile, percentile:P")
      .option("--calibration-samples", &samples, "N", "training images the calibration sees")
      .option("--seed", &seed, "N", "seed of the calibration images' choice")
      .option("--threads", &threads, "N", "threads (0: OpenMP's default)")
      .option("--out", &out, "FILE", "save the first method's int8 model here");
  cli.parse(argc, argv);
  if (model_path.empty()) cli.fail("--model is required");
  if (dataset != "mnist" && dataset != "fashion-mnist") cli.fail("--dataset must be mnist or fashion-mnist");
  if (samples < 1 || threads < 0) cli.fail("--calibration-samples >= 1, --threads >= 0");
  if (precision != "int8" && precision != "bf16" && precision != "both") cli.fail("--precision must be int8, bf16 or both");
  std::vector<nn::quant::Calibration> cals;
  {
    std::stringstream ss(methods);
    std::string m;
    try {
      while (std::getline(ss, m, ',')) cals.push_back(nn::quant::Calibration::parse(m));
    } catch (const std::exception& e) {
      cli.fail(std::string("--calibration: ") + e.what());
    }
    if (cals.empty()) cli.fail("--calibration: no method given");
  }
  try {
    if (threads > 0) nn::set_num_threads(threads);
    std::printf("build: %s\n", nn::build_info().c_str());
    auto model = nn::load_model<float>(model_path);
    const std::string dir = data.empty() ? nn::data::find_dataset(dataset) : data;
    auto d = nn::data::load_mnist<float>(dir);
    if (model.input_shape() != nn::Shape{1, 28, 28})
      throw std::runtime_error(model_path + ": expects inputs " + model.input_shape().str() + ", not (1, 28, 28)");
    const nn::Index n = std::min<nn::Index>(samples, d.train_x.dim(0));
    std::vector<nn::Index> order(static_cast<std::size_t>(d.train_x.dim(0)));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = nn::Index(i);
    nn::Rng rng(seed);
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[std::size_t(rng() % (i + 1))]);
    nn::Tensor<float> calib(nn::Shape{n, 1, 28, 28});
    for (nn::Index i = 0; i < n; ++i)
      std::copy(d.train_x.data() + order[std::size_t(i)] * 784, d.train_x.data() + (order[std::size_t(i)] + 1) * 784,
                calib.data() + i * 784);
    const nn::Tensor<float> fl = nn::predict(model, d.test_x);
    const double af = accuracy(fl, d.test_y);
    std::printf("%s on %s test (%lld images): float %.2f%%; calibration on %lld training images\n\n", model_path.c_str(),
                dataset.c_str(), static_cast<long long>(d.test_x.dim(0)), 100 * af, static_cast<long long>(n));
    std::printf("%-23s %9s %8s %9s %12s %12s %8s\n", "model", "accuracy", "change", "agreement", "float img/s",
                "img/s", "speedup");
    const std::size_t rows = (precision != "bf16" ? cals.size() : 0) + (precision != "int8" ? 1 : 0);
    for (std::size_t m = 0; m < rows; ++m) {
      const bool int8 = precision != "bf16" && m < cals.size();
      nn::quant::QuantizeOptions qo;
      if (int8) qo.calibration = cals[m];
      nn::quant::QuantizedModel qm = int8 ? nn::quant::quantize(model, calib, qo) : nn::quant::quantize_bf16(model);
      const std::string label = int8 ? "int8 " + qo.calibration.str() : std::string("bf16");
      const nn::Tensor<float> ql = qm.predict(d.test_x);
      const double aq = accuracy(ql, d.test_y);
      nn::Index agree = 0;
      for (nn::Index i = 0; i < ql.dim(0); ++i) {
        const float* a = ql.data() + i * 10;
        const float* b = fl.data() + i * 10;
        agree += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b;
      }
      double tf = 0, tq = 0;
      for (int r = 0; r < 3; ++r) {  // alternating
        tf += median_seconds([&] { nn::predict(model, d.test_x); });
        tq += median_seconds([&] { qm.predict(d.test_x); });
      }
      const double nimg = double(d.test_x.dim(0));
      std::printf("%-23s %8.2f%% %+7.2f %8.2f%% %12.0f %12.0f %7.2fx\n", label.c_str(), 100 * aq,
                  100 * (aq - af), 100.0 * double(agree) / nimg, 3 * nimg / tf, 3 * nimg / tq, tf / tq);
      if (m == 0 && !out.empty()) {
        nn::quant::save(out, qm);
        const nn::Tensor<float> again = nn::quant::load(out).predict(d.test_x);
        if (!std::equal(again.begin(), again.end(), ql.begin()))
          throw std::runtime_error(out + ": the reloaded model's predictions differ");
        std::printf("  saved %s; reloaded, it gives the same predictions\n", out.c_str());
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn-quantize: error: %s\n", e.what());
    return 1;
  }
}
