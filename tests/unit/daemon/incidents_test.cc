// `oomsentinel incidents` run as a program on dump directories filled by IncidentStore: the table,
// the JSON lines, an empty directory, a broken bundle, and the exit codes of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "dumpers/artifact.h"
#include "dumpers/incident_store.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using nlohmann::json;
using testing::binaryPath;
using testing::runCommand;
using testing::RunResult;
using testing::TempDir;
using namespace std::chrono_literals;

RunResult run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv);
}

std::vector<std::string> incidentLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// 2026-11-29T09:35:12.123Z plus `later`.
WallTime wallAt(Duration later = {}) {
  using namespace std::chrono;
  return time_point_cast<WallTime::duration>(sys_days{year{2026} / 11 / 29} + 9h + 35min + 12s +
                                             123ms) +
         later;
}

StoreLimits limits(const std::string& dir) {
  StoreLimits l;
  l.dir = dir;
  l.min_free = 0;
  l.max_age = std::chrono::hours(24 * 365 * 100);
  return l;
}

DumpOutcome outcome(const std::string& dumper, DumpResult result, std::vector<Artifact> files) {
  DumpOutcome o;
  o.dumper = dumper;
  o.result = result;
  o.artifacts = std::move(files);
  return o;
}

// Two bundles: an older warning with one artifact, a newer critical one with two.
struct TwoBundles {
  TempDir tmp;
  std::string older, newer;
  TwoBundles() {
    IncidentStore store(limits(tmp.path()));
    EXPECT_TRUE(store.prepare().ok());

    IncidentInfo w;
    w.target = "web";
    w.rule = "near-limit";
    w.severity = "warning";
    w.fired_at = wallAt();
    auto b = store.begin(w, wallAt());
    EXPECT_TRUE(b.ok());
    auto a = writeArtifact(b->dir(), "status.txt", std::string(300, 's'), 0);
    auto p = store.publish(*b, {outcome("proc", DumpResult::kOk, {*a})}, wallAt() + 1s);
    EXPECT_TRUE(p.ok());
    older = *p;

    IncidentInfo c;
    c.target = "cart";
    c.rule = "oom-imminent";
    c.severity = "critical";
    c.fired_at = wallAt(5min);
    auto b2 = store.begin(c, wallAt(5min));
    EXPECT_TRUE(b2.ok());
    auto s = writeArtifact(b2->dir(), "status.txt", std::string(2000, 's'), 0);
    auto h = writeArtifact(b2->dir(), "heap.prof", std::string(3000, 'h'), 0);
    auto p2 = store.publish(
        *b2,
        {outcome("proc", DumpResult::kOk, {*s}), outcome("gperftools", DumpResult::kTimedOut, {*h}),
         outcome("go_pprof", DumpResult::kSkipped, {})},
        wallAt(5min + 2s + 500ms));
    EXPECT_TRUE(p2.ok());
    newer = *p2;
  }
};

