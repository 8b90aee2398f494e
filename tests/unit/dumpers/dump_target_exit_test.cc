// Row 2 of docs/reliability.md: a real target SIGKILLed in the middle of a dump, for each dumper
// that gperftools_dumper_test.cc does not cover (go_pprof, exec, proc, jvm). Each test waits for
// an event it can observe (a line on a pipe, a file created in the bundle, a TCP connection's
// state, a listening socket's backlog) before it kills, then checks what the dumper reports and
// what it keeps. Helper names start with midKill: the sanitizer builds compile the test files in
// unity batches, where anonymous-namespace names of two files meet.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "core/host_paths.h"
#include "core/http_client.h"
#include "dumpers/artifact.h"
#include "dumpers/exec_dumper.h"
#include "dumpers/go_pprof_dumper.h"
#include "dumpers/jvm_dumper.h"
#include "dumpers/proc_dumper.h"
#include "dumpers/target_process.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/gone_within.h"
#include "tests/unit/dumpers/spawned_target.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using oomsentinel::testing::slurp;

using namespace std::chrono_literals;
using testing::goneWithin;
using testing::TempDir;

// A target of the test's own: posix_spawn'ed with its stdout on a pipe the test reads; SIGKILLed
// and reaped by killAndReap() or when it goes.
using MidKillTarget = testing::SpawnedTarget;

DumpRequest midKillRequest(const std::string& dir, pid_t pid, Duration budget) {
  DumpRequest req;
  req.target = "app";
  req.rule = "oom-imminent";
  req.pid = pid;
  auto described = describeProcess(HostPaths(), pid);
  if (described) req.pid_starttime = described->starttime;
  req.dir = dir;
  req.deadline = SystemClock().steadyNow() + budget;
  req.max_bytes = 256ull << 20;
  return req;
}

std::set<std::string> midKillFiles(const DumpOutcome& o) {
  std::set<std::string> out;
  for (const auto& a : o.artifacts) out.insert(a.file);
  return out;
}

const Artifact* midKillArtifact(const DumpOutcome& o, const std::string& file) {
  for (const auto& a : o.artifacts)
    if (a.file == file) return &a;
  return nullptr;
}

// Each artifact is in the bundle, of the size and hash the outcome says.
void midKillExpectArtifactsOnDisk(const DumpOutcome& o, const std::string& dir) {
  for (const auto& a : o.artifacts) {
    std::string data = slurp(dir + "/" + a.file);
    EXPECT_EQ(data.size(), a.bytes) << a.file;
    EXPECT_EQ(sha256Hex(data), a.sha256) << a.file;
  }
}

// ---- go_pprof -----------------------------------------------------------------------------------

// The TCP connections to or from `port` in this network namespace (tcp and tcp6, read from
// `pid`'s view; both ends of a loopback connection are listed): how many are ESTABLISHED, and how
// many are closing or closed (FIN_WAIT, TIME_WAIT, CLOSE_WAIT, LAST_ACK...). The listening
// socket is neither.
struct MidKillTcp {
  int established = 0;
  int closing = 0;
};
MidKillTcp midKillTcpOn(pid_t pid, int port) {
  MidKillTcp out;
  for (const char* table : {"net/tcp", "net/tcp6"}) {
    std::istringstream lines(slurp(HostPaths().proc(pid, table)));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, state;
      if (!(f >> sl >> local >> remote >> state)) continue;
      auto portOf = [](const std::string& a) {
        auto colon = a.rfind(':');
        return colon == std::string::npos ? -1 : std::stoi(a.substr(colon + 1), nullptr, 16);
      };
      if (portOf(local) != port && portOf(remote) != port) continue;
      if (state == "01")
        ++out.established;
      else if (state != "0A")
        ++out.closing;
    }
  }
  return out;
}

