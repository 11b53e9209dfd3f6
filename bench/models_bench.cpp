// nn_bench_models — whole-model throughput of the performance issue's
// workloads (W1-W5), training (forward + loss + backward + Adam step) and
// inference (eval-mode forward), on synthetic data of the right shapes.
//
//   nn_bench_models [--workload W1|W2|W3|W4|W5] [--mode train|infer] [--threads N]
//                   [--warmup N] [--iters N] [--summary]
// Prints one JSON object per line: workload, mode, threads, batch,
// images_per_second (median over iters), and the per-iteration seconds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "../examples/common/cli.hpp"
#include "workloads.hpp"

int main(int argc, char** argv) {
  std::string workload = "W1", mode = "train";
  int threads = 0, warmup = 3, iters = 20;
  bool summary = false, profile = false;
  cli::Cli cli("nn_bench_models", "Training and inference throughput of the benchmark workloads.");
  cli.option("--workload", &workload, "W1|W2|W3|W4|W5", "workload")
      .option("--mode", &mode, "train|infer", "what to time")
      .option("--threads", &threads, "N", "threads (0: OpenMP's default)")
      .option("--warmup", &warmup, "N", "untimed iterations first")
      .option("--iters", &iters, "N", "timed iterations")
      .flag("--summary", &summary, "print the model summary to stderr")
      .flag("--profile", &profile, "print per-layer forward/backward time to stderr");
  cli.parse(argc, argv);
  if (mode != "train" && mode != "infer") cli.fail("--mode must be train or infer");
  if (iters < 1 || warmup < 0) cli.fail("--iters >= 1, --warmup >= 0");
  try {
    if (threads > 0) nn::set_num_threads(threads);
    const auto w = workloads::get(workload);
    // labels (N), or (N, H, W) for a per-pixel workload
    nn::Tensor<float> x(w.input.with_batch(w.batch)), grad;
    nn::Tensor<float> y(workloads::per_pixel(workload) ? nn::Shape{w.batch, w.input[1], w.input[2]} : nn::Shape{w.batch});
    nn::Rng rng(7);
    x.fill_normal(rng, 0, 1);
    for (nn::Index i = 0; i < y.size(); ++i) y[i] = float(i % w.classes);
    std::vector<double> secs;
    // One timed loop for both kinds of model (W1-W3 Sequential, W4-W5 Graph).
    auto run = [&](auto& model) {
      if (summary) std::fprintf(stderr, "%s", model.summary().c_str());
      nn::SoftmaxCrossEntropy<float> loss;
      nn::Adam<float> opt(model.parameters());
      for (int it = 0; it < warmup + iters; ++it) {
        if (it == warmup) {
          if (profile) model.set_profiling(true);
          nn::reset_thread_stats();
        }
        const auto t0 = std::chrono::steady_clock::now();
        if (mode == "train") {
          model.zero_grad();
          loss.compute(model.forward(x, true), y, &grad);
          model.backward(grad);
          opt.step();
        } else {
          const auto& out = model.forward(x, false);
          if (!std::isfinite(out[0])) throw std::runtime_error("non-finite output");
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (it >= warmup) secs.push_back(s);
      }
      if (profile) std::fprintf(stderr, "%s", model.profile().c_str());
    };
    if (workloads::is_graph(workload)) {
      auto model = workloads::build_graph(workload);
      run(model);
    } else {
      auto model = workloads::build(workload);
      run(model);
    }
    std::vector<double> sorted = secs;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    double total = 0;
    for (double v : secs) total += v;
    // The governor's view of the timed steps (nn/runtime/governor.hpp).
    const nn::ThreadStats ts = nn::thread_stats();
    std::printf("{\"impl\": \"nn\", \"workload\": \"%s\", \"mode\": \"%s\", \"threads\": %d, \"batch\": %lld, "
                "\"images_per_second\": %.1f, \"images_per_second_mean\": %.1f, "
                "\"governor\": {\"adaptive\": %s, \"team_regions\": %lld, \"fallback_regions\": %lld, "
                "\"fallbacks\": %lld, \"retries_skipped\": %lld, \"team_cores\": %.3f, \"fallback_cores\": %.3f}, \"seconds\": [",
                workload.c_str(), mode.c_str(), nn::num_threads(), static_cast<long long>(w.batch),
                double(w.batch) / median, double(w.batch) * double(secs.size()) / total,
                nn::adaptive_threads() ? "true" : "false", ts.team_regions, ts.fallback_regions, ts.fallbacks, ts.retries_skipped,
                ts.team_cores(), ts.fallback_cores());
    for (std::size_t i = 0; i < secs.size(); ++i) std::printf("%s%.6f", i ? ", " : "", secs[i]);
    std::printf("]}\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn_bench_models: error: %s\n", e.what());
    return 1;
  }
}
