// dumpers/: capturing evidence while the process is still alive.
// Throttling during a dump (cgroup v2, opt-in per target): memory.high is set just above the
// cgroup's usage so the kernel slows the leaker (reclaim, then sleeps) while the profile is taken,
// and the previous value is put back after. What was changed is recorded on disk *before* the
// change, so a daemon that crashed mid-dump puts it back at its next start.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel {

struct ThrottleSpec {
  Duration max_duration = std::chrono::seconds(5);  // the throttle ends then, dump done or not
  std::uint64_t headroom = 0;  // memory.high = usage + headroom; 0: 1% of memory.max, >= 4 MiB
  bool operator==(const ThrottleSpec&) const = default;
};

// One change of a memory.high, as recorded in the records directory (one JSON file per cgroup).
struct ThrottleRecord {
  std::string target;
  std::string cgroup_dir;   // as the daemon sees it (HostPaths applied)
  std::uint64_t inode = 0;  // of cgroup_dir: a cgroup made again is not the one we changed
  std::string previous;     // memory.high before: "max" or a byte count
  std::uint64_t set = 0;    // what we wrote, rounded to pages as the kernel reads it back
  std::uint64_t usage = 0;  // memory.current when we wrote it
  WallTime at{};
};

// The records directory: written before memory.high is, removed after it is put back.
class ThrottleRecords {
 public:
  explicit ThrottleRecords(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  // Made 0700 when missing.
  Status prepare() const;
  // Atomically (temp file, fsync, rename, fsync of the directory).
  Status write(const ThrottleRecord& r) const;
  void remove(const std::string& cgroup_dir) const;
  // Every record left in the directory: (the file, what it holds or why it cannot be read).
  std::vector<std::pair<std::string, Result<ThrottleRecord>>> list() const;
  std::string pathFor(const std::string& cgroup_dir) const;

 private:
  std::string dir_;
};

// What happened to one cgroup's memory.high.
enum class ThrottleResult {
  kThrottled,  // memory.high set just above the usage
  kRestored,   // put back: the dump ended
  kExpired,    // put back: max_duration passed
  kReleased,   // put back: the daemon is stopping
  kRecovered,  // put back: a run that stopped while throttling left it
  kSkipped,    // nothing to do, or not possible
  kFailed,
};
// Its one spelling, as the log's result field, the result label of
// oomsentinel_dump_throttle_total (docs/metrics.md) and the tests write it: "throttled",
// "restored", "expired", "released", "recovered", "skipped", "failed".
const char* throttleResultName(ThrottleResult r);
// What the daemon's log line says of it ("throttle ended: the dump is done", ...).
const char* throttleResultMessage(ThrottleResult r);

// What happened to one cgroup's memory.high: for the log and oomsentinel_dump_throttle_total.
struct ThrottleEvent {
  std::string target, cgroup_dir;
  ThrottleResult result = ThrottleResult::kFailed;
  std::string detail;  // values and reasons, human-readable
  WallTime at{};
  bool held = false;  // memory.high is still ours after it (throttled; a put-back that failed)
};

// One throttle in force; put back exactly once, whichever of end, timeout and shutdown comes first.
class ThrottleHold {
 public:
  ThrottleHold(ThrottleRecord record, ThrottleRecords records, SteadyTime started)
      : record_(std::move(record)), records_(std::move(records)), started_(started) {}
  // `result` is the event's result (restored, expired, released); nullopt if already put back.
  std::optional<ThrottleEvent> release(ThrottleResult result, const Clock& clock);
  const ThrottleRecord& record() const { return record_; }

 private:
  ThrottleRecord record_;
  ThrottleRecords records_;
  SteadyTime started_;
  std::mutex mu_;
  bool released_ = false;
};

// Sets memory.high of `cgroup_dir` just above its usage and records it; the event says what was
// done (throttled) or why not (skipped, failed), and the hold is there only when it was done.
struct ThrottleStart {
  ThrottleEvent event;
  std::unique_ptr<ThrottleHold> hold;
};
ThrottleStart startThrottle(const std::string& target, const std::string& cgroup_dir,
                            const ThrottleSpec& spec, const ThrottleRecords& records,
                            const Clock& clock);

// Puts back every memory.high a previous run left throttled (it crashed or was killed mid-dump),
// when the cgroup is still the one changed and still holds the value set; removes the records.
std::vector<ThrottleEvent> recoverThrottles(const ThrottleRecords& records, const Clock& clock);

// The value memory.high would get: usage + headroom (or the default), page-aligned, below
// memory.max; nullopt with `why` when throttling cannot lower anything.
std::optional<std::uint64_t> throttleLevel(std::uint64_t usage, std::optional<std::uint64_t> max,
                                           std::optional<std::uint64_t> previous,
                                           std::uint64_t headroom, std::uint64_t page,
                                           std::string* why);

}  // namespace oomsentinel
