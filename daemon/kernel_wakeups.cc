#include "daemon/kernel_wakeups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cmath>

#include "alerts/metrics.h"
#include "core/units.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

std::vector<std::uint64_t> usageThresholds(const std::vector<std::pair<SignalId, double>>& levels,
                                           double fast_above, const Snapshot& last,
                                           bool round_cache, std::uint64_t* fast_level) {
  std::vector<std::uint64_t> out;
  if (fast_level) *fast_level = 0;
  auto usage = last.get(Sig::kUsageBytes);
  auto ws = last.get(Sig::kWorkingSetBytes);
  auto limit = last.get(Sig::kLimitBytes);
  if (!usage) return out;
  bool has_limit = limit && *limit > 0 && std::isfinite(*limit);
  double step = std::max(has_limit ? *limit * 0.001 : 0.0, 128.0 * 1024.0);
  double cache = ws ? std::max(0.0, *usage - *ws) : 0.0;
  if (round_cache) cache = std::ceil(cache / step) * step;
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
  if (fast_above > 0 && fast_above < 1 && has_limit) {
    add(id(Sig::kWorkingSetRatio), fast_above);
    double t = at.back();
    if (fast_level && t > 0 && t < *limit && std::isfinite(t))
      *fast_level = static_cast<std::uint64_t>(std::ceil(t));
  }
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

// The usage watch's levels: exact (the cache as it is), and which one is the fast-poll level.
static void setWatchLevels(UsageWatch::Target& w,
                           const std::vector<std::pair<SignalId, double>>& levels,
                           double fast_above, const Snapshot& last) {
  w.levels = usageThresholds(levels, fast_above, last, false, &w.fast_level);
}

// One descriptor the loop waits on: the kernel object's own (the eventfd with its registrations,
// a PSI trigger), so closing it ends the registration; the inotify instance's is a duplicate
// (EventsWatch adds and removes watches on its own).
struct KernelWakeups::Source {
  Source(boost::asio::io_context& io, int fd, WakeSource source, Kind kind)
      : sd(io, fd), source(source), kind(kind) {}
  boost::asio::posix::stream_descriptor sd;
  WakeSource source;
  Kind kind;  // a PSI trigger signals POLLPRI; an eventfd and inotify become readable
  bool closed = false;
  // An eventfd whose notifications are counted (vmpressure): where, and whether they also start
  // a tick (critical does; low and medium come with any reclaim and would keep the loop fast).
  std::shared_ptr<std::array<std::uint64_t, 3>> counts;
  int level = -1;
  bool wakes = true;
  // Instead of a wake: a v1 usage threshold's notification goes to the usage watch.
  std::function<void()> notify;
  void close() {
    closed = true;
    boost::system::error_code ignored;
    sd.close(ignored);
  }
};

KernelWakeups::KernelWakeups(boost::asio::io_context& io, const HostPaths& paths,
                             const Clock& clock, Logger& log, DaemonMetrics* metrics, Wake wake)
    : io_(io),
      paths_(paths),
      clock_(clock),
      log_(log),
      metrics_(metrics),
      wake_(std::move(wake)),
      band_(thresholdBand(::sysconf(_SC_NPROCESSORS_ONLN))),
      watch_(io, clock, metrics, wake_),
      armer_({}, [this, alive = std::weak_ptr<char>(alive_)] {
        // On the armer's thread: the adoption is the loop's.
        boost::asio::post(io_, [this, alive] {
          if (alive.lock()) collectArmed();
        });
      }) {}

KernelWakeups::~KernelWakeups() {
  alive_.reset();  // a posted collectArmed() that runs after this finds nothing to do
  for (auto& [name, t] : v1_) drop(t);
  for (auto& [name, t] : v2_) dropV2(t);
  if (host_psi_) host_psi_->close();
  if (events_source_) events_source_->close();
}

void KernelWakeups::dropV2(V2Target& t) {
  watch_.stop(t.watch);
  t.watch.usage_file.clear();
  if (t.wd >= 0 && events_watch_) {
    events_watch_->remove(t.wd);
    wd_target_.erase(t.wd);
  }
  t.wd = -1;
  t.tried = false;
  if (t.psi) t.psi->close();
  t.psi.reset();
  t.trigger.reset();
  t.psi_asked.reset();
}

void KernelWakeups::updateV2(V2Target& t, const std::string& name, const TargetCollector& c,
                             const PollSpec& poll, bool full) {
  struct stat st {};
  if (t.dir != c.cgroupDir() ||
      (full && t.wd >= 0 &&
       (::stat(t.dir.c_str(), &st) != 0 || st.st_dev != t.dev || st.st_ino != t.ino))) {
    dropV2(t);
    t.dir = c.cgroupDir();
  }
  if (t.wd < 0 && (full || !t.tried)) {
    t.tried = true;
    if (!events_watch_) {
      auto w = EventsWatch::make();
      if (!w) return logOnce(t.last_error, name, w.error());
      events_watch_ = std::move(*w);
      events_source_ = listenOn(events_watch_->fd(), WakeSource::kV2Events, Kind::kInotify);
    }
    auto wd = events_watch_->add(t.dir + "/memory.events");
    if (!wd) return logOnce(t.last_error, name, wd.error());
    if (::stat(t.dir.c_str(), &st) == 0) {
      t.dev = st.st_dev;
      t.ino = st.st_ino;
    }
    t.wd = *wd;
    wd_target_[t.wd] = name;
  }
  std::pair<Duration, Duration> asked{poll.psi_stall, poll.psi_window};
  if (t.psi_asked != asked && (full || !t.psi_asked)) {
    if (t.psi) t.psi->close();
    t.psi.reset();
    t.trigger.reset();
    t.psi_asked = asked;
    auto trigger = PsiTrigger::open(t.dir + "/memory.pressure", asked.first, asked.second);
    if (!trigger) return logOnce(t.last_error, name, trigger.error());
    t.trigger = std::move(*trigger);
    t.psi = adopt(t.trigger->takeFd(), WakeSource::kPsiCgroup, Kind::kPsi);
    if (!cgroup_psi_logged_) {
      cgroup_psi_logged_ = true;
      log_.log(LogLevel::kInfo, "woken by the memory pressure of cgroup v2 targets",
               {{"stall", formatDuration(t.trigger->stall())},
                {"window", formatDuration(t.trigger->window())},
                {"note", t.trigger->widened()
                             ? "window widened to a multiple of 2s: shorter windows need "
                               "CAP_SYS_RESOURCE"
                             : ""}});
      if (metrics_) metrics_->psiTriggerWindow("cgroup", t.trigger->window());
    }
  }
}

std::shared_ptr<KernelWakeups::Source> KernelWakeups::listenOn(int fd, WakeSource source,
                                                               Kind kind) {
  return adopt(OwnedFd(::dup(fd)), source, kind);
}

std::shared_ptr<KernelWakeups::Source> KernelWakeups::adopt(
    OwnedFd fd, WakeSource source, Kind kind, const std::function<void(Source&)>& setup) {
  if (fd.get() < 0) return nullptr;
  auto s = std::make_shared<Source>(io_, fd.release(), source, kind);
  if (setup) setup(*s);
  listen(s);
  return s;
}

void KernelWakeups::listen(const std::shared_ptr<Source>& s) {
  using boost::asio::posix::descriptor_base;
  s->sd.async_wait(s->kind == Kind::kPsi ? descriptor_base::wait_error : descriptor_base::wait_read,
                   [this, s](const boost::system::error_code& ec) {
                     if (ec || s->closed) return;  // closed: `this` may be gone
                     if (s->kind == Kind::kEventfd) {
                       std::uint64_t count = 0;  // the eventfd's count, cleared
                       ssize_t n = ::read(s->sd.native_handle(), &count, sizeof count);
                       if (n == sizeof count && s->counts && s->level >= 0)
                         (*s->counts)[static_cast<std::size_t>(s->level)] += count;
                     } else if (s->kind == Kind::kInotify && events_watch_) {
                       // A removed cgroup's watch is over: watched again once it is back.
                       events_watch_->drain([&](int wd, bool gone) {
                         if (!gone) return;
                         auto it = wd_target_.find(wd);
                         if (it == wd_target_.end()) return;
                         if (auto t = v2_.find(it->second); t != v2_.end() && t->second.wd == wd) {
                           t->second.wd = -1;
                           t->second.tried = false;
                         }
                         wd_target_.erase(it);
                       });
                     }
                     if (s->notify)
                       s->notify();
                     else if (s->wakes)
                       wake_(s->source);
                     if (!s->closed) listen(s);
                   });
}

void KernelWakeups::drop(V1Target& t) {
  watch_.stop(t.watch);
  if (t.pressure[0]) --pressure_armed_;
  for (auto& p : t.pressure)
    if (p) p->close();
  t.pressure = {};
  if (t.oom) t.oom->close();
  t.oom.reset();
  t.oom_events.reset();
  dropThresholds(t);
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
  host_psi_ = adopt(host_trigger_->takeFd(), WakeSource::kPsiHost, Kind::kPsi);
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
                             double fast_above, bool full, bool vmpressure) {
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
    t.oom = adopt(t.oom_events->takeFd(), WakeSource::kV1Oom, Kind::kEventfd);
  }
  if (!full && t.levels_done) return;
  t.levels_done = true;
  armPressure(t, name, vmpressure);
  auto want = usageThresholds(levels, fast_above, last);
  if (want.empty()) return dropThresholds(t);
  if (t.threshold_events && want == t.levels) {
    t.arming.clear();  // an answer to come for other levels is stale now
    t.arm_job = 0;
  } else if (t.arming != want) {
    // Each level and its early twin a band below, on one new eventfd (the usage watch tells
    // them apart by the usage it reads when it is signalled), registered by the armer's thread:
    // each registration costs the kernel an RCU grace period (daemon/threshold_armer.h). The
    // eventfd armed before, if any, keeps waking the watch until the new one is adopted.
    t.arm_job = ++arm_jobs_;
    t.arming = want;
    t.arming_watch = usageThresholds(levels, fast_above, last, false, &t.arming_fast);
    t.arming_usage = last.get(Sig::kUsageBytes).value_or(std::numeric_limits<double>::quiet_NaN());
    armer_.submit({name, t.arm_job, t.dir, withEarlyThresholds(want, band_)});
  }
  if (!t.threshold_events) return;
  setWatchLevels(t.watch, levels, fast_above, last);
  if (t.watch.usage_file.empty()) t.watch.usage_file = t.dir + "/memory.usage_in_bytes";
}

