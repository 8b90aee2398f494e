// Attacker's review of the direct attach on the dump thread (commit 93cffe2, issue 23): proofs.
// Each test forks where the daemon could die (std::abort in ThreadIds), so that the test binary
// survives to report it. Findings 1 and 2 were fixed (~ThreadIds restores the capabilities right
// after the uid): their tests are regression tests now. DISABLED_ tests state what the daemon
// should do about findings 3 and 4, still open (docs/security.md rule 4), and fail today.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dumpers/jvm_attach.h"
#include "dumpers/jvm_dumper.h"
#include "tests/support/stalling_fuse.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/spawned_target.h"

namespace oomsentinel {
namespace {

using namespace std::chrono_literals;

constexpr pid_t kAttackNspid = 4242;

// A socket at `path`, bound (and listening when `listen`), owned by uid/gid; -1 on failure.
int attackBoundSocket(const std::string& path, uid_t uid, gid_t gid, bool listen) {
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ::unlink(path.c_str());
  if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (listen && ::listen(s, 4) != 0) || ::chown(path.c_str(), uid, gid) != 0 ||
      ::chmod(path.c_str(), 0600) != 0) {
    if (s >= 0) ::close(s);
    return -1;
  }
  return s;
}

// Runs `body` in a forked child (the "daemon"); what became of the child: "exit N" or
// "signal N (name)".
template <typename Body>
std::string attackInChild(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "?";
}

AttachOutcome attackAsk(int tmp_fd, uid_t uid, gid_t gid) {
  AttachTarget t{tmp_fd, -1, kAttackNspid, uid, gid, false};
  SystemClock clock;
  return attachAndAsk(t, "GC.class_histogram", AttachSink{}, clock.steadyNow() + 500ms, clock);
}

// FINDING 1 (real defect, DoS): a JVM whose euid is 0 and egid is not (a container run as
// `--user 0:1000`, Kubernetes runAsUser: 0 with runAsGroup: 1000) kills the daemon. become()
// leaves the euid at 0, so the kernel does not refill the effective set on the way back;
// capset() emptied it, and ~ThreadIds calls setgroups() (needs CAP_SETGID) before capset():
// EPERM, then std::abort(). Any socket owned by uid 0 at /tmp/.java_pid<nspid> is enough; here
// one nobody listens on (the connect is refused, the ids are switched and restored all the same).
// Fails on 93cffe2: the child dies by SIGABRT ("cannot restore a dump thread's ids; stopping").
TEST(AttachAttack, AJvmOfUidZeroWithAnotherGroupDoesNotStopTheDaemon) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testing::TempDir dir;
  int s =
      attackBoundSocket(dir.path() + "/.java_pid" + std::to_string(kAttackNspid), 0, 1000, false);
  ASSERT_GE(s, 0);
  int tmp = ::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  std::string fate = attackInChild([&] {
    AttachOutcome o = attackAsk(tmp, 0, 1000);
    ::_exit(o.exit == kAttachConnect && ::syscall(SYS_geteuid) == 0 ? 0 : 3);
  });
  ::close(tmp);
  ::close(s);
  EXPECT_EQ(fate, "exit 0") << "the daemon died attaching to a JVM of uid 0, gid 1000";
}

