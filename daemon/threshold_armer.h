// daemon/: wiring and lifetime.
// Registers cgroup v1 usage thresholds away from the run loop. Each threshold is one write to
// the cgroup's cgroup.event_control, and the kernel answers each with an RCU grace period (it
// swaps the cgroup's threshold array, then waits until no reader holds the old one): 6 to 16 ms
// a write, measured on this project's 2-core machine, so a target's eight registrations (two
// levels and their early twins, on memory.usage_in_bytes and memory.memsw.usage_in_bytes) took
// about 80 ms, and 200 targets at start 16 s, all of it on the loop's thread: ticks up to a
// second late in the hour's soak whenever churn brought a new cgroup. Here one worker thread
// makes the registrations in turn; the loop hands it jobs and adopts each answer as soon as it is
// posted back (KernelWakeups::collectArmed). At most one job per target waits: a newer one replaces
// it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collectors/kernel_events.h"
#include "core/result.h"

namespace oomsentinel {

class ThresholdArmer {
 public:
  // Makes the registrations: V1MemoryEvents::arm(dir, thresholds, /*oom=*/false) unless a test
  // gives another.
  using ArmFn = std::function<Result<V1MemoryEvents>(const std::string& dir,
                                                     const std::vector<std::uint64_t>& thresholds)>;
  struct Job {
    std::string target;
    std::uint64_t generation = 0;  // the caller's mark, to tell a stale answer from the one asked
    std::string dir;
    std::vector<std::uint64_t> thresholds;
  };
  struct Done {
    Job job;
    Result<V1MemoryEvents> events;  // destroying it ends its registrations
  };

  // `done`, if given, is called on the armer's thread after each answer is ready for takeDone().
  explicit ThresholdArmer(ArmFn arm = {}, std::function<void()> done = {});
  // Drops the jobs still waiting and waits for the one in progress (a few writes).
  ~ThresholdArmer();
  ThresholdArmer(const ThresholdArmer&) = delete;
  ThresholdArmer& operator=(const ThresholdArmer&) = delete;

  // Queues `job`, in place of a waiting one of the same target. The thread starts with the
  // first job.
  void submit(Job job);
  // Forgets the waiting job of `target`, if any (one in progress still finishes).
  void cancel(const std::string& target);
  // What has been made since the last call, oldest first; empty without allocating when nothing.
  std::vector<Done> takeDone();
  std::size_t waiting() const;

 private:
  void loop();

  ArmFn arm_;
  std::function<void()> done_fn_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Done> done_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace oomsentinel
