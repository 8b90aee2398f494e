#include "dumpers/dump_runner.h"

#include <algorithm>
#include <condition_variable>

#include "core/units.h"
#include "dumpers/bundle_budget.h"

namespace oomsentinel {

DumpRunner::DumpRunner(std::shared_ptr<IncidentStore> store, StormLimits limits, const Clock& clock)
    : store_(std::move(store)), clock_(clock), limits_(limits) {}

DumpRunner::~DumpRunner() {
  for (auto& w : workers_) w.thread.join();
}

void DumpRunner::setLimits(StormLimits limits) {
  std::lock_guard lock(mu_);
  limits_ = limits;
}

std::size_t DumpRunner::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

std::optional<DumpRefusal> DumpRunner::submit(DumpJob job) {
  SteadyTime now = clock_.steadyNow();
  {
    std::lock_guard lock(mu_);
    auto last = last_by_target_.find(job.info.target);
    if (last != last_by_target_.end() && now - last->second < limits_.target_cooldown)
      return DumpRefusal{DumpRefused::kCooldown,
                         "cooldown: the last bundle of " + job.info.target + " began " +
                             formatDuration(now - last->second) + " ago (dump.target_cooldown " +
                             formatDuration(limits_.target_cooldown) + ")"};
    while (!started_.empty() && now - started_.front() >= std::chrono::minutes(1))
      started_.pop_front();
    if (started_.size() >= limits_.per_minute)
      return DumpRefusal{DumpRefused::kStormLimit,
                         "storm limit: " + std::to_string(started_.size()) +
                             " bundles began in the last minute (dump.per_minute " +
                             std::to_string(limits_.per_minute) + ")"};
    if (running_ >= limits_.max_running)
      return DumpRefusal{DumpRefused::kBusy,
                         "busy: " + std::to_string(running_) + " dumps are still running"};
    if (std::size_t stuck = stuck_->load(); stuck >= kMaxStuckDumpers)
      return DumpRefusal{
          DumpRefused::kStuck,
          "busy: " + std::to_string(stuck) +
              " dumpers of earlier dumps are stuck past their deadline (in the kernel: a "
              "target's file system that does not answer?); no dump starts until one returns"};
    started_.push_back(now);
    last_by_target_[job.info.target] = now;
    ++running_;
  }
  // Threads of finished jobs are joined here, so they never pile up. Only the submitting
  // thread touches workers_.
  for (auto& w : workers_)
    if (w.done->load()) w.thread.join();
  workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                [](const Worker& w) { return !w.thread.joinable(); }),
                 workers_.end());
  auto done = std::make_shared<std::atomic<bool>>(false);
  workers_.push_back({std::thread([this, job = std::move(job), now, done]() mutable {
                        runJob(std::move(job), now);
                        done->store(true);
                      }),
                      done});
  return std::nullopt;
}

std::vector<DumpOutcome> DumpRunner::runSideBySide(
    const std::vector<std::shared_ptr<Dumper>>& dumpers, const DumpRequest& req) {
  // Each dumper owns what it touches (its request, itself, its outcome's slot), so that one stuck
  // past its deadline can be left behind: a dumper should end by the deadline, but one that waits
  // in the kernel (a lookup on a target's stalled FUSE mount that no deadline reaches) must not
  // hold the dump slot, nor SIGTERM, for good.
  struct Side {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<DumpOutcome>> outcomes;
    bool abandoned = false;
  };
  auto side = std::make_shared<Side>();
  side->outcomes.resize(dumpers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < dumpers.size(); ++i)
    threads.emplace_back([side, d = dumpers[i], req, i, stuck = stuck_] {
      DumpOutcome o = d->run(req);
      std::lock_guard lock(side->mu);
      if (side->abandoned && !side->outcomes[i]) {
        --*stuck;  // left behind and back now: nobody reads this outcome
        return;
      }
      side->outcomes[i] = std::move(o);
      side->cv.notify_all();
    });
  std::vector<DumpOutcome> out(dumpers.size());
  std::unique_lock lock(side->mu);
  side->cv.wait_until(lock, req.deadline + kDumperGrace, [&] {
    return std::all_of(side->outcomes.begin(), side->outcomes.end(),
                       [](const auto& o) { return o.has_value(); });
  });
  for (std::size_t i = 0; i < dumpers.size(); ++i) {
    if (side->outcomes[i]) {
      out[i] = std::move(*side->outcomes[i]);
      side->outcomes[i] = DumpOutcome{};  // still "has a value": the thread is done with it
      threads[i].join();
      continue;
    }
    side->abandoned = true;
    ++*stuck_;
    threads[i].detach();
    out[i].dumper = dumpers[i]->name();
    out[i].result = DumpResult::kTimedOut;
    out[i].error = "did not return within " + formatDuration(kDumperGrace) +
                   " after the deadline (waiting in the kernel: a target's file system that "
                   "does not answer?); left behind";
  }
  return out;
}

