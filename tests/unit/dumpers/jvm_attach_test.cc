#include "dumpers/jvm_attach.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"
#include "tests/unit/dumpers/spawned_target.h"

namespace oomsentinel {
namespace {

using namespace std::string_literals;
using namespace std::chrono_literals;

TEST(JvmAttachRequest, IsProtocolOneWithTheCommandLineAndTwoEmptyArguments) {
  // What jcmd (sun.tools.attach.VirtualMachineImpl of JDK 17) sends for `jcmd PID
  // GC.class_histogram -all`: the version, the operation, then exactly three arguments, each ended
  // by a NUL.
  EXPECT_EQ(*attachRequest("GC.class_histogram -all"), "1\0jcmd\0GC.class_histogram -all\0\0\0"s);
  EXPECT_EQ(*attachRequest("VM.version"), "1\0jcmd\0VM.version\0\0\0"s);
}

TEST(JvmAttachRequest, RefusesWhatHotSpotWouldNotTake) {
  EXPECT_FALSE(attachRequest(std::string(1025, 'a')).ok());
  EXPECT_FALSE(attachRequest("GC.heap_dump /tmp/a\0b"s).ok());
  ASSERT_TRUE(attachRequest(std::string(1024, 'a')).ok());
  EXPECT_EQ(attachRequest(std::string(1024, 'a'))->size(), 7u + 1024u + 3u);
}

TEST(JvmAttachStatus, ReadsTheStatusLineAndWhereTheBodyStarts) {
  auto ok = parseAttachStatus("0\n num     #instances");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 0);
  EXPECT_EQ(ok->body, 2u);
  // A JDK 17 JVM's answer to an unknown command.
  auto refused =
      parseAttachStatus("-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, -1);
  EXPECT_EQ(refused->body, 3u);
  auto longest = parseAttachStatus("-123456789\n");
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->status, -123456789);
  EXPECT_EQ(longest->body, 11u);
}

TEST(JvmAttachStatus, GarbageOrAnUnfinishedLineIsNoStatus) {
  for (std::string bad :
       {""s, "\n"s, "-\n"s, "0"s, "12"s, "x\n"s, "0 \n"s, " 0\n"s, "HTTP/1.1 200 OK\r\n"s,
        "1234567890\n"s, "-1234567890\n"s, "--1\n"s, std::string(1 << 20, '7')})
    EXPECT_FALSE(parseAttachStatus(bad)) << bad.substr(0, 20);
}

// The real clock, injected as the dumper injects it.
const Clock& attachTestClock() {
  static const SystemClock clock;
  return clock;
}

// attachAndAsk on the calling thread, against a listener of the test's own at
// /tmp/.java_pid<pid> of a shell (the "JVM"): what the exchange leaves behind in this process.
struct AttachThreadRig {
  explicit AttachThreadRig(uid_t owner = 0) : owner_(owner) {}
  ~AttachThreadRig() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_ >= 0) ::close(listen_);
    ::unlink(socketPath().c_str());
    if (pidfd_ >= 0) ::close(pidfd_);
    if (tmp_ >= 0) ::close(tmp_);
  }
  // The shell, /tmp held, the listener bound (chowned to `owner`) and answering `reply` to every
  // connection, after reading the request's five NULs.
  bool start(const std::string& reply) {
    if (!shell_.waitFor("ready", 10s)) return false;
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, shell_.pid(), 0));
    tmp_ = ::open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ::unlink(socketPath().c_str());
    listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socketPath().c_str());
    if (pidfd_ < 0 || tmp_ < 0 || listen_ < 0 ||
        ::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_, 4) != 0 || ::chown(socketPath().c_str(), owner_, owner_) != 0)
      return false;
    thread_ = std::thread([this, reply] {
      while (!stop_) {
        pollfd p{listen_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        ucred cred{};
        socklen_t len = sizeof cred;
        ::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len);
        peers_.push_back(cred);
        std::string req;
        char buf[512];
        while (std::count(req.begin(), req.end(), '\0') < 5) {
          ssize_t n = ::read(c, buf, sizeof buf);
          if (n <= 0) break;
          req.append(buf, static_cast<std::size_t>(n));
        }
        for (std::string_view r = reply; !r.empty() && !stop_;) {
          ssize_t n = ::send(c, r.data(), r.size(), MSG_NOSIGNAL);
          if (n <= 0) break;
          r.remove_prefix(static_cast<std::size_t>(n));
        }
        ::close(c);
      }
    });
    return true;
  }
  AttachTarget target() const {
    return {tmp_, pidfd_, shell_.pid(), owner_, static_cast<gid_t>(owner_), true};
  }
  std::string socketPath() const { return "/tmp/.java_pid" + std::to_string(shell_.pid()); }
  std::vector<ucred> peers;  // filled from peers_ after the listener stopped
  void stopListening() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    peers = peers_;
  }

 private:
  uid_t owner_;
  testing::SpawnedTarget shell_{
      {"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"}, {}};
  int pidfd_ = -1, tmp_ = -1, listen_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<ucred> peers_;
  std::thread thread_;
};

