// Row 10 of the fault matrix (docs/reliability.md, issue 19): the target's pid reused between
// the firing and the dump, for real. A process is chosen (its pid and start time read, as the
// firing does), it dies, and a new process is given the very same pid (clone3 with set_tid, which
// needs root); then every dumper that takes a pid runs with the old process's identity. None of
// them may signal the new process, read its files, or run a command against it.
#include <errno.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/host_paths.h"
#include "dumpers/exec_dumper.h"
#include "dumpers/gperftools_dumper.h"
#include "dumpers/jvm_dumper.h"
#include "dumpers/proc_dumper.h"
#include "dumpers/target_process.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;
using namespace std::chrono_literals;

std::string cppLeak() { return OOMSENTINEL_CPP_LEAK; }

// The kernel's struct clone_args, as far as set_tid (CLONE_ARGS_SIZE_VER1).
struct CloneArgs {
  std::uint64_t flags = 0, pidfd = 0, child_tid = 0, parent_tid = 0, exit_signal = SIGCHLD,
                stack = 0, stack_size = 0, tls = 0, set_tid = 0, set_tid_size = 0;
};

// Starts argv with exactly `env`, its stdout and stderr into `out` and `err`, as pid `want`
// (0: any). Returns the pid, or -errno.
pid_t spawnAs(pid_t want, std::vector<std::string> argv, std::vector<std::string> env,
              const std::string& out, const std::string& err) {
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t tid = want;
  CloneArgs args;
  if (want > 0) {
    args.set_tid = reinterpret_cast<std::uintptr_t>(&tid);
    args.set_tid_size = 1;
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return -errno;
  if (pid == 0) {
    // Only async-signal-safe calls until the exec: the test process has threads.
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  return static_cast<pid_t>(pid);
}

// Clock ticks since boot, as /proc/PID/stat counts a process's start time.
std::uint64_t ticksNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  const auto hz = static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
  return static_cast<std::uint64_t>(ts.tv_sec) * hz +
         static_cast<std::uint64_t>(ts.tv_nsec) * hz / 1000000000u;
}

// A process that held a pid and died, and the new process that got the same pid.
struct Recycled {
  pid_t pid = 0;
  std::uint64_t old_start = 0, new_start = 0;
  std::string why;  // why it could not be made (the test skips), empty when it was
};

Recycled recycle(const TempDir& t, const std::vector<std::string>& argv,
                 const std::vector<std::string>& env) {
  Recycled r;
  for (int attempt = 0; attempt < 20; ++attempt) {
    pid_t old = spawnAs(0, {"/bin/sleep", "60"}, {}, t.path() + "/old.out", t.path() + "/old.err");
    if (old < 0) return {0, 0, 0, std::string("cannot start /bin/sleep: ") + std::strerror(-old)};
    auto chosen = describeProcess(HostPaths(), old);  // what the firing reads
    ::kill(old, SIGKILL);
    ::waitpid(old, nullptr, 0);
    if (!chosen) continue;
    // Two processes that start in the same clock tick have the same start time, and then no
    // dumper can tell them apart (the limit of the check, docs/reliability.md row 10): the new
    // one is started in a later tick.
    while (ticksNow() <= chosen->starttime + 1) std::this_thread::yield();
    pid_t now = spawnAs(old, argv, env, t.path() + "/target.out", t.path() + "/target.err");
    if (now == -EEXIST) continue;  // another process of the host took it first
    if (now < 0)
      return {0, 0, 0,
              std::string("clone3 with set_tid refused (needs CAP_SYS_ADMIN and Linux 5.5): ") +
                  std::strerror(-now)};
    r.pid = now;
    r.old_start = chosen->starttime;
    // Its start time once the exec is done (its environment laid out).
    for (int i = 0; i < 5000 && slurp(HostPaths().proc(now, "environ")).empty(); ++i)
      std::this_thread::sleep_for(1ms);
    auto fresh = describeProcess(HostPaths(), now);
    if (fresh) r.new_start = fresh->starttime;
    return r;
  }
  return {0, 0, 0, "no pid could be given again in 20 tries (a busy host)"};
}

bool stillRunning(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == 0;
}

DumpRequest request(const std::string& dir, const Recycled& r) {
  DumpRequest req;
  req.target = "app";
  req.rule = "oom-imminent";
  req.pid = r.pid;
  req.pid_starttime = r.old_start;  // the process chosen at the firing
  req.dir = dir;
  ::mkdir(dir.c_str(), 0700);
  req.deadline = SystemClock().steadyNow() + 5s;
  req.max_bytes = 1 << 20;
  return req;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string());
  return out;
}

