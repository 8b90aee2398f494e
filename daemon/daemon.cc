#include "daemon/daemon.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "collectors/target_collector.h"
#include "core/kinds.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "daemon/privileges.h"
#include "daemon/state_file.h"
#include "dumpers/child.h"
#include "dumpers/exec_dumper.h"

namespace oomsentinel {

namespace {

constexpr int kMallocArenas = 2;  // limitMallocArenas

// No config: the sidecar case (own cgroup with a limit) or the host.
Config defaultConfig(const HostPaths& paths, std::string* why) {
  Config c;
  c.source = "(built-in)";
  c.rules = defaultRules();
  c.rules_are_defaults = true;
  TargetSpec t;
  t.target = Target::host();
  *why = "no config given and oomsentinel's own cgroup has no memory limit: watching the host";
  auto layout = detectLayout(paths);
  if (layout) {
    auto self = TargetCollector::create(paths, *layout, Target::self());
    SystemClock clock;
    Snapshot s;
    if (self && (*self)->collect(clock, s).ok() && s.has(Sig::kLimitBytes)) {
      t.target = Target::self();
      *why = "no config given: watching oomsentinel's own cgroup " + (*self)->cgroupRelative() +
             " (limit " + formatBytes(*s.get(Sig::kLimitBytes)) + ")";
    }
  }
  c.targets.push_back(t);
  return c;
}

void printErrors(const std::vector<ConfigError>& errors, Logger& log) {
  for (const auto& e : errors) log.log(LogLevel::kError, "config: " + e.format());
}

// A target holds about 10 open files (cgroup v1) to 14 (v2) for the life of its collector, so a
// node agent with a few hundred containers passes the usual soft limit of 1024. The soft limit is
// raised to the hard one (systemd's default for services is 1024 soft, 512Ki hard).
void raiseOpenFileLimit(Logger& log) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    log.log(LogLevel::kWarning, "cannot raise the open-file limit",
            {{"soft", std::to_string(before)}, {"error", std::strerror(errno)}});
    return;
  }
  log.log(LogLevel::kInfo, "raised the open-file limit",
          {{"from", std::to_string(before)}, {"to", std::to_string(lim.rlim_max)}});
}

// glibc gives each thread that contends for malloc an arena of its own, up to 8 per CPU, and an
// arena keeps what its thread freed (oomsentinel_process_malloc_bytes{kind="free"}): under
// container churn the daemon's RSS grew by the free memory of its read, dump and notifier
// threads' arenas while the memory in use stayed flat (bench/README.md, "What the growth is made
// of": in use +130 KiB, kept free +852 KiB over 8 minutes, RSS 37 MiB; 32 MiB and flat with two
// arenas). Two arenas: the daemon's threads allocate little outside a dump, so they seldom wait
// for one. MALLOC_ARENA_MAX or glibc.malloc.arena_max in GLIBC_TUNABLES, when set, are left alone.
void limitMallocArenas(Logger& log) {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") ||
      (tunables && std::strstr(tunables, "glibc.malloc.arena_max"))) {
    log.log(LogLevel::kInfo, "malloc arenas: as the environment sets them");
    return;
  }
  if (::mallopt(M_ARENA_MAX, kMallocArenas) != 1) {
    log.log(LogLevel::kWarning, "cannot limit malloc's arenas",
            {{"arenas", std::to_string(kMallocArenas)}});
    return;
  }
  log.log(LogLevel::kInfo, "malloc arenas limited", {{"arenas", std::to_string(kMallocArenas)}});
}

// A hook as uid 0 has no capabilities, but the service's cgroup files are root's and the unit
// makes them writable: it could leave its cgroup for the daemon's leaf or lift its limits.
// Each hook's end is checked for that (ChildCgroup::sweepDelegated); here it is said up front.
void warnRootHooks(const Config& config, Logger& log) {
  for (const auto& t : config.targets) {
    if (std::find(t.dump.dumpers.begin(), t.dump.dumpers.end(), DumperKind::kExec) ==
        t.dump.dumpers.end())
      continue;
    if (auto uid = execUserUid(t.dump.exec_user); uid && *uid == 0)
      log.log(LogLevel::kWarning,
              "an exec hook runs as uid 0 under the delegated cgroup: it can write the "
              "service's cgroup files (each hook's end is checked, and what it left there is "
              "killed)",
              {{"target", t.target.name}, {"exec_user", t.dump.exec_user}});
  }
}