// FINDING 1, end to end: JvmDumper (direct attach) against a process of uid 0 and gid 1000 that
// looks like a JVM (catches SIGQUIT, a listening socket of its user at /tmp/.java_pid<pid> that
// answers a histogram). Its ids come from /proc/<pid>/status; the daemon (the forked child)
// aborts. Fails on 93cffe2 (SIGABRT); with the fix, the dump is kOk.
TEST(AttachAttack, JvmDumperSurvivesAContainerRunAsUidZeroGid1000) {
  if (::geteuid() != 0 || ::access("/usr/bin/setpriv", X_OK) != 0)
    GTEST_SKIP() << "needs root and setpriv(1)";
  testing::SpawnedTarget jvm({"/usr/bin/setpriv", "--regid=1000", "--clear-groups", "/bin/sh", "-c",
                              "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"},
                             {});
  ASSERT_TRUE(jvm.waitFor("ready", 10s));
  std::string path = "/tmp/.java_pid" + std::to_string(jvm.pid());
  int s = attackBoundSocket(path, 0, 1000, true);
  ASSERT_GE(s, 0);
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    while (!stop) {
      pollfd p{s, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[2048];
      (void)!::read(c, buf, sizeof buf);
      static const char kReply[] = "0\n num     #instances         #bytes  class name\n";
      (void)!::send(c, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  });
  testing::TempDir dir;
  std::string fate = attackInChild([&] {
    DumpRequest req;
    req.target = "java";
    req.rule = "oom-imminent";
    req.pid = jvm.pid();
    req.dir = dir.path();
    req.deadline = std::chrono::steady_clock::now() + 5s;
    req.max_bytes = 1 << 20;
    DumpOutcome out = JvmDumper().run(req);
    ::_exit(out.result == DumpResult::kOk ? 0 : 3);
  });
  stop = true;
  listener.join();
  ::close(s);
  ::unlink(path.c_str());
  EXPECT_EQ(fate, "exit 0") << "the daemon died dumping a JVM of uid 0, gid 1000";
}

// FINDING 2 (real defect where it applies): a daemon that is not root but holds CAP_SETUID and
// CAP_SETGID (the case become()'s own comment names) aborts on every direct attach: capset()
// emptied the effective set, the way back to a non-0 euid does not refill it, and setgroups()
// comes before capset() in ~ThreadIds. Fails on 93cffe2 (SIGABRT).
TEST(AttachAttack, ADaemonThatIsNotRootButHasCapabilitiesGetsItsIdsBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testing::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  int s = attackBoundSocket(dir.path() + "/.java_pid" + std::to_string(kAttackNspid), 65534, 65534,
                            true);
  ASSERT_GE(s, 0);
  int tmp = ::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  std::string fate = attackInChild([&] {
    // The daemon as uid 10001 keeping CAP_SETUID, CAP_SETGID (and the rest it had) effective.
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0 || ::syscall(SYS_setresgid, 10001, 10001, 10001) != 0 ||
        ::syscall(SYS_setresuid, 10001, 10001, 10001) != 0)
      ::_exit(4);
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct c[2]{};
    if (::syscall(SYS_capget, &h, c) != 0) ::_exit(5);
    c[0].effective = c[0].permitted;
    c[1].effective = c[1].permitted;
    if (::syscall(SYS_capset, &h, c) != 0) ::_exit(6);
    AttachOutcome o = attackAsk(tmp, 65534, 65534);
    // The listener never answers: the deadline ends it; the ids must be ours again.
    ::_exit(o.exit == kAttachTimedOut && ::syscall(SYS_geteuid) == 10001 ? 0 : 3);
  });
  ::close(tmp);
  ::close(s);
  EXPECT_EQ(fate, "exit 0") << "a non-root daemon with CAP_SETUID/CAP_SETGID died attaching";
}

