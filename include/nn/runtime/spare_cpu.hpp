// nn/runtime/spare_cpu.hpp — how much CPU time the machine had for this
// process, for the governor (governor.hpp).
//
// While the governor runs regions on the blocking team because other
// processes keep cores busy, retrying OpenMP's team costs throughput and can
// only win once the cores are free again. Linux counts, per CPU, the time it
// spent idle (and waiting for I/O, and running niced processes) in
// /proc/stat. That time on the CPUs this process may run on, plus the CPU
// time this process used itself, is the time the machine had for us: over an
// interval it grows by about as many cores as the process may use when no
// other process competes, and by a core less per busy loop elsewhere.
//
// available_cpu_seconds() is that total so far, in CPU-seconds, or a negative
// number where it cannot be known (not Linux, no /proc): the governor then
// retries on its timer alone. Time spent running niced processes counts as
// available when this thread is not niced itself: the scheduler would give
// our threads most of it.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cerrno>
#define NN_SPARE_CPU_PROC_STAT 1
#else
#define NN_SPARE_CPU_PROC_STAT 0
#endif

namespace nn {
namespace detail {

// One "cpuN ..." line of /proc/stat: N and the spare clock ticks on it (idle +
// iowait, plus nice when count_nice). False for any other line, including the
// machine-wide "cpu " line.
inline bool parse_proc_stat_cpu(const char* line, bool count_nice, int& cpu, long long& ticks) {
  if (std::strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9') return false;
  char* p = nullptr;
  cpu = int(std::strtol(line + 3, &p, 10));
  unsigned long long v[5] = {};  // user nice system idle iowait
  for (auto& x : v) {
    char* q = nullptr;
    x = std::strtoull(p, &q, 10);
    if (q == p) return false;  // fewer than five numbers: not a line we know
    p = q;
  }
  ticks = (long long)(v[3] + v[4] + (count_nice ? v[1] : 0));
  return true;
}

// The spare ticks summed over the "cpuN" lines of a /proc/stat text whose N
// is in `allowed` (every CPU when it is empty); -1 when there is no such line.
inline long long spare_ticks(const char* text, const std::vector<bool>& allowed, bool count_nice) {
  long long sum = 0;
  bool any = false;
  for (const char* line = text; line && *line;) {
    int cpu = 0;
    long long ticks = 0;
    if (parse_proc_stat_cpu(line, count_nice, cpu, ticks) &&
        (allowed.empty() || (cpu >= 0 && std::size_t(cpu) < allowed.size() && allowed[std::size_t(cpu)]))) {
      sum += ticks;
      any = true;
    }
    line = std::strchr(line, '\n');
    if (line) ++line;
  }
  return any ? sum : -1;
}

// CPU-seconds so far that the CPUs this process may run on had for it: their
// spare time plus this process's own CPU time; < 0 if unknown.
inline double available_cpu_seconds() {
#if NN_SPARE_CPU_PROC_STAT
  static const long tick = sysconf(_SC_CLK_TCK);
  if (tick <= 0) return -1;
  std::FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return -1;
  // The per-CPU lines come first ("cpu ", "cpu0", "cpu1", ...); stop after them.
  std::string text;
  char line[512];
  while (std::fgets(line, sizeof line, f) && std::strncmp(line, "cpu", 3) == 0) text += line;
  std::fclose(f);
  std::vector<bool> allowed;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    allowed.assign(CPU_SETSIZE, false);
    for (int c = 0; c < CPU_SETSIZE; ++c) allowed[std::size_t(c)] = CPU_ISSET(c, &set);
  }
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);  // this thread's, on Linux
  const bool count_nice = errno != 0 || nice <= 0;
  const long long ticks = spare_ticks(text.c_str(), allowed, count_nice);
  if (ticks < 0) return -1;
  timespec own{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &own) != 0) return -1;
  return double(ticks) / double(tick) + double(own.tv_sec) + 1e-9 * double(own.tv_nsec);
#else
  return -1;
#endif
}

}  // namespace detail
}  // namespace nn
