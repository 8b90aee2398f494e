// The incident store on real directories: the bundle's layout and manifest, its modes, names that
// collide, a publish that a crash interrupts, retention, the free-space reserve (on a tiny tmpfs
// when run as root), broken manifests and bundles published from several threads at once.
#include "dumpers/incident_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/units.h"
#include "dumpers/artifact.h"
#include "tests/support/test_support.h"
#include "tests/unit/dumpers/store_fixture.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

using oomsentinel::testing::slurp;

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;
using namespace std::chrono_literals;

mode_t linkModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool pathExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(fs::symlink_status(path, ec));
}

IncidentInfo info(const std::string& target = "app", const std::string& rule = "oom-imminent",
                  WallTime fired = testing::incidentTime()) {
  IncidentInfo i;
  i.target = target;
  i.rule = rule;
  i.severity = "critical";
  i.expr = "time_to_oom < 10s or working_set_ratio > 95%";
  i.fired_at = fired;
  i.values = {{"working_set_ratio", 0.97}, {"time_to_oom_seconds", 4.5}};
  return i;
}

DumpOutcome outcome(const std::string& dumper, DumpResult result, std::vector<Artifact> files,
                    const std::string& error = {}, Duration took = 250ms) {
  DumpOutcome o;
  o.dumper = dumper;
  o.result = result;
  o.artifacts = std::move(files);
  o.error = error;
  o.took = took;
  return o;
}

// A bundle with one artifact of `bytes` bytes, published at fired + 1s.
std::string makeBundle(IncidentStore& store, const IncidentInfo& i, std::size_t bytes = 100) {
  auto b = store.begin(i, i.fired_at);
  EXPECT_TRUE(b.ok()) << b.error().describe();
  if (!b) return {};
  auto a = writeArtifact(b->dir(), "status.txt", std::string(bytes, 's'), 0);
  EXPECT_TRUE(a.ok()) << a.error().describe();
  auto p = store.publish(*b, {outcome("proc", DumpResult::kOk, {*a})}, i.fired_at + 1s);
  EXPECT_TRUE(p.ok()) << p.error().describe();
  return p ? *p : std::string();
}

std::vector<std::string> names(const std::string& dir) {
  auto l = IncidentStore::list(dir);
  EXPECT_TRUE(l.ok()) << l.error().describe();
  std::vector<std::string> out;
  if (l)
    for (const auto& s : *l) out.push_back(s.name);
  return out;
}

json manifest(const std::string& bundle) { return json::parse(slurp(bundle + "/manifest.json")); }

// The names in `dir`, sorted.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> removedNames(const RetentionReport& r) {
  std::vector<std::string> out;
  for (const auto& x : r.removed) out.push_back(x.name);
  return out;
}

// ---- layout and manifest ----

TEST(IncidentStore, PreparesAPrivateDumpDirectoryWithItsParents) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path() + "/var/incidents"));
  auto p = store.prepare();
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(*p, 0u);
  EXPECT_EQ(linkModeOf(tmp.path() + "/var"), 0700u);
  EXPECT_EQ(linkModeOf(tmp.path() + "/var/incidents"), 0700u);
  // Again: nothing to do, still fine.
  ASSERT_TRUE(store.prepare().ok());

  tmp.write("file", "x");
  IncidentStore on_file(testing::roomyStore(tmp.path() + "/file"));
  auto refused = on_file.prepare();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, ENOTDIR);
  EXPECT_EQ(refused.error().path, tmp.path() + "/file");
}

