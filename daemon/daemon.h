// daemon/: wiring and lifetime.
// Daemon: `oomsentinel run` (docs/architecture.md, "A tick walked through", step 1). It owns
// what the running daemon holds for its whole life: the logger, the metrics and the listener that
// serves them, the Watchdog (which owns the running config), the kernel wake-ups and the usage
// watch (KernelWakeups), and the Asio loop that drives them on one thread: the tick's timer, the
// signal set, systemd's keep-alive, the state file. Every handler runs on that thread, so nothing
// here is locked but Health, which the listener's thread reads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "alerts/metrics.h"
#include "alerts/metrics_server.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/host_paths.h"
#include "daemon/health.h"
#include "daemon/kernel_wakeups.h"
#include "daemon/logger.h"
#include "daemon/systemd_notify.h"
#include "daemon/wake_source.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

// What `oomsentinel run`'s flags say (daemon/run.cc parses them).
struct DaemonOptions {
  std::optional<std::string> config_path;  // none: the built-in config
  Logger::Format log_format = Logger::Format::kHuman;
  std::string state_file;  // empty: none
};

class Daemon {
 public:
  Daemon(const HostPaths& paths, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts, runs the loop until SIGTERM or SIGINT, and stops. The exit status: 0 stopped by a
  // signal; 2 an invalid config or a listen address that cannot be had at start.
  int run();

 private:
  // Start-up, in this order: the config, the process (open files, capabilities, the delegated
  // cgroup), the Watchdog with the config applied, the listener, systemd, the kernel wake-ups.
  // False: not started (logged), exit 2.
  bool start();
  std::optional<Config> loadStartConfig();
  // The loop's sources: systemd's keep-alive, the kernel wake-ups, the signals (caught since the
  // constructor), a first tick now.
  void startLoop();
  // The listener on `listen` ("" none); a change of address moves it. False: cannot listen there.
  bool serve(const std::string& listen);
  // systemd's WatchdogSec: a keep-alive only while the loop ticks (Health), so a hung tick (it
  // runs on this thread) or a broken timer chain gets the daemon restarted.
  void keepAlive();
  // Waits on the timer for the tick; each wait carries the generation it was made in (wakeUp).
  void schedule();
  void onTick();
  // After a tick: the listener's counters, stuck reads, Health, systemd's status line.
  void report(Duration interval);
  void writeState(SteadyTime started, Duration interval);
  // A kernel notification or the usage watch: a tick at once, within the limits in daemon.cc.
  void wakeUp(WakeSource source);
  void waitSignal();
  void onSignal(int signo);
  // SIGHUP: the config file read again and applied, all or nothing; a bad one keeps the old.
  void reload();
  // SIGTERM, SIGINT: the loop ends (run() then calls shutdown()).
  void stop(int signo);
  // After the loop: the Watchdog's dumps and threads end, the state file goes.
  void shutdown();

  HostPaths paths_;
  DaemonOptions options_;
  SystemClock clock_;
  Logger log_;
  DaemonMetrics metrics_;
  Health health_;
  std::unique_ptr<MetricsServer> server_;
  std::string serving_;  // the listener's address
  // Made once the process is set up (start()): its pool's threads must not hold root's
  // capabilities, which belong to each thread.
  std::optional<Watchdog> dog_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_{io_};
  boost::asio::signal_set signals_{io_};
  SystemdNotify notify_;
  boost::asio::steady_timer keep_alive_{io_};
  // After dog_ and io_: it wakes on io_ and feeds the Watchdog's ticks; goes first.
  std::optional<KernelWakeups> wakeups_;

  // The scheduler's state (docs/design/wakeups.md).
  Duration current_interval_{};  // the interval the last tick chose
  // Each wait on the timer carries the generation it was made in: a wake-up that moves the next
  // tick earlier starts a new generation, and a wait of an older one that had already fired is
  // dropped instead of starting a second chain of ticks.
  std::uint64_t timer_generation_ = 0;
  // The last wake-up's tick. (Not a zero time point: the steady clock counts from boot, and in a
  // VM just booted "zero plus the fast interval" is still in the future.)
  std::optional<SteadyTime> last_woken_;
  SteadyTime last_state_{};  // the state file's last write
  Duration last_interval_{};
};

}  // namespace oomsentinel
