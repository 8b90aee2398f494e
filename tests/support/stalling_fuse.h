// tests/support: a FUSE file system that never answers, the hostile target's stall.
// StallingFuse mounts a real FUSE file system (the kernel's /dev/fuse protocol, no library),
// answers the kernel's INIT and then nothing: a lookup, stat, open, read or readdir under it waits
// for good, as under a FUSE server a target runs and stops on purpose. Its destructor aborts the
// connection (every waiter gets ENOTCONN) and detaches the mount.
//
// The test binary moves into a mount namespace of its own before main (while it has one thread:
// unshare(CLONE_NEWNS) refuses a process whose threads share its file system information), with
// every mount private: no mount of a test is seen by the host, and none outlives the binary.
#pragma once

#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace oomsentinel::test {

namespace stalling_fuse_detail {

// Why FUSE mounts cannot be made here ("" when they can): set once, before main.
inline std::string privateMountNamespace() {
  if (::geteuid() != 0) return "not root: a FUSE mount needs CAP_SYS_ADMIN here";
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    return std::string("no /dev/fuse: ") + std::strerror(errno);
  if (::unshare(CLONE_NEWNS) != 0)
    return std::string("unshare(CLONE_NEWNS) failed: ") + std::strerror(errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("cannot make the mounts private: ") + std::strerror(errno);
  return "";
}

inline const std::string kUnavailable = privateMountNamespace();

}  // namespace stalling_fuse_detail

class StallingFuse {
 public:
  // Why StallingFuse cannot be used here, for GTEST_SKIP; "" when it can.
  static std::string unavailable() { return stalling_fuse_detail::kUnavailable; }

  // Mounts the stalling file system on `dir` (an existing directory). Empty pointer and `why`
  // set when it cannot.
  static std::unique_ptr<StallingFuse> mount(const std::string& dir, std::string* why) {
    if (!unavailable().empty()) {
      *why = unavailable();
      return nullptr;
    }
    int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      *why = std::string("open /dev/fuse: ") + std::strerror(errno);
      return nullptr;
    }
    std::unique_ptr<StallingFuse> f(new StallingFuse(fd, dir));
    std::string opts = "fd=" + std::to_string(fd) + ",rootmode=40000,user_id=0,group_id=0";
    if (::mount("stall", dir.c_str(), "fuse.stall", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      *why = std::string("mount fuse: ") + std::strerror(errno);
      f->mounted_ = false;
      return nullptr;
    }
    f->mounted_ = true;
    // INIT is the first request: answer it, and nothing after it.
    std::vector<char> buf(FUSE_MIN_READ_BUFFER + (1 << 20));
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < static_cast<ssize_t>(sizeof(fuse_in_header) + sizeof(fuse_init_in))) {
      *why = std::string("no INIT from the kernel: ") + std::strerror(errno);
      return nullptr;
    }
    fuse_in_header in;
    std::memcpy(&in, buf.data(), sizeof in);
    fuse_init_in init;
    std::memcpy(&init, buf.data() + sizeof in, sizeof init);
    if (in.opcode != FUSE_INIT) {
      *why = "the first request is not INIT but opcode " + std::to_string(in.opcode);
      return nullptr;
    }
    struct {
      fuse_out_header h;
      fuse_init_out o;
    } reply{};
    reply.h.len = sizeof reply;
    reply.h.unique = in.unique;
    reply.o.major = FUSE_KERNEL_VERSION;
    reply.o.minor = std::min<std::uint32_t>(init.minor, FUSE_KERNEL_MINOR_VERSION);
    reply.o.max_readahead = init.max_readahead;
    reply.o.max_write = 1 << 16;
    reply.o.max_background = 16;
    reply.o.congestion_threshold = 12;
    if (::write(fd, &reply, sizeof reply) != static_cast<ssize_t>(sizeof reply)) {
      *why = std::string("cannot answer INIT: ") + std::strerror(errno);
      return nullptr;
    }
    return f;
  }

  ~StallingFuse() {
    // Closing the only descriptor of the device aborts the connection: every request waiting on
    // it fails with ENOTCONN, so no thread stays stuck after the test. Then the mount goes.
    ::close(fd_);
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  StallingFuse(const StallingFuse&) = delete;
  StallingFuse& operator=(const StallingFuse&) = delete;

  const std::string& dir() const { return dir_; }

 private:
  StallingFuse(int fd, std::string dir) : fd_(fd), dir_(std::move(dir)) {}
  int fd_;
  std::string dir_;
  bool mounted_ = false;
};

}  // namespace oomsentinel::test