TEST(DumpTargetExit, GoPprofKeepsTheProfilesFetchedBeforeTheTargetWasKilled) {
  std::string go_leak = OOMSENTINEL_GO_LEAK;
  if (go_leak.empty())
    GTEST_SKIP() << "examples/go-leak was not built (golang-go missing at configure time): "
                    "OOMSENTINEL_GO_LEAK is empty";
  MidKillTarget go({go_leak, "--listen", "127.0.0.1:0", "--rate", "64MiB/s", "--max", "8MiB",
                    "--hold", "--churn", "0"},
                   {});
  ASSERT_GT(go.pid(), 0);
  ASSERT_TRUE(go.waitFor(" hold ", 30s)) << go.output();
  auto at = go.output().find(" addr=127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << go.output();
  const int port = std::stoi(go.output().substr(at + 16));

  TempDir t;
  // The heap comes at once; the CPU profile takes 30 s, so it is in flight when the target dies.
  const std::string cpu = "profile?seconds=30";
  GoPprofDumper d(*Url::parse("http://127.0.0.1:" + std::to_string(port)), {"heap", cpu});
  DumpRequest req = midKillRequest(t.path(), go.pid(), 60s);
  DumpOutcome out;
  std::thread dump([&] { out = d.run(req); });

  // The heap is fetched whole while the CPU profile's connection is still open: in the bundle,
  // its connection closed (which either end does only once the whole answer went through; the
  // test makes no connection of its own to go-leak), and one connection, both its ends,
  // established.
  const std::string heap = t.path() + "/go-heap.pb.gz";
  bool heap_done = oomsentinel::testing::eventually(
      [&] {
        MidKillTcp tcp = midKillTcpOn(go.pid(), port);
        return !slurp(heap).empty() && tcp.established == 2 && tcp.closing >= 1;
      },
      1000, 10);
  SystemClock clock;
  SteadyTime killed = clock.steadyNow();
  go.killAndReap();
  dump.join();
  Duration after_kill = clock.steadyNow() - killed;
  ASSERT_TRUE(heap_done) << "the heap was not fetched while the CPU profile ran";

  std::cout << "go_pprof: " << dumpResultName(out.result) << " \"" << out.error << "\", returned "
            << std::chrono::duration_cast<std::chrono::milliseconds>(after_kill).count()
            << " ms after the kill, took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(out.took).count() << " ms\n";
  EXPECT_EQ(out.result, DumpResult::kPartial) << out.error;
  // The profile cut short is named, and said to be cut by the closed connection.
  EXPECT_THAT(out.error, HasSubstr(cpu));
  EXPECT_THAT(out.error, ::testing::AnyOf(HasSubstr("closed the connection"),
                                          HasSubstr("Connection reset by peer")));
  // What was fetched before the exit is kept, with the report made from it; the CPU profile's
  // half-made file is not.
  EXPECT_EQ(midKillFiles(out),
            (std::set<std::string>{"go-heap.pb.gz", "report.json", "report.txt"}));
  midKillExpectArtifactsOnDisk(out, t.path());
  EXPECT_FALSE(std::filesystem::exists(t.path() + "/" + GoPprofDumper::fileFor(cpu)));
  EXPECT_THAT(slurp(t.path() + "/report.txt"), HasSubstr("main."));
  // Seen at the exit, not at the end of the CPU profile's 30 s nor at the deadline.
  EXPECT_LT(after_kill, 5s);
  EXPECT_LT(out.took, 25s);
}

// ---- exec ---------------------------------------------------------------------------------------

// The exec dumper's own files: what the hook wrote on stdout so far.
std::string midKillHookStdout(const std::string& dir) { return slurp(dir + "/exec/stdout.txt"); }

TEST(DumpTargetExit, ExecHookDecidesTheOutcomeWhenItsTargetIsKilledUnderIt) {
  // The hook waits for the target to go (it does not signal the target itself: the test does),
  // then does what a hook does with OOMSENTINEL_PID: read the process's files, which are gone.
  for (bool tolerant : {false, true}) {
    SCOPED_TRACE(tolerant ? "a hook that tolerates the exit" : "a hook that fails on it");
    MidKillTarget target({"/bin/sleep", "60"}, {});
    ASSERT_GT(target.pid(), 0);
    const std::string status = HostPaths().proc(target.pid(), "status");
    const std::string read_it =
        tolerant ? "cat " + status +
                       " > status.txt 2>/dev/null || echo \"target $OOMSENTINEL_PID "
                       "is gone\"\n"
                 : "cat " + status + " > status.txt || exit 3\n";
    ExecDumper hook({"/bin/sh", "-c",
                     "echo \"ready $OOMSENTINEL_PID\"\n"
                     "while [ -e " +
                         status +
                         " ]; do sleep 0.01; done\n"
                         "echo after\n" +
                         read_it},
                    30s);
    TempDir t;
    DumpRequest req = midKillRequest(t.path(), target.pid(), 60s);
    ASSERT_NE(req.pid_starttime, 0u);
    DumpOutcome out;
    std::thread dump([&] { out = hook.run(req); });
    const std::string ready = "ready " + std::to_string(target.pid()) + "\n";
    bool started = oomsentinel::testing::eventually(
        [&] { return midKillHookStdout(t.path()) == ready; }, 1000, 10);
    SystemClock clock;
    SteadyTime killed = clock.steadyNow();
    target.killAndReap();
    dump.join();
    Duration after_kill = clock.steadyNow() - killed;
    ASSERT_TRUE(started) << midKillHookStdout(t.path());
    std::cout << "exec (" << (tolerant ? "tolerant" : "failing")
              << " hook): " << dumpResultName(out.result) << " \"" << out.error << "\", returned "
              << std::chrono::duration_cast<std::chrono::milliseconds>(after_kill).count()
              << " ms after the kill\n";
    if (tolerant) {
      EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
      EXPECT_EQ(midKillHookStdout(t.path()),
                ready + "after\ntarget " + std::to_string(target.pid()) + " is gone\n");
    } else {
      EXPECT_EQ(out.result, DumpResult::kFailed);
      EXPECT_EQ(out.error.rfind("exited with status 3", 0), 0u) << out.error;
      EXPECT_EQ(midKillHookStdout(t.path()), ready + "after\n");
      EXPECT_THAT(slurp(t.path() + "/exec/stderr.txt"), HasSubstr("No such file or directory"));
    }
    // What it wrote is kept either way, its empty status.txt too (a plain file it made).
    EXPECT_EQ(midKillFiles(out),
              (std::set<std::string>{"exec/stdout.txt", "exec/stderr.txt", "exec/status.txt"}));
    midKillExpectArtifactsOnDisk(out, t.path());
    EXPECT_LT(after_kill, 5s);
  }
}

TEST(DumpTargetExit, ExecHookKilledFromOutsideIsFailedAndWhatItStartedEnds) {
  // Not the target: the hook itself, SIGKILLed by someone else (an operator, the OOM killer) while
  // a process it started still runs.
  MidKillTarget target({"/bin/sleep", "60"}, {});
  ASSERT_GT(target.pid(), 0);
  ExecDumper hook({"/bin/sh", "-c", "sleep 60 &\necho \"$$ $!\"\nwait\n"}, 30s);
  TempDir t;
  DumpRequest req = midKillRequest(t.path(), target.pid(), 60s);
  DumpOutcome out;
  std::thread dump([&] { out = hook.run(req); });
  pid_t shell = 0, sleeper = 0;
  bool started = oomsentinel::testing::eventually(
      [&] {
        std::istringstream line(midKillHookStdout(t.path()));
        return static_cast<bool>(line >> shell >> sleeper);
      },
      1000, 10);
  SystemClock clock;
  SteadyTime killed = clock.steadyNow();
  if (started) ::kill(shell, SIGKILL);
  dump.join();
  Duration after_kill = clock.steadyNow() - killed;
  ASSERT_TRUE(started) << midKillHookStdout(t.path());
  std::cout << "exec (hook killed): " << dumpResultName(out.result) << " \"" << out.error
            << "\", returned "
            << std::chrono::duration_cast<std::chrono::milliseconds>(after_kill).count()
            << " ms after the kill\n";
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error.rfind("killed by signal 9 (SIGKILL)", 0), 0u) << out.error;
  EXPECT_EQ(midKillFiles(out), (std::set<std::string>{"exec/stdout.txt", "exec/stderr.txt"}));
  midKillExpectArtifactsOnDisk(out, t.path());
  EXPECT_LT(after_kill, 5s);  // at the kill, not at the hook's 30 s timeout
  EXPECT_TRUE(goneWithin(sleeper, 5s)) << "pid " << sleeper << ", started by the hook, outlived it";
  EXPECT_TRUE(::kill(target.pid(), 0) == 0) << "the target was not the one killed";
}

