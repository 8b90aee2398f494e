// daemon/: wiring and lifetime.
// The scheduler's kernel wake-up sources (docs/design/wakeups.md), as Asio objects on the
// run loop: on cgroup v1, an eventfd per target for usage thresholds derived from its rules and
// one for the OOM notifier; on cgroup v2, an inotify watch on each target's memory.events and a
// PSI trigger on its memory.pressure; on the host, a PSI trigger on memory pressure. Each
// notification calls `wake(source)`; the loop decides whether that starts a tick (Daemon::wakeUp
// coalesces them).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectors/kernel_events.h"
#include "config/config.h"
#include "core/host_paths.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "daemon/logger.h"
#include "daemon/threshold_armer.h"
#include "daemon/usage_watch.h"
#include "daemon/wake_source.h"
#include "rules/engine.h"

// Declared, not included: Asio's headers cost about a second of compile time in every
// translation unit that sees them, and this header needs only the name.
namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace oomsentinel {

class Watchdog;
class DaemonMetrics;
class TargetCollector;

// The usage levels, in bytes, whose crossing should wake a tick for one v1 target: each rule
// level on usage_bytes, usage_ratio, working_set_bytes or working_set_ratio, and the fast-poll
// level (`fast_above`, a working_set_ratio), turned into usage with the limit and the file cache
// (usage minus working set) of `last`. The cache is rounded up to a step (0.1% of the limit, at
// least 128 KiB), so that a cache that drifts a little does not re-arm the kernel every tick, and
// so that the wake-up comes at or just after the working set's crossing, never just before it (a
// tick that finds the rule not yet true would leave the crossing to the next tick); at 50 MiB/s
// a step of a 256 MiB limit is 5 ms of leak. Levels at or above the limit, and ratios without a
// limit, are left out; at most kMaxThresholds, the lowest dropped first. With `round_cache` false
// the cache is taken as it is: the levels of the usage watch (daemon/usage_watch.h), which reads
// the usage every millisecond and would otherwise wake up to a step late. `fast_level`, if given,
// gets the fast-poll level's usage (0 when it is left out).
inline constexpr std::size_t kMaxThresholds = 32;
std::vector<std::uint64_t> usageThresholds(const std::vector<std::pair<SignalId, double>>& levels,
                                           double fast_above, const Snapshot& last,
                                           bool round_cache = true,
                                           std::uint64_t* fast_level = nullptr);

class KernelWakeups {
 public:
  using Wake = std::function<void(WakeSource source)>;
  KernelWakeups(boost::asio::io_context& io, const HostPaths& paths, const Clock& clock,
                Logger& log, DaemonMetrics* metrics, Wake wake);
  ~KernelWakeups();
  KernelWakeups(const KernelWakeups&) = delete;
  KernelWakeups& operator=(const KernelWakeups&) = delete;

  // After every tick, on the loop's thread: arms each resolved v1 target with the levels its
  // rules want now (re-arming only when they changed, or when its cgroup was made again), feeds
  // the usage watch (daemon/usage_watch.h) each target's usage and the next tick, due after
  // `interval`, and drops the sources of targets gone. With poll.events off, drops everything.
  void update(const Watchdog& dog, Duration interval);
  // After a reload that changed the rules: every target's levels are worked out again at the
  // next update().
  void rulesChanged();
  // The signals the notifications themselves make, into a target's snapshot before its rules
  // are evaluated: vmpressure_low, _medium and _critical (cgroup v1), counted since listening
  // began, for a target whose rules read them. On the loop's thread.
  void addSignals(const std::string& target, Snapshot& snap) const;

  // For the state file and `status`: what the kernel was asked to report.
  struct Summary {
    bool enabled = false;
    std::size_t v1_armed = 0;    // v1 targets with an OOM notifier (and thresholds, if any)
    std::size_t v2_watched = 0;  // v2 targets with a watch on memory.events
    std::optional<Duration> host_window, cgroup_window;  // PSI windows the kernel took
    bool host_widened = false, cgroup_widened = false;   // widened to 2 s steps
  };
  Summary summary() const;

 private:
  struct Source;
  struct V1Target {
    std::string dir;
    std::optional<V1MemoryEvents> oom_events, threshold_events;  // the kernel's registrations
    std::shared_ptr<Source> oom, thresholds;                     // the loop's waits on them
    std::vector<std::uint64_t> levels;                           // the rules' levels, as usage
    // Thresholds being registered by the armer (daemon/threshold_armer.h): the levels asked,
    // the job's mark, and for the watch of a first arm its levels and the usage of the time.
    std::vector<std::uint64_t> arming;
    std::uint64_t arm_job = 0;
    std::vector<std::uint64_t> arming_watch;
    std::uint64_t arming_fast = 0;
    double arming_usage = std::numeric_limits<double>::quiet_NaN();
    UsageWatch::Target watch;
    bool levels_done = false;  // thresholds worked out (and armed, if any) for this cgroup
    std::string last_error;    // logged once per distinct error
    std::uint64_t seen = 0;    // the update() that last saw it resolved
    // vmpressure, while a rule reads it: an eventfd per level (low, medium, critical), each
    // counting the notifications at or above its level; the counts outlive a re-arm.
    std::array<std::shared_ptr<Source>, 3> pressure;
    std::shared_ptr<std::array<std::uint64_t, 3>> pressure_counts;
  };
  struct V2Target {
    std::string dir;
    dev_t dev = 0;
    ino_t ino = 0;
    int wd = -1;         // the watch on memory.events
    bool tried = false;  // add() was tried for this directory (retried at full reads)
    std::optional<PsiTrigger> trigger;  // on memory.pressure
    std::shared_ptr<Source> psi;
    std::optional<std::pair<Duration, Duration>> psi_asked;
    std::string last_error;
    std::uint64_t seen = 0;
    UsageWatch::Target watch;  // levels from the rules at each full read
  };
  void updateV2(V2Target& t, const std::string& name, const TargetCollector& c,
                const PollSpec& poll, bool full);
  void dropV2(V2Target& t);
  void armHost(const PollSpec& poll);
  void updateV1(V1Target& t, const std::string& name, const TargetCollector& c,
                const Snapshot& last, const std::vector<std::pair<SignalId, double>>& levels,
                double fast_above, bool full, bool vmpressure);
  void armPressure(V1Target& t, const std::string& name, bool wanted);
  void collectArmed();
  void adoptThresholds(V1Target& t, const std::string& name, Result<V1MemoryEvents> armed);
  void dropThresholds(V1Target& t);
  enum class Kind { kEventfd, kPsi, kInotify };
  std::shared_ptr<Source> listenOn(int fd, WakeSource source, Kind kind);
  std::shared_ptr<Source> adopt(OwnedFd fd, WakeSource source, Kind kind,
                                const std::function<void(Source&)>& setup = {});
  void listen(const std::shared_ptr<Source>& s);
  void drop(V1Target& t);
  void logOnce(std::string& last, const std::string& who, const Error& e);

  boost::asio::io_context& io_;
  HostPaths paths_;
  const Clock& clock_;
  Logger& log_;
  DaemonMetrics* metrics_;
  Wake wake_;
  std::map<std::string, V1Target> v1_;
  std::map<std::string, V2Target> v2_;
  std::optional<EventsWatch> events_watch_;  // made with the first v2 target
  std::shared_ptr<Source> events_source_;
  std::map<int, std::string> wd_target_;
  bool cgroup_psi_logged_ = false;
  bool enabled_ = false;
  std::uint64_t updates_ = 0;       // update() calls: targets not seen in the last one are dropped
  std::uint64_t arm_jobs_ = 0;      // jobs given to armer_, each target's latest its arm_job
  std::size_t pressure_armed_ = 0;  // v1 targets listening to vmpressure
  std::uint64_t band_;              // thresholdBand() of this machine
  UsageWatch watch_;
  std::optional<PsiTrigger> host_trigger_;
  std::shared_ptr<Source> host_psi_;
  std::optional<std::pair<Duration, Duration>> host_psi_asked_;  // stall, window
  std::string host_psi_error_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // for what the armer posts
  ThresholdArmer armer_;  // declared last, so destroyed first: its thread ends before the rest
};

}  // namespace oomsentinel
