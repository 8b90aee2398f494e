#include "dumpers/exec_dumper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/host_paths.h"
#include "dumpers/artifact.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/gone_within.h"
#include "tests/unit/dumpers/reduced_privileges.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using oomsentinel::testing::slurp;

using namespace std::chrono_literals;
using testing::goneWithin;
using testing::TempDir;

DumpRequest execRequest(const TempDir& dir, Duration deadline = 30s) {
  DumpRequest req;
  req.target = "app";
  req.rule = "oom-imminent";
  req.pid = 4242;
  req.dir = dir.path();
  req.deadline = SystemClock().steadyNow() + deadline;
  req.max_bytes = 1 << 20;
  return req;
}

// The test's helper programs are shell scripts; the dumper runs its argv without a shell.
ExecDumper script(const std::string& text, Duration timeout = 10s) {
  return ExecDumper({"/bin/sh", "-c", text}, timeout);
}

std::vector<std::string> execArtifactFiles(const DumpOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.artifacts) out.push_back(a.file);
  return out;
}

const Artifact* find(const DumpOutcome& o, const std::string& file) {
  for (const auto& a : o.artifacts)
    if (a.file == file) return &a;
  return nullptr;
}

TEST(ExecDumper, PassesTheIncidentAndCollectsWhatItWrote) {
  TempDir dir;
  dir.write("status.txt", "another dumper's file\n");
  auto d = script(
      "echo \"$OOMSENTINEL_TARGET $OOMSENTINEL_RULE $OOMSENTINEL_PID\"\n"
      "echo warning >&2\n"
      "cd \"$OOMSENTINEL_INCIDENT_DIR\" || exit 9\n"
      "echo data > extra.txt\n"
      "mkdir sub && echo deeper > sub/y.txt\n"
      "ln -s /etc/passwd link\n");
  EXPECT_STREQ(d.name(), "exec");
  auto out = d.run(execRequest(dir));
  EXPECT_EQ(out.dumper, "exec");
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  // The link is neither followed nor kept.
  EXPECT_EQ(out.error,
            "removed 1 entry that was not a plain file of its own (a symlink, FIFO, socket, device "
            "or hard link)");
  EXPECT_EQ(execArtifactFiles(out), (std::vector<std::string>{"exec/stdout.txt", "exec/stderr.txt",
                                                              "exec/extra.txt", "exec/sub/y.txt"}));
  struct stat lst;
  EXPECT_NE(::lstat((dir.path() + "/exec/link").c_str(), &lst), 0);
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "app oom-imminent 4242\n");
  EXPECT_EQ(slurp(dir.path() + "/exec/stderr.txt"), "warning\n");
  const Artifact* extra = find(out, "exec/extra.txt");
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(extra->bytes, 5u);
  EXPECT_EQ(extra->sha256, sha256Hex("data\n"));
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/exec/extra.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_GT(out.took, 0ns);
}

TEST(ExecDumper, LeavesThePidOutWhenThereIsNone) {
  TempDir dir;
  auto req = execRequest(dir);
  req.pid.reset();
  auto out = script("echo \"${OOMSENTINEL_PID-none}\"").run(req);
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "none\n");
}

TEST(ExecDumper, FailsWithTheExitStatusOrSignal) {
  TempDir dir;
  auto status = script("echo partial; exit 4").run(execRequest(dir));
  EXPECT_EQ(status.result, DumpResult::kFailed);
  EXPECT_EQ(status.error, "exited with status 4");
  // What it wrote is still evidence.
  EXPECT_EQ(execArtifactFiles(status),
            (std::vector<std::string>{"exec/stdout.txt", "exec/stderr.txt"}));

  TempDir dir2;
  auto killed = script("kill -KILL $$").run(execRequest(dir2));
  EXPECT_EQ(killed.result, DumpResult::kFailed);
  EXPECT_EQ(killed.error, "killed by signal 9 (SIGKILL)");
}

