#include "daemon/status.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "core/clock.h"
#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/report.h"
#include "daemon/state_file.h"
#include "daemon/target_flags.h"

namespace oomsentinel {

const char* const kStatusUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] status\n"
    "           [--cgroup PATH | --pid PID | --self | --host] [--json]\n"
    "           [--watch INTERVAL [--count N]] [--state FILE]\n"
    "\n"
    "Shows how close a workload is to being OOM-killed: usage, limit, working set,\n"
    "headroom, pressure (PSI), faults, reclaim and OOM kills.\n"
    "\n"
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
    "Exit status: 0 ok; 1 the target disappeared or could not be read while watching;\n"
    "2 bad flag, unknown cgroup or process, or no memory controller.\n";

int runStatus(const HostPaths& paths, std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::optional<Target> target;
  bool json = false;
  std::optional<Duration> watch;
  long count = -1;
  std::string state_path = kDefaultStateFile;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (takeTargetFlag(args, target)) {
      continue;
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
  if (!target) target = Target::host();

  auto opened = openTarget(paths, *target);
  if (!opened) {
    std::cerr << "oomsentinel status: " << opened.error().describe() << "\n";
    return 2;
  }
  auto* tc = &opened->collector;
  SampleContext ctx{tc->get(), opened->layout};
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
