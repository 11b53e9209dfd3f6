#include "../support/test_util.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace testutil;
using nn::detail::Governor;

namespace {
// A clock the tests move by hand.
Governor::Clock::time_point fake_now;
Governor::Clock::time_point now() { return fake_now; }
void advance(double s) {
  fake_now += std::chrono::duration_cast<Governor::Clock::duration>(std::chrono::duration<double>(s));
}
// The CPU time the machine had for the process: unknown (the timer alone
// decides retries), or set by hand.
double unknown_room() { return -1; }
double fake_room = 0;
double room() { return fake_room; }
// One window (60 ms >= kWindow) of regions doing `cores` cores' worth of work,
// on OpenMP's team or on the blocking team.
void omp_window(Governor& g, double cores, int threads = 2) { g.record(threads, false, 0.06, 0.06 * cores); }
void blocking_window(Governor& g, double cores, int threads = 2) { g.record(threads, true, 0.06, 0.06 * cores); }
bool blocking(Governor& g) {
  const nn::detail::Team t = g.team(2);
  REQUIRE(t.threads == 2);  // both teams have every thread
  REQUIRE(t.measured);
  return t.blocking;
}
}  // namespace

TEST_CASE("governor: an OpenMP team doing 0.55 cores per thread or more stays, without trials") {
  Governor g(true, &now, &unknown_room);
  for (int i = 0; i < 20; ++i) {
    REQUIRE_FALSE(blocking(g));
    omp_window(g, 1.6);
    advance(0.06);
  }
  CHECK(g.stats().fallback_regions == 0);
  CHECK(g.stats().fallbacks == 0);
  CHECK(g.stats().team_cores() == doctest::Approx(1.6));
  Governor g4(true, &now, &unknown_room);  // the bar grows with the team: 2.2 cores for 4 threads
  omp_window(g4, 2.4, 4);
  CHECK_FALSE(g4.team(4).blocking);
  omp_window(g4, 2.0, 4);
  CHECK(g4.team(4).blocking);  // a trial of the blocking team
}

TEST_CASE("governor: when the blocking team does more, regions run on it, and OpenMP's is retried later") {
  Governor g(true, &now, &unknown_room);
  CHECK_FALSE(blocking(g));
  omp_window(g, 0.7);  // a busy core: OpenMP's team does less than 1.1 cores of work
  CHECK(blocking(g));  // so the blocking team gets a window
  blocking_window(g, 1.04);  // and wins
  CHECK(g.stats().fallbacks == 1);
  advance(0.2);
  CHECK(blocking(g));  // still within the first 0.25 s
  advance(0.1);
  CHECK_FALSE(blocking(g));  // OpenMP's trial window
  omp_window(g, 0.8);        // loses again: the blocking team for twice as long
  CHECK(g.stats().fallbacks == 2);
  advance(0.45);
  CHECK(blocking(g));
  advance(0.1);
  CHECK_FALSE(blocking(g));
  omp_window(g, 1.5);  // the core is free again: OpenMP's team stays
  for (int i = 0; i < 10; ++i) {
    advance(1.0);
    CHECK_FALSE(blocking(g));
    omp_window(g, 1.5);
  }
  CHECK(g.stats().fallbacks == 2);
  CHECK(g.stats().fallback_cores() == doctest::Approx(1.04));
}

TEST_CASE("governor: an OpenMP team below the bar that still beats the blocking team stays, the next trial waits") {
  Governor g(true, &now, &unknown_room);
  omp_window(g, 0.9);
  CHECK(blocking(g));
  blocking_window(g, 0.6);  // the blocking team does less
  CHECK_FALSE(blocking(g));
  CHECK(g.stats().fallbacks == 0);
  omp_window(g, 0.9);
  CHECK_FALSE(blocking(g));  // no new trial for 0.25 s
  advance(0.3);
  omp_window(g, 0.9);
  CHECK(blocking(g));  // now one
}

