#include "dumpers/child.h"

#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "dumpers/exec_dumper.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/gone_within.h"
#include "tests/unit/dumpers/namespaced_target.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::eventually;
using oomsentinel::testing::slurp;
using ::testing::HasSubstr;
using ::testing::Not;

using namespace std::chrono_literals;
using testing::goneWithin;
using testing::NamespacedTarget;
using testing::pidfdOf;
using testing::TempDir;

// The tests' own helper programs go through a shell; the code under test never does.
constexpr const char* kSh = "/bin/sh";

SteadyTime in(Duration d) { return SystemClock().steadyNow() + d; }

ChildSpec shell(const std::string& script, Duration timeout = 10s) {
  ChildSpec spec;
  spec.argv = {kSh, "-c", script};
  spec.deadline = in(timeout);
  return spec;
}

// `argv` run in the namespaces of process `pid` (and in its root, with `in_root`), 10 s at most,
// its output to <out_dir>/out and <out_dir>/err unless out_dir is "". It holds the descriptors
// its spec names.
struct InTarget {
  OwnedFd pidfd, root;
  ChildSpec spec;
  InTarget(pid_t pid, std::vector<std::string> argv, bool in_root, const std::string& out_dir = "")
      : pidfd(pidfdOf(pid)) {
    if (in_root)
      root = OwnedFd(
          ::open(HostPaths().proc(pid, "root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    spec.argv = std::move(argv);
    spec.deadline = in(10s);
    spec.join_pidfd = pidfd.get();
    spec.root_fd = in_root ? root.get() : -1;
    if (!out_dir.empty()) {
      spec.stdout_path = out_dir + "/out";
      spec.stderr_path = out_dir + "/err";
    }
  }
  bool opened() const { return pidfd.get() >= 0 && (spec.root_fd == -1 || root.get() >= 0); }
};

pid_t readPid(const std::string& path) {
  std::string text = slurp(path);
  return text.empty() ? 0 : static_cast<pid_t>(std::stoi(text));
}

// No child of ours is left, running or unreaped.
void expectNoChildren() {
  int status;
  pid_t r = ::waitpid(-1, &status, WNOHANG);
  int e = errno;
  EXPECT_TRUE(r == 0 || (r == -1 && e == ECHILD)) << "waitpid(-1) reaped " << r;
}

TEST(RunChild, ReportsExitStatus) {
  for (int code : {0, 3, 255}) {
    auto r = runChild(shell("exit " + std::to_string(code)));
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->exit_code, code);
    EXPECT_EQ(r->term_signal, 0);
    EXPECT_FALSE(r->timed_out);
    EXPECT_EQ(r->describe(), "exited with status " + std::to_string(code));
  }
  expectNoChildren();
}

TEST(RunChild, ReportsTheSignalThatKilledIt) {
  auto r = runChild(shell("kill -USR1 $$"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_EQ(r->term_signal, SIGUSR1);
  EXPECT_EQ(r->describe(), "killed by signal " + std::to_string(SIGUSR1) + " (SIGUSR1)");
}

// The daemon's OOMScoreAdjust=-1000 is not passed on: a child the kernel could never kill would
// leave nothing killable inside the service's MemoryMax.
TEST(RunChild, AChildDoesNotInheritANegativeOomScoreAdj) {
  HostPaths paths;
  std::string own = paths.procFile("self/oom_score_adj");
  std::string before = slurp(own);
  auto set = [&](const char* v) {
    int fd = ::open(own.c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, v, std::strlen(v)) == static_cast<ssize_t>(std::strlen(v));
    if (fd >= 0) ::close(fd);
    return ok;
  };
  if (!set("-500"))
    GTEST_SKIP() << "cannot lower this process's oom_score_adj to -500: that needs "
                    "CAP_SYS_RESOURCE, which this process lacks (root in a container often does)";
  TempDir dir;
  auto spec = shell("sleep 0.3; cat /proc/self/oom_score_adj");
  spec.stdout_path = dir.path() + "/adj.txt";
  auto r = runChild(spec);
  ASSERT_TRUE(set(before.empty() ? "0" : before.c_str()));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(slurp(spec.stdout_path), "0\n");
}

TEST(RunChild, CapturesStdoutAndStderrInPrivateFiles) {
  TempDir dir;
  auto spec = shell("echo out; echo err >&2; cat");  // cat: stdin is /dev/null, so it ends
  spec.stdout_path = dir.path() + "/o.txt";
  spec.stderr_path = dir.path() + "/e.txt";
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(slurp(spec.stdout_path), "out\n");
  EXPECT_EQ(slurp(spec.stderr_path), "err\n");
  struct stat st;
  ASSERT_EQ(::stat(spec.stdout_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // One file for both, in the order written; an existing file is emptied first.
  auto both = shell("echo one; echo two >&2; echo three");
  both.stdout_path = both.stderr_path = dir.path() + "/o.txt";
  ASSERT_TRUE(runChild(both).ok());
  EXPECT_EQ(slurp(both.stdout_path), "one\ntwo\nthree\n");

  // No paths: /dev/null, and no error.
  auto quiet = runChild(shell("echo nowhere; echo nowhere >&2"));
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->exit_code, 0);
}

TEST(RunChild, CutsAnOutputThatEndedPastTheCap) {
  TempDir dir;
  auto spec = shell("head -c 100000 /dev/zero");
  spec.stdout_path = dir.path() + "/o";
  spec.max_output_bytes = 1000;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->stdout_cut);
  EXPECT_FALSE(r->stderr_cut);
  EXPECT_EQ(slurp(spec.stdout_path).size(), 1000u);
}

TEST(RunChild, StopsAChildWhoseOutputPassesTheCap) {
  TempDir dir;
  auto spec = shell("yes", 20s);  // writes until stopped
  spec.stderr_path = dir.path() + "/e";
  spec.stdout_path = dir.path() + "/o";
  spec.max_output_bytes = 64 * 1024;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->output_cut);
  EXPECT_TRUE(r->stdout_cut);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_LT(r->took, 5s);
  EXPECT_EQ(slurp(spec.stdout_path).size(), 64u * 1024);
  EXPECT_THAT(r->describe(), HasSubstr("output passed the size cap"));
}

TEST(RunChild, AddsToTheEnvironment) {
  TempDir dir;
  ChildSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env_add = {{"OOMSENTINEL_TEST_VAR", "a b=c"}, {"HOME", "/nowhere"}};
  spec.stdout_path = dir.path() + "/env";
  spec.deadline = in(10s);
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  std::string env = slurp(spec.stdout_path);
  EXPECT_THAT(env, HasSubstr("\nOOMSENTINEL_TEST_VAR=a b=c\n"));
  // Replaced, not added twice; the rest of ours is still there.
  std::istringstream lines(env);
  std::vector<std::string> homes;
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("HOME=", 0) == 0) homes.push_back(line);
  EXPECT_EQ(homes, std::vector<std::string>{"HOME=/nowhere"});
  if (const char* path = std::getenv("PATH")) {
    EXPECT_THAT(env, HasSubstr(std::string("PATH=") + path + "\n"));
  }
}

TEST(RunChild, LooksUpABareNameInPath) {
  ChildSpec spec;
  spec.argv = {"sh", "-c", "exit 7"};
  spec.deadline = in(10s);
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 7);
}

TEST(RunChild, SaysWhichProgramItCouldNotRun) {
  TempDir dir;
  ChildSpec spec;
  spec.deadline = in(10s);

  auto empty = runChild(spec);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.error().message, HasSubstr("argv is empty"));

