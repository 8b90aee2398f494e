// The logger with text a target controls: one line per event in both formats, valid JSON lines,
// whatever bytes a message or a field holds.
#include "daemon/logger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Captured = testing::CapturedOutput;

const std::string kFffd = "\xEF\xBF\xBD";

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The keys of "k=v k="quoted \"v\"" as a logfmt reader splits them.
std::vector<std::string> logfmtKeys(const std::string& s) {
  std::vector<std::string> keys;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t eq = s.find('=', i);
    if (eq == std::string::npos) break;
    keys.push_back(s.substr(i, eq - i));
    i = eq + 1;
    if (i < s.size() && s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i)
        if (s[i] == '\\') ++i;
      ++i;
    } else {
      while (i < s.size() && s[i] != ' ') ++i;
    }
  }
  return keys;
}

TEST(Logger, JsonGivenInvalidUtf8AndANewlineWritesOneValidLine) {
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kJson, out.file());
  // What a target's /metrics answered with its HTTP 500, and a name with a newline.
  EXPECT_NO_THROW(log.log(LogLevel::kWarning, "runtime endpoint failed: \xff\xfe",
                          {{"error", "HTTP 500: \xff\xfe"}, {"target", "a\nb"}, {"\xff", "k"}}));
  auto got = lines(out.text());
  ASSERT_EQ(got.size(), 1u) << out.text();
  nlohmann::json j = nlohmann::json::parse(got[0]);  // throws on invalid JSON or UTF-8
  EXPECT_EQ(j["msg"], "runtime endpoint failed: " + kFffd + kFffd);
  EXPECT_EQ(j["error"], "HTTP 500: " + kFffd + kFffd);
  EXPECT_EQ(j["target"], "a\\x0ab");
  EXPECT_EQ(j[kFffd], "k");
  EXPECT_EQ(j["level"], "warning");
}

TEST(Logger, JsonFieldsCannotOverwriteTimeLevelOrMessage) {
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kJson, out.file());
  log.log(LogLevel::kDebug, "hello", {{"level", "error"}, {"msg", "forged"}});
  nlohmann::json j = nlohmann::json::parse(lines(out.text()).at(0));
  EXPECT_EQ(j["level"], "debug");
  EXPECT_EQ(j["msg"], "hello");
  EXPECT_EQ(j["field_level"], "error");
  EXPECT_EQ(j["field_msg"], "forged");
}

TEST(Logger, HumanGivenANewlineWritesOneLine) {
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  log.log(LogLevel::kInfo, "a\nlevel=error forged", {{"name", "x\r\n2024-01-01 ERROR forged"}});
  auto got = lines(out.text());
  ASSERT_EQ(got.size(), 1u) << out.text();
  EXPECT_THAT(got[0], HasSubstr("INFO    a\\x0alevel=error forged"));
  // Inside quotes a backslash is escaped too (logfmt), so the escape reads "\\x0d" there.
  EXPECT_THAT(got[0], HasSubstr(R"(name="x\\x0d\\x0a2024-01-01 ERROR forged")"));
}

TEST(Logger, HumanValuesCannotForgeAField) {
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kHuman, out.file());
  // A quote would close the quoted value early and start a field of the target's choosing.
  log.log(LogLevel::kInfo, "m", {{"error", "x\" level=error y=\"z"}, {"path", "a b\\"}});
  std::string line = lines(out.text()).at(0);
  EXPECT_THAT(line, HasSubstr(R"(error="x\" level=error y=\"z")"));
  EXPECT_THAT(line, HasSubstr(R"(path="a b\\")"));
  EXPECT_EQ(logfmtKeys(line.substr(line.find(" m ") + 3)),
            (std::vector<std::string>{"error", "path"}));
  // A plain value is still written bare, an empty one quoted.
  log.log(LogLevel::kInfo, "m",
          {{"target", "app"}, {"e", ""}, {"bad key=", "v"}, {"results", "proc=ok"}});
  EXPECT_THAT(lines(out.text()).at(1), HasSubstr(R"(target=app e="" bad_key_=v results=proc=ok)"));
}

TEST(Logger, CutsLongTextAtTheCap) {
  FakeClock clock;
  Captured out;
  Logger log(clock, Logger::Format::kJson, out.file());
  log.log(LogLevel::kInfo, std::string(100000, 'a'), {{"body", std::string(100000, '\n')}});
  nlohmann::json j = nlohmann::json::parse(lines(out.text()).at(0));
  EXPECT_EQ(j["msg"].get<std::string>().size(), Logger::kLogTextCap);
  EXPECT_LE(j["body"].get<std::string>().size(), Logger::kLogTextCap);
  EXPECT_THAT(j["body"].get<std::string>(), HasSubstr("\\x0a\\x0a"));
}

TEST(Logger, TransitionsOfATargetWithAHostileNameStayOneLine) {
  Firing f;
  f.rule = "near-limit";
  f.target =
      "web/\xff\n"
      "2024 ERROR forged";
  f.expr = "working_set_ratio > 85%";
  f.from = RuleState::kPending;
  f.to = RuleState::kFiring;
  f.severity = Severity::kCritical;
  f.values = {{"working_set_ratio", 0.9}};
  f.actions = {ActionKind::kLog, ActionKind::kDump};
  for (auto format : {Logger::Format::kJson, Logger::Format::kHuman}) {
    FakeClock clock;
    Captured out;
    Logger log(clock, format, out.file());
    EXPECT_NO_THROW(log.transition(f));
    auto got = lines(out.text());
    ASSERT_EQ(got.size(), 1u) << out.text();
    if (format == Logger::Format::kJson) {
      nlohmann::json j = nlohmann::json::parse(got[0]);
      EXPECT_EQ(j["target"], "web/" + kFffd + "\\x0a2024 ERROR forged");
      EXPECT_EQ(j["state"], "firing");
      EXPECT_EQ(j["values"]["working_set_ratio"], 0.9);
      EXPECT_EQ(j["actions"], nlohmann::json::array({"log", "dump"}));
    } else {
      EXPECT_THAT(got[0], HasSubstr("rule near-limit on web/" + kFffd +
                                    "\\x0a2024 ERROR forged: pending -> firing [critical]"));
      EXPECT_THAT(got[0], HasSubstr("working_set_ratio=0.9 actions=log,dump"));
    }
  }
}

}  // namespace
}  // namespace oomsentinel