TEST(PidReuse, ARealRecycledPidIsLeftAloneByEveryDumper) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root: a new process is given the dead one's pid with clone3's set_tid "
                    "(CAP_SYS_ADMIN)";
  if (::access(cppLeak().c_str(), X_OK) != 0)
    GTEST_SKIP() << "examples/cpp-leak is not built (OOMSENTINEL_CPP_LEAK='" << cppLeak()
                 << "'): install libgoogle-perftools-dev and build the oomsentinel_cpp_leak target";
  TempDir t;
  // The new process would accept everything: tcmalloc's profiler asked for SIGUSR2 (so the
  // gperftools dumper would signal it), and it is readable, and a command could attach to it.
  const std::string prefix = t.path() + "/cpp";
  Recycled r = recycle(t, {cppLeak(), "--max", "8MiB", "--hold"},
                       {"HEAPPROFILE=" + prefix, "HEAPPROFILESIGNAL=" + std::to_string(SIGUSR2)});
  if (!r.why.empty()) GTEST_SKIP() << r.why;
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{r.pid};
  ASSERT_NE(r.new_start, 0u);
  ASSERT_NE(r.new_start, r.old_start);
  for (int i = 0; i < 1000 && slurp(t.path() + "/target.out").find(" done ") == std::string::npos;
       ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_THAT(slurp(t.path() + "/target.out"), HasSubstr(" done "))
      << slurp(t.path() + "/target.err");
  const std::string who = "pid " + std::to_string(r.pid) + " was recycled (start time " +
                          std::to_string(r.new_start) + ", expected " +
                          std::to_string(r.old_start) + ")";

  // gperftools: no signal.
  GperftoolsSpec g;
  g.heap_prefix = prefix;
  g.signal = SIGUSR2;
  auto gp = GperftoolsDumper(HostPaths(), g).run(request(t.path() + "/gperftools", r));
  EXPECT_EQ(gp.result, DumpResult::kFailed);
  EXPECT_EQ(gp.error, who + ": not signalling");

  // proc: none of its files read; the result says why.
  auto proc = ProcDumper(HostPaths(), true).run(request(t.path() + "/proc", r));
  EXPECT_EQ(proc.result, DumpResult::kFailed);
  EXPECT_EQ(proc.error, who + ": its files were not read");
  EXPECT_TRUE(proc.artifacts.empty());
  EXPECT_TRUE(filesIn(t.path() + "/proc").empty());

  // exec: the command is not run (it would be handed OOMSENTINEL_PID, the new process's).
  const std::string ran = t.path() + "/ran";
  ExecIdentity as;
  as.user = "root";
  auto ex = ExecDumper({"/bin/sh", "-c", "echo \"$OOMSENTINEL_PID\" > " + ran}, 5s, as)
                .run(request(t.path() + "/exec", r));
  EXPECT_EQ(ex.result, DumpResult::kSkipped);
  EXPECT_EQ(ex.error, who + ": the command was not run");
  EXPECT_FALSE(fs::exists(ran));

  // jvm: not entered (its SIGQUIT would kill a process that does not catch it).
  auto jvm = JvmDumper(JvmDumpSpec{}, HostPaths()).run(request(t.path() + "/jvm", r));
  EXPECT_NE(jvm.result, DumpResult::kOk);
  EXPECT_THAT(jvm.error, HasSubstr("pid " + std::to_string(r.pid) +
                                   " is no longer the process that was chosen"));

  // Had a signal gone out, the profiler would have written a file within a millisecond or so.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(stillRunning(r.pid)) << "a signal reached the new process";
  EXPECT_THAT(slurp(t.path() + "/target.err"), ::testing::Not(HasSubstr("(signal)")));
  for (const auto& f : filesIn(t.path()))
    EXPECT_EQ(f.rfind("cpp.", 0), std::string::npos) << "a heap profile appeared: " << f;

  // The control: the same request with the new process's own start time is read, so what kept
  // the dumpers off above is the start time, not the set-up.
  DumpRequest own = request(t.path() + "/proc-own", r);
  own.pid_starttime = r.new_start;
  auto control = ProcDumper(HostPaths(), false).run(own);
  EXPECT_EQ(control.result, DumpResult::kOk) << control.error;
  EXPECT_TRUE(fs::exists(t.path() + "/proc-own/proc-" + std::to_string(r.pid) + "-status.txt"));
}

}  // namespace
}  // namespace oomsentinel