TEST(ExecDumper, TimesOutAtItsOwnTimeoutOrTheRequestsDeadline) {
  TempDir dir;
  auto own = script("echo started; exec sleep 30", 300ms).run(execRequest(dir));
  EXPECT_EQ(own.result, DumpResult::kTimedOut);
  EXPECT_EQ(own.error.rfind("timed out after 300ms; its ", 0), 0u) << own.error;
  EXPECT_LT(own.took, 3s);
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "started\n");
  EXPECT_NE(find(own, "exec/stdout.txt"), nullptr);

  TempDir dir2;
  auto by_request = script("exec sleep 30", 60s).run(execRequest(dir2, 300ms));
  EXPECT_EQ(by_request.result, DumpResult::kTimedOut);
  EXPECT_THAT(by_request.error, HasSubstr("timed out after"));
  EXPECT_GE(by_request.took, 250ms);
  EXPECT_LT(by_request.took, 3s);

  TempDir dir3;
  auto late = script("true").run(execRequest(dir3, -1s));
  EXPECT_EQ(late.result, DumpResult::kTimedOut);
  EXPECT_TRUE(late.artifacts.empty());
}

TEST(ExecDumper, StopsACommandThatWritesTooMuch) {
  TempDir dir;
  auto req = execRequest(dir);
  req.max_bytes = 4096;
  auto out = script("yes").run(req);
  EXPECT_EQ(out.result, DumpResult::kPartial);
  EXPECT_THAT(out.error, HasSubstr("size cap"));
  const Artifact* so = find(out, "exec/stdout.txt");
  ASSERT_NE(so, nullptr);
  EXPECT_TRUE(so->truncated);
  EXPECT_EQ(so->bytes, 4096u);
}

TEST(ExecDumper, SaysWhatItCouldNotRun) {
  TempDir dir;
  auto missing = ExecDumper({"/nonexistent/collect", "--fast"}, 5s).run(execRequest(dir));
  EXPECT_EQ(missing.result, DumpResult::kFailed);
  EXPECT_THAT(missing.error, HasSubstr("/nonexistent/collect"));
  EXPECT_THAT(missing.error, HasSubstr("not found"));
  EXPECT_TRUE(missing.artifacts.empty());

  auto none = ExecDumper({}, 5s).run(execRequest(dir));
  EXPECT_EQ(none.result, DumpResult::kFailed);
}

TEST(ExecDumper, RunsAsNobodyWithNoCapabilitiesAndNoneOfOurEnvironment) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ::setenv("OOMSENTINEL_TEST_SECRET", "daemon-only", 1);
  auto out = script(
                 "id -u; id -g; grep -E '^Cap(Prm|Eff|Amb)|^NoNewPrivs' /proc/self/status; "
                 "env | grep -c OOMSENTINEL_TEST_SECRET; echo \"PATH=$PATH\"; "
                 "cd \"$OOMSENTINEL_INCIDENT_DIR\" && echo mine > mine.txt")
                 .run(execRequest(dir));
  ::unsetenv("OOMSENTINEL_TEST_SECRET");
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"),
            "65534\n65534\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\n0\nPATH=/usr/bin:/bin\n");
  EXPECT_EQ(slurp(dir.path() + "/exec/mine.txt"), "mine\n");
  EXPECT_NE(find(out, "exec/mine.txt"), nullptr);
  // Still nobody's afterwards (making them root's would take CAP_CHOWN), but private, in a folder
  // that is root's and closed again.
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/exec/mine.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir.path() + "/exec").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// The bundle as the daemon makes it: a folder of root's, 0700, inside a test folder.
std::string bundleIn(const TempDir& dir) {
  std::string b = dir.path() + "/bundle";
  EXPECT_EQ(::mkdir(b.c_str(), 0700), 0);
  return b;
}

