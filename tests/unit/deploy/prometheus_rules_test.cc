// The Prometheus alert rules shipped in deploy/prometheus: promtool accepts them and their unit
// tests pass, they use only series oomsentinel exports, and every alert carries what the person
// it pages needs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using testing::runCommand;
using testing::slurp;

const char kPromtool[] = "/usr/bin/promtool";

std::string rulesPath() {
  return std::string(OOMSENTINEL_SOURCE_DIR) + "/deploy/prometheus/oomsentinel-alerts.yaml";
}
std::string rulesTestPath() {
  return std::string(OOMSENTINEL_SOURCE_DIR) + "/deploy/prometheus/oomsentinel-alerts.test.yaml";
}

// The series of oomsentinel's /metrics that rules may rely on: renaming one breaks the rules
// silently (an alert over a missing series never fires), so it has to break this test first.
const std::set<std::string> kContract = {
    "oomsentinel_memory_usage_bytes",
    "oomsentinel_memory_limit_bytes",
    "oomsentinel_memory_working_set_bytes",
    "oomsentinel_memory_working_set_ratio",
    "oomsentinel_time_to_oom_seconds",
    "oomsentinel_pressure_some_avg10_ratio",
    "oomsentinel_pressure_full_avg10_ratio",
    "oomsentinel_oom_kills_total",
    "oomsentinel_oom_kills_unwarned_total",
    "oomsentinel_rule_firing",
    "oomsentinel_rule_transitions_total",
    "oomsentinel_dumps_total",
    "oomsentinel_incidents_total",
    "oomsentinel_last_tick_timestamp_seconds",
    "oomsentinel_targets",
};

// Alert names are what Alertmanager routes, inhibition rules and silences match on.
const std::set<std::string> kAlertNames = {
    "OomsentinelMemoryNearLimit", "OomsentinelOomImminent", "OomsentinelOomKillUnwarned",
    "OomsentinelOomKill",         "OomsentinelDumpFailing", "OomsentinelDown",
    "OomsentinelAbsent",          "OomsentinelStalled",
};

bool havePromtool() { return ::access(kPromtool, X_OK) == 0; }

struct Alert {
  std::string name;
  // "labels" and "annotations": each key, with the text after its colon on the key's line
  // ("warning", or "|-" for a block).
  std::map<std::string, std::map<std::string, std::string>> sections;
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The alerts of a rules file written in block style, read by indentation: a `- alert:` item,
// its keys one level in, and the keys of its `labels:` and `annotations:` one level further.
// Block scalars (descriptions, runbooks) are indented deeper still and are skipped.
std::vector<Alert> parseAlerts(const std::string& text) {
  static const std::regex alert_re(R"(^( *)- alert:\s*(\S+)\s*$)");
  static const std::regex key_re(R"(^( *)([A-Za-z_][A-Za-z0-9_]*):(.*)$)");
  std::vector<Alert> alerts;
  bool open = false;
  std::size_t item_indent = 0, child_indent = std::string::npos;
  std::string section;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string body = trim(line);
    if (body.empty() || body[0] == '#') continue;
    std::smatch m;
    if (std::regex_match(line, m, alert_re)) {
      alerts.push_back({m[2].str(), {}});
      open = true;
      item_indent = m[1].length() + 2;
      section.clear();
      continue;
    }
    if (!open) continue;
    std::size_t indent = line.find_first_not_of(' ');
    if (indent < item_indent) {
      open = false;
    } else if (indent == item_indent) {
      section = std::regex_match(line, m, key_re) ? m[2].str() : "";
      child_indent = std::string::npos;
    } else if (section == "labels" || section == "annotations") {
      if (child_indent == std::string::npos) child_indent = indent;
      if (indent == child_indent && std::regex_match(line, m, key_re))
        alerts.back().sections[section][m[2].str()] = trim(m[3].str());
    }
  }
  return alerts;
}

TEST(PrometheusRules, PromtoolChecksTheRules) {
  if (!havePromtool()) GTEST_SKIP() << "promtool is missing: install Debian package prometheus";
  auto r = runCommand({kPromtool, "check", "rules", rulesPath()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("SUCCESS"));
  // Every rule promtool found is one this file's reader found, so the checks below see them all.
  auto alerts = parseAlerts(slurp(rulesPath()));
  EXPECT_THAT(r.out, HasSubstr("SUCCESS: " + std::to_string(alerts.size()) + " rules found"));
}

TEST(PrometheusRules, PromtoolUnitTestsPass) {
  if (!havePromtool()) GTEST_SKIP() << "promtool is missing: install Debian package prometheus";
  auto r = runCommand({kPromtool, "test", "rules", rulesTestPath()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("SUCCESS")) << r.out << r.err;
}

TEST(PrometheusRules, UseOnlySeriesOomsentinelExports) {
  static const std::regex name_re("oomsentinel_[a-z0-9_]+");
  for (const auto& path : {rulesPath(), rulesTestPath()}) {
    std::string text = slurp(path);
    ASSERT_FALSE(text.empty()) << "cannot read " << path;
    std::set<std::string> used;
    for (std::sregex_iterator it(text.begin(), text.end(), name_re), end; it != end; ++it)
      used.insert(it->str());
    EXPECT_FALSE(used.empty()) << path;
    for (const auto& name : used)
      EXPECT_TRUE(kContract.count(name))
          << path << " uses " << name << ", which is not in oomsentinel's /metrics contract";
  }
}

TEST(PrometheusRules, EveryAlertHasSeverityAndRunbookAnnotations) {
  auto alerts = parseAlerts(slurp(rulesPath()));
  std::set<std::string> names;
  for (const auto& alert : alerts) {
    SCOPED_TRACE(alert.name);
    EXPECT_TRUE(names.insert(alert.name).second) << "defined twice";
    EXPECT_TRUE(std::regex_match(alert.name, std::regex("Oomsentinel([A-Z][a-z0-9]*)+")))
        << "not PascalCase with the Oomsentinel prefix";
    auto labels = alert.sections.find("labels");
    ASSERT_NE(labels, alert.sections.end()) << "no labels (block style expected)";
    auto severity = labels->second.find("severity");
    ASSERT_NE(severity, labels->second.end()) << "no severity label";
    EXPECT_THAT((std::set<std::string>{"warning", "critical"}),
                ::testing::Contains(severity->second));
    auto annotations = alert.sections.find("annotations");
    ASSERT_NE(annotations, alert.sections.end()) << "no annotations (block style expected)";
    for (const char* key : {"summary", "description", "runbook"}) {
      auto a = annotations->second.find(key);
      ASSERT_NE(a, annotations->second.end()) << "no " << key << " annotation";
      EXPECT_FALSE(a->second.empty()) << key << " is empty";
    }
  }
  EXPECT_EQ(names, kAlertNames);
}

TEST(PrometheusRules, EveryAlertIsUnitTested) {
  std::string tests = slurp(rulesTestPath());
  ASSERT_FALSE(tests.empty()) << "cannot read " << rulesTestPath();
  // An alert_rule_test that expects it to fire (others, without exp_alerts, say when it must not).
  for (const auto& alert : parseAlerts(slurp(rulesPath()))) {
    EXPECT_TRUE(
        std::regex_search(tests, std::regex("alertname: " + alert.name + "\n *exp_alerts:")))
        << alert.name << " is never expected to fire in " << rulesTestPath();
  }
}

}  // namespace
}  // namespace oomsentinel