// FINDING 3 (hardening, open; DISABLED_: fails today): the socket is checked for its type and owner
// only, not for whose it is. A socket of another process of the JVM's uid (another JVM: a hard
// link, or a bind mount into the JVM's /tmp) is spoken to, and its answer becomes this JVM's
// histogram. SO_PEERCRED on the connection names the listener's pid; it is not compared with the
// JVM's. Here the "JVM" is pid 1's namespace number kAttackNspid, and the listener is this test.
// What it should do: refuse a listener whose SO_PEERCRED pid is not the JVM's (jcmd has the same
// gap). The fix needs the tests' fake JVMs to listen from the target process itself.
TEST(AttachAttack, DISABLED_AnotherProcesssSocketLinkedIntoTheJvmsTmpIsNotSpokenTo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testing::TempDir jvm_tmp, elsewhere;
  int s = attackBoundSocket(elsewhere.path() + "/other.sock", 65534, 65534, true);
  ASSERT_GE(s, 0);
  ASSERT_EQ(::link((elsewhere.path() + "/other.sock").c_str(),
                   (jvm_tmp.path() + "/.java_pid" + std::to_string(kAttackNspid)).c_str()),
            0);
  std::atomic<bool> stop{false};
  std::thread other([&] {
    while (!stop) {
      pollfd p{s, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      char buf[2048];
      (void)!::read(c, buf, sizeof buf);
      static const char kReply[] = "0\nanother JVM's histogram\n";
      (void)!::send(c, kReply, sizeof kReply - 1, MSG_NOSIGNAL);
      ::close(c);
    }
  });
  int tmp = ::open(jvm_tmp.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  AttachOutcome o = attackAsk(tmp, 65534, 65534);
  stop = true;
  other.join();
  ::close(tmp);
  ::close(s);
  EXPECT_EQ(o.exit, kAttachBadSocket) << o.reason;
  EXPECT_NE(o.text, "another JVM's histogram\n")
      << "the reply came from a process that is not the JVM (its SO_PEERCRED pid is " << ::getpid()
      << ")";
}

// FINDING 4 (real defect of the deadline, a hardening of the daemon's robustness): a JVM whose
// /tmp is a FUSE mount it serves (made in the init user namespace, user_id=0 or allow_other: a
// privileged container, or CAP_SYS_ADMIN without a user namespace, with /dev/fuse) holds
// the dump thread past the exchange's deadline: holdSocket's openat (and waitForSocket's
// fstatat) wait on the FUSE server, with no bound. The runner's stuck-dumper accounting bounds
// the damage (issue 18), not attachAndAsk's "returns by the deadline" promise. holdJvm's own
// fstatat of the socket has the same wait in both attach modes. Fails on 93cffe2.
TEST(AttachAttack, DISABLED_AStalledFuseTmpDoesNotHoldTheExchangePastItsDeadline) {
  if (!test::StallingFuse::unavailable().empty())
    GTEST_SKIP() << "no FUSE mount here: " << test::StallingFuse::unavailable();
  testing::TempDir dir;
  std::string mnt = dir.path() + "/tmp";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string why;
  auto fuse = test::StallingFuse::mount(mnt, &why);
  ASSERT_TRUE(fuse) << why;
  int tmp = ::open(mnt.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  std::atomic<bool> returned{false};
  std::thread dump([&] {
    attackAsk(tmp, 65534, 65534);  // deadline: 500 ms
    returned = true;
  });
  auto until = std::chrono::steady_clock::now() + 3s;
  while (!returned && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  bool in_time = returned;
  fuse.reset();  // aborts the connection: the lookup fails, the thread returns
  dump.join();
  ::close(tmp);
  EXPECT_TRUE(in_time) << "attachAndAsk was still waiting on the JVM's FUSE /tmp 2.5 s past its "
                          "500 ms deadline";
}

// A FUSE file system (init user namespace, allow_other, default_permissions: what a privileged
// container can mount on its /tmp) with one entry, /.java_pid<kAttackNspid>, a socket of uid
// 65534. It answers every request made as root and none made as uid 65534: the permission check
// of the connect, made while the dump thread has the JVM's ids.
class AttackFuse {
 public:
  bool mount(const std::string& dir, std::string& why) {
    dir_ = dir;
    fd_ = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    std::string opts = "fd=" + std::to_string(fd_) +
                       ",rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
    if (fd_ < 0 ||
        ::mount("attack", dir.c_str(), "fuse.attack", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      why = std::string("mount: ") + std::strerror(errno);
      return false;
    }
    mounted_ = true;
    thread_ = std::thread([this] { serve(); });
    return true;
  }
  ~AttackFuse() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);  // aborts the connection: the stalled request fails
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  std::atomic<pid_t> stalled_tid{0};  // the thread whose request was not answered

 private:
  template <typename T>
  void reply(std::uint64_t unique, const T& body) {
    struct {
      fuse_out_header h;
      T b;
    } r{};
    r.h.len = sizeof r;
    r.h.unique = unique;
    r.b = body;
    (void)!::write(fd_, &r, sizeof r);
  }
  void fail(std::uint64_t unique, int err) {
    fuse_out_header h{sizeof h, -err, unique};
    (void)!::write(fd_, &h, sizeof h);
  }
  static fuse_attr attr(std::uint64_t node) {
    fuse_attr a{};
    a.ino = node;
    a.nlink = 1;
    a.mode = node == 1 ? (S_IFDIR | 0777) : (S_IFSOCK | 0600);
    a.uid = a.gid = node == 1 ? 0 : 65534;
    return a;
  }
  void serve() {
    std::vector<char> buf(FUSE_MIN_READ_BUFFER + (1 << 20));
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n < static_cast<ssize_t>(sizeof(fuse_in_header))) continue;
      fuse_in_header in;
      std::memcpy(&in, buf.data(), sizeof in);
      const char* arg = buf.data() + sizeof in;
      if (in.opcode == FUSE_INIT) {
        fuse_init_in init;
        std::memcpy(&init, arg, sizeof init);
        fuse_init_out o{};
        o.major = FUSE_KERNEL_VERSION;
        o.minor = std::min<std::uint32_t>(init.minor, FUSE_KERNEL_MINOR_VERSION);
        o.max_readahead = init.max_readahead;
        o.max_write = 1 << 16;
        o.max_background = 16;
        o.congestion_threshold = 12;
        reply(in.unique, o);
      } else if (in.opcode == FUSE_FORGET || in.opcode == FUSE_BATCH_FORGET) {
      } else if (in.uid != 0) {
        stalled_tid = static_cast<pid_t>(in.pid);  // never answered
      } else if (in.opcode == FUSE_LOOKUP && in.nodeid == 1 &&
                 std::string(arg) == ".java_pid" + std::to_string(kAttackNspid)) {
        fuse_entry_out e{};
        e.nodeid = 2;
        e.generation = 1;
        e.attr = attr(2);
        reply(in.unique, e);
      } else if (in.opcode == FUSE_GETATTR && (in.nodeid == 1 || in.nodeid == 2)) {
        fuse_attr_out a{};
        a.attr = attr(in.nodeid);
        reply(in.unique, a);
      } else {
        fail(in.unique, in.opcode == FUSE_LOOKUP ? ENOENT : ENOSYS);
      }
    }
  }
  std::string dir_;
  int fd_ = -1;
  bool mounted_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// FINDING 4b (hardening, open; DISABLED_: fails today): the same FUSE /tmp can hold the dump thread
// in the middle of the exchange *with the JVM's ids*: connect()'s permission check on the held
// inode (default_permissions) asks the FUSE server, as uid 65534, and waits. The thread stays
// there, euid 65534, past the deadline, for as long as the server wishes (real and saved uid 0: no
// signal or ptrace of the JVM's user reaches it). Abandoned by the runner, it counts as stuck.
// What it should do: end by the deadline (and so never wait with the JVM's ids).
TEST(AttachAttack, DISABLED_AFuseTmpDoesNotHoldTheDumpThreadWithTheJvmsIds) {
  if (!test::StallingFuse::unavailable().empty())
    GTEST_SKIP() << "no FUSE mount here: " << test::StallingFuse::unavailable();
  testing::TempDir dir;
  std::string mnt = dir.path() + "/tmp";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string why;
  auto fuse = std::make_unique<AttackFuse>();
  ASSERT_TRUE(fuse->mount(mnt, why)) << why;
  int tmp = ::open(mnt.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  std::atomic<bool> returned{false};
  std::thread dump([&] {
    attackAsk(tmp, 65534, 65534);  // deadline: 500 ms
    returned = true;
  });
  std::this_thread::sleep_for(2s);
  std::string uid_line;
  if (pid_t tid = fuse->stalled_tid; tid != 0) {
    std::string status = testing::slurp("/proc/self/task/" + std::to_string(tid) + "/status");
    auto at = status.find("Uid:");
    if (at != std::string::npos) uid_line = status.substr(at, status.find('\n', at) - at);
  }
  bool still_there = !returned;
  fuse.reset();  // aborts the connection: the thread comes back and restores its ids
  dump.join();
  ::close(tmp);
  EXPECT_FALSE(still_there) << "the exchange was still waiting 1.5 s past its deadline, "
                            << (uid_line.empty() ? "" : "as the kernel shows it: " + uid_line);
  EXPECT_TRUE(returned);
}

// Checked, not a defect (passes): while the dump thread is held with the JVM's ids (the FUSE
// stall above), a process of the JVM's uid can neither signal it (kill_ok_by_cred compares the
// thread's real and saved uid, 0), nor ptrace it or open its memory (__ptrace_may_access wants
// all three uids; the process is non-dumpable too); its /proc files are root's (its /proc
// directory shows euid 65534 meanwhile: cosmetic).
TEST(AttachAttack, TheJvmsUserCannotSignalNorTraceTheHeldThread) {
  if (!test::StallingFuse::unavailable().empty())
    GTEST_SKIP() << "no FUSE mount here: " << test::StallingFuse::unavailable();
  testing::TempDir dir;
  std::string mnt = dir.path() + "/tmp";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string why;
  auto fuse = std::make_unique<AttackFuse>();
  ASSERT_TRUE(fuse->mount(mnt, why)) << why;
  int tmp = ::open(mnt.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(tmp, 0);
  std::thread dump([&] { attackAsk(tmp, 65534, 65534); });
  for (int i = 0; i < 300 && fuse->stalled_tid == 0; ++i) std::this_thread::sleep_for(10ms);
  pid_t tid = fuse->stalled_tid, self = ::getpid();
  std::string task = "/proc/" + std::to_string(self) + "/task/" + std::to_string(tid);
  struct stat dir_st {
  }, mem_st{};
  int stat_rc = ::stat(task.c_str(), &dir_st) | ::stat((task + "/mem").c_str(), &mem_st);
  std::string fate = attackInChild([&] {
    if (::syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
        ::syscall(SYS_setresuid, 65534, 65534, 65534) != 0)
      ::_exit(4);
    if (::syscall(SYS_tgkill, self, tid, 0) == 0 || errno != EPERM) ::_exit(5);
    if (::ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) == 0 || errno != EPERM) ::_exit(6);
    if (::open((task + "/mem").c_str(), O_RDONLY | O_CLOEXEC) >= 0) ::_exit(7);
    ::_exit(0);
  });
  fuse.reset();
  dump.join();
  ::close(tmp);
  ASSERT_NE(tid, 0) << "the thread was not held";
  EXPECT_EQ(fate, "exit 0") << "5: tgkill, 6: ptrace, 7: mem of the held thread by uid 65534";
  EXPECT_EQ(stat_rc, 0);
  EXPECT_EQ(mem_st.st_uid, 0u) << task << "/mem is the JVM user's";
  // The kernel's rule (task_dump_owner): a 0555 directory of /proc shows the task's euid whether
  // dumpable or not. Cosmetic: procfs refuses chmod, and what is inside is checked by
  // __ptrace_may_access or owned by root.
  EXPECT_EQ(dir_st.st_uid, 65534u) << task;
}

}  // namespace
}  // namespace oomsentinel
