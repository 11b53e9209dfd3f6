// nn/runtime/parallel.hpp — thread control for nn's kernels.
//
// nn parallelizes where the work is (over the batch, over channels, over
// blocks of a GEMM's output), always through parallel_for below: on OpenMP's
// team, or on BlockingPool's (thread_pool.hpp) when the governor
// (governor.hpp), which sees every region, finds OpenMP's spinning team
// losing on a busy machine.
// set_num_threads(n) sets OpenMP's thread count; without OpenMP it is a no-op
// and num_threads() is 1.
#pragma once
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/runtime/governor.hpp"
#include "nn/runtime/thread_pool.hpp"

namespace nn {

// nn does all its own threading (OpenMP, dynamic where the work is uneven);
// Eigen's internal GEMM threading is switched off, because its static split
// collapses when another process keeps a core busy.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("nn::set_num_threads: n must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(1);
}

namespace detail {
// Switches Eigen's own GEMM threading off in every program that includes nn.
inline const bool eigen_single_threaded = (Eigen::setNbThreads(1), true);
}  // namespace detail

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// The governor (governor.hpp), on by default: off with
// set_adaptive_threads(false) or NN_ADAPTIVE_THREADS=0.
inline void set_adaptive_threads(bool on) { detail::Governor::instance().set_enabled(on); }
inline bool adaptive_threads() { return detail::Governor::instance().enabled(); }
inline ThreadStats thread_stats() { return detail::Governor::instance().stats(); }
inline void reset_thread_stats() { detail::Governor::instance().reset_stats(); }

namespace detail {
// The team for the next region: one thread when the region is not worth
// threads or is called inside a parallel region; else num_threads() threads,
// on the team the governor chooses. Call it once per region and pass the
// result to parallel_for.
inline Team plan_team(bool worth) {
  if (!worth) return {};
  const int full = num_threads();
  if (full < 2) return {};
#ifdef _OPENMP
  if (omp_in_parallel()) return {};
#endif
  if (BlockingPool::in_region()) return {};
  return Governor::instance().team(full);
}

// Runs body(i, tid) for every i in [0, n) on team.threads threads (OpenMP,
// schedule(dynamic, grain), or the same on BlockingPool when team.blocking),
// tid in [0, team.threads); serially with tid 0 on one thread. The body must
// not throw. Measured regions report their wall
// time and their threads' CPU time to the governor.
template <class Body>
void parallel_for(Team team, std::ptrdiff_t n, std::ptrdiff_t grain, Body&& body) {
  using Clock = Governor::Clock;
  grain = std::max<std::ptrdiff_t>(grain, 1);
  if (team.threads > 1 && n <= grain) team = Team{};  // one chunk: nothing to share
  const auto t0 = team.measured ? Clock::now() : Clock::time_point{};
  double cpu = 0;
  if (team.threads > 1 && team.blocking) {
    cpu = BlockingPool::instance().run(team.threads, n, grain, body, team.measured);
  } else
#ifdef _OPENMP
  if (team.threads > 1) {
#pragma omp parallel num_threads(team.threads) reduction(+ : cpu)
    {
      const double c0 = team.measured ? thread_cpu_seconds() : 0.0;
#pragma omp for schedule(dynamic, grain) nowait
      for (std::ptrdiff_t i = 0; i < n; ++i) body(i, omp_get_thread_num());
      if (team.measured) cpu += thread_cpu_seconds() - c0;
    }
  } else
#endif
  {
    const double c0 = team.measured ? thread_cpu_seconds() : 0.0;
    for (std::ptrdiff_t i = 0; i < n; ++i) body(i, 0);
    if (team.measured) cpu = thread_cpu_seconds() - c0;
  }
  if (team.measured)
    Governor::instance().record(team.threads, team.blocking,
                                std::chrono::duration<double>(Clock::now() - t0).count(), cpu);
}

// parallel_for on the team plan_team(worth) gives.
template <class Body>
void parallel_for(std::ptrdiff_t n, bool worth, std::ptrdiff_t grain, Body&& body) {
  parallel_for(plan_team(worth), n, grain, std::forward<Body>(body));
}

// Runs fn(begin, end) over [0, n) in fixed chunks: in parallel when n is large
// enough to be worth it (memory-bound element-wise work), serially otherwise.
// Chunk boundaries do not depend on the thread count.
template <class Fn>
void parallel_chunks(std::ptrdiff_t n, Fn fn, std::ptrdiff_t chunk = 1 << 15) {
  const std::ptrdiff_t chunks = (n + chunk - 1) / chunk;
  if (chunks <= 1) {
    if (n > 0) fn(std::ptrdiff_t(0), n);
    return;
  }
  parallel_for(chunks, n >= (1 << 16), 1,
               [&](std::ptrdiff_t c, int) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}
}  // namespace detail

}  // namespace nn