void KernelWakeups::dropThresholds(V1Target& t) {
  if (t.thresholds) t.thresholds->close();
  t.thresholds.reset();
  t.threshold_events.reset();
  t.levels.clear();
  t.arming.clear();  // an answer still to come is stale: arm_job will not match it
  t.arm_job = 0;
  t.watch.levels.clear();
  watch_.stop(t.watch);
}

// On the loop's thread, at once when the armer has answered (it posts this after each answer):
// each answer to a job still wanted (its target's latest, on the directory asked) is adopted;
// stale ones are dropped, their eventfds closed.
void KernelWakeups::collectArmed() {
  for (ThresholdArmer::Done& d : armer_.takeDone()) {
    auto it = v1_.find(d.job.target);
    if (it == v1_.end()) continue;
    V1Target& t = it->second;
    if (t.arm_job != d.job.generation || t.dir != d.job.dir || t.arming.empty()) continue;
    adoptThresholds(t, it->first, std::move(d.events));
  }
}

// The armer's answer for the levels in t.arming: on success, its eventfd replaces the one armed
// before (closing that ends the old registrations); on failure the old one, if any, stays, and the
// next full read asks again.
void KernelWakeups::adoptThresholds(V1Target& t, const std::string& name,
                                    Result<V1MemoryEvents> armed) {
  std::vector<std::uint64_t> asked = std::move(t.arming);
  t.arming.clear();
  t.arm_job = 0;
  if (!armed) return logOnce(t.last_error, name, armed.error());
  if (t.thresholds) t.thresholds->close();
  t.threshold_events = std::move(*armed);
  // What it counted while it waited to be adopted (a few milliseconds; the old eventfd, if any,
  // was listened to meanwhile): a stale count would start a watch that finds nothing and then
  // rests the target through the crossing to come.
  t.threshold_events->drain();
  t.thresholds =
      adopt(t.threshold_events->takeFd(), WakeSource::kV1Threshold, Kind::kEventfd,
            [this, &t](Source& s) { s.notify = [this, &t] { watch_.notified(t.watch, band_); }; });
  t.levels = std::move(asked);
  t.last_error.clear();
  // The watch's levels and usage as they were when the job was given, until the next full read
  // (a re-arm kept the old ones up to date: only a first arm has none).
  if (t.watch.levels.empty()) {
    t.watch.levels = std::move(t.arming_watch);
    t.watch.fast_level = t.arming_fast;
  }
  if (std::isnan(t.watch.seen)) t.watch.seen = t.arming_usage;
  if (t.watch.usage_file.empty()) t.watch.usage_file = t.dir + "/memory.usage_in_bytes";
}