  spec.argv = {dir.path() + "/missing"};
  auto missing = runChild(spec);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().path, dir.path() + "/missing");
  EXPECT_EQ(missing.error().message, "not found");

  spec.argv = {"oomsentinel-no-such-program"};
  auto unknown = runChild(spec);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().path, "oomsentinel-no-such-program");
  EXPECT_THAT(unknown.error().message, HasSubstr("not found in PATH"));

  dir.write("plain.txt", "echo hi\n");
  ::chmod((dir.path() + "/plain.txt").c_str(), 0644);
  spec.argv = {dir.path() + "/plain.txt"};
  auto plain = runChild(spec);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().path, dir.path() + "/plain.txt");
  // As root access(X_OK) still wants one x bit; without any, it is refused for everyone.
  EXPECT_THAT(plain.error().message, HasSubstr("not executable")) << plain.error().describe();

  spec.argv = {dir.path()};
  auto directory = runChild(spec);
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(directory.error().message, HasSubstr("not a regular file"));

  auto no_dir = shell("true");
  no_dir.stdout_path = dir.path() + "/no/such/dir/out";
  auto cannot = runChild(no_dir);
  ASSERT_FALSE(cannot.ok());
  EXPECT_EQ(cannot.error().path, no_dir.stdout_path);
  EXPECT_EQ(cannot.error().errnum, ENOENT);

  auto late = shell("true");
  late.deadline = SystemClock().steadyNow() - 1ms;
  auto past = runChild(late);
  ASSERT_FALSE(past.ok());
  EXPECT_THAT(past.error().message, HasSubstr("deadline"));
}

TEST(RunChild, GivesTheChildNoDescriptorOfOurs) {
  TempDir dir;
  // Deliberately without O_CLOEXEC, as a careless library in another thread would.
  int leaked = ::fcntl(::open("/dev/null", O_RDONLY), F_DUPFD, 50);
  ASSERT_GE(leaked, 50);
  std::string fd_path = HostPaths().proc(0, "fd/" + std::to_string(leaked));
  auto spec = shell("if [ -e " + fd_path + " ]; then echo open; else echo closed; fi");
  spec.stdout_path = dir.path() + "/o";
  auto r = runChild(spec);
  ::close(leaked);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(slurp(spec.stdout_path), "closed\n");
}

TEST(RunChild, KillsAChildThatIgnoresSigtermAndItsWholeGroupAfterTheGrace) {
  TempDir dir;
  std::string pidfile = dir.path() + "/grandchild";
  // The trap is inherited by the background sleep: both ignore SIGTERM.
  auto spec = shell("trap '' TERM; sleep 30 & echo $! > " + pidfile + "; wait; wait", 300ms);
  spec.kill_grace = 300ms;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_GE(r->took, 550ms);  // the deadline, then the whole grace
  EXPECT_LT(r->took, 3s);
  EXPECT_THAT(r->describe(), HasSubstr("its process group was killed"));
  pid_t grandchild = readPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(goneWithin(grandchild, 2s)) << "grandchild " << grandchild << " survived";
  expectNoChildren();
}

TEST(RunChild, StopsAtTheDeadline) {
  auto r = runChild(shell("exec sleep 30", 200ms));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGTERM);  // it did not need SIGKILL
  EXPECT_GE(r->took, 200ms);
  EXPECT_LT(r->took, 2s);
}

TEST(RunChild, KillsWhatALeaderLeftBehind) {
  TempDir dir;
  std::string pidfile = dir.path() + "/grandchild";
  // The leader dies of SIGTERM at once; its background child ignores it and is SIGKILLed
  // without waiting out the grace.
  auto spec = shell("(trap '' TERM; exec sleep 30) & echo $! > " + pidfile + "; wait", 200ms);
  spec.kill_grace = 5s;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_LT(r->took, 3s);
  pid_t grandchild = readPid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(goneWithin(grandchild, 2s));

  // A clean exit that leaves a background process: that one does not outlive the call either.
  auto clean = shell("sleep 30 & echo $! > " + pidfile);
  auto c = runChild(clean);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->exit_code, 0);
  EXPECT_FALSE(c->timed_out);
  pid_t left = readPid(pidfile);
  ASSERT_GT(left, 0);
  EXPECT_TRUE(goneWithin(left, 2s));
  expectNoChildren();
}

