// bench/: benchmarks and their recorded results.
// bench_soak's samples and what is made of them: the daemon's /metrics read into the figures the
// soak follows, the p99 of the tick lateness from the histogram's bucket deltas, the verdict
// against issue 19's goals, and the report (Markdown), the plot (SVG) and the raw samples (CSV).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace oomsentinel::bench {

// One sample, every --sample-seconds: the daemon from outside (/proc) and from its /metrics.
struct SoakSample {
  double t = 0;          // seconds since the daemon was ready
  double rss_kib = 0;    // /proc/PID/status VmRSS
  double fds = 0;        // entries of /proc/PID/fd
  double cpu_s = 0;      // /proc/PID/stat utime + stime
  double m_rss_kib = 0;  // oomsentinel_process_resident_memory_bytes / 1024
  double m_fds = 0, m_cpu_s = 0, targets = 0;
  // oomsentinel_process_malloc_bytes / 1024 (glibc's arenas): what RSS growth is made of.
  double malloc_in_use_kib = 0, malloc_free_kib = 0, malloc_mmapped_kib = 0;
  std::vector<double> late_le;      // the histogram's bucket bounds, seconds (+Inf last)
  std::vector<double> late_counts;  // cumulative counts per bound
  double firings = 0;               // rule transitions to firing, all targets
  double incidents_published = 0, incidents_skipped = 0, incidents_failed = 0;
  double dumps_ok = 0, dumps_failed = 0;
  double am_sent = 0, am_errors = 0, reloads_ok = 0, reloads_failed = 0;
  double load1 = 0;
  int cgroups = 0;        // children of the soak's parent at that moment
  int leakers_alive = 0;  // leaking processes alive (the daemon holds their /proc files)
  bool am_up = false;     // Alertmanager was running
  bool scraped = false;   // /metrics answered
};

// The figures of `body` (Prometheus text) into `s` (its /metrics part); false when the lateness
// histogram is missing.
bool readMetrics(std::string_view body, SoakSample& s);

// The p99 of the ticks observed between two samples, from the bucket deltas: the upper bound of
// the bucket holding the 99th percentile (nearest rank), in ms; infinity when it is the +Inf
// bucket, NaN when no tick was observed. `ticks` gets the number of ticks.
double lateP99Ms(const SoakSample& from, const SoakSample& to, double* ticks = nullptr);
// The upper bound (ms) of the highest bucket with a tick between the two samples: the worst tick.
double lateMaxMs(const SoakSample& from, const SoakSample& to);

// The most incident bundles begun (published or failed) in any 60 s of samples: storm control.
double maxBundlesPerMinute(const std::vector<SoakSample>& s, int sample_s);

struct SoakRun {
  std::string params;    // Markdown bullet lines: the run's parameters
  std::string machine;   // Markdown bullet lines: the machine and its load
  std::string events;    // Markdown bullet lines: what the run did (churn, leaks, restarts)
  std::string warnings;  // the daemon's WARNING/ERROR lines, summarized
  double warmup_s = 300;
  int sample_s = 10;
};

struct SoakVerdict {
  bool ok = true;
  std::string text;  // one line per goal: met or missed, and by how much
};

// The machine's Markdown lines: CPUs, kernel, CPU model, the load at start, during and at end.
std::string describeMachine(const std::vector<SoakSample>& samples, const std::string& load_start,
                            const std::string& load_end);
SoakVerdict judge(const std::vector<SoakSample>& samples, const SoakRun& run);
std::string soakMarkdown(const std::vector<SoakSample>& samples, const SoakRun& run,
                         const SoakVerdict& verdict);
std::string soakSvg(const std::vector<SoakSample>& samples, const SoakRun& run);
std::string soakCsv(const std::vector<SoakSample>& samples);

}  // namespace oomsentinel::bench
