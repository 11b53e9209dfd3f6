#include "../support/test_util.hpp"

using namespace testutil;
using nn::detail::Governor;

namespace {
// A clock the tests move by hand.
Governor::Clock::time_point fake_now;
Governor::Clock::time_point now() { return fake_now; }
void advance(double s) {
  fake_now += std::chrono::duration_cast<Governor::Clock::duration>(std::chrono::duration<double>(s));
}
// One window (60 ms >= kWindow) of regions doing `cores` cores' worth of work.
void window(Governor& g, int threads, double cores) { g.record(threads, 0.06, 0.06 * cores); }
}  // namespace

TEST_CASE("governor: a team doing more than one core's work keeps its threads, without trials") {
  Governor g(true, &now);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(g.team(2).threads == 2);
    window(g, 2, 1.6);
    advance(0.06);
  }
  CHECK(g.stats().serial_regions == 0);
  CHECK(g.stats().fallbacks == 0);
  CHECK(g.stats().team_cores() == doctest::Approx(1.6));
}

TEST_CASE("governor: when one thread does more, regions run on one thread, and the team is retried later") {
  Governor g(true, &now);
  CHECK(g.team(2).threads == 2);
  window(g, 2, 0.75);  // a busy core: the team does less than one core's work
  CHECK(g.team(2).threads == 1);  // so one thread gets a window
  window(g, 1, 0.97);             // and wins
  CHECK(g.stats().fallbacks == 1);
  advance(0.2);
  CHECK(g.team(2).threads == 1);  // still within the first 0.25 s
  advance(0.1);
  CHECK(g.team(2).threads == 2);  // the team's trial window
  window(g, 2, 0.8);              // loses again: one thread for twice as long
  CHECK(g.stats().fallbacks == 2);
  advance(0.45);
  CHECK(g.team(2).threads == 1);
  advance(0.1);
  CHECK(g.team(2).threads == 2);
  window(g, 2, 1.5);  // the core is free again: the team stays
  for (int i = 0; i < 10; ++i) {
    advance(1.0);
    CHECK(g.team(2).threads == 2);
    window(g, 2, 1.5);
  }
  CHECK(g.stats().fallbacks == 2);
}

TEST_CASE("governor: a team below one core that still beats one thread stays, and the next trial waits") {
  Governor g(true, &now);  // e.g. every core busy: each thread gets half a core
  window(g, 2, 0.9);
  CHECK(g.team(2).threads == 1);
  window(g, 1, 0.6);  // one thread does less
  CHECK(g.team(2).threads == 2);
  CHECK(g.stats().fallbacks == 0);
  window(g, 2, 0.9);
  CHECK(g.team(2).threads == 2);  // no new trial for 0.25 s
  advance(0.3);
  window(g, 2, 0.9);
  CHECK(g.team(2).threads == 1);  // now one
}

TEST_CASE("governor: a retried team that is clearly behind one thread falls back before a whole window") {
  Governor g(true, &now);
  window(g, 2, 0.6);
  window(g, 1, 1.0);  // one thread wins: serial for 0.25 s
  REQUIRE(g.stats().fallbacks == 1);
  advance(0.3);
  REQUIRE(g.team(2).threads == 2);  // the team's retry
  g.record(2, 0.010, 0.005);        // 10 ms at 0.5 cores: too short to judge
  CHECK(g.team(2).threads == 2);
  g.record(2, 0.010, 0.005);        // 20 ms at 0.5 cores, under 0.8 of one thread's 1.0
  CHECK(g.team(2).threads == 1);
  CHECK(g.stats().fallbacks == 2);
  advance(0.6);                     // the next retry, after twice as long
  REQUIRE(g.team(2).threads == 2);
  g.record(2, 0.020, 0.018);        // 20 ms at 0.9 cores: not clearly behind, the window goes on
  CHECK(g.team(2).threads == 2);
  g.record(2, 0.040, 0.036);        // a whole window at 0.9 < 1.0: falls back at its end
  CHECK(g.team(2).threads == 1);
  CHECK(g.stats().fallbacks == 3);
}

TEST_CASE("governor: windows add up short regions; switched off it always gives the team") {
  Governor g(true, &now);
  for (int i = 0; i < 3; ++i) g.record(2, 0.015, 0.0105);  // 45 ms: not a window yet
  CHECK(g.team(2).threads == 2);
  g.record(2, 0.015, 0.0105);
  CHECK(g.team(2).threads == 1);
  g.set_enabled(false);
  CHECK_FALSE(g.enabled());
  for (int i = 0; i < 5; ++i) {
    CHECK(g.team(4).threads == 4);
    window(g, 4, 0.5);
  }
  CHECK(g.stats().fallbacks == 0);
}

TEST_CASE("parallel_for runs every item once on the planned team and reports team regions") {
  nn::set_num_threads(2);
  nn::reset_thread_stats();
  const bool adaptive = nn::adaptive_threads();
  nn::set_adaptive_threads(false);  // the team, whatever this machine's load
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
  CHECK(nn::thread_stats().serial_regions == 0);
  nn::set_adaptive_threads(adaptive);
  nn::set_num_threads(1);
}

TEST_CASE("build_info says whether the thread count is adaptive") {
#ifdef _OPENMP
  nn::set_num_threads(2);
  const bool adaptive = nn::adaptive_threads();
  nn::set_adaptive_threads(true);
  CHECK(nn::build_info().find("2 threads (adaptive)") != std::string::npos);
  nn::set_adaptive_threads(false);
  CHECK(nn::build_info().find("2 threads (fixed)") != std::string::npos);
  nn::set_adaptive_threads(adaptive);
  nn::set_num_threads(1);
  CHECK(nn::build_info().find("1 threads (") == std::string::npos);
#endif
}
