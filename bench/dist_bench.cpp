// nn_bench_dist — data-parallel training throughput of a benchmark workload
// over MPI ranks: the workload's batch is split over the ranks (global batch
// as nn_bench_models'), each rank steps forward + loss + backward, the
// gradients are averaged (nn::dist::GradientAverager), Adam steps. Synthetic
// data of the right shapes. Rank 0 prints one JSON line: global images/s
// (median step) and the median milliseconds per step spent in the gradient
// average.
//
//   mpirun -np 2 nn_bench_dist --workload W3 [--iters N] [--warmup N] [--bucket-mib X]
// Compare with nn_bench_models --workload W3 --threads 2 in the same session.
#include <nn/dist/mpi.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "../examples/common/cli.hpp"
#include "workloads.hpp"

int main(int argc, char** argv) {
  nn::dist::Environment env(&argc, &argv);
  nn::dist::Communicator comm;
  std::string workload = "W1";
  int warmup = 3, iters = 20;
  double bucket_mib = 4;
  cli::Cli cli("nn_bench_dist", "Data-parallel training throughput of a benchmark workload over MPI ranks.");
  cli.option("--workload", &workload, "W1|W2|W3", "workload (a Sequential one)")
      .option("--warmup", &warmup, "N", "untimed steps first")
      .option("--iters", &iters, "N", "timed steps")
      .option("--bucket-mib", &bucket_mib, "X", "gradient bucket size in MiB");
  cli.parse(argc, argv);
  try {
    if (iters < 1 || warmup < 0 || !(bucket_mib > 0)) throw std::invalid_argument("--iters >= 1, --warmup >= 0, --bucket-mib > 0");
    if (workloads::is_graph(workload)) throw std::invalid_argument("--workload: W1, W2 or W3");
    const auto w = workloads::get(workload);
    if (w.batch % comm.size()) throw std::invalid_argument("the batch of " + workload + " does not split over the ranks");
    const nn::Index local = w.batch / comm.size();
    nn::Tensor<float> x(w.input.with_batch(local)), y({local}), grad;
    nn::Rng rng(7 + std::uint64_t(comm.rank()));
    x.fill_normal(rng, 0, 1);
    for (nn::Index i = 0; i < y.size(); ++i) y[i] = float(i % w.classes);
    auto model = workloads::build(workload);
    nn::dist::check_same_model(comm, model);
    nn::dist::broadcast_model(comm, model);
    nn::dist::GradientAverager<float>::Options o;
    o.bucket_bytes = std::size_t(bucket_mib * 1048576);
    nn::dist::GradientAverager<float> avg(comm, model.parameters(), o);
    nn::SoftmaxCrossEntropy<float> loss;
    nn::Adam<float> opt(model.parameters());
    std::vector<double> step, reduce;
    for (int it = 0; it < warmup + iters; ++it) {
      comm.barrier();  // steps start together, so the average's wait is not another rank's late start
      const auto t0 = std::chrono::steady_clock::now();
      model.zero_grad();
      loss.compute(model.forward(x, true), y, &grad);
      model.backward(grad);
      const auto t1 = std::chrono::steady_clock::now();
      avg.average();
      const auto t2 = std::chrono::steady_clock::now();
      opt.step();
      const auto t3 = std::chrono::steady_clock::now();
      if (it >= warmup) {
        step.push_back(std::chrono::duration<double>(t3 - t0).count());
        reduce.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    nn::Index params = 0;
    for (auto& p : model.parameters()) params += p.value->size();
    if (comm.is_root())
      std::printf("{\"impl\": \"nn-mpi\", \"workload\": \"%s\", \"ranks\": %d, \"threads_per_rank\": %d, \"batch\": %lld, "
                  "\"images_per_second\": %.1f, \"allreduce_ms\": %.3f, \"step_ms\": %.3f, \"gradient_mib\": %.2f, "
                  "\"buckets\": %zu}\n",
                  workload.c_str(), comm.size(), nn::num_threads(), static_cast<long long>(w.batch),
                  double(w.batch) / median(step), median(reduce), 1e3 * median(step),
                  double(params) * 4 / 1048576, avg.buckets());
    return 0;
  } catch (const std::exception& e) {
    comm.abort(std::string("nn_bench_dist: error: ") + e.what());
  }
}
