// Tests of dumpers/: a real process to dump, started by posix_spawn with extra environment, its
// stdout read until a line shows up (it says it is ready), SIGKILLed and reaped on demand or at
// the end.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/clock.h"

extern char** environ;

namespace oomsentinel::testing {

class SpawnedTarget {
 public:
  SpawnedTarget(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cargv.push_back(nullptr);
    cenv.push_back(nullptr);
    if (::posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~SpawnedTarget() {
    killAndReap();
    if (out_ >= 0) ::close(out_);
  }
  SpawnedTarget(const SpawnedTarget&) = delete;
  SpawnedTarget& operator=(const SpawnedTarget&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& output() const { return text_; }
  // Reads its stdout until `needle` shows up; false when it does not within `limit`.
  bool waitFor(const std::string& needle, Duration limit) {
    SystemClock clock;
    SteadyTime until = clock.steadyNow() + limit;
    char buf[4096];
    while (text_.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock.steadyNow());
      if (left <= std::chrono::milliseconds(0) || out_ < 0) return false;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return text_.find(needle) != std::string::npos;
      text_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // SIGKILL, then reaped: once this returns its pid has left the process table.
  void killAndReap() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string text_;
};

}  // namespace oomsentinel::testing
