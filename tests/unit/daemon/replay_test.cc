// `oomsentinel replay` over the three traces recorded on a real cgroup (tests/fixtures/traces):
// exact golden transitions for the built-in rules, and what they mean.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::binaryPath;
using oomsentinel::testing::fixture;
using oomsentinel::testing::readFixture;
using oomsentinel::testing::runCommand;

std::vector<nlohmann::json> jsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The unix time of the first sample where the kernel had OOM-killed in the cgroup.
double killTime(const std::string& trace) {
  for (const auto& j : jsonLines(readFixture("traces/" + trace + ".jsonl")))
    if (j["signals"].value("events_oom_kill", 0) >= 1) return j["unix_time"].get<double>();
  return 0;
}

double firstFiring(const std::vector<nlohmann::json>& transitions, const std::string& rule) {
  for (const auto& t : transitions)
    if (t["rule"] == rule && t["state"] == "firing") return t["unix_time"].get<double>();
  return 0;
}

class Replay : public ::testing::TestWithParam<std::string> {};

TEST_P(Replay, MatchesTheGoldenTransitions) {
  auto r = runCommand({binaryPath(), "replay", fixture("traces/" + GetParam() + ".jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, readFixture("traces/" + GetParam() + ".golden.jsonl"));
}

INSTANTIATE_TEST_SUITE_P(Traces, Replay, ::testing::Values("slow-leak", "fast-leak", "spike"));

TEST(ReplayMeaning, LeaksFireTheCriticalRuleBeforeTheKernelKills) {
  for (std::string trace : {"slow-leak", "fast-leak"}) {
    auto t = jsonLines(readFixture("traces/" + trace + ".golden.jsonl"));
    double kill = killTime(trace);
    ASSERT_GT(kill, 0) << trace << ": the recording should include the OOM kill";
    double critical = firstFiring(t, "oom-imminent");
    ASSERT_GT(critical, 0) << trace;
    EXPECT_LT(critical, kill) << trace;
  }
  // The slow leak is seen as a trend long before the end.
  auto slow = jsonLines(readFixture("traces/slow-leak.golden.jsonl"));
  EXPECT_GT(killTime("slow-leak") - firstFiring(slow, "fast-growth"), 10.0);
}

TEST(ReplayMeaning, ReleasedSpikeEndsWithNothingFiring) {
  auto t = jsonLines(readFixture("traces/spike.golden.jsonl"));
  EXPECT_EQ(killTime("spike"), 0) << "the spike was not killed";
  std::map<std::string, std::string> last;
  for (const auto& x : t) last[x["rule"]] = x["state"];
  for (const auto& [rule, state] : last)
    EXPECT_TRUE(state == "resolved" || state == "inactive") << rule << " ends " << state;
}

TEST(ReplayErrors, BadTraceLineSaysWhereAndWhat) {
  oomsentinel::testing::TempDir dir;
  dir.write("t.jsonl", "{\"unix_time\": 1, \"target\": \"a\", \"signals\": {}}\nnot json\n");
  auto r = runCommand({binaryPath(), "replay", dir.path() + "/t.jsonl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, dir.path() + "/t.jsonl:2: not a JSON object\n");
  dir.write("u.jsonl", "{\"unix_time\": 1, \"target\": \"a\", \"signals\": {\"x\": \"big\"}}\n");
  r = runCommand({binaryPath(), "replay", dir.path() + "/u.jsonl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, dir.path() + "/u.jsonl:1: signal 'x' is not a number\n");
}

TEST(ReplayRules, ConfigRulesAreUsedInsteadOfTheBuiltIns) {
  oomsentinel::testing::TempDir dir;
  dir.write("c.yaml",
            "rules:\n  - name: half\n    expr: working_set_ratio > 50%\n    actions: [log]\n");
  auto r = runCommand({binaryPath(), "replay", "--config", dir.path() + "/c.yaml",
                       fixture("traces/fast-leak.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto t = jsonLines(r.out);
  ASSERT_FALSE(t.empty());
  for (const auto& x : t) EXPECT_EQ(x["rule"], "half");
  EXPECT_GT(firstFiring(t, "half"), 0);
}

// The built-in dump rule's capture clause (`time_to_oom < 3 * capture_seconds and
// working_set_ratio > 50%`) on the recorded traces: a slower capture fires it earlier in the fast
// leak, and the released spike still dumps once, as with the level clauses alone.
std::vector<nlohmann::json> replayWithCapture(const std::string& trace, const std::string& c) {
  std::vector<std::string> argv = {binaryPath(), "replay"};
  if (!c.empty()) argv.insert(argv.end(), {"--capture-seconds", c});
  argv.push_back(fixture("traces/" + trace + ".jsonl"));
  auto r = runCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return jsonLines(r.out);
}

std::size_t dumpFirings(const std::vector<nlohmann::json>& t) {
  std::size_t n = 0;
  for (const auto& x : t) n += x["rule"] == "oom-imminent" && x["state"] == "firing";
  return n;
}

TEST(ReplayCapture, ASlowerCaptureFiresTheDumpRuleEarlierAndTheSpikeNoMoreOften) {
  double kill = killTime("fast-leak");
  double lead_default = kill - firstFiring(replayWithCapture("fast-leak", ""), "oom-imminent");
  double lead_slow = kill - firstFiring(replayWithCapture("fast-leak", "1s"), "oom-imminent");
  EXPECT_NEAR(lead_default, 0.6, 0.05) << "proc's 0.05 s: the level clauses decide";
  EXPECT_GT(lead_slow, lead_default + 0.3) << "a 1 s capture needs the firing earlier";
  for (std::string c : {"", "0.55s", "1s", "3s"}) {
    EXPECT_EQ(dumpFirings(replayWithCapture("spike", c)), 1u) << "capture " << c;
    EXPECT_EQ(dumpFirings(replayWithCapture("slow-leak", c)), 1u) << "capture " << c;
  }
}

// 30% of a 1000 MiB limit growing 15% a second: at 60% (2 s in) the trend says 2.7 s to the
// limit, which only the capture clause can call too late (the level clauses want 70%).
std::string captureTrace(std::optional<double> capture) {
  std::string out;
  for (int i = 0; i <= 22; ++i) {
    double t = i / 10.0, limit = 1048576000.0, ws = limit * (0.30 + 0.15 * t);
    nlohmann::json s = {
        {"working_set_bytes", ws}, {"limit_bytes", limit}, {"working_set_ratio", ws / limit}};
    if (capture) s["capture_seconds"] = *capture;
    out +=
        nlohmann::json({{"unix_time", 1000 + t}, {"target", "app"}, {"signals", s}}).dump() + "\n";
  }
  return out;
}

TEST(ReplayCapture, TheTracesOwnCaptureIsUsedTheFlagOverridesItAndTheDefaultIsTheDumpers) {
  oomsentinel::testing::TempDir dir;
  dir.write("with.jsonl", captureTrace(1.0));
  dir.write("without.jsonl", captureTrace(std::nullopt));
  auto run = [&](std::vector<std::string> extra, const std::string& file) {
    std::vector<std::string> argv = {binaryPath(), "replay"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(dir.path() + "/" + file);
    auto r = runCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dumpFirings(jsonLines(r.out));
  };
  EXPECT_EQ(run({}, "with.jsonl"), 1u) << "the recorded 1 s capture";
  EXPECT_EQ(run({"--capture-seconds", "100ms"}, "with.jsonl"), 0u);
  EXPECT_EQ(run({}, "without.jsonl"), 0u) << "proc alone: 0.05 s";
  // The config's dumpers: a JVM's (0.05 + 0.5 s by default) leaves 2.7 s to the limit outside
  // three captures; an exec hook's (0.05 + 1 s) does not.
  dir.write("jvm.yaml", "targets:\n  - name: app\n    cgroup: /app\n    dumpers: [proc, jvm]\n");
  EXPECT_EQ(run({"--config", dir.path() + "/jvm.yaml"}, "without.jsonl"), 0u) << "0.55 s";
  dir.write("exec.yaml",
            "targets:\n  - name: app\n    cgroup: /app\n    dumpers: [proc, exec]\n"
            "    exec: {argv: [/bin/true]}\n");
  EXPECT_EQ(run({"--config", dir.path() + "/exec.yaml"}, "without.jsonl"), 1u) << "1.05 s";
  EXPECT_EQ(run({"--capture-seconds", "1s"}, "without.jsonl"), 1u);
  auto bad =
      runCommand({binaryPath(), "replay", "--capture-seconds", "soon", dir.path() + "/with.jsonl"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("--capture-seconds"));
}

}  // namespace
}  // namespace oomsentinel
