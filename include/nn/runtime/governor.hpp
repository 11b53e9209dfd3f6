// nn/runtime/governor.hpp — which kind of team runs the parallel regions.
//
// The problem: nn's kernels are fork-join regions (dozens per training
// step of a small convnet). OpenMP's runtime makes waiting threads spin for milliseconds, which
// makes short regions cheap on a free machine. When another process keeps a
// core busy, the operating system shares the cores between all runnable
// threads, so each of ours is descheduled now and then for a time slice,
// possibly holding a work item; the other waits for it at the region's
// barrier, spinning on the very time slice it waits for: on 2 cores with one
// spinning process, OpenMP's team does less work per second than one thread
// (docs/performance.md).
//
// Two teams: OpenMP's (spinning waits: the fastest on a free machine) and
// BlockingPool's (thread_pool.hpp: waits sleep, so a waiting thread gives its
// time slice away: on that busy machine 2 threads beat one, but it is a
// little slower than OpenMP's team on a free machine).
//
// What the governor does: parallel_for (parallel.hpp) measures each region
// that could use a team: its wall time, and the CPU time its threads spent on
// work items (CLOCK_THREAD_CPUTIME_ID, which does not advance while a thread
// is descheduled or waiting). CPU seconds of work per wall second — the
// "throughput" below, in cores — compares the two teams on any mix of
// regions.
//   - OpenMP windows (about 50 ms of regions) at 0.55 cores per thread or more
//     need nothing more. A free machine measures 1.8-2.0 cores on 2 threads.
//   - Below that, the governor tries a window on the blocking team. If it
//     does more, regions stay on it (the "fallback") for 0.25 s; then, if the
//     cores have room for OpenMP's team (below), OpenMP's team gets a window
//     again, and so on, the fallback periods doubling (up to 4 s) while the
//     blocking team keeps winning. If OpenMP's team wins, or measures 0.55
//     cores per thread or more, it stays, and the next trial waits as long
//     (same doubling). A retried OpenMP team clearly behind (below that, and
//     under 0.8 of the blocking team's throughput, after 15 ms) falls back
//     then instead of after a whole window.
//   - Room for OpenMP's team: before a retry the governor looks at how much
//     CPU time the CPUs this process may run on had for it (spare_cpu.hpp:
//     their idle time plus our own CPU time, from /proc/stat on Linux). Below
//     (threads - 0.5) cores, other processes are still busy: it stays on the
//     blocking team and looks again every 0.25 s, so a machine that stays
//     loaded costs no retries, and a core freed is noticed within 0.25 s.
//     Every 32 s it retries anyway. Where that cannot be read, the timer
//     alone decides.
// The work measure slightly favours the OpenMP team (threads sharing caches
// and memory bandwidth spend more CPU time per item), so it only falls back
// when the other team clearly wins. Results do not depend on which team runs
// (see docs/architecture.md, Determinism): the governor never changes a
// number, only the speed.
//
// Switch it off (OpenMP's team always) with set_adaptive_threads(false) or
// NN_ADAPTIVE_THREADS=0 in the environment; NN_ADAPTIVE_THREADS=blocking runs
// every region on the blocking team (the test suite runs once that way).
// thread_stats() reports what it measured and did.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "nn/runtime/spare_cpu.hpp"
#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#define NN_GOVERNOR_CPU_CLOCK 1
#else
#define NN_GOVERNOR_CPU_CLOCK 0
#endif

