#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "tests/support/test_support.h"

namespace oomsentinel::testing {

std::vector<std::string> runArgs(const std::string& cgroup_root, const std::string& config,
                                 const std::vector<std::string>& extra) {
  std::vector<std::string> args;
  if (!cgroup_root.empty()) args = {"--cgroup-root", cgroup_root};
  for (const char* a : {"run", "--config"}) args.emplace_back(a);
  args.push_back(config);
  args.emplace_back("--state-file");
  args.emplace_back("none");
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

DaemonProcess::DaemonProcess(DaemonOptions options) : log_(std::move(options.log)) {
  // Everything the exec needs is made before the fork.
  const std::string bin = binaryPath();
  std::vector<std::string> argv_s{bin};
  argv_s.insert(argv_s.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.append_log ? O_APPEND : O_TRUNC);
  int log_fd = log_.empty() ? -1 : ::open(log_.c_str(), flags, 0600);
  pid_ = ::fork();
  if (pid_ == 0) {
    if (options.in_child) options.in_child();
    for (const auto& [k, v] : options.env) ::setenv(k.c_str(), v.c_str(), 1);
    if (log_fd >= 0) ::dup2(log_fd, 2);  // dup2 clears O_CLOEXEC on the copy
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !status_) kill();
}

bool DaemonProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

std::string DaemonProcess::log() const { return slurp(log_); }

bool DaemonProcess::waitForLog(const std::string& text, std::chrono::milliseconds within) {
  auto end = std::chrono::steady_clock::now() + within;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (!running()) return log().find(text) != std::string::npos;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool DaemonProcess::signal(int sig) { return running() && ::kill(pid_, sig) == 0; }

int DaemonProcess::stop(std::chrono::milliseconds deadline, int sig) {
  if (!signal(sig) && status_) return *status_;
  return wait(deadline);
}

int DaemonProcess::wait(std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (running()) {
    if (std::chrono::steady_clock::now() >= end) return kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_.value_or(-1);
}

int DaemonProcess::kill() {
  if (pid_ <= 0) return -1;
  if (status_) return *status_;
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (::waitpid(pid_, &st, 0) == pid_) status_ = st;
  return status_.value_or(-1);
}

bool exitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

}  // namespace oomsentinel::testing