// ---- proc ---------------------------------------------------------------------------------------

// A forked child with `count` one-page mappings (alternately read-only and writable, so that the
// kernel cannot merge them): its maps and smaps are long to read. It says "r" on a pipe once
// mapped, then waits to be killed.
class MidKillMappedChild {
 public:
  explicit MidKillMappedChild(int count) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      // Only system calls here: the test process has threads.
      for (int i = 0; i < count; ++i) {
        void* p = ::mmap(nullptr, 4096, (i % 2) ? PROT_READ : PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) ::_exit(3);
        if (i % 2 == 0) *static_cast<volatile char*>(p) = 1;  // resident: smaps has pages to count
      }
      char r = 'r';
      if (::write(fds[1], &r, 1) != 1) ::_exit(4);
      for (;;) ::pause();
    }
    ::close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    char r = 0;
    ready_ = pid_ > 0 && ::poll(&p, 1, 30000) == 1 && ::read(fds[0], &r, 1) == 1 && r == 'r';
    ::close(fds[0]);
  }
  ~MidKillMappedChild() { killAndReap(); }
  MidKillMappedChild(const MidKillMappedChild&) = delete;
  MidKillMappedChild& operator=(const MidKillMappedChild&) = delete;
  pid_t pid() const { return pid_; }
  bool ready() const { return ready_; }
  void killAndReap() {
    if (pid_ <= 0 || reaped_) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
  bool reaped_ = false;
};

