// The heap report the go_pprof dumper writes beside go-heap.pb.gz (docs/heap-report.md):
// report.json and report.txt, as bundle artifacts, from a real Go heap profile served the way
// net/http/pprof serves it, and the reason written down when there is no ranking.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "dumpers/artifact.h"
#include "dumpers/go_pprof_dumper.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using testing::slurp;
using testing::TempDir;
using ::testing::UnorderedElementsAre;
using namespace std::chrono_literals;

DumpRequest reportRequest(const TempDir& dir) {
  DumpRequest r;
  r.target = "app";
  r.rule = "oom-imminent";
  r.dir = dir.path() + "/bundle";
  ::mkdir(r.dir.c_str(), 0700);
  r.deadline = SystemClock().steadyNow() + 5s;
  r.max_bytes = 1 << 20;
  return r;
}

std::vector<std::string> artifactFiles(const DumpOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.artifacts) out.push_back(a.file);
  return out;
}

nlohmann::json reportJson(const DumpRequest& req) {
  return nlohmann::json::parse(slurp(req.dir + "/report.json"));
}

TEST(GoPprofReport, ARealHeapProfileIsRankedBesideTheRawOne) {
  std::string heap = testing::readFixture("runtime-captured/go-leak-heap.pb.gz");
  HttpTestServer server({ServerStep::reply(200, heap, "application/octet-stream")});
  TempDir t;
  DumpRequest req = reportRequest(t);
  DumpOutcome o = GoPprofDumper(*Url::parse(server.url()), {"heap"}).run(req);
  EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_THAT(artifactFiles(o), UnorderedElementsAre("go-heap.pb.gz", "report.json", "report.txt"));
  EXPECT_EQ(slurp(req.dir + "/go-heap.pb.gz"), heap);  // the raw profile stays, whole

  nlohmann::json j = reportJson(req);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["runtime"], "go");
  EXPECT_EQ(j["profile"], "go-heap.pb.gz");
  EXPECT_EQ(j["sample_type"], "inuse_space");
  EXPECT_EQ(j["total_bytes"], 23927372u);
  ASSERT_FALSE(j["top_by_caller"].empty());
  EXPECT_EQ(j["top_by_caller"][0]["function"], "main.(*leak).grow");
  EXPECT_EQ(j["top_by_caller"][0]["line"], 240);
  EXPECT_EQ(j["top_by_caller"][0]["bytes"], 21828539u);
  EXPECT_NEAR(j["top_by_caller"][0]["share"].get<double>(), 0.912, 0.001);
  EXPECT_EQ(j["top_by_leaf"][0]["function"], "main.(*leak).grow");
  // The one line the alert's top_growth and the publish's log line carry.
  EXPECT_EQ(o.top_site,
            "main.(*leak).grow holds 20.8 MiB, 91.2% of 22.8 MiB in use (no baseline: not growth) "
            "at main.go:240");

  std::string text = slurp(req.dir + "/report.txt");
  EXPECT_THAT(text, HasSubstr("In use (inuse_space): 22.8 MiB in 5 sampled stacks"));
  EXPECT_THAT(text, HasSubstr("  1.   20.8 MiB  91.2%  main.(*leak).grow  "));
  EXPECT_THAT(text, HasSubstr("examples/go-leak/main.go:240\n"));
  EXPECT_THAT(text, HasSubstr("go tool pprof -top go-heap.pb.gz"));

  // Artifacts like the others: their size and SHA-256 for the manifest, mode 0600.
  for (const Artifact& a : o.artifacts) {
    if (a.file.rfind("report.", 0) != 0) continue;
    std::string body = slurp(req.dir + "/" + a.file);
    EXPECT_EQ(a.bytes, body.size()) << a.file;
    EXPECT_EQ(a.sha256, sha256Hex(body)) << a.file;
    struct stat st {};
    ASSERT_EQ(::stat((req.dir + "/" + a.file).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << a.file;
  }
}

TEST(GoPprofReport, AProfileThatDoesNotParseIsKeptAndTheReportSaysWhy) {
  std::string junk = std::string("\x1f\x8b", 2) + std::string(500, 'h');
  HttpTestServer server({ServerStep::reply(200, junk, "application/octet-stream")});
  TempDir t;
  DumpRequest req = reportRequest(t);
  DumpOutcome o = GoPprofDumper(*Url::parse(server.url()), {"heap"}).run(req);
  // The raw profile was captured: the dump is ok, whatever its analysis says.
  EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_EQ(slurp(req.dir + "/go-heap.pb.gz"), junk);
  nlohmann::json j = reportJson(req);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_THAT(j["error"].get<std::string>(), HasSubstr("not a gzip stream or a corrupt one"));
  EXPECT_FALSE(j.contains("top_by_caller"));
  EXPECT_EQ(o.top_site, "") << "no ranking, no line for the alert";
  std::string text = slurp(req.dir + "/report.txt");
  EXPECT_THAT(text, HasSubstr("No analysis: not a gzip stream or a corrupt one"));
  EXPECT_THAT(text, HasSubstr("go tool pprof -top go-heap.pb.gz"));
}

TEST(GoPprofReport, AProfileCutAtTheCapIsNotRead) {
  std::string heap = testing::readFixture("runtime-captured/go-leak-heap.pb.gz");
  HttpTestServer server({ServerStep::reply(200, heap, "application/octet-stream")});
  TempDir t;
  DumpRequest req = reportRequest(t);
  req.max_bytes = 1000;  // the profile is 1547 bytes
  DumpOutcome o = GoPprofDumper(*Url::parse(server.url()), {"heap"}).run(req);
  EXPECT_EQ(o.result, DumpResult::kPartial);
  EXPECT_EQ(reportJson(req)["error"], "the heap profile was cut at the artifact cap");
}

TEST(GoPprofReport, AHeapProfileNotCapturedIsSaidAndNoHeapAskedMeansNoReport) {
  HttpTestServer missing({ServerStep::reply(404, "no")});
  TempDir t;
  DumpRequest req = reportRequest(t);
  DumpOutcome o = GoPprofDumper(*Url::parse(missing.url()), {"heap"}).run(req);
  EXPECT_EQ(o.result, DumpResult::kFailed);
  EXPECT_THAT(o.error, HasSubstr("HTTP 404"));
  EXPECT_EQ(reportJson(req)["error"], "the heap profile was not captured");

  HttpTestServer goroutines({ServerStep::reply(200, "goroutine 1 [running]:\n")});
  TempDir t2;
  DumpRequest req2 = reportRequest(t2);
  DumpOutcome o2 = GoPprofDumper(*Url::parse(goroutines.url()), {"goroutine?debug=2"}).run(req2);
  EXPECT_EQ(o2.result, DumpResult::kOk) << o2.error;
  EXPECT_THAT(artifactFiles(o2), UnorderedElementsAre("go-goroutine-debug2.txt"));
}

}  // namespace
}  // namespace oomsentinel
