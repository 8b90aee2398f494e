// The docs stay true to /metrics: every family alerts/ registers (read from its sources, not from
// a list kept here, and checked against the daemon's own exposition) is in docs/metrics.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "alerts/metrics.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

// The names registered in alerts/ (every `.Name("oomsentinel_...")` of a prometheus-cpp
// builder), read from the sources: the exposition shows a family only once it holds a series.
std::set<std::string> namesInSources() {
  std::set<std::string> out;
  const std::regex name(R"re(\.Name\(\s*"(oomsentinel_[a-z0-9_]+)"\s*\))re");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(OOMSENTINEL_SOURCE_DIR) + "/alerts")) {
    if (entry.path().extension() != ".cc") continue;
    const std::string text = testing::slurp(entry.path().string());
    for (std::sregex_iterator m(text.begin(), text.end(), name), end; m != end; ++m)
      out.insert((*m)[1]);
  }
  return out;
}

// The families in DaemonMetrics' exposition ("# TYPE <name> <type>") after a target's signals and
// a rule's transition (the rest of its API is left alone: enough to prove the reading of the
// sources finds what is exposed).
std::set<std::string> namesExposed() {
  DaemonMetrics m{HostPaths()};
  Snapshot s;
  for (SignalId i = 0; i < id(Sig::kCount); ++i) s.set(i, 1);
  s.set(internSignal("heap_limit_bytes"), 2);
  s.set(internSignal("alloc_bytes_total"), 3);
  m.updateTarget("t", s);
  Firing f;
  f.rule = "r";
  f.target = "t";
  f.to = RuleState::kFiring;
  m.transition(f);
  std::set<std::string> names;
  std::istringstream in(m.render());
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::string name = line.substr(7);
    names.insert(name.substr(0, name.find(' ')));
  }
  return names;
}

TEST(DocsMetrics, TheSourcesNameEveryExposedFamily) {
  // The reading of the sources must find what the daemon exposes, or the test below could pass
  // on too little: every family of the exposition is one the sources name.
  std::set<std::string> sources = namesInSources();
  std::set<std::string> exposed = namesExposed();
  EXPECT_GT(exposed.size(), 20u);
  for (const std::string& name : exposed)
    EXPECT_TRUE(sources.contains(name)) << name << " is exposed but not found in alerts/*.cc";
}

TEST(DocsMetrics, EveryFamilyIsInMetricsMd) {
  const std::string doc = testing::slurp(std::string(OOMSENTINEL_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_FALSE(doc.empty());
  for (const std::string& name : namesInSources())
    EXPECT_THAT(doc, HasSubstr("`" + name + "`"))
        << "docs/metrics.md does not describe `" << name << "`";
}

}  // namespace
}  // namespace oomsentinel