void DumpRunner::runJob(DumpJob job, SteadyTime) {
  // Dumpers wait on real processes and sockets: their deadline is in real time, whatever clock
  // the storm control reads.
  SystemClock real;
  SteadyTime submitted = real.steadyNow();
  DumpReport report;
  report.target = job.info.target;
  report.rule = job.info.rule;
  auto bundle = store_->begin(job.info, clock_.wallNow());
  if (!bundle) {
    report.error = bundle.error().describe();
  } else {
    // Throttling first, before even the proc snapshot: it is what buys the dumpers their time.
    std::shared_ptr<ThrottleHold> hold = throttle(job);
    std::mutex timer_mu;
    std::condition_variable timer_cv;
    bool dumpers_done = false;
    std::thread timer;
    if (hold)
      timer = std::thread([&, max = job.throttle->max_duration] {
        std::unique_lock lock(timer_mu);
        if (!timer_cv.wait_for(lock, max, [&] { return dumpers_done; })) {
          lock.unlock();
          release(hold, ThrottleResult::kExpired);
        }
      });
    // Every artifact the dumpers write into this bundle is charged to one budget, and the free
    // space is looked at again before each (begin() looked once, before gigabytes of dumps).
    BundleBudgetScope budget(bundle->dir(),
                             {store_->limits().max_bundle_bytes, store_->limits().min_free});
    DumpRequest req = job.request;
    req.target = job.info.target;
    req.rule = job.info.rule;
    req.dir = bundle->dir();
    req.deadline = submitted + job.timeout;
    // The proc snapshot first: it is the state at the firing, and takes milliseconds.
    std::vector<std::shared_ptr<Dumper>> rest;
    for (auto& d : job.dumpers) {
      if (std::string(d->name()) == "proc")
        report.outcomes.push_back(d->run(req));
      else
        rest.push_back(d);
    }
    for (auto& o : runSideBySide(rest, req)) report.outcomes.push_back(std::move(o));
    if (hold) {
      {
        std::lock_guard lock(timer_mu);
        dumpers_done = true;
      }
      timer_cv.notify_all();
      timer.join();
      // Put back before publishing: the fsyncs of the bundle need not be paid for by the workload.
      release(hold, ThrottleResult::kRestored);
    }
    auto published = store_->publish(*bundle, report.outcomes, clock_.wallNow());
    if (published) {
      report.published = true;
      report.path = *published;
    } else {
      report.error = "cannot publish the bundle: " + published.error().describe();
      store_->abandon(*bundle);
    }
  }
  report.took = real.steadyNow() - submitted;
  report.published_at = clock_.wallNow();
  std::lock_guard lock(mu_);
  finished_.push_back(std::move(report));
  --running_;
}

std::vector<DumpReport> DumpRunner::takeFinished() {
  std::lock_guard lock(mu_);
  std::vector<DumpReport> out;
  out.swap(finished_);
  return out;
}

void DumpRunner::setThrottleRecords(std::shared_ptr<const ThrottleRecords> records) {
  std::lock_guard lock(mu_);
  records_ = std::move(records);
}

std::shared_ptr<ThrottleHold> DumpRunner::throttle(const DumpJob& job) {
  std::shared_ptr<const ThrottleRecords> records;
  {
    std::lock_guard lock(mu_);
    records = records_;
  }
  if (!job.throttle || !records) return nullptr;
  const std::string& dir = job.request.cgroup_dir;
  {
    std::lock_guard lock(mu_);
    auto held = holds_.find(dir);
    if (held != holds_.end() && !dir.empty()) {
      throttle_events_.push_back(
          {job.info.target, dir, ThrottleResult::kSkipped,
           "already throttled by the dump of " + held->second->record().target, clock_.wallNow()});
      return nullptr;
    }
  }
  ThrottleStart started = startThrottle(job.info.target, dir, *job.throttle, *records, clock_);
  std::lock_guard lock(mu_);
  throttle_events_.push_back(std::move(started.event));
  if (!started.hold) return nullptr;
  std::shared_ptr<ThrottleHold> hold = std::move(started.hold);
  holds_[dir] = hold;
  return hold;
}

void DumpRunner::release(const std::shared_ptr<ThrottleHold>& hold, ThrottleResult result) {
  auto ev = hold->release(result, clock_);
  std::lock_guard lock(mu_);
  if (ev) throttle_events_.push_back(std::move(*ev));
  auto it = holds_.find(hold->record().cgroup_dir);
  if (it != holds_.end() && it->second == hold) holds_.erase(it);
}

void DumpRunner::releaseThrottles() {
  std::vector<std::shared_ptr<ThrottleHold>> holds;
  {
    std::lock_guard lock(mu_);
    for (const auto& [dir, h] : holds_) holds.push_back(h);
  }
  for (const auto& h : holds) release(h, ThrottleResult::kReleased);
}

std::vector<ThrottleEvent> DumpRunner::takeThrottleEvents() {
  std::lock_guard lock(mu_);
  std::vector<ThrottleEvent> out;
  out.swap(throttle_events_);
  return out;
}

bool DumpRunner::drain(Duration max) {
  SystemClock real;
  SteadyTime until = real.steadyNow() + max;
  while (running() > 0) {
    if (real.steadyNow() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace oomsentinel