// What the process does once, before the Watchdog's first thread (capabilities belong to each
// thread, and later ones inherit these) and before the first dump.
void prepareProcess(const HostPaths& paths, const Config& config, Logger& log) {
  limitMallocArenas(log);
  raiseOpenFileLimit(log);
  if (auto dropped = dropPrivileges(); !dropped) {
    log.log(LogLevel::kError, "cannot drop capabilities; running with all of root's",
            {{"error", dropped.error().describe()}});
  } else if (*dropped) {
    std::string kept;
    for (const auto& c : heldKeptCapabilityNames()) kept += (kept.empty() ? "" : ",") + c;
    log.log(LogLevel::kInfo, "dropped root's other capabilities; no_new_privs set",
            {{"kept", kept}});
  }
  // Under the unit's Delegate=yes: into <service cgroup>/daemon, so that the children's cgroups
  // beside it can have controllers (dumpers/child.h). Before the first dump, which needs it.
  auto leaf = enterDelegatedLeaf(paths);
  if (!leaf) {
    log.log(LogLevel::kWarning, "cannot enter a leaf of the delegated cgroup",
            {{"error", leaf.error().describe()}});
  } else if (*leaf) {
    log.log(LogLevel::kInfo, "entered the leaf of its delegated cgroup",
            {{"cgroup", joinPath((*leaf)->service_dir, kDaemonLeaf)},
             {"children_controllers", (*leaf)->enabled},
             {"note", (*leaf)->note}});
    warnRootHooks(config, log);
  }
  // Said once here, not found out at the first dump.
  if (std::string limits = childLimits(); !limits.empty())
    log.log(LogLevel::kInfo, "dumpers' children are limited", {{"limits", limits}});
}

}  // namespace

Daemon::Daemon(const HostPaths& paths, DaemonOptions options)
    : paths_(paths),
      options_(std::move(options)),
      log_(clock_, options_.log_format),
      metrics_(paths_) {
  // From the start: a signal during start-up (reading the config, applying it) waits for the
  // loop instead of taking its default action, which ends the process by the signal with
  // nothing said and nothing cleaned up.
  signals_.add(SIGHUP);
  signals_.add(SIGTERM);
  signals_.add(SIGINT);
}

Daemon::~Daemon() = default;

int Daemon::run() {
  if (!start()) return 2;
  startLoop();
  io_.run();  // until stop()
  shutdown();
  return 0;
}

void Daemon::startLoop() {
  if (!notify_.problem().empty())
    log_.log(LogLevel::kError, "systemd notifications off", {{"error", notify_.problem()}});
  if (notify_.watchdogPeriod() > Duration::zero()) keepAlive();
  current_interval_ = dog_->config().poll.interval;
  wakeups_.emplace(io_, paths_, clock_, log_, &metrics_, [this](WakeSource s) { wakeUp(s); });
  dog_->setKernelSignals(
      [this](const std::string& target, Snapshot& s) { wakeups_->addSignals(target, s); });
  waitSignal();
  timer_.expires_at(clock_.steadyNow());
  schedule();
}

bool Daemon::start() {
  std::optional<Config> config = loadStartConfig();
  if (!config) return false;
  prepareProcess(paths_, *config, log_);
  dog_.emplace(paths_, clock_, log_);
  dog_->setMetrics(&metrics_);
  dog_->guardSelf(true);
  if (!dog_->apply(*config)) return false;
  // A port that cannot be had at start is a config error: better to say so than run unseen.
  return serve(config->alerts.metrics_listen);
}

std::optional<Config> Daemon::loadStartConfig() {
  std::string why;
  if (!options_.config_path) {
    Config config = defaultConfig(paths_, &why);
    log_.log(LogLevel::kInfo, why, {{"rules", std::to_string(config.rules.size()) + " built-in"}});
    return config;
  }
  const std::string& path = *options_.config_path;
  ConfigLoad load = loadConfigFile(path);
  if (!load.config) {
    printErrors(load.errors, log_);
    log_.log(LogLevel::kError, "invalid config; not starting", {{"config", path}});
    return std::nullopt;
  }
  Config config = *load.config;
  if (config.targets.empty()) {
    config.targets = defaultConfig(paths_, &why).targets;
    log_.log(LogLevel::kInfo, "config has no targets: " + why);
  }
  log_.log(LogLevel::kInfo, "starting",
           {{"config", path},
            {"targets", std::to_string(config.targets.size())},
            {"rules", std::to_string(config.rules.size())}});
  return config;
}

bool Daemon::serve(const std::string& listen) {
  if (listen == serving_) return true;
  server_.reset();
  serving_.clear();
  if (listen.empty()) return true;
  auto s = MetricsServer::start(listen, [this](const std::string& path) {
    return answerRequest(path, health_, clock_, [this] { return metrics_.render(); });
  });
  if (!s) {
    log_.log(LogLevel::kError, "cannot serve /metrics", {{"error", s.error().describe()}});
    return false;
  }
  server_ = std::move(*s);
  serving_ = listen;
  log_.log(LogLevel::kInfo, "serving /metrics, /healthz, /readyz",
           {{"listen", listen}, {"port", std::to_string(server_->port())}});
  return true;
}

void Daemon::keepAlive() {
  keep_alive_.expires_at(clock_.steadyNow() + notify_.watchdogPeriod());
  keep_alive_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (isTicking(health_.state(), clock_.steadyNow())) notify_.watchdog();
    keepAlive();
  });
}

void Daemon::schedule() {
  timer_.async_wait([this, generation = timer_generation_](const boost::system::error_code& ec) {
    if (ec || generation != timer_generation_) return;  // cancelled: stopping, or moved earlier
    onTick();
  });
}