void KernelWakeups::armPressure(V1Target& t, const std::string& name, bool wanted) {
  bool armed = t.pressure[0] != nullptr;
  if (armed == wanted) return;
  if (!wanted) {
    for (auto& p : t.pressure)
      if (p) p->close();
    t.pressure = {};
    --pressure_armed_;
    return;
  }
  static constexpr const char* kLevels[] = {"low", "medium", "critical"};
  if (!t.pressure_counts) t.pressure_counts = std::make_shared<std::array<std::uint64_t, 3>>();
  std::array<std::shared_ptr<Source>, 3> made;
  for (int i = 0; i < 3; ++i) {
    auto ev = V1MemoryEvents::armPressure(t.dir, kLevels[i]);
    if (!ev) {
      for (auto& p : made)
        if (p) p->close();
      return logOnce(t.last_error, name, ev.error());
    }
    auto s = adopt(ev->takeFd(), WakeSource::kV1Pressure, Kind::kEventfd, [&](Source& src) {
      src.counts = t.pressure_counts;
      src.level = i;
      src.wakes = i == 2;
    });
    if (!s) return;
    made[static_cast<std::size_t>(i)] = std::move(s);
  }
  t.pressure = std::move(made);
  ++pressure_armed_;
}

void KernelWakeups::addSignals(const std::string& target, Snapshot& snap) const {
  if (pressure_armed_ == 0) return;
  auto it = v1_.find(target);
  if (it == v1_.end() || !it->second.pressure[0] || !it->second.pressure_counts) return;
  const auto& c = *it->second.pressure_counts;
  snap.set(Sig::kVmpressureLow, static_cast<double>(c[0]));
  snap.set(Sig::kVmpressureMedium, static_cast<double>(c[1]));
  snap.set(Sig::kVmpressureCritical, static_cast<double>(c[2]));
}