TEST(Incidents, AnEmptyDirectorySaysSo) {
  TempDir tmp;
  RunResult r = run({"incidents", "--dir", tmp.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no incidents in " + tmp.path() + "\n");
  EXPECT_EQ(r.err, "");

  // JSON lines: none at all, so a reader gets no object rather than prose.
  r = run({"incidents", "--dir=" + tmp.path(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(Incidents, ATableNewestFirst) {
  TwoBundles d;
  RunResult r = run({"incidents", "--dir", d.tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto ls = incidentLines(r.out);
  ASSERT_EQ(ls.size(), 3u) << r.out;
  EXPECT_EQ(words(ls[0]), (std::vector<std::string>{"TIME", "TARGET", "RULE", "SEVERITY",
                                                    "ARTIFACTS", "SIZE", "RESULTS", "PATH"}));
  auto newer = words(ls[1]);
  ASSERT_EQ(newer.size(), 11u) << ls[1];
  EXPECT_EQ(newer[0], "2026-11-29T09:40:12.123Z");
  EXPECT_EQ(newer[1], "cart");
  EXPECT_EQ(newer[2], "oom-imminent");
  EXPECT_EQ(newer[3], "critical");
  EXPECT_EQ(newer[4], "2");
  EXPECT_EQ(newer[6], "KiB") << ls[1];  // 5000 bytes of artifacts plus the manifest
  EXPECT_EQ(newer[7], "proc=ok");
  EXPECT_EQ(newer[8], "gperftools=timed_out");
  EXPECT_EQ(newer[9], "go_pprof=skipped");
  EXPECT_EQ(newer[10], d.newer);
  EXPECT_EQ(d.newer, d.tmp.path() + "/20261129T094012.123Z-cart-oom-imminent");

  auto older = words(ls[2]);
  ASSERT_EQ(older.size(), 9u) << ls[2];
  EXPECT_EQ(older[0], "2026-11-29T09:35:12.123Z");
  EXPECT_EQ(older[1], "web");
  EXPECT_EQ(older[2], "near-limit");
  EXPECT_EQ(older[3], "warning");
  EXPECT_EQ(older[4], "1");
  EXPECT_EQ(older[7], "proc=ok");
  EXPECT_EQ(older[8], d.older);
  // Columns line up: each row's path starts where the header's PATH does.
  EXPECT_EQ(ls[1].find(d.newer), ls[0].find("PATH"));
  EXPECT_EQ(ls[2].find(d.older), ls[0].find("PATH"));
}

TEST(Incidents, OneJsonObjectPerBundle) {
  TwoBundles d;
  RunResult r = run({"incidents", "--json", "--dir", d.tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto ls = incidentLines(r.out);
  ASSERT_EQ(ls.size(), 2u) << r.out;
  json newer = json::parse(ls[0], nullptr, false), older = json::parse(ls[1], nullptr, false);
  ASSERT_FALSE(newer.is_discarded() || older.is_discarded()) << r.out;
  EXPECT_EQ(newer["name"], "20261129T094012.123Z-cart-oom-imminent");
  EXPECT_EQ(newer["path"], d.newer);
  EXPECT_EQ(newer["target"], "cart");
  EXPECT_EQ(newer["rule"], "oom-imminent");
  EXPECT_EQ(newer["severity"], "critical");
  EXPECT_EQ(newer["fired_at"], "2026-11-29T09:40:12.123Z");
  EXPECT_EQ(newer["published_at"], "2026-11-29T09:40:14.623Z");
  EXPECT_EQ(newer["artifacts"], 2);
  EXPECT_GT(newer["bytes"].get<std::uint64_t>(), 5000u);
  EXPECT_EQ(newer["results"],
            json::parse(R"({"proc":"ok","gperftools":"timed_out","go_pprof":"skipped"})"));
  EXPECT_TRUE(newer["problem"].is_null());
  EXPECT_EQ(newer["outcome"], "published");
  EXPECT_EQ(older["target"], "web");
  EXPECT_EQ(older["artifacts"], 1);
  EXPECT_EQ(older["results"], json::parse(R"({"proc":"ok"})"));
}

TEST(Incidents, ABrokenBundleIsShownWithItsProblem) {
  TwoBundles d;
  d.tmp.write("20261129T093000.000Z-lost-r/manifest.json", "{ cut short");
  RunResult r = run({"incidents", "--dir", d.tmp.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = incidentLines(r.out);
  ASSERT_EQ(ls.size(), 5u) << r.out;
  EXPECT_EQ(words(ls[3])[0], "2026-11-29T09:30:00.000Z");
  EXPECT_EQ(words(ls[3])[1], "-");
  EXPECT_EQ(ls[4], "  problem: manifest.json is not valid JSON");

  r = run({"incidents", "--dir", d.tmp.path(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ls = incidentLines(r.out);
  ASSERT_EQ(ls.size(), 3u);
  json broken = json::parse(ls[2]);
  EXPECT_EQ(broken["name"], "20261129T093000.000Z-lost-r");
  EXPECT_EQ(broken["problem"], "manifest.json is not valid JSON");
  EXPECT_TRUE(broken["published_at"].is_null());
}

TEST(Incidents, AnUnreadableDirectoryOrABadFlagExitsTwo) {
  TempDir tmp;
  const std::string missing = tmp.path() + "/nope";
  RunResult r = run({"incidents", "--dir", missing});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "oomsentinel incidents: " + missing + ": cannot read (No such file or directory)\n");

  tmp.write("file", "x");
  r = run({"incidents", "--dir", tmp.path() + "/file"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(incidentLines(r.err).size(), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr(tmp.path() + "/file"));

  r = run({"incidents", "--since", "1h"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(incidentLines(r.err)[0], "oomsentinel incidents: unknown argument '--since'");
  EXPECT_THAT(r.err, HasSubstr("usage: oomsentinel incidents"));

  r = run({"incidents", "--dir"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(incidentLines(r.err)[0], "oomsentinel incidents: --dir needs a value");
}

TEST(Incidents, HelpNamesTheCommand) {
  RunResult r = run({"incidents", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("usage: oomsentinel incidents [--dir DIR] [--json]\n", 0), 0u) << r.out;
  r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\n  incidents "));
}

}  // namespace
}  // namespace oomsentinel