TEST(RunChild, RunsInItsOwnProcessGroup) {
  TempDir dir;
  auto spec = shell("ps -o pgid= -p $$; echo $$");
  spec.stdout_path = dir.path() + "/o";
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok());
  std::istringstream lines(slurp(spec.stdout_path));
  long pgid = 0, pid = 0;
  lines >> pgid >> pid;
  if (pgid == 0) GTEST_SKIP() << "ps did not answer";
  EXPECT_EQ(pgid, pid);
  EXPECT_NE(pgid, ::getpgrp());
}

TEST(RunChild, RunsConcurrentlyFromSeveralThreads) {
  TempDir dir;
  constexpr int kThreads = 4, kEach = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kThreads);
  std::vector<Duration> slow_took(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        int code = t * 10 + i;
        auto spec = shell("echo " + std::to_string(code) + "; exit " + std::to_string(code));
        spec.stdout_path = dir.path() + "/" + std::to_string(code);
        auto r = runChild(spec);
        if (!r || r->exit_code != code || slurp(spec.stdout_path) != std::to_string(code) + "\n")
          failures[t] += "run " + std::to_string(code) + " wrong; ";
      }
      // One that times out in each thread, while the others' children come and go.
      auto slow = runChild(shell("exec sleep 30", 300ms));
      if (!slow || !slow->timed_out) failures[t] += "the slow one did not time out; ";
      if (slow) slow_took[t] = slow->took;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], "") << "thread " << t;
    EXPECT_LT(slow_took[t], 3s) << "thread " << t;
  }
  expectNoChildren();
}

TEST(RunChild, RunsAsTheGivenUserWithNoCapabilitiesAndACleanEnvironment) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ::setenv("OOMSENTINEL_TEST_SECRET", "daemon-only", 1);
  auto spec = shell(
      "id -u; id -g; id -G; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|^NoNewPrivs' /proc/self/status; "
      "env | sort");
  spec.uid = 65534;
  spec.gid = 65534;
  spec.no_capabilities = true;
  spec.clean_environment = true;
  spec.env_add = {{"OOMSENTINEL_PID", "42"}};
  spec.stdout_path = dir.path() + "/out";
  spec.stderr_path = dir.path() + "/out";
  auto r = runChild(spec);
  ::unsetenv("OOMSENTINEL_TEST_SECRET");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0) << slurp(spec.stdout_path);
  std::string out = slurp(spec.stdout_path);
  EXPECT_EQ(out.rfind("65534\n65534\n65534\n", 0), 0u) << out;
  EXPECT_THAT(out, HasSubstr("CapInh:\t0000000000000000"));
  EXPECT_THAT(out, HasSubstr("CapPrm:\t0000000000000000"));
  EXPECT_THAT(out, HasSubstr("CapEff:\t0000000000000000"));
  EXPECT_THAT(out, HasSubstr("CapAmb:\t0000000000000000"));
  EXPECT_THAT(out, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(out, Not(HasSubstr("OOMSENTINEL_TEST_SECRET")));
  EXPECT_THAT(out, HasSubstr("OOMSENTINEL_PID=42\n"));
  EXPECT_THAT(out, HasSubstr("PATH=/usr/bin:/bin\n"));
  expectNoChildren();
}

TEST(RunChild, AsRootWithNoCapabilitiesHasNone) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  auto spec = shell("id -u; grep -E '^Cap(Prm|Eff)' /proc/self/status");
  spec.no_capabilities = true;
  spec.stdout_path = dir.path() + "/out";
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(slurp(spec.stdout_path), "0\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n");
}

TEST(RunChild, RunsInTheTargetsMountAndPidNamespaces) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  NamespacedTarget target;
  if (!target.ok()) GTEST_SKIP() << "cannot make a private mount namespace here";
  HostPaths paths;
  TempDir dir;
  // Its /tmp (not ours), and the mount namespace it is in.
  InTarget run(target.pid(), {"/bin/sh", "-c", "cat /tmp/marker.txt; readlink /proc/self/ns/mnt"},
               /*in_root=*/true, dir.path());
  ASSERT_TRUE(run.opened());
  const ChildSpec& spec = run.spec;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0) << slurp(spec.stderr_path);
  char link[256] = {};
  ASSERT_GT(::readlink(paths.proc(target.pid(), "ns/mnt").c_str(), link, sizeof link - 1), 0);
  EXPECT_EQ(slurp(spec.stdout_path), "inside\n" + std::string(link) + "\n");
  // Its exit status comes through the process that waits for it in the target's pid namespace.
  InTarget failing(target.pid(), {"/bin/sh", "-c", "exit 7"}, /*in_root=*/false, dir.path());
  auto f = runChild(failing.spec);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->exit_code, 7);
  expectNoChildren();
}

