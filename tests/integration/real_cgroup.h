// tests/: a real cgroup v1 memory child for integration tests, removed on destruction.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace oomsentinel::testing {

std::string leakerPath();

class RealV1Cgroup {
 public:
  static constexpr const char* kRoot = "/sys/fs/cgroup/memory";
  // False with the reason when this machine cannot give us one (not root, no v1 memory).
  static bool available(std::string* why);

  // Creates kRoot/<name>-<our pid> with the memory (and, when present, memsw) limit.
  RealV1Cgroup(const std::string& name, long long limit_bytes);
  ~RealV1Cgroup();
  RealV1Cgroup(const RealV1Cgroup&) = delete;
  RealV1Cgroup& operator=(const RealV1Cgroup&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& relative() const { return relative_; }
  const std::string& dir() const { return dir_; }
  // Starts argv inside the cgroup (moved in before exec); stdout/stderr to /dev/null.
  pid_t spawn(const std::vector<std::string>& argv);

 private:
  std::string relative_, dir_, error_;
  std::vector<pid_t> children_;
};

}  // namespace oomsentinel::testing
