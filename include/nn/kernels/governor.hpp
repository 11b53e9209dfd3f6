// nn/kernels/governor.hpp — whether parallel regions run on the team or on
// one thread.
//
// The problem: nn's kernels are fork-join regions (about 25 per W3 training
// step). When another process keeps a core busy, the operating system shares
// the cores between all runnable threads, so each of our threads is
// descheduled now and then for a time slice (milliseconds), possibly holding
// a work item that nobody else can take; the others finish and wait for it at
// the region's barrier. Measured on the 2-core machine with one spinning
// process (W3 training, 20 steps): the main thread was busy 6.9 s instead of
// 3.5 s, the regions took 8.3 s instead of 3.6 s, and 2 threads ended up
// slower than 1 thread alone on the free core.
//
// What the governor does: parallel_for (parallel.hpp) measures each region
// that could use the team: its wall time, and the CPU time its threads spent
// on work items (CLOCK_THREAD_CPUTIME_ID, which does not advance while a
// thread is descheduled or waiting at the barrier). CPU seconds of work per
// wall second — the "throughput" below, in cores — is comparable between
// regions on the team and regions on one thread, whatever the regions are.
//   - Team windows (about 50 ms of regions) at 1.1 cores or more need nothing
//     more: one thread cannot do more than one core's work. An idle machine
//     measures 1.8-2.0 cores on nn's workloads.
//   - Below that, the governor tries a window on one thread. If one thread
//     does more, regions stay on one thread for 0.25 s, then the team gets a
//     window again, and so on, the serial periods doubling (up to 4 s) while
//     one thread keeps winning. If the team wins, it stays, and the next
//     one-thread trial waits as long (same doubling). A retried team that
//     is clearly behind one thread after 15 ms (under 0.8 of its
//     throughput) falls back then instead of after a whole window: under
//     load the retries were what 2 threads lost to 1 (W3 training 0.96-0.97
//     of one thread's speed, and a 2-thread run kept on one thread measured
//     the same as a 1-thread run).
// The work measure slightly favours the team (threads sharing caches and
// memory bandwidth spend more CPU time per item), so it only falls back when
// one thread clearly wins. Results do not depend on the thread count (see
// docs/architecture.md, Determinism): the governor never changes a number,
// only the speed.
//
// Switch it off with set_adaptive_threads(false) or NN_ADAPTIVE_THREADS=0 in
// the environment; thread_stats() reports what it measured and did.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#define NN_GOVERNOR_CPU_CLOCK 1
#else
#define NN_GOVERNOR_CPU_CLOCK 0
#endif

namespace nn {

// What the governor measured and decided since the start (or reset_thread_stats()).
struct ThreadStats {
  long long team_regions = 0;    // regions run on more than one thread
  long long serial_regions = 0;  // regions worth a team that the governor ran on one thread
  long long fallbacks = 0;       // times it chose one thread over the team
  double team_seconds = 0, team_cpu_seconds = 0;      // wall time and CPU time of work items
  double serial_seconds = 0, serial_cpu_seconds = 0;  // the same for its one-thread regions
  // Cores' worth of work done per second on the team regions (0 before any).
  double team_cores() const { return team_seconds > 0 ? team_cpu_seconds / team_seconds : 0.0; }
  double serial_cores() const { return serial_seconds > 0 ? serial_cpu_seconds / serial_seconds : 0.0; }
};

namespace detail {

// CPU time of the calling thread, in seconds (0 where there is no such clock).
inline double thread_cpu_seconds() {
#if NN_GOVERNOR_CPU_CLOCK
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
#else
  return 0.0;
#endif
}

// The threads a region gets; `measured` says the governor wants its timing.
struct Team {
  int threads = 1;
  bool measured = false;
};

class Governor {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kWindow = 0.05;           // seconds of regions per measurement
  static constexpr double kTeamClearlyAhead = 1.1;  // cores; one thread cannot reach this
  static constexpr double kFirstBackoff = 0.25, kMaxBackoff = 4.0;  // seconds
  // A team retried after a serial period stops after kShortWindow seconds
  // when it delivers under kClearlyBehind of one thread's throughput.
  static constexpr double kShortWindow = 0.015, kClearlyBehind = 0.8;

  using NowFn = Clock::time_point (*)();