// Pids whose parent is `parent`, from <proc>/*/stat.
std::vector<pid_t> childrenOf(pid_t parent) {
  std::vector<pid_t> out;
  HostPaths paths;
  DIR* d = ::opendir(paths.procRoot().c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    std::string stat = slurp(paths.proc(pid, "stat"));
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// The links of <proc>/PID/fd/*.
std::string fdLinks(pid_t pid) {
  std::string out;
  HostPaths paths;
  DIR* d = ::opendir(paths.proc(pid, "fd").c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    char link[256] = {};
    if (::readlink(paths.proc(pid, std::string("fd/") + e->d_name).c_str(), link, sizeof link - 1) >
        0)
      out += std::string(link) + "\n";
  }
  ::closedir(d);
  return out;
}

// Run A is between making its pipes and its fork (held there by a FIFO as its stdout file) when
// run B, in a target's namespaces, forks the process that waits in the target's pid namespace.
// That process never execs, so O_CLOEXEC never closes what it inherited: it must close A's
// pipes itself, or it holds them for B's whole run (A's setup report would wait for B's end).
TEST(RunChild, TheWaiterInATargetsNamespacesHoldsNoPipeOfAConcurrentRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  NamespacedTarget target;
  if (!target.ok()) GTEST_SKIP() << "cannot make a private mount namespace here";
  TempDir dir;
  const std::string fifo = dir.path() + "/a-stdout";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  auto pipes = [] {
    std::string links = fdLinks(::getpid());
    int n = 0;
    for (auto at = links.find("pipe:"); at != std::string::npos; at = links.find("pipe:", at + 1))
      ++n;
    return n;
  };
  const int pipes_before = pipes();
  // A: its stderr goes through a pipe (made first), then its stdout file is opened: it blocks.
  Result<ChildResult> a = makeError("not run");
  std::thread run_a([&] {
    ChildSpec spec = shell("readlink /proc/self/fd/2");
    spec.stdout_path = fifo;
    spec.capture_stderr_bytes = 4096;
    a = runChild(spec);
  });
  ASSERT_TRUE(eventually([&] { return pipes() >= pipes_before + 2; })) << fdLinks(::getpid());
  // B: in the target's namespaces, running for 3s.
  int pidfd = pidfdOf(target.pid());
  ASSERT_GE(pidfd, 0);
  Result<ChildResult> b = makeError("not run");
  std::thread run_b([&] {
    ChildSpec spec = shell("sleep 3");
    spec.join_pidfd = pidfd;
    b = runChild(spec);
  });
  // B's waiter: our child besides the target, once it has forked B's program.
  pid_t waiter = 0;
  ASSERT_TRUE(eventually([&] {
    for (pid_t p : childrenOf(::getpid()))
      if (p != target.pid() && !childrenOf(p).empty()) waiter = p;
    return waiter != 0;
  }));
  // A goes on: its stdout file opens, and it says which pipe its stderr is.
  std::string a_pipe;
  {
    std::ifstream reader(fifo);
    std::getline(reader, a_pipe);
  }
  run_a.join();
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->exit_code, 0);
  ASSERT_EQ(a_pipe.rfind("pipe:[", 0), 0u) << a_pipe;
  // B still runs; its waiter holds no descriptor at all.
  std::string held = fdLinks(waiter);
  EXPECT_THAT(held, Not(HasSubstr(a_pipe)))
      << "B's waiter " << waiter << " holds A's " << a_pipe << ":\n"
      << held;
  EXPECT_EQ(held, "") << held;
  run_b.join();
  ::close(pidfd);
  ASSERT_TRUE(b.ok()) << b.error().describe();
  EXPECT_EQ(b->exit_code, 0);
  expectNoChildren();
}

TEST(RunChild, JoinsTheTargetsNetworkIpcAndUtsNamespacesToo) {
  // The program is the target's own (jcmd beside its java): it must not run in our network.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  NamespacedTarget target("", CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
  if (!target.ok()) GTEST_SKIP() << "cannot make private mount, network, IPC and UTS namespaces";
  HostPaths paths;
  TempDir dir;
  InTarget run(target.pid(),
               {"/bin/sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/uts"},
               /*in_root=*/false, dir.path());
  ASSERT_TRUE(run.opened());
  const ChildSpec& spec = run.spec;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0) << slurp(spec.stderr_path);
  std::string want, ours;
  for (const char* ns : {"ns/net", "ns/ipc", "ns/uts"}) {
    char link[256] = {}, mine[256] = {};
    ASSERT_GT(::readlink(paths.proc(target.pid(), ns).c_str(), link, sizeof link - 1), 0);
    ASSERT_GT(::readlink(paths.proc(0, ns).c_str(), mine, sizeof mine - 1), 0);
    EXPECT_STRNE(link, mine) << ns << ": the target's is not a namespace of its own";
    want += std::string(link) + "\n";
  }
  EXPECT_EQ(slurp(spec.stdout_path), want);
  expectNoChildren();
}

TEST(RunChild, InATargetsRootASymlinkedTmpLeadsWhereTheTargetsWouldNotIntoTheHost) {
  // The attack: a container whose /tmp is a symlink to a host path (another pod's /tmp). Seen
  // from the host through /proc/PID/root, the absolute link leads into the host's tree; in the
  // target's own root, it leads nowhere.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir host_side, fake;
  host_side.write("decoy.txt", "another pod's file\n");
  ASSERT_EQ(::mkdir((fake.path() + "/usr").c_str(), 0755), 0);
  for (const char* l : {"bin", "lib", "lib64"})
    ASSERT_EQ(::symlink((std::string("usr/") + l).c_str(), (fake.path() + "/" + l).c_str()), 0);
  ASSERT_EQ(::symlink(host_side.path().c_str(), (fake.path() + "/tmp").c_str()), 0);
  NamespacedTarget target(fake.path());
  if (!target.ok()) GTEST_SKIP() << "cannot make a private mount namespace here";
  HostPaths paths;
  // Through the host's view the link is followed out of the fake root:
  ASSERT_EQ(slurp(paths.proc(target.pid(), "root/tmp/decoy.txt")), "another pod's file\n");

  TempDir dir;
  InTarget run(target.pid(), {"/bin/sh", "-c", "cat /tmp/decoy.txt || echo not-there"},
               /*in_root=*/true, dir.path());
  ASSERT_TRUE(run.opened());
  auto r = runChild(run.spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(slurp(run.spec.stdout_path), "not-there\n");
}

TEST(RunChild, SaysWhenTheProgramIsNotInTheTargetsFileSystem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  NamespacedTarget target;
  if (!target.ok()) GTEST_SKIP() << "cannot make a private mount namespace here";
  InTarget run(target.pid(), {"/tmp/no-such-jcmd"}, /*in_root=*/false);
  ASSERT_TRUE(run.opened());
  auto r = runChild(run.spec);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().describe(), HasSubstr("not found"));
  EXPECT_THAT(r.error().describe(), HasSubstr("/tmp/no-such-jcmd"));
  expectNoChildren();
}

