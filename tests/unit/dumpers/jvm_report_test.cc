// The heap report the jvm dumper writes beside class_histogram.txt (dumpers/jvm_report.cc,
// docs/heap-report.md "The JVM"): report.json and report.txt as bundle artifacts, from a real
// java-leak histogram answered over the attach protocol (JvmAttach::kDirect, the default) by a
// listener of the test's own, a hostile one's names made safe, a cut one ranked and said to be
// incomplete, and the bundle's budget charged for the report.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/safe_text.h"
#include "dumpers/artifact.h"
#include "dumpers/bundle_budget.h"
#include "dumpers/jvm_dumper.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/fake_attach_listener.h"
#include "tests/unit/dumpers/spawned_target.h"

namespace oomsentinel {
namespace {

using testing::answerWith;
using testing::FakeListener;
using ::testing::HasSubstr;
using testing::slurp;
using testing::TempDir;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

struct JvmReportTarget {
  testing::SpawnedTarget target{
      {"/bin/sh", "-c", "trap 'echo quit' QUIT; echo ready; while :; do sleep 1; done"}, {}};
  TempDir dir;
  bool ready() { return target.waitFor("ready", 10s); }
  std::string socket() const { return "/tmp/.java_pid" + std::to_string(target.pid()); }
  DumpRequest request() const {
    DumpRequest req;
    req.target = "java";
    req.rule = "oom-imminent";
    req.pid = target.pid();
    req.dir = dir.path();
    req.deadline = SystemClock().steadyNow() + 30s;
    req.max_bytes = 1 << 20;
    return req;
  }
};

std::vector<std::string> jvmReportFiles(const DumpOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.artifacts) out.push_back(a.file);
  return out;
}

nlohmann::json jvmReportJson(const std::string& dir) {
  return nlohmann::json::parse(slurp(dir + "/report.json"), nullptr, false);
}

TEST(JvmReport, TheBundleHoldsAReportRankingTheRealHistogramsClasses) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the attach is made as the JVM's user)";
  std::string histogram = testing::readFixture("runtime-captured/java-leak-class-histogram.txt");
  JvmReportTarget jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), answerWith("0\n" + histogram));
  ASSERT_TRUE(listener.bound());
  DumpOutcome o = JvmDumper().run(jvm.request());
  ASSERT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_THAT(jvmReportFiles(o),
              UnorderedElementsAre("class_histogram.txt", "report.json", "report.txt"));
  EXPECT_EQ(slurp(jvm.dir.path() + "/class_histogram.txt"), histogram);  // the raw one, whole

  nlohmann::json j = jvmReportJson(jvm.dir.path());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["runtime"], "jvm");
  EXPECT_EQ(j["profile"], "class_histogram.txt");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["total_bytes"], 66377096u);
  EXPECT_EQ(j["complete"], true);
  ASSERT_EQ(j["top_by_class"].size(), 10u);
  EXPECT_EQ(j["top_by_class"][0]["class"], "byte[]");
  EXPECT_EQ(j["top_by_class"][0]["module"], "java.base@17.0.15");
  EXPECT_EQ(j["top_by_class"][0]["bytes"], 65370944u);
  EXPECT_EQ(j["top_by_class"][0]["instances"], 7844u);
  EXPECT_NEAR(j["top_by_class"][0]["share"].get<double>(), 0.985, 0.001);
  std::string text = slurp(jvm.dir.path() + "/report.txt");
  EXPECT_THAT(text, HasSubstr("  1.   62.3 MiB  98.5%  byte[] (java.base@17.0.15)"));
  EXPECT_THAT(text, HasSubstr("less class_histogram.txt"));
  // The one line the alert's top_growth and the publish's log line carry.
  EXPECT_EQ(o.top_site,
            "byte[] (java.base@17.0.15) holds 62.3 MiB, 98.5% of 63.3 MiB in the heap "
            "(no baseline: not growth)");

  // Artifacts like the others: their size and SHA-256 for the manifest, mode 0600.
  for (const Artifact& a : o.artifacts) {
    std::string body = slurp(jvm.dir.path() + "/" + a.file);
    EXPECT_EQ(a.bytes, body.size()) << a.file;
    EXPECT_EQ(a.sha256, sha256Hex(body)) << a.file;
    EXPECT_FALSE(a.truncated) << a.file;
    struct stat st {};
    ASSERT_EQ(::stat((jvm.dir.path() + "/" + a.file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << a.file;
  }
}

TEST(JvmReport, AHostileJvmsClassNamesReachTheReportSafe) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string histogram =
      " num     #instances         #bytes  class name (module)\n"
      "-------------------------------------------------------\n"
      "   1:     9   900000  [Lcom.evil.\x1b[2J\xff\xfe" +
      std::string(5000, 'Z') + "; (m\x07od)\n" +
      "   2:     1      100  ok\xe2\x80\xae"
      "gnp.exe\n" +
      "Total  10  900100\n";
  JvmReportTarget jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), answerWith("0\n" + histogram));
  ASSERT_TRUE(listener.bound());
  DumpOutcome o = JvmDumper().run(jvm.request());
  ASSERT_EQ(o.result, DumpResult::kOk) << o.error;
  std::string raw = slurp(jvm.dir.path() + "/report.json");
  nlohmann::json j = jvmReportJson(jvm.dir.path());
  ASSERT_TRUE(j.is_object()) << raw;
  std::string top = j["top_by_class"][0]["class"];
  EXPECT_TRUE(top.starts_with("[Lcom.evil.\\x1b[2J\xef\xbf\xbd")) << top;
  EXPECT_LE(top.size(), 512u);
  EXPECT_EQ(j["top_by_class"][0]["module"], "m\\x07od");
  EXPECT_EQ(j["top_by_class"][1]["class"], "ok\\u202egnp.exe");
  std::string text = slurp(jvm.dir.path() + "/report.txt");
  EXPECT_EQ(text.find_first_of("\x1b\x07\r"), std::string::npos);
  EXPECT_EQ(firstIllFormedUtf8(text), std::string::npos);
  // And the alert's line: safe, bounded.
  EXPECT_TRUE(o.top_site.starts_with("[Lcom.evil.\\x1b[2J")) << o.top_site;
  EXPECT_LE(o.top_site.size(), 512u);
  EXPECT_EQ(o.top_site.find_first_of("\x1b\x07\r\n"), std::string::npos);
  EXPECT_EQ(firstIllFormedUtf8(o.top_site), std::string::npos);
}