TEST_CASE("governor: a retried OpenMP team clearly behind the blocking team falls back before a whole window") {
  Governor g(true, &now, &unknown_room);
  omp_window(g, 0.6);
  blocking_window(g, 1.0);  // the blocking team wins: it runs the regions for 0.25 s
  REQUIRE(g.stats().fallbacks == 1);
  advance(0.3);
  REQUIRE_FALSE(blocking(g));             // OpenMP's retry
  g.record(2, false, 0.010, 0.005);       // 10 ms at 0.5 cores: too short to judge
  CHECK_FALSE(blocking(g));
  g.record(2, false, 0.010, 0.005);       // 20 ms at 0.5 cores, under 0.8 of the blocking team's 1.0
  CHECK(blocking(g));
  CHECK(g.stats().fallbacks == 2);
  advance(0.6);                           // the next retry, after twice as long
  REQUIRE_FALSE(blocking(g));
  g.record(2, false, 0.020, 0.018);       // 20 ms at 0.9 cores: not clearly behind, the window goes on
  CHECK_FALSE(blocking(g));
  g.record(2, false, 0.040, 0.036);       // a whole window at 0.9 < 1.0: falls back at its end
  CHECK(blocking(g));
  CHECK(g.stats().fallbacks == 3);
}

TEST_CASE("governor: a retried OpenMP team at 0.55 cores per thread or more stays, even behind the blocking team") {
  Governor g(true, &now, &unknown_room);
  omp_window(g, 0.6);
  blocking_window(g, 1.0);
  REQUIRE(g.stats().fallbacks == 1);
  blocking_window(g, 1.9);  // the other process stopped: the blocking team runs on two free cores
  advance(0.3);
  REQUIRE_FALSE(blocking(g));         // OpenMP's retry
  g.record(2, false, 0.020, 0.030);   // 1.5 cores: under 0.8 of 1.9, but above the bar
  CHECK_FALSE(blocking(g));
  omp_window(g, 1.8);                 // a whole window below the blocking team's 1.9
  CHECK_FALSE(blocking(g));           // OpenMP's team stays: on a free machine it is the faster one
  CHECK(g.stats().fallbacks == 1);
}

TEST_CASE("governor: a retry waits until the cores have room for the team, looking again every 0.25 s") {
  Governor g(true, &now, &room);
  fake_room = 100;
  omp_window(g, 0.6);
  blocking_window(g, 1.0);  // the blocking team wins: it runs the regions for 0.25 s
  REQUIRE(g.stats().fallbacks == 1);
  advance(0.3);
  fake_room += 0.3 * 1.2;  // 1.2 cores for us: another process still holds most of a core
  CHECK(blocking(g));
  CHECK(g.stats().retries_skipped == 1);
  advance(0.2);
  fake_room += 0.2 * 2.0;  // both cores free, but the next look is 0.25 s after the last
  CHECK(blocking(g));
  CHECK(g.stats().retries_skipped == 1);
  advance(0.1);
  fake_room += 0.1 * 1.9;  // 0.59 s of room in the 0.3 s since the last look: >= 1.5 cores
  CHECK_FALSE(blocking(g));  // the retry
  omp_window(g, 1.7);        // and OpenMP's team wins
  CHECK_FALSE(blocking(g));
  CHECK(g.stats().fallbacks == 1);
  CHECK(g.stats().retries_skipped == 1);
}

TEST_CASE("governor: after 32 s on the blocking team OpenMP's is retried even without room") {
  Governor g(true, &now, &room);
  fake_room = 5;
  omp_window(g, 0.6);
  blocking_window(g, 1.0);
  REQUIRE(g.stats().fallbacks == 1);
  double t = 0;
  while (blocking(g)) {  // one core's worth of room, never more
    advance(0.1);
    fake_room += 0.1;
    t += 0.1;
    REQUIRE(t < 40);
  }
  CHECK(t >= 32.0);
  CHECK(t < 32.3);
  CHECK(g.stats().retries_skipped >= 100);  // a look every 0.25 s after the first 0.25 s
  omp_window(g, 0.6);  // OpenMP's team still loses: the blocking team again, another 32 s before the next retry
  CHECK(blocking(g));
  CHECK(g.stats().fallbacks == 2);
  advance(30);
  fake_room += 30;
  CHECK(blocking(g));
}

