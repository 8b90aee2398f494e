// daemon/: wiring and lifetime of the oomsentinel executable.
// What systemd hears from a Type=notify service: ready, reloading, stopping, a status line, and
// the watchdog's keep-alive. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.h"

namespace oomsentinel {

class SystemdNotify {
 public:
  // Under systemd (NOTIFY_SOCKET set), loads libsystemd and asks it once whether a watchdog was
  // handed to this process.
  SystemdNotify();

  bool active() const { return active_; }
  // Why NOTIFY_SOCKET is set and yet nothing can be sent; empty otherwise. For the log.
  const std::string& problem() const { return problem_; }
  // How often WATCHDOG=1 should go: a quarter of WatchdogSec, so a keep-alive delayed by a slow
  // tick still lands twice per period. Zero when systemd's watchdog is off for this process.
  Duration watchdogPeriod() const { return watchdog_period_; }

  // After each tick: READY=1 with the first one (the config is applied and every target was read
  // once), then STATUS= only when the line changed, so a 50 ms tick sends nothing new.
  void ticked(const std::string& status);
  void watchdog();
  // Around a SIGHUP reload, so `systemctl reload` shows the daemon as reloading until it is done.
  void reloading();
  void reloaded();
  void stopping();

 private:
  void send(const std::string& message);

  using NotifyFn = int (*)(int, const char*);
  using WatchdogEnabledFn = int (*)(int, std::uint64_t*);
  NotifyFn notify_ = nullptr;
  std::string problem_;
  bool active_ = false;
  bool ready_ = false;
  std::string status_;
  Duration watchdog_period_{0};
};

// "watching 3 targets (1 unresolved), tick 1s": what `systemctl status` shows.
std::string systemdStatusLine(std::size_t targets, std::size_t unresolved, Duration interval);

}  // namespace oomsentinel
