// bench/: benchmarks and their recorded results.
// bench_parse_linear: what the parsers of a target's runtime answers cost as the answer grows.
// The Prometheus text parser (mapPromText, as the runtime endpoint calls it) on a realistic page
// and on the pages that made the old parser quadratic, and the Go expvar reader, at 64 KiB,
// 256 KiB, 1 MiB and 4 MiB (the default body cap): the time per MiB stays flat when the work is
// linear. Then the peak RSS a 4 MiB parse adds, measured in a forked child so that nothing else
// of this run counts. README.md has the figures.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "collectors/go_expvar.h"
#include "collectors/prom_text.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "core/snapshot.h"

namespace oomsentinel::bench {
namespace {

constexpr const char* kUsage =
    "usage: bench_parse_linear [--budget SECONDS] [--max-kib N]\n"
    "Times mapPromText and mapGoExpvar on generated payloads of 64 KiB, 256 KiB, 1 MiB and 4 MiB\n"
    "(up to --max-kib), prints the time per MiB of each, then the peak RSS growth of a 4 MiB\n"
    "parse, measured in a child (Linux: clear_refs resets the peak). A case stops growing once one "
    "size took longer than --budget\n"
    "(default 30 s), so that a quadratic parser ends in reasonable time.\n";

constexpr std::size_t kSizes[] = {64 << 10, 256 << 10, 1 << 20, 4 << 20};

// Repeats `unit(i)` while the text stays within `size` bytes.
std::string grow(std::size_t size, const std::string& head,
                 const std::function<std::string(std::size_t)>& unit,
                 const std::string& tail = "") {
  std::string s = head;
  for (std::size_t i = 0;; ++i) {
    std::string u = unit(i);
    if (s.size() + u.size() + tail.size() > size) break;
    s += u;
  }
  return s + tail;
}

// client_golang's page, one copy per "instance" label: what a big but honest target sends.
// 4000 instances, repeated: under the cap of series one mapping sums (4096), so that every size
// is parsed whole.
std::string promRealistic(std::size_t size) {
  return grow(size, "", [](std::size_t n) {
    std::size_t i = n % 4000;
    std::string l = "{instance=\"" + std::to_string(i) + "\"}";
    return "# HELP go_gc_duration_seconds A summary of the pause duration of GC cycles.\n"
           "# TYPE go_gc_duration_seconds summary\n"
           "go_gc_duration_seconds{instance=\"" +
           std::to_string(i) +
           "\",quantile=\"0.5\"} 1.2e-05\n"
           "go_gc_duration_seconds_sum" +
           l + " 0.000123\ngo_gc_duration_seconds_count" + l +
           " 42\n# TYPE go_goroutines gauge\ngo_goroutines" + l +
           " 12\n# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes" + l +
           " 4.2135432e+07\n# TYPE process_resident_memory_bytes gauge\n"
           "process_resident_memory_bytes" +
           l + " 5.5e+07\n";
  });
}

// Many # TYPE lines first (up to the cap of 16384 families; a literal, so that this file also
// builds against the parser before the caps), then samples no TYPE covers: each sample was
// looked up against every TYPE line before it.
std::string promTypesThenSamples(std::size_t size) {
  std::size_t types = std::min<std::size_t>(size / 2 / 30, 16384);
  std::string head;
  for (std::size_t i = 0; i < types; ++i) head += "# TYPE family_" + std::to_string(i) + " gauge\n";
  return grow(size, head,
              [](std::size_t i) { return "untyped{i=\"" + std::to_string(i) + "\"} 1\n"; });
}

// Many series of one mapped family: each was compared with every series summed before it. 4096
// distinct ones (the cap), repeated: a repeat is looked up like a new one.
std::string promMatchedSeries(std::size_t size) {
  return grow(size, "", [](std::size_t i) {
    return "go_gc_duration_seconds_count{i=\"" + std::to_string(i % 4096) + "\"} 1\n";
  });
}

// Long label sets: each label was compared with every label before it on its line (128 labels a
// line, the cap).
std::string promWideLabels(std::size_t size) {
  return grow(size, "", [](std::size_t i) {
    std::string line = "wide{";
    for (int k = 0; k < 128; ++k)
      line += (k ? ",l" : "l") + std::to_string(k) + "=\"" + std::to_string(i) + "\"";
    return line + "} 1\n";
  });
}

// /debug/vars of a service with a big variable of its own beside memstats.
std::string expvarPayload(std::size_t size) {
  std::string head =
      "{\"cmdline\": [\"./svc\"],\n\"memstats\": {\"Alloc\":42135432,\"TotalAlloc\":42150464,"
      "\"Sys\":55294992,\"Mallocs\":770,\"Frees\":72,\"HeapAlloc\":42135432,\"HeapSys\":45842432,"
      "\"HeapInuse\":42582016,\"NextGC\":78049936,\"NumGC\":4,\"PauseTotalNs\":87882,"
      "\"GCCPUFraction\":0.0883,\"PauseNs\":[53650,13871,12909,7452,0,0,0,0]},\n\"requests\": [";
  return grow(
      size, head,
      [](std::size_t i) {
        return std::string(i ? "," : "") + "{\"id\":" + std::to_string(i) +
               ",\"path\":\"/api/v1/items\",\"ms\":1.5,\"ok\":true}";
      },
      "]}\n");
}

struct Case {
  const char* name;
  std::function<std::string(std::size_t)> make;
  bool expvar = false;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> k = {
      {"prom realistic", promRealistic},
      {"prom types-then-samples", promTypesThenSamples},
      {"prom matched-series", promMatchedSeries},
      {"prom wide-labels", promWideLabels},
      {"expvar", expvarPayload, true},
  };
  return k;
}

// What the parse said: "ok N" signals, or the start of its error.
std::string parse(const Case& c, const std::string& text) {
  Snapshot s;
  auto r = c.expvar ? mapGoExpvar(text, s) : mapPromText(text, wellKnownPromMappings(), s);
  if (r) return "ok " + std::to_string(*r);
  return "error: " + r.error().message.substr(0, 60);
}

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
long statusKib(const char* field) {
  std::FILE* f = std::fopen(HostPaths().proc(0, "status").c_str(), "r");
  if (!f) return -1;
  char line[256];
  long kib = -1;
  std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') kib = std::atol(line + n + 1);
  std::fclose(f);
  return kib;
}

// The peak RSS growth of one parse, in a fresh child whose peak is reset (clear_refs 5) after the
// payload is made: only the parser's own memory counts.
long rssGrowthKib(const Case& c, std::size_t size) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string text = c.make(size);
    long growth = -1;
    if (std::FILE* f = std::fopen(HostPaths().proc(0, "clear_refs").c_str(), "w")) {
      std::fputs("5", f);
      std::fclose(f);
      long before = statusKib("VmRSS");
      parse(c, text);
      growth = statusKib("VmHWM") - before;
    }
    (void)!::write(fds[1], &growth, sizeof growth);
    ::_exit(0);
  }
  ::close(fds[1]);
  long growth = -1;
  if (::read(fds[0], &growth, sizeof growth) != sizeof growth) growth = -1;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return growth;
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  using namespace oomsentinel;
  using namespace oomsentinel::bench;
  double budget = 30;
  std::size_t max_kib = 4096;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--budget" || a == "--max-kib") && i + 1 < argc) {
      double v = std::atof(argv[++i]);
      if (v <= 0) {
        std::fprintf(stderr, "bench_parse_linear: %s needs a positive number\n%s", a.c_str(),
                     kUsage);
        return 2;
      }
      if (a == "--budget")
        budget = v;
      else
        max_kib = static_cast<std::size_t>(v);
    } else {
      std::fprintf(stderr, "%s", kUsage);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  SystemClock clock;
  std::printf("%-26s %9s %11s %11s  %s\n", "case", "size", "ms", "ms/MiB", "result");
  for (const Case& c : cases()) {
    for (std::size_t size : kSizes) {
      if (size > max_kib << 10) break;
      std::string text = c.make(size);
      // Small sizes are repeated for a stable figure; the median of the runs is reported.
      int runs = size <= (256u << 10) ? 9 : size <= (1u << 20) ? 5 : 3;
      std::vector<double> ms;
      std::string result;
      for (int r = 0; r < runs; ++r) {
        auto t0 = clock.steadyNow();
        result = parse(c, text);
        ms.push_back(std::chrono::duration<double, std::milli>(clock.steadyNow() - t0).count());
        if (ms.back() > budget * 1000) break;
      }
      std::sort(ms.begin(), ms.end());
      double med = ms[ms.size() / 2];
      double mib = static_cast<double>(text.size()) / (1 << 20);
      std::printf("%-26s %6zu KiB %11.2f %11.2f  %s\n", c.name, text.size() >> 10, med, med / mib,
                  result.c_str());
      std::fflush(stdout);
      if (med > budget * 1000) {
        std::printf("%-26s stopped: over the %.0f s budget\n", c.name, budget);
        break;
      }
    }
  }
  std::printf("\npeak RSS growth of one parse (child process, payload made before):\n");
  for (const Case& c : cases()) {
    if (std::string(c.name) != "expvar" && std::string(c.name) != "prom realistic") continue;
    std::size_t size = std::min<std::size_t>(4u << 20, max_kib << 10);
    std::printf("%-26s %6zu KiB  +%ld KiB\n", c.name, size >> 10, rssGrowthKib(c, size));
  }
  return 0;
}
