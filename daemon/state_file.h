// daemon/: wiring and lifetime of the oomsentinel executable.
// The running daemon's state for `oomsentinel status`: the current poll interval, every target's
// resolution and every rule's state (including "unknown" and why), written atomically as JSON.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel {

class Watchdog;
class KernelWakeups;

inline constexpr const char* kDefaultStateFile = "/run/oomsentinel/state.json";

// The state as one JSON object (unix times in seconds); with `wakeups`, what the kernel was asked
// to report (docs/design/wakeups.md).
std::string stateJson(const Watchdog& dog, const Clock& clock,
                      const KernelWakeups* wakeups = nullptr);
// temp file in the same directory, fsync, rename: a reader never sees half a file.
Status writeStateFile(const std::string& path, const std::string& json);

// For status: the daemon's summary lines, or nullopt when there is no state file. A file older
// than `stale_after` is reported as stale (the daemon stopped or hangs). The age is measured on
// the monotonic clock (the file's steady_seconds), which a step of the wall clock does not move;
// on the wall clock, never below 0, for a file without it or from an earlier boot.
std::optional<std::string> daemonSummary(const std::string& path, const Clock& clock,
                                         Duration stale_after);

}  // namespace oomsentinel
