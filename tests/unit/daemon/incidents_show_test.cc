// `oomsentinel incidents show ID|latest` run as a program on bundles made by IncidentStore: the
// story of a gperftools bundle and of a Go bundle whose heap report the go_pprof dumper made from
// a real profile, the JSON read back, hostile strings in a bundle, a garbage manifest, a FIFO and
// a symlink where files were, IDs that are paths, and the exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/safe_text.h"
#include "dumpers/artifact.h"
#include "dumpers/go_pprof_dumper.h"
#include "dumpers/incident_store.h"
#include "tests/support/http_test_server.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using nlohmann::json;
using testing::binaryPath;
using ::testing::HasSubstr;
using testing::HttpTestServer;
using ::testing::Not;
using testing::runCommand;
using testing::RunResult;
using testing::ServerStep;
using testing::TempDir;
using namespace std::chrono_literals;

constexpr double kShowMiB = 1024.0 * 1024.0;

RunResult showRun(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binaryPath(), "incidents", "show"};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

std::vector<std::string> showLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// 2026-11-29T09:40:12.123Z plus `later`.
WallTime showWallAt(Duration later = {}) {
  using namespace std::chrono;
  return time_point_cast<WallTime::duration>(sys_days{year{2026} / 11 / 29} + 9h + 40min + 12s +
                                             123ms) +
         later;
}

StoreLimits showLimits(const std::string& dir) {
  StoreLimits l;
  l.dir = dir;
  l.min_free = 0;
  l.max_age = std::chrono::hours(24 * 365 * 100);
  return l;
}

DumpOutcome showOutcome(const std::string& dumper, DumpResult result, std::vector<Artifact> files,
                        const std::string& error = {}) {
  DumpOutcome o;
  o.dumper = dumper;
  o.result = result;
  o.artifacts = std::move(files);
  o.error = error;
  o.took = 150ms;
  return o;
}

// What fired on `target`: a working set rising over 60 samples a second apart from 128 MiB to
// 248 MiB of a 256 MiB limit, the last sample at firing.
IncidentInfo showInfo(const std::string& target, Duration at = {}) {
  IncidentInfo info;
  info.target = target;
  info.rule = "oom-imminent";
  info.severity = "critical";
  info.expr = "working_set_ratio > 0.9 and time_to_oom < 60s";
  info.fired_at = showWallAt(at);
  info.labels = {{"host", "node-1"}};
  info.values = {{"working_set_ratio", 248.0 / 256},
                 {"time_to_oom", 2.5},
                 {"working_set_bytes", 248 * kShowMiB}};
  for (int i = 0; i < 60; ++i) {
    IncidentInfo::Sample s;
    s.time = info.fired_at - std::chrono::seconds(59 - i);
    double ws = (128 + 120.0 * i / 59) * kShowMiB;
    s.signals = {{"working_set_bytes", ws},
                 {"limit_bytes", 256 * kShowMiB},
                 {"working_set_ratio", ws / (256 * kShowMiB)}};
    info.history.push_back(std::move(s));
  }
  return info;
}

// A published bundle of `info` whose dumpers wrote with `write` into its directory.
template <typename Write>
std::string showPublish(const std::string& dir, const IncidentInfo& info, Write write) {
  IncidentStore store(showLimits(dir));
  EXPECT_TRUE(store.prepare().ok());
  auto b = store.begin(info, info.fired_at);
  EXPECT_TRUE(b.ok());
  std::vector<DumpOutcome> outcomes = write(b->dir());
  auto p = store.publish(*b, outcomes, info.fired_at + 2500ms);
  EXPECT_TRUE(p.ok()) << p.error().describe();
  return p.ok() ? *p : "";
}

