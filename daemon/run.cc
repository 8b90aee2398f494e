#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <iostream>
#include <optional>

#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/units.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/logger.h"
#include "daemon/state_file.h"
#include "daemon/watchdog.h"

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

  Watchdog dog(paths, clock, log);
  if (!dog.apply(config)) return 2;

  boost::asio::io_context io;
  boost::asio::steady_timer timer(io);
  boost::asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
  int exit_code = 0;

  SteadyTime last_state{};
  Duration last_interval{};
  std::function<void()> schedule;
  auto onTick = [&](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: stopping
    SteadyTime started = clock.steadyNow();
    Duration interval = dog.tick();
    // At most once a second, or at once when the interval changed.
    if (!state_file.empty() &&
        (started - last_state >= std::chrono::seconds(1) || interval != last_interval)) {
      last_state = started;
      last_interval = interval;
      if (auto st = writeStateFile(state_file, stateJson(dog, clock)); !st) {
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
  schedule = [&]() { timer.async_wait(onTick); };

  std::function<void()> waitSignal;
  waitSignal = [&]() {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        if (!config_path) {
          log.log(LogLevel::kWarning,
                  "SIGHUP: no config file to reload (started without --config)");
        } else {
          ConfigLoad load = loadConfigFile(*config_path);
          if (!load.config) {
            printErrors(load.errors, log);
            log.log(LogLevel::kError, "reload failed: keeping the running config",
                    {{"config", *config_path}, {"errors", std::to_string(load.errors.size())}});
          } else {
            Config next = *load.config;
            if (next.targets.empty()) next.targets = dog.config().targets;
            if (dog.apply(next))
              log.log(LogLevel::kInfo, "config reloaded",
                      {{"config", *config_path},
                       {"targets", std::to_string(next.targets.size())},
                       {"rules", std::to_string(next.rules.size())}});
            else
              log.log(LogLevel::kError, "reload failed: keeping the running config");
          }
        }
        waitSignal();
        return;
      }
      log.log(LogLevel::kInfo, "stopping",
              {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"},
               {"ticks", std::to_string(dog.ticks())}});
      timer.cancel();
      io.stop();
    });
  };
  waitSignal();
  timer.expires_at(clock.steadyNow());
  schedule();
  io.run();
  if (!state_file.empty()) ::unlink(state_file.c_str());
  return exit_code;
}

}  // namespace oomsentinel