TEST(IncidentStore, PublishesABundleWithItsManifest) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/incidents";
  IncidentStore store(testing::roomyStore(dir));
  ASSERT_TRUE(store.prepare().ok());

  IncidentInfo i = info();
  i.values.push_back({"rate_nan", std::nan("")});
  i.values.push_back({"rate_up", INFINITY});
  i.values.push_back({"rate_down", -INFINITY});
  i.history = {
      {testing::incidentTime() - 2s, {{"working_set_ratio", 0.90}}},
      {testing::incidentTime() - 1s, {{"working_set_ratio", 0.95}, {"psi_some_avg10", 12.5}}}};
  i.labels = {{"host", "node-1"}, {"namespace", "shop"}, {"pod", "cart-7"}, {"container", "app"}};

  auto b = store.begin(i, testing::incidentTime() + 5ms);
  ASSERT_TRUE(b.ok()) << b.error().describe();
  const std::string name = "20261129T093512.123Z-app-oom-imminent";
  EXPECT_EQ(b->name(), name);
  EXPECT_EQ(b->finalPath(), dir + "/" + name);
  EXPECT_EQ(fs::path(b->dir()).parent_path(), fs::path(dir));
  EXPECT_EQ(fs::path(b->dir()).filename().string().rfind(".partial-" + name, 0), 0u) << b->dir();
  EXPECT_EQ(linkModeOf(b->dir()), 0700u);
  EXPECT_FALSE(pathExists(b->finalPath()));
  EXPECT_TRUE(b->pending());

  std::string heap = "heap profile: 1: 4096 [ 1: 4096] @ heapprofile\n";
  auto status = writeArtifact(b->dir(), "proc-status.txt", "VmRSS: 1000 kB\n", 0);
  auto profile = writeArtifact(b->dir(), "heap.prof", heap, 16);
  ASSERT_TRUE(status.ok() && profile.ok());
  // A file a child wrote with the wrong mode is made private at publish.
  std::ofstream(b->dir() + "/hook.out") << "hook";
  ::chmod((b->dir() + "/hook.out").c_str(), 0644);
  auto hook = finishArtifact(b->dir(), "hook.out", 0);
  ASSERT_TRUE(hook.ok());
  ::chmod((b->dir() + "/hook.out").c_str(), 0644);

  std::vector<DumpOutcome> outcomes{
      outcome("proc", DumpResult::kOk, {*status}, "", 30ms),
      outcome("gperftools", DumpResult::kTimedOut, {*profile}, "no new profile within 5s", 5s),
      outcome("exec", DumpResult::kOk, {*hook}),
      outcome("go_pprof", DumpResult::kSkipped, {}, "no pprof_url"),
  };
  const std::string temp = b->dir();
  auto published = store.publish(*b, outcomes, testing::incidentTime() + 7s + 456ms);
  ASSERT_TRUE(published.ok()) << published.error().describe();
  EXPECT_EQ(*published, dir + "/" + name);
  EXPECT_FALSE(b->pending());
  EXPECT_FALSE(pathExists(temp));

  // Layout and modes.
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(*published)) {
    files.insert(e.path().filename().string());
    EXPECT_EQ(linkModeOf(e.path().string()), 0600u) << e.path();
  }
  EXPECT_EQ(files,
            (std::set<std::string>{"proc-status.txt", "heap.prof", "hook.out", "manifest.json"}));
  EXPECT_EQ(linkModeOf(*published), 0700u);

  // The manifest.
  json m = json::parse(slurp(*published + "/manifest.json"));
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["target"], "app");
  EXPECT_EQ(m["rule"], "oom-imminent");
  EXPECT_EQ(m["severity"], "critical");
  EXPECT_EQ(m["expr"], i.expr);
  EXPECT_EQ(m["fired_at"], "2026-11-29T09:35:12.123Z");
  EXPECT_EQ(m["published_at"], "2026-11-29T09:35:19.579Z");
  EXPECT_EQ(m["labels"], json::parse(R"({"host":"node-1","namespace":"shop","pod":"cart-7",
                                          "container":"app"})"));
  EXPECT_EQ(m["values"]["working_set_ratio"], 0.97);
  EXPECT_EQ(m["values"]["time_to_oom_seconds"], 4.5);
  EXPECT_EQ(m["values"]["rate_nan"], "NaN");
  EXPECT_EQ(m["values"]["rate_up"], "+Inf");
  EXPECT_EQ(m["values"]["rate_down"], "-Inf");
  ASSERT_EQ(m["history"].size(), 2u);
  EXPECT_EQ(m["history"][0]["time"], "2026-11-29T09:35:10.123Z");
  EXPECT_EQ(m["history"][0]["signals"]["working_set_ratio"], 0.90);
  EXPECT_EQ(m["history"][1]["signals"]["psi_some_avg10"], 12.5);

  ASSERT_EQ(m["artifacts"].size(), 3u);
  std::uint64_t total = 0;
  for (const auto& a : m["artifacts"]) {
    std::string content = slurp(*published + "/" + a["file"].get<std::string>());
    EXPECT_EQ(a["sha256"], sha256Hex(content)) << a;
    EXPECT_EQ(a["bytes"], content.size()) << a;
    total += content.size();
  }
  EXPECT_EQ(m["artifacts"][0]["dumper"], "proc");
  EXPECT_EQ(m["artifacts"][0]["file"], "proc-status.txt");
  EXPECT_EQ(m["artifacts"][0]["truncated"], false);
  EXPECT_EQ(m["artifacts"][1]["dumper"], "gperftools");
  EXPECT_EQ(m["artifacts"][1]["truncated"], true);
  EXPECT_EQ(m["artifacts"][1]["bytes"], 16);
  EXPECT_EQ(m["total_bytes"], total);

  ASSERT_EQ(m["dumps"].size(), 4u);
  EXPECT_EQ(m["dumps"][0], json::parse(R"({"dumper":"proc","result":"ok","error":"",
      "took_seconds":0.03,"files":["proc-status.txt"]})"));
  EXPECT_EQ(m["dumps"][1]["result"], "timed_out");
  EXPECT_EQ(m["dumps"][1]["error"], "no new profile within 5s");
  EXPECT_EQ(m["dumps"][1]["took_seconds"], 5.0);
  EXPECT_EQ(m["dumps"][3]["result"], "skipped");
  EXPECT_EQ(m["dumps"][3]["files"], json::array());

  // And what list() makes of it.
  auto l = IncidentStore::list(dir);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  const IncidentSummary& s = (*l)[0];
  EXPECT_EQ(s.name, name);
  EXPECT_EQ(s.path, *published);
  EXPECT_EQ(s.target, "app");
  EXPECT_EQ(s.rule, "oom-imminent");
  EXPECT_EQ(s.severity, "critical");
  EXPECT_EQ(s.fired_at, testing::incidentTime());
  EXPECT_EQ(s.published_at, testing::incidentTime() + 7s + 456ms);
  EXPECT_EQ(s.artifacts, 3u);
  EXPECT_EQ(s.bytes, total + slurp(*published + "/manifest.json").size());
  EXPECT_EQ(
      s.results,
      (std::vector<std::pair<std::string, std::string>>{
          {"proc", "ok"}, {"gperftools", "timed_out"}, {"exec", "ok"}, {"go_pprof", "skipped"}}));
  EXPECT_EQ(s.problem, "");

  // A bundle is published once.
  auto twice = store.publish(*b, outcomes, testing::incidentTime() + 8s);
  EXPECT_FALSE(twice.ok());
}

