// daemon/: wiring and lifetime of the oomsentinel executable.
// main(): global flags, then one subcommand. Exit 0 ok, 1 findings/failure, 2 usage error.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/status.h"

#ifndef OOMSENTINEL_VERSION
#define OOMSENTINEL_VERSION "unknown"
#endif

namespace oomsentinel {
namespace {

const char* const kMainUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] COMMAND [ARGS]\n"
    "\n"
    "oomsentinel watches memory pressure and acts before the kernel OOM killer does.\n"
    "\n"
    "commands:\n"
    "  run           watch targets, evaluate rules, act before the OOM killer\n"
    "  status        how close a workload is to being OOM-killed\n"
    "  check-config  validate a config file (every error, with line and column)\n"
    "  record        write a trace of snapshots (JSON lines) for offline tuning\n"
    "  replay        run rules over a recorded trace and print the transitions\n"
    "  incidents     the incident bundles captured so far, newest first\n"
    "  help CMD   the usage of CMD\n"
    "\n"
    "global flags:\n"
    "  --cgroup-root DIR  where cgroupfs is mounted (default /sys/fs/cgroup); when given,\n"
    "                     the tree itself says whether it is cgroup v1 or v2\n"
    "  --proc-root DIR    where procfs is mounted (default /proc)\n"
    "  --version, --help\n";

const char* usageOf(const std::string& cmd) {
  if (cmd == "status") return kStatusUsage;
  if (cmd == "run") return kRunUsage;
  if (cmd == "check-config") return kCheckConfigUsage;
  if (cmd == "record") return kRecordUsage;
  if (cmd == "replay") return kReplayUsage;
  if (cmd == "incidents") return kIncidentsUsage;
  return nullptr;
}

int run(std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::string cgroup_root(HostPaths::kDefaultCgroupRoot), proc_root(HostPaths::kDefaultProcRoot);
  while (!args.empty()) {
    std::optional<std::string> v;
    if (args.flag("--cgroup-root", &v)) {
      cgroup_root = *v;
    } else if (args.flag("--proc-root", &v)) {
      proc_root = *v;
    } else if (args.flag("--version")) {
      std::cout << "oomsentinel " << OOMSENTINEL_VERSION << "\n";
      return 0;
    } else if (args.flag("--help") || args.flag("-h")) {
      std::cout << kMainUsage;
      return 0;
    } else if (!args.peek().empty() && args.peek()[0] == '-') {
      throw UsageError{"unknown global flag '" + args.peek() + "'"};
    } else {
      break;
    }
  }
  if (args.empty()) throw UsageError{"no command given"};
  std::string cmd = args.next();
  std::vector<std::string> rest;
  while (!args.empty()) rest.push_back(args.next());
  for (const auto& a : rest)
    if (a == "--help" || a == "-h") {
      if (!usageOf(cmd)) throw UsageError{"unknown command '" + cmd + "'"};
      std::cout << usageOf(cmd);
      return 0;
    }
  if (cmd == "help") {
    if (rest.empty()) {
      std::cout << kMainUsage;
      return 0;
    }
    if (!usageOf(rest[0])) throw UsageError{"unknown command '" + rest[0] + "'"};
    std::cout << usageOf(rest[0]);
    return 0;
  }
  HostPaths paths(cgroup_root, proc_root);
  const char* usage = usageOf(cmd);
  if (!usage) throw UsageError{"unknown command '" + cmd + "'"};
  try {
    if (cmd == "status") return runStatus(paths, rest);
    if (cmd == "run") return runDaemon(paths, rest);
    if (cmd == "check-config") return runCheckConfig(rest);
    if (cmd == "record") return runRecord(paths, rest);
    if (cmd == "incidents") return runIncidents(rest);
    return runReplay(rest);
  } catch (const UsageError& e) {
    std::cerr << "oomsentinel " << cmd << ": " << e.message << "\n\n" << usage;
    return 2;
  }
}

}  // namespace
}  // namespace oomsentinel

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return oomsentinel::run(std::move(args));
  } catch (const oomsentinel::UsageError& e) {
    std::cerr << "oomsentinel: " << e.message << "\n\n" << oomsentinel::kMainUsage;
    return 2;
  }
}