TEST(ExecDumper, WorksWithTheUnitsCapabilitiesAlone) {
  // Root without CAP_CHOWN and CAP_DAC_OVERRIDE, as systemd/oomsentinel.service leaves it: the
  // hook still runs as nobody, writes into its folder (reached through descriptor 3 only), and
  // what it leaves is finished, cut, and removable by the incident store's retention.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  auto req = execRequest(dir);
  req.dir = bundleIn(dir);
  req.max_bytes = 4096;
  std::string findings =
      testing::inReducedChild(testing::kUnitCapabilities, std::nullopt, [&]() -> std::string {
        testing::Findings f;
        auto out = script(
                       "id -u; cd \"$OOMSENTINEL_INCIDENT_DIR\" || exit 9\n"
                       "stat -c %a .\n"
                       "head -c 10000 /dev/zero > big.bin\n"
                       "mkdir sub && echo deeper > sub/y.txt\n"
                       "ln -s /etc/shadow shadow.txt; mkfifo fifo\n"
                       "ls | tr '\\n' ' ' >&2")
                       .run(req);
        f.expectEq(std::string(dumpResultName(out.result)), "ok", "result (" + out.error + ")");
        f.expect(
            out.error.find("removed 2 entries that were not a plain file") != std::string::npos,
            "no word of the removed link and FIFO: " + out.error);
        f.expectEq(slurp(req.dir + "/exec/stdout.txt"), "65534\n1777\n", "stdout");
        f.expectEq(slurp(req.dir + "/exec/stderr.txt"),
                   "big.bin fifo shadow.txt stderr.txt stdout.txt sub ", "what the hook listed");
        const Artifact* big = find(out, "exec/big.bin");
        f.expect(big != nullptr && big->truncated && big->bytes == 4096, "big.bin not cut");
        f.expect(find(out, "exec/sub/y.txt") != nullptr, "sub/y.txt not listed");
        struct stat st;
        f.expect(::lstat((req.dir + "/exec/shadow.txt").c_str(), &st) != 0,
                 "the link is still there");
        f.expect(::lstat((req.dir + "/exec/fifo").c_str(), &st) != 0, "the FIFO is still there");
        if (::stat((req.dir + "/exec/big.bin").c_str(), &st) == 0) {
          f.expectEq(st.st_uid, 65534u, "big.bin's owner");
          f.expectEq(st.st_mode & 07777, 0600u, "big.bin's mode");
          f.expectEq(st.st_size, 4096, "big.bin's size");
        }
        if (::stat((req.dir + "/exec").c_str(), &st) == 0)
          f.expectEq(st.st_mode & 07777, 0700u, "exec/'s mode afterwards");
        if (::stat((req.dir + "/exec/sub").c_str(), &st) == 0)
          f.expectEq(st.st_mode & 07777, 0007u, "sub/'s mode afterwards");
        // The incident store's retention, with the same capabilities.
        std::error_code ec;
        std::filesystem::remove_all(req.dir, ec);
        f.expect(!ec, "the bundle cannot be removed: " + ec.message());
        return f.text;
      });
  EXPECT_EQ(findings, "");
}

