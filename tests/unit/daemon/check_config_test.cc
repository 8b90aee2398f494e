// `oomsentinel check-config`: every error, each followed by its source line and a caret.
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

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
