// core/kinds.h: one spelling per kind, read back by parse; nothing else parses.
#include "core/kinds.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace oomsentinel {
namespace {

TEST(Kinds, ActionNamesAreTheConfigSpelling) {
  EXPECT_EQ(names(kActionKinds), (std::vector<std::string>{"log", "alert", "dump"}));
}

TEST(Kinds, DumperNamesAreTheConfigSpelling) {
  EXPECT_EQ(names(kDumperKinds),
            (std::vector<std::string>{"proc", "gperftools", "go_pprof", "jvm", "exec"}));
}

// Every enumerator is listed, once and in order: the lists are what parse searches.
TEST(Kinds, TheListsHoldEveryKindInOrder) {
  ASSERT_EQ(std::size(kActionKinds), static_cast<std::size_t>(ActionKind::kDump) + 1);
  for (std::size_t i = 0; i < std::size(kActionKinds); ++i)
    EXPECT_EQ(static_cast<std::size_t>(kActionKinds[i]), i);
  ASSERT_EQ(std::size(kDumperKinds), static_cast<std::size_t>(DumperKind::kExec) + 1);
  for (std::size_t i = 0; i < std::size(kDumperKinds); ++i)
    EXPECT_EQ(static_cast<std::size_t>(kDumperKinds[i]), i);
}

TEST(Kinds, ParseReadsBackEveryName) {
  std::set<std::string> seen;
  for (ActionKind k : kActionKinds) {
    EXPECT_EQ(parseActionKind(name(k)), k) << name(k);
    EXPECT_TRUE(seen.insert(std::string(name(k))).second) << "two actions named " << name(k);
  }
  seen.clear();
  for (DumperKind k : kDumperKinds) {
    EXPECT_EQ(parseDumperKind(name(k)), k) << name(k);
    EXPECT_TRUE(seen.insert(std::string(name(k))).second) << "two dumpers named " << name(k);
  }
}

TEST(Kinds, ParseRefusesAnythingElse) {
  for (const char* text : {"", "Log", "LOG", " log", "log ", "logs", "dmp", "proc", "alert,dump"})
    EXPECT_EQ(parseActionKind(text), std::nullopt) << "'" << text << "'";
  for (const char* text : {"", "Proc", "go-pprof", "gopprof", "go_pprof ", "jcmd", "log", "exec\n"})
    EXPECT_EQ(parseDumperKind(text), std::nullopt) << "'" << text << "'";
  // Not the other enum's names: a dumper is no action.
  EXPECT_EQ(parseActionKind("jvm"), std::nullopt);
  EXPECT_EQ(parseDumperKind("dump"), std::nullopt);
}

TEST(Kinds, StreamsAsTheName) {
  std::ostringstream out;
  out << ActionKind::kAlert << ' ' << DumperKind::kGoPprof;
  EXPECT_EQ(out.str(), "alert go_pprof");
}

}  // namespace
}  // namespace oomsentinel
