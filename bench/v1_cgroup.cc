#include "bench/v1_cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "collectors/control_file.h"
#include "core/host_paths.h"

namespace oomsentinel::bench {
namespace {

constexpr std::size_t kTouchBytes = 8 << 20;
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

// What the signal handler must undo; plain data, since only async-signal-safe calls may use it.
pid_t g_child = -1;
char g_dir[4096] = {};

std::string memoryRoot() { return joinPath(HostPaths::kDefaultCgroupRoot, "memory"); }

// Async-signal-safe: runs from the destructor and from the signal handler.
void cleanup() {
  if (g_child > 0) {
    ::kill(g_child, SIGKILL);
    ::waitpid(g_child, nullptr, 0);
    g_child = -1;
  }
  if (g_dir[0] != '\0') {
    // The kernel finishes an exited task's uncharging asynchronously: rmdir is EBUSY briefly.
    timespec pause{0, 20'000'000};
    for (int i = 0; i < 100 && ::rmdir(g_dir) != 0 && errno == EBUSY; ++i)
      ::nanosleep(&pause, nullptr);
    g_dir[0] = '\0';
  }
}

void onSignal(int sig) {
  cleanup();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

Status writeFile(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return makeError("cannot open", path, errno);
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int e = errno;
  ::close(fd);
  if (!ok) return makeError("cannot write " + std::string(value), path, e);
  return Ok{};
}

// The child: joins the cgroup, charges memory to it, tells the parent, sleeps until killed.
// Only async-signal-safe calls between fork and the end (the parent may hold malloc's lock).
[[noreturn]] void childMain(const char* procs, int ready_fd) {
  for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);  // the parent's handler is not ours
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);                      // never outlive a killed parent
  int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
  ::close(fd);
  void* p =
      ::mmap(nullptr, kTouchBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) _exit(125);
  std::memset(p, 1, kTouchBytes);
  if (::write(ready_fd, "r", 1) != 1) _exit(124);
  for (;;) ::pause();
}

}  // namespace

bool ScopedV1Cgroup::available(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root to create a cgroup";
    return false;
  }
  if (!fileExists(joinPath(memoryRoot(), "memory.limit_in_bytes"))) {
    *why = "no cgroup v1 memory hierarchy at " + memoryRoot();
    return false;
  }
  return true;
}

Result<std::unique_ptr<ScopedV1Cgroup>> ScopedV1Cgroup::create() {
  std::unique_ptr<ScopedV1Cgroup> cg(new ScopedV1Cgroup());
  cg->relative_ = "/oomsentinel-bench-" + std::to_string(::getpid());
  cg->dir_ = memoryRoot() + cg->relative_;
  if (cg->dir_.size() >= sizeof g_dir) return makeError("path too long", cg->dir_);
  for (int sig : kCleanupSignals) ::signal(sig, onSignal);
  if (::mkdir(cg->dir_.c_str(), 0755) != 0) return makeError("cannot mkdir", cg->dir_, errno);
  std::strcpy(g_dir, cg->dir_.c_str());
  // From here on the destructor removes what was made, whatever fails next.
  if (auto st = writeFile(joinPath(cg->dir_, "memory.limit_in_bytes"), "1073741824"); !st)
    return st.error();

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return makeError("cannot make a pipe", "", errno);
  std::string procs = joinPath(cg->dir_, "cgroup.procs");
  pid_t pid = ::fork();
  if (pid == 0) childMain(procs.c_str(), ready[1]);
  ::close(ready[1]);
  if (pid < 0) {
    ::close(ready[0]);
    return makeError("cannot fork", "", errno);
  }
  g_child = pid;
  char c;
  bool joined = ::read(ready[0], &c, 1) == 1;
  ::close(ready[0]);
  if (!joined) return makeError("the child could not join the cgroup", procs);
  return cg;
}

ScopedV1Cgroup::~ScopedV1Cgroup() {
  // A signal arriving now must not run cleanup() a second time half-way through this one.
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : kCleanupSignals) sigaddset(&block, sig);
  ::sigprocmask(SIG_BLOCK, &block, &old);
  cleanup();
  for (int sig : kCleanupSignals) ::signal(sig, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace oomsentinel::bench
