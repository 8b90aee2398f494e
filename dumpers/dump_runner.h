// dumpers/: capturing evidence while the process is still alive.
// DumpRunner: the `dump` action. The tick hands it a job and goes on; the job runs on a dump
// thread: a bundle is begun, the proc snapshot taken first (it is the moment), the other dumpers
// run side by side until the deadline, and the bundle is published. Storm control decides on the
// tick's thread, at once, whether a job may start at all.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/kinds.h"
#include "dumpers/dump_throttle.h"
#include "dumpers/dumper.h"
#include "dumpers/incident_store.h"

namespace oomsentinel {

struct DumpJob {
  IncidentInfo info;
  // pid, pid_starttime, cgroup_dir and max_bytes; the runner fills dir and deadline.
  DumpRequest request;
  std::vector<std::shared_ptr<Dumper>> dumpers;  // "proc", if present, runs first
  Duration timeout = std::chrono::seconds(30);
  // throttle_during_dump: memory.high of request.cgroup_dir is held just above its usage while
  // the dumpers run (at most throttle->max_duration); needs setThrottleRecords.
  std::optional<ThrottleSpec> throttle;
};

struct StormLimits {
  std::size_t per_minute = 6;  // bundles begun in any 60 s, all targets together
  Duration target_cooldown = std::chrono::minutes(5);  // between two bundles of one target
  std::size_t max_running = 2;  // jobs at once; more are refused, not queued: late is useless
};

struct DumpReport {
  std::string target, rule;
  bool published = false;
  std::string path;   // the published bundle
  std::string error;  // why there is no bundle (skipped: free space, cannot publish, ...)
  std::vector<DumpOutcome> outcomes;
  Duration took{};  // from submit to publish
  WallTime published_at{};
};

// Why a job did not start: the kind (counted in oomsentinel_dumps_refused_total) and a sentence
// for the log.
struct DumpRefusal {
  DumpRefused kind;
  std::string why;
};

class DumpRunner {
 public:
  // How long after its deadline a dumper is still waited for before it is left behind.
  static constexpr Duration kDumperGrace = std::chrono::seconds(1);
  // Dumpers left behind and not yet returned, beyond which no dump starts: each holds a thread.
  static constexpr std::size_t kMaxStuckDumpers = 4;

  DumpRunner(std::shared_ptr<IncidentStore> store, StormLimits limits, const Clock& clock);
  // Waits for running jobs (each ends by its deadline).
  ~DumpRunner();
  DumpRunner(const DumpRunner&) = delete;
  DumpRunner& operator=(const DumpRunner&) = delete;

  void setLimits(StormLimits limits);
  // Starts `job` on a thread of its own and returns nothing, or refuses it at once and says why
  // (kind cooldown, storm_limit, busy or stuck; `why` "cooldown: ...", "storm limit: ...",
  // "busy: ..."). Never blocks on the job.
  std::optional<DumpRefusal> submit(DumpJob job);
  // Jobs finished since the last call, for the log and metrics; on the caller's thread.
  std::vector<DumpReport> takeFinished();
  std::size_t running() const;
  // Waits until no job runs, at most `max` (SIGTERM: a bundle in progress is worth finishing).
  bool drain(Duration max);
  // Where throttles are recorded before memory.high is changed; without it no job throttles.
  void setThrottleRecords(std::shared_ptr<const ThrottleRecords> records);
  // Puts back every memory.high held by a running job at once (SIGTERM: the workload must not
  // stay throttled while the daemon stops); the jobs themselves go on.
  void releaseThrottles();
  // Throttle changes since the last call (throttled, restored, expired, released, ...), in order.
  std::vector<ThrottleEvent> takeThrottleEvents();
  // Dumpers left behind past their deadline that have not returned yet (a stalled FUSE mount).
  std::size_t stuckDumpers() const { return stuck_->load(); }

 private:
  void runJob(DumpJob job, SteadyTime submitted);
  // The dumpers of one job side by side, waited for until the deadline + kDumperGrace; one still
  // running then is left behind (counted in stuck_) with a timed-out outcome.
  std::vector<DumpOutcome> runSideBySide(const std::vector<std::shared_ptr<Dumper>>& dumpers,
                                         const DumpRequest& req);
  // Starts the job's throttle; returns the hold (null when there is none) after noting the event.
  std::shared_ptr<ThrottleHold> throttle(const DumpJob& job);
  void release(const std::shared_ptr<ThrottleHold>& hold, ThrottleResult result);

  std::shared_ptr<IncidentStore> store_;
  const Clock& clock_;
  mutable std::mutex mu_;
  StormLimits limits_;
  std::deque<SteadyTime> started_;  // within the last minute
  std::map<std::string, SteadyTime> last_by_target_;
  std::size_t running_ = 0;
  std::vector<DumpReport> finished_;
  std::shared_ptr<const ThrottleRecords> records_;
  std::map<std::string, std::shared_ptr<ThrottleHold>> holds_;  // by cgroup directory
  std::vector<ThrottleEvent> throttle_events_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers_;
  // Shared with the dumpers' threads, which may outlive the runner.
  std::shared_ptr<std::atomic<std::size_t>> stuck_ = std::make_shared<std::atomic<std::size_t>>(0);
};

}  // namespace oomsentinel
