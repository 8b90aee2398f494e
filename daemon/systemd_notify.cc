#include "daemon/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdlib>

#include "core/units.h"

namespace oomsentinel {

SystemdNotify::SystemdNotify() {
  // NOTIFY_SOCKET stays in the environment (sd_notify reads it at every call), so children such
  // as jcmd inherit it; the unit's NotifyAccess=main makes systemd ignore anything they send.
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  if (!active_) return;
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names this process.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_period_ = std::chrono::microseconds(usec) / 4;
}

void SystemdNotify::send(const std::string& message) {
  if (!active_) return;
  // A failed send (systemd restarting, the socket gone) is not worth stopping the loop for; the
  // next tick or keep-alive tries again, and a missing keep-alive is systemd's to act on.
  (void)sd_notify(0, message.c_str());
}

void SystemdNotify::ticked(const std::string& status) {
  if (!active_ || (ready_ && status == status_)) return;
  status_ = status;
  send((ready_ ? "" : "READY=1\n") + std::string("STATUS=") + status);
  ready_ = true;
}

void SystemdNotify::watchdog() { send("WATCHDOG=1"); }

void SystemdNotify::reloading() { send("RELOADING=1\nSTATUS=reloading the config"); }

void SystemdNotify::reloaded() {
  // The next tick sends the status line again, with the reloaded targets.
  status_.clear();
  send("READY=1");
}

void SystemdNotify::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

std::string systemdStatusLine(std::size_t targets, std::size_t unresolved, Duration interval) {
  return "watching " + std::to_string(targets) + (targets == 1 ? " target" : " targets") + " (" +
         std::to_string(unresolved) + " unresolved), tick " + formatDuration(interval);
}

}  // namespace oomsentinel