TEST(RunChild, CapturesItsOutputThroughPipesNotFiles) {
  ChildSpec spec = shell("echo out; echo err >&2; readlink /proc/self/fd/1 /proc/self/fd/2 >&2");
  spec.capture_stdout_bytes = 1024;
  spec.capture_stderr_bytes = 1024;
  TempDir dir;
  spec.stdout_path = dir.path() + "/not-used";  // a capture takes the place of the file
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text.rfind("err\npipe:[", 0), 0u) << r->stderr_text;
  EXPECT_THAT(r->stderr_text, HasSubstr("\npipe:["));
  EXPECT_FALSE(r->stdout_cut || r->stderr_cut || r->output_cut);
  struct stat st;
  EXPECT_NE(::stat(spec.stdout_path.c_str(), &st), 0);
}

TEST(RunChild, StopsAChildWhoseCapturedOutputPassesItsCap) {
  // The attack: a helper (jcmd is the target's binary) that writes without end. It is stopped
  // at the cap, long before its deadline, and only the cap is kept.
  ChildSpec spec = shell("yes 'Exception: boom' >&2", 30s);
  spec.capture_stderr_bytes = 1000;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->output_cut);
  EXPECT_TRUE(r->stderr_cut);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stderr_text.size(), 1000u);
  EXPECT_EQ(r->stderr_text.rfind("Exception: boom\nException: boom\n", 0), 0u);
  EXPECT_LT(r->took, 10s);
}

TEST(RunChild, ADescendantHoldingTheCapturedPipeDoesNotHoldUpItsEnd) {
  // The pipe's end never comes while the detached sleep holds it: the result is there when the
  // child itself ends, with what it wrote.
  ChildSpec spec = shell("setsid sleep 60 </dev/null >/dev/null & echo $! >&2", 30s);
  spec.capture_stderr_bytes = 1024;
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_FALSE(r->stderr_text.empty());
  ::kill(static_cast<pid_t>(std::stoi(r->stderr_text)), SIGKILL);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_LT(r->took, 10s);
}

// Under Delegate=yes (systemd/oomsentinel.service.in): the daemon's leaf and its children's
// cgroups beside it.

// A cgroup v2 fixture: <cg>/system.slice/oomsentinel.service, the daemon's cgroup per
// <proc>/self/cgroup at `own` below the root.
struct DelegatedFixture {
  TempDir cg, proc;
  std::string service;
  bool marked = false;
  explicit DelegatedFixture(const std::string& own, bool delegate) {
    cg.write("cgroup.controllers", "cpu io memory pids\n");
    service = cg.path() + "/system.slice/oomsentinel.service";
    cg.write("system.slice/oomsentinel.service/cgroup.controllers", "cpu io memory pids\n");
    cg.write("system.slice/oomsentinel.service/cgroup.subtree_control", "");
    // mkdir(2) in a plain directory makes no control files: the leaf's is there beforehand.
    cg.write("system.slice/oomsentinel.service/daemon/cgroup.procs", "");
    proc.write("self/cgroup", "0::" + own + "\n");
    marked = !delegate || ::setxattr(service.c_str(), "user.delegate", "1", 1, 0) == 0;
  }
  HostPaths paths() const { return HostPaths(cg.path(), proc.path()); }
  // enterDelegatedLeaf here, where it must find the delegated cgroup `service`; nullopt (and a
  // failure) if it does not.
  std::optional<DelegatedCgroup> enter() const {
    auto r = enterDelegatedLeaf(paths());
    if (!r.ok()) {
      ADD_FAILURE() << r.error().describe();
      return std::nullopt;
    }
    if (!r->has_value()) {
      ADD_FAILURE() << "the delegated cgroup " << service << " was not found";
      return std::nullopt;
    }
    EXPECT_EQ((*r)->service_dir, service);
    return std::move(*r);
  }
};

constexpr const char* kNoUserXattr = "the test's temporary directory takes no user.* xattr";

TEST(DelegatedCgroup, DoesNothingWhenTheCgroupIsNotDelegated) {
  DelegatedFixture f("/system.slice/oomsentinel.service", /*delegate=*/false);
  auto r = enterDelegatedLeaf(f.paths());
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(slurp(f.service + "/daemon/cgroup.procs"), "");
  EXPECT_EQ(slurp(f.service + "/cgroup.subtree_control"), "");
}

TEST(DelegatedCgroup, MovesIntoTheLeafAndEnablesMemoryAndPidsForItsSiblings) {
  DelegatedFixture f("/system.slice/oomsentinel.service", /*delegate=*/true);
  if (!f.marked) GTEST_SKIP() << kNoUserXattr;
  auto leaf = f.enter();
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->enabled, "memory pids");
  EXPECT_EQ(leaf->note, "");
  EXPECT_EQ(slurp(f.service + "/daemon/cgroup.procs"), "0");  // "0": the writer itself
  EXPECT_EQ(slurp(f.service + "/cgroup.subtree_control"), "+memory +pids");
}

TEST(DelegatedCgroup, AChildsCgroupGoesBesideTheDaemonsLeafNotUnderIt) {
  DelegatedFixture f("/system.slice/oomsentinel.service/daemon", /*delegate=*/true);
  if (!f.marked) GTEST_SKIP() << kNoUserXattr;
  // Already in the leaf: no move, the controllers are still asked for.
  ASSERT_TRUE(f.enter());
  EXPECT_EQ(slurp(f.service + "/daemon/cgroup.procs"), "");
  // A fixture's mkdir makes no cgroup.procs, so create() fails there: its error names the place.
  auto cg = ChildCgroup::create(f.paths(), "hook");
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.error().path, f.service + "/hook/cgroup.procs") << cg.error().describe();
  // Not delegated (no mark): a leaf named daemon is an ordinary cgroup, and children go under it.
  DelegatedFixture plain("/system.slice/oomsentinel.service/daemon", /*delegate=*/false);
  auto under = ChildCgroup::create(plain.paths(), "hook");
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.error().path, plain.service + "/daemon/hook/cgroup.procs");
}