TEST(ExecDumper, AHookCannotSwapItsOutputFilesOrHaveAnotherUsersFileFinished) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  // Files that anyone may write, on the same file system, one of another user and one of root
  // (the daemon's own uid): a hard link to either in the hook's folder would have that file
  // chmodded and cut when it is finished.
  std::string open_dir = dir.path() + "/open";
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0755), 0);
  for (const char* victim : {"theirs", "roots"}) {
    dir.write(std::string("open/") + victim, std::string(8192, 'v'));
    ASSERT_EQ(::chmod((open_dir + "/" + victim).c_str(), 0666), 0);
  }
  ASSERT_EQ(::chown((open_dir + "/theirs").c_str(), 4321, 4321), 0);
  auto req = execRequest(dir);
  req.dir = bundleIn(dir);
  req.max_bytes = 4096;
  auto out = script(
                 "cd \"$OOMSENTINEL_INCIDENT_DIR\" || exit 9\n"
                 "rm -f stdout.txt 2>/dev/null || echo kept\n"
                 "mv stdout.txt moved 2>/dev/null || echo not-moved\n"
                 "ln " +
                 open_dir +
                 "/theirs theirs.txt && echo linked\n"
                 "ln " +
                 open_dir +
                 "/roots roots.txt && echo linked\n"
                 "ln -s " +
                 open_dir + "/roots soft.txt && echo soft\n")
                 .run(req);
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(req.dir + "/exec/stdout.txt"), "kept\nnot-moved\nlinked\nlinked\nsoft\n");
  EXPECT_THAT(out.error, HasSubstr("removed 3 entries"));
  EXPECT_EQ(execArtifactFiles(out),
            (std::vector<std::string>{"exec/stdout.txt", "exec/stderr.txt"}));
  for (const char* victim : {"theirs", "roots"}) {
    struct stat st;
    ASSERT_EQ(::stat((open_dir + "/" + victim).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0666u) << victim;
    EXPECT_EQ(st.st_size, 8192) << victim;
    EXPECT_EQ(st.st_nlink, 1u) << victim;
  }
}

TEST(ExecDumper, RunsAsItsOwnUidWhenTheDaemonIsNotRoot) {
  // The Kubernetes sidecar: uid 10001, every capability dropped.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become uid 10001";
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  auto req = execRequest(dir);
  req.dir = bundleIn(dir);
  ASSERT_EQ(::chown(req.dir.c_str(), 10001, 10001), 0);
  std::string findings = testing::inReducedChild({}, 10001, [&]() -> std::string {
    testing::Findings f;
    auto out = script(
                   "id -u; grep -E '^CapEff' /proc/self/status; env | grep -c SECRET; "
                   "cd \"$OOMSENTINEL_INCIDENT_DIR\" && echo mine > mine.txt")
                   .run(req);
    f.expectEq(std::string(dumpResultName(out.result)), "ok", "result (" + out.error + ")");
    f.expect(out.error.find("it ran as uid 10001, the daemon's own, not as nobody (uid 65534): "
                            "the daemon is not root and has no CAP_SETUID/CAP_SETGID") !=
                 std::string::npos,
             "no word of the uid: " + out.error);
    f.expectEq(slurp(req.dir + "/exec/stdout.txt"), "10001\nCapEff:\t0000000000000000\n0\n",
               "stdout");
    f.expect(find(out, "exec/mine.txt") != nullptr, "mine.txt not listed");
    struct stat st;
    if (::stat((req.dir + "/exec").c_str(), &st) == 0)
      f.expectEq(st.st_mode & 07777, 0700u, "exec/ was opened to others");
    return f.text;
  });
  EXPECT_EQ(findings, "");
}

TEST(ExecDumper, RunsAsRootWithoutCapabilitiesWhenItHasNoCapSetuid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  auto req = execRequest(dir);
  req.dir = bundleIn(dir);
  std::string findings = testing::inReducedChild(
      {CAP_KILL, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_FOWNER}, std::nullopt,
      [&]() -> std::string {
        testing::Findings f;
        auto out = script("id -u; grep -E '^CapEff' /proc/self/status").run(req);
        f.expectEq(std::string(dumpResultName(out.result)), "ok", "result (" + out.error + ")");
        f.expect(out.error.find("it ran as uid 0, the daemon's own, not as nobody (uid 65534): "
                                "the daemon has no CAP_SETUID/CAP_SETGID") != std::string::npos,
                 "no word of the uid: " + out.error);
        f.expectEq(slurp(req.dir + "/exec/stdout.txt"), "0\nCapEff:\t0000000000000000\n", "stdout");
        return f.text;
      });
  EXPECT_EQ(findings, "");
}

