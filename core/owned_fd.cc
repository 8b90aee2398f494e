#include "core/owned_fd.h"

#include <unistd.h>

namespace oomsentinel {

OwnedFd& OwnedFd::operator=(OwnedFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

int OwnedFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

}  // namespace oomsentinel
