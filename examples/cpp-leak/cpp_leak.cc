// examples/: real leaky targets for the demo, the tests and the benchmarks.
// cpp-leak: a C++ program on tcmalloc's heap profiler that leaks in one named function, so that a
// heap profile taken by signal (HEAPPROFILE, HEAPPROFILESIGNAL) points at the culprit.
//
//   cpp-leak [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold] [--release-after SIZE]
//            [--shape steady|bursts|leak-then-release] [--period 2s] [--prefill SIZE]
//
//   steady             one chunk at a time, paced to --rate
//   bursts             every --period, rate*period bytes at once, then quiet until the next period
//   leak-then-release  leaks at --rate for one --period, frees it all, and starts again (a
//                      sawtooth: memory that rises fast but is not a leak)
//   --prefill SIZE     before any of that, leak SIZE bytes as fast as possible (0: off), in
//                      --chunk steps through leakOneChunk (so the heap profile puts them on the
//                      leak too) with no line per step, then print one "prefilled" line and go
//                      on with the shape at --rate: a race starts near a limit instead of
//                      spending seconds getting there. It counts toward --max (must not pass it)
//                      and --release-after.
//
// Prints one line per step on stdout, "<unix seconds> <event> <bytes>", flushed, so that a
// harness can line the program's view up with the kernel's and the watchdog's.
//
// To profile: HEAPPROFILE=/tmp/cpp HEAPPROFILESIGNAL=12 cpp-leak ..., then `kill -12 PID` writes
// /tmp/cpp.NNNN.heap; `google-pprof --text cpp-leak /tmp/cpp.NNNN.heap` names leakOneChunk.
#include <gperftools/heap-profiler.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

enum class Shape { kSteady, kBursts, kLeakThenRelease };

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: cpp-leak [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold] "
               "[--release-after SIZE] [--shape steady|bursts|leak-then-release] "
               "[--period 2s] [--prefill SIZE]\n");
  std::exit(2);
}

double parseSize(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  std::string unit(end);
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "/s") unit.resize(unit.size() - 2);
  if (unit == "KiB" || unit == "K") return v * 1024;
  if (unit == "MiB" || unit == "M") return v * 1024 * 1024;
  if (unit == "GiB" || unit == "G") return v * 1024 * 1024 * 1024;
  if (unit.empty() || unit == "B") return v;
  std::fprintf(stderr, "cpp-leak: bad size '%s'\n", s);
  std::exit(2);
}

// Seconds: "2s", "500ms", "1.5" (plain seconds).
double parseSeconds(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  std::string unit(end);
  if (unit == "ms") return v / 1000;
  if (unit == "s" || unit.empty()) return v;
  std::fprintf(stderr, "cpp-leak: bad duration '%s'\n", s);
  std::exit(2);
}

// The example talks to the kernel's clocks directly: it is a stand-alone target, not part of the
// watchdog, and must not depend on its libraries.
double clockSeconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double unixNow() { return clockSeconds(CLOCK_REALTIME); }
double monoNow() { return clockSeconds(CLOCK_MONOTONIC); }

// Sleeps until a CLOCK_MONOTONIC time; a profiling signal (HEAPPROFILESIGNAL) interrupts the
// sleep, so it resumes rather than cutting the step short.
void sleepUntil(double mono_seconds) {
  timespec due{};
  due.tv_sec = static_cast<time_t>(mono_seconds);
  due.tv_nsec = static_cast<long>((mono_seconds - std::floor(mono_seconds)) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, nullptr) == EINTR) {
  }
}

void logLine(const char* event, double bytes) {
  std::printf("%.6f %s %.0f\n", unixNow(), event, bytes);
}

}  // namespace

// The leak. Kept out of line and outside the anonymous namespace so that the profiler's stack
// for every leaked byte ends in a frame with this exact name, which google-pprof puts on top.
__attribute__((noinline)) char* leakOneChunk(std::size_t bytes) {
  char* p = static_cast<char*>(std::malloc(bytes));
  if (p == nullptr) return nullptr;
  // Writing every page makes the leak resident and charged to the cgroup, not just reserved
  // address space that the kernel would never count against the limit.
  std::memset(p, 0xab, bytes);
  return p;
}