TEST(IncidentStore, UnsetFiringTimeNamesTheBundleByNow) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path()));
  IncidentInfo i = info();
  i.fired_at = WallTime{};
  auto b = store.begin(i, testing::incidentTime(23, 59, 59, 999));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->name(), "20261129T235959.999Z-app-oom-imminent");
  EXPECT_EQ(b->info().fired_at, testing::incidentTime(23, 59, 59, 999));
  store.abandon(*b);
}

TEST(IncidentStore, NamesAreMadeSafeAndCollisionsNumbered) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path()));
  auto odd = store.begin(info("../etc/passwd", "a b\nc"), testing::incidentTime());
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->name(), "20261129T093512.123Z-.._etc_passwd-a_b_c");
  EXPECT_EQ(fs::path(odd->finalPath()).parent_path(), fs::path(tmp.path()));
  store.abandon(*odd);

  // Three at the same time with the same names, and one whose name someone else already has.
  ::mkdir((tmp.path() + "/20261129T093512.123Z-web-oom-imminent").c_str(), 0700);
  auto a = store.begin(info(), testing::incidentTime());
  auto b = store.begin(info(), testing::incidentTime());
  auto c = store.begin(info(), testing::incidentTime());
  auto w = store.begin(info("web"), testing::incidentTime());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && w.ok());
  const std::string base = "20261129T093512.123Z-app-oom-imminent";
  EXPECT_EQ(a->name(), base);
  EXPECT_EQ(b->name(), base + "-2");
  EXPECT_EQ(c->name(), base + "-3");
  EXPECT_EQ(w->name(), "20261129T093512.123Z-web-oom-imminent-2");
  // Published out of order, each keeps its name.
  ASSERT_TRUE(store.publish(*c, {}, testing::incidentTime() + 1s).ok());
  ASSERT_TRUE(store.publish(*a, {}, testing::incidentTime() + 1s).ok());
  ASSERT_TRUE(store.publish(*b, {}, testing::incidentTime() + 1s).ok());
  EXPECT_TRUE(pathExists(tmp.path() + "/" + base + "-2/manifest.json"));

  // A name taken between begin() and publish() (by another process) is never replaced.
  auto d = store.begin(info("db"), testing::incidentTime());
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->name(), "20261129T093512.123Z-db-oom-imminent");
  ::mkdir(d->finalPath().c_str(), 0700);
  auto p = store.publish(*d, {}, testing::incidentTime() + 1s);
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(*p, tmp.path() + "/20261129T093512.123Z-db-oom-imminent-2");
  EXPECT_EQ(d->name(), "20261129T093512.123Z-db-oom-imminent-2");
  EXPECT_TRUE(pathExists(*p + "/manifest.json"));
  EXPECT_FALSE(pathExists(tmp.path() + "/20261129T093512.123Z-db-oom-imminent/manifest.json"));
}

