// daemon/: wiring and lifetime of the oomsentinel executable.
// What systemd hears from a Type=notify service: ready, reloading, stopping, a status line, and
// the watchdog's keep-alive. Outside systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <cstddef>
#include <string>

#include "core/clock.h"

namespace oomsentinel {

class SystemdNotify {
 public:
  // Asks libsystemd once whether a notify socket and a watchdog were handed to this process.
  SystemdNotify();

  bool active() const { return active_; }
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

  bool active_ = false;
  bool ready_ = false;
  std::string status_;
  Duration watchdog_period_{0};
};

// "watching 3 targets (1 unresolved), tick 1s": what `systemctl status` shows.
std::string systemdStatusLine(std::size_t targets, std::size_t unresolved, Duration interval);

}  // namespace oomsentinel
