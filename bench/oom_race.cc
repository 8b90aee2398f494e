// bench/: benchmarks and their recorded results.
// bench_oom_race: the race against the OOM killer, measured side by side. Each trial leaks into a
// fresh cgroup v1 child (256 MiB) until the kernel kills the leaker, watched by oomsentinel (an
// adaptive or a fixed poll, a critical rule at 80% of the limit that dumps and alerts to Debian's
// Alertmanager) or, for Go, by the program's own in-process MemStats check; per cell it reports
// how often the evidence was complete before the kill, by how much, and how late the rule fired
// after the crossing. bench/run-oom-race runs it and records bench/results/oom_race.*.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/alertmanager_process.h"
#include "bench/race/report.h"
#include "bench/race/trial.h"

namespace oomsentinel::race {
namespace {

constexpr const char* kUsage =
    "usage: bench_oom_race [--trials N] [--rates 10,50,200,1000] [--runtimes cpp,go,java]\n"
    "                      [--configs "
    "defaults,defaults-watched,adaptive,adaptive-throttle,adaptive-poll,fixed-1s,fixed-5s,fixed-"
    "10s,go-inprocess]\n"
    "                      [--out DIR] [--name oom_race] [--commit REV] [--cgroup v1|v2]\n"
    "                      [--limit 256] [--no-alertmanager] [--smoke]\n"
    "       bench_oom_race --replot RESULTS.csv [--cgroup v1|v2] [--limit 256]: the SVG again\n"
    "Needs root and a cgroup memory controller (v1 at /sys/fs/cgroup/memory, else v2). --smoke: "
    "one trial per runtime at 50 MiB/s with\n"
    "the adaptive poll; exit 1 unless each was captured (the test suite runs it).\n"
    "Exit 77 when this machine cannot run it (the reason is printed).\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string x; std::getline(in, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

std::string preamble(const std::string& commit, int trials, const std::string& skipped, bool v2,
                     long long limit_mib) {
  utsname u{};
  ::uname(&u);
  std::ifstream load("/proc/loadavg");
  std::string l1, l5;
  load >> l1 >> l5;
  std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::ostringstream o;
  o << "# The race against the OOM killer\n\n"
    << "Recorded by `bench/run-oom-race` on " << when << ": commit " << commit << ", kernel "
    << u.release << ", " << ::sysconf(_SC_NPROCESSORS_ONLN) << " CPUs, load average " << l1 << " / "
    << l5 << " (1 / 5 min) at the end. cgroup " << (v2 ? "v2" : "v1") << ", limit " << limit_mib
    << " MiB, " << trials << " trial(s) per cell.\n\n"
    << "Each trial: a fresh cgroup child with that limit; the runtime's example prefills "
       "to a little over half the limit at once, then leaks at the cell's rate until the kernel "
       "kills it. **captured**: the runtime's heap evidence (gperftools profile, Go pprof heap, "
       "JVM class histogram) was published complete before the kill. **lead**: kill minus "
       "publish, over captured trials. **detection**: the rule's firing minus the moment the "
       "cgroup's working set crossed the rule's threshold (80% of the limit; 85% for the "
       "in-process check), the crossing timed by a 1 ms sampler of the cgroup's usage and "
       "memory.stat in the harness (the leakers' own logs know their heap, not what the cgroup "
       "is charged). **alert**: the critical alert first seen in Alertmanager's API (polled "
       "every 20 ms) before the kill. p99 is by nearest rank: with 3 trials it is the worst. "
       "**leak MiB/s (seen)**: the rate "
       "asked of the leaker and, in brackets, the rate the cgroup's working set grew over the "
       "last 10% of the limit before the threshold (p50): a rate a leaker cannot reach shows "
       "there.\n";
  if (!skipped.empty()) o << "\nNot run here: " << skipped << "\n";
  return o.str();
}

}  // namespace
}  // namespace oomsentinel::race