// Waits (inotify) until `name` is created in `dir`; false after `limit`.
bool midKillCreatedIn(int inotify_fd, const std::string& name, Duration limit) {
  SystemClock clock;
  SteadyTime until = clock.steadyNow() + limit;
  alignas(inotify_event) char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock.steadyNow());
    if (left <= 0ms) return false;
    pollfd p{inotify_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(inotify_fd, buf, sizeof buf);
    for (ssize_t at = 0; n > 0 && at < n;) {
      auto* e = reinterpret_cast<inotify_event*>(buf + at);
      if (e->len > 0 && name == e->name) return true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

TEST(DumpTargetExit, ProcIsPartialNamingTheFilesWhenItsTargetIsKilledDuringTheCopy) {
  // 20,000 mappings: maps is about 1.5 MB, smaps about 30 MB of text the kernel makes as it is
  // read, so the copy is still going when the kill lands.
  MidKillMappedChild target(20000);
  ASSERT_TRUE(target.ready()) << "the child could not map its pages";
  const pid_t pid = target.pid();
  TempDir t;
  DumpRequest req = midKillRequest(t.path(), pid, 60s);
  ASSERT_NE(req.pid_starttime, 0u);
  int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ASSERT_GE(in, 0);
  ASSERT_GE(::inotify_add_watch(in, t.path().c_str(), IN_CREATE), 0);
  const std::string prefix = "proc-" + std::to_string(pid) + "-";
  ProcDumper d(HostPaths(), /*with_smaps=*/true);
  DumpOutcome out;
  std::thread dump([&] { out = d.run(req); });
  // Killed (and reaped) as soon as the copy of its maps begins: status and smaps_rollup are
  // copied, maps is being read, cmdline, oom_score, oom_score_adj and smaps are still to come.
  bool seen = midKillCreatedIn(in, prefix + "maps.txt", 30s);
  target.killAndReap();
  dump.join();
  ::close(in);
  ASSERT_TRUE(seen) << "the copy of maps never began";

  std::cout << "proc: " << dumpResultName(out.result) << " \"" << out.error << "\", took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(out.took).count()
            << " ms; kept:";
  for (const auto& a : out.artifacts) std::cout << " " << a.file << " (" << a.bytes << " B)";
  std::cout << "\n";
  EXPECT_EQ(out.result, DumpResult::kPartial) << out.error;
  EXPECT_THAT(out.error, HasSubstr("pid " + std::to_string(pid) + " exited during the copy"));
  // Copied while it lived, and its own: this pid's status, not named as doubtful.
  const std::string status = prefix + "status.txt";
  ASSERT_NE(midKillArtifact(out, status), nullptr) << out.error;
  EXPECT_THAT(slurp(t.path() + "/" + status), HasSubstr("\nPid:\t" + std::to_string(pid) + "\n"));
  EXPECT_THAT(out.error, Not(HasSubstr(status)));
  EXPECT_NE(midKillArtifact(out, prefix + "smaps_rollup.txt"), nullptr) << out.error;
  midKillExpectArtifactsOnDisk(out, t.path());
  // Never ok with a file missing or cut short: each file of the process is kept whole or named
  // in the error (kept but read at or after the exit, or not found once it had gone). Where the
  // kill lands among maps, cmdline, oom_score and oom_score_adj depends on the scheduler; smaps,
  // 30 MB begun after them, is always read after it.
  for (const char* f :
       {"status", "smaps_rollup", "maps", "cmdline", "oom_score", "oom_score_adj", "smaps"}) {
    const std::string file = prefix + f + ".txt";
    bool named = out.error.find(file) != std::string::npos;
    EXPECT_TRUE(named || midKillArtifact(out, file) != nullptr) << file << " is missing, unnamed";
    std::cout << "  " << file << (midKillArtifact(out, file) ? " kept" : " not kept")
              << (named ? ", named in the error\n" : "\n");
  }
  EXPECT_THAT(out.error, HasSubstr(prefix + "smaps.txt"));
  EXPECT_LT(out.took, 20s);
}

// ---- jvm ----------------------------------------------------------------------------------------

// What `ss -xl` shows as Recv-Q for the listening unix socket whose file is `path`: the
// connections made to it and not yet accepted (through NETLINK_SOCK_DIAG, so no ss is needed);
// -1 when no socket listens there. Matched by the file's inode: HotSpot binds its attach socket
// under another name and renames it.
// The backlog of the listening unix socket of inode `ino`: found by the inode, so a path that
// another test's clean-up removes meanwhile (pid numbers are reused: pid_max is 32768 here) does
// not hide it. -1 when there is none.
int midKillUnixBacklogOf(ino_t ino) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = 1u << 10;  // TCP_LISTEN
  msg.req.udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN;
  int found = -1;
  if (::send(fd, &msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg)) {
    alignas(nlmsghdr) char buf[32768];
    bool done = false;
    while (!done) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      int left = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = true;
          break;
        }
        auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
        int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
        bool ours = false;
        int backlog = -1;
        for (auto* a = reinterpret_cast<rtattr*>(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
          if (a->rta_type == UNIX_DIAG_VFS)
            ours = static_cast<unix_diag_vfs*>(RTA_DATA(a))->udiag_vfs_ino == ino;
          if (a->rta_type == UNIX_DIAG_RQLEN)
            backlog = static_cast<int>(static_cast<unix_diag_rqlen*>(RTA_DATA(a))->udiag_rqueue);
        }
        if (ours) found = backlog;
      }
    }
  }
  ::close(fd);
  return found;
}

