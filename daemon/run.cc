// `oomsentinel run`: its usage and flags; the daemon itself is daemon/daemon.h.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/state_file.h"

namespace oomsentinel {

const char* const kRunUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] run [--config FILE]\n"
    "           [--log-format human|json] [--state-file FILE]\n"
    "\n"
    "Watches the configured targets, evaluates the rules every tick (poll.interval, dropping\n"
    "to poll.fast_interval near a limit) and logs every rule transition on stderr.\n"
    "Without --config: watches its own cgroup when that has a memory limit (the sidecar\n"
    "case), otherwise the host, with the built-in rules; the first log line says which.\n"
    "\n"
    "  --state-file FILE  where `status` finds the daemon's interval and rule states\n"
    "                     (default /run/oomsentinel/state.json; 'none' to disable)\n"
    "\n"
    "  SIGHUP   reload the config (an invalid one is logged and the old one kept)\n"
    "  SIGTERM, SIGINT   stop\n"
    "\n"
    "Exit status: 0 stopped by a signal; 2 bad flag or invalid config at start.\n";

namespace {

DaemonOptions parseRunArgs(std::vector<std::string> argv) {
  Args args(std::move(argv));
  DaemonOptions o;
  o.state_file = kDefaultStateFile;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (args.flag("--config", &v)) {
      o.config_path = *v;
    } else if (args.flag("--state-file", &v)) {
      o.state_file = *v == "none" ? "" : *v;
    } else if (args.flag("--log-format", &v)) {
      if (*v == "json")
        o.log_format = Logger::Format::kJson;
      else if (*v == "human")
        o.log_format = Logger::Format::kHuman;
      else
        throw UsageError{"--log-format is human or json, got '" + *v + "'"};
    } else {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    }
  }
  return o;
}

}  // namespace

int runDaemon(const HostPaths& paths, std::vector<std::string> argv) {
  Daemon daemon(paths, parseRunArgs(std::move(argv)));
  return daemon.run();
}

}  // namespace oomsentinel
