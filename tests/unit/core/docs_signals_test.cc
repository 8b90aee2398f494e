// The docs stay true to the signals: every well-known signal a rule can name (core/signal.h's
// table, asked by id, not copied here) and every process signal the daemon handles (found in the
// daemon's code, where it installs and runs its handlers) is in docs/signals.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "core/signal.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

std::string signalsMd() {
  return testing::slurp(std::string(OOMSENTINEL_SOURCE_DIR) + "/docs/signals.md");
}

TEST(DocsSignals, EveryWellKnownSignalIsInSignalsMd) {
  const std::string doc = signalsMd();
  ASSERT_FALSE(doc.empty());
  ASSERT_GT(id(Sig::kCount), 50u);
  for (SignalId i = 0; i < id(Sig::kCount); ++i) {
    const std::string name = signalName(i);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_THAT(doc, HasSubstr("`" + name + "`"))
        << "docs/signals.md does not describe `" << name << "`";
  }
}

// SIGHUP, SIGTERM, ...: every signal named in daemon/'s code (comments and string literals left
// out) in a statement about signals: an Asio signal_set made or added to, std::signal(), a
// handler's `signo == SIGHUP`. However the daemon's loop is laid out, these are what it handles.
std::set<std::string> handledProcessSignals() {
  std::set<std::string> out;
  const std::regex comment(R"(//[^\n]*)");
  const std::regex literal(R"re("(\\.|[^"\\\n])*")re");
  const std::regex about_signals(R"(signal|signo)", std::regex::icase);
  const std::regex sig(R"(\bSIG[A-Z0-9]+\b)");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(OOMSENTINEL_SOURCE_DIR) + "/daemon")) {
    if (entry.path().extension() != ".cc") continue;
    std::string code = testing::slurp(entry.path().string());
    code = std::regex_replace(code, literal, "\"\"");  // first: "http://" is no comment
    code = std::regex_replace(code, comment, "");
    // Statement by statement.
    std::size_t from = 0;
    while (from < code.size()) {
      std::size_t to = code.find_first_of(";{}", from);
      if (to == std::string::npos) to = code.size();
      const std::string statement = code.substr(from, to - from);
      if (std::regex_search(statement, about_signals))
        for (std::sregex_iterator s(statement.begin(), statement.end(), sig), end; s != end; ++s)
          out.insert(s->str());
      from = to + 1;
    }
  }
  return out;
}

TEST(DocsSignals, EveryProcessSignalTheDaemonHandlesIsInSignalsMd) {
  std::set<std::string> handled = handledProcessSignals();
  // The search must find the daemon's handlers, or the check below passes on nothing.
  EXPECT_TRUE(handled.contains("SIGHUP"));
  EXPECT_TRUE(handled.contains("SIGTERM"));
  const std::string doc = signalsMd();
  for (const std::string& name : handled)
    EXPECT_THAT(doc, HasSubstr("`" + name + "`"))
        << "docs/signals.md does not say what `" << name << "` does";
}

}  // namespace
}  // namespace oomsentinel
