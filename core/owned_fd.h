// core/: the shared vocabulary of oomsentinel.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace oomsentinel {

// An owned file descriptor, closed on destruction.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(o.release()) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

// A small file read whole with read(2) (kernel text: cgroup and /proc files), at most max_bytes.
Result<std::string> readFileUpTo(const std::string& path, std::size_t max_bytes);

}  // namespace oomsentinel