int main(int argc, char** argv) {
  using namespace oomsentinel::race;
  int trials = 3;
  std::vector<std::string> rates = {"10", "50", "200", "1000"}, runtimes = {"cpp", "go", "java"},
                           configs = {"adaptive", "adaptive-throttle", "adaptive-poll", "fixed-1s",
                                      "fixed-5s", "fixed-10s",         "go-inprocess"};
  std::string out_dir = ".", commit = "(unknown)", name = "oom_race", cgroup = "auto";
  long long limit_mib = 256;
  bool alertmanager = true, smoke = false;
  std::string replot;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--trials")
      trials = std::atoi(value().c_str());
    else if (a == "--rates")
      rates = split(value());
    else if (a == "--runtimes")
      runtimes = split(value());
    else if (a == "--configs")
      configs = split(value());
    else if (a == "--out")
      out_dir = value();
    else if (a == "--commit")
      commit = value();
    else if (a == "--name")
      name = value();
    else if (a == "--cgroup")
      cgroup = value();
    else if (a == "--limit")
      limit_mib = std::atoll(value().c_str());
    else if (a == "--no-alertmanager")
      alertmanager = false;
    else if (a == "--replot")
      replot = value();
    else if (a == "--smoke")
      smoke = true;
    else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (!replot.empty()) {
    std::ifstream in(replot);
    std::stringstream text;
    text << in.rdbuf();
    auto trials_back = parseCsvTrials(text.str());
    if (trials_back.empty()) {
      std::cerr << "bench_oom_race: no trials in " << replot << "\n";
      return 2;
    }
    std::cout << svgPlot(summarize(trials_back), cgroup == "v2" ? "v2" : "v1", limit_mib);
    return 0;
  }
  if (smoke) {
    trials = 1;
    rates = {"50"};
    configs = {"adaptive"};
  }
  if (trials < 1) {
    std::cerr << "--trials must be at least 1\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "bench_oom_race: needs root to make cgroups (run as root, as CI does)\n";
    return 77;
  }
  bool has_v1 = ::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0;
  std::ifstream controllers("/sys/fs/cgroup/cgroup.controllers");
  std::string line;
  std::getline(controllers, line);
  bool has_v2 = (" " + line + " ").find(" memory ") != std::string::npos;
  if (cgroup == "auto") cgroup = has_v1 ? "v1" : "v2";
  bool v2 = cgroup == "v2";
  if ((v2 && !has_v2) || (!v2 && !has_v1)) {
    std::cerr << "bench_oom_race: no cgroup " << cgroup << " memory controller here ("
              << (v2 ? "/sys/fs/cgroup/cgroup.controllers lacks memory"
                     : "/sys/fs/cgroup/memory/memory.limit_in_bytes is missing")
              << ")\n";
    return 77;
  }
  Programs programs{OOMSENTINEL_BINARY, OOMSENTINEL_CPP_LEAK, OOMSENTINEL_GO_LEAK,
                    OOMSENTINEL_JAVA_LEAK};
  std::string skipped;
  std::vector<std::string> usable;
  for (const auto& r : runtimes) {
    std::string path = r == "cpp"  ? programs.cpp_leak
                       : r == "go" ? programs.go_leak
                                   : programs.java_leak;
    std::string why = path.empty() ? "its example was not built" : "";
    if (r == "java" && ::access("/usr/bin/jcmd", X_OK) != 0) why = "jcmd is missing (a JDK)";
    if (r != "cpp" && r != "go" && r != "java") why = "unknown runtime";
    if (why.empty())
      usable.push_back(r);
    else
      skipped += (skipped.empty() ? "" : "; ") + r + ": " + why;
  }
  if (usable.empty()) {
    std::cerr << "bench_oom_race: no runtime can run here: " << skipped << "\n";
    return 77;
  }
  std::unique_ptr<oomsentinel::bench::Alertmanager> am;
  if (alertmanager) {
    auto started = oomsentinel::bench::Alertmanager::start("/usr/bin/prometheus-alertmanager");
    if (!started) {
      std::cerr << "bench_oom_race: " << started.error().describe()
                << "\n(--no-alertmanager runs without the alert action)\n";
      return 1;
    }
    am = std::move(*started);
  }
  std::string work =
      std::filesystem::temp_directory_path() / ("oomsentinel-race-" + std::to_string(::getpid()));
  std::vector<TrialResult> results;
  int n = 0;
  // Interleaved: every configuration of a cell runs before the next trial of any of them, so
  // that a noisy minute spreads over all of them instead of spoiling one.
  for (int t = 0; t < trials; ++t)
    for (const auto& runtime : usable)
      for (const auto& rate : rates)
        for (const auto& config : configs) {
          if (config == "go-inprocess" && runtime != "go") continue;
          if (config == "adaptive-throttle" && !v2) continue;  // v1 has no memory.high
          TrialSpec spec;
          spec.runtime = runtime;
          spec.config = config;
          spec.rate_mib = std::atof(rate.c_str());
          spec.index = t;
          spec.threshold = config == "go-inprocess" ? 0.85 : 0.80;
          spec.alertmanager = am ? am->url() : "";
          spec.work_dir = work + "/" + std::to_string(++n);
          spec.cgroup_v2 = v2;
          spec.limit_bytes = limit_mib << 20;
          TrialResult r = runTrial(spec, programs);
          std::fprintf(stderr, "%-5s %-13s %5s MiB/s #%d: %s", runtime.c_str(), config.c_str(),
                       rate.c_str(), t, r.captured ? "captured" : "LOST");
          if (r.captured) std::fprintf(stderr, ", lead %.0f ms", (r.killed - r.published) * 1000);
          if (r.fired > 0 && r.crossed > 0)
            std::fprintf(stderr, ", detection %.0f ms", (r.fired - r.crossed) * 1000);
          if (!r.note.empty()) std::fprintf(stderr, " (%s)", r.note.c_str());
          std::fprintf(stderr, "\n");
          results.push_back(std::move(r));
        }
  std::error_code ec;
  if (std::getenv("OOMSENTINEL_RACE_KEEP"))  // each trial's config, daemon log and leaker log
    std::fprintf(stderr, "kept %s\n", work.c_str());
  else
    std::filesystem::remove_all(work, ec);
  auto cells = summarize(results);
  std::string md = markdownReport(cells, preamble(commit, trials, skipped, v2, limit_mib));
  std::filesystem::create_directories(out_dir, ec);
  std::ofstream(out_dir + "/" + name + ".md") << md;
  std::ofstream(out_dir + "/" + name + ".svg") << svgPlot(cells, v2 ? "v2" : "v1", limit_mib);
  std::ofstream(out_dir + "/" + name + ".csv") << csvTrials(results);
  std::cout << md;
  if (smoke)
    for (const auto& r : results)
      if (!r.captured) {
        std::cerr << "smoke: " << r.spec.runtime << " was not captured: " << r.note << "\n";
        return 1;
      }
  return 0;
}
