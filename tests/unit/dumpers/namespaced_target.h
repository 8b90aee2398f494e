// Tests of dumpers/: a target process in a mount namespace of its own, as in a container.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "core/host_paths.h"
#include "tests/support/test_support.h"

namespace oomsentinel::testing {

// A process in a mount namespace of its own, as in a container: /tmp is a private tmpfs holding
// marker.txt, or with `fake_root`, the process is chrooted there (with the host's /usr mounted
// in, so that programs run) and its /tmp is whatever the test put in the fake root.
class NamespacedTarget {
 public:
  // `more`: namespaces it unshares besides its mount namespace (CLONE_NEWNET, ...).
  explicit NamespacedTarget(const std::string& fake_root = "", int more = 0) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      bool ok = ::unshare(CLONE_NEWNS | more) == 0 &&
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
      if (ok && fake_root.empty()) {
        ok = ::mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m") == 0;
        int fd = ok ? ::open("/tmp/marker.txt", O_WRONLY | O_CREAT, 0644) : -1;
        ok = fd >= 0 && ::write(fd, "inside\n", 7) == 7;
      } else if (ok) {
        std::string usr = fake_root + "/usr";
        ok = ::mount("/usr", usr.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0 &&
             ::chroot(fake_root.c_str()) == 0 && ::chdir("/") == 0;
      }
      char c = ok ? 'y' : 'n';
      (void)!::write(ready[1], &c, 1);
      const char* argv[] = {"/usr/bin/sleep", "60", nullptr};
      ::execv(argv[0], const_cast<char**>(argv));
      ::_exit(127);
    }
    ::close(ready[1]);
    char c = 'n';
    ok_ = pid_ > 0 && ::read(ready[0], &c, 1) == 1 && c == 'y';
    ::close(ready[0]);
    // Past exec: its /proc/PID/exe and status are the sleep's.
    if (ok_) ok_ = eventuallyExecs();
  }
  ~NamespacedTarget() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return ok_; }
  pid_t pid() const { return pid_; }

 private:
  bool eventuallyExecs() {
    return eventually([&] { return slurp(HostPaths().proc(pid_, "comm")) == "sleep\n"; });
  }
  pid_t pid_ = -1;
  bool ok_ = false;
};

inline int pidfdOf(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace oomsentinel::testing