// A gperftools bundle: proc's files and a heap profile with the executable's path.
std::string showGperftoolsBundle(const std::string& dir, const std::string& target = "cart",
                                 Duration at = {}) {
  return showPublish(dir, showInfo(target, at), [](const std::string& d) {
    auto st = writeArtifact(d, "proc-42-status.txt", "VmRSS: 1 kB\n", 0);
    auto heap = writeArtifact(d, "heap.prof", std::string(3000, 'h'), 0);
    auto exe = writeArtifact(d, "exe_path.txt", "/usr/bin/cart\n", 0);
    return std::vector<DumpOutcome>{showOutcome("proc", DumpResult::kOk, {*st}),
                                    showOutcome("gperftools", DumpResult::kOk, {*heap, *exe})};
  });
}

std::string showNameOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The row of `file` in the Files table, its blanks squeezed: "heap.prof 2.93 KiB gperftools ...".
std::string showFileRow(const std::string& out, const std::string& file) {
  for (const auto& line : showLines(out)) {
    if (line.rfind("  " + file + " ", 0) != 0) continue;
    std::string squeezed;
    for (char c : line.substr(2))
      if (c != ' ' || squeezed.empty() || squeezed.back() != ' ') squeezed += c;
    return squeezed;
  }
  return "(no row for " + file + ")";
}

// Every byte a terminal could take as a command is gone: only '\n' of the controls, valid UTF-8.
void expectShowSafe(const std::string& out) {
  EXPECT_EQ(firstIllFormedUtf8(out), std::string::npos) << out;
  for (unsigned char c : out) {
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c != 0x7f)) << "control byte " << int(c) << " in\n"
                                                       << out;
    if (c != '\n' && (c < 0x20 || c == 0x7f)) return;
  }
}

TEST(IncidentsShow, TheLatestBundleTellsItsStory) {
  TempDir tmp;
  std::string older = showGperftoolsBundle(tmp.path(), "web", -10min);
  std::string bundle = showGperftoolsBundle(tmp.path());
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string& out = r.out;
  EXPECT_EQ(showLines(out)[0], "Incident " + showNameOf(bundle));
  EXPECT_THAT(out, HasSubstr("\n  rule:       oom-imminent (critical)\n"));
  EXPECT_THAT(out, HasSubstr("\n  expression: working_set_ratio > 0.9 and time_to_oom < 60s\n"));
  EXPECT_THAT(out, HasSubstr("\n  target:     cart\n"));
  EXPECT_THAT(out, HasSubstr("\n  labels:     host=node-1\n"));
  EXPECT_THAT(out, HasSubstr("\n  fired:      2026-11-29T09:40:12.123Z\n"));
  EXPECT_THAT(out, HasSubstr("\n  published:  2026-11-29T09:40:14.623Z (2.5s after firing)\n"));
  EXPECT_THAT(out, HasSubstr("\n  bundle:     " + bundle + " (3 files, "));
  EXPECT_THAT(out, HasSubstr("\n  time_to_oom        2.5\n"));
  EXPECT_THAT(out, HasSubstr("\n  working_set_bytes  260046848 (248.0 MiB)\n"));
  EXPECT_THAT(out, HasSubstr("\n  working_set_ratio  0.96875\n"));
  EXPECT_THAT(out, HasSubstr("Heap report: no heap report for gperftools profiles yet; the raw "
                             "profile is heap.prof.\n"));
  EXPECT_THAT(out, HasSubstr("\n  proc: ok in 150ms\n  gperftools: ok in 150ms\n"));
  EXPECT_THAT(out, HasSubstr("\nFiles (the commands run in the bundle: cd " + bundle +
                             "):\n"
                             "  FILE                SIZE      DUMPER      OPEN WITH\n"));
  EXPECT_EQ(showFileRow(out, "heap.prof"),
            "heap.prof 2.93 KiB gperftools google-pprof --text \"$(cat exe_path.txt)\" heap.prof");
  EXPECT_EQ(showFileRow(out, "proc-42-status.txt"),
            "proc-42-status.txt 12 B proc less proc-42-status.txt");
  EXPECT_THAT(out, Not(HasSubstr("web")));

  // By its name, the same story; the older one by its own.
  RunResult by_name = showRun({showNameOf(bundle), "--dir=" + tmp.path()});
  EXPECT_EQ(by_name.exit_code, 0) << by_name.err;
  EXPECT_EQ(by_name.out, out);
  RunResult old = showRun({"--dir", tmp.path(), showNameOf(older)});
  EXPECT_EQ(old.exit_code, 0) << old.err;
  EXPECT_THAT(old.out, HasSubstr("\n  target:     web\n"));
}

