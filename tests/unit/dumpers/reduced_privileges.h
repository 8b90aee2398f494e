// Running part of a test as the daemon runs in production: as root with only the capabilities
// the systemd unit leaves it, or as an unprivileged user (the Kubernetes sidecar's uid 10001).
#pragma once

#include <cap-ng.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace oomsentinel::testing {

// What systemd/oomsentinel.service's CapabilityBoundingSet= gives the daemon.
inline const std::vector<int> kUnitCapabilities = {CAP_KILL,   CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
                                                   CAP_SETUID, CAP_SETGID,     CAP_FOWNER};

// Runs `body` in a forked child that holds only `keep` (effective, permitted and bounding), or,
// with `uid`, runs as that uid and gid with none at all. Returns what `body` returned ("" when
// everything was as expected), or why the child could not run it.
inline std::string inReducedChild(const std::vector<int>& keep, std::optional<uid_t> uid,
                                  const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "no pipe";
  pid_t pid = ::fork();
  if (pid < 0) return "no fork";
  if (pid == 0) {
    ::close(fds[0]);
    std::string said;
    if (uid) {
      if (::syscall(SYS_setgroups, 0, nullptr) != 0 || ::setresgid(*uid, *uid, *uid) != 0 ||
          ::setresuid(*uid, *uid, *uid) != 0)
        said = "cannot switch to uid " + std::to_string(*uid);
    } else {
      capng_clear(CAPNG_SELECT_BOTH);
      for (int cap : keep)
        capng_update(
            CAPNG_ADD,
            static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
            static_cast<unsigned>(cap));
      if (capng_apply(CAPNG_SELECT_BOTH) != 0) said = "cannot drop capabilities";
    }
    if (said.empty()) said = body();
    (void)!::write(fds[1], said.data(), said.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return got + " (the child ended with status " + std::to_string(status) + ")";
  return got;
}

// For the body: collects what differs from what was expected.
struct Findings {
  std::string text;
  template <typename A, typename B>
  void expectEq(const A& got, const B& want, const std::string& what) {
    if (!(got == want)) {
      text += what + ": got '" + toString(got) + "', want '" + toString(want) + "'\n";
    }
  }
  void expect(bool ok, const std::string& what) {
    if (!ok) text += what + "\n";
  }

 private:
  static std::string toString(const std::string& s) { return s; }
  static std::string toString(const char* s) { return s; }
  template <typename T>
  static std::string toString(const T& v) {
    return std::to_string(v);
  }
};

}  // namespace oomsentinel::testing
