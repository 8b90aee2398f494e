#include "daemon/systemd_notify.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>

#include "core/units.h"

namespace oomsentinel {

SystemdNotify::SystemdNotify() {
  // NOTIFY_SOCKET stays in the environment (sd_notify reads it at every call), so children such
  // as jcmd inherit it; the unit's NotifyAccess=main makes systemd ignore anything they send.
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return;
  // libsystemd is loaded only here, under systemd: linked, it and the libraries it pulls in
  // (liblzma, libzstd, liblz4, libgcrypt, libcap) added 0.8 MiB to every run's RSS.
  void* lib = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    problem_ = std::string("NOTIFY_SOCKET is set but libsystemd.so.0 cannot be loaded (") +
               (why ? why : "unknown") + "): systemd will not hear READY=1";
    return;
  }
  notify_ = reinterpret_cast<NotifyFn>(::dlsym(lib, "sd_notify"));
  auto enabled = reinterpret_cast<WatchdogEnabledFn>(::dlsym(lib, "sd_watchdog_enabled"));
  if (!notify_ || !enabled) {
    problem_ = "libsystemd.so.0 has no sd_notify or sd_watchdog_enabled";
    notify_ = nullptr;
    return;
  }
  active_ = true;
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names this process.
  if (enabled(0, &usec) > 0 && usec > 0) watchdog_period_ = std::chrono::microseconds(usec) / 4;
}

void SystemdNotify::send(const std::string& message) {
  if (!active_) return;
  // A failed send (systemd restarting, the socket gone) is not worth stopping the loop for; the
  // next tick or keep-alive tries again, and a missing keep-alive is systemd's to act on.
  (void)notify_(0, message.c_str());
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
