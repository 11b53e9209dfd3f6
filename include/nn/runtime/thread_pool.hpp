// nn/runtime/thread_pool.hpp — a team whose threads never spin: the one
// parallel_for uses while another process keeps a core busy.
//
// OpenMP's runtime (libgomp) makes a thread that waits — the main thread at
// the end of a region for a worker still on an item, a worker for the next
// region — spin for milliseconds before it sleeps. On a free machine that is
// what makes short regions cheap. When three runnable threads share two
// cores it is what makes the team lose to one thread: a spinning thread
// takes the time slice the thread it waits for needs. The same team with
// OMP_WAIT_POLICY=passive beats one thread with one core busy, but that
// setting is read once at start-up and costs speed on a free machine.
//
// So nn keeps OpenMP for the free machine and has this small pool for a busy
// one: worker threads sleep on a condition variable between regions; the
// caller takes items too (as thread 0) and then sleeps until the workers are
// done. Items are handed out `grain` at a time from an atomic counter, as
// OpenMP's schedule(dynamic, grain) does; which thread runs an item never
// changes a result (docs/architecture.md, Determinism).
//
// Workers are started on first use and live until the program exits. Called
// from a thread that is already running a region, run() executes the items
// itself (no nesting).
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "nn/runtime/governor.hpp"

namespace nn {
namespace detail {

class BlockingPool {
 public:
  static BlockingPool& instance() {
    static BlockingPool pool;
    return pool;
  }
  BlockingPool() = default;
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // True on a thread that is running items of a region of this pool.
  static bool& in_region() {
    thread_local bool flag = false;
    return flag;
  }

  // Runs body(i, tid) for every i in [0, n) on `threads` threads (the caller
  // is tid 0), `grain` items at a time. Returns the CPU seconds all threads
  // spent on items when `measure`, else 0. The body must not throw. One
  // region at a time: a caller that finds another thread's region running
  // runs its own items alone instead of waiting.
  template <class Body>
  double run(int threads, std::ptrdiff_t n, std::ptrdiff_t grain, Body& body, bool measure) {
    grain = std::max<std::ptrdiff_t>(grain, 1);
    threads = int(std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(threads, (n + grain - 1) / grain)));
    std::unique_lock<std::mutex> one_region(region_m_, std::defer_lock);
    if (threads < 2 || in_region() || !one_region.try_lock()) {  // the last: another caller's region runs
      const double c0 = measure ? thread_cpu_seconds() : 0.0;
      for (std::ptrdiff_t i = 0; i < n; ++i) body(i, 0);
      return measure ? thread_cpu_seconds() - c0 : 0.0;
    }
    Job job;
    job.call = [](void* ctx, std::ptrdiff_t i, int tid) { (*static_cast<Body*>(ctx))(i, tid); };
    job.ctx = &body;
    job.n = n;
    job.grain = grain;
    job.threads = threads;
    job.measure = measure;
    {
      std::lock_guard<std::mutex> lock(m_);
      while (int(workers_.size()) < threads - 1) {
        const int tid = int(workers_.size()) + 1;
        workers_.emplace_back([this, tid] { worker(tid); });
      }
      job_ = &job;
      ++generation_;
    }
    work_cv_.notify_all();
    const double cpu = work(job, 0);
    // Wait only for workers that took part: one that has not woken up yet
    // finds no job and goes back to sleep.
    std::unique_lock<std::mutex> lock(m_);
    job_ = nullptr;
    done_cv_.wait(lock, [&] { return active_ == 0; });
    return cpu + job.cpu;  // job.cpu: the workers' part, written under m_
  }

 private:
  struct Job {
    void (*call)(void*, std::ptrdiff_t, int) = nullptr;
    void* ctx = nullptr;
    std::ptrdiff_t n = 0, grain = 1;
    int threads = 1;
    bool measure = false;
    std::atomic<std::ptrdiff_t> next{0};
    double cpu = 0;
  };

  // Takes items of `job` until none are left; returns the CPU seconds spent.
  static double work(Job& job, int tid) {
    const double c0 = job.measure ? thread_cpu_seconds() : 0.0;
    in_region() = true;
    for (;;) {
      const std::ptrdiff_t begin = job.next.fetch_add(job.grain, std::memory_order_relaxed);
      if (begin >= job.n) break;
      const std::ptrdiff_t end = std::min(job.n, begin + job.grain);
      for (std::ptrdiff_t i = begin; i < end; ++i) job.call(job.ctx, i, tid);
    }
    in_region() = false;
    return job.measure ? thread_cpu_seconds() - c0 : 0.0;
  }

  void worker(int tid) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      if (!job || tid >= job->threads) continue;  // over already, or a smaller team this time
      ++active_;
      lock.unlock();
      const double cpu = work(*job, tid);
      lock.lock();
      job->cpu += cpu;
      if (--active_ == 0) done_cv_.notify_one();
    }
  }

  std::mutex region_m_;  // held by the caller whose region the workers serve
  std::mutex m_;         // guards everything below
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> workers_;
  std::uint64_t generation_ = 0;
  Job* job_ = nullptr;
  int active_ = 0;  // workers taking items of the current region
  bool stop_ = false;
};

}  // namespace detail
}  // namespace nn