namespace nn {

// What the governor measured and decided since the start (or reset_thread_stats()).
struct ThreadStats {
  long long team_regions = 0;      // regions run on OpenMP's team
  long long fallback_regions = 0;  // regions the governor ran on the blocking team instead
  long long fallbacks = 0;         // times it chose the blocking team over OpenMP's
  long long retries_skipped = 0;   // OpenMP retries not made because other processes kept the cores busy
  double team_seconds = 0, team_cpu_seconds = 0;          // wall time and CPU time of work items
  double fallback_seconds = 0, fallback_cpu_seconds = 0;  // the same for the blocking team's regions
  // Cores' worth of work done per second on OpenMP's team (0 before any region).
  double team_cores() const { return team_seconds > 0 ? team_cpu_seconds / team_seconds : 0.0; }
  double fallback_cores() const { return fallback_seconds > 0 ? fallback_cpu_seconds / fallback_seconds : 0.0; }
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

// The threads a region gets; `measured`: the governor wants its timing;
// `blocking`: run it on BlockingPool (thread_pool.hpp) instead of OpenMP.
struct Team {
  int threads = 1;
  bool measured = false;
  bool blocking = false;
};

class Governor {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kWindow = 0.05;               // seconds of regions per measurement
  static constexpr double kTeamFinePerThread = 0.55;    // cores per thread: no trial needed
  static constexpr double kFirstBackoff = 0.25, kMaxBackoff = 4.0;  // seconds
  // A retried OpenMP team stops after kShortWindow seconds when it delivers
  // under kClearlyBehind of the blocking team's throughput.
  static constexpr double kShortWindow = 0.015, kClearlyBehind = 0.8;
  // A retry is made when the CPUs had (threads - kRoomMargin) cores for this
  // process since the last look (else: look again after kRecheck seconds),
  // or after kLongestFallback seconds whatever they had.
  static constexpr double kRoomMargin = 0.5, kRecheck = 0.25, kLongestFallback = 32.0;

  using NowFn = Clock::time_point (*)();
  using RoomFn = double (*)();  // CPU-seconds the CPUs had for this process so far; < 0 when unknown

  // The one every parallel_for asks; NN_ADAPTIVE_THREADS=0 (or off) starts it
  // off, NN_ADAPTIVE_THREADS=blocking on the blocking team for good.
  static Governor& instance() {
    static Governor g(!env_is("0") && !env_is("off"), &Clock::now, &available_cpu_seconds, env_is("blocking"));
    return g;
  }
  // A separate governor (tests drive one with their own clock and room).
  explicit Governor(bool enabled, NowFn now = &Clock::now, RoomFn room = &available_cpu_seconds,
                    bool always_blocking = false)
      : enabled_(enabled && NN_GOVERNOR_CPU_CLOCK), always_blocking_(always_blocking), now_(now), room_(room) {}

  // Every region on the blocking team, whatever the measurements (tests, and
  // machines that are always shared); set_enabled() does not change it.
  void set_always_blocking(bool on) {
    std::lock_guard<std::mutex> lock(m_);
    always_blocking_ = on;
  }
  bool always_blocking() const {
    std::lock_guard<std::mutex> lock(m_);
    return always_blocking_;
  }

  bool enabled() const {
    std::lock_guard<std::mutex> lock(m_);
    return enabled_;
  }
  void set_enabled(bool on) {
    std::lock_guard<std::mutex> lock(m_);
    enabled_ = on && NN_GOVERNOR_CPU_CLOCK;
    fallback_ = probe_ = false;
    backoff_ = kFirstBackoff;
    until_ = Clock::time_point{};
    win_wall_ = win_cpu_ = 0;
  }

  // The team for a region worth `full` (>= 2) threads.
  Team team(int full) {
    std::lock_guard<std::mutex> lock(m_);
    if (always_blocking_) return {full, true, true};
    if (!enabled_) return {full, true, false};
    if (fallback_) {
      const auto now = now_();
      if (now >= until_) {
        if (worth_retrying(now, full)) {
          switch_mode(false, true);  // give OpenMP's team a window again
        } else {
          until_ = now + seconds(kRecheck);
          ++stats_.retries_skipped;
        }
      }
    }
    return {full, true, fallback_};
  }

