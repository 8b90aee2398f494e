// dumpers/: capturing evidence while the process is still alive.
// IncidentStore: the dump directory's incident bundles, published whole or not at all, with a
// manifest saying what fired and what was captured, and kept within count, size and age limits.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/owned_fd.h"
#include "core/result.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// What fired, as the manifest records it.
struct IncidentInfo {
  std::string target, rule, severity, expr;
  WallTime fired_at{};
  std::vector<std::pair<std::string, double>> values;  // the signals at firing
  struct Sample {
    WallTime time{};
    std::vector<std::pair<std::string, double>> signals;
  };
  std::vector<Sample> history;  // the last samples before firing, oldest first
  // host, namespace, pod, container when known.
  std::vector<std::pair<std::string, std::string>> labels;
};

struct StoreLimits {
  std::string dir;
  std::size_t max_incidents = 20;
  std::uint64_t max_bytes = 2ull << 30;
  Duration max_age = std::chrono::hours(24 * 7);
  // Free space the store leaves to the host: a dump that would start below it is skipped, so the
  // watchdog never fills the disk that the workload it protects also needs.
  std::uint64_t min_free = 1ull << 30;
  // All artifacts of one bundle together (dump.max_bundle_bytes; 0: no cap): retention never
  // removes the newest bundle, so this is what bounds it. min_free is checked again before each
  // artifact (dumpers/bundle_budget.h).
  std::uint64_t max_bundle_bytes = 1ull << 30;
};

// A bundle being written: dumpers write into dir(), which no reader looks at, until publish().
class PendingBundle {
 public:
  const std::string& name() const { return name_; }  // the final directory's name
  const std::string& dir() const { return temp_path_; }
  const std::string& finalPath() const { return final_path_; }
  const IncidentInfo& info() const { return info_; }
  // Neither published nor abandoned yet.
  bool pending() const { return pending_; }

  PendingBundle() = default;
  // Move-only: one bundle, published or abandoned once. A moved-from one is no longer pending.
  PendingBundle(PendingBundle&& o) noexcept { *this = std::move(o); }
  PendingBundle& operator=(PendingBundle&& o) noexcept {
    name_ = std::move(o.name_);
    base_ = std::move(o.base_);
    temp_name_ = std::move(o.temp_name_);
    temp_path_ = std::move(o.temp_path_);
    dir_fd_ = std::move(o.dir_fd_);
    temp_fd_ = std::move(o.temp_fd_);
    final_path_ = std::move(o.final_path_);
    info_ = std::move(o.info_);
    pending_ = std::exchange(o.pending_, false);
    return *this;
  }
  PendingBundle(const PendingBundle&) = delete;
  PendingBundle& operator=(const PendingBundle&) = delete;

 private:
  friend class IncidentStore;
  std::string name_, base_, temp_name_, temp_path_, final_path_;  // base_: without a "-N"
  // The dump directory as it was held at begin(), and the bundle's own directory: the store's
  // operations go through these, never through the path, which someone may have swapped since.
  std::shared_ptr<const OwnedFd> dir_fd_;
  OwnedFd temp_fd_;
  IncidentInfo info_;
  bool pending_ = false;
};

struct RetentionReport {
  enum class Reason { kAge, kCount, kBytes };
  struct Removed {
    std::string name, path;
    Reason reason = Reason::kAge;
    std::string why;  // "older than 168h", "more than 20 incidents", "over 2.00 GiB in total"
    WallTime time{};  // the bundle's time (fired_at)
    std::uint64_t bytes = 0;
  };
  std::vector<Removed> removed;  // in the order they were removed: oldest first
  std::size_t kept = 0;
  std::uint64_t kept_bytes = 0;
  // Bundles that should have gone but could not be removed; retention carries on past them.
  std::vector<Error> errors;
};

struct IncidentSummary {
  std::string name, path, target, rule, severity;
  WallTime fired_at{}, published_at{};
  std::size_t artifacts = 0;
  std::uint64_t bytes = 0;  // every file of the bundle, as it sits on disk
  std::vector<std::pair<std::string, std::string>> results;  // dumper -> result
  std::string problem;  // empty, or why the manifest could not be read (the rest is a guess)
  // The manifest's "outcome": empty for a bundle published by its dump, "lost" for the record
  // of an incident whose dump a stopped daemon never finished (IncidentStore::prepare).
  std::string outcome;
};

// What a published bundle's manifest says beyond its summary, read back for `oomsentinel
// incidents show`. The strings are the manifest's as they are: a reader makes them safe before it
// shows them (an error text or a hook's file name may hold any bytes of the target's).
struct IncidentDetail {
  std::string expr;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, double>> values;  // "NaN", "+Inf", "-Inf" read back
  std::vector<IncidentInfo::Sample> history;           // oldest first
  struct File {
    std::string dumper, file, sha256, truncated_by;  // file: relative to the bundle
    std::uint64_t bytes = 0;
    bool truncated = false;
    bool present = false;  // a regular file is there now (a symlink is not followed)
  };
  std::vector<File> files;
  struct Dump {
    std::string dumper, result, error;
    double took_seconds = 0;
  };
  std::vector<Dump> dumps;
};