TEST(IncidentStore, AbandonRemovesTheBundleAndFreesItsName) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path()));
  auto b = store.begin(info(), testing::incidentTime());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(writeArtifact(b->dir(), "x", "data", 0).ok());
  std::string temp = b->dir();
  store.abandon(*b);
  EXPECT_FALSE(b->pending());
  EXPECT_FALSE(pathExists(temp));
  EXPECT_TRUE(names(tmp.path()).empty());
  EXPECT_FALSE(store.publish(*b, {}, testing::incidentTime()).ok());
  auto again = store.begin(info(), testing::incidentTime());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->name(), "20261129T093512.123Z-app-oom-imminent");
  store.abandon(*again);
}

// ---- atomic publish ----

TEST(IncidentStore, ACrashBeforePublishLeavesNothingVisibleAndIsCleanedAtStart) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/incidents";
  {
    IncidentStore store(testing::roomyStore(dir));
    ASSERT_TRUE(store.prepare().ok());
    ASSERT_FALSE(makeBundle(store, info("older", "r", testing::incidentTime() - 1h)).empty());
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // No gtest here: the child only writes, then dies the way the OOM killer kills.
    IncidentStore store(testing::roomyStore(dir));
    auto b = store.begin(info(), testing::incidentTime());
    if (!b) ::_exit(3);
    if (!writeArtifact(b->dir(), "heap.prof", std::string(300000, 'h'), 0)) ::_exit(4);
    if (!writeArtifact(b->dir(), "status.txt", "VmRSS", 0)) ::_exit(5);
    ::kill(::getpid(), SIGKILL);
    ::_exit(6);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  EXPECT_EQ(names(dir), std::vector<std::string>{"20261129T083512.123Z-older-r"});
  EXPECT_FALSE(pathExists(dir + "/20261129T093512.123Z-app-oom-imminent"));
  std::vector<std::string> partial;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(".partial-", 0) == 0) partial.push_back(e.path());
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0],
            dir + "/.partial-20261129T093512.123Z-app-oom-imminent-" + std::to_string(child));

  // The next start: the partial directory is gone, and the incident it was is recorded as lost
  // under its own name (a retry would capture another moment): its manifest's first lines,
  // outcome "lost" and why, and none of what the killed writer left half-made.
  IncidentStore store(testing::roomyStore(dir));
  auto removed = store.prepare(testing::incidentTime() + 1h);
  ASSERT_TRUE(removed.ok()) << removed.error().describe();
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(pathExists(partial[0]));
  const std::string record = "20261129T093512.123Z-app-oom-imminent";
  // A bundle published whole keeps no trace of what begin() wrote for this case.
  EXPECT_EQ(listing(dir + "/20261129T083512.123Z-older-r"),
            (std::vector<std::string>{"manifest.json", "status.txt"}));
  EXPECT_EQ(names(dir), (std::vector<std::string>{record, "20261129T083512.123Z-older-r"}));
  EXPECT_EQ(listing(dir + "/" + record), std::vector<std::string>{"manifest.json"});
  json m = manifest(dir + "/" + record);
  EXPECT_EQ(m["outcome"], "lost");
  EXPECT_EQ(m["lost_reason"], "the daemon stopped during the dump (found at start)");
  EXPECT_EQ(m["target"], "app");
  EXPECT_EQ(m["rule"], "oom-imminent");
  EXPECT_EQ(m["fired_at"], "2026-11-29T09:35:12.123Z");
  EXPECT_EQ(m["published_at"], "2026-11-29T10:35:12.123Z");
  EXPECT_EQ(m["artifacts"], json::array());
  EXPECT_EQ(m["dumps"], json::array());
  auto lost = store.takeLost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].name, record);
  EXPECT_EQ(lost[0].target, "app");
  EXPECT_EQ(lost[0].rule, "oom-imminent");
  EXPECT_EQ(lost[0].fired_at, testing::incidentTime());
  EXPECT_EQ(lost[0].path, dir + "/" + record);
  EXPECT_TRUE(store.takeLost().empty()) << "told once";
  auto l = IncidentStore::list(dir);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ((*l)[0].outcome, "lost");
  EXPECT_EQ((*l)[0].problem, "");
  EXPECT_EQ((*l)[1].outcome, "");

  // A start after that finds nothing more to record.
  IncidentStore again(testing::roomyStore(dir));
  auto none = again.prepare(testing::incidentTime() + 2h);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  EXPECT_TRUE(again.takeLost().empty());
}