  // A measured region ran (on the blocking team when `blocking`) for `wall`
  // seconds, its threads spending `cpu` CPU seconds on work items; `threads`
  // is the team's size.
  void record(int threads, bool blocking, double wall, double cpu) {
    if (wall <= 0) return;
    std::lock_guard<std::mutex> lock(m_);
    if (!blocking) {
      ++stats_.team_regions;
      stats_.team_seconds += wall;
      stats_.team_cpu_seconds += cpu;
    } else {
      ++stats_.fallback_regions;
      stats_.fallback_seconds += wall;
      stats_.fallback_cpu_seconds += cpu;
    }
    if (!enabled_ || blocking != fallback_) return;  // a region started before the last switch
    win_wall_ += wall;
    win_cpu_ += cpu;
    if (win_wall_ < kWindow) {
      if (!fallback_ && probe_ && win_wall_ >= kShortWindow && !fine(win_cpu_ / win_wall_, threads) &&
          win_cpu_ < kClearlyBehind * fallback_cores_ * win_wall_) {
        probe_ = false;  // the retried team is clearly losing: no need for a whole window
        fall_back(now_());
      }
      return;
    }
    const double cores = win_cpu_ / win_wall_;
    win_wall_ = win_cpu_ = 0;
    const auto now = now_();
    if (!fallback_) {
      team_cores_ = cores;
      if (probe_) {  // OpenMP's window after a fallback period
        probe_ = false;
        if (!fine(cores, threads) && cores < fallback_cores_) {
          fall_back(now);
        } else {
          backoff_ = kFirstBackoff;
        }
      } else if (!fine(cores, threads) && now >= until_) {
        switch_mode(true, true);  // try the blocking team, for one window
        until_ = Clock::time_point::max();
      }
    } else {
      fallback_cores_ = cores;
      if (probe_) {
        probe_ = false;
        if (cores > team_cores_) {
          fall_back(now);
        } else {  // OpenMP's team wins: back to it, and wait before the next trial
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
  static bool env_is(const char* value) {
    const char* env = std::getenv("NN_ADAPTIVE_THREADS");
    return env && std::strcmp(env, value) == 0;
  }
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  // OpenMP's team at `cores` needs no comparison: on a free machine both
  // teams measure close to `threads` cores, and OpenMP's is the faster one.
  static bool fine(double cores, int threads) { return cores >= kTeamFinePerThread * threads; }
  void switch_mode(bool fallback, bool probe) {
    fallback_ = fallback;
    probe_ = probe;
    win_wall_ = win_cpu_ = 0;
  }
  void fall_back(Clock::time_point now) {  // the blocking team for backoff_ seconds
    switch_mode(true, false);
    until_ = now + seconds(backoff_);
    backoff_ = std::min(2 * backoff_, kMaxBackoff);
    ++stats_.fallbacks;
    fallback_since_ = room_at_ = now;
    room_mark_ = room_();
  }
  // A retry is due: worth it when the CPUs had room for `full` threads since
  // the last look (or when that cannot be known), or after kLongestFallback.
  bool worth_retrying(Clock::time_point now, int full) {
    const double room = room_();
    const double dt = std::chrono::duration<double>(now - room_at_).count();
    const bool known = room >= 0 && room_mark_ >= 0 && dt > 0;
    const bool retry = !known || (room - room_mark_) / dt >= full - kRoomMargin ||
                       std::chrono::duration<double>(now - fallback_since_).count() >= kLongestFallback;
    room_mark_ = room;
    room_at_ = now;
    return retry;
  }

  mutable std::mutex m_;
  bool enabled_ = true;
  bool always_blocking_ = false;
  NowFn now_ = &Clock::now;
  RoomFn room_ = &available_cpu_seconds;
  bool fallback_ = false;  // regions run on the blocking team
  bool probe_ = false;     // the current window decides between the teams
  // Fallback: back to OpenMP's team at until_ (room permitting). OpenMP: no trial before until_.
  Clock::time_point until_{};
  double backoff_ = kFirstBackoff;
  Clock::time_point fallback_since_{}, room_at_{};  // the last fallback; the last look at the room
  double room_mark_ = -1;                           // the room then
  double win_wall_ = 0, win_cpu_ = 0;               // the current window
  double team_cores_ = 0, fallback_cores_ = 0;      // the last window's throughput of each team
  ThreadStats stats_;
};

}  // namespace detail
}  // namespace nn
