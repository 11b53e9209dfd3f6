// nn_bench_peak — the CPU's measured multiply-accumulate peak per
// instruction kind (bench/peak.hpp), on 1 thread and on N threads.
//
//   nn_bench_peak [--threads N]
// Prints one JSON object per line: op, threads, gmacs_per_second, and the
// ratio to the float FMA peak on as many threads.
#include "../examples/common/cli.hpp"
#include "peak.hpp"

int main(int argc, char** argv) {
  int threads = 0;
  cli::Cli cli("nn_bench_peak", "Measured MAC peak of float FMA, int8 VNNI and bf16 instructions.");
  cli.option("--threads", &threads, "N", "threads (0: OpenMP's default)");
  cli.parse(argc, argv);
  if (threads > 0) nn::set_num_threads(threads);
  const int all = nn::num_threads();
  for (int t : {1, all}) {
    if (t == 1 && all == 1 && t != all) continue;
    const double fma = peak::measure(peak::Op::Fma32, t);
    for (peak::Op op : {peak::Op::Fma32, peak::Op::Vnni8, peak::Op::Bf16}) {
      const double r = op == peak::Op::Fma32 ? fma : peak::measure(op, t);
      std::printf("{\"op\": \"%s\", \"threads\": %d, \"available\": %s, \"gmacs_per_second\": %.1f, "
                  "\"ratio_to_fp32_fma\": %.3f}\n",
                  peak::name(op), t, peak::available(op) ? "true" : "false", r / 1e9, fma > 0 ? r / fma : 0.0);
    }
    if (all == 1) break;
  }
  return 0;
}