// A child cgroup's limits, written into a fixture cgroup whose controllers are enabled: memory.max
// does not cover swap, so a runaway child would otherwise thrash on in the host's swap.
TEST(ChildCgroupLimits, CapMemoryWithoutSwapAndWholeOnOomAndPids) {
  TempDir cg;
  for (const char* f : {"memory.max", "memory.oom.group", "memory.swap.max", "pids.max"})
    cg.write(std::string("child/") + f, "");
  const std::string dir = cg.path() + "/child";
  EXPECT_EQ(applyChildCgroupLimits(dir, true, ChildCgroupLimits{256ull << 20, 512}, cg.path()), "");
  EXPECT_EQ(slurp(dir + "/memory.max"), "268435456");
  EXPECT_EQ(slurp(dir + "/memory.oom.group"), "1");
  EXPECT_EQ(slurp(dir + "/memory.swap.max"), "0");
  EXPECT_EQ(slurp(dir + "/pids.max"), "512");

  // No memory.swap.max (swap not accounted): nothing to bound, and no complaint.
  TempDir no_swap;
  for (const char* f : {"memory.max", "memory.oom.group", "pids.max"})
    no_swap.write(std::string("child/") + f, "");
  EXPECT_EQ(applyChildCgroupLimits(no_swap.path() + "/child", true,
                                   ChildCgroupLimits{64ull << 20, 0}, no_swap.path()),
            "");
  struct stat st;
  EXPECT_NE(::stat((no_swap.path() + "/child/memory.swap.max").c_str(), &st), 0);
  EXPECT_EQ(slurp(no_swap.path() + "/child/memory.max"), "67108864");
  EXPECT_EQ(slurp(no_swap.path() + "/child/pids.max"), "");  // 0: no limit of ours

  // No controller enabled for the parent's children: the note says which and where.
  TempDir bare;
  bare.write("child/cgroup.procs", "");
  EXPECT_EQ(applyChildCgroupLimits(bare.path() + "/child", true, ChildCgroupLimits{1 << 20, 16},
                                   "/parent"),
            "no memory limit of its own (the controller is not enabled for /parent's children); "
            "no pids limit of its own (the controller is not enabled for /parent's children)");
}

// This process's cgroup v2 path and the tree it is in, or why there is none to use.
struct RealV2 {
  std::string root, own, skip;
  RealV2() {
    if (::geteuid() != 0) {
      skip = "needs root to make a cgroup";
      return;
    }
    HostPaths paths;
    for (std::string r : {paths.cgroupRoot(), joinPath(paths.cgroupRoot(), "unified")}) {
      struct stat st;
      if (::stat(joinPath(r, "cgroup.controllers").c_str(), &st) == 0) {
        root = r;
        break;
      }
    }
    std::istringstream lines(slurp(paths.proc(0, "cgroup")));
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("0::", 0) == 0) own = line.substr(3);
    if (root.empty() || own.empty())
      skip = "no cgroup v2 tree here (neither /sys/fs/cgroup nor /sys/fs/cgroup/unified is one)";
  }
};

// The daemon as the unit starts it: in a delegated cgroup (made here, marked as systemd marks it),
// it moves into its leaf, and a child's cgroup goes beside it and takes down what the child left.
TEST(DelegatedCgroup, OnARealCgroupTheDaemonEntersItsLeafAndAChildsCgroupKillsWhatItLeft) {
  RealV2 v2;
  if (!v2.skip.empty()) GTEST_SKIP() << v2.skip;
  const std::string home = joinPath(v2.root, v2.own);
  const std::string service =
      joinPath(home, "oomsentinel-test-" + std::to_string(::getpid()) + ".service");
  if (::mkdir(service.c_str(), 0755) != 0)
    GTEST_SKIP() << "cannot make a cgroup under " << home << ": " << std::strerror(errno);
  struct Cleanup {
    std::string home, service;
    ~Cleanup() {
      std::ofstream(joinPath(home, "cgroup.procs")) << ::getpid();  // back where it was
      ::rmdir(joinPath(service, kDaemonLeaf).c_str());
      ::rmdir(service.c_str());
    }
  } cleanup{home, service};
  ASSERT_EQ(::setxattr(service.c_str(), "user.delegate", "1", 1, 0), 0) << std::strerror(errno);
  {
    std::ofstream procs(joinPath(service, "cgroup.procs"));
    procs << ::getpid();
  }
  ASSERT_THAT(slurp(HostPaths().proc(0, "cgroup")), HasSubstr(service.substr(v2.root.size())));

  auto leaf = enterDelegatedLeaf(HostPaths());
  ASSERT_TRUE(leaf.ok()) << leaf.error().describe();
  ASSERT_TRUE(leaf->has_value());
  EXPECT_EQ((*leaf)->service_dir, service);
  EXPECT_THAT(slurp(HostPaths().proc(0, "cgroup")),
              HasSubstr("0::" + v2.own + (v2.own == "/" ? "" : "/") + "oomsentinel-test-" +
                        std::to_string(::getpid()) + ".service/daemon\n"));
  EXPECT_EQ(slurp(joinPath(service, "daemon/cgroup.procs")), std::to_string(::getpid()) + "\n");

  ChildCgroupLimits limits{64ull << 20, 512};
  auto cg = ChildCgroup::create(HostPaths(), "child", limits);
  ASSERT_TRUE(cg.ok()) << cg.error().describe();
  EXPECT_EQ(cg->dir(), joinPath(service, "child"));
  if ((*leaf)->enabled.find("memory") != std::string::npos) {
    EXPECT_EQ(slurp(joinPath(cg->dir(), "memory.max")), "67108864\n");
    EXPECT_EQ(slurp(joinPath(cg->dir(), "memory.oom.group")), "1\n");
    EXPECT_THAT(cg->limitsNote(), Not(HasSubstr("memory")));
  } else {
    // This tree offers no memory controller (here: it is cgroup v1's): the note says so.
    EXPECT_THAT(cg->limitsNote(),
                HasSubstr("no memory limit of its own (the controller is not enabled"));
  }
  ChildSpec spec = shell("setsid sleep 60 & echo $!; grep '^0::' /proc/self/cgroup");
  TempDir out;
  spec.stdout_path = out.path() + "/out";
  spec.cgroup_procs_fd = cg->procsFd();
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0);
  std::istringstream text(slurp(spec.stdout_path));
  std::string escaped, where;
  std::getline(text, escaped);
  std::getline(text, where);
  EXPECT_THAT(where, HasSubstr(".service/child"));
  pid_t left = static_cast<pid_t>(std::stoi(escaped));
  // Out of the process group that runChild killed, it still runs: only its cgroup can end it.
  std::string stat = slurp(HostPaths().proc(left, "stat"));
  ASSERT_FALSE(stat.empty()) << "pid " << left << " did not outlive its process group";
  EXPECT_NE(stat.substr(stat.rfind(')') + 2, 1), "Z");
  EXPECT_EQ(cg->killAll(), "");
  EXPECT_TRUE(goneWithin(left, 2s)) << "pid " << left << " outlived its cgroup";
  struct stat st;
  EXPECT_NE(::stat(joinPath(service, "child").c_str(), &st), 0);
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// What the old killAll left behind, removed deepest first so that the next run starts clean.
void removeTree(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && e->d_name[0] != '.') removeTree(dir + "/" + e->d_name);
  ::closedir(d);
  ::rmdir(dir.c_str());
}