TEST(ExecDumper, ChoosesWhoTheHookRunsAs) {
  auto switched = chooseExecRunAs("nobody", 65534, 65534, 0, true);
  EXPECT_EQ(switched.uid, std::optional<uid_t>(65534));
  EXPECT_EQ(switched.gid, 65534u);
  EXPECT_EQ(switched.note, "");
  auto sidecar = chooseExecRunAs("nobody", 65534, 65534, 10001, false);
  EXPECT_EQ(sidecar.uid, std::nullopt);
  EXPECT_EQ(sidecar.note,
            "it ran as uid 10001, the daemon's own, not as nobody (uid 65534): the daemon is not "
            "root and has no CAP_SETUID/CAP_SETGID");
  auto capless_root = chooseExecRunAs("app", 1000, 1000, 0, false);
  EXPECT_EQ(capless_root.uid, std::nullopt);
  EXPECT_EQ(capless_root.note,
            "it ran as uid 0, the daemon's own, not as app (uid 1000): the daemon has no "
            "CAP_SETUID/CAP_SETGID");
  // Already the configured user: nothing to switch, nothing to say.
  auto same = chooseExecRunAs("10001", 10001, 10001, 10001, false);
  EXPECT_EQ(same.uid, std::nullopt);
  EXPECT_EQ(same.note, "");
}

TEST(ExecDumper, RunsAsTheConfiguredUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ExecIdentity as;
  as.user = "4321";
  auto out = ExecDumper({"/bin/sh", "-c", "id -u; id -g"}, 10s, as).run(execRequest(dir));
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "4321\n4321\n");
  as.user = "no-such-user-here";
  TempDir dir2;
  auto bad = ExecDumper({"/bin/true"}, 10s, as).run(execRequest(dir2));
  EXPECT_EQ(bad.result, DumpResult::kFailed);
  EXPECT_THAT(bad.error, HasSubstr("no such user"));
}

TEST(ExecDumper, LeavesNothingRunningEvenWhatCalledSetsid) {
  // The attack: a hook's descendant leaves the process group with setsid() and would outlive
  // the dump (as root, before). Its cgroup takes it down.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a cgroup";
  TempDir dir;
  // A background job is no group leader: setsid(1) calls setsid() and execs sleep in place, so
  // $! is the escaped process. The hook then waits for it and is stopped at its timeout.
  auto out = script("setsid sleep 60 & echo $!; wait", 500ms).run(execRequest(dir, 30s));
  EXPECT_EQ(out.result, DumpResult::kTimedOut) << out.error;
  EXPECT_EQ(out.error, "timed out after 500ms; its cgroup was killed");
  std::string text = slurp(dir.path() + "/exec/stdout.txt");
  ASSERT_FALSE(text.empty()) << out.error;
  pid_t escaped = static_cast<pid_t>(std::stoi(text));
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(goneWithin(escaped, 2s)) << "pid " << escaped << " outlived its hook";

  // And one that leaves it running after the hook itself exits.
  TempDir dir2;
  auto quick = script("setsid sleep 60 & echo $!").run(execRequest(dir2));
  EXPECT_EQ(quick.result, DumpResult::kOk) << quick.error;
  pid_t left = static_cast<pid_t>(std::stoi(slurp(dir2.path() + "/exec/stdout.txt")));
  EXPECT_TRUE(goneWithin(left, 2s)) << "pid " << left << " outlived its hook";
}

TEST(ExecDumper, SaysWhenItCanOnlyKillTheProcessGroup) {
  TempDir dir, no_cgroups;
  ExecIdentity id;
  id.paths = HostPaths(no_cgroups.path(), "/nonexistent-proc");
  auto out = ExecDumper({"/bin/true"}, 10s, id).run(execRequest(dir));
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_THAT(out.error, HasSubstr("no cgroup of its own"));
  EXPECT_THAT(out.error, HasSubstr("only its process group was killed"));
}

}  // namespace
}  // namespace oomsentinel
