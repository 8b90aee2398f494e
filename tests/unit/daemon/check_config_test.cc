// `oomsentinel check-config`: every error, each followed by its source line and a caret.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

TEST(CheckConfig, EveryErrorWithItsLineAndACaretUnderTheColumn) {
  oomsentinel::testing::TempDir dir;
  dir.write("c.yaml",
            "poll:\n  fast_intervall: 50ms\nrules:\n  - name: r\n    expr: working_set_ratio > "
            "85parsecs\n");
  auto r = oomsentinel::testing::runCommand(
      {oomsentinel::testing::binaryPath(), "check-config", dir.path() + "/c.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  std::string f = dir.path() + "/c.yaml";
  EXPECT_EQ(r.err, f +
                       ":2:3: poll.fast_intervall: unknown key 'fast_intervall' (did you mean "
                       "'fast_interval'?)\n"
                       "      fast_intervall: 50ms\n"
                       "      ^\n" +
                       f +
                       ":5:33: rules[0].expr: unknown unit 'parsecs' (use %, KiB, MiB, GiB, TiB, "
                       "ms, s, m, h)\n"
                       "        expr: working_set_ratio > 85parsecs\n"
                       "                                    ^\n" +
                       f + ": 2 errors\n");
  EXPECT_EQ(r.out, "");
}

TEST(CheckConfig, ValidPrintsASummaryAndExitsZero) {
  oomsentinel::testing::TempDir dir;
  dir.write("c.yaml", "targets:\n  - name: h\n    host: true\n");
  auto r = oomsentinel::testing::runCommand(
      {oomsentinel::testing::binaryPath(), "check-config", dir.path() + "/c.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, dir.path() + "/c.yaml: ok (1 targets, 6 built-in rules)\n");
}

}  // namespace
}  // namespace oomsentinel

namespace oomsentinel {
namespace {

// The Alertmanager settings the daemon would only meet at start: an auth file that is missing,
// and an https URL whose CA file is not PEM, are errors here too, naming the file.
TEST(CheckConfig, AlertmanagerFilesAreReadAsTheDaemonWouldReadThem) {
  oomsentinel::testing::TempDir dir;
  dir.write("ca.pem", "not a certificate\n");
  dir.write("token", "s3cret\n");
  auto check = [&](const std::string& alertmanager) {
    dir.write("c.yaml", "alerts:\n  alertmanager:\n" + alertmanager +
                            "targets:\n  - name: h\n    host: true\n");
    return oomsentinel::testing::runCommand(
        {oomsentinel::testing::binaryPath(), "check-config", dir.path() + "/c.yaml"});
  };
  auto bad_ca = check("    urls: ['https://127.0.0.1:9093']\n    tls: {ca_file: '" + dir.path() +
                      "/ca.pem'}\n");
  EXPECT_EQ(bad_ca.exit_code, 2);
  EXPECT_THAT(bad_ca.err, HasSubstr(dir.path() + "/c.yaml: alerts.alertmanager: " + dir.path() +
                                    "/ca.pem: not a PEM CA certificate bundle"));
  auto no_token = check("    urls: ['http://127.0.0.1:9093']\n    bearer_token_file: '" +
                        dir.path() + "/missing'\n");
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_THAT(no_token.err, HasSubstr(dir.path() + "/missing"));
  auto fine = check("    urls: ['http://127.0.0.1:9093']\n    bearer_token_file: '" + dir.path() +
                    "/token'\n");
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

// A file with many errors: exit 2, and every one of them (tests/fixtures/configs/bad).
TEST(CheckConfig, BadFileExitsTwoAndPrintsEveryError) {
  const std::string path = oomsentinel::testing::fixture("configs/bad/many_errors.yaml");
  auto r =
      oomsentinel::testing::runCommand({oomsentinel::testing::binaryPath(), "check-config", path});
  EXPECT_EQ(r.exit_code, 2);
  std::string golden = oomsentinel::testing::readFixture("configs/bad/many_errors.errors");
  std::size_t lines = 0;
  for (std::size_t at = 0, nl; (nl = golden.find('\n', at)) != std::string::npos; at = nl + 1) {
    std::string line = golden.substr(at, nl - at);
    line.replace(0, std::string("bad/many_errors.yaml").size(), path);
    EXPECT_THAT(r.err, HasSubstr(line + "\n")) << line << "\n---\n" << r.err;
    ++lines;
  }
  EXPECT_GE(lines, 10u);
}

}  // namespace
}  // namespace oomsentinel