int midKillUnixBacklog(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return midKillUnixBacklogOf(st.st_ino);
}

std::string midKillJcmdInPath() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/jcmd").c_str(), X_OK) == 0) return dir + "/jcmd";
  return "";
}

// The processes whose command line holds `words` (whole arguments, in that order, side by side).
std::vector<pid_t> midKillProcessesRunning(const std::string& words) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(HostPaths().procRoot(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    std::string cmdline = slurp(HostPaths().proc(pid, "cmdline"));
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if ((" " + cmdline).find(" " + words + " ") != std::string::npos) out.push_back(pid);
  }
  return out;
}

TEST(DumpTargetExit, JvmKilledWhileJcmdWaitsForItsHistogramIsFailedWithTheReason) {
  if (std::string(OOMSENTINEL_JAVA_LEAK).empty())
    GTEST_SKIP() << "no JDK 17 at configure time (default-jdk-headless): OOMSENTINEL_JAVA_LEAK is "
                    "empty";
  if (midKillJcmdInPath().empty()) GTEST_SKIP() << "jcmd is not in PATH (default-jdk-headless)";
  MidKillTarget jvm(
      {OOMSENTINEL_JAVA_LEAK, "--rate", "400MiB/s", "--chunk", "1MiB", "--max", "24MiB", "--hold"},
      {"JAVA_LEAK_OPTS=-Xmx128m -XX:+UseSerialGC"});
  ASSERT_GT(jvm.pid(), 0);
  ASSERT_TRUE(jvm.waitFor(" hold ", 30s)) << jvm.output();
  const std::string socket = "/tmp/.java_pid" + std::to_string(jvm.pid());
  struct SocketGoes {
    std::string path;
    ~SocketGoes() { ::unlink(path.c_str()); }  // a SIGKILLed JVM leaves its attach socket
  } socket_goes{socket};

  // The control: the same dump of the living JVM is ok (and starts its attach listener).
  TempDir first;
  JvmDumpSpec spec;
  spec.attach = JvmAttach::kJcmd;  // the direct child is the next test's
  auto ok = JvmDumper(spec).run(midKillRequest(first.path(), jvm.pid(), 60s));
  ASSERT_EQ(ok.result, DumpResult::kOk) << ok.error;
  ASSERT_EQ(midKillUnixBacklog(socket), 0) << "no attach socket listening at " << socket;
  struct stat listening_st {};
  ASSERT_EQ(::stat(socket.c_str(), &listening_st), 0);
  const ino_t listening = listening_st.st_ino;

  // Stopped, the JVM accepts no connection: jcmd connects and waits for the histogram, and the
  // connections wait in the listening socket's backlog, where the test sees them. JDK 17's jcmd
  // connects twice (a probe it closes, then the command), so 2 means the command was sent.
  ASSERT_EQ(::kill(jvm.pid(), SIGSTOP), 0);
  TempDir t;
  DumpRequest req = midKillRequest(t.path(), jvm.pid(), 60s);
  DumpOutcome out;
  std::thread dump([&] { out = JvmDumper(spec).run(req); });
  bool waiting = oomsentinel::testing::eventually(
      [&] { return midKillUnixBacklogOf(listening) >= 2; }, 3000, 10);
  // This JVM's jcmd (others may run beside this test): `jcmd <pid> GC.class_histogram`.
  std::vector<pid_t> jcmds =
      midKillProcessesRunning(std::to_string(jvm.pid()) + " GC.class_histogram");
  SystemClock clock;
  SteadyTime killed = clock.steadyNow();
  jvm.killAndReap();
  dump.join();
  Duration after_kill = clock.steadyNow() - killed;
  ASSERT_TRUE(waiting) << "jcmd never sent its command";

  std::cout << "jvm: " << dumpResultName(out.result) << " \"" << out.error << "\", returned "
            << std::chrono::duration_cast<std::chrono::milliseconds>(after_kill).count()
            << " ms after the kill\n";
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error.rfind("jcmd GC.class_histogram: ", 0), 0u) << out.error;
  EXPECT_GT(out.error.size(), std::string("jcmd GC.class_histogram: ").size());
  // No half histogram, nothing else.
  EXPECT_TRUE(out.artifacts.empty());
  EXPECT_TRUE(std::filesystem::is_empty(t.path())) << "the bundle is not empty";
  // Ended by the exit, not by jcmd's 20 s command timeout, and jcmd with it.
  EXPECT_LT(after_kill, 10s);
  EXPECT_EQ(jcmds.size(), 1u) << "jcmd was not found running";
  for (pid_t p : jcmds)
    EXPECT_TRUE(goneWithin(p, 2s)) << "jcmd (pid " << p << ") outlived the dump";
}

