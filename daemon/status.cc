#include "daemon/status.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/safe_text.h"
#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/logger.h"
#include "daemon/report.h"
#include "daemon/state_file.h"
#include "daemon/target_flags.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

const char* const kStatusUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] status\n"
    "           [--cgroup PATH | --pid PID | --self | --host |\n"
    "            --config FILE [--target NAME]] [--json]\n"
    "           [--watch INTERVAL [--count N]] [--state FILE]\n"
    "\n"
    "Shows how close a workload is to being OOM-killed: usage, limit, working set,\n"
    "headroom, pressure (PSI), faults, reclaim and OOM kills; with --config, also what\n"
    "each target's runtime says (heap, GC, allocation) from its configured endpoints.\n"
    "\n"
    "  --config FILE      the targets of a config file, each with its runtime endpoints\n"
    "  --target NAME      with --config: only this target\n"
    "  --cgroup PATH      a cgroup, relative to the memory hierarchy's root\n"
    "  --pid PID          the cgroup of a process, plus that process's own counters\n"
    "  --self             oomsentinel's own cgroup (the sidecar view)\n"
    "  --host             the whole machine (default when no target is given)\n"
    "  --json             one JSON object per sample, every signal by name\n"
    "  --watch INTERVAL   sample again every INTERVAL (e.g. 200ms, 1s) until stopped\n"
    "  --count N          with --watch: stop after N samples\n"
    "  --state FILE       the running daemon's state file (default\n"
    "                     /run/oomsentinel/state.json): its interval and rule states\n"
    "\n"
    "Exit status: 0 ok; 1 the target disappeared or could not be read while watching\n"
    "(with --config: a target could not be read); 2 bad flag, bad config, unknown\n"
    "cgroup, process or target name, or no memory controller.\n";

namespace {

struct StatusOptions {
  bool json = false;
  std::optional<Duration> watch;
  long count = -1;
  std::string state_path;
};

// status --config: the config's targets through the daemon's own watchdog.
int statusFromConfig(const HostPaths& paths, const std::string& config_path,
                     const std::optional<std::string>& only, const StatusOptions& o) {
  auto made = ConfigTargets::create(paths, config_path, only);
  if (!made) {
    std::cerr << "oomsentinel status: " << made.error().message << "\n";
    return 2;
  }
  ConfigTargets& ct = **made;
  Watchdog& dog = ct.watchdog();
  SystemClock clock;
  ct.primeRuntime();
  const auto& targets = ct.targets();
  bool several = targets.size() > 1;
  bool failed = false;
  for (long n = 0; o.count < 0 || n < o.count; ++n) {
    SteadyTime started = clock.steadyNow();
    dog.tick();
    if (n == 1 && o.watch && !o.json) std::cout << "\n" << watchHeader(several);
    for (const auto& t : targets) {
      const std::string& name = t.target.name;
      const Snapshot* snap = dog.lastSnapshot(name);
      const TargetCollector* tc = dog.collector(name);
      if (!snap || !tc) {
        // The error may quote the target's own answer (an HTTP body): made safe for a terminal.
        std::string why = safeText(dog.lastError(name));
        if (o.json) {
          nlohmann::ordered_json j;
          j["target"] = safeText(name);
          j["error"] = why.empty() ? "not read yet" : why;
          std::cout << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
                    << "\n";
        } else {
          std::cout << "target         " << safeText(name) << ": cannot read: " << why << "\n";
        }
        failed = true;
        continue;
      }
      SampleContext ctx = ct.context(name);
      if (o.json) {
        std::cout << snapshotJson(ctx, *snap) << "\n";
      } else if (n == 0) {
        std::cout << statusTable(ctx, *snap);
        if (several) std::cout << "\n";
      } else {
        std::cout << watchRow(*snap, several ? name : std::string());
      }
    }
    if (n == 0 && !o.json)
      if (auto d = daemonSummary(o.state_path, clock, std::chrono::seconds(5))) std::cout << *d;
    std::cout.flush();
    if (!o.watch) break;
    if (o.count > 0 && n + 1 >= o.count) break;
    std::this_thread::sleep_until(started + *o.watch);
  }
  return failed ? 1 : 0;
}

}  // namespace

int runStatus(const HostPaths& paths, std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::optional<Target> target;
  bool json = false;
  std::optional<Duration> watch;
  long count = -1;
  std::string state_path = kDefaultStateFile;
  std::optional<std::string> config_path, only;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (takeTargetFlag(args, target)) {
      continue;
    } else if (args.flag("--config", &v)) {
      config_path = *v;
    } else if (args.flag("--target", &v)) {
      only = *v;
    } else if (args.flag("--json")) {
      json = true;
    } else if (args.flag("--watch", &v)) {
      auto d = parseDuration(*v);
      if (!d) throw UsageError{"--watch: " + d.error().message};
      if (*d < std::chrono::milliseconds(10)) throw UsageError{"--watch: at least 10ms"};
      watch = *d;
    } else if (args.flag("--state", &v)) {
      state_path = *v;
    } else if (args.flag("--count", &v)) {
      char* end = nullptr;
      count = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || count <= 0)
        throw UsageError{"--count needs a positive number, got '" + *v + "'"};
    } else {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    }
  }
  if (count > 0 && !watch) throw UsageError{"--count goes with --watch"};
  checkConfigFlags(target, config_path, only);
  if (config_path)
    return statusFromConfig(paths, *config_path, only, {json, watch, count, state_path});
  if (!target) target = Target::host();

  auto opened = openTarget(paths, *target);
  if (!opened) {
    std::cerr << "oomsentinel status: " << opened.error().describe() << "\n";
    return 2;
  }
  auto* tc = &opened->collector;
  SampleContext ctx{tc->get(), opened->layout, {}};
  SystemClock clock;
  Snapshot snap;
  bool human_watch = watch && !json;
  for (long n = 0; count < 0 || n < count; ++n) {
    SteadyTime started = clock.steadyNow();
    if (auto st = (*tc)->collect(clock, snap); !st) {
      std::cerr << "oomsentinel status: " << target->name << ": "
                << (st.error().isGone() ? "target is gone: " : "cannot read: ")
                << st.error().describe() << "\n";
      return watch ? 1 : 2;
    }
    if (json)
      std::cout << snapshotJson(ctx, snap) << "\n";
    else if (n > 0)
      std::cout << watchRow(snap);
    else {
      std::cout << statusTable(ctx, snap);
      if (auto d = daemonSummary(state_path, clock, std::chrono::seconds(5))) std::cout << *d;
      if (human_watch) std::cout << "\n" << watchHeader() << watchRow(snap);
    }
    std::cout.flush();
    if (!watch) break;
    if (count > 0 && n + 1 >= count) break;
    std::this_thread::sleep_until(started + *watch);
  }
  return 0;
}

}  // namespace oomsentinel
