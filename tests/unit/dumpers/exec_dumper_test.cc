#include "dumpers/exec_dumper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/host_paths.h"
#include "dumpers/artifact.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;

using namespace std::chrono_literals;
using testing::TempDir;

DumpRequest request(const TempDir& dir, Duration deadline = 30s) {
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

std::vector<std::string> files(const DumpOutcome& o) {
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
  auto out = d.run(request(dir));
  EXPECT_EQ(out.dumper, "exec");
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(files(out), (std::vector<std::string>{"exec/stdout.txt", "exec/stderr.txt",
                                                  "exec/extra.txt", "exec/sub/y.txt"}));
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
  auto req = request(dir);
  req.pid.reset();
  auto out = script("echo \"${OOMSENTINEL_PID-none}\"").run(req);
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "none\n");
}

TEST(ExecDumper, FailsWithTheExitStatusOrSignal) {
  TempDir dir;
  auto status = script("echo partial; exit 4").run(request(dir));
  EXPECT_EQ(status.result, DumpResult::kFailed);
  EXPECT_EQ(status.error, "exited with status 4");
  // What it wrote is still evidence.
  EXPECT_EQ(files(status), (std::vector<std::string>{"exec/stdout.txt", "exec/stderr.txt"}));

  TempDir dir2;
  auto killed = script("kill -KILL $$").run(request(dir2));
  EXPECT_EQ(killed.result, DumpResult::kFailed);
  EXPECT_EQ(killed.error, "killed by signal 9 (SIGKILL)");
}

TEST(ExecDumper, TimesOutAtItsOwnTimeoutOrTheRequestsDeadline) {
  TempDir dir;
  auto own = script("echo started; exec sleep 30", 300ms).run(request(dir));
  EXPECT_EQ(own.result, DumpResult::kTimedOut);
  EXPECT_EQ(own.error.rfind("timed out after 300ms; its ", 0), 0u) << own.error;
  EXPECT_LT(own.took, 3s);
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "started\n");
  EXPECT_NE(find(own, "exec/stdout.txt"), nullptr);

  TempDir dir2;
  auto by_request = script("exec sleep 30", 60s).run(request(dir2, 300ms));
  EXPECT_EQ(by_request.result, DumpResult::kTimedOut);
  EXPECT_NE(by_request.error.find("timed out after"), std::string::npos) << by_request.error;
  EXPECT_GE(by_request.took, 250ms);
  EXPECT_LT(by_request.took, 3s);

  TempDir dir3;
  auto late = script("true").run(request(dir3, -1s));
  EXPECT_EQ(late.result, DumpResult::kTimedOut);
  EXPECT_TRUE(late.artifacts.empty());
}

TEST(ExecDumper, StopsACommandThatWritesTooMuch) {
  TempDir dir;
  auto req = request(dir);
  req.max_bytes = 4096;
  auto out = script("yes").run(req);
  EXPECT_EQ(out.result, DumpResult::kPartial);
  EXPECT_NE(out.error.find("size cap"), std::string::npos) << out.error;
  const Artifact* so = find(out, "exec/stdout.txt");
  ASSERT_NE(so, nullptr);
  EXPECT_TRUE(so->truncated);
  EXPECT_EQ(so->bytes, 4096u);
}

TEST(ExecDumper, SaysWhatItCouldNotRun) {
  TempDir dir;
  auto missing = ExecDumper({"/nonexistent/collect", "--fast"}, 5s).run(request(dir));
  EXPECT_EQ(missing.result, DumpResult::kFailed);
  EXPECT_NE(missing.error.find("/nonexistent/collect"), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("not found"), std::string::npos) << missing.error;
  EXPECT_TRUE(missing.artifacts.empty());

  auto none = ExecDumper({}, 5s).run(request(dir));
  EXPECT_EQ(none.result, DumpResult::kFailed);
}

