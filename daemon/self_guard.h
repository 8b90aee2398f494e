// daemon/: wiring and lifetime of the oomsentinel executable.
// SelfGuard: the daemon's own memory against its own cgroup's limit (issue 19, fault 13). Near the
// limit the daemon degrades instead of being OOM-killed: targets are only skimmed, no dump begins,
// no runtime endpoint is fetched (daemon/watchdog.cc acts on degraded()). The decision is a pure
// function (nextDegraded), so thresholds and hysteresis are tested without a cgroup.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "collectors/target_collector.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "core/snapshot.h"

namespace oomsentinel {

// The daemon leaves degraded mode this far (as a ratio of the limit) below the mark it entered
// at, so that usage hovering at the mark does not flap the mode (and the log) every tick.
inline constexpr double kDegradeHysteresis = 0.10;

// Whether the daemon is degraded after this reading: it enters at `used >= above * limit`, and
// leaves below `(above - kDegradeHysteresis) * limit`. No limit, or `above` 0: never.
bool nextDegraded(bool degraded, double used, std::optional<double> limit, double above);

class SelfGuard {
 public:
  // `above`: poll.degrade_above (0: the guard is off).
  SelfGuard(const HostPaths& paths, const Clock& clock) : paths_(paths), clock_(clock) {}
  void setMark(double above) { above_ = above; }

  enum class Change { kNone, kEntered, kLeft };
  // The daemon's own memory moves with what it reads, slowly next to a tick near a limit (50 ms):
  // its cgroup is read at most this often (a whole collect: memory.stat parsed), not every tick.
  static constexpr Duration kEvery = std::chrono::seconds(1);
  // Reads the daemon's own cgroup (held descriptors: the cgroup collector of Target::self(),
  // collectors/) and decides, at most once every kEvery unless `now` (a check right after
  // malloc_trim). Before the first check, and after a read fails, the cgroup is resolved again,
  // at most once a minute.
  Change check(bool now = false);

  bool degraded() const { return degraded_; }
  // What the last check read: the working set (usage - inactive file, as the kubelet and the
  // targets' rules count it) and the effective limit (the smallest up the tree; on v2 also the
  // own memory.high); none before a read or without a limit.
  std::optional<double> used() const { return used_; }
  std::optional<double> limit() const { return limit_; }
  // The mark's ratio (0: off).
  double mark() const { return above_; }
  // Why the guard reads nothing (no own cgroup, no memory controller); empty while it reads.
  const std::string& off() const { return off_; }

 private:
  HostPaths paths_;
  const Clock& clock_;
  double above_ = 0.90;
  std::unique_ptr<TargetCollector> self_;
  std::optional<SteadyTime> next_resolve_;
  std::optional<SteadyTime> last_read_;
  Snapshot s_;
  bool degraded_ = false;
  std::optional<double> used_, limit_;
  std::string off_;
};

}  // namespace oomsentinel
