// bench/: benchmarks and their recorded results.
// bench_rules: what rules add to a tick. (1) Evaluation alone: 50 rules x 100 targets over
// evolving synthetic snapshots, per rule and per tick. (2) A whole tick, collect + evaluate, for
// 1 and 100 targets on cgroup v2 fixture trees, against collect alone, in the same run with the
// rounds interleaved so that drift hits both alike. README.md has the figures.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench/alloc_count.h"
#include "bench/fixture.h"
#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "core/clock.h"
#include "rules/engine.h"

namespace oomsentinel::bench {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// 50 rules of the kinds people write: levels, rates, slopes, windows, predictions, combinations.
std::vector<RuleSpec> fiftyRules() {
  std::vector<RuleSpec> r = defaultRules();
  const char* shapes[] = {
      "working_set_ratio > %d%%",
      "rate(pgfault[10s]) > %d000",
      "deriv(usage_bytes[10s]) > %dMiB",
      "avg_over(working_set_ratio[30s]) > %d%% and usage_bytes > 1MiB",
      "time_to_oom < %ds or working_set_ratio > 99%%",
      "max_over(usage_bytes[30s]) - min_over(usage_bytes[30s]) > %dMiB",
      "not (working_set_ratio < %d%%) and rate(pgmajfault[10s]) > 1",
      "delta(events_max[10s]) > %d",
  };
  for (int i = 0; r.size() < 50; ++i) {
    char expr[160];
    std::snprintf(expr, sizeof expr, shapes[i % 8], 50 + i);
    RuleSpec s;
    s.name = "bench-" + std::to_string(i);
    s.expr = expr;
    s.for_duration = std::chrono::seconds(5);
    s.actions = {ActionKind::kLog};
    r.push_back(s);
  }
  return r;
}

void evolve(Snapshot& s, int target, int tick, SteadyTime t) {
  s.clear();
  s.steady = t;
  // Usage oscillates below the limit, so rules change state rarely, as in a calm fleet.
  double usage = (400 + 5 * std::sin(tick * 0.01 + target)) * 1048576.0;
  s.set(Sig::kUsageBytes, usage);
  s.set(Sig::kLimitBytes, 1024 * 1048576.0);
  s.set(Sig::kWorkingSetBytes, usage * 0.9);
  s.set(Sig::kWorkingSetRatio, usage * 0.9 / (1024 * 1048576.0));
  s.set(Sig::kPgfault, 1000.0 * tick);
  s.set(Sig::kPgmajfault, 2.0 * tick);
  s.set(Sig::kPgscan, 10.0 * tick);
  s.set(Sig::kEventsMax, 0);
  s.set(Sig::kPsiFullAvg10, 0.5);
}

int evaluationOnly(int targets, int ticks) {
  RuleEngine engine(std::chrono::milliseconds(50));
  auto rules = fiftyRules();
  if (auto errs = engine.setRules(rules); !errs.empty()) {
    std::fprintf(stderr, "bench_rules: %s\n", errs[0].format().c_str());
    return 1;
  }
  std::vector<RuleEngine::TargetHandle> handles;
  std::vector<Snapshot> snaps(static_cast<std::size_t>(targets));
  for (int i = 0; i < targets; ++i)
    handles.push_back(engine.addTarget("t" + std::to_string(i), std::chrono::seconds(10)));
  std::vector<Firing> out;
  std::vector<RuleNotice> notices;
  out.reserve(1024);
  notices.reserve(1024);
  SteadyTime t{};
  std::vector<double> per_tick;
  std::size_t allocs = 0, transitions = 0, quiet_ticks = 0;
  for (int tick = 0; tick < ticks; ++tick) {
    t += std::chrono::milliseconds(100);
    for (int i = 0; i < targets; ++i) evolve(snaps[static_cast<std::size_t>(i)], i, tick, t);
    std::size_t a0 = allocationCount();
    auto t0 = Clock::now();
    std::size_t tick_transitions = 0;
    for (int i = 0; i < targets; ++i) {
      out.clear();
      notices.clear();
      engine.evaluate(handles[static_cast<std::size_t>(i)], snaps[static_cast<std::size_t>(i)], out,
                      notices);
      tick_transitions += out.size() + notices.size();
    }
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    std::size_t tick_allocs = allocationCount() - a0;
    transitions += tick_transitions;
    if (tick >= ticks / 2) {  // steady state: windows full
      per_tick.push_back(ns);
      // A transition allocates its Firing (names, values); the promise is about the rest.
      if (tick_transitions == 0) {
        allocs += tick_allocs;
        ++quiet_ticks;
      }
    }
  }
  double m = median(per_tick);
  std::printf(
      "evaluation: %zu rules x %d targets: %.0f us per tick, %.1f ns per rule per target; "
      "%zu allocations in %zu steady ticks without transitions; %zu transitions in %d ticks\n",
      rules.size(), targets, m / 1000, m / (static_cast<double>(rules.size()) * targets), allocs,
      quiet_ticks, transitions, ticks);
  return 0;
}

int wholeTick(int targets, const std::vector<RuleSpec>& rules, const char* label, int rounds,
              int iterations) {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("oomsentinel-bench-rules-" + std::to_string(::getpid()));
  std::vector<std::unique_ptr<TargetCollector>> collectors;
  for (int i = 0; i < targets; ++i) {
    auto tree = writeV2Fixture(dir + "/" + std::to_string(i));
    if (!tree) {
      std::fprintf(stderr, "bench_rules: %s\n", tree.error().describe().c_str());
      return 1;
    }
    HostPaths paths(tree->cgroup_root, tree->proc_root);
    auto layout = detectLayout(paths);
    if (!layout) {
      std::fprintf(stderr, "bench_rules: %s\n", layout.error().describe().c_str());
      return 1;
    }
    auto tc = TargetCollector::create(paths, *layout,
                                      Target::cgroupPath("t" + std::to_string(i), tree->cgroup));
    if (!tc) {
      std::fprintf(stderr, "bench_rules: %s\n", tc.error().describe().c_str());
      return 1;
    }
    collectors.push_back(std::move(*tc));
  }
  RuleEngine engine(std::chrono::milliseconds(50));
  if (auto errs = engine.setRules(rules); !errs.empty()) return 1;
  std::vector<RuleEngine::TargetHandle> handles;
  for (int i = 0; i < targets; ++i)
    handles.push_back(engine.addTarget("t" + std::to_string(i), std::chrono::seconds(10)));
  FakeClock clock;
  Snapshot snap;
  std::vector<Firing> out;
  std::vector<RuleNotice> notices;
  out.reserve(1024);
  notices.reserve(1024);
  auto round = [&](bool evaluate) {
    auto t0 = Clock::now();
    for (int it = 0; it < iterations; ++it) {
      clock.advance(std::chrono::milliseconds(100));
      for (int i = 0; i < targets; ++i) {
        (void)collectors[static_cast<std::size_t>(i)]->collect(clock, snap);
        if (evaluate) {
          out.clear();
          notices.clear();
          engine.evaluate(handles[static_cast<std::size_t>(i)], snap, out, notices);
        }
      }
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / iterations;
  };
  round(true);  // warm-up: files open, windows full
  std::vector<double> collect_only, with_rules;
  for (int r = 0; r < rounds; ++r) {
    collect_only.push_back(round(false));
    with_rules.push_back(round(true));
  }
  double c = median(collect_only), w = median(with_rules);
  std::printf(
      "tick: %3d targets, %2zu rules (%s): collect %8.1f us, collect+evaluate %8.1f us, "
      "rules add %5.1f%%\n",
      targets, rules.size(), label, c / 1000, w / 1000, (w / c - 1) * 100);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  using namespace oomsentinel;
  using namespace oomsentinel::bench;
  int rounds = argc > 1 ? std::atoi(argv[1]) : 11;
  std::printf("bench_rules: %d interleaved rounds; medians\n", rounds);
  if (int rc = evaluationOnly(100, 600); rc != 0) return rc;
  auto defaults = defaultRules();
  auto fifty = fiftyRules();
  for (int targets : {1, 100}) {
    int iterations = targets == 1 ? 4000 : 150;
    if (int rc = wholeTick(targets, defaults, "built-in", rounds, iterations); rc != 0) return rc;
    if (int rc = wholeTick(targets, fifty, "50 rules", rounds, iterations); rc != 0) return rc;
  }
  return 0;
}