// A `.partial-*` with nothing readable in it (a power cut before the page cache reached the
// disk, or one left by an oomsentinel from before `.begun.json`): the record says what the
// name says, and the incident is still counted as lost.
TEST(IncidentStore, APartialDirectoryWithoutItsBegunRecordIsStillRecordedLost) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/incidents";
  ASSERT_TRUE(fs::create_directories(dir + "/.partial-20261129T093512.123Z-my-app-oom-4242"));
  tmp.write("incidents/.partial-20261129T093512.123Z-my-app-oom-4242/heap.prof", "half");
  IncidentStore store(testing::roomyStore(dir));
  auto found = store.prepare(testing::incidentTime() + 1h);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(*found, 1u);
  EXPECT_EQ(names(dir), std::vector<std::string>{"20261129T093512.123Z-my-app-oom"});
  json m = manifest(dir + "/20261129T093512.123Z-my-app-oom");
  EXPECT_EQ(m["outcome"], "lost");
  EXPECT_EQ(m["fired_at"], "2026-11-29T09:35:12.123Z");
  EXPECT_EQ(m["target"], "");
  auto lost = store.takeLost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].fired_at, testing::incidentTime());
  EXPECT_EQ(listing(dir + "/20261129T093512.123Z-my-app-oom"),
            std::vector<std::string>{"manifest.json"});
}

// A lost incident's record never replaces a bundle of the same name (one published by another
// oomsentinel writing into the same directory): it takes "-lost".
TEST(IncidentStore, ALostRecordNeverReplacesABundleOfItsName) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/incidents";
  {
    IncidentStore store(testing::roomyStore(dir));
    ASSERT_TRUE(store.prepare(testing::incidentTime()).ok());
    ASSERT_FALSE(makeBundle(store, info()).empty());
  }
  const std::string name = "20261129T093512.123Z-app-oom-imminent";
  ASSERT_TRUE(fs::create_directory(dir + "/.partial-" + name + "-4242"));
  IncidentStore store(testing::roomyStore(dir));
  auto found = store.prepare(testing::incidentTime() + 1h);
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(*found, 1u);
  EXPECT_EQ(names(dir), (std::vector<std::string>{name + "-lost", name}));
  EXPECT_EQ(manifest(dir + "/" + name)["dumps"][0]["result"], "ok");
  EXPECT_EQ(manifest(dir + "/" + name + "-lost")["outcome"], "lost");
  auto lost = store.takeLost();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].path, dir + "/" + name + "-lost");
}

TEST(IncidentStore, PrepareSparesItsOwnBundlesInProgress) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path()));
  auto b = store.begin(info(), testing::incidentTime());
  ASSERT_TRUE(b.ok());
  auto removed = store.prepare();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
  EXPECT_TRUE(store.publish(*b, {}, testing::incidentTime()).ok());
}

// ---- retention ----

// Bundles of the same size, one a minute, oldest first.
std::vector<std::string> minuteBundles(const std::string& dir, int n, std::size_t bytes = 1000) {
  IncidentStore maker(testing::roomyStore(dir));
  EXPECT_TRUE(maker.prepare().ok());
  std::vector<std::string> out;
  for (int k = 0; k < n; ++k) {
    char target[16];
    std::snprintf(target, sizeof target, "t%d", k);
    std::string path =
        makeBundle(maker, info(target, "r", testing::incidentTime() + k * 1min), bytes);
    out.push_back(fs::path(path).filename());
  }
  return out;
}