TEST(IncidentsShow, TheUsageCurveRisesToTheLimit) {
  TempDir tmp;
  std::string bundle = showGperftoolsBundle(tmp.path());
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = showLines(r.out);
  auto at = std::find(ls.begin(), ls.end(),
                      "Usage before firing: working_set_bytes, the last 60 samples (09:39:13 to "
                      "09:40:12 UTC, 59s)");
  ASSERT_NE(at, ls.end()) << r.out;
  ASSERT_GE(ls.end() - at, 10) << r.out;
  // Six rows of bars, the limit (the scale's top: usage stayed under it) the first, then the
  // axis, the times and the figures.
  std::vector<std::string> rows(at + 1, at + 7);
  EXPECT_EQ(rows[0].substr(0, 15), "    256.0 MiB |") << rows[0];
  EXPECT_TRUE(rows[0].ends_with("- limit")) << rows[0];
  for (const auto& row : rows) EXPECT_EQ(row.find('|'), 14u) << row;
  // A rising curve: each row's bars start further right than the row below's, and the bottom
  // row is full (128 MiB of 256 is half the height).
  std::size_t below = std::string::npos;
  for (auto row = rows.rbegin(); row != rows.rend(); ++row) {
    std::size_t first = row->find('#');
    if (first == std::string::npos) continue;
    if (below != std::string::npos) {
      EXPECT_GE(first, below) << *row;
    }
    below = first;
  }
  EXPECT_EQ(rows[0], "    256.0 MiB |" + std::string(60, '-') + " limit");  // never reached
  EXPECT_EQ(rows[5], std::string(14, ' ') + "|" + std::string(60, '#'));
  EXPECT_EQ(rows[3].substr(15, 1), "#");  // 128 MiB: three rows of six
  EXPECT_EQ(rows[2].substr(15, 1), " ");  // not four
  EXPECT_EQ(rows[1].substr(74), "#");     // 248 MiB: five rows, not the limit's sixth
  EXPECT_EQ(rows[1].substr(15, 1), " ");
  EXPECT_EQ(at[7], "          0 B +" + std::string(60, '-'));
  // The times under the first and the last bar.
  EXPECT_EQ(at[8], std::string(15, ' ') + "09:39:13" + std::string(44, ' ') + "09:40:12");
  EXPECT_EQ(at[9], "  first 128.0 MiB, last 248.0 MiB, peak 248.0 MiB, limit 256.0 MiB");
}

