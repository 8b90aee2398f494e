// daemon/: wiring and lifetime of the oomsentinel executable.
// The target of the one-shot commands (status, record): --cgroup PATH | --pid PID | --self |
// --host, and opening it (layout, collector) with one-line errors for the user.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "core/target.h"
#include "daemon/cli.h"
#include "daemon/logger.h"
#include "daemon/report.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

// Consumes the next argument when it is a target flag; a second target is a UsageError.
bool takeTargetFlag(Args& args, std::optional<Target>& target);

struct OpenedTarget {
  std::unique_ptr<TargetCollector> collector;
  std::string layout;  // "unified", "legacy", "hybrid"; empty for the host
};
// Detects the layout (not for the host) and resolves the target; the error is the line to print.
Result<OpenedTarget> openTarget(const HostPaths& paths, const Target& target);

// --config FILE and --target NAME against the target flags: a UsageError when they are mixed.
void checkConfigFlags(const std::optional<Target>& target,
                      const std::optional<std::string>& config_path,
                      const std::optional<std::string>& only);

// --config FILE [--target NAME]: the config's targets (every one, or the one named) watched by
// the daemon's own Watchdog without rules, so runtime endpoints are fetched and merged as `run`
// does; its log keeps only errors. create() returns the lines to print on failure.
class ConfigTargets {
 public:
  static Result<std::unique_ptr<ConfigTargets>> create(const HostPaths& paths,
                                                       const std::string& config_path,
                                                       const std::optional<std::string>& only);
  // Starts every endpoint's first fetch and waits for the answers, within their timeouts.
  void primeRuntime();
  Watchdog& watchdog() { return *dog_; }
  const std::vector<TargetSpec>& targets() const { return config_.targets; }
  // The context a report needs for a target (nullptr collector while it is unresolved).
  SampleContext context(const std::string& name) const;

 private:
  ConfigTargets(const HostPaths& paths, Config config);
  Config config_;
  SystemClock clock_;
  Logger log_;
  std::unique_ptr<Watchdog> dog_;
};

}  // namespace oomsentinel