TEST_CASE("room for the team: /proc/stat's per-CPU idle, iowait and nice ticks, on the allowed CPUs") {
  const char* stat =
      "cpu  900 80 70 6000 60 0 5 0 0 0\n"
      "cpu0 400 40 30 1000 10 0 2 0 0 0\n"
      "cpu1 300 20 20 2000 20 0 2 0 0 0\n"
      "cpu2 200 20 20 3000 30 0 1 0 0 0\n"
      "intr 123 0 0 0\n"
      "cpu9 1 2 3\n";  // too few numbers, and after the CPU lines anyway
  const std::vector<bool> all;
  CHECK(nn::detail::spare_ticks(stat, all, false) == 1010 + 2020 + 3030);
  CHECK(nn::detail::spare_ticks(stat, all, true) == 1050 + 2040 + 3050);
  const std::vector<bool> only_0_and_2 = {true, false, true};
  CHECK(nn::detail::spare_ticks(stat, only_0_and_2, false) == 1010 + 3030);
  const std::vector<bool> only_7 = {false, false, false, false, false, false, false, true};
  CHECK(nn::detail::spare_ticks(stat, only_7, false) == -1);
  CHECK(nn::detail::spare_ticks("cpu  1 2 3 4 5\n", all, false) == -1);  // no per-CPU line
#if defined(__linux__)
  const double a = nn::detail::available_cpu_seconds();
  if (a < 0) {
    MESSAGE("no readable /proc/stat here: the governor retries on its timer alone");
  } else {
    volatile double x = 1;  // some CPU time of our own
    for (int i = 0; i < 3000000; ++i) x = x * 1.0000001;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(nn::detail::available_cpu_seconds() > a);  // a running total that our own CPU time alone moves
  }
#endif
}

TEST_CASE("governor: windows add up short regions, switched off it always gives OpenMP's team") {
  Governor g(true, &now, &unknown_room);
  for (int i = 0; i < 3; ++i) g.record(2, false, 0.015, 0.0105);  // 45 ms: not a window yet
  CHECK_FALSE(blocking(g));
  g.record(2, false, 0.015, 0.0105);
  CHECK(blocking(g));
  g.set_enabled(false);
  CHECK_FALSE(g.enabled());
  for (int i = 0; i < 5; ++i) {
    const nn::detail::Team t = g.team(4);
    CHECK(t.threads == 4);
    CHECK_FALSE(t.blocking);
    omp_window(g, 0.5, 4);
  }
  CHECK(g.stats().fallbacks == 0);
}

TEST_CASE("parallel_for runs every item once on OpenMP's team and reports team regions") {
  nn::set_num_threads(2);
  nn::reset_thread_stats();
  const bool adaptive = nn::adaptive_threads();
  const bool always_blocking = Governor::instance().always_blocking();  // NN_ADAPTIVE_THREADS=blocking
  nn::set_adaptive_threads(false);  // OpenMP's team, whatever this machine's load
  Governor::instance().set_always_blocking(false);
  std::vector<int> hits(1000, 0), tids(1000, -1);
  nn::detail::parallel_for(Index(hits.size()), true, 7, [&](Index i, int tid) {
    hits[std::size_t(i)] += 1;
    tids[std::size_t(i)] = tid;
  });
  for (std::size_t i = 0; i < hits.size(); ++i) {
    REQUIRE(hits[i] == 1);
    REQUIRE((tids[i] == 0 || tids[i] == 1));
  }
#ifdef _OPENMP
  CHECK(nn::thread_stats().team_regions == 1);
  CHECK(nn::thread_stats().team_seconds > 0);
#endif
  // Not worth a team: serial, on thread 0, not measured.
  nn::detail::parallel_for(10, false, 1, [&](Index i, int tid) { tids[std::size_t(i)] = tid + 100; });
  for (int i = 0; i < 10; ++i) CHECK(tids[std::size_t(i)] == 100);
  CHECK(nn::thread_stats().fallback_regions == 0);
  nn::set_adaptive_threads(adaptive);
  Governor::instance().set_always_blocking(always_blocking);
  nn::set_num_threads(1);
}