// Frees every leaked chunk at once: the drop of the sawtooth, and --release-after.
__attribute__((noinline)) void releaseAll(std::vector<char*>& blocks) {
  for (char* b : blocks) std::free(b);
  blocks.clear();
  blocks.shrink_to_fit();
}

int main(int argc, char** argv) {
  double rate = 50.0 * 1024 * 1024, chunk = 1024 * 1024, max = 0, release_after = 0;
  double period = 2, prefill = 0;
  bool hold = false;
  Shape shape = Shape::kSteady;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "cpp-leak: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rate") {
      rate = parseSize(value());
    } else if (a == "--chunk") {
      chunk = parseSize(value());
    } else if (a == "--max") {
      max = parseSize(value());
    } else if (a == "--release-after") {
      release_after = parseSize(value());
    } else if (a == "--prefill") {
      prefill = parseSize(value());
    } else if (a == "--hold") {
      hold = true;
    } else if (a == "--period") {
      period = parseSeconds(value());
    } else if (a == "--shape") {
      std::string s = value();
      if (s == "steady")
        shape = Shape::kSteady;
      else if (s == "bursts")
        shape = Shape::kBursts;
      else if (s == "leak-then-release")
        shape = Shape::kLeakThenRelease;
      else
        usage();
    } else {
      usage();
    }
  }
  if (rate <= 0 || chunk < 4096 || period <= 0) {
    std::fprintf(stderr, "cpp-leak: rate and period must be > 0 and chunk >= 4KiB\n");
    return 2;
  }
  if (prefill < 0 || (max > 0 && prefill > max)) {
    std::fprintf(stderr, "cpp-leak: --prefill must be >= 0 and not more than --max\n");
    return 2;
  }
  // Line-buffered even into a file or a pipe: a harness reads each line's time as it comes.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("%.6f start pid %d rate %.0f chunk %.0f period %.3f heap-profiler %s\n", unixNow(),
              getpid(), rate, chunk, period, IsHeapProfilerRunning() ? "on" : "off");

  std::vector<char*> blocks;
  double total = 0;
  const auto step = static_cast<std::size_t>(chunk);
  if (prefill > 0) {
    // As fast as it goes, whole chunks and then the rest; no line per step.
    const auto want = static_cast<std::size_t>(prefill);
    std::size_t done = 0;
    while (done < want) {
      const std::size_t n = want - done < step ? want - done : step;
      char* b = leakOneChunk(n);
      if (b == nullptr) {
        logLine("malloc-failed", static_cast<double>(done));
        return 1;
      }
      blocks.push_back(b);
      done += n;
    }
    total = static_cast<double>(done);
    logLine("prefilled", total);
  }
  // Pacing is against the start of the current cycle, so a slow step (the kernel reclaiming
  // under pressure) is caught up rather than lowering the rate for good.
  double cycle_start = monoNow(), cycle_bytes = 0;
  double owed = rate * period;  // bursts: bytes still due in the current period
  for (;;) {
    if (max > 0 && total + chunk > max) break;
    if (release_after > 0 && total >= release_after) {
      releaseAll(blocks);
      logLine("released", total);
      total = 0;
      if (!hold) return 0;
      release_after = 0;
      break;
    }
    if (shape == Shape::kLeakThenRelease && monoNow() - cycle_start >= period) {
      releaseAll(blocks);
      logLine("released", total);
      total = 0;
      cycle_start = monoNow();
      cycle_bytes = 0;
      continue;
    }
    char* b = leakOneChunk(step);
    if (b == nullptr) {
      logLine("malloc-failed", total);
      return 1;
    }
    blocks.push_back(b);
    total += chunk;
    cycle_bytes += chunk;
    logLine("allocated", total);
    if (shape == Shape::kBursts) {
      // A burst is what the period owes at --rate, rounded to whole chunks; what rounding left
      // over is carried into the next burst, so the average stays --rate.
      owed -= chunk;
      if (owed < chunk / 2) {
        cycle_start += period;
        owed += rate * period;
        sleepUntil(cycle_start);
      }
    } else {
      sleepUntil(cycle_start + cycle_bytes / rate);
    }
  }
  logLine("done", total);
  if (hold)
    for (;;) pause();
  return 0;
}
