#include "daemon/read_scheduler.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/units.h"

namespace oomsentinel {

ReadScheduler::ReadScheduler(const Clock& clock, Logger& log)
    : clock_(clock), log_(log), pool_(std::make_unique<boost::asio::thread_pool>(kReadThreads)) {}

ReadScheduler::~ReadScheduler() {
  bool hung;
  {
    std::lock_guard lock(mu_);
    hung = running_ > 0;
  }
  pool_->stop();
  // A read that hangs in the kernel would hang the join, and with it SIGTERM: leave the pool to
  // the process's exit instead.
  if (hung)
    (void)pool_.release();
  else
    pool_->join();
}

void ReadScheduler::beginRound() {
  std::lock_guard lock(mu_);
  ++generation_;
  pending_ = 0;
}

bool ReadScheduler::ready(Watched& w) {
  std::lock_guard lock(mu_);
  if (w.in_flight && !w.done) return false;  // still slow: logged when it overran
  if (w.in_flight && w.done) {
    // A read that overran has come back; its snapshot is one interval old: drop it.
    w.in_flight = false;
    w.slow_logged = false;
    log_.log(LogLevel::kInfo, "slow read of target returned; reading it again",
             {{"target", w.spec.target.name},
              {"took", formatDuration(clock_.steadyNow() - w.read_started)}});
  }
  return true;
}

void ReadScheduler::post(const std::shared_ptr<Watched>& wp, bool skim) {
  Watched& w = *wp;
  std::uint64_t gen;
  {
    std::lock_guard lock(mu_);
    w.in_flight = true;
    w.done = false;
    ++pending_;
    ++running_;
    gen = generation_;
  }
  w.read_started = clock_.steadyNow();
  w.read_skim = skim;
  boost::asio::post(*pool_, [this, wp, gen, skim]() {
    bool full = true;
    Status st = skim ? wp->collector->skim(clock_, wp->work, &full)
                     : wp->collector->collect(clock_, wp->work);
    std::lock_guard lock(mu_);
    wp->result = std::move(st);
    wp->read_full = full;
    wp->done = true;
    --running_;
    // Only this round's reads are waited for; one that overran an earlier round is not.
    // The round waits for all of them: one wake-up at the last, not a futex call per target.
    if (gen == generation_ && --pending_ == 0) cv_.notify_all();
  });
}

void ReadScheduler::collect(const std::vector<std::shared_ptr<Watched>>& round, Duration wait,
                            Duration budget, const Done& done) {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return pending_ == 0; });
  }
  for (const auto& wp : round) {
    Watched& w = *wp;
    {
      std::lock_guard lock(mu_);
      if (!w.done) {
        if (!w.slow_logged) {
          w.slow_logged = true;
          log_.log(LogLevel::kWarning,
                   "target read is slower than the tick; skipping it until it returns",
                   {{"target", w.spec.target.name}, {"budget", formatDuration(budget)}});
        }
        continue;
      }
      w.in_flight = false;
    }
    done(wp);
  }
}

}  // namespace oomsentinel