TEST_CASE("parallel_for on the blocking team: every item once, thread ids in range, nested regions serial") {
  nn::reset_thread_stats();
  using nn::detail::Team;
  for (int threads : {2, 3, 2}) {  // a larger team, then a smaller one: the extra worker sits out
    std::vector<int> hits(777, 0), tids(777, -1);
    nn::detail::parallel_for(Team{threads, true, true}, Index(hits.size()), 5, [&](Index i, int tid) {
      hits[std::size_t(i)] += 1;
      tids[std::size_t(i)] = tid;
    });
    for (std::size_t i = 0; i < hits.size(); ++i) {
      REQUIRE(hits[i] == 1);
      REQUIRE(tids[i] >= 0);
      REQUIRE(tids[i] < threads);
    }
  }
  CHECK(nn::thread_stats().fallback_regions == 3);
  CHECK(nn::thread_stats().team_regions == 0);
  // Many short regions in a row (a worker that wakes late finds the region
  // over and must not run or miss anything), each with a nested region,
  // which runs on the calling thread.
  std::atomic<long> sum{0};
  std::atomic<int> nested_bad{0};
  for (int r = 0; r < 2000; ++r) {
    nn::detail::parallel_for(Team{2, false, true}, 8, 1, [&](Index i, int) {
      const nn::detail::Team inner = nn::detail::plan_team(true);
      if (inner.threads != 1) ++nested_bad;
      nn::detail::parallel_for(inner, 3, 1, [&](Index j, int tid) {
        if (tid != 0) ++nested_bad;
        sum += long(i * 3 + j);
      });
    });
  }
  CHECK(nested_bad.load() == 0);
  CHECK(sum.load() == 2000L * (23L * 24L / 2));  // i*3+j over i < 8, j < 3 is 0..23
  // Regions from two threads of the caller's own at once: each item once,
  // whichever region has the workers.
  std::vector<int> a(5000, 0), b(5000, 0);
  auto fill = [](std::vector<int>& v) {
    for (int r = 0; r < 50; ++r)
      nn::detail::parallel_for(Team{2, false, true}, Index(v.size()), 16,
                               [&](Index i, int) { v[std::size_t(i)] += 1; });
  };
  std::thread other([&] { fill(b); });
  fill(a);
  other.join();
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i] == 50);
    REQUIRE(b[i] == 50);
  }
}

TEST_CASE("build_info says whether the thread count is adaptive") {
#ifdef _OPENMP
  nn::set_num_threads(2);
  const bool adaptive = nn::adaptive_threads();
  const bool always_blocking = Governor::instance().always_blocking();  // NN_ADAPTIVE_THREADS=blocking
  Governor::instance().set_always_blocking(false);
  nn::set_adaptive_threads(true);
  CHECK(nn::build_info().find("2 threads (adaptive)") != std::string::npos);
  nn::set_adaptive_threads(false);
  CHECK(nn::build_info().find("2 threads (fixed)") != std::string::npos);
  Governor::instance().set_always_blocking(true);
  CHECK(nn::build_info().find("2 threads (blocking team)") != std::string::npos);
  Governor::instance().set_always_blocking(always_blocking);
  nn::set_adaptive_threads(adaptive);
  nn::set_num_threads(1);
  CHECK(nn::build_info().find("1 threads (") == std::string::npos);
#endif
}
