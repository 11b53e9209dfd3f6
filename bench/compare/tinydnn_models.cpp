// tinydnn_models — the benchmark workloads W1 and W3 in tiny-dnn (Debian's
// `tiny-dnn` package), for bench/compare/run.py. Training throughput only:
// one epoch over (warmup + iters) batches of synthetic data; each batch is
// timed through tiny-dnn's batch callback. Prints a JSON line like
// nn_bench_models. (W2 needs batch norm, dropout and zero padding in
// tiny-dnn's API and is not written.)
//   tinydnn_models --workload W1|W3 [--iters N] [--warmup N]
#include <tiny_dnn/tiny_dnn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  using namespace tiny_dnn;
  using namespace tiny_dnn::activation;
  using namespace tiny_dnn::layers;
  std::string workload = "W1";
  int iters = 10, warmup = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--workload")) workload = argv[i + 1];
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--warmup")) warmup = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--mode") && std::strcmp(argv[i + 1], "train")) {
      std::fprintf(stderr, "tinydnn_models: only --mode train\n");
      return 2;
    } else if (std::strcmp(argv[i], "--threads") && std::strcmp(argv[i], "--mode")) {
      std::fprintf(stderr, "tinydnn_models: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  network<sequential> net;
  size_t batch = 0, in_size = 0, classes = 10;
  if (workload == "W1") {
    batch = 64, in_size = 28 * 28;
    net << conv<relu>(28, 28, 5, 1, 32) << max_pool<identity>(24, 24, 32, 2) << conv<relu>(12, 12, 5, 32, 64)
        << max_pool<identity>(8, 8, 64, 2) << fc<relu>(1024, 128) << fc<softmax>(128, 10);
  } else if (workload == "W3") {
    batch = 128, in_size = 3 * 32 * 32;
    net << conv<relu>(32, 32, 3, 3, 32, padding::same) << conv<relu>(32, 32, 3, 32, 32, padding::same)
        << max_pool<identity>(32, 32, 32, 2) << conv<relu>(16, 16, 3, 32, 64, padding::same)
        << conv<relu>(16, 16, 3, 64, 64, padding::same) << max_pool<identity>(16, 16, 64, 2)
        << fc<elu>(4096, 512) << fc<softmax>(512, 10);
  } else {
    std::fprintf(stderr, "tinydnn_models: workload %s not available (W1, W3)\n", workload.c_str());
    return 2;
  }
  const size_t n = batch * size_t(warmup + iters);
  std::mt19937 gen(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<vec_t> x(n, vec_t(in_size));
  std::vector<label_t> y(n);
  for (size_t i = 0; i < n; ++i) {
    for (auto& v : x[i]) v = nd(gen);
    y[i] = label_t(i % classes);
  }
  adam opt;
  std::vector<double> secs;
  auto last = std::chrono::steady_clock::now();
  net.train<cross_entropy_multiclass>(
      opt, x, y, batch, 1,
      [&]() {
        const auto now = std::chrono::steady_clock::now();
        secs.push_back(std::chrono::duration<double>(now - last).count());
        last = now;
      },
      []() {});
  std::vector<double> timed(secs.begin() + std::min<long>(warmup, long(secs.size())), secs.end());
  if (timed.empty()) return 3;
  std::vector<double> sorted = timed;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (double v : timed) total += v;
  std::printf("{\"impl\": \"tiny-dnn\", \"workload\": \"%s\", \"mode\": \"train\", \"batch\": %zu, "
              "\"images_per_second\": %.1f, \"images_per_second_mean\": %.1f}\n",
              workload.c_str(), batch, double(batch) / sorted[sorted.size() / 2],
              double(batch) * double(timed.size()) / total);
  return 0;
}