TEST(DumpTargetExit, JvmKilledWhileTheDirectAttachWaitsForItsHistogramIsFailedWithTheReason) {
  if (std::string(OOMSENTINEL_JAVA_LEAK).empty())
    GTEST_SKIP() << "no JDK 17 at configure time (default-jdk-headless): OOMSENTINEL_JAVA_LEAK is "
                    "empty";
  MidKillTarget jvm(
      {OOMSENTINEL_JAVA_LEAK, "--rate", "400MiB/s", "--chunk", "1MiB", "--max", "24MiB", "--hold"},
      {"JAVA_LEAK_OPTS=-Xmx128m -XX:+UseSerialGC"});
  ASSERT_GT(jvm.pid(), 0);
  ASSERT_TRUE(jvm.waitFor(" hold ", 30s)) << jvm.output();
  const std::string socket = "/tmp/.java_pid" + std::to_string(jvm.pid());
  struct SocketGoes {
    std::string path;
    ~SocketGoes() { ::unlink(path.c_str()); }
  } socket_goes{socket};
  ::unlink(socket.c_str());  // a stale one of an earlier JVM with this pid

  // The control, which also starts the listener (the direct child's own handshake).
  TempDir first;
  auto ok = JvmDumper().run(midKillRequest(first.path(), jvm.pid(), 60s));
  ASSERT_EQ(ok.result, DumpResult::kOk) << ok.error;
  ASSERT_EQ(midKillUnixBacklog(socket), 0) << "no attach socket listening at " << socket;
  struct stat listening_st {};
  ASSERT_EQ(::stat(socket.c_str(), &listening_st), 0);
  const ino_t listening = listening_st.st_ino;

  // Stopped, the JVM accepts no connection: the child's one connection waits in the backlog.
  ASSERT_EQ(::kill(jvm.pid(), SIGSTOP), 0);
  TempDir t;
  DumpRequest req = midKillRequest(t.path(), jvm.pid(), 60s);
  DumpOutcome out;
  std::thread dump([&] { out = JvmDumper().run(req); });
  bool waiting = oomsentinel::testing::eventually(
      [&] { return midKillUnixBacklogOf(listening) >= 1; }, 3000, 10);
  SystemClock clock;
  SteadyTime killed = clock.steadyNow();
  jvm.killAndReap();
  dump.join();
  Duration after_kill = clock.steadyNow() - killed;
  ASSERT_TRUE(waiting) << "the direct child never connected";

  std::cout << "jvm (direct): " << dumpResultName(out.result) << " \"" << out.error
            << "\", returned "
            << std::chrono::duration_cast<std::chrono::milliseconds>(after_kill).count()
            << " ms after the kill\n";
  EXPECT_EQ(out.result, DumpResult::kFailed);
  EXPECT_EQ(out.error.rfind("attach GC.class_histogram: ", 0), 0u) << out.error;
  EXPECT_TRUE(out.artifacts.empty());
  EXPECT_TRUE(std::filesystem::is_empty(t.path())) << "the bundle is not empty";
  EXPECT_LT(after_kill, 10s);
}

}  // namespace
}  // namespace oomsentinel
