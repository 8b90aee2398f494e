// The example leakers' flags that benchmarks rely on: --prefill (all four: leaker, cpp-leak,
// go-leak, java-leak) and go-leak's in-process baseline, --self-profile. Each example that was
// not built (its toolchain missing at configure time) is skipped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using oomsentinel::testing::runCommand;
using oomsentinel::testing::RunResult;
using oomsentinel::testing::TempDir;

struct Example {
  const char* name;
  std::string path;
  std::vector<std::string> extra;  // flags the example needs to run here
};

std::vector<Example> examples() {
  return {
      {"leaker", OOMSENTINEL_LEAKER, {}},
      {"cpp-leak", OOMSENTINEL_CPP_LEAK, {}},
      // Port 0: no clash with anything else listening.
      {"go-leak", OOMSENTINEL_GO_LEAK, {"--listen", "127.0.0.1:0", "--churn", "0"}},
      {"java-leak", OOMSENTINEL_JAVA_LEAK, {}},
  };
}

bool built(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

struct Line {
  double time = 0;
  std::string event, text;
};

// "1796293541.581697" (the C++ examples) or "2026-12-03T10:28:23.44585445Z" (Go, Java; RFC 3339
// in UTC with 0 to 9 fraction digits); -1 when it is neither.
double parseTime(const std::string& t) {
  if (t.find('T') == std::string::npos) {
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    return end != t.c_str() && *end == '\0' ? v : -1;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(t.c_str(), "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      t.back() != 'Z')
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  double fraction = 0;
  const auto from = static_cast<std::size_t>(consumed);
  std::string rest = from + 1 < t.size() ? t.substr(from, t.size() - from - 1) : "";
  if (!rest.empty()) fraction = std::strtod(("0" + rest).c_str(), nullptr);
  return static_cast<double>(timegm(&tm)) + fraction;
}

// Every stdout line: its time (first word) and event (second word).
std::vector<Line> parseLines(const std::string& out) {
  std::vector<Line> lines;
  std::stringstream in(out);
  for (std::string text; std::getline(in, text);) {
    std::stringstream words(text);
    Line l;
    std::string time;
    words >> time >> l.event;
    l.time = parseTime(time);
    l.text = text;
    lines.push_back(l);
  }
  return lines;
}

bool isAlloc(const std::string& event) { return event == "alloc" || event == "allocated"; }

TEST(ExamplesFlags, PrefillLogsOneLineBeforeTheRateLeakAndCountsTowardMax) {
  int ran = 0;
  for (const Example& ex : examples()) {
    SCOPED_TRACE(ex.name);
    if (!built(ex.path)) {
      std::printf("[ SKIPPED  ] %s is not built ('%s')\n", ex.name, ex.path.c_str());
      continue;
    }
    ++ran;
    std::vector<std::string> argv = {ex.path, "--prefill", "8MiB",   "--max",
                                     "16MiB", "--rate",    "64MiB/s"};
    argv.insert(argv.end(), ex.extra.begin(), ex.extra.end());
    RunResult r = runCommand(argv, 60);
    ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "stderr:\n" << r.err;
    std::vector<Line> lines = parseLines(r.out);
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.front().event, "start") << r.out;

    std::size_t prefilled = lines.size(), done = lines.size(), allocs_before = 0, allocs_after = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const Line& l = lines[i];
      EXPECT_GE(l.time, 0) << "line without a time: " << l.text;
      if (i > 0) {
        EXPECT_GE(l.time, lines[i - 1].time) << "time went back at: " << l.text;
      }
      if (l.event == "prefilled") {
        EXPECT_EQ(prefilled, lines.size()) << "a second prefilled line: " << l.text;
        prefilled = i;
        EXPECT_THAT(l.text, HasSubstr("8388608")) << "8 MiB prefilled: " << l.text;
      } else if (isAlloc(l.event)) {
        ++(prefilled == lines.size() ? allocs_before : allocs_after);
      } else if (l.event == "done") {
        done = i;
      }
    }
    ASSERT_LT(prefilled, lines.size()) << "no prefilled line:\n" << r.out;
    EXPECT_EQ(allocs_before, 0u) << "the prefill logs no line per chunk:\n" << r.out;
    // 8 MiB more at --rate, one 1 MiB chunk a line, up to --max.
    EXPECT_EQ(allocs_after, 8u) << r.out;
    ASSERT_LT(done, lines.size()) << r.out;
    EXPECT_GT(done, prefilled);
    EXPECT_THAT(lines[done].text, HasSubstr("16777216"));
  }
  if (ran == 0) GTEST_SKIP() << "no example leaker is built";
}

TEST(ExamplesFlags, PrefillLargerThanMaxIsRefused) {
  for (const Example& ex : examples()) {
    SCOPED_TRACE(ex.name);
    if (!built(ex.path)) continue;
    std::vector<std::string> argv = {ex.path, "--prefill", "32MiB", "--max", "16MiB"};
    argv.insert(argv.end(), ex.extra.begin(), ex.extra.end());
    RunResult r = runCommand(argv, 60);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr("--prefill"));
    EXPECT_THAT(r.out, Not(HasSubstr("prefilled")));
  }
}

