#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>

#include "alerts/metrics.h"
#include "alerts/metrics_server.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/target_fs.h"
#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/kernel_wakeups.h"
#include "daemon/logger.h"
#include "daemon/privileges.h"
#include "daemon/state_file.h"
#include "daemon/systemd_notify.h"
#include "daemon/watchdog.h"
#include "dumpers/child.h"
#include "dumpers/exec_dumper.h"

namespace oomsentinel {

const char* const kRunUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] run [--config FILE]\n"
    "           [--log-format human|json] [--state-file FILE]\n"
    "\n"
    "Watches the configured targets, evaluates the rules every tick (poll.interval, dropping\n"
    "to poll.fast_interval near a limit) and logs every rule transition on stderr.\n"
    "Without --config: watches its own cgroup when that has a memory limit (the sidecar\n"
    "case), otherwise the host, with the built-in rules; the first log line says which.\n"
    "\n"
    "  --state-file FILE  where `status` finds the daemon's interval and rule states\n"
    "                     (default /run/oomsentinel/state.json; 'none' to disable)\n"
    "\n"
    "  SIGHUP   reload the config (an invalid one is logged and the old one kept)\n"
    "  SIGTERM, SIGINT   stop\n"
    "\n"
    "Exit status: 0 stopped by a signal; 2 bad flag or invalid config at start.\n";

namespace {

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

// What /healthz and /readyz answer from, written by the tick's thread, read by the server's.
struct Health {
  std::atomic<SteadyTime::rep> last_tick{0};
  std::atomic<Duration::rep> interval{0};
  std::mutex mu;
  std::vector<std::string> unresolved;
};

// The loop is ticking: the last tick is younger than three intervals (and 2 s of slack). Both
// /healthz and systemd's watchdog keep-alive go by this.
bool ticking(const Health& health, const Clock& clock, Duration* age) {
  SteadyTime last{Duration(health.last_tick.load())};
  *age = clock.steadyNow() - last;
  Duration allowed = 3 * Duration(health.interval.load()) + std::chrono::seconds(2);
  return health.last_tick.load() != 0 && *age <= allowed;
}

HttpAnswer answer(const std::string& path, DaemonMetrics& metrics, Health& health,
                  const Clock& clock) {
  HttpAnswer a;
  if (path == "/metrics") {
    a.content_type = "text/plain; version=0.0.4; charset=utf-8";
    a.body = metrics.render();
  } else if (path == "/healthz") {
    Duration age{};
    if (ticking(health, clock, &age)) {
      a.body = "ok: last tick " + formatDuration(age) + " ago\n";
    } else {
      a.status = 503;
      a.body = health.last_tick.load() == 0
                   ? "not ticking yet\n"
                   : "stalled: last tick " + formatDuration(age) + " ago\n";
    }
  } else if (path == "/readyz") {
    std::lock_guard lock(health.mu);
    if (health.last_tick.load() != 0 && health.unresolved.empty()) {
      a.body = "ready\n";
    } else {
      a.status = 503;
      std::string names;
      for (const auto& n : health.unresolved) names += (names.empty() ? "" : ", ") + n;
      a.body = health.last_tick.load() == 0 ? "not ticking yet\n"
                                            : "targets not resolved: " + names + "\n";
    }
  } else if (path == "/") {
    a.content_type = "text/html; charset=utf-8";
    a.body =
        "<html><body><h1>oomsentinel</h1><a href=\"/metrics\">/metrics</a> "
        "<a href=\"/healthz\">/healthz</a> <a href=\"/readyz\">/readyz</a></body></html>\n";
  } else {
    a.status = 404;
    a.body = "not found: " + path + " (try /metrics, /healthz, /readyz)\n";
  }
  return a;
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

}  // namespace

int runDaemon(const HostPaths& paths, std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::optional<std::string> config_path;
  Logger::Format format = Logger::Format::kHuman;
  std::string state_file = kDefaultStateFile;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (args.flag("--config", &v)) {
      config_path = *v;
    } else if (args.flag("--state-file", &v)) {
      state_file = *v == "none" ? "" : *v;
    } else if (args.flag("--log-format", &v)) {
      if (*v == "json")
        format = Logger::Format::kJson;
      else if (*v == "human")
        format = Logger::Format::kHuman;
      else
        throw UsageError{"--log-format is human or json, got '" + *v + "'"};
    } else {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    }
  }
  SystemClock clock;
  Logger log(clock, format);
  Config config;
  if (config_path) {
    ConfigLoad load = loadConfigFile(*config_path);
    if (!load.config) {
      printErrors(load.errors, log);
      log.log(LogLevel::kError, "invalid config; not starting", {{"config", *config_path}});
      return 2;
    }
    config = *load.config;
    if (config.targets.empty()) {
      std::string why;
      config.targets = defaultConfig(paths, &why).targets;
      log.log(LogLevel::kInfo, "config has no targets: " + why);
    }
    log.log(LogLevel::kInfo, "starting",
            {{"config", *config_path},
             {"targets", std::to_string(config.targets.size())},
             {"rules", std::to_string(config.rules.size())}});
  } else {
    std::string why;
    config = defaultConfig(paths, &why);
    log.log(LogLevel::kInfo, why, {{"rules", std::to_string(config.rules.size()) + " built-in"}});
  }

