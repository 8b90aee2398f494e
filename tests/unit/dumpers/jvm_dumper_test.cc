#include "dumpers/jvm_dumper.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "dumpers/artifact.h"
#include "dumpers/child.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/fake_attach_listener.h"
#include "tests/unit/dumpers/namespaced_target.h"
#include "tests/unit/dumpers/spawned_target.h"

namespace oomsentinel {
namespace {

using testing::answerWith;
using testing::FakeListener;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::sendAll;

using oomsentinel::testing::slurp;

using namespace std::chrono_literals;
using testing::TempDir;

std::string findJvmTool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool alive(pid_t pid) {
  std::string stat = slurp(HostPaths().proc(pid, "stat"));
  auto close = stat.rfind(')');
  return !stat.empty() && close != std::string::npos && stat.substr(close + 2, 1) != "Z";
}

// A test's own process: started with posix_spawn, stdout read through a pipe, SIGKILLed and
// reaped when the test ends.
using Spawned = testing::SpawnedTarget;

const std::vector<std::string> kLeakArgs = {"--rate", "400MiB/s", "--chunk", "1MiB",
                                            "--max",  "24MiB",    "--hold"};
// A small heap keeps the heap dumps small; SerialGC keeps the JVM's threads few.
const std::string kLeakOpts = "JAVA_LEAK_OPTS=-Xmx128m -XX:+UseSerialGC";

DumpRequest jvmRequest(const TempDir& dir, pid_t pid) {
  DumpRequest req;
  req.target = "java";
  req.rule = "oom-imminent";
  req.pid = pid;
  req.dir = dir.path();
  req.deadline = SystemClock().steadyNow() + 60s;
  req.max_bytes = 1ull << 30;
  return req;
}

// A histogram and the heap report made of it (dumpers/jvm_report.cc; its own tests are in
// jvm_report_test.cc).
const std::vector<std::string> kJvmHistogramAndReport = {"class_histogram.txt", "report.json",
                                                         "report.txt"};

std::vector<std::string> dirListing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The pure parts, on text captured from a JDK 17 JVM and jcmd on Linux 6.x.

TEST(JvmDumperParsing, ReadsWhatMattersToJcmdFromTheStatus) {
  auto jvm = parseJvmProcessStatus(
      "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7548\nNgid:\t0\nPid:\t7548\n"
      "PPid:\t7547\nUid:\t1000\t1001\t1001\t1001\nGid:\t0\t0\t0\t0\nNSpid:\t7548\t1\n"
      "SigQ:\t0/95731\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
      "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t2000000101005ccf\n");
  ASSERT_TRUE(jvm.ok()) << jvm.error().describe();
  EXPECT_EQ(jvm->euid, 1001u);
  EXPECT_EQ(jvm->nspid, 1);
  EXPECT_TRUE(jvm->catches_sigquit);

  auto sleep = parseJvmProcessStatus(
      "Name:\tsleep\nPid:\t6681\nUid:\t0\t0\t0\t0\nSigIgn:\t0000000000000000\n"
      "SigCgt:\t0000000000000000\n");
  ASSERT_TRUE(sleep.ok());
  EXPECT_EQ(sleep->nspid, 6681);  // no NSpid line: an old kernel
  EXPECT_FALSE(sleep->catches_sigquit);

  EXPECT_FALSE(parseJvmProcessStatus("Name:\tx\n").ok());
}

TEST(JvmDumperParsing, ReadsTheStartTime) {
  EXPECT_EQ(parseStartTime("5240 (java) S 1 5240 5240 0 -1 4194560 25000 0 0 0 70 20 0 0 20 0 "
                           "19 0 123456 4000000000 20000 18446744073709551615"),
            123456u);
  EXPECT_EQ(parseStartTime("77 (a) b) c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0"), 99u);
  EXPECT_EQ(parseStartTime("77 (short) R 1"), std::nullopt);
}

TEST(JvmDumperParsing, AnAttachSocketOlderThanItsProcessIsAnEarlierOnes) {
  timespec boot_at{1'700'000'000, 500'000'000};  // booted at 1700000000.5
  std::uint64_t started = 100 * 100;             // 100 s after boot at 100 ticks a second
  // Made 50 s and 1.5 s before the process started: left by an earlier one.
  EXPECT_TRUE(attachSocketPredatesProcess({1'700'000'050, 500'000'000}, started, 100, boot_at));
  EXPECT_TRUE(attachSocketPredatesProcess({1'700'000'099, 0}, started, 100, boot_at));
  // Within the second's slack, or after it started: its own.
  EXPECT_FALSE(attachSocketPredatesProcess({1'700'000'099, 600'000'000}, started, 100, boot_at));
  EXPECT_FALSE(attachSocketPredatesProcess({1'700'000'101, 0}, started, 100, boot_at));
  EXPECT_FALSE(attachSocketPredatesProcess({0, 0}, started, 0, boot_at));  // no tick rate
}

TEST(JvmDumperParsing, ReadsTheBootTimeOfProcStat) {
  EXPECT_EQ(parseBootTime("cpu  10 0 5 100 0 0 0 0 0 0\nintr 1 2 3\nctxt 77\nbtime 1796660000\n"
                          "processes 9\n"),
            1796660000u);
  EXPECT_EQ(parseBootTime("cpu 1\nbtime\n"), std::nullopt);
  EXPECT_EQ(parseBootTime("cpu 1\nbtime x\n"), std::nullopt);
  EXPECT_EQ(parseBootTime("xbtime 5\n"), std::nullopt);
  EXPECT_EQ(parseBootTime(""), std::nullopt);
}

TEST(JvmDumperParsing, TellsAHistogramFromAnError) {
  EXPECT_TRUE(
      looksLikeClassHistogram("5240:\n num     #instances         #bytes  class name (module)\n"
                              "-------------------------------------------------------\n"
                              "   1:          3024       33701088  [B (java.base@17.0.15)\n"));
  EXPECT_FALSE(looksLikeClassHistogram("5397:\n"));
  EXPECT_FALSE(
      looksLikeClassHistogram("5240:\njava.lang.IllegalArgumentException: Unknown diagnostic "
                              "command\n"));

  // Attach failures: only the pid on stdout, the exception on stderr.
  EXPECT_EQ(jcmdReason("5397:\n",
                       "com.sun.tools.attach.AttachNotSupportedException: Unable to open socket "
                       "file /tmp/.java_pid5397: target process 5397 doesn't respond within "
                       "10500ms or HotSpot VM not loaded\n\tat jdk.attach/sun.tools.attach."
                       "VirtualMachineImpl.<init>(VirtualMachineImpl.java:104)\n"),
            "com.sun.tools.attach.AttachNotSupportedException: Unable to open socket file "
            "/tmp/.java_pid5397: target process 5397 doesn't respond within 10500ms or HotSpot "
            "VM not loaded");
  EXPECT_EQ(jcmdReason("999999:\n", "java.io.IOException: No such process\n\tat x\n"),
            "java.io.IOException: No such process");
  // The JVM's own refusals come on stdout.
  EXPECT_EQ(
      jcmdReason("5240:\njava.lang.IllegalArgumentException: Unknown diagnostic command\n", ""),
      "java.lang.IllegalArgumentException: Unknown diagnostic command");
  EXPECT_EQ(jcmdReason("", ""), "jcmd said nothing");
}

TEST(JvmDumperParsing, ReadsTheHeapDumpReply) {
  EXPECT_EQ(heapDumpProblem("7548:\nDumping heap to /tmp/x.hprof ...\nHeap dump file created "
                            "[20600314 bytes in 0.036 secs]\n",
                            ""),
            std::nullopt);
  EXPECT_EQ(heapDumpProblem(
                "7548:\nDumping heap to /tmp/x.hprof ...\nUnable to create /tmp/x.hprof: File "
                "exists\n",
                ""),
            "Unable to create /tmp/x.hprof: File exists");
  EXPECT_EQ(heapDumpProblem("1:\n", "java.io.IOException: No such process\n"),
            "java.io.IOException: No such process");
}

// Without a JVM.

TEST(JvmDumper, SkipsWithoutAPid) {
  TempDir dir;
  JvmDumper d;
  EXPECT_STREQ(d.name(), "jvm");
  auto req = jvmRequest(dir, 1);
  req.pid.reset();
  auto out = d.run(req);
  EXPECT_EQ(out.dumper, "jvm");
  EXPECT_EQ(out.result, DumpResult::kSkipped);
  EXPECT_EQ(out.error, "no pid");
}

TEST(JvmDumper, FailsForAPidThatDoesNotExist) {
  TempDir dir;
  pid_t pid = 4194000;  // above any pid_max default, below the kernel's limit
  if (alive(pid)) GTEST_SKIP() << "pid " << pid << " exists here";
  auto out = JvmDumper().run(jvmRequest(dir, pid));
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error, "pid 4194000: no such process");
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

TEST(JvmDumper, LeavesAProcessThatIsNotAJvmAlone) {
  // jcmd would SIGQUIT it to start an attach listener it does not have, and that kills it.
  TempDir dir;
  Spawned sleeper({"/bin/sleep", "30"}, {});
  ASSERT_GT(sleeper.pid(), 0);  // posix_spawn returns once it has exec'ed
  auto out = JvmDumper().run(jvmRequest(dir, sleeper.pid()));
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_THAT(out.error, HasSubstr("is not a JVM"));
  EXPECT_TRUE(alive(sleeper.pid()));
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

TEST(JvmDumper, AStaleAttachSocketDoesNotMakeAProcessAJvm) {
  // A JVM killed by the OOM killer leaves /tmp/.java_pid<pid>; the pid's next owner is not a JVM
  // for it (CI met this: a sleeper got a pid an earlier test's JVM had had).
  TempDir dir;
  Spawned sleeper({"/bin/sleep", "30"}, {});
  ASSERT_GT(sleeper.pid(), 0);
  std::string path = "/tmp/.java_pid" + std::to_string(sleeper.pid());
  ::unlink(path.c_str());  // the sleeper's pid: whatever is there is an earlier process's
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(sock);
  timespec old[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, AT_SYMLINK_NOFOLLOW), 0);

  auto out = JvmDumper().run(jvmRequest(dir, sleeper.pid()));
  ::unlink(path.c_str());
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_THAT(out.error, HasSubstr("is not a JVM"));
  EXPECT_THAT(out.error, HasSubstr(path + " is older than it"));
  EXPECT_TRUE(alive(sleeper.pid()));
}

TEST(JvmDumper, RefusesAPidThatWasReused) {
  TempDir dir;
  auto req = jvmRequest(dir, ::getpid());
  req.pid_starttime = 1;  // not when this process started
  auto out = JvmDumper().run(req);
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_THAT(out.error, HasSubstr("no longer the process"));
}

TEST(JvmDumper, DoesNotFollowAContainersTmpSymlinkToAnotherJvmsSocket) {
  // The attack: a container points its /tmp at another pod's /tmp, where another JVM's attach
  // socket is. Seen through /proc/PID/root the absolute link leads into the host's tree, and
  // jcmd, as root, would dump that other JVM into this target's bundle. In the target's own
  // root the link leads nowhere (here: back to itself, as the other pod's path is under /tmp),
  // so no jcmd is run and the target is left alone.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir other_pod, fake;
  ASSERT_EQ(::mkdir((fake.path() + "/usr").c_str(), 0755), 0);
  for (const char* l : {"bin", "lib", "lib64"})
    ASSERT_EQ(::symlink((std::string("usr/") + l).c_str(), (fake.path() + "/" + l).c_str()), 0);
  ASSERT_EQ(::symlink(other_pod.path().c_str(), (fake.path() + "/tmp").c_str()), 0);
  testing::NamespacedTarget target(fake.path());
  if (!target.ok()) GTEST_SKIP() << "cannot make a private mount namespace here";
  // The other JVM's socket, named for this target's pid.
  std::string socket_path = other_pod.path() + "/.java_pid" + std::to_string(target.pid());
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(sock, 1), 0);
  struct stat through_host;
  ASSERT_EQ(
      ::stat((HostPaths().proc(target.pid(), "root/tmp/.java_pid") + std::to_string(target.pid()))
                 .c_str(),
             &through_host),
      0);  // what the old lookup found

  TempDir dir;
  auto out = JvmDumper().run(jvmRequest(dir, target.pid()));
  ::close(sock);
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_THAT(out.error, HasSubstr("'s root:/tmp: cannot open the directory"));
  EXPECT_THAT(out.error, Not(HasSubstr("jcmd")));
  EXPECT_TRUE(alive(target.pid()));
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

// A shell that catches SIGQUIT passes the "is it a JVM" check; a script stands in for its jcmd.
struct FakeJvm {
  Spawned target{{"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
                 {}};
  TempDir bin;
  JvmDumpSpec spec;
  explicit FakeJvm(const std::string& jcmd_script) {
    bin.write("jcmd", "#!/bin/sh\n" + jcmd_script);
    ::chmod((bin.path() + "/jcmd").c_str(), 0755);
    spec.attach = JvmAttach::kJcmd;
    spec.jcmd = bin.path() + "/jcmd";
  }
  bool ready() { return target.waitFor("ready", 10s); }
};

constexpr const char* kHistogramHeader = "echo ' num     #instances         #bytes  class name'\n";

TEST(JvmDumper, JcmdsStderrComesThroughAPipeAndGivesTheReason) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeJvm ok(std::string(kHistogramHeader) + "readlink /proc/self/fd/2\n");
  ASSERT_TRUE(ok.ready());
  TempDir dir;
  auto out = JvmDumper(ok.spec).run(jvmRequest(dir, ok.target.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  std::string text = slurp(dir.path() + "/class_histogram.txt");
  EXPECT_THAT(text, HasSubstr("\npipe:["));
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);

  FakeJvm refused("echo 'java.io.IOException: No such process' >&2\nexit 1\n");
  ASSERT_TRUE(refused.ready());
  TempDir dir2;
  auto failed = JvmDumper(refused.spec).run(jvmRequest(dir2, refused.target.pid()));
  EXPECT_EQ(failed.result, DumpResult::kFailed);
  EXPECT_EQ(failed.error, "jcmd GC.class_histogram: java.io.IOException: No such process");
  EXPECT_TRUE(dirListing(dir2.path()).empty());
}

TEST(JvmDumper, AJcmdThatWritesWithoutEndIsStoppedAtItsReplyCap) {
  // The attack: jcmd is the target's binary; its stderr used to be a file in the bundle, capped
  // only at the bundle's size. Through the pipe it is stopped at 64 KiB, long before its timeout.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeJvm noisy("yes 'Exception: boom' >&2\n");
  ASSERT_TRUE(noisy.ready());
  // No size cap of the bundle's to stop it: only the reply's can, before its 2s.
  noisy.spec.command_timeout = 2s;
  TempDir dir;
  auto req = jvmRequest(dir, noisy.target.pid());
  req.max_bytes = 1ull << 40;
  auto out = JvmDumper(noisy.spec).run(req);
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error.rfind("jcmd GC.class_histogram: stopped: its output passed the size cap", 0),
            0u)
      << out.error;
  EXPECT_LT(out.took, 2s);
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

TEST(JvmDumper, JcmdRunsInACgroupOfItsOwnAndNothingItStartsOutlivesIt) {
  // The attack: jcmd is the target's own binary (beside its java), run by a root daemon. What it
  // starts and detaches with setsid() would outlive the process-group kill at its end; its cgroup
  // takes it down.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!ChildCgroup::create(HostPaths(), "oomsentinel-probe-" + std::to_string(::getpid())).ok())
    GTEST_SKIP() << "no cgroup can be made here (no cgroup tree of ours, or it is read-only)";
  Spawned fake({"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
               {});
  ASSERT_TRUE(fake.waitFor("ready", 10s));
  TempDir bin, dir;
  bin.write("jcmd",
            "#!/bin/sh\n"
            "setsid sleep 60 </dev/null >/dev/null 2>&1 &\n"
            "echo ' num     #instances         #bytes  class name'\n"
            "echo \"escaped $!\"\n"
            "grep '^0::' /proc/self/cgroup\n");
  ASSERT_EQ(::chmod((bin.path() + "/jcmd").c_str(), 0755), 0);
  JvmDumpSpec spec;
  spec.attach = JvmAttach::kJcmd;
  spec.jcmd = bin.path() + "/jcmd";
  auto out = JvmDumper(spec).run(jvmRequest(dir, fake.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  std::istringstream text(slurp(dir.path() + "/class_histogram.txt"));
  std::string header, escaped, where;
  std::getline(text, header);
  std::getline(text, escaped);
  std::getline(text, where);
  ASSERT_EQ(escaped.rfind("escaped ", 0), 0u) << escaped;
  EXPECT_THAT(where, HasSubstr("/oomsentinel-jcmd-"));
  pid_t left = static_cast<pid_t>(std::stoi(escaped.substr(8)));
  SystemClock clock;
  SteadyTime until = clock.steadyNow() + 2s;
  while (alive(left) && clock.steadyNow() < until) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(alive(left)) << "pid " << left << ", started by jcmd, outlived it";
  // And its cgroup went with it (in whichever layout the v2 tree is).
  for (std::string root : {HostPaths().cgroupRoot(), HostPaths().cgroupRoot() + "/unified"}) {
    struct stat st;
    EXPECT_NE(::stat((root + where.substr(3)).c_str(), &st), 0) << root << where.substr(3);
  }
}

// The attach protocol spoken directly (JvmAttach::kDirect, JvmDumpSpec's default), against a
// listener of the test's own at /tmp/.java_pid<pid> of a shell that catches SIGQUIT (so the dumper
// takes it for a JVM): what a hostile JVM user can put there and answer.
const std::string kFakeHistogram =
    " num     #instances         #bytes  class name (module)\n"
    "-------------------------------------------------------\n"
    "   1:            24       25166208  [B (java.base@17.0.15)\n";

// A shell that catches SIGQUIT, its attach socket path, and a request for it.
struct FakeAttachJvm {
  Spawned target{{"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
                 {}};
  TempDir dir;
  bool ready() { return target.waitFor("ready", 10s); }
  std::string socket() const { return "/tmp/.java_pid" + std::to_string(target.pid()); }
  DumpRequest request() const { return jvmRequest(dir, target.pid()); }
};

TEST(JvmDumperDirect, SpeaksTheAttachProtocolAsTheJvmsUserAndKeepsTheReplysBody) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), answerWith("0\n" + kFakeHistogram));
  ASSERT_TRUE(listener.bound());
  auto out = JvmDumper().run(jvm.request());
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(jvm.dir.path() + "/class_histogram.txt"), kFakeHistogram);
  ASSERT_EQ(listener.requests().size(), 1u);
  EXPECT_EQ(listener.requests()[0], std::string("1\0jcmd\0GC.class_histogram\0\0\0", 28));
  EXPECT_EQ(listener.peers()[0].uid, 0u);  // the shell's user

  // -all: one argument, the whole command line, as jcmd sends it.
  TempDir dir2;
  JvmDumpSpec spec;
  spec.class_histogram_all = true;
  auto all = JvmDumper(spec).run(jvmRequest(dir2, jvm.target.pid()));
  ASSERT_EQ(all.result, DumpResult::kOk) << all.error;
  ASSERT_EQ(listener.requests().size(), 2u);
  EXPECT_EQ(listener.requests()[1], std::string("1\0jcmd\0GC.class_histogram -all\0\0\0", 33));
}

TEST(JvmDumperDirect, ConnectsAsTheJvmsUserNotAsRoot) {
  std::string setpriv = findJvmTool("setpriv");
  if (::geteuid() != 0 || setpriv.empty()) GTEST_SKIP() << "needs root and setpriv(1)";
  Spawned nobody({setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c",
                  "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
                 {});
  ASSERT_TRUE(nobody.waitFor("ready", 10s));
  std::string path = "/tmp/.java_pid" + std::to_string(nobody.pid());
  FakeListener listener(path, answerWith("0\n" + kFakeHistogram));
  ASSERT_TRUE(listener.bound());
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  TempDir dir;
  auto out = JvmDumper().run(jvmRequest(dir, nobody.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  ASSERT_EQ(listener.peers().size(), 1u);
  EXPECT_EQ(listener.peers()[0].uid, 65534u);
  EXPECT_EQ(listener.peers()[0].gid, 65534u);
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/class_histogram.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // made by us, written through its descriptor
}

TEST(JvmDumperDirect, AnEndlessReplyIsCutAtTheArtifactCap) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), [](int fd, const std::atomic<bool>& stop) {
    if (!sendAll(fd, "0\n" + kFakeHistogram)) return;
    std::string row = "   2:             1             16  java.lang.Object (java.base)\n";
    std::string block;
    while (block.size() < 65536) block += row;
    while (!stop && sendAll(fd, block)) {
    }
  });
  ASSERT_TRUE(listener.bound());
  auto req = jvm.request();
  req.max_bytes = 1 << 20;
  auto out = JvmDumper().run(req);
  EXPECT_EQ(out.result, DumpResult::kPartial) << out.error;
  ASSERT_EQ(out.artifacts.size(), 3u);
  EXPECT_TRUE(out.artifacts[0].truncated);
  EXPECT_EQ(out.artifacts[0].bytes, 1u << 20);
  EXPECT_LT(out.took, 10s);
}

TEST(JvmDumperDirect, ASlowReplyIsStoppedAtItsDeadline) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), [](int fd, const std::atomic<bool>& stop) {
    if (!sendAll(fd, "0\n" + kFakeHistogram)) return;
    while (!stop && sendAll(fd, "x")) std::this_thread::sleep_for(50ms);
  });
  ASSERT_TRUE(listener.bound());
  JvmDumpSpec spec;
  spec.command_timeout = 1s;
  auto out = JvmDumper(spec).run(jvm.request());
  EXPECT_EQ(out.result, DumpResult::kTimedOut);
  EXPECT_EQ(out.error.rfind("attach GC.class_histogram timed out after", 0), 0u) << out.error;
  EXPECT_LT(out.took, 5s);
  EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
}

TEST(JvmDumperDirect, GarbageAndRefusalsFailWithTheirReason) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  {
    FakeListener listener(jvm.socket(),
                          answerWith("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    ASSERT_TRUE(listener.bound());
    auto out = JvmDumper().run(jvm.request());
    EXPECT_EQ(out.result, DumpResult::kFailed);
    EXPECT_EQ(out.error, "attach GC.class_histogram: the reply does not start with a status line");
    EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
  }
  {
    // A JDK 17 JVM's own refusal.
    FakeListener listener(
        jvm.socket(),
        answerWith("-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n"));
    ASSERT_TRUE(listener.bound());
    auto out = JvmDumper().run(jvm.request());
    EXPECT_EQ(out.result, DumpResult::kFailed);
    EXPECT_EQ(out.error,
              "attach GC.class_histogram: the JVM refused it: "
              "java.lang.IllegalArgumentException: Unknown diagnostic command");
    EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
  }
  {
    // Status 0 and something that is no histogram.
    FakeListener listener(jvm.socket(), answerWith("0\nnothing here\n"));
    ASSERT_TRUE(listener.bound());
    auto out = JvmDumper().run(jvm.request());
    EXPECT_EQ(out.result, DumpResult::kFailed);
    EXPECT_EQ(out.error, "attach GC.class_histogram: nothing here");
    EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
  }
}

TEST(JvmDumperDirect, SpeaksOnlyToASocketOfTheJvmsUser) {
  // The attack: the JVM's user puts at /tmp/.java_pid<pid> a symlink to another listener (a
  // socket it may not name itself, or another JVM's), a file, or a socket of another user's.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  TempDir elsewhere;
  FakeListener other(elsewhere.path() + "/sock", answerWith("0\n" + kFakeHistogram));
  ASSERT_TRUE(other.bound());

  ASSERT_EQ(::symlink((elsewhere.path() + "/sock").c_str(), jvm.socket().c_str()), 0);
  auto linked = JvmDumper().run(jvm.request());
  ::unlink(jvm.socket().c_str());
  EXPECT_EQ(linked.result, DumpResult::kFailed);
  EXPECT_EQ(linked.error,
            "attach GC.class_histogram: the attach socket is not a socket (a symlink or a file)");

  jvm.dir.write("plain", "0\n");
  ASSERT_EQ(::rename((jvm.dir.path() + "/plain").c_str(), jvm.socket().c_str()), 0);
  auto file = JvmDumper().run(jvm.request());
  ::unlink(jvm.socket().c_str());
  EXPECT_EQ(file.result, DumpResult::kFailed);
  EXPECT_EQ(file.error, linked.error);

  {
    FakeListener theirs(jvm.socket(), answerWith("0\n" + kFakeHistogram));
    ASSERT_TRUE(theirs.bound());
    ASSERT_EQ(::chown(jvm.socket().c_str(), 65534, 65534), 0);
    auto out = JvmDumper().run(jvm.request());
    EXPECT_EQ(out.result, DumpResult::kFailed);
    EXPECT_EQ(out.error, "attach GC.class_histogram: the attach socket is another user's");
    EXPECT_TRUE(theirs.requests().empty());
  }
  EXPECT_TRUE(other.requests().empty());
  EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
}

TEST(JvmDumperDirect, AStaleSocketOfAnEarlierJvmIsReplacedNotTheEnd) {
  // A JVM SIGKILLed (by the OOM killer) leaves its /tmp/.java_pid<pid>, and in a container the
  // next JVM has the same pid and, with /tmp on a volume, finds it: nobody listens there. jcmd
  // stops at "Connection refused"; HotSpot, asked to start its listener, puts a new socket there
  // by a rename, which the child waits for. Here the test plays HotSpot's part.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  {
    FakeListener stale(jvm.socket(), answerWith("0\n" + kFakeHistogram));
    ASSERT_TRUE(stale.bound());
  }  // closed: its destructor removes the path, so put a dead socket back
  int dead = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", jvm.socket().c_str());
  ASSERT_EQ(::bind(dead, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(dead);
  struct stat st;
  ASSERT_EQ(::lstat(jvm.socket().c_str(), &st), 0);
  ASSERT_TRUE(S_ISSOCK(st.st_mode));

  DumpOutcome out;
  std::thread dump([&] { out = JvmDumper().run(jvm.request()); });
  bool asked = jvm.target.waitFor("quit", 10s);
  std::string fresh = jvm.socket() + ".new";
  FakeListener listener(fresh, answerWith("0\n" + kFakeHistogram));
  EXPECT_TRUE(listener.bound());
  EXPECT_EQ(::rename(fresh.c_str(), jvm.socket().c_str()), 0);
  dump.join();
  ::unlink(jvm.socket().c_str());
  ASSERT_TRUE(asked) << "the JVM was not asked to start its listener";
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(jvm.dir.path() + "/class_histogram.txt"), kFakeHistogram);
  EXPECT_EQ(listener.requests().size(), 1u);
  EXPECT_NE(::lstat(("/tmp/.attach_pid" + std::to_string(jvm.target.pid())).c_str(), &st), 0);
}

TEST(JvmDumperDirect, AListenerThatNeverComesEndsAtTheDeadlineAndLeavesNoTrigger) {
  // The shell catches SIGQUIT like a JVM but starts no listener: the child creates the trigger,
  // signals, and waits for a socket until its deadline.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  FakeAttachJvm jvm;
  ASSERT_TRUE(jvm.ready());
  ::unlink(jvm.socket().c_str());  // a stale one of an earlier JVM with this pid
  JvmDumpSpec spec;
  spec.command_timeout = 1s;
  auto out = JvmDumper(spec).run(jvm.request());
  EXPECT_EQ(out.result, DumpResult::kTimedOut);
  EXPECT_EQ(out.error.rfind("attach GC.class_histogram timed out after", 0), 0u) << out.error;
  EXPECT_TRUE(jvm.target.waitFor("quit", 5s)) << "it was not asked to start its listener";
  EXPECT_TRUE(alive(jvm.target.pid()));
  struct stat st;
  EXPECT_NE(::lstat(("/tmp/.attach_pid" + std::to_string(jvm.target.pid())).c_str(), &st), 0);
  EXPECT_TRUE(dirListing(jvm.dir.path()).empty());
}

// Against real processes and the real jcmd.

class JvmDumperOnJavaLeak : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    jcmd_ = findJvmTool("jcmd");
    if (std::string(OOMSENTINEL_JAVA_LEAK).empty()) {
      skip_ = "no JDK 17 at configure time: OOMSENTINEL_JAVA_LEAK is empty";
      return;
    }
    if (jcmd_.empty()) {
      skip_ = "jcmd is not in PATH";
      return;
    }
    std::vector<std::string> argv = {OOMSENTINEL_JAVA_LEAK};
    argv.insert(argv.end(), kLeakArgs.begin(), kLeakArgs.end());
    leak_ = new Spawned(argv, {kLeakOpts});
    // "hold": it has leaked all it will, so the histogram no longer moves.
    if (!leak_->waitFor(" hold ", 30s)) skip_ = "java-leak did not start: " + leak_->output();
  }
  static void TearDownTestSuite() {
    delete leak_;
    leak_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }
  static pid_t pid() { return leak_->pid(); }

  static inline std::string jcmd_;
  static inline std::string skip_;
  static inline Spawned* leak_ = nullptr;
};

// The first row of a class histogram: its class name and bytes.
std::pair<std::string, std::uint64_t> topClass(const std::string& histogram) {
  std::istringstream lines(histogram);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string num, instances, bytes, cls;
    if (f >> num >> instances >> bytes >> cls && num == "1:") return {cls, std::stoull(bytes)};
  }
  return {"", 0};
}

TEST_F(JvmDumperOnJavaLeak, TakesAClassHistogramWhereTheLeakedByteArraysLead) {
  TempDir dir;
  auto out = JvmDumper().run(jvmRequest(dir, pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  ASSERT_EQ(out.artifacts.size(), 3u);
  const Artifact& a = out.artifacts[0];
  EXPECT_EQ(a.file, "class_histogram.txt");
  std::string text = slurp(dir.path() + "/class_histogram.txt");
  EXPECT_EQ(a.bytes, text.size());
  EXPECT_EQ(a.sha256, sha256Hex(text));
  EXPECT_FALSE(a.truncated);
  // JavaLeak keeps byte[] chunks in a static list: 24 of 1 MiB.
  auto [cls, bytes] = topClass(text);
  EXPECT_EQ(cls, "[B") << text.substr(0, 600);
  EXPECT_GE(bytes, 24u << 20);
  // Nothing of jcmd's but the histogram: its other output came through pipes.
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);
  EXPECT_LT(out.took, 20s);
}

TEST_F(JvmDumperOnJavaLeak, TakesAClassHistogramByJcmdToo) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.attach = JvmAttach::kJcmd;
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(topClass(slurp(dir.path() + "/class_histogram.txt")).first, "[B");
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);
}

TEST_F(JvmDumperOnJavaLeak, TakesTheHistogramWithoutAFullCollectionOnRequest) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.class_histogram_all = true;
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  auto [cls, bytes] = topClass(slurp(dir.path() + "/class_histogram.txt"));
  EXPECT_EQ(cls, "[B");
  EXPECT_GE(bytes, 24u << 20);
}

TEST_F(JvmDumperOnJavaLeak, StartsTheAttachListenerOfAFreshJvmItself) {
  // No jcmd has attached to this JVM: the direct child does jcmd's handshake (.attach_pid and
  // SIGQUIT as the JVM's user) and waits for the socket with a 1 ms poll.
  std::vector<std::string> argv = {OOMSENTINEL_JAVA_LEAK};
  argv.insert(argv.end(), kLeakArgs.begin(), kLeakArgs.end());
  Spawned fresh(argv, {kLeakOpts});
  ASSERT_TRUE(fresh.waitFor(" hold ", 30s)) << fresh.output();
  std::string socket = "/tmp/.java_pid" + std::to_string(fresh.pid());
  ::unlink(socket.c_str());  // a stale one of an earlier JVM with this pid
  struct stat st;
  ASSERT_NE(::lstat(socket.c_str(), &st), 0);
  TempDir dir;
  auto out = JvmDumper().run(jvmRequest(dir, fresh.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(topClass(slurp(dir.path() + "/class_histogram.txt")).first, "[B");
  EXPECT_EQ(::lstat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_NE(::lstat(("/tmp/.attach_pid" + std::to_string(fresh.pid())).c_str(), &st), 0);
  EXPECT_TRUE(alive(fresh.pid()));
  EXPECT_LT(out.took, 5s);
  std::printf("first direct attach and histogram of a fresh JVM: %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(out.took).count()));
}

TEST_F(JvmDumperOnJavaLeak, GetsPastAStaleSocketThatAnEarlierJvmOfThisPidLeft) {
  // A dead socket where the fresh JVM's would be (an earlier JVM of that pid was SIGKILLed):
  // the real HotSpot replaces it when asked to start its listener.
  std::vector<std::string> argv = {OOMSENTINEL_JAVA_LEAK};
  argv.insert(argv.end(), kLeakArgs.begin(), kLeakArgs.end());
  Spawned fresh(argv, {kLeakOpts});
  ASSERT_TRUE(fresh.waitFor(" hold ", 30s)) << fresh.output();
  std::string socket = "/tmp/.java_pid" + std::to_string(fresh.pid());
  ::unlink(socket.c_str());
  int dead = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
  ASSERT_EQ(::bind(dead, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(dead);
  struct stat before, after;
  ASSERT_EQ(::lstat(socket.c_str(), &before), 0);
  TempDir dir;
  auto out = JvmDumper().run(jvmRequest(dir, fresh.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(topClass(slurp(dir.path() + "/class_histogram.txt")).first, "[B");
  ASSERT_EQ(::lstat(socket.c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino);
  EXPECT_LT(out.took, 5s);
}

TEST_F(JvmDumperOnJavaLeak, WritesAHeapDumpIntoTheBundleOnRequest) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1;
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  ASSERT_EQ(out.artifacts.size(), 4u);
  EXPECT_EQ(out.artifacts[0].file, "class_histogram.txt");
  const Artifact& heap = out.artifacts[1];
  EXPECT_EQ(heap.file, "heap.hprof");
  std::string hprof = slurp(dir.path() + "/heap.hprof");
  EXPECT_EQ(hprof.substr(0, 18), "JAVA PROFILE 1.0.2");
  EXPECT_GE(hprof.size(), 24u << 20);  // the leaked arrays are in it
  EXPECT_EQ(heap.bytes, hprof.size());
  EXPECT_EQ(heap.sha256, sha256Hex(hprof));
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/heap.hprof").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(dirListing(dir.path()), (std::vector<std::string>{"class_histogram.txt", "heap.hprof",
                                                              "report.json", "report.txt"}));
}

TEST_F(JvmDumperOnJavaLeak, SkipsTheHeapDumpWithoutFreeSpace) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1ull << 62;
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  EXPECT_EQ(out.result, DumpResult::kPartial);
  EXPECT_EQ(out.error.rfind("heap dump skipped: only ", 0), 0u) << out.error;
  ASSERT_EQ(out.artifacts.size(), 3u);
  EXPECT_EQ(out.artifacts[0].file, "class_histogram.txt");
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);

  // Nothing else asked for: nothing done.
  TempDir dir2;
  spec.class_histogram = false;
  auto alone = JvmDumper(spec).run(jvmRequest(dir2, pid()));
  EXPECT_EQ(alone.result, DumpResult::kSkipped);
  EXPECT_TRUE(dirListing(dir2.path()).empty());
}

TEST_F(JvmDumperOnJavaLeak, KeepsTheHeapDumpWithinItsBudget) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1;
  spec.attach = JvmAttach::kJcmd;
  spec.heap_dump_budget = 30ms;  // jcmd is a JVM too: it cannot even start in that time
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  EXPECT_EQ(out.result, DumpResult::kPartial);
  EXPECT_EQ(out.error.rfind("heap dump timed out after 30ms", 0), 0u) << out.error;
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);
  EXPECT_LT(out.took, 10s);
}

TEST_F(JvmDumperOnJavaLeak, KeepsTheDirectHeapDumpWithinItsBudgetToo) {
  // The direct exchange starts at once, and this JVM wrote its 24 MiB heap dump in under 20 ms
  // at times (a page-cache file): 3 ms is less than its full GC and the write. The connection is
  // closed, the JVM writes on, and the unfinished file is unlinked.
  TempDir dir;
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1;
  spec.heap_dump_budget = 3ms;
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  EXPECT_EQ(out.result, DumpResult::kPartial);
  EXPECT_EQ(out.error.rfind("heap dump timed out after 3ms (the connection was closed)", 0), 0u)
      << out.error;
  EXPECT_EQ(dirListing(dir.path()), kJvmHistogramAndReport);
  EXPECT_LT(out.took, 10s);
}

TEST_F(JvmDumperOnJavaLeak, SaysWhenJcmdIsMissing) {
  TempDir dir;
  JvmDumpSpec spec;
  spec.attach = JvmAttach::kJcmd;
  spec.jcmd = dir.path() + "/bin/jcmd";
  auto out = JvmDumper(spec).run(jvmRequest(dir, pid()));
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_THAT(out.error, HasSubstr(spec.jcmd));
  EXPECT_THAT(out.error, HasSubstr("not found"));
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

TEST_F(JvmDumperOnJavaLeak, GivesJcmdsReasonWhenItCannotAttach) {
  // A shell that catches SIGQUIT passes the "is it a JVM" check; jcmd then waits its 10.5s for
  // an attach listener that never comes.
  TempDir dir;
  Spawned fake({"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
               {});
  ASSERT_TRUE(fake.waitFor("ready", 10s));
  // A JVM killed earlier in the suite (SIGKILL leaves its attach socket behind) may have had this
  // pid: jcmd would then find its stale /tmp/.java_pid<pid> and say "Connection refused" instead.
  // Seen once in a full run; the socket is not the fake's, so it goes.
  ::unlink(("/tmp/.java_pid" + std::to_string(fake.pid())).c_str());
  // A shell has no jcmd beside it: the JDK's, as the JVM's would be.
  JvmDumpSpec spec;
  spec.attach = JvmAttach::kJcmd;
  spec.jcmd = std::filesystem::canonical(jcmd_).string();
  auto out = JvmDumper(spec).run(jvmRequest(dir, fake.pid()));
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error.rfind("jcmd GC.class_histogram: ", 0), 0u) << out.error;
  EXPECT_THAT(out.error, HasSubstr("AttachNotSupportedException"));
  EXPECT_TRUE(alive(fake.pid()));
  EXPECT_TRUE(dirListing(dir.path()).empty());
}

TEST_F(JvmDumperOnJavaLeak, TakesTheHeapDumpFromAJvmWithItsOwnMountAndPidNamespaces) {
  std::string unshare = findJvmTool("unshare");
  if (::geteuid() != 0 || unshare.empty()) GTEST_SKIP() << "needs root and unshare(1)";
  // The JVM gets a private tmpfs on /tmp, so the bundle (under our /tmp) does not exist for it
  // and the dump has to come through its /tmp, and across file systems. When java-leak itself
  // lives under /tmp (a build tree there), the tmpfs goes over the bundle's directory instead:
  // then the JVM shares our /tmp, and the dump is moved.
  TempDir dir;
  std::string leak = OOMSENTINEL_JAVA_LEAK;
  std::string hide = leak.rfind("/tmp/", 0) == 0 ? dir.path() : "/tmp";
  std::string script = "mount -t tmpfs tmpfs \"$1\" && exec \"$0\"";
  for (const auto& a : kLeakArgs) script += " " + a;
  Spawned ns({unshare, "--fork", "--kill-child", "--pid", "--mount-proc", "/bin/sh", "-c", script,
              leak, hide},
             {kLeakOpts});
  if (!ns.waitFor(" hold ", 30s)) GTEST_SKIP() << "no JVM in new namespaces: " << ns.output();
  EXPECT_THAT(ns.output(), HasSubstr("pid=1 "));  // as it sees itself
  HostPaths paths;
  std::istringstream children(
      slurp(paths.proc(ns.pid(), "task/" + std::to_string(ns.pid()) + "/children")));
  pid_t jvm = 0;
  children >> jvm;
  ASSERT_GT(jvm, 0);

  struct stat ours, theirs;
  ASSERT_EQ(::stat(dir.path().c_str(), &ours), 0);
  bool hidden = ::stat((paths.proc(jvm, "root") + dir.path()).c_str(), &theirs) != 0 ||
                theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino;
  ASSERT_TRUE(hidden) << "the JVM sees our bundle directory";
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1;
  auto out = JvmDumper(spec).run(jvmRequest(dir, jvm));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(dirListing(dir.path()), (std::vector<std::string>{"class_histogram.txt", "heap.hprof",
                                                              "report.json", "report.txt"}));
  EXPECT_EQ(topClass(slurp(dir.path() + "/class_histogram.txt")).first, "[B");
  std::string hprof = slurp(dir.path() + "/heap.hprof");
  EXPECT_EQ(hprof.substr(0, 18), "JAVA PROFILE 1.0.2");
  ASSERT_EQ(out.artifacts.size(), 4u);
  EXPECT_EQ(out.artifacts[1].sha256, sha256Hex(hprof));
  // Nothing left behind in the JVM's /tmp.
  std::string ours_there = "oomsentinel-" + std::to_string(jvm) + "-";
  for (const auto& e : std::filesystem::directory_iterator(paths.proc(jvm, "root/tmp")))
    EXPECT_NE(e.path().filename().string().rfind(ours_there, 0), 0u) << e.path();
  ::kill(jvm, SIGKILL);  // the namespace's init: the namespace goes with it
}

TEST_F(JvmDumperOnJavaLeak, TakesTheHeapDumpFromAJvmOfAnotherUser) {
  std::string setpriv = findJvmTool("setpriv");
  if (::geteuid() != 0 || setpriv.empty()) GTEST_SKIP() << "needs root and setpriv(1)";
  // As nobody, the JVM cannot write into our 0700 bundle: the dump comes through its /tmp.
  std::vector<std::string> argv = {setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                   OOMSENTINEL_JAVA_LEAK};
  argv.insert(argv.end(), kLeakArgs.begin(), kLeakArgs.end());
  Spawned nobody(argv, {kLeakOpts});
  if (!nobody.waitFor(" hold ", 30s)) GTEST_SKIP() << "no JVM as nobody: " << nobody.output();

  TempDir dir;
  JvmDumpSpec spec;
  spec.heap_dump = true;
  spec.heap_dump_min_free = 1;
  auto out = JvmDumper(spec).run(jvmRequest(dir, nobody.pid()));
  ASSERT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(dirListing(dir.path()), (std::vector<std::string>{"class_histogram.txt", "heap.hprof",
                                                              "report.json", "report.txt"}));
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/heap.hprof").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);  // ours now, not the JVM user's
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(slurp(dir.path() + "/heap.hprof").substr(0, 18), "JAVA PROFILE 1.0.2");
}

}  // namespace
}  // namespace oomsentinel
