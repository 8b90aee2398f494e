// The docs stay true to the code they point at: every file of the repository that README.md,
// CONTRIBUTING.md or docs/ name in backticks exists, and every `file: function` reference (the
// architecture's tick walk-through is made of them) names a function that file still has. Code
// moves between files when a room is rebuilt; these tests say which sentence went stale.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;

const std::string kTop = OOMSENTINEL_SOURCE_DIR;

std::vector<std::string> docFiles() {
  std::vector<std::string> out = {"README.md", "CONTRIBUTING.md"};
  for (const auto& e : fs::recursive_directory_iterator(kTop + "/docs"))
    if (e.is_regular_file() && e.path().extension() == ".md")
      out.push_back(fs::relative(e.path(), kTop).string());
  return out;
}

// A path of ours: it starts with one of the repository's top folders. Placeholders (`<room>`),
// globs and brace lists (`deploy/{host,sidecar}.md`) are patterns, not files.
const std::regex kPath(
    R"((?:core|collectors|rules|config|dumpers|alerts|actions|daemon|tests|bench|scripts|fuzz|deploy|systemd|examples)/[A-Za-z0-9_./-]*[A-Za-z0-9_])");

TEST(DocsPaths, EveryFileTheDocsNameInBackticksExists) {
  const std::regex code("`([^`\n]+)`");
  std::size_t checked = 0;
  for (const auto& doc : docFiles()) {
    const std::string text = testing::slurp(kTop + "/" + doc);
    ASSERT_FALSE(text.empty()) << doc;
    for (std::sregex_iterator it(text.begin(), text.end(), code), end; it != end; ++it) {
      const std::string span = (*it)[1];
      if (span.find_first_of("<*{$") != std::string::npos) continue;
      std::smatch m;
      if (!std::regex_search(span, m, kPath) || m.position(0) != 0) continue;
      const std::string path = m[0];
      ++checked;
      EXPECT_TRUE(fs::exists(kTop + "/" + path))
          << doc << " names `" << span << "`, but " << path << " is not in the repository";
    }
  }
  EXPECT_GT(checked, 100u) << "the docs name fewer files than they do: is the pattern broken?";
}

// `daemon/watchdog.cc: Watchdog::tick`, `collectors/discovery.cc: discover`: the function's own
// name (after the last ::) followed by "(" must be in that file.
TEST(DocsPaths, EveryFileFunctionReferenceNamesAFunctionOfThatFile) {
  const std::regex ref(R"(`([a-z_]+/[A-Za-z0-9_/]+\.(?:cc|h)): ([A-Za-z_][A-Za-z0-9_:~]*)`)");
  std::size_t checked = 0;
  for (const auto& doc : docFiles()) {
    const std::string text = testing::slurp(kTop + "/" + doc);
    for (std::sregex_iterator it(text.begin(), text.end(), ref), end; it != end; ++it) {
      const std::string file = (*it)[1], function = (*it)[2];
      const std::string code = testing::slurp(kTop + "/" + file);
      ++checked;
      if (code.empty()) {
        ADD_FAILURE() << doc << ": `" << file << ": " << function << "`: no such file";
        continue;
      }
      const std::string last = function.substr(function.rfind(':') + 1);
      EXPECT_NE(code.find(last + "("), std::string::npos)
          << doc << ": `" << file << ": " << function << "`: " << file << " has no " << last
          << "(...)";
    }
  }
  EXPECT_GT(checked, 5u) << "the walk-through has fewer file: function references than it has";
}

}  // namespace
}  // namespace oomsentinel