  raiseOpenFileLimit(log);
  // Before the first thread: capabilities belong to each thread, and later ones inherit these.
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
  }
  // A hook as uid 0 has no capabilities, but the service's cgroup files are root's and the unit
  // makes them writable: it could leave its cgroup for the daemon's leaf or lift its limits.
  // Each hook's end is checked for that (ChildCgroup::sweepDelegated); here it is said up front.
  if (leaf && *leaf) {
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
  // Said once here, not found out at the first dump.
  if (std::string limits = childLimits(); !limits.empty())
    log.log(LogLevel::kInfo, "dumpers' children are limited", {{"limits", limits}});
  DaemonMetrics metrics(paths);
  Health health;
  std::unique_ptr<MetricsServer> server;
  std::string serving;
  auto serve = [&](const std::string& listen) {
    if (listen == serving) return true;
    server.reset();
    serving.clear();
    if (listen.empty()) return true;
    auto s = MetricsServer::start(
        listen, [&](const std::string& path) { return answer(path, metrics, health, clock); });
    if (!s) {
      log.log(LogLevel::kError, "cannot serve /metrics", {{"error", s.error().describe()}});
      return false;
    }
    server = std::move(*s);
    serving = listen;
    log.log(LogLevel::kInfo, "serving /metrics, /healthz, /readyz",
            {{"listen", listen}, {"port", std::to_string(server->port())}});
    return true;
  };
  Watchdog dog(paths, clock, log);
  dog.setMetrics(&metrics);
  if (!dog.apply(config)) return 2;
  // A port that cannot be had at start is a config error: better to say so than run unseen.
  if (!serve(config.alerts.metrics_listen)) return 2;

  boost::asio::io_context io;
  boost::asio::steady_timer timer(io);
  boost::asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  int exit_code = 0;
  SystemdNotify notify;
  if (!notify.problem().empty())
    log.log(LogLevel::kError, "systemd notifications off", {{"error", notify.problem()}});
  // systemd's WatchdogSec: a keep-alive only while the loop ticks, so a hung tick (it runs on this
  // thread) or a broken timer chain gets the daemon restarted.
  boost::asio::steady_timer keep_alive(io);
  std::function<void()> keepAlive = [&]() {
    keep_alive.expires_at(clock.steadyNow() + notify.watchdogPeriod());
    keep_alive.async_wait([&](const boost::system::error_code& ec) {
      Duration age{};
      if (ec) return;
      if (ticking(health, clock, &age)) notify.watchdog();
      keepAlive();
    });
  };
  if (notify.watchdogPeriod() > Duration::zero()) keepAlive();

  SteadyTime last_state{};
  Duration last_interval{};
  std::function<void()> schedule;
  // Each wait on the timer carries the generation it was made in: a kernel notification that
  // moves the next tick earlier starts a new generation, and a wait of an older one that had
  // already fired is dropped instead of starting a second chain of ticks.
  std::uint64_t timer_generation = 0;
  // Kernel notifications (docs/design/wakeups.md): a tick at once, but at most one such
  // extra tick per fast interval, however many arrive; the rest are folded into the tick that is
  // due anyway, and counted.
  // (Not a zero time point: the steady clock counts from boot, and in a VM just booted "zero
  // plus the fast interval" is still in the future.)
  // While the poll is fast (fast_interval shorter than interval, and in use), a tick is never
  // more than a fast interval away, and the one extra
  // tick is kept for a level being crossed (a v1 usage threshold, the usage watch): the others
  // (pressure, memory.events, the OOM notifier) are folded into the tick due.
  std::optional<SteadyTime> last_woken;
  Duration current_interval = dog.config().poll.interval;
  auto wakeUp = [&](const char* source) {
    SteadyTime now = clock.steadyNow();
    bool level = std::strcmp(source, "v1_threshold") == 0 ||
                 std::strcmp(source, "projection") == 0 || std::strcmp(source, "near_level") == 0;
    const PollSpec& poll = dog.config().poll;
    if (!level && poll.fast_interval < poll.interval && current_interval <= poll.fast_interval) {
      metrics.wakeup(source, false);
      return;
    }
    SteadyTime at = last_woken ? std::max(now, *last_woken + dog.config().poll.fast_interval) : now;
    bool sooner = at < timer.expiry();
    metrics.wakeup(source, sooner);
    if (!sooner) return;
    last_woken = at;
    ++timer_generation;
    timer.expires_at(at);
    schedule();
  };
  KernelWakeups wakeups(io, paths, clock, log, &metrics, wakeUp);
  dog.setKernelSignals(
      [&wakeups](const std::string& target, Snapshot& s) { wakeups.addSignals(target, s); });
  auto onTick = [&](const boost::system::error_code& ec, std::uint64_t generation) {
    if (ec || generation != timer_generation) return;  // cancelled: stopping, or moved earlier
    SteadyTime started = clock.steadyNow();
    Duration interval = dog.tick();
    current_interval = interval;
    wakeups.update(dog, interval);
    health.last_tick.store(clock.steadyNow().time_since_epoch().count());
    if (server) {
      auto st = server->stats();
      metrics.httpConnections(st.refused, st.evicted, st.timed_out, st.busy);
    }
    TargetWorkStats fs = targetWorkStats();
    metrics.stuckWork(fs.stuck, fs.abandoned_total, dog.stuckDumpers());
    health.interval.store(interval.count());
    {
      std::lock_guard lock(health.mu);
      health.unresolved = dog.unresolvedTargets();
      notify.ticked(
          systemdStatusLine(dog.config().targets.size(), health.unresolved.size(), interval));
    }
    // At most once a second, or at once when the interval changed.
    if (!state_file.empty() &&
        (started - last_state >= std::chrono::seconds(1) || interval != last_interval)) {
      last_state = started;
      last_interval = interval;
      if (auto st = writeStateFile(state_file, stateJson(dog, clock, &wakeups)); !st) {
        log.log(LogLevel::kWarning,
                "cannot write the state file; status will not show the "
                "daemon's rules (use --state-file)",
                {{"error", st.error().describe()}});
        state_file.clear();
      }
    }
    // From the tick's start, so the period does not drift by the tick's own cost; a tick that
    // overran starts the next one at once.
    timer.expires_at(started + interval);
    schedule();
  };
  schedule = [&]() {
    timer.async_wait([&, generation = timer_generation](const boost::system::error_code& ec) {
      onTick(ec, generation);
    });
  };

  std::function<void()> waitSignal;
  waitSignal = [&]() {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        notify.reloading();
        if (!config_path) {
          log.log(LogLevel::kWarning,
                  "SIGHUP: no config file to reload (started without --config)");
        } else {
          ConfigLoad load = loadConfigFile(*config_path);
          if (!load.config) {
            printErrors(load.errors, log);
            metrics.reload(false);
            log.log(LogLevel::kError, "reload failed: keeping the running config",
                    {{"config", *config_path}, {"errors", std::to_string(load.errors.size())}});
          } else {
            Config next = *load.config;
            if (next.targets.empty()) next.targets = dog.config().targets;
            bool ok = dog.apply(next);
            if (ok) {
              wakeups.rulesChanged();
              log.log(LogLevel::kInfo, "config reloaded",
                      {{"config", *config_path},
                       {"targets", std::to_string(next.targets.size())},
                       {"rules", std::to_string(next.rules.size())}});
              serve(next.alerts.metrics_listen);
            } else {
              log.log(LogLevel::kError, "reload failed: keeping the running config");
            }
            metrics.reload(ok);
          }
        }
        notify.reloaded();
        waitSignal();
        return;
      }
      notify.stopping();
      log.log(LogLevel::kInfo, "stopping",
              {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"ticks", std::to_string(dog.ticks())}});
      timer.cancel();
      keep_alive.cancel();
      io.stop();
    });
  };
  waitSignal();
  timer.expires_at(clock.steadyNow());
  schedule();
  io.run();
  dog.setKernelSignals({});  // `wakeups` goes before `dog`
  dog.shutdown();
  if (!state_file.empty()) ::unlink(state_file.c_str());
  return exit_code;
}

}  // namespace oomsentinel
