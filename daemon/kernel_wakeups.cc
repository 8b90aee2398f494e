#include "daemon/kernel_wakeups.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cmath>

#include "alerts/metrics.h"
#include "core/units.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

std::vector<std::uint64_t> usageThresholds(const std::vector<std::pair<SignalId, double>>& levels,
                                           double fast_above, const Snapshot& last) {
  std::vector<std::uint64_t> out;
  auto usage = last.get(Sig::kUsageBytes);
  auto ws = last.get(Sig::kWorkingSetBytes);
  auto limit = last.get(Sig::kLimitBytes);
  if (!usage) return out;
  bool has_limit = limit && *limit > 0 && std::isfinite(*limit);
  double margin = std::max(has_limit ? *limit * 0.01 : 0.0, 1024.0 * 1024.0);
  double cache = ws ? std::max(0.0, *usage - *ws) : 0.0;
  double step = margin / 2;
  cache = std::ceil(cache / step) * step;
  std::vector<double> at;  // usage levels
  auto add = [&](SignalId sid, double v) {
    if (sid == id(Sig::kUsageBytes))
      at.push_back(v);
    else if (sid == id(Sig::kWorkingSetBytes))
      at.push_back(v + cache);
    else if (sid == id(Sig::kUsageRatio) && has_limit)
      at.push_back(v * *limit);
    else if (sid == id(Sig::kWorkingSetRatio) && has_limit)
      at.push_back(v * *limit + cache);
  };
  for (const auto& [sid, v] : levels) add(sid, v);
  if (fast_above > 0 && fast_above < 1) add(id(Sig::kWorkingSetRatio), fast_above);
  for (double t : at) {
    if (!(t > 0) || (has_limit && t >= *limit) || !std::isfinite(t)) continue;
    out.push_back(static_cast<std::uint64_t>(std::ceil(t)));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > kMaxThresholds)
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(out.size() - kMaxThresholds));
  return out;
}

// One descriptor the loop waits on: a duplicate of the kernel object's (the eventfd with its
// registrations, the PSI trigger), which lives until both are closed.
struct KernelWakeups::Source {
  Source(boost::asio::io_context& io, int fd, const char* name, bool priority)
      : sd(io, fd), name(name), priority(priority) {}
  boost::asio::posix::stream_descriptor sd;
  const char* name;
  bool priority;  // a PSI trigger signals POLLPRI; an eventfd becomes readable
  bool closed = false;
  void close() {
    closed = true;
    boost::system::error_code ignored;
    sd.close(ignored);
  }
};

KernelWakeups::KernelWakeups(boost::asio::io_context& io, const HostPaths& paths, Logger& log,
                             DaemonMetrics* metrics, Wake wake)
    : io_(io), paths_(paths), log_(log), metrics_(metrics), wake_(std::move(wake)) {}

KernelWakeups::~KernelWakeups() {
  for (auto& [name, t] : v1_) drop(t);
  if (host_psi_) host_psi_->close();
}

std::shared_ptr<KernelWakeups::Source> KernelWakeups::listenOn(int fd, const char* name,
                                                               bool priority) {
  int mine = ::dup(fd);
  if (mine < 0) return nullptr;
  auto s = std::make_shared<Source>(io_, mine, name, priority);
  listen(s);
  return s;
}

void KernelWakeups::listen(const std::shared_ptr<Source>& s) {
  using boost::asio::posix::descriptor_base;
  s->sd.async_wait(s->priority ? descriptor_base::wait_error : descriptor_base::wait_read,
                   [this, s](const boost::system::error_code& ec) {
                     if (ec || s->closed) return;  // closed: `this` may be gone
                     if (!s->priority) {
                       std::uint64_t count = 0;  // the eventfd's count, cleared
                       [[maybe_unused]] ssize_t n =
                           ::read(s->sd.native_handle(), &count, sizeof count);
                     }
                     wake_(s->name);
                     listen(s);
                   });
}

void KernelWakeups::drop(V1Target& t) {
  if (t.oom) t.oom->close();
  if (t.thresholds) t.thresholds->close();
  t.oom.reset();
  t.thresholds.reset();
  t.oom_events.reset();
  t.threshold_events.reset();
  t.armed.clear();
  t.levels_done = false;
}

void KernelWakeups::rulesChanged() {
  for (auto& [name, t] : v1_) t.levels_done = false;
}

void KernelWakeups::logOnce(std::string& last, const std::string& who, const Error& e) {
  std::string text = e.describe();
  if (text == last) return;
  last = text;
  log_.log(LogLevel::kWarning, "kernel notifications unavailable; this target is polled only",
           {{"target", who}, {"error", text}});
}