TEST(IncidentsShow, AGoBundleShowsTheTopSitesOfItsHeapReport) {
  TempDir tmp;
  std::string heap = testing::readFixture("runtime-captured/go-leak-heap.pb.gz");
  HttpTestServer server({ServerStep::reply(200, heap, "application/octet-stream")});
  std::string bundle = showPublish(tmp.path(), showInfo("api"), [&](const std::string& d) {
    DumpRequest req;
    req.target = "api";
    req.rule = "oom-imminent";
    req.dir = d;
    req.deadline = SystemClock().steadyNow() + 5s;
    req.max_bytes = 1 << 20;
    DumpOutcome o = GoPprofDumper(*Url::parse(server.url()), {"heap"}).run(req);
    EXPECT_EQ(o.result, DumpResult::kOk) << o.error;
    return std::vector<DumpOutcome>{o};
  });
  RunResult r = showRun({showNameOf(bundle), "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nHeap report (report.json, of go-heap.pb.gz): 22.8 MiB in use "
                               "(inuse_space); the top sites by caller:\n"
                               "  1.   20.8 MiB  91.2%  main.(*leak).grow  "));
  EXPECT_THAT(r.out, HasSubstr("examples/go-leak/main.go:240\n  2. "));
  EXPECT_THAT(r.out, HasSubstr("\n  both rankings, top 10: less " + bundle + "/report.txt\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  go-heap.pb.gz  "));
  EXPECT_THAT(showFileRow(r.out, "go-heap.pb.gz"),
              HasSubstr(" go_pprof go tool pprof -top go-heap.pb.gz"));
  EXPECT_THAT(r.out, HasSubstr("\n  go_pprof: ok in "));

  r = showRun({"latest", "--json", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["heap_report"]["present"], true);
  EXPECT_EQ(j["heap_report"]["status"], "ok");
  EXPECT_EQ(j["heap_report"]["total_bytes"], 23927372u);
  EXPECT_EQ(j["heap_report"]["file"], bundle + "/report.json");
  ASSERT_FALSE(j["heap_report"]["top_by_caller"].empty());
  EXPECT_EQ(j["heap_report"]["top_by_caller"][0]["function"], "main.(*leak).grow");
  EXPECT_EQ(j["heap_report"]["top_by_caller"][0]["line"], 240);
  EXPECT_EQ(j["heap_report"]["top_by_leaf"][0]["function"], "main.(*leak).grow");
}

// A JVM bundle: the histogram and the report the jvm dumper writes of it (the fixture is that
// report, byte for byte: analysis's JvmHistogramReport.TheFixtureReportsAreWhatTheRendererWrites).
TEST(IncidentsShow, AJvmBundleShowsTheTopClassesOfItsHeapReport) {
  TempDir tmp;
  std::string bundle = showPublish(tmp.path(), showInfo("shop"), [&](const std::string& d) {
    std::vector<Artifact> files;
    for (auto [name, fixture] :
         {std::pair{"class_histogram.txt", "runtime-captured/java-leak-class-histogram.txt"},
          {"report.json", "heap-report/java-leak-report.json"},
          {"report.txt", "heap-report/java-leak-report.txt"}}) {
      auto a = writeArtifact(d, name, testing::readFixture(fixture), 0);
      EXPECT_TRUE(a.ok()) << a.error().describe();
      if (a) files.push_back(*a);
    }
    return std::vector<DumpOutcome>{showOutcome("jvm", DumpResult::kOk, files)};
  });
  RunResult r = showRun({showNameOf(bundle), "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              HasSubstr("\nHeap report (report.json, of class_histogram.txt): 63.3 MiB on "
                        "the heap; the top classes by bytes:\n"
                        "  1.   62.3 MiB  98.5%  byte[] (java.base@17.0.15)  7844 instances\n"
                        "  2.  191.8 KiB   0.3%  java.lang.Class (java.base@17.0.15)  1601 "
                        "instances\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  top 10: less " + bundle + "/report.txt\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("  6. ")));  // five shown
  EXPECT_THAT(showFileRow(r.out, "class_histogram.txt"), HasSubstr("less class_histogram.txt"));

  r = showRun({"latest", "--json", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["heap_report"]["runtime"], "jvm");
  EXPECT_EQ(j["heap_report"]["status"], "ok");
  EXPECT_EQ(j["heap_report"]["total_bytes"], 66377096u);
  ASSERT_EQ(j["heap_report"]["top_by_class"].size(), 10u);
  EXPECT_EQ(j["heap_report"]["top_by_class"][0]["class"], "byte[]");
  EXPECT_EQ(j["heap_report"]["top_by_class"][0]["module"], "java.base@17.0.15");
  EXPECT_EQ(j["heap_report"]["top_by_class"][0]["instances"], 7844u);
  EXPECT_TRUE(j["heap_report"]["top_by_caller"].empty());

  // A bundle of an older jvm dumper: the histogram, no report.
  TempDir old;
  showPublish(old.path(), showInfo("shop"), [&](const std::string& d) {
    auto a = writeArtifact(d, "class_histogram.txt", "x", 0);
    return std::vector<DumpOutcome>{showOutcome("jvm", DumpResult::kOk, {*a})};
  });
  r = showRun({"latest", "--dir", old.path()});
  EXPECT_THAT(r.out, HasSubstr("\nHeap report: no heap report in this bundle; the raw class "
                               "histogram is class_histogram.txt.\n"));
}

TEST(IncidentsShow, JsonHoldsTheSameFacts) {
  TempDir tmp;
  std::string bundle = showGperftoolsBundle(tmp.path());
  RunResult r = showRun({"--json", "latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(showLines(r.out).size(), 1u) << r.out;
  json j = json::parse(r.out);
  EXPECT_EQ(j["name"], showNameOf(bundle));
  EXPECT_EQ(j["path"], bundle);
  EXPECT_EQ(j["target"], "cart");
  EXPECT_EQ(j["rule"], "oom-imminent");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["expr"], "working_set_ratio > 0.9 and time_to_oom < 60s");
  EXPECT_EQ(j["labels"], json::parse(R"({"host":"node-1"})"));
  EXPECT_EQ(j["fired_at"], "2026-11-29T09:40:12.123Z");
  EXPECT_EQ(j["published_at"], "2026-11-29T09:40:14.623Z");
  EXPECT_EQ(j["outcome"], "published");
  EXPECT_TRUE(j["problem"].is_null());
  EXPECT_EQ(j["values"]["time_to_oom"], 2.5);
  EXPECT_EQ(j["values"]["working_set_bytes"], 248 * kShowMiB);
  ASSERT_EQ(j["history"].size(), 60u);
  EXPECT_EQ(j["history"][59]["time"], "2026-11-29T09:40:12.123Z");
  EXPECT_EQ(j["history"][0]["signals"]["working_set_bytes"], 128 * kShowMiB);
  EXPECT_EQ(j["usage"]["signal"], "working_set_bytes");
  EXPECT_EQ(j["usage"]["samples"], 60);
  EXPECT_EQ(j["usage"]["peak"], 248 * kShowMiB);
  EXPECT_EQ(j["usage"]["limit"], 256 * kShowMiB);
  EXPECT_EQ(j["heap_report"]["present"], false);
  EXPECT_EQ(j["heap_report"]["note"],
            "no heap report for gperftools profiles yet; the raw profile is heap.prof");
  ASSERT_EQ(j["dumps"].size(), 2u);
  EXPECT_EQ(j["dumps"][1]["dumper"], "gperftools");
  EXPECT_EQ(j["dumps"][1]["result"], "ok");
  EXPECT_EQ(j["dumps"][1]["took_seconds"], 0.15);
  ASSERT_EQ(j["files"].size(), 3u);
  const json& heap = j["files"][1];
  EXPECT_EQ(heap["file"], "heap.prof");
  EXPECT_EQ(heap["path"], bundle + "/heap.prof");
  EXPECT_EQ(heap["bytes"], 3000);
  EXPECT_EQ(heap["present"], true);
  EXPECT_EQ(heap["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(heap["open"],
            "google-pprof --text \"$(cat " + bundle + "/exe_path.txt)\" " + bundle + "/heap.prof");
}

TEST(IncidentsShow, AMissingReportOrFileIsNoError) {
  TempDir tmp;
  IncidentInfo info = showInfo("db");
  info.history.clear();
  std::string bundle = showPublish(tmp.path(), info, [](const std::string& d) {
    auto st = writeArtifact(d, "cgroup-memory.stat.txt", "anon 1\n", 0);
    auto gone = writeArtifact(d, "proc-7-maps.txt", "maps\n", 0);
    return std::vector<DumpOutcome>{showOutcome("proc", DumpResult::kOk, {*st, *gone})};
  });
  ASSERT_EQ(::unlink((bundle + "/proc-7-maps.txt").c_str()), 0);
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nUsage before firing: no history in the manifest"));
  EXPECT_THAT(r.out, HasSubstr("\nHeap report: no heap profile in this bundle (none of its "
                               "dumpers captured one).\n"));
  EXPECT_EQ(showFileRow(r.out, "proc-7-maps.txt"), "proc-7-maps.txt 5 B proc (not in the bundle)");
  EXPECT_THAT(r.out, Not(HasSubstr("less proc-7-maps.txt")));
  EXPECT_EQ(showFileRow(r.out, "cgroup-memory.stat.txt"),
            "cgroup-memory.stat.txt 7 B proc less cgroup-memory.stat.txt");
}

TEST(IncidentsShow, HostileStringsAreShownSafely) {
  TempDir tmp;
  IncidentInfo info = showInfo("evil\x1b]0;owned\x07\xff");
  info.labels = {{"pod", "p\r\nINFO fake line"}};
  info.values.emplace_back("x\x1b[2J", 1);
  const std::string fn = "main.\x1b[31mred\xe2\x80\xae";  // ESC, RLO
  std::string bundle = showPublish(tmp.path(), info, [&](const std::string& d) {
    json report = {
        {"version", 1},
        {"runtime", "go"},
        {"profile", "go-heap.pb.gz"},
        {"status", "ok"},
        {"sample_type", "inuse_space"},
        {"total_bytes", 1000},
        {"top_by_caller",
         {{{"function", fn}, {"file", "a\nb.go"}, {"line", 3}, {"bytes", 900}, {"share", 0.9}}}},
        {"top_by_leaf", json::array()}};
    auto rep = writeArtifact(d, "report.json",
                             report.dump(-1, ' ', false, json::error_handler_t::ignore), 0);
    // A hook's file whose name a shell would run.
    ::mkdir((d + "/exec").c_str(), 0700);
    auto hook = writeArtifact(d + "/exec", "it's $(reboot)\x1b.txt", "x", 0);
    hook->file = "exec/" + hook->file;
    return std::vector<DumpOutcome>{
        showOutcome("go_pprof", DumpResult::kOk, {*rep}),
        showOutcome("exec", DumpResult::kFailed, {*hook}, "exit 1: \x1b[1mboom\n\xfe\xff")};
  });
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expectShowSafe(r.out);
  EXPECT_THAT(r.out, HasSubstr("\n  target:     evil\\x1b]0;owned\\x07\xef\xbf\xbd\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  labels:     pod=p\\x0d\\x0aINFO fake line\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  x\\x1b[2J "));
  EXPECT_THAT(r.out, HasSubstr("main.\\x1b[31mred\\u202e  a\\x0ab.go:3\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  exec: failed in 150ms: exit 1: \\x1b[1mboom\\x0a"));
  // The hook's file: shown escaped, and its command quoted so that pasting it runs nothing.
  EXPECT_THAT(r.out, HasSubstr("  less 'exec/it'\\''s $(reboot)\\x1b.txt'\n"));

  r = showRun({"latest", "--dir", tmp.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expectShowSafe(r.out);
  json j = json::parse(r.out);
  EXPECT_EQ(j["target"], "evil\\x1b]0;owned\\x07\xef\xbf\xbd");
  EXPECT_EQ(j["labels"]["pod"], "p\\x0d\\x0aINFO fake line");
  EXPECT_EQ(j["heap_report"]["top_by_caller"][0]["function"], "main.\\x1b[31mred\\u202e");
  EXPECT_EQ(j["files"][1]["open"], "less '" + bundle + "/exec/it'\\''s $(reboot)\\x1b.txt'");
  EXPECT_EQ(j["dumps"][1]["error"], "exit 1: \\x1b[1mboom\\x0a\xef\xbf\xbd\xef\xbf\xbd");
}

// A report.json that is not JSON (invalid UTF-8 in a function's name is a parse error) is no
// report: report.txt's first lines are shown instead, each made safe.
TEST(IncidentsShow, AnUnreadableReportFallsBackToItsTextSafely) {
  TempDir tmp;
  std::string bundle = showPublish(tmp.path(), showInfo("api"), [&](const std::string& d) {
    auto rep = writeArtifact(
        d, "report.json",
        "{\"status\":\"ok\",\"top_by_caller\":[{\"function\":\"main.\xc3\x28\"}]}", 0);
    auto txt =
        writeArtifact(d, "report.txt",
                      "Top sites:\n  1.  20 MiB  main.\x1b[2Jbad\xc3\x28\xe2\x80\xae  x.go:1\n", 0);
    return std::vector<DumpOutcome>{showOutcome("go_pprof", DumpResult::kOk, {*rep, *txt})};
  });
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expectShowSafe(r.out);
  EXPECT_THAT(r.out, HasSubstr("\nHeap report: report.json is not a heap report (not a JSON object "
                               "of valid UTF-8).\n  report.txt begins:\n    Top sites:\n"
                               "      1.  20 MiB  main.\\x1b[2Jbad\xef\xbf\xbd(\\u202e  x.go:1\n"));
  r = showRun({"latest", "--dir", tmp.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["heap_report"]["present"], false);
  EXPECT_EQ(j["heap_report"]["text_lines"][1],
            "  1.  20 MiB  main.\\x1b[2Jbad\xef\xbf\xbd(\\u202e  x.go:1");
}

// A manifest is read as it is, whatever its times and numbers: centuries apart (whose difference
// in nanoseconds would overflow) they are shown, not subtracted; a non-finite value stays one.
TEST(IncidentsShow, OddTimesAndValuesInAManifestAreShownAsTheyAre) {
  TempDir tmp;
  const std::string name = "20261129T093000.000Z-cart-r";
  tmp.write(name + "/manifest.json", R"({"version": 1, "target": "cart", "rule": "r",
    "severity": "critical", "fired_at": "1678-01-01T00:00:00.000Z",
    "published_at": "2261-12-31T00:00:00.000Z", "values": {"rate": "+Inf", "x": "NaN", "y": []},
    "history": [{"time": "2261-12-31T00:00:00.000Z", "signals": {"usage_ratio": 0.5}},
                {"time": "1678-01-01T00:00:00.000Z", "signals": {"usage_ratio": 0.25}},
                {"time": "yesterday", "signals": {"usage_ratio": 1}}, 7],
    "artifacts": [{"dumper": "proc", "file": "../outside.txt", "bytes": 1}],
    "dumps": [{"dumper": "proc", "result": "ok", "took_seconds": 1e300}]})");
  tmp.write("outside.txt", "not the bundle's");  // what "../outside.txt" would reach
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\n  fired:      1678-01-01T00:00:00.000Z\n"
                               "  published:  2261-12-31T00:00:00.000Z\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  rate  +Inf\n  x     NaN\n\n"));
  EXPECT_THAT(r.out, HasSubstr("usage_ratio, the last 2 samples (00:00:00 to 00:00:00 UTC)\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  proc: ok\n"));
  // A file whose path climbs out of the bundle is not looked at, nor offered to open.
  EXPECT_EQ(showFileRow(r.out, "../outside.txt"), "../outside.txt 1 B proc (not in the bundle)");

  r = showRun({"latest", "--dir", tmp.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["values"], json::parse(R"({"rate": "+Inf", "x": "NaN"})"));
  EXPECT_EQ(j["history"].size(), 2u);
  EXPECT_EQ(j["usage"]["limit"], 1.0);
  EXPECT_EQ(j["files"][0]["present"], false);
  EXPECT_TRUE(j["files"][0]["open"].is_null());
}

TEST(IncidentsShow, AGarbageManifestIsAnErrorNamingTheFile) {
  TempDir tmp;
  const std::string name = "20261129T093000.000Z-cart-r";
  tmp.write(name + "/manifest.json", "{ cut short");
  RunResult r = showRun({name, "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "oomsentinel incidents show: " + tmp.path() + "/" + name +
                       "/manifest.json: is not valid JSON\n");

  tmp.write(name + "/manifest.json", "[1, 2]");
  r = showRun({"latest", "--dir", tmp.path(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "oomsentinel incidents show: " + tmp.path() + "/" + name +
                       "/manifest.json: is not a JSON object\n");

  // Nested past any manifest's depth: refused while parsing, no crash.
  tmp.write(name + "/manifest.json", std::string(100000, '[') + std::string(100000, ']'));
  r = showRun({"latest", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/manifest.json: is not valid JSON\n"));
}

TEST(IncidentsShow, AFifoOrASymlinkInABundleIsNotFollowed) {
  TempDir tmp;
  std::string bundle = showGperftoolsBundle(tmp.path());
  // report.json a symlink to a file outside: not read. And a FIFO: no open waits for a writer.
  tmp.write("outside.json", R"({"status":"ok","top_by_caller":[{"function":"secret"}]})");
  ASSERT_EQ(::symlink((tmp.path() + "/outside.json").c_str(), (bundle + "/report.json").c_str()),
            0);
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nHeap report: report.json cannot be read: " + bundle +
                               "/report.json: cannot open ("));
  EXPECT_THAT(r.out, Not(HasSubstr("secret")));
  ASSERT_EQ(::unlink((bundle + "/report.json").c_str()), 0);
  ASSERT_EQ(::mkfifo((bundle + "/report.json").c_str(), 0600), 0);
  r = showRun({"latest", "--dir", tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(bundle + "/report.json: is not a regular file"));

  ASSERT_EQ(::unlink((bundle + "/manifest.json").c_str()), 0);
  ASSERT_EQ(::mkfifo((bundle + "/manifest.json").c_str(), 0600), 0);
  r = showRun({"latest", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "oomsentinel incidents show: " + bundle +
                       "/manifest.json: is not a regular file (Invalid argument)\n");

  // A bundle's name that is a symlink to a bundle elsewhere is no incident of this directory.
  TempDir other;
  std::string there = showGperftoolsBundle(other.path(), "elsewhere", 1h);
  ASSERT_EQ(::symlink(there.c_str(), (tmp.path() + "/" + showNameOf(there)).c_str()), 0);
  r = showRun({showNameOf(there), "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no incident '" + showNameOf(there) + "'"));
  EXPECT_EQ(r.out, "");
}

TEST(IncidentsShow, AnIdThatIsAPathIsRefused) {
  TempDir tmp;
  TempDir outside;
  std::string there = showGperftoolsBundle(outside.path());
  // Each names a real bundle by a path out of DIR, or a hidden name: refused before any read.
  const std::string up =
      "../" + outside.path().substr(outside.path().rfind('/') + 1) + "/" + showNameOf(there);
  for (const std::string& id : {up, std::string(".."), std::string("."), std::string("a/b"), there,
                                std::string(".partial-x")}) {
    RunResult r = showRun({id, "--dir", tmp.path()});
    EXPECT_EQ(r.exit_code, 2) << id;
    EXPECT_EQ(r.out, "") << id;
    EXPECT_EQ(showLines(r.err)[0],
              "oomsentinel incidents: an incident ID is a bundle's name, without '/' or '..': '" +
                  id + "'")
        << id;
  }
}

TEST(IncidentsShow, NoSuchIncidentExitsOneAndSaysHowToListThem) {
  TempDir tmp;
  RunResult r = showRun({"latest", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "oomsentinel incidents show: no incidents in " + tmp.path() +
                       "; `oomsentinel incidents --dir " + tmp.path() +
                       "` lists their IDs (the last column's names)\n");
  showGperftoolsBundle(tmp.path());
  r = showRun({"20261129T000000.000Z-nope-r", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no incident '20261129T000000.000Z-nope-r' in " + tmp.path() +
                               "; `oomsentinel incidents --dir "));

  r = showRun({"--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(showLines(r.err)[0],
            "oomsentinel incidents: show needs an incident ID (a bundle's name) or 'latest'");
  r = showRun({"latest", "again", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 2);
  r = showRun({"latest", "--since", "1h"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(showLines(r.err)[0], "oomsentinel incidents: unknown argument '--since'");
  r = showRun({"latest", "--dir", tmp.path() + "/missing"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("/missing: cannot read (No such file or directory)"));
  r = showRun({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("oomsentinel incidents show ID|latest [--dir DIR] [--json]"));
}

}  // namespace
}  // namespace oomsentinel
