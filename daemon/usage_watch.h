// daemon/: wiring and lifetime.
// The usage watch (docs/design/wakeups.md): between two ticks, a target whose usage is
// about to reach one of its levels has its usage file read every millisecond until it does, and
// that crossing wakes a tick. A watch is started by
// - the tick's projection: the target's growth since its previous tick reaches a level before the
//   next tick (any cgroup; on v2 the kernel has no usage threshold, so this is what finds a level
//   between polls);
// - on cgroup v1, the kernel's threshold a band below each level: the kernel checks a cgroup's
//   thresholds only after 128 pages were charged on a CPU, so the level's own notification can
//   come a whole allocation burst late; the band is that lag (512 KiB per CPU), and the watch
//   finds the crossing within it.
// - on a cgroup without kernel thresholds (v2), the skim: between ticks, a target's usage is read
//   as often as a leak of poll.skim_rate (1 GiB/s) needs to cover half the way to its next level
//   (every 10 ms at most, every 640 ms at least: 80 ms for 200 MiB to go), and growth that
//   reaches the level before the next skim starts a watch. The ticks alone miss a leak that
//   starts from calm and passes the level within one slow interval.
// A watch ends at the crossing, when the tick that follows takes over, or after kLongest; one
// started by a notification that found nothing rests its target for kRest. At most kAtOnce
// watches run together, and at most kSkimAtOnce targets are skimmed (one timer for them all).
// Everything runs on the loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/owned_fd.h"
#include "daemon/wake_source.h"

// Declared, not included: Asio's headers cost about a second of compile time in every
// translation unit that sees them (this header reaches daemon.h and the state file).
namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace oomsentinel {

class DaemonMetrics;

// The band below each v1 level where the kernel is asked for an early notification: the most
// the kernel's check can lag, 128 pages on each online CPU, within [512 KiB, 8 MiB].
std::uint64_t thresholdBand(long cpus);
// The levels and, for each, its early twin a band below (when above 0), ascending, no repeats.
std::vector<std::uint64_t> withEarlyThresholds(const std::vector<std::uint64_t>& levels,
                                               std::uint64_t band);
// The lowest level `usage` has not passed (a level is crossed when the usage is above it, as a
// rule's `usage_bytes > X` is), if any, `skip` aside (0: none).
std::optional<std::uint64_t> nextLevel(const std::vector<std::uint64_t>& levels, double usage,
                                       std::uint64_t skip = 0);

// What a v1 threshold notification means, from the usage read when it came and the usage seen
// before it (NaN: none yet): kWake, a level was crossed upward (or the usage fell, or nothing is
// known): a tick at once, as before; kWatch, the usage rose into the band below a level without
// reaching it: watch it; kNothing, it rose but neither crossed a level nor is near one (the
// late notification of a level already seen crossed). `skip` (0: none) is a level that does not
// count: the fast-poll level while the poll is already fast.
enum class Notice { kWake, kWatch, kNothing };
Notice classifyNotice(const std::vector<std::uint64_t>& levels, std::uint64_t band, double before,
                      double now, std::uint64_t skip = 0);

// When a watch should start after a tick, from the projection: the time until the lowest level
// above `usage` is reached at `rate` (bytes per second), if that is before `next_tick`;
// nullopt when no level is ahead, the usage is not growing, or the tick comes first.
std::optional<Duration> projectedCrossing(const std::vector<std::uint64_t>& levels, double usage,
                                          double rate, Duration next_tick, std::uint64_t skip = 0);

// When a target skimmed at `now`, with `to_go` bytes to its next level, is read next: half the
// way at a leak of `rate` bytes per second (poll.skim_rate), rounded down to kSkim times a power
// of two within [kSkim, kSkimAtMost], at the next multiple of that period on the steady clock.
SteadyTime skimSlot(SteadyTime now, double to_go, double rate);

class UsageWatch {
 public:
  static constexpr Duration kEvery = std::chrono::milliseconds(1);
  static constexpr Duration kLongest = std::chrono::seconds(1);
  static constexpr Duration kRest = std::chrono::seconds(2);
  static constexpr std::size_t kAtOnce = 16;
  static constexpr Duration kSkim = std::chrono::milliseconds(10);  // the shortest skim period
  static constexpr Duration kSkimAtMost = std::chrono::milliseconds(640);  // the longest
  static constexpr std::size_t kSkimAtOnce = 64;

  using Wake = std::function<void(WakeSource source)>;
  // One target's state, kept by the owner (KernelWakeups) for as long as the target is armed.
  struct Target {
    std::string usage_file;             // memory.usage_in_bytes or memory.current
    std::vector<std::uint64_t> levels;  // usage levels, ascending
    std::uint64_t fast_level = 0;       // the one of them that is poll.fast_above (0: none)
    double seen = std::numeric_limits<double>::quiet_NaN();  // the usage last read
    double tick_usage = std::numeric_limits<double>::quiet_NaN();
    SteadyTime tick_at{};
    SteadyTime rest_until{};
    bool near = false;  // skimmed
    OwnedFd skim_fd;
    double skim_usage = std::numeric_limits<double>::quiet_NaN();
    SteadyTime skim_at{};
    SteadyTime skim_next{};
    struct Run;
    std::shared_ptr<Run> run;  // the watch in progress
  };

  // `clock` is read for the schedule; the timers run on the real steady clock, which it must be.
  UsageWatch(boost::asio::io_context& io, const Clock& clock, DaemonMetrics* metrics, Wake wake);
  ~UsageWatch();
  UsageWatch(const UsageWatch&) = delete;
  UsageWatch& operator=(const UsageWatch&) = delete;

  // After a tick read `t`: its usage then (NaN when not read) and when, and when the next tick
  // is due. Ends a watch whose level the tick saw reached; starts one when the projection says
  // a level comes before the next tick; with `skim` (no kernel thresholds), skims it while near
  // a level.
  void ticked(Target& t, double usage, SteadyTime at, SteadyTime next_tick, bool skim = false);
  // Whether the poll is fast now: the fast-poll level then wakes nothing (a tick is due within
  // the fast interval anyway, and the extra tick it would take is kept for a rule's level).
  void setFast(bool fast) { fast_ = fast; }
  // poll.skim_rate: the leak the skim is sized for, bytes per second; 0: no skim.
  void setSkimRate(std::uint64_t rate);
  // A v1 usage threshold notification for `t`; `band` as armed.
  void notified(Target& t, std::uint64_t band);
  // The target's watch, if any, ends (its target goes away or is re-armed).
  void stop(Target& t);
  std::size_t running() const { return running_; }
  std::size_t skimmed() const { return near_.size(); }

 private:
  void start(Target& t, std::uint64_t level, SteadyTime first, SteadyTime deadline,
             WakeSource started_by);
  void probe(Target& t, const std::shared_ptr<Target::Run>& run);
  void end(Target& t, const char* result);
  double readUsage(Target& t);
  void setNear(Target& t, bool near);
  void skim();

  boost::asio::io_context& io_;
  const Clock& clock_;
  DaemonMetrics* metrics_;
  Wake wake_;
  std::size_t running_ = 0;
  bool fast_ = false;
  double skim_rate_ = 1024.0 * 1024 * 1024;
  std::vector<Target*> near_;
  struct SkimTimer;  // a boost::asio::steady_timer, defined in the .cc to keep Asio out of here
  std::unique_ptr<SkimTimer> skim_timer_;
  bool skimming_ = false;
};

}  // namespace oomsentinel