std::string goLeak() { return OOMSENTINEL_GO_LEAK; }

TEST(ExamplesFlags, GoSelfProfileSaysWhetherItIsArmedAndMakesItsDirectory) {
  if (!built(goLeak())) GTEST_SKIP() << "examples/go-leak is not built ('" << goLeak() << "')";
  TempDir tmp;
  std::string dir = tmp.path() + "/profiles";
  RunResult r = runCommand({goLeak(), "--listen", "127.0.0.1:0", "--churn", "0", "--prefill",
                            "8MiB", "--max", "16MiB", "--rate", "64MiB/s", "--self-profile", dir},
                           60);
  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "stderr:\n" << r.err;
  struct stat st {};
  EXPECT_EQ(::stat(dir.c_str(), &st), 0) << dir;
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  // This test may run in a cgroup with a memory limit or without one: either is fine, but it
  // must say which, once, before the leak, in go-leak's line format.
  int said = 0;
  for (const Line& l : parseLines(r.out)) {
    if (l.event != "self-profile") continue;
    ++said;
    EXPECT_GE(l.time, 0) << l.text;
    bool armed = l.text.find(" self-profile armed limit=") != std::string::npos;
    bool no_limit = l.text.find(" self-profile no-limit ") != std::string::npos;
    EXPECT_TRUE(armed || no_limit) << l.text;
    if (armed) {
      unsigned long long limit = 0, threshold = 0;
      std::size_t at = l.text.find(" limit=");
      ASSERT_EQ(std::sscanf(l.text.c_str() + at, " limit=%llu threshold=%llu", &limit, &threshold),
                2)
          << l.text;
      // The default threshold is 85% of the limit.
      EXPECT_NEAR(static_cast<double>(threshold), 0.85 * static_cast<double>(limit),
                  static_cast<double>(limit) / 1000)
          << l.text;
      EXPECT_THAT(l.text, HasSubstr(" period=3s "));
    }
  }
  EXPECT_EQ(said, 1) << r.out;
  EXPECT_LT(r.out.find(" self-profile "), r.out.find(" prefilled ")) << r.out;
}

TEST(ExamplesFlags, GoSelfProfileRefusesADirectoryItCannotWriteTo) {
  if (!built(goLeak())) GTEST_SKIP() << "examples/go-leak is not built ('" << goLeak() << "')";
  TempDir tmp;
  tmp.write("file", "not a directory\n");
  std::string bad = tmp.path() + "/file/profiles";
  RunResult r =
      runCommand({goLeak(), "--listen", "127.0.0.1:0", "--max", "1MiB", "--self-profile", bad}, 60);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--self-profile " + bad));
  EXPECT_THAT(r.err, HasSubstr("not a directory"));
  EXPECT_THAT(r.out, Not(HasSubstr(" start "))) << "refused before it starts: " << r.out;

  RunResult period = runCommand({goLeak(), "--listen", "127.0.0.1:0", "--self-profile", tmp.path(),
                                 "--self-profile-period", "0s"},
                                60);
  EXPECT_EQ(period.exit_code, 2) << period.out << period.err;
  EXPECT_THAT(period.err, HasSubstr("--self-profile-period"));

  RunResult threshold = runCommand({goLeak(), "--listen", "127.0.0.1:0", "--self-profile",
                                    tmp.path(), "--self-profile-threshold", "150%"},
                                   60);
  EXPECT_EQ(threshold.exit_code, 2) << threshold.out << threshold.err;
  EXPECT_THAT(threshold.err, HasSubstr("self-profile-threshold"));
}

}  // namespace
}  // namespace oomsentinel
