// examples/: real leaky targets for the demo, the tests and the benchmarks.
// leaker: allocates and touches memory at a steady rate and never frees it, like a real leak.
//
//   leaker [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold] [--release-after SIZE]
//          [--prefill SIZE]
//
// Prints one line per MiB-ish step on stdout: "<unix seconds> allocated <bytes>", flushed, so a
// harness can tell when a threshold was crossed on the same clock as the kernel's kill.
//
// --prefill SIZE (0: off) first allocates and touches SIZE bytes as fast as it can, in --chunk
// steps through the same malloc-and-write path, with no line per step, then prints one line
// "<unix seconds> prefilled <bytes>" and goes on leaking at --rate from there: a race can start
// near a limit instead of spending seconds getting to it. The prefill counts toward --max (it
// must not pass it) and --release-after.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

double parseSize(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  std::string unit(end);
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "/s") unit.resize(unit.size() - 2);
  if (unit == "KiB" || unit == "K") return v * 1024;
  if (unit == "MiB" || unit == "M") return v * 1024 * 1024;
  if (unit == "GiB" || unit == "G") return v * 1024 * 1024 * 1024;
  if (unit.empty() || unit == "B") return v;
  std::fprintf(stderr, "leaker: bad size '%s'\n", s);
  std::exit(2);
}

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The leak: allocates and writes every page, so the kernel charges it; nullptr when malloc fails.
char* leakChunk(std::size_t bytes) {
  char* b = static_cast<char*>(std::malloc(bytes));
  if (b) std::memset(b, 0xab, bytes);  // touch every page so the kernel charges it
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 50.0 * 1024 * 1024, chunk = 1024 * 1024, max = 0, release_after = 0, prefill = 0;
  bool hold = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "leaker: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return parseSize(argv[++i]);
    };
    if (a == "--rate")
      rate = value();
    else if (a == "--chunk")
      chunk = value();
    else if (a == "--max")
      max = value();
    else if (a == "--release-after")
      release_after = value();
    else if (a == "--prefill")
      prefill = value();
    else if (a == "--hold")
      hold = true;
    else {
      std::fprintf(stderr,
                   "usage: leaker [--rate 50MiB/s] [--chunk 1MiB] [--max SIZE] [--hold] "
                   "[--release-after SIZE] [--prefill SIZE]\n");
      return 2;
    }
  }
  if (rate <= 0 || chunk < 4096) {
    std::fprintf(stderr, "leaker: rate must be > 0 and chunk >= 4KiB\n");
    return 2;
  }
  if (prefill < 0 || (max > 0 && prefill > max)) {
    std::fprintf(stderr, "leaker: --prefill must be >= 0 and not more than --max\n");
    return 2;
  }
  // Line-buffered even into a file or a pipe: a harness reads each line's time as it comes.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("%.6f start pid %d rate %.0f chunk %.0f\n", unixNow(), getpid(), rate, chunk);
  // Held through a pointer that is never freed, so that what is leaked stays reachable at exit:
  // leaking is this program's job, and LeakSanitizer (the sanitizer build) must not report it.
  static std::vector<char*>& blocks = *new std::vector<char*>();
  double total = 0;
  const auto step = static_cast<std::size_t>(chunk);
  if (prefill > 0) {
    // As fast as it goes, whole chunks and then the rest; no line per step.
    const auto want = static_cast<std::size_t>(prefill);
    std::size_t done = 0;
    while (done < want) {
      std::size_t n = want - done < step ? want - done : step;
      char* b = leakChunk(n);
      if (!b) {
        std::printf("%.6f malloc failed at %.0f\n", unixNow(), static_cast<double>(done));
        return 1;
      }
      blocks.push_back(b);
      done += n;
    }
    total = static_cast<double>(done);
    std::printf("%.6f prefilled %.0f\n", unixNow(), total);
  }
  // The --rate schedule starts after the prefill and counts only what is leaked from then on.
  const double base = total;
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    if (max > 0 && total + chunk > max) break;
    if (release_after > 0 && total >= release_after) {
      for (char* b : blocks) std::free(b);
      blocks.clear();
      std::printf("%.6f released %.0f\n", unixNow(), total);
      total = 0;
      release_after = 0;
      if (!hold) return 0;
      break;
    }
    char* b = leakChunk(step);
    if (!b) {
      std::printf("%.6f malloc failed at %.0f\n", unixNow(), total);
      return 1;
    }
    blocks.push_back(b);
    total += chunk;
    std::printf("%.6f allocated %.0f\n", unixNow(), total);
    auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>((total - base) / rate));
    std::this_thread::sleep_until(due);
  }
  std::printf("%.6f done %.0f\n", unixNow(), total);
  if (hold)
    for (;;) pause();
  return 0;
}
