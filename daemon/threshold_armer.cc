#include "daemon/threshold_armer.h"

#include <algorithm>
#include <utility>

namespace oomsentinel {

ThresholdArmer::ThresholdArmer(ArmFn arm, std::function<void()> done)
    : arm_(std::move(arm)), done_fn_(std::move(done)) {
  if (!arm_)
    arm_ = [](const std::string& dir, const std::vector<std::uint64_t>& thresholds) {
      return V1MemoryEvents::arm(dir, thresholds, /*oom=*/false);
    };
}

ThresholdArmer::~ThresholdArmer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ThresholdArmer::submit(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto same = std::find_if(queue_.begin(), queue_.end(),
                             [&](const Job& j) { return j.target == job.target; });
    if (same != queue_.end())
      *same = std::move(job);
    else
      queue_.push_back(std::move(job));
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  cv_.notify_one();
}

void ThresholdArmer::cancel(const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const Job& j) { return j.target == target; }),
               queue_.end());
}

std::vector<ThresholdArmer::Done> ThresholdArmer::takeDone() {
  std::vector<Done> out;
  std::lock_guard<std::mutex> lock(mu_);
  if (!done_.empty()) out.swap(done_);
  return out;
}

std::size_t ThresholdArmer::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThresholdArmer::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Result<V1MemoryEvents> events = arm_(job.dir, job.thresholds);
    lock.lock();
    if (stopping_) return;  // `events` closes its eventfd, ending the registrations
    done_.push_back(Done{std::move(job), std::move(events)});
    if (done_fn_) {
      lock.unlock();
      done_fn_();
      lock.lock();
    }
  }
}

}  // namespace oomsentinel
