#include "daemon/usage_watch.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "alerts/metrics.h"

namespace oomsentinel {

std::uint64_t thresholdBand(long cpus) {
  constexpr std::uint64_t kPerCpu = 128 * 4096;  // THRESHOLDS_EVENTS_TARGET pages, mm/memcontrol
  std::uint64_t band = static_cast<std::uint64_t>(std::max(1L, cpus)) * kPerCpu;
  return std::clamp<std::uint64_t>(band, 512 << 10, 8 << 20);
}

std::vector<std::uint64_t> withEarlyThresholds(const std::vector<std::uint64_t>& levels,
                                               std::uint64_t band) {
  std::vector<std::uint64_t> out;
  out.reserve(levels.size() * 2);
  for (std::uint64_t l : levels) {
    out.push_back(l);
    if (l > band) out.push_back(l - band);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::uint64_t> nextLevel(const std::vector<std::uint64_t>& levels, double usage,
                                       std::uint64_t skip) {
  for (std::uint64_t l : levels)
    if (static_cast<double>(l) >= usage && l != skip) return l;
  return std::nullopt;
}

Notice classifyNotice(const std::vector<std::uint64_t>& levels, std::uint64_t band, double before,
                      double now, std::uint64_t skip) {
  if (!std::isfinite(before) || !std::isfinite(now) || now < before) return Notice::kWake;
  for (std::uint64_t l : levels) {
    double level = static_cast<double>(l);
    if (before <= level && level < now && l != skip) return Notice::kWake;
  }
  auto next = nextLevel(levels, now, skip);
  if (next && static_cast<double>(*next) - now <= static_cast<double>(band)) return Notice::kWatch;
  return Notice::kNothing;
}

std::optional<Duration> projectedCrossing(const std::vector<std::uint64_t>& levels, double usage,
                                          double rate, Duration next_tick, std::uint64_t skip) {
  if (!std::isfinite(usage) || !(rate > 0) || !std::isfinite(rate)) return std::nullopt;
  auto next = nextLevel(levels, usage, skip);
  if (!next) return std::nullopt;
  double seconds = (static_cast<double>(*next) - usage) / rate;
  double until_tick = std::chrono::duration<double>(next_tick).count();
  if (!(seconds < until_tick)) return std::nullopt;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

struct UsageWatch::Target::Run {
  explicit Run(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  OwnedFd fd;
  std::uint64_t level = 0;
  SteadyTime deadline{};
  WakeSource started_by = WakeSource::kProjection;
  bool closed = false;  // ended: a handler still queued must not touch its target
};

struct UsageWatch::SkimTimer {
  explicit SkimTimer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

UsageWatch::UsageWatch(boost::asio::io_context& io, const Clock& clock, DaemonMetrics* metrics,
                       Wake wake)
    : io_(io),
      clock_(clock),
      metrics_(metrics),
      wake_(std::move(wake)),
      skim_timer_(std::make_unique<SkimTimer>(io)) {}

UsageWatch::~UsageWatch() = default;  // the owner stops every target's watch first

double UsageWatch::readUsage(Target& t) {
  int fd = t.run ? t.run->fd.get() : t.skim_fd.get();
  OwnedFd once;
  if (fd < 0) {
    once = OwnedFd(::open(t.usage_file.c_str(), O_RDONLY | O_CLOEXEC));
    fd = once.get();
    if (t.run && fd >= 0) {
      t.run->fd = std::move(once);
      fd = t.run->fd.get();
    }
  }
  if (fd < 0) return std::numeric_limits<double>::quiet_NaN();
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::numeric_limits<double>::quiet_NaN();
  buf[n] = 0;
  char* end = nullptr;
  double v = std::strtod(buf, &end);
  if (end == buf) return std::numeric_limits<double>::quiet_NaN();
  t.seen = v;
  return v;
}

void UsageWatch::ticked(Target& t, double usage, SteadyTime at, SteadyTime next_tick, bool skim) {
  double rate = std::numeric_limits<double>::quiet_NaN();
  if (std::isfinite(usage) && std::isfinite(t.tick_usage) && at > t.tick_at)
    rate = (usage - t.tick_usage) / std::chrono::duration<double>(at - t.tick_at).count();
  if (std::isfinite(usage)) {
    t.tick_usage = usage;
    t.tick_at = at;
    t.seen = usage;
  }
  if (t.run && std::isfinite(usage) && usage > static_cast<double>(t.run->level))
    end(t, "ended");  // the tick saw the level reached: its rules have it
  if (t.levels.empty()) {
    if (t.run) end(t, "ended");
    setNear(t, false);
    return;
  }
  std::uint64_t skip = fast_ ? t.fast_level : 0;
  if (skim) setNear(t, skim_rate_ > 0 && nextLevel(t.levels, usage, skip).has_value());
  auto when = projectedCrossing(t.levels, usage, rate, next_tick - at, skip);
  if (!when) return;  // a watch started by a notification runs on to its own deadline
  auto level = nextLevel(t.levels, usage, skip);
  SteadyTime deadline = next_tick + kEvery;
  if (t.run) {
    t.run->level = *level;
    t.run->deadline = std::max(t.run->deadline, deadline);
    return;
  }
  // Half way to the projected crossing: a leak that speeds up is still met.
  start(t, *level, at + *when / 2, deadline, WakeSource::kProjection);
}

void UsageWatch::notified(Target& t, std::uint64_t band) {
  double before = t.seen;
  double now = readUsage(t);
  std::uint64_t skip = fast_ ? t.fast_level : 0;
  Notice n = classifyNotice(t.levels, band, before, now, skip);
  if (n == Notice::kWake) {
    if (t.run && std::isfinite(now) && now > static_cast<double>(t.run->level)) end(t, "crossed");
    wake_(WakeSource::kV1Threshold);
    return;
  }
  if (n == Notice::kNothing || t.run) {
    if (auto next = nextLevel(t.levels, now, skip); t.run && next) t.run->level = *next;
    return;
  }
  SteadyTime at = clock_.steadyNow();
  if (at < t.rest_until) return;
  start(t, *nextLevel(t.levels, now, skip), at, at + kLongest, WakeSource::kV1Threshold);
}

void UsageWatch::start(Target& t, std::uint64_t level, SteadyTime first, SteadyTime deadline,
                       WakeSource started_by) {
  if (running_ >= kAtOnce) return;
  auto run = std::make_shared<Target::Run>(io_);
  run->level = level;
  run->deadline = deadline;
  run->started_by = started_by;
  t.run = run;
  ++running_;
  if (metrics_) metrics_->usageWatch(std::string(name(started_by)), "started");
  run->timer.expires_at(first);
  run->timer.async_wait([this, &t, run](const boost::system::error_code& ec) {
    if (ec || run->closed) return;
    probe(t, run);
  });
}

void UsageWatch::probe(Target& t, const std::shared_ptr<Target::Run>& run) {
  double u = readUsage(t);
  if (std::isfinite(u) && u > static_cast<double>(run->level)) {
    WakeSource source = run->started_by;
    end(t, "crossed");
    wake_(source);
    return;
  }
  SteadyTime now = clock_.steadyNow();
  if (!std::isfinite(u) || now >= run->deadline) {
    if (run->started_by == WakeSource::kV1Threshold) t.rest_until = now + kRest;
    end(t, "expired");
    return;
  }
  run->timer.expires_at(now + kEvery);
  run->timer.async_wait([this, &t, run](const boost::system::error_code& ec) {
    if (ec || run->closed) return;
    probe(t, run);
  });
}

void UsageWatch::end(Target& t, const char* result) {
  if (!t.run) return;
  if (metrics_) metrics_->usageWatch(std::string(name(t.run->started_by)), result);
  t.run->closed = true;
  t.run->timer.cancel();
  t.run.reset();
  --running_;
}

void UsageWatch::setSkimRate(std::uint64_t rate) {
  skim_rate_ = static_cast<double>(rate);
  if (rate > 0) return;
  while (!near_.empty()) setNear(*near_.back(), false);
}

void UsageWatch::stop(Target& t) {
  end(t, "ended");
  setNear(t, false);
}

void UsageWatch::setNear(Target& t, bool near) {
  if (near == t.near) return;
  if (!near) {
    near_.erase(std::find(near_.begin(), near_.end(), &t));
    t.near = false;
    t.skim_fd = OwnedFd();
    t.skim_usage = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (near_.size() >= kSkimAtOnce) return;
  t.skim_fd = OwnedFd(::open(t.usage_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (t.skim_fd.get() < 0) return;
  t.near = true;
  t.skim_next = clock_.steadyNow();
  near_.push_back(&t);
  SteadyTime soon = t.skim_next + kSkim;
  if (skimming_ && skim_timer_->timer.expiry() <= soon) return;
  skimming_ = true;
  skim_timer_->timer.expires_at(soon);  // cancels a later wait: its handler sees operation_aborted
  skim_timer_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) skim();
  });
}

SteadyTime skimSlot(SteadyTime now, double to_go, double rate) {
  // Half the way to the level at the fastest leak, rounded down to kSkim times a power of two
  // (at most kSkimAtMost), at the next multiple of that period on the steady clock: targets due
  // together are read in one wake-up, so the timer fires at most once per kSkim.
  double seconds = rate > 0 ? std::max(0.0, to_go) / rate / 2 : 0;
  Duration want = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(
      std::min(seconds, std::chrono::duration<double>(UsageWatch::kSkimAtMost).count())));
  Duration p = UsageWatch::kSkim;
  while (p * 2 <= want && p * 2 <= UsageWatch::kSkimAtMost) p *= 2;
  auto slots = now.time_since_epoch() / p + 1;
  return SteadyTime(p * slots);
}

// Every kSkim while any target is near a level: its usage, and the growth since the last skim.
// Past the level: a tick; reaching it before the next skim: a watch, read every millisecond.
void UsageWatch::skim() {
  SteadyTime now = clock_.steadyNow();
  SteadyTime next_skim = now + kSkimAtMost;
  std::uint64_t skip = 0;
  for (std::size_t i = 0; i < near_.size(); ++i) {
    Target& t = *near_[i];
    if (t.run) {  // watched: skimmed again soon after its watch ends
      next_skim = std::min(next_skim, now + kSkim);
      continue;
    }
    if (t.skim_next > now) {
      next_skim = std::min(next_skim, t.skim_next);
      continue;
    }
    skip = fast_ ? t.fast_level : 0;
    double before = t.skim_usage;
    SteadyTime before_at = t.skim_at;
    double u = readUsage(t);
    t.skim_usage = u;
    t.skim_at = now;
    auto level = nextLevel(t.levels, std::isfinite(before) ? before : u, skip);
    double to_go = level && std::isfinite(u) ? static_cast<double>(*level) - u : 0;
    t.skim_next = skimSlot(now, to_go, skim_rate_);
    next_skim = std::min(next_skim, t.skim_next);
    if (!level || !std::isfinite(u)) continue;
    if (u > static_cast<double>(*level)) {
      if (metrics_) {  // found past it by the skim itself: a watch of one read
        metrics_->usageWatch(std::string(name(WakeSource::kNearLevel)), "started");
        metrics_->usageWatch(std::string(name(WakeSource::kNearLevel)), "crossed");
      }
      wake_(WakeSource::kNearLevel);
      continue;
    }
    if (!std::isfinite(before) || !(u > before) || !(now > before_at)) continue;
    double rate = (u - before) / std::chrono::duration<double>(now - before_at).count();
    double eta = (static_cast<double>(*level) - u) / rate;  // seconds
    double period_s = std::chrono::duration<double>(t.skim_next - now).count();
    if (eta <= 1.5 * period_s) {
      // Watched until twice the projected time, in case the leak slows down.
      auto until = std::chrono::duration_cast<Duration>(
          std::chrono::duration<double>(std::max(2 * eta, period_s)));
      start(t, *level, now + kEvery, now + until + kSkim, WakeSource::kNearLevel);
    }
  }
  if (near_.empty()) {
    skimming_ = false;
    return;
  }
  skim_timer_->timer.expires_at(next_skim);
  skim_timer_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) skim();
  });
}

}  // namespace oomsentinel
