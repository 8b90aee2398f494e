// The docs stay true to the signals: every well-known signal a rule can name (core/signal.h's
// table, asked by id, not copied here) and every process signal the daemon handles (found in the
// daemon's sources where it installs its handlers) is in docs/signals.md.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "core/signal.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

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
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << "docs/signals.md does not describe `" << name << "`";
  }
}

// SIGHUP, SIGTERM, ...: every signal named where daemon/ sets up its handling, an Asio
// signal_set (its constructor or add()) or std::signal().
std::set<std::string> handledProcessSignals() {
  std::set<std::string> out;
  const std::regex setup(R"((signal_set\s+\w+\s*\(|\.add\s*\(|std::signal\s*\()([^;]*))");
  const std::regex sig(R"(\bSIG[A-Z0-9]+\b)");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(OOMSENTINEL_SOURCE_DIR) + "/daemon")) {
    if (entry.path().extension() != ".cc") continue;
    const std::string text = testing::slurp(entry.path().string());
    for (std::sregex_iterator m(text.begin(), text.end(), setup), end; m != end; ++m) {
      const std::string call = (*m)[2];
      for (std::sregex_iterator s(call.begin(), call.end(), sig); s != end; ++s)
        out.insert(s->str());
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
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << "docs/signals.md does not say what `" << name << "` does";
}

}  // namespace
}  // namespace oomsentinel