TEST(JvmReport, AHistogramWithNoRowSaysWhyAndACutOneIsRankedAsIncomplete) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  {
    JvmReportTarget jvm;
    ASSERT_TRUE(jvm.ready());
    FakeListener listener(
        jvm.socket(), answerWith("0\n num     #instances         #bytes  class name (module)\n"));
    ASSERT_TRUE(listener.bound());
    DumpOutcome o = JvmDumper().run(jvm.request());
    // The histogram was captured as the JVM gave it: the dump is ok, whatever its analysis says.
    EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
    nlohmann::json j = jvmReportJson(jvm.dir.path());
    EXPECT_EQ(j["status"], "failed");
    EXPECT_EQ(j["error"], "the class histogram has no row");
    EXPECT_THAT(slurp(jvm.dir.path() + "/report.txt"),
                HasSubstr("No analysis: the class histogram has no row."));
  }
  // An endless reply, cut at the artifact cap: its top is still the largest classes.
  JvmReportTarget jvm;
  ASSERT_TRUE(jvm.ready());
  std::string head =
      " num     #instances         #bytes  class name (module)\n---\n"
      "   1:        24       25166208  [B (java.base@17.0.15)\n";
  std::string block;
  while (block.size() < 65536) block += "   2:   1   16  java.lang.Object (java.base@17.0.15)\n";
  FakeListener listener(jvm.socket(), answerWith("0\n" + head, block));
  ASSERT_TRUE(listener.bound());
  DumpRequest req = jvm.request();
  req.max_bytes = 256 << 10;
  DumpOutcome o = JvmDumper().run(req);
  EXPECT_EQ(o.result, DumpResult::kPartial) << o.error;
  EXPECT_THAT(jvmReportFiles(o),
              UnorderedElementsAre("class_histogram.txt", "report.json", "report.txt"));
  nlohmann::json j = jvmReportJson(jvm.dir.path());
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["complete"], false);
  EXPECT_EQ(j["total_source"], "rows");
  EXPECT_EQ(j["top_by_class"][0]["class"], "byte[]");
  EXPECT_EQ(j["top_by_class"][1]["class"], "java.lang.Object");
  EXPECT_THAT(slurp(jvm.dir.path() + "/report.txt"), HasSubstr("no Total line"));
}

TEST(JvmReport, TheReportIsChargedToTheBundlesBudget) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string histogram = testing::readFixture("runtime-captured/java-leak-class-histogram.txt");
  JvmReportTarget jvm;
  ASSERT_TRUE(jvm.ready());
  FakeListener listener(jvm.socket(), answerWith("0\n" + histogram));
  ASSERT_TRUE(listener.bound());
  // Room for the histogram and 100 bytes: report.json is cut there, report.txt has no room.
  BundleBudgetScope budget(jvm.dir.path(), {histogram.size() + 100, 0});
  DumpOutcome o = JvmDumper().run(jvm.request());
  EXPECT_EQ(o.result, DumpResult::kPartial);
  EXPECT_THAT(o.error, HasSubstr("report: "));
  EXPECT_THAT(o.error, HasSubstr("dump.max_bundle_bytes"));
  EXPECT_THAT(jvmReportFiles(o), UnorderedElementsAre("class_histogram.txt", "report.json"));
  ASSERT_EQ(o.artifacts.size(), 2u);
  EXPECT_TRUE(o.artifacts[1].truncated);
  EXPECT_EQ(o.artifacts[1].bytes, 100u);
  EXPECT_EQ(::access((jvm.dir.path() + "/report.txt").c_str(), F_OK), -1);
}

}  // namespace
}  // namespace oomsentinel