void KernelWakeups::armHost(const PollSpec& poll) {
  std::pair<Duration, Duration> asked{poll.psi_stall, poll.psi_window};
  if (host_psi_asked_ == asked) return;
  host_psi_asked_ = asked;
  if (host_psi_) host_psi_->close();
  host_psi_.reset();
  host_trigger_.reset();
  auto trigger = PsiTrigger::open(paths_.procFile("pressure/memory"), asked.first, asked.second);
  if (!trigger) {
    if (metrics_) metrics_->psiTriggerWindow("host", Duration::zero());
    std::string text = trigger.error().describe();
    if (text != host_psi_error_)
      log_.log(LogLevel::kWarning, "no PSI trigger on the host's memory pressure; polling only",
               {{"error", text}});
    host_psi_error_ = text;
    return;
  }
  host_psi_error_.clear();
  host_trigger_ = std::move(*trigger);
  host_psi_ = listenOn(host_trigger_->fd(), "psi_host", true);
  if (metrics_) metrics_->psiTriggerWindow("host", host_trigger_->window());
  log_.log(LogLevel::kInfo, "woken by the host's memory pressure",
           {{"stall", formatDuration(host_trigger_->stall())},
            {"window", formatDuration(host_trigger_->window())},
            {"note", host_trigger_->widened()
                         ? "window widened to a multiple of 2s: shorter windows need "
                           "CAP_SYS_RESOURCE"
                         : ""}});
}

void KernelWakeups::updateV1(V1Target& t, const std::string& name, const TargetCollector& c,
                             const Snapshot& last,
                             const std::vector<std::pair<SignalId, double>>& levels,
                             double fast_above, bool full) {
  // A cgroup made again under the same name has none of the old registrations (its removal
  // signalled the eventfds, and the tick that followed read it again).
  if (t.dir != c.cgroupDir() || (full && t.oom_events && !sameCgroupDir(*t.oom_events, t.dir))) {
    drop(t);
    t.dir = c.cgroupDir();
  }
  if (!t.oom_events && (full || t.last_error.empty())) {
    auto oom = V1MemoryEvents::arm(t.dir, {}, true);
    if (!oom) return logOnce(t.last_error, name, oom.error());
    t.oom_events = std::move(*oom);
    t.oom = listenOn(t.oom_events->fd(), "v1_oom", false);
  }
  if (!full && t.levels_done) return;
  t.levels_done = true;
  auto want = usageThresholds(levels, fast_above, last);
  if (t.threshold_events && want == t.armed) return;
  if (t.thresholds) t.thresholds->close();
  t.thresholds.reset();
  t.threshold_events.reset();
  t.armed.clear();
  if (want.empty()) return;
  auto armed = V1MemoryEvents::arm(t.dir, want, false);
  if (!armed) return logOnce(t.last_error, name, armed.error());
  t.threshold_events = std::move(*armed);
  t.thresholds = listenOn(t.threshold_events->fd(), "v1_threshold", false);
  t.armed = std::move(want);
  t.last_error.clear();
}

void KernelWakeups::update(const Watchdog& dog) {
  const PollSpec& poll = dog.config().poll;
  if (!poll.events) {
    for (auto& [name, t] : v1_) drop(t);
    v1_.clear();
    if (host_psi_) host_psi_->close();
    host_psi_.reset();
    host_trigger_.reset();
    if (host_psi_asked_ && metrics_) metrics_->psiTriggerWindow("host", Duration::zero());
    host_psi_asked_.reset();
    return;
  }
  armHost(poll);
  std::vector<std::string> seen;
  dog.forEachResolved([&](const std::string& name, const TargetCollector& c, const Snapshot& last,
                          RuleEngine::TargetHandle rules, bool full) {
    if (c.cgroupVersion() != CgroupVersion::kV1 || c.cgroupDir().empty()) return;
    seen.push_back(name);
    V1Target& t = v1_[name];
    if (!full && t.oom_events && t.levels_done && t.dir == c.cgroupDir()) return;
    updateV1(t, name, c, last, dog.engine().levels(rules), poll.fast_above, full);
  });
  std::sort(seen.begin(), seen.end());
  for (auto it = v1_.begin(); it != v1_.end();) {
    if (std::binary_search(seen.begin(), seen.end(), it->first)) {
      ++it;
    } else {
      drop(it->second);
      it = v1_.erase(it);
    }
  }
}

}  // namespace oomsentinel