// True once `pid` is gone or a zombie.
bool goneWithin(pid_t pid, Duration limit) {
  HostPaths paths;
  SystemClock clock;
  SteadyTime until = clock.steadyNow() + limit;
  while (clock.steadyNow() < until) {
    std::string stat = slurp(paths.proc(pid, "stat"));
    auto close = stat.rfind(')');
    if (stat.empty() || (close != std::string::npos && stat.substr(close + 2, 1) == "Z"))
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(ExecDumper, RunsAsNobodyWithNoCapabilitiesAndNoneOfOurEnvironment) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ::setenv("OOMSENTINEL_TEST_SECRET", "daemon-only", 1);
  auto out = script(
                 "id -u; id -g; grep -E '^Cap(Prm|Eff|Amb)|^NoNewPrivs' /proc/self/status; "
                 "env | grep -c OOMSENTINEL_TEST_SECRET; echo \"PATH=$PATH\"; "
                 "cd \"$OOMSENTINEL_INCIDENT_DIR\" && echo mine > mine.txt")
                 .run(request(dir));
  ::unsetenv("OOMSENTINEL_TEST_SECRET");
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"),
            "65534\n65534\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\n0\nPATH=/usr/bin:/bin\n");
  EXPECT_EQ(slurp(dir.path() + "/exec/mine.txt"), "mine\n");
  EXPECT_NE(find(out, "exec/mine.txt"), nullptr);
  // Ours afterwards: the daemon, without CAP_DAC_OVERRIDE, could not finish nobody's files.
  struct stat st;
  ASSERT_EQ(::stat((dir.path() + "/exec/mine.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(::stat((dir.path() + "/exec").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST(ExecDumper, RunsAsTheConfiguredUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir dir;
  ExecIdentity as;
  as.user = "4321";
  auto out = ExecDumper({"/bin/sh", "-c", "id -u; id -g"}, 10s, as).run(request(dir));
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_EQ(slurp(dir.path() + "/exec/stdout.txt"), "4321\n4321\n");
  as.user = "no-such-user-here";
  TempDir dir2;
  auto bad = ExecDumper({"/bin/true"}, 10s, as).run(request(dir2));
  EXPECT_EQ(bad.result, DumpResult::kFailed);
  EXPECT_NE(bad.error.find("no such user"), std::string::npos) << bad.error;
}

TEST(ExecDumper, LeavesNothingRunningEvenWhatCalledSetsid) {
  // The attack: a hook's descendant leaves the process group with setsid() and would outlive
  // the dump (as root, before). Its cgroup takes it down.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a cgroup";
  TempDir dir;
  // A background job is no group leader: setsid(1) calls setsid() and execs sleep in place, so
  // $! is the escaped process. The hook then waits for it and is stopped at its timeout.
  auto out = script("setsid sleep 60 & echo $!; wait", 500ms).run(request(dir, 30s));
  EXPECT_EQ(out.result, DumpResult::kTimedOut) << out.error;
  EXPECT_EQ(out.error, "timed out after 500ms; its cgroup was killed");
  std::string text = slurp(dir.path() + "/exec/stdout.txt");
  ASSERT_FALSE(text.empty()) << out.error;
  pid_t escaped = static_cast<pid_t>(std::stoi(text));
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(goneWithin(escaped, 2s)) << "pid " << escaped << " outlived its hook";

  // And one that leaves it running after the hook itself exits.
  TempDir dir2;
  auto quick = script("setsid sleep 60 & echo $!").run(request(dir2));
  EXPECT_EQ(quick.result, DumpResult::kOk) << quick.error;
  pid_t left = static_cast<pid_t>(std::stoi(slurp(dir2.path() + "/exec/stdout.txt")));
  EXPECT_TRUE(goneWithin(left, 2s)) << "pid " << left << " outlived its hook";
}

TEST(ExecDumper, SaysWhenItCanOnlyKillTheProcessGroup) {
  TempDir dir, no_cgroups;
  ExecIdentity id;
  id.paths = HostPaths(no_cgroups.path(), "/nonexistent-proc");
  auto out = ExecDumper({"/bin/true"}, 10s, id).run(request(dir));
  EXPECT_EQ(out.result, DumpResult::kOk) << out.error;
  EXPECT_NE(out.error.find("no cgroup of its own"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("only its process group was killed"), std::string::npos) << out.error;
}

}  // namespace
}  // namespace oomsentinel