KernelWakeups::Summary KernelWakeups::summary() const {
  Summary s;
  s.enabled = enabled_;
  for (const auto& [name, t] : v1_)
    if (t.oom_events) ++s.v1_armed;
  for (const auto& [name, t] : v2_) {
    if (t.wd >= 0) ++s.v2_watched;
    if (t.trigger && !s.cgroup_window) {
      s.cgroup_window = t.trigger->window();
      s.cgroup_widened = t.trigger->widened();
    }
  }
  if (host_trigger_) {
    s.host_window = host_trigger_->window();
    s.host_widened = host_trigger_->widened();
  }
  return s;
}

void KernelWakeups::update(const Watchdog& dog, Duration interval) {
  const PollSpec& poll = dog.config().poll;
  enabled_ = poll.events;
  if (!poll.events) {
    for (auto& [name, t] : v1_) drop(t);
    v1_.clear();
    armer_.takeDone();  // answers no target waits for: their eventfds close here
    for (auto& [name, t] : v2_) dropV2(t);
    v2_.clear();
    if (host_psi_) host_psi_->close();
    host_psi_.reset();
    host_trigger_.reset();
    if (host_psi_asked_ && metrics_) metrics_->psiTriggerWindow("host", Duration::zero());
    host_psi_asked_.reset();
    return;
  }
  armHost(poll);
  watch_.setFast(poll.fast_interval < poll.interval && interval <= poll.fast_interval);
  watch_.setSkimRate(poll.skim_rate);
  const SteadyTime next_tick = clock_.steadyNow() + interval;
  // After every tick, so nothing here allocates for a target whose sources are in place: a
  // generation mark instead of a list of the names seen.
  const std::uint64_t now = ++updates_;
  bool v1_all = true, v2_all = true;  // every target in the map was seen
  std::size_t v1_seen = 0, v2_seen = 0;
  dog.forEachResolved([&](const std::string& name, const TargetCollector& c, const Snapshot& last,
                          RuleEngine::TargetHandle rules, bool full) {
    const std::string& dir = c.cgroupDir();
    if (dir.empty()) return;
    auto usage = last.get(Sig::kUsageBytes);
    double used = usage ? *usage : std::numeric_limits<double>::quiet_NaN();
    if (c.cgroupVersion() == CgroupVersion::kV2) {
      V2Target& t = v2_[name];
      if (t.seen != now) ++v2_seen;
      t.seen = now;
      if (full || t.wd < 0 || t.dir != dir) updateV2(t, name, c, poll, full);
      if (full || t.watch.usage_file.empty()) {
        // No kernel threshold on v2: the watch, started by the projection, is what finds a
        // level between two polls.
        setWatchLevels(t.watch, dog.engine().levels(rules), poll.fast_above, last);
        if (t.watch.usage_file.empty()) t.watch.usage_file = t.dir + "/memory.current";
      }
      watch_.ticked(t.watch, used, last.steady, next_tick, /*skim=*/true);
      return;
    }
    if (c.cgroupVersion() != CgroupVersion::kV1) return;
    V1Target& t = v1_[name];
    if (t.seen != now) ++v1_seen;
    t.seen = now;
    if (!t.watch.levels.empty()) watch_.ticked(t.watch, used, last.steady, next_tick);
    if (!full && t.oom_events && t.levels_done && t.dir == dir) return;
    const RuleEngine& engine = dog.engine();
    bool vmpressure = engine.uses(rules, id(Sig::kVmpressureLow)) ||
                      engine.uses(rules, id(Sig::kVmpressureMedium)) ||
                      engine.uses(rules, id(Sig::kVmpressureCritical));
    updateV1(t, name, c, last, engine.levels(rules), poll.fast_above, full, vmpressure);
  });
  v1_all = v1_seen == v1_.size();
  v2_all = v2_seen == v2_.size();
  if (!v2_all)
    for (auto it = v2_.begin(); it != v2_.end();) {
      if (it->second.seen == now) {
        ++it;
      } else {
        dropV2(it->second);
        it = v2_.erase(it);
      }
    }
  if (!v1_all)
    for (auto it = v1_.begin(); it != v1_.end();) {
      if (it->second.seen == now) {
        ++it;
      } else {
        armer_.cancel(it->first);  // a gone cgroup's registration would only fail, slowly
        drop(it->second);
        it = v1_.erase(it);
      }
    }
}

}  // namespace oomsentinel