void Daemon::onTick() {
  SteadyTime started = clock_.steadyNow();
  metrics_.tickLateness(started - timer_.expiry());
  Duration interval = dog_->tick();
  current_interval_ = interval;
  wakeups_->update(*dog_, interval);
  report(interval);
  writeState(started, interval);
  // From the tick's start, so the period does not drift by the tick's own cost; a tick that
  // overran starts the next one at once.
  timer_.expires_at(started + interval);
  schedule();
}

void Daemon::report(Duration interval) {
  SteadyTime ended = clock_.steadyNow();
  if (server_) {
    auto st = server_->stats();
    metrics_.httpConnections(st.refused, st.evicted, st.timed_out, st.busy);
  }
  TargetWorkStats fs = targetWorkStats();
  metrics_.stuckWork(fs.stuck, fs.abandoned_total, dog_->stuckDumpers());
  std::vector<std::string> unresolved = dog_->unresolvedTargets();
  notify_.ticked(systemdStatusLine(dog_->config().targets.size(), unresolved.size(), interval));
  health_.ticked(ended, interval, std::move(unresolved));
  health_.setDegraded(dog_->degradedLine());
}

void Daemon::writeState(SteadyTime started, Duration interval) {
  // At most once a second, or at once when the interval changed.
  std::string& file = options_.state_file;
  if (file.empty()) return;
  if (started - last_state_ < std::chrono::seconds(1) && interval == last_interval_) return;
  last_state_ = started;
  last_interval_ = interval;
  if (auto st = writeStateFile(file, stateJson(*dog_, clock_, &*wakeups_)); !st) {
    log_.log(LogLevel::kWarning,
             "cannot write the state file; status will not show the daemon's rules (use "
             "--state-file)",
             {{"error", st.error().describe()}});
    file.clear();
  }
}

// Kernel notifications (docs/design/wakeups.md): a tick at once, but at most one such extra tick
// per fast interval, however many arrive; the rest are folded into the tick that is due anyway,
// and counted. While the poll is fast (fast_interval shorter than interval, and in use), a tick
// is never more than a fast interval away, and the one extra tick is kept for a level being
// crossed (crossesLevel: a v1 usage threshold, the usage watch, the skim): the others (pressure,
// memory.events, the OOM notifier) are folded into the tick due.
void Daemon::wakeUp(WakeSource source) {
  SteadyTime now = clock_.steadyNow();
  const PollSpec& poll = dog_->config().poll;
  if (!crossesLevel(source) && poll.fast_interval < poll.interval &&
      current_interval_ <= poll.fast_interval) {
    metrics_.wakeup(std::string(name(source)), false);
    return;
  }
  SteadyTime at = last_woken_ ? std::max(now, *last_woken_ + poll.fast_interval) : now;
  bool sooner = at < timer_.expiry();
  metrics_.wakeup(std::string(name(source)), sooner);
  if (!sooner) return;
  last_woken_ = at;
  ++timer_generation_;
  timer_.expires_at(at);
  schedule();
}

void Daemon::waitSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (!ec) onSignal(signo);
  });
}

void Daemon::onSignal(int signo) {
  if (signo != SIGHUP) {
    stop(signo);
    return;
  }
  notify_.reloading();
  reload();
  notify_.reloaded();
  waitSignal();
}

void Daemon::reload() {
  if (!options_.config_path) {
    log_.log(LogLevel::kWarning, "SIGHUP: no config file to reload (started without --config)");
    return;
  }
  const std::string& path = *options_.config_path;
  ConfigLoad load = loadConfigFile(path);
  if (!load.config) {
    printErrors(load.errors, log_);
    metrics_.reload(false);
    log_.log(LogLevel::kError, "reload failed: keeping the running config",
             {{"config", path}, {"errors", std::to_string(load.errors.size())}});
    return;
  }
  Config next = *load.config;
  if (next.targets.empty()) next.targets = dog_->config().targets;
  bool ok = dog_->apply(next);
  if (ok) {
    wakeups_->rulesChanged();
    log_.log(LogLevel::kInfo, "config reloaded",
             {{"config", path},
              {"targets", std::to_string(next.targets.size())},
              {"rules", std::to_string(next.rules.size())}});
    serve(next.alerts.metrics_listen);
  } else {
    log_.log(LogLevel::kError, "reload failed: keeping the running config");
  }
  metrics_.reload(ok);
}

void Daemon::stop(int signo) {
  notify_.stopping();
  log_.log(LogLevel::kInfo, "stopping",
           {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
            {"ticks", std::to_string(dog_->ticks())}});
  timer_.cancel();
  keep_alive_.cancel();
  io_.stop();
}

void Daemon::shutdown() {
  dog_->setKernelSignals({});  // wakeups_ goes before dog_
  dog_->shutdown();
  if (!options_.state_file.empty()) ::unlink(options_.state_file.c_str());
}

}  // namespace oomsentinel