// A child's cgroup on this machine's real cgroup v2 tree (as root), or why there is none. What
// is left of it (what the old killAll left behind) is removed when it goes.
struct RealChildCgroup {
  std::optional<ChildCgroup> cg;
  std::string skip;
  explicit RealChildCgroup(const std::string& name) {
    RealV2 v2;
    if (!v2.skip.empty()) {
      skip = v2.skip;
      return;
    }
    auto made = ChildCgroup::create(HostPaths(), name + "-" + std::to_string(::getpid()));
    if (!made) {
      skip = "cannot make a child cgroup: " + made.error().describe();
      return;
    }
    if (made->dir().rfind(v2.root, 0) != 0) {
      skip = "the child cgroup is not on the cgroup v2 tree: " + made->dir();
      return;
    }
    cg.emplace(std::move(*made));
  }
  ~RealChildCgroup() {
    if (cg) removeTree(cg->dir());
  }
};

// A child run as root makes a cgroup inside its own and moves a descendant there: cgroup.kill
// takes it down, and killAll removes that sub-cgroup before its own (rmdir of a cgroup that has
// children fails with EBUSY, which the old killAll reported as success).
TEST(ChildCgroupKillAll, OnARealCgroupRemovesTheSubCgroupsTheChildMade) {
  RealChildCgroup real("oomsentinel-test-sub");
  if (!real.skip.empty()) GTEST_SKIP() << real.skip;
  const std::string dir = real.cg->dir();
  ChildSpec spec =
      shell("mkdir " + dir + "/sub " + dir + "/sub/deeper && setsid sh -c 'echo $$ > " + dir +
            "/sub/deeper/cgroup.procs; exec sleep 60' & pid=$!; " + "while ! grep -q . " + dir +
            "/sub/deeper/cgroup.procs; do sleep 0.01; done; echo $pid");
  TempDir out;
  spec.stdout_path = out.path() + "/out";
  spec.stderr_path = out.path() + "/err";
  spec.cgroup_procs_fd = real.cg->procsFd();
  auto r = runChild(spec);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->exit_code, 0) << slurp(spec.stderr_path);
  pid_t left = readPid(spec.stdout_path);
  ASSERT_GT(left, 0) << slurp(spec.stdout_path);
  EXPECT_EQ(slurp(dir + "/sub/deeper/cgroup.procs"), std::to_string(left) + "\n");
  EXPECT_EQ(real.cg->killAll(), "");
  EXPECT_TRUE(goneWithin(left, 2s)) << "pid " << left << " outlived its cgroup";
  struct stat st;
  EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " is still there";
}