TEST(IncidentStore, RetentionByCountRemovesTheOldestFirst) {
  TempDir tmp;
  auto made = minuteBundles(tmp.path(), 5);
  // Things that are not bundles are never touched.
  ::mkdir((tmp.path() + "/notes").c_str(), 0755);
  tmp.write("notes/todo.txt", "keep me");
  tmp.write("README", "keep me");
  ::mkdir((tmp.path() + "/.cache").c_str(), 0755);
  ::symlink(made[0].c_str(), (tmp.path() + "/20200101T000000.000Z-link-r").c_str());

  StoreLimits l = testing::roomyStore(tmp.path());
  l.max_incidents = 3;
  IncidentStore store(l);
  auto r = store.enforceRetention(testing::incidentTime() + 1h);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(removedNames(*r), (std::vector<std::string>{made[0], made[1]}));
  for (const auto& x : r->removed) {
    EXPECT_EQ(x.reason, RetentionReport::Reason::kCount);
    EXPECT_EQ(x.why, "more than 3 incidents");
    EXPECT_EQ(x.path, tmp.path() + "/" + x.name);
    EXPECT_GT(x.bytes, 1000u);
  }
  EXPECT_EQ(r->removed[0].time, testing::incidentTime());
  EXPECT_EQ(r->kept, 3u);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_EQ(names(tmp.path()), (std::vector<std::string>{made[4], made[3], made[2]}));
  EXPECT_EQ(slurp(tmp.path() + "/notes/todo.txt"), "keep me");
  EXPECT_EQ(slurp(tmp.path() + "/README"), "keep me");
  EXPECT_TRUE(pathExists(tmp.path() + "/.cache"));
  EXPECT_TRUE(pathExists(tmp.path() + "/20200101T000000.000Z-link-r"));

  // Even a limit of none keeps the newest.
  l.max_incidents = 0;
  IncidentStore none(l);
  r = none.enforceRetention(testing::incidentTime() + 1h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(removedNames(*r), (std::vector<std::string>{made[2], made[3]}));
  EXPECT_EQ(names(tmp.path()), std::vector<std::string>{made[4]});
}

TEST(IncidentStore, RetentionBySizeRemovesTheOldestFirstAndNeverTheNewest) {
  TempDir tmp;
  auto made = minuteBundles(tmp.path(), 4, 10000);
  auto before = IncidentStore::list(tmp.path());
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 4u);
  // Room for the newest two and a bit.
  std::uint64_t two = (*before)[0].bytes + (*before)[1].bytes;
  StoreLimits l = testing::roomyStore(tmp.path());
  l.max_bytes = two + 5000;
  IncidentStore store(l);
  auto r = store.enforceRetention(testing::incidentTime() + 1h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(removedNames(*r), (std::vector<std::string>{made[0], made[1]}));
  for (const auto& x : r->removed) EXPECT_EQ(x.reason, RetentionReport::Reason::kBytes);
  EXPECT_EQ(r->removed[0].why,
            "over " + formatBytes(static_cast<double>(l.max_bytes)) + " in total");
  EXPECT_EQ(r->kept_bytes, two);

  // Smaller than one bundle: all but the newest go.
  l.max_bytes = 1;
  IncidentStore tiny(l);
  r = tiny.enforceRetention(testing::incidentTime() + 1h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(removedNames(*r), std::vector<std::string>{made[2]});
  EXPECT_EQ(names(tmp.path()), std::vector<std::string>{made[3]});
}

TEST(IncidentStore, RetentionByAgeReadsTheManifestThenTheName) {
  TempDir tmp;
  auto made = minuteBundles(tmp.path(), 3);  // testing::incidentTime(), +1min, +2min
  // An old bundle by its name whose manifest is broken: aged by its name.
  tmp.write("20261128T000000.000Z-old-r/manifest.json", "{broken");
  // Named old, but its manifest says it fired recently: the manifest wins.
  IncidentStore maker(testing::roomyStore(tmp.path()));
  std::string recent = makeBundle(maker, info("recent", "r", testing::incidentTime() + 90s));
  std::string renamed = tmp.path() + "/20261101T000000.000Z-recent-r";
  ASSERT_EQ(::rename(recent.c_str(), renamed.c_str()), 0);

  StoreLimits l = testing::roomyStore(tmp.path());
  l.max_age = 2min;
  IncidentStore store(l);
  auto r = store.enforceRetention(testing::incidentTime() + 2min + 30s);
  ASSERT_TRUE(r.ok());
  // Older than 2 minutes at 09:37:42: the broken one (yesterday) and testing::incidentTime() (2.5
  // min old).
  EXPECT_EQ(removedNames(*r), (std::vector<std::string>{"20261128T000000.000Z-old-r", made[0]}));
  for (const auto& x : r->removed) {
    EXPECT_EQ(x.reason, RetentionReport::Reason::kAge);
    EXPECT_EQ(x.why, "older than 2m0s");
  }
  EXPECT_EQ(names(tmp.path()),
            (std::vector<std::string>{made[2], "20261101T000000.000Z-recent-r", made[1]}));
}

TEST(IncidentStore, PublishNeverRemovesTheBundleItJustPublished) {
  TempDir tmp;
  auto made = minuteBundles(tmp.path(), 3);
  StoreLimits l = testing::roomyStore(tmp.path());
  l.max_incidents = 1;
  IncidentStore store(l);
  // Published late, it is the oldest of all by its firing time.
  auto b =
      store.begin(info("late", "r", testing::incidentTime() - 1h), testing::incidentTime() + 5min);
  ASSERT_TRUE(b.ok());
  RetentionReport report;
  auto p = store.publish(*b, {}, testing::incidentTime() + 5min, &report);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(removedNames(report), (std::vector<std::string>{made[0], made[1]}));
  EXPECT_EQ(report.kept, 2u);
  EXPECT_EQ(names(tmp.path()), (std::vector<std::string>{made[2], b->name()}));
}

// ---- free space ----

TEST(IncidentStore, RefusesToStartBelowTheFreeSpaceReserve) {
  TempDir tmp;
  struct statvfs vfs;
  ASSERT_EQ(::statvfs(tmp.path().c_str(), &vfs), 0);
  StoreLimits l = testing::roomyStore(tmp.path());
  l.min_free = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize + 1;  // more than it has
  IncidentStore store(l);
  auto b = store.begin(info(), testing::incidentTime());
  ASSERT_FALSE(b.ok());
  const std::string& msg = b.error().message;
  EXPECT_EQ(msg.rfind("skipped: ", 0), 0u) << msg;
  EXPECT_TRUE(
      std::regex_search(msg, std::regex(R"(^skipped: [0-9.]+ (B|KiB|MiB|GiB|TiB|PiB) free)")))
      << msg;
  EXPECT_THAT(msg, HasSubstr(formatBytes(static_cast<double>(l.min_free))));
  EXPECT_EQ(b.error().path, tmp.path());
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(IncidentStore, RefusesABundleWhenATinyFilesystemRunsLow) {
  TempDir tmp;
  testing::TmpfsMount m(tmp.path() + "/mnt", "1m");
  if (!m.why().empty()) GTEST_SKIP() << m.why();

  StoreLimits l = testing::roomyStore(m.dir() + "/incidents");
  l.min_free = 512 * 1024;
  IncidentStore store(l);
  ASSERT_TRUE(store.prepare().ok());
  // The first bundle fits and leaves less than the reserve behind.
  std::string first = makeBundle(store, info(), 700 * 1024);
  ASSERT_FALSE(first.empty());
  auto refused = store.begin(info("second"), testing::incidentTime() + 1s);
  ASSERT_FALSE(refused.ok());
  const std::string& msg = refused.error().message;
  EXPECT_EQ(msg.rfind("skipped: ", 0), 0u) << msg;
  EXPECT_TRUE(std::regex_search(msg, std::regex(R"(^skipped: [0-9.]+ KiB free)"))) << msg;
  EXPECT_THAT(msg, HasSubstr(formatBytes(512 * 1024)));
  EXPECT_EQ(names(l.dir), std::vector<std::string>{fs::path(first).filename()});
  for (const auto& e : fs::directory_iterator(l.dir))
    EXPECT_NE(e.path().filename().string().rfind(".partial-", 0), 0u) << e.path();
}

// ---- list ----

TEST(IncidentStore, ListsBrokenBundlesWithTheirProblemAndNeverPartialOnes) {
  TempDir tmp;
  IncidentStore store(testing::roomyStore(tmp.path()));
  std::string good = makeBundle(store, info("good", "r", testing::incidentTime(12)));
  tmp.write("20261129T110000.000Z-garbled-r/manifest.json", "not json {");
  ::mkdir((tmp.path() + "/20261129T100000.000Z-empty-r").c_str(), 0700);
  tmp.write("handmade/manifest.json", R"({"version": 1, "target": "x"})");
  json future = json::parse(slurp(good + "/manifest.json"));
  future["version"] = 2;
  future["fired_at"] = "2026-11-29T09:00:00.000Z";
  tmp.write("20261129T090000.000Z-future-r/manifest.json", future.dump());
  tmp.write("20261129T080000.000Z-array-r/manifest.json", "[1, 2]");
  tmp.write(".partial-20261129T130000.000Z-app-r-1/manifest.json", slurp(good + "/manifest.json"));
  tmp.write("notes/readme.txt", "not a bundle");
  tmp.write("20261129T140000.000Z-file-r", "a file, not a directory");
  // Dated by its mtime, which is set to 2000-01-01 so the order does not depend on today.
  struct timespec old[2] = {{946684800, 0}, {946684800, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (tmp.path() + "/handmade").c_str(), old, 0), 0);

  auto l = IncidentStore::list(tmp.path());
  ASSERT_TRUE(l.ok());
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& s : *l) got.emplace_back(s.name, s.problem);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], std::make_pair(fs::path(good).filename().string(), std::string()));
  EXPECT_EQ(got[1], std::make_pair(std::string("20261129T110000.000Z-garbled-r"),
                                   std::string("manifest.json is not valid JSON")));
  EXPECT_EQ(got[2], std::make_pair(std::string("20261129T100000.000Z-empty-r"),
                                   std::string("no manifest.json")));
  EXPECT_EQ(got[3].first, "20261129T090000.000Z-future-r");
  EXPECT_EQ(got[3].second, "manifest.json has version 2, this oomsentinel reads 1");
  EXPECT_EQ(got[4], std::make_pair(std::string("20261129T080000.000Z-array-r"),
                                   std::string("manifest.json is not a JSON object")));
  // No time in its name nor its manifest: dated by the directory, so listed last here.
  EXPECT_EQ(got[5].first, "handmade");
  EXPECT_EQ(got[5].second, "manifest.json has no 'rule'");
  EXPECT_EQ((*l)[5].target, "x");
  EXPECT_EQ((*l)[1].fired_at, testing::incidentTime(11, 0, 0, 0));
  EXPECT_EQ((*l)[3].target, "good");  // what could be read still is

  auto missing = IncidentStore::list(tmp.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

// ---- concurrency ----

TEST(IncidentStore, ManyThreadsPublishAtOnce) {
  for (int round = 0; round < 5; ++round) {
    TempDir tmp;
    IncidentStore store(testing::roomyStore(tmp.path()));
    ASSERT_TRUE(store.prepare().ok());
    constexpr int kThreads = 8;
    std::latch start(kThreads);
    std::vector<std::string> paths(kThreads), errors(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        // Even threads share one name; odd ones each have their own.
        IncidentInfo i = info(t % 2 == 0 ? "same" : "own" + std::to_string(t));
        start.arrive_and_wait();
        auto b = store.begin(i, testing::incidentTime());
        if (!b) {
          errors[t] = b.error().describe();
          return;
        }
        auto a = writeArtifact(b->dir(), "data", std::string(1000 + t, 'd'), 0);
        if (!a) {
          errors[t] = a.error().describe();
          return;
        }
        auto p = store.publish(*b, {outcome("proc", DumpResult::kOk, {*a})},
                               testing::incidentTime() + 1s);
        if (!p) {
          errors[t] = p.error().describe();
          return;
        }
        paths[t] = *p;
      });
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << t;
    std::set<std::string> distinct(paths.begin(), paths.end());
    EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kThreads));
    auto got = names(tmp.path());
    std::set<std::string> listed(got.begin(), got.end());
    const std::string same = "20261129T093512.123Z-same-oom-imminent";
    std::set<std::string> want{same, same + "-2", same + "-3", same + "-4"};
    for (int t = 1; t < kThreads; t += 2)
      want.insert("20261129T093512.123Z-own" + std::to_string(t) + "-oom-imminent");
    EXPECT_EQ(listed, want);
    // Each bundle holds its own thread's file.
    for (int t = 0; t < kThreads; ++t)
      EXPECT_EQ(slurp(paths[t] + "/data").size(), static_cast<std::size_t>(1000 + t)) << t;
    for (const auto& e : fs::directory_iterator(tmp.path()))
      EXPECT_NE(e.path().filename().string().rfind(".partial-", 0), 0u) << e.path();
  }
}

}  // namespace
}  // namespace oomsentinel
