// The proc snapshot and the Go pprof dumper: on a fixture tree and against a scripted server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "dumpers/artifact.h"
#include "dumpers/go_pprof_dumper.h"
#include "dumpers/proc_dumper.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;

using ::testing::HasSubstr;
using testing::HttpTestServer;
using testing::ServerStep;
using testing::TempDir;
using namespace std::chrono_literals;

DumpRequest pprofRequest(const TempDir& dir, Duration budget = 2s) {
  DumpRequest r;
  r.target = "app";
  r.rule = "oom-imminent";
  r.dir = dir.path() + "/bundle";
  ::mkdir(r.dir.c_str(), 0700);
  r.deadline = SystemClock().steadyNow() + budget;
  r.max_bytes = 1 << 20;
  return r;
}

std::vector<std::string> pprofArtifactFiles(const DumpOutcome& o) {
  std::vector<std::string> out;
  for (const auto& a : o.artifacts) out.push_back(a.file);
  return out;
}

TEST(ProcDumper, CopiesTheProcessAndTheCgroupFilesThatExist) {
  TempDir t;
  t.write("proc/42/status", "Name:\tapp\nVmRSS:\t1000 kB\n");
  t.write("proc/42/smaps_rollup", "Rss: 1000 kB\n");
  t.write("proc/42/maps", "00400000-00401000 r-xp 00000000 08:01 1 /app\n");
  t.write("proc/42/smaps", "big\n");
  t.write("cg/app/memory.stat", "anon 1\n");
  t.write("cg/app/memory.events", "oom_kill 0\n");
  t.write("cg/app/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  HostPaths paths(t.path() + "/cg", t.path() + "/proc");
  DumpRequest req = pprofRequest(t);
  req.pid = 42;
  req.cgroup_dir = t.path() + "/cg/app";
  ProcDumper d(paths, /*with_smaps=*/false);
  DumpOutcome o = d.run(req);
  EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_EQ(o.dumper, "proc");
  EXPECT_THAT(pprofArtifactFiles(o), ::testing::UnorderedElementsAre(
                                         "proc-42-status.txt", "proc-42-smaps_rollup.txt",
                                         "proc-42-maps.txt", "cgroup-memory.stat.txt",
                                         "cgroup-memory.events.txt", "cgroup-memory.pressure.txt"));
  EXPECT_EQ(slurp(req.dir + "/proc-42-status.txt"), "Name:\tapp\nVmRSS:\t1000 kB\n");
  for (const auto& a : o.artifacts)
    EXPECT_EQ(a.sha256, sha256Hex(slurp(req.dir + "/" + a.file))) << a.file;

  ProcDumper with_smaps(paths, true);
  DumpRequest again = pprofRequest(t);
  again.dir = t.path() + "/bundle2";
  ::mkdir(again.dir.c_str(), 0700);
  again.pid = 42;
  EXPECT_THAT(pprofArtifactFiles(with_smaps.run(again)), ::testing::Contains("proc-42-smaps.txt"));
}

TEST(ProcDumper, ATargetGoneMidWayIsPartialOrFailedNotOk) {
  TempDir t;
  HostPaths paths(t.path() + "/cg", t.path() + "/proc");
  DumpRequest req = pprofRequest(t);
  ProcDumper d(paths, false);
  DumpOutcome none = d.run(req);
  EXPECT_EQ(none.result, DumpResult::kSkipped);

  // A file that exists but cannot be read (a directory standing in for it).
  t.write("proc/7/status", "Name:\tx\n");
  ::mkdir((t.path() + "/proc/7/maps").c_str(), 0700);
  req.pid = 7;
  DumpOutcome partial = d.run(req);
  EXPECT_EQ(partial.result, DumpResult::kPartial);
  EXPECT_THAT(partial.error, HasSubstr("maps"));

  DumpRequest late = pprofRequest(t, -1s);
  late.dir = req.dir + "-late";
  ::mkdir(late.dir.c_str(), 0700);
  late.pid = 7;
  DumpOutcome expired = d.run(late);
  EXPECT_NE(expired.result, DumpResult::kOk);
  EXPECT_THAT(expired.error, HasSubstr("deadline passed"));
}

TEST(GoPprofDumper, FileNames) {
  EXPECT_EQ(GoPprofDumper::fileFor("heap"), "go-heap.pb.gz");
  EXPECT_EQ(GoPprofDumper::fileFor("goroutine?debug=2"), "go-goroutine-debug2.txt");
  EXPECT_EQ(GoPprofDumper::fileFor("allocs?debug=0"), "go-allocs-debug0.pb.gz");
}

TEST(GoPprofDumper, FetchesEveryProfileConcurrently) {
  std::string heap = std::string("\x1f\x8b", 2) + std::string(1000, 'h');
  HttpTestServer server({ServerStep::reply(200, heap, "application/octet-stream")});
  TempDir t;
  DumpRequest req = pprofRequest(t);
  GoPprofDumper d(*Url::parse(server.url()), {"heap", "allocs", "goroutine?debug=2"});
  DumpOutcome o = d.run(req);
  EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
  EXPECT_THAT(pprofArtifactFiles(o), ::testing::UnorderedElementsAre(
                                         "go-heap.pb.gz", "go-allocs.pb.gz",
                                         "go-goroutine-debug2.txt", "report.json", "report.txt"));
  EXPECT_EQ(slurp(req.dir + "/go-heap.pb.gz"), heap);
  std::vector<std::string> paths;
  for (const auto& r : server.requests()) paths.push_back(r.substr(0, r.find(" HTTP/1.1")));
  EXPECT_THAT(paths,
              ::testing::UnorderedElementsAre("GET /debug/pprof/heap", "GET /debug/pprof/allocs",
                                              "GET /debug/pprof/goroutine?debug=2"));
}

TEST(GoPprofDumper, AHungEndpointEndsAtTheDeadlineAndErrorsAreNamed) {
  ServerStep hang;
  hang.kind = ServerStep::Kind::kHang;
  HttpTestServer slow({hang});
  TempDir t;
  SystemClock clock;
  SteadyTime t0 = clock.steadyNow();
  DumpOutcome o = GoPprofDumper(*Url::parse(slow.url()), {"heap"}).run(pprofRequest(t, 300ms));
  EXPECT_LT(clock.steadyNow() - t0, 2s);
  EXPECT_EQ(o.result, DumpResult::kTimedOut);
  EXPECT_THAT(o.error, HasSubstr("timed out after "));

  HttpTestServer mixed({ServerStep::reply(200, "profile"), ServerStep::reply(404, "no")});
  TempDir t2;
  DumpOutcome p = GoPprofDumper(*Url::parse(mixed.url("/debug/pprof/")), {"heap", "allocs"})
                      .run(pprofRequest(t2));
  EXPECT_EQ(p.result, DumpResult::kPartial);
  EXPECT_THAT(p.error, HasSubstr("HTTP 404"));
  EXPECT_THAT(pprofArtifactFiles(p), ::testing::Contains(::testing::StartsWith("go-")).Times(1));

  // A failed profile leaves no file behind in the bundle.
  int present = 0;
  for (const char* f : {"/bundle/go-heap.pb.gz", "/bundle/go-allocs.pb.gz"})
    present += ::access((t2.path() + f).c_str(), F_OK) == 0;
  EXPECT_EQ(present, 1);
}

// A profile larger than the cap is streamed into the bundle and cut there: the artifact is the
// first max_bytes of it, with their size and SHA-256, marked truncated, mode 0600, and the dump
// is partial. The body never sits in memory whole (the client hands it over in 64 KiB pieces).
TEST(GoPprofDumper, AProfileOverTheCapStreamsToATruncatedArtifact) {
  std::string profile(3 << 20, '\0');
  for (std::size_t i = 0; i < profile.size(); ++i)
    profile[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
  ServerStep chunked;  // as net/http sends a profile: chunked, no Content-Length
  chunked.raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t at = 0; at < profile.size(); at += 32768)
    chunked.raw += "8000\r\n" + profile.substr(at, 32768) + "\r\n";
  chunked.raw += "0\r\n\r\n";
  HttpTestServer server({ServerStep::reply(200, profile, "application/octet-stream"), chunked});
  for (int i = 0; i < 2; ++i) {
    TempDir t;
    DumpRequest capped = pprofRequest(t);
    capped.max_bytes = 1 << 20;
    DumpOutcome o = GoPprofDumper(*Url::parse(server.url()), {"heap"}).run(capped);
    EXPECT_EQ(o.result, DumpResult::kPartial) << o.error;
    EXPECT_EQ(o.error, "go-heap.pb.gz cut at the 1.00 MiB cap");
    ASSERT_EQ(o.artifacts.size(), 3u);  // and report.json, report.txt (go_pprof_report_test.cc)
    const Artifact& a = o.artifacts[0];
    EXPECT_TRUE(a.truncated);
    EXPECT_EQ(a.bytes, 1u << 20);
    std::string head = profile.substr(0, 1 << 20);
    EXPECT_EQ(a.sha256, sha256Hex(head));
    std::string path = capped.dir + "/go-heap.pb.gz";
    EXPECT_TRUE(slurp(path) == head) << i;
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
}

}  // namespace
}  // namespace oomsentinel
