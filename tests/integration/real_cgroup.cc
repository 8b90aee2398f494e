#include "tests/integration/real_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

namespace oomsentinel::testing {
namespace {

bool writeFile(const std::string& path, const std::string& value, std::string* err) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    *err = "write " + value + " to " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

}  // namespace

std::string leakerPath() { return OOMSENTINEL_LEAKER; }

bool RealV1Cgroup::available(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root to create a cgroup (run as root, as CI does)";
    return false;
  }
  std::string probe = std::string(kRoot) + "/memory.limit_in_bytes";
  if (::access(probe.c_str(), F_OK) != 0) {
    *why = std::string("no cgroup v1 memory hierarchy at ") + kRoot + " (" + probe + " missing)";
    return false;
  }
  return true;
}

RealV1Cgroup::RealV1Cgroup(const std::string& name, long long limit_bytes) {
  relative_ = "/" + name + "-" + std::to_string(::getpid());
  dir_ = std::string(kRoot) + relative_;
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    error_ = "mkdir " + dir_ + ": " + std::strerror(errno);
    return;
  }
  std::string limit = std::to_string(limit_bytes);
  // memsw must be >= the memory limit, so raise memory first only when shrinking memsw later.
  if (!writeFile(dir_ + "/memory.limit_in_bytes", limit, &error_)) return;
  if (::access((dir_ + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0)
    writeFile(dir_ + "/memory.memsw.limit_in_bytes", limit, &error_);
}

RealV1Cgroup::~RealV1Cgroup() {
  for (pid_t p : children_) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }
  // A cgroup is removable once its last task is gone and its charges are reparented; retry
  // briefly since the kernel finishes exiting tasks asynchronously.
  for (int i = 0; i < 100 && ::rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

pid_t RealV1Cgroup::spawn(const std::vector<std::string>& argv) {
  std::string procs = dir_ + "/cgroup.procs";
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
    ::close(fd);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execv(cargv[0], cargv.data());
    _exit(127);
  }
  if (pid > 0) children_.push_back(pid);
  return pid;
}

}  // namespace oomsentinel::testing