// An incident whose bundle was still being written when the daemon stopped (SIGKILL, the OOM
// killer, a power cut): found by the next start's prepare(). Retrying the capture then would
// capture another moment, so the incident is recorded as lost instead.
struct LostIncident {
  std::string name;  // the bundle's name
  std::string target, rule;
  WallTime fired_at{};
  std::string path;   // the record published in its place ("" when even that failed)
  std::string error;  // why there is no record, when path is empty
};

// The manifest's lost_reason.
inline constexpr const char* kLostReason = "the daemon stopped during the dump (found at start)";

class IncidentStore {
 public:
  explicit IncidentStore(StoreLimits limits);
  IncidentStore(const IncidentStore&) = delete;
  IncidentStore& operator=(const IncidentStore&) = delete;

  const StoreLimits& limits() const { return limits_; }

  // Run once at start, before any begin(): creates the dump directory (0700, with its parents),
  // opens it (never through a final symlink; it must be owned by our euid) and holds it, and
  // turns each `.partial-*` bundle a stopped run left behind into a record of a lost incident:
  // a bundle of the same name whose manifest has "outcome": "lost" and no artifacts (what the
  // stopped dump wrote was never checked whole, so it is removed). Returns how many there were;
  // takeLost() says which. `now` is the records' published_at.
  Result<std::size_t> prepare(WallTime now);
  Result<std::size_t> prepare();  // now: the system clock
  // The incidents prepare() found lost, once.
  std::vector<LostIncident> takeLost();
  // What the store changed on its own to go on, once each, for the log: a dump directory of ours
  // found writable by group or others is made 0700 when it is opened, not used as it is.
  std::vector<std::string> takeNotices();

  // Reserves a name and creates the bundle's hidden directory (0700), with a record of what fired
  // (".begun.json": a manifest with "outcome": "in_progress", not fsynced) that prepare() reads
  // back if the daemon stops before publish(), which removes it. Refuses with an Error whose
  // message starts with "skipped: " when the dump directory's free space is under min_free. The
  // name's time is info.fired_at (now when unset).
  //
  // The dump directory is the one held since prepare(), used by descriptor. When the path no
  // longer names it, begin() refuses and says why: the path is gone (removed), a symlink (never
  // followed, whatever it points to), or not a directory. A real directory back at the path,
  // owned by our euid, is opened and held from then on (removed and made again: the next
  // bundle goes there); one owned by anyone else is refused.
  Result<PendingBundle> begin(const IncidentInfo& info, WallTime now);

  // Writes manifest.json, makes every file durable and renames the bundle into view, then
  // enforces retention (sparing the bundle just published; what retention did goes to
  // *retention when given). Returns the final path. On failure the bundle stays pending: the
  // caller abandons it (or tries again). A dump directory replaced while the bundle was written
  // (the path no longer names the directory begin() used) fails the publish, saying so.
  Result<std::string> publish(PendingBundle& bundle, const std::vector<DumpOutcome>& outcomes,
                              WallTime now, RetentionReport* retention = nullptr);

  // Removes a bundle that will not be published, with whatever was written into it.
  void abandon(PendingBundle& bundle);

  // Removes bundles, oldest first, until at most max_incidents remain, they take at most
  // max_bytes, and none is older than max_age. Only directories that look like bundles (a
  // manifest.json or a bundle's name) are ever removed; the newest bundle is never removed for
  // count or size, and a bundle still being published is never removed at all.
  Result<RetentionReport> enforceRetention(WallTime now);

  // The published bundles in `dir`, newest first. A bundle whose manifest cannot be read is
  // listed with `problem` set.
  static Result<std::vector<IncidentSummary>> list(const std::string& dir);

  // The manifest of the published bundle `name` in `dir` (incident_read.cc). Refused: a name that
  // is not a bundle's (hidden, holding '/', "." or ".."), a bundle directory that is a symlink,
  // and a manifest that cannot be read, is over 16 MiB, or is not a JSON object, each error
  // naming the manifest's path. A field missing or of another type is left empty.
  static Result<IncidentDetail> detail(const std::string& dir, const std::string& name);
  // The file `file` (a name in the bundle's top directory, no '/') of the bundle `name` in `dir`:
  // a regular file (not a FIFO: no open waits), no symlink followed, refused when over `max`
  // bytes. An absent file is an Error with errnum ENOENT.
  static Result<std::string> readBundleFile(const std::string& dir, const std::string& name,
                                            const std::string& file, std::size_t max);

 private:
  // The dump directory, if the path still names the one held, else opened afresh (see begin()).
  Result<std::shared_ptr<const OwnedFd>> heldDirLocked();
  void recordLost(int dir_fd, const std::string& partial, WallTime now);

  StoreLimits limits_;
  std::mutex mu_;  // guards reserved_, dir_fd_, dev_, ino_, lost_ and notices_
  // Names from begin() until publish() or abandon() returns: never given twice, never retired.
  std::set<std::string> reserved_;
  std::shared_ptr<const OwnedFd> dir_fd_;  // the dump directory, held
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::vector<LostIncident> lost_;
  std::vector<std::string> notices_;
  std::mutex retention_mu_;  // one retention pass at a time
};

}  // namespace oomsentinel