// Sub-cgroups deeper than killAll walks stay: it says so instead of reporting success.
TEST(ChildCgroupKillAll, OnARealCgroupSaysWhenTheChildsCgroupStays) {
  RealChildCgroup real("oomsentinel-test-stays");
  if (!real.skip.empty()) GTEST_SKIP() << real.skip;
  const std::string dir = real.cg->dir();
  auto r = runChild(shell("mkdir -p " + dir + "/a/a/a/a/a/a/a/a/a/a/a/a"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->exit_code, 0);
  std::string said = real.cg->killAll(200ms);
  EXPECT_THAT(said, HasSubstr("its cgroup " + dir + " could not be removed"));
  struct stat st;
  EXPECT_EQ(::stat(dir.c_str(), &st), 0);
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// The unit's layout on this machine's real cgroup v2 tree: a cgroup marked delegated as systemd
// marks it, this process in it, then in its leaf (enterDelegatedLeaf). Put back and removed after.
struct RealDelegated {
  std::string home, service, leaf, skip;
  explicit RealDelegated(const std::string& tag) {
    RealV2 v2;
    if (!v2.skip.empty()) {
      skip = v2.skip;
      return;
    }
    home = joinPath(v2.root, v2.own);
    service =
        joinPath(home, "oomsentinel-test-" + tag + "-" + std::to_string(::getpid()) + ".service");
    if (::mkdir(service.c_str(), 0755) != 0) {
      skip = "cannot make a cgroup under " + home + ": " + std::strerror(errno);
      service.clear();
      return;
    }
    if (::setxattr(service.c_str(), "user.delegate", "1", 1, 0) != 0) {
      skip = "cannot mark " + service + " delegated: " + std::strerror(errno);
      return;
    }
    std::ofstream(joinPath(service, "cgroup.procs")) << ::getpid();
    auto entered = enterDelegatedLeaf(HostPaths());
    if (!entered || !*entered) {
      skip = "cannot enter the leaf of " + service;
      return;
    }
    leaf = joinPath(service, kDaemonLeaf);
  }
  ~RealDelegated() {
    if (service.empty()) return;
    std::ofstream(joinPath(home, "cgroup.procs")) << ::getpid();  // back where it was
    removeTree(service);
  }
};

// A process we forked without runChild: for the sweep, a stranger in whatever cgroup it is put.
pid_t sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool killedBySigkill(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST(DelegatedSweep, OnARealCgroupKillsStrangersInTheLeafAndBesideItButNotOurs) {
  RealDelegated real("sweep");
  if (!real.skip.empty()) GTEST_SKIP() << real.skip;
  auto live = ChildCgroup::create(HostPaths(), "oomsentinel-exec-live");
  ASSERT_TRUE(live.ok()) << live.error().describe();
  // One in the daemon's leaf (it inherits ours), one in a cgroup made beside the leaf.
  pid_t in_leaf = sleeper();
  ASSERT_GT(in_leaf, 0);
  const std::string evil = joinPath(real.service, "evil");
  ASSERT_EQ(::mkdir(evil.c_str(), 0755), 0) << std::strerror(errno);
  pid_t in_evil = sleeper();
  ASSERT_GT(in_evil, 0);
  std::ofstream(joinPath(evil, "cgroup.procs")) << in_evil;
  ASSERT_EQ(slurp(joinPath(evil, "cgroup.procs")), std::to_string(in_evil) + "\n");

  auto sweep = ChildCgroup::sweepDelegated(HostPaths(), ::getpid());
  ASSERT_TRUE(sweep.ok()) << sweep.error().describe();
  EXPECT_EQ(sweep->service_dir, real.service);
  EXPECT_EQ(sweep->killed, std::vector<pid_t>{in_leaf});
  EXPECT_EQ(sweep->cgroups, std::vector<std::string>{"evil"});
  EXPECT_EQ(sweep->left, "");
  EXPECT_NE(sweep->describe().find("killed 1 process in the daemon's leaf " + real.leaf +
                                   " that was not the daemon's (pid " + std::to_string(in_leaf)),
            std::string::npos)
      << sweep->describe();
  EXPECT_TRUE(killedBySigkill(in_leaf));
  EXPECT_TRUE(killedBySigkill(in_evil));
  struct stat st;
  EXPECT_NE(::stat(evil.c_str(), &st), 0) << evil << " is still there";
  EXPECT_EQ(::stat(live->dir().c_str(), &st), 0) << "our own child cgroup was removed";
  EXPECT_EQ(slurp(joinPath(real.leaf, "cgroup.procs")), std::to_string(::getpid()) + "\n");
  // Nothing more to find: clean.
  auto again = ChildCgroup::sweepDelegated(HostPaths(), ::getpid());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->clean()) << again->describe();
}

// A child of ours without a cgroup of its own stays in the leaf with what it starts: a sweep
// after another hook leaves both alone.
TEST(DelegatedSweep, OnARealCgroupLeavesOurRunningChildAndItsDescendantsAlone) {
  RealDelegated real("ours");
  if (!real.skip.empty()) GTEST_SKIP() << real.skip;
  TempDir dir;
  const std::string marker = dir.path() + "/started";
  Result<ChildResult> r = makeError("not run");
  std::thread run([&] { r = runChild(shell("sleep 1 & echo $! > " + marker + "; wait")); });
  ASSERT_TRUE(eventually([&] { return !slurp(marker).empty(); }));
  pid_t grandchild = readPid(marker);
  auto sweep = ChildCgroup::sweepDelegated(HostPaths(), ::getpid());
  run.join();
  ASSERT_TRUE(sweep.ok()) << sweep.error().describe();
  EXPECT_TRUE(sweep->clean()) << sweep->describe() << " (grandchild " << grandchild << ")";
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->exit_code, 0) << r->describe();
}

// The attack: a hook run as root (no capabilities, but the cgroup files are root's) moves a
// descendant into the daemon's leaf, out of its own cgroup, which is killed at its end. The sweep
// after the hook kills it, and the result says so.
TEST(DelegatedSweep, OnARealCgroupARootHookThatEscapesIntoTheDaemonsLeafIsKilled) {
  RealDelegated real("hook");
  if (!real.skip.empty()) GTEST_SKIP() << real.skip;
  TempDir dir;
  ExecDumper hook({"/bin/sh", "-c",
                   "setsid sh -c 'echo $$ > " + real.leaf +
                       "/cgroup.procs && echo $$ > escaped && exec sleep 60' & "
                       "while ! test -s escaped; do sleep 0.01; done"},
                  10s, ExecIdentity{"root", HostPaths()});
  DumpRequest req;
  req.target = "app";
  req.rule = "r";
  req.dir = dir.path();
  req.deadline = in(30s);
  req.max_bytes = 1 << 20;
  auto out = hook.run(req);
  pid_t escaped = readPid(dir.path() + "/exec/escaped");
  ASSERT_GT(escaped, 0) << out.error << slurp(dir.path() + "/exec/stderr.txt");
  EXPECT_EQ(out.result, DumpResult::kFailed) << out.error;
  EXPECT_NE(out.error.find("it wrote where only the daemon belongs: killed 1 process in the "
                           "daemon's leaf " +
                           real.leaf + " that was not the daemon's (pid " +
                           std::to_string(escaped) + ")"),
            std::string::npos)
      << out.error;
  EXPECT_TRUE(goneWithin(escaped, 2s)) << "pid " << escaped << " outlived its hook in our leaf";
  EXPECT_EQ(slurp(joinPath(real.leaf, "cgroup.procs")), std::to_string(::getpid()) + "\n");
}

}  // namespace
}  // namespace oomsentinel
