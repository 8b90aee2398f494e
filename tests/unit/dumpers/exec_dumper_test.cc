#include "dumpers/exec_dumper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

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
  EXPECT_EQ(own.error, "timed out after 300ms; its process group was killed");
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

}  // namespace
}  // namespace oomsentinel
