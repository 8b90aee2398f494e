// tests/: the real oomsentinel binary run as a daemon by a test (one helper for every test that
// starts it, instead of a fork/exec of its own in each file).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace oomsentinel::testing {

struct DaemonOptions {
  DaemonOptions() = default;
  DaemonOptions(std::vector<std::string> a, std::string l, bool append = false)
      : args(std::move(a)), log(std::move(l)), append_log(append) {}

  // After the binary's path, e.g. runArgs(...) below.
  std::vector<std::string> args;
  // Its stderr (the log) goes to this file, created 0600; truncated unless append_log.
  std::string log;
  bool append_log = false;
  // Set in the child before the exec; after `in_child`, so these win.
  std::vector<std::pair<std::string, std::string>> env;
  // Runs in the child before the exec (a limit, a dropped capability, an environment variable).
  std::function<void()> in_child;
};

// `--cgroup-root ROOT run --config CONFIG --state-file none` and `extra` after it; no
// --cgroup-root when `cgroup_root` is empty.
std::vector<std::string> runArgs(const std::string& cgroup_root, const std::string& config,
                                 const std::vector<std::string>& extra = {});

// The built daemon in a child process. Killed (SIGKILL) and reaped when dropped while it still
// runs, so a failed assertion leaves no daemon behind.
class DaemonProcess {
 public:
  explicit DaemonProcess(DaemonOptions options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Not exited yet (an exit is reaped here, and its status kept).
  bool running();
  // The wait status once it has exited.
  std::optional<int> exitStatus() const { return status_; }
  // Its log so far.
  std::string log() const;
  // Until the log holds `text`; false after `within` (or when it exited without saying it).
  bool waitForLog(const std::string& text,
                  std::chrono::milliseconds within = std::chrono::seconds(10));
  // kill(pid, sig) while it runs.
  bool signal(int sig);
  // Waits for the exit (a signal already sent) until `deadline`, then SIGKILL; the wait status.
  int wait(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // `sig`, then wait(deadline).
  int stop(std::chrono::milliseconds deadline = std::chrono::seconds(10), int sig = SIGTERM);
  // SIGKILL (no chance to clean up), reaped; the wait status.
  int kill();

 private:
  std::string log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// True when a wait status is a clean exit with `code`.
bool exitedWith(int status, int code);

}  // namespace oomsentinel::testing
