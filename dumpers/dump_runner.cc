#include "dumpers/dump_runner.h"

#include <algorithm>

#include "core/units.h"

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

std::optional<std::string> DumpRunner::submit(DumpJob job) {
  SteadyTime now = clock_.steadyNow();
  {
    std::lock_guard lock(mu_);
    auto last = last_by_target_.find(job.info.target);
    if (last != last_by_target_.end() && now - last->second < limits_.target_cooldown)
      return "cooldown: the last bundle of " + job.info.target + " began " +
             formatDuration(now - last->second) + " ago (dump.target_cooldown " +
             formatDuration(limits_.target_cooldown) + ")";
    while (!started_.empty() && now - started_.front() >= std::chrono::minutes(1))
      started_.pop_front();
    if (started_.size() >= limits_.per_minute)
      return "storm limit: " + std::to_string(started_.size()) +
             " bundles began in the last minute (dump.per_minute " +
             std::to_string(limits_.per_minute) + ")";
    if (running_ >= limits_.max_running)
      return "busy: " + std::to_string(running_) + " dumps are still running";
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
    std::vector<DumpOutcome> outcomes(rest.size());
    std::vector<std::thread> side;
    for (std::size_t i = 0; i < rest.size(); ++i)
      side.emplace_back([&, i] { outcomes[i] = rest[i]->run(req); });
    for (auto& t : side) t.join();
    for (auto& o : outcomes) report.outcomes.push_back(std::move(o));
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
