// `oomsentinel replay` over the three traces recorded on a real cgroup (tests/fixtures/traces):
// exact golden transitions for the built-in rules, and what they mean.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
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

}  // namespace
}  // namespace oomsentinel