// This thread's ids, groups and capabilities, as the kernel has them.
struct AttachThreadCreds {
  long euid = -1, egid = -1;
  std::vector<gid_t> groups;
  __user_cap_data_struct caps[2]{};
  static AttachThreadCreds now() {
    AttachThreadCreds c;
    c.euid = ::syscall(SYS_geteuid);
    c.egid = ::syscall(SYS_getegid);
    c.groups.resize(static_cast<std::size_t>(::syscall(SYS_getgroups, 0, nullptr)));
    ::syscall(SYS_getgroups, c.groups.size(), c.groups.data());
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    ::syscall(SYS_capget, &h, c.caps);
    return c;
  }
  bool operator==(const AttachThreadCreds& o) const {
    return euid == o.euid && egid == o.egid && groups == o.groups &&
           std::memcmp(caps, o.caps, sizeof caps) == 0;
  }
};

TEST(JvmAttachThread, TheDumpThreadItselfConnectsAsTheJvmsUserAndGetsItsOwnIdsBack) {
  // No child: no copy of the daemon's memory ever runs as the JVM's user (the peer is this very
  // process), and the thread is root again afterwards, with the capabilities it had.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to take another uid)";
  AttachThreadRig rig(65534);
  ASSERT_TRUE(rig.start("0\nhello\n"));
  auto before = AttachThreadCreds::now();
  AttachOutcome o = attachAndAsk(rig.target(), "GC.class_histogram", AttachSink{},
                                 attachTestClock().steadyNow() + 5s, attachTestClock());
  auto after = AttachThreadCreds::now();
  rig.stopListening();
  ASSERT_EQ(o.exit, kAttachOk) << o.reason;
  EXPECT_EQ(o.text, "hello\n");
  ASSERT_EQ(rig.peers.size(), 1u);
  EXPECT_EQ(rig.peers[0].pid, ::getpid()) << "the exchange ran in this process, no child";
  EXPECT_EQ(rig.peers[0].uid, 65534u);
  EXPECT_EQ(rig.peers[0].gid, 65534u);
  EXPECT_TRUE(before == after) << "ids, groups or capabilities not restored";
  EXPECT_EQ(after.euid, 0);
}

TEST(JvmAttachThread, TheBodyIsCutAtItsCapAndNotWrittenPastIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  AttachThreadRig rig;
  ASSERT_TRUE(rig.start("0\n" + std::string(3 << 20, 'x')));
  testing::TempDir dir;
  int fd = ::open((dir.path() + "/out").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  AttachSink sink;
  sink.fd = fd;
  sink.max_bytes = 1 << 20;
  AttachOutcome o = attachAndAsk(rig.target(), "GC.class_histogram", sink,
                                 attachTestClock().steadyNow() + 5s, attachTestClock());
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  EXPECT_EQ(o.exit, kAttachOk) << o.reason;
  EXPECT_TRUE(o.cut);
  EXPECT_EQ(o.body_bytes, 1u << 20);
  EXPECT_EQ(st.st_size, 1 << 20) << "nothing past the cap reached the disk";
  // Into a string: its own cap.
  AttachSink text;
  text.max_text = 1000;
  AttachOutcome t = attachAndAsk(rig.target(), "GC.class_histogram", text,
                                 attachTestClock().steadyNow() + 5s, attachTestClock());
  EXPECT_TRUE(t.cut);
  EXPECT_EQ(t.text.size(), 1000u);
}

TEST(JvmAttachThread, ARefusalCarriesTheJvmsReasonAndSilenceEndsAtTheDeadline) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  {
    AttachThreadRig rig;
    ASSERT_TRUE(rig.start("-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n"));
    AttachOutcome o = attachAndAsk(rig.target(), "Nope", AttachSink{},
                                   attachTestClock().steadyNow() + 5s, attachTestClock());
    EXPECT_EQ(o.exit, kAttachRefused);
    EXPECT_EQ(o.reason, "java.lang.IllegalArgumentException: Unknown diagnostic command");
  }
  {
    AttachThreadRig rig;
    ASSERT_TRUE(rig.start(""));  // closes without a word
    AttachOutcome o = attachAndAsk(rig.target(), "GC.class_histogram", AttachSink{},
                                   attachTestClock().steadyNow() + 5s, attachTestClock());
    EXPECT_EQ(o.exit, kAttachIo);
    EXPECT_EQ(o.reason, "the JVM closed the connection without answering");
  }
  {
    AttachThreadRig rig;
    ASSERT_TRUE(rig.start("0\n"));
    // The listener answers only after reading the request's five NULs; a request for which it
    // never comes cannot be made (the command is checked), so silence is the shell: a target
    // whose socket nobody accepts on. Bind a second socket that is never accepted on.
    ::unlink(rig.socketPath().c_str());
    int mute = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", rig.socketPath().c_str());
    ASSERT_EQ(::bind(mute, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(mute, 4), 0);
    auto start = attachTestClock().steadyNow();
    AttachOutcome o = attachAndAsk(rig.target(), "GC.class_histogram", AttachSink{}, start + 500ms,
                                   attachTestClock());
    auto took = attachTestClock().steadyNow() - start;
    ::close(mute);
    EXPECT_EQ(o.exit, kAttachTimedOut) << o.reason;
    EXPECT_EQ(o.reason, "the reply did not end");
    EXPECT_GE(took, 490ms);
    EXPECT_LT(took, 2s);
  }
}

}  // namespace
}  // namespace oomsentinel