  // The one every parallel_for asks; NN_ADAPTIVE_THREADS=0 (or off) starts it off.
  static Governor& instance() {
    static Governor g(!env_says_off());
    return g;
  }
  // A separate governor (tests drive one with their own clock).
  explicit Governor(bool enabled, NowFn now = &Clock::now) : enabled_(enabled && NN_GOVERNOR_CPU_CLOCK), now_(now) {}

  bool enabled() const {
    std::lock_guard<std::mutex> lock(m_);
    return enabled_;
  }
  void set_enabled(bool on) {
    std::lock_guard<std::mutex> lock(m_);
    enabled_ = on && NN_GOVERNOR_CPU_CLOCK;
    serial_ = probe_ = false;
    backoff_ = kFirstBackoff;
    until_ = Clock::time_point{};
    win_wall_ = win_cpu_ = 0;
  }

  // The team for a region worth `full` (>= 2) threads.
  Team team(int full) {
    std::lock_guard<std::mutex> lock(m_);
    if (!enabled_) return {full, true};
    if (serial_ && now_() >= until_) switch_mode(false, true);  // give the team a window again
    return {serial_ ? 1 : full, true};
  }

  // A measured region ran on `threads` threads: `wall` seconds, `cpu` CPU
  // seconds of work items over all threads.
  void record(int threads, double wall, double cpu) {
    if (wall <= 0) return;
    std::lock_guard<std::mutex> lock(m_);
    const bool on_team = threads > 1;
    if (on_team) {
      ++stats_.team_regions;
      stats_.team_seconds += wall;
      stats_.team_cpu_seconds += cpu;
    } else {
      ++stats_.serial_regions;
      stats_.serial_seconds += wall;
      stats_.serial_cpu_seconds += cpu;
    }
    if (!enabled_ || on_team == serial_) return;  // a region started before the last switch
    win_wall_ += wall;
    win_cpu_ += cpu;
    if (win_wall_ < kWindow) {
      if (!serial_ && probe_ && win_wall_ >= kShortWindow && win_cpu_ < kClearlyBehind * serial_cores_ * win_wall_) {
        probe_ = false;  // the retried team is clearly losing: no need for a whole window
        fall_back(now_());
      }
      return;
    }
    const double cores = win_cpu_ / win_wall_;
    win_wall_ = win_cpu_ = 0;
    const auto now = now_();
    if (!serial_) {
      team_cores_ = cores;
      if (probe_) {  // the team's window after a serial period
        probe_ = false;
        if (cores < serial_cores_) {
          fall_back(now);
        } else {
          backoff_ = kFirstBackoff;
        }
      } else if (cores < kTeamClearlyAhead && now >= until_) {
        switch_mode(true, true);  // try one thread, for one window
        until_ = Clock::time_point::max();
      }
    } else {
      serial_cores_ = cores;
      if (probe_) {
        probe_ = false;
        if (cores > team_cores_) {
          fall_back(now);
        } else {  // the team wins: back to it, and wait before the next trial
          switch_mode(false, false);
          until_ = now + seconds(backoff_);
          backoff_ = std::min(2 * backoff_, kMaxBackoff);
        }
      }
    }
  }

  ThreadStats stats() const {
    std::lock_guard<std::mutex> lock(m_);
    return stats_;
  }
  void reset_stats() {
    std::lock_guard<std::mutex> lock(m_);
    stats_ = ThreadStats{};
  }

 private:
  static bool env_says_off() {
    const char* env = std::getenv("NN_ADAPTIVE_THREADS");
    return env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0);
  }
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  void switch_mode(bool serial, bool probe) {
    serial_ = serial;
    probe_ = probe;
    win_wall_ = win_cpu_ = 0;
  }
  void fall_back(Clock::time_point now) {  // one thread for backoff_ seconds
    switch_mode(true, false);
    until_ = now + seconds(backoff_);
    backoff_ = std::min(2 * backoff_, kMaxBackoff);
    ++stats_.fallbacks;
  }

  mutable std::mutex m_;
  bool enabled_ = true;
  NowFn now_ = &Clock::now;
  bool serial_ = false;  // regions run on one thread
  bool probe_ = false;   // the current window decides between team and one thread
  // Serial: back to the team at until_. Team: no one-thread trial before until_.
  Clock::time_point until_{};
  double backoff_ = kFirstBackoff;
  double win_wall_ = 0, win_cpu_ = 0;          // the current window
  double team_cores_ = 0, serial_cores_ = 0;  // the last window's throughput in each mode
  ThreadStats stats_;
};

}  // namespace detail
}  // namespace nn
