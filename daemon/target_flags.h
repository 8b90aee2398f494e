// daemon/: wiring and lifetime of the oomsentinel executable.
// The target of the one-shot commands (status, record): --cgroup PATH | --pid PID | --self |
// --host, and opening it (layout, collector) with one-line errors for the user.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "collectors/target_collector.h"
#include "core/host_paths.h"
#include "core/target.h"
#include "daemon/cli.h"

namespace oomsentinel {

// Consumes the next argument when it is a target flag; a second target is a UsageError.
bool takeTargetFlag(Args& args, std::optional<Target>& target);

struct OpenedTarget {
  std::unique_ptr<TargetCollector> collector;
  std::string layout;  // "unified", "legacy", "hybrid"; empty for the host
};
// Detects the layout (not for the host) and resolves the target; the error is the line to print.
Result<OpenedTarget> openTarget(const HostPaths& paths, const Target& target);

}  // namespace oomsentinel
