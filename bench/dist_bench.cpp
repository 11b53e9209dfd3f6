// nn_bench_dist — data-parallel training throughput of a benchmark workload
// over MPI ranks: the workload's batch is split over the ranks (global batch
// as nn_bench_models'), each rank steps forward + loss + backward, the
// gradients are averaged (nn::dist::GradientAverager), Adam steps. Synthetic
// data of the right shapes. With --overlap both (the default) the steps
// alternate between buckets started during backward (the gradient hook) and
// all buckets started after it. Rank 0 prints one JSON line per mode: global
// images/s (median step), and the median milliseconds per step the average
// costs on the critical path: inside backward (packing, starting, progress
// calls) and after it (starting the rest, waiting, unpacking).
//
// --sweep instead times MPI_Allreduce alone (sum of floats, in place) from
// 4 KiB to 16 MiB: the latency and bandwidth of the transport the ranks use,
// the inputs of the step-time model in docs/distributed.md.
//
//   mpirun -np 2 nn_bench_dist --workload W3 [--iters N] [--warmup N] [--bucket-mib X] [--overlap on|off|both]
//   mpirun -np 2 nn_bench_dist --sweep
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
  std::string workload = "W1", overlap = "both";
  int warmup = 3, iters = 20;
  double bucket_mib = 4;
  bool sweep = false;
  cli::Cli cli("nn_bench_dist", "Data-parallel training throughput of a benchmark workload over MPI ranks.");
  cli.option("--workload", &workload, "W1|W2|W3", "workload (a Sequential one)")
      .option("--warmup", &warmup, "N", "untimed steps first")
      .option("--iters", &iters, "N", "timed steps (per mode)")
      .option("--bucket-mib", &bucket_mib, "X", "gradient bucket size in MiB")
      .option("--overlap", &overlap, "on|off|both", "start buckets during backward, after it, or alternate")
      .flag("--sweep", &sweep, "time MPI_Allreduce alone over message sizes");
  cli.parse(argc, argv);
  try {
    if (sweep) {
      for (std::size_t bytes = 4096; bytes <= (std::size_t(16) << 20); bytes *= 4) {
        std::vector<float> buf(bytes / sizeof(float), 1.0f);
        std::vector<double> ms[2];  // blocking, non-blocking (MPI_Iallreduce + MPI_Wait), alternating
        for (int it = 0; it < 2 * (warmup + iters); ++it) {
          comm.barrier();
          const double t0 = MPI_Wtime();
          if (it % 2 == 0) {
            MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(buf.size()), MPI_FLOAT, MPI_SUM, comm.get());
          } else {
            MPI_Request r;
            MPI_Iallreduce(MPI_IN_PLACE, buf.data(), int(buf.size()), MPI_FLOAT, MPI_SUM, comm.get(), &r);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
          }
          if (it / 2 >= warmup) ms[it % 2].push_back(1e3 * (MPI_Wtime() - t0));
        }
        for (auto& v : ms) std::sort(v.begin(), v.end());
        if (comm.is_root())
          std::printf("{\"impl\": \"nn-mpi\", \"allreduce_bytes\": %zu, \"ranks\": %d, \"blocking_ms\": %.4f, "
                      "\"nonblocking_ms\": %.4f}\n",
                      bytes, comm.size(), ms[0][ms[0].size() / 2], ms[1][ms[1].size() / 2]);
      }
      return 0;
    }
    if (iters < 1 || warmup < 0 || !(bucket_mib > 0)) throw std::invalid_argument("--iters >= 1, --warmup >= 0, --bucket-mib > 0");
    if (overlap != "on" && overlap != "off" && overlap != "both") throw std::invalid_argument("--overlap: on, off or both");
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
    const std::vector<bool> modes = overlap == "both" ? std::vector<bool>{true, false}
                                                      : std::vector<bool>{overlap == "on"};
    struct Times {
      std::vector<double> step, inside, after;
    };
    std::vector<Times> t(modes.size());
    const int total = (warmup + iters) * int(modes.size());
    for (int it = 0; it < total; ++it) {
      const std::size_t m = std::size_t(it) % modes.size();  // alternate: the machine's drift hits both alike
      if (modes[m])
        avg.attach(model);
      else
        avg.detach(model);
      comm.barrier();  // steps start together, so the average's wait is not another rank's late start
      avg.reset_stats();
      const auto t0 = std::chrono::steady_clock::now();
      model.zero_grad();
      loss.compute(model.forward(x, true), y, &grad);
      model.backward(grad);
      avg.finish();
      opt.step();
      const auto t1 = std::chrono::steady_clock::now();
      if (it / int(modes.size()) >= warmup) {
        t[m].step.push_back(std::chrono::duration<double>(t1 - t0).count());
        t[m].inside.push_back(1e3 * avg.stats().in_backward);
        t[m].after.push_back(1e3 * avg.stats().after_backward);
      }
    }
    avg.detach(model);
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    nn::Index params = 0;
    for (auto& p : model.parameters()) params += p.value->size();
    if (comm.is_root())
      for (std::size_t m = 0; m < modes.size(); ++m)
        std::printf("{\"impl\": \"nn-mpi\", \"workload\": \"%s\", \"ranks\": %d, \"threads_per_rank\": %d, "
                    "\"batch\": %lld, \"overlap\": %s, \"images_per_second\": %.1f, \"step_ms\": %.3f, "
                    "\"allreduce_in_backward_ms\": %.3f, \"allreduce_after_backward_ms\": %.3f, "
                    "\"gradient_mib\": %.2f, \"buckets\": %zu}\n",
                    workload.c_str(), comm.size(), nn::num_threads(), static_cast<long long>(w.batch),
                    modes[m] ? "true" : "false", double(w.batch) / median(t[m].step), 1e3 * median(t[m].step),
                    median(t[m].inside), median(t[m].after), double(params) * 4 / 1048576, avg.buckets());
    return 0;
  } catch (const std::exception& e) {
    comm.abort(std::string("nn_bench_dist: error: ") + e.what());
  }
}
