// nn_bench_models — whole-model throughput of the performance issue's
// workloads (W1-W5), training (forward + loss + backward + Adam step) and
// inference (eval-mode forward), on synthetic data of the right shapes.
//
//   nn_bench_models [--workload W1|W2|W3|W4|W5] [--mode train|infer] [--threads N]
//                   [--precision float|int8|bf16|both|all] [--warmup N] [--iters N] [--summary]
// Prints one JSON object per line: workload, mode, threads, batch,
// images_per_second (median over iters), and the per-iteration seconds.
// --precision int8 times the post-training int8 model (nn/quant/, Sequential
// workloads W1-W3, calibrated on another synthetic batch), bf16 the bf16
// model; both alternates float and int8 iterations in one run, all float,
// int8 and bf16; each prints a line per precision, the low-precision lines
// with their ratio to float (medians).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "../examples/common/cli.hpp"
#include "workloads.hpp"

int main(int argc, char** argv) {
  std::string workload = "W1", mode = "train", precision = "float";
  int threads = 0, warmup = 3, iters = 20;
  bool summary = false, profile = false;
  cli::Cli cli("nn_bench_models", "Training and inference throughput of the benchmark workloads.");
  cli.option("--workload", &workload, "W1|W2|W3|W4|W5", "workload")
      .option("--mode", &mode, "train|infer", "what to time")
      .option("--threads", &threads, "N", "threads (0: OpenMP's default)")
      .option("--precision", &precision, "float|int8|bf16|both|all", "inference precision (--mode infer)")
      .option("--warmup", &warmup, "N", "untimed iterations first")
      .option("--iters", &iters, "N", "timed iterations")
      .flag("--summary", &summary, "print the model summary to stderr")
      .flag("--profile", &profile, "print per-layer forward/backward time to stderr");
  cli.parse(argc, argv);
  if (mode != "train" && mode != "infer") cli.fail("--mode must be train or infer");
  if (iters < 1 || warmup < 0) cli.fail("--iters >= 1, --warmup >= 0");
  if (precision != "float" && precision != "int8" && precision != "bf16" && precision != "both" && precision != "all")
    cli.fail("--precision must be float, int8, bf16, both or all");
  if (precision != "float" && mode != "infer") cli.fail("--precision other than float needs --mode infer");
  try {
    if (threads > 0) nn::set_num_threads(threads);
    const auto w = workloads::get(workload);
    // labels (N), or (N, H, W) for a per-pixel workload
    nn::Tensor<float> x(w.input.with_batch(w.batch)), grad;
    nn::Tensor<float> y(workloads::per_pixel(workload) ? nn::Shape{w.batch, w.input[1], w.input[2]} : nn::Shape{w.batch});
    nn::Rng rng(7);
    x.fill_normal(rng, 0, 1);
    for (nn::Index i = 0; i < y.size(); ++i) y[i] = float(i % w.classes);
    std::vector<double> secs, secs_q, secs_b;
    const bool want_float = precision == "float" || precision == "both" || precision == "all";
    const bool want_q = precision == "int8" || precision == "both" || precision == "all";
    const bool want_b = precision == "bf16" || precision == "all";
    auto timed = [](auto&& fn) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    // One timed loop for both kinds of model (W1-W3 Sequential, W4-W5 Graph).
    auto run = [&](auto& model, nn::quant::QuantizedModel* qm, nn::quant::QuantizedModel* qb) {
      if (summary) std::fprintf(stderr, "%s", model.summary().c_str());
      if (summary && qm) std::fprintf(stderr, "%s", qm->summary().c_str());
      if (summary && qb) std::fprintf(stderr, "%s", qb->summary().c_str());
      nn::SoftmaxCrossEntropy<float> loss;
      nn::Adam<float> opt(model.parameters());
      for (int it = 0; it < warmup + iters; ++it) {
        if (it == warmup) {
          if (profile) model.set_profiling(true);
          if (profile && qm) qm->set_profiling(true);
          if (profile && qb) qb->set_profiling(true);
          nn::reset_thread_stats();
        }
        if (mode == "train") {
          const double s = timed([&] {
            model.zero_grad();
            loss.compute(model.forward(x, true), y, &grad);
            model.backward(grad);
            opt.step();
          });
          if (it >= warmup) secs.push_back(s);
          continue;
        }
        if (want_float) {
          const double s = timed([&] {
            if (!std::isfinite(model.forward(x, false)[0])) throw std::runtime_error("non-finite output");
          });
          if (it >= warmup) secs.push_back(s);
        }
        if (want_q) {
          const double s = timed([&] {
            if (!std::isfinite(qm->forward(x)[0])) throw std::runtime_error("non-finite int8 output");
          });
          if (it >= warmup) secs_q.push_back(s);
        }
        if (want_b) {
          const double s = timed([&] {
            if (!std::isfinite(qb->forward(x)[0])) throw std::runtime_error("non-finite bf16 output");
          });
          if (it >= warmup) secs_b.push_back(s);
        }
      }
      if (profile) std::fprintf(stderr, "%s", model.profile().c_str());
      if (profile && qm) std::fprintf(stderr, "%s", qm->profile().c_str());
      if (profile && qb) std::fprintf(stderr, "%s", qb->profile().c_str());
    };
    if (workloads::is_graph(workload)) {
      if (want_q || want_b)
        throw std::invalid_argument("int8/bf16 quantization takes a Sequential model (W1-W3), not " + workload);
      auto model = workloads::build_graph(workload);
      run(model, nullptr, nullptr);
    } else {
      auto model = workloads::build(workload);
      std::unique_ptr<nn::quant::QuantizedModel> qm, qb;
      if (want_q) {
        nn::Tensor<float> calib(w.input.with_batch(w.batch));
        calib.fill_normal(rng, 0, 1);
        qm = std::make_unique<nn::quant::QuantizedModel>(nn::quant::quantize(model, calib));
      }
      if (want_b) qb = std::make_unique<nn::quant::QuantizedModel>(nn::quant::quantize_bf16(model));
      run(model, qm.get(), qb.get());
    }
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    // The governor's view of the timed steps (nn/runtime/governor.hpp).
    const nn::ThreadStats ts = nn::thread_stats();
    auto report = [&](const std::vector<double>& v, const char* prec, double ratio) {
      const double median = median_of(v);
      double total = 0;
      for (double e : v) total += e;
      std::printf("{\"impl\": \"nn\", \"workload\": \"%s\", \"mode\": \"%s\", \"precision\": \"%s\", \"threads\": %d, "
                  "\"batch\": %lld, \"images_per_second\": %.1f, \"images_per_second_mean\": %.1f, ",
                  workload.c_str(), mode.c_str(), prec, nn::num_threads(), static_cast<long long>(w.batch),
                  double(w.batch) / median, double(w.batch) * double(v.size()) / total);
      if (ratio > 0) std::printf("\"speedup_vs_float\": %.3f, ", ratio);
      std::printf("\"governor\": {\"adaptive\": %s, \"team_regions\": %lld, \"fallback_regions\": %lld, "
                  "\"fallbacks\": %lld, \"retries_skipped\": %lld, \"team_cores\": %.3f, \"fallback_cores\": %.3f}, "
                  "\"seconds\": [",
                  nn::adaptive_threads() ? "true" : "false", ts.team_regions, ts.fallback_regions, ts.fallbacks,
                  ts.retries_skipped, ts.team_cores(), ts.fallback_cores());
      for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.6f", i ? ", " : "", v[i]);
      std::printf("]}\n");
    };
    if (!secs.empty()) report(secs, "float", 0);
    if (!secs_q.empty()) report(secs_q, "int8", secs.empty() ? 0 : median_of(secs) / median_of(secs_q));
    if (!secs_b.empty()) report(secs_b, "bf16", secs.empty() ? 0 : median_of(secs) / median_of(secs_b));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn_bench_models: error: %s\n", e.what());
    return 1;
  }
}
