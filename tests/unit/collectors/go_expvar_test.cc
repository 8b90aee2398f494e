// Go expvar: a payload captured from a real Go program (tests/fixtures/runtime-captured), and
// what a broken or hostile endpoint may send.
#include "collectors/go_expvar.h"

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

TEST(GoExpvar, CapturedPayloadBecomesRuntimeSignals) {
  std::string text = oomsentinel::testing::readFixture("runtime-captured/go-expvar.json");
  Snapshot s;
  auto n = mapGoExpvar(text, s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 42135432);
  EXPECT_EQ(*s.get(internSignal("alloc_bytes_total")), 42150464);
  EXPECT_EQ(*s.get(Sig::kGcCycles), 4);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kGcPauseSecondsTotal), 87882e-9);
  EXPECT_DOUBLE_EQ(*s.get(internSignal("gc_cpu_fraction")), 0.08835072665488158);
  EXPECT_EQ(*s.get(internSignal("go_next_gc_bytes")), 78049936);
  EXPECT_FALSE(s.has(internSignal("heap_limit_bytes"))) << "expvar does not show GOMEMLIMIT";
}

TEST(GoExpvar, BadPayloadsSayWhat) {
  Snapshot s;
  EXPECT_EQ(mapGoExpvar("{\"memstats\": {\"HeapAlloc\": 1", s).error().message,
            "expvar payload is not valid JSON");
  EXPECT_EQ(mapGoExpvar("{\"cmdline\": []}", s).error().message,
            "expvar payload has no \"memstats\" object (is this /debug/vars?)");
  EXPECT_EQ(mapGoExpvar("[1,2]", s).error().message,
            "expvar payload has no \"memstats\" object (is this /debug/vars?)");
  EXPECT_EQ(mapGoExpvar("{\"memstats\": {\"NumGC\": \"many\"}}", s).error().message,
            "memstats.NumGC is not a number");
  EXPECT_EQ(mapGoExpvar(std::string(100000, '[') + std::string(100000, ']'), s).error().message,
            "expvar payload nested deeper than 32 levels");
  EXPECT_EQ(mapGoExpvar(std::string((4 << 20) + 1, ' '), s).error().message,
            "expvar payload of 4194305 bytes is over 4 MiB");
  EXPECT_FALSE(mapGoExpvar("{\"memstats\": {\"HeapAlloc\": 1}, \"x\": \"\xff\xfe\"}", s).ok())
      << "bad UTF-8 is refused";
  // Brackets inside strings do not count as nesting.
  Snapshot t;
  auto n = mapGoExpvar(
      "{\"cmdline\": [\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"], \"memstats\": "
      "{\"HeapAlloc\": 7}}",
      t);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(*t.get(Sig::kHeapAllocBytes), 7);
  EXPECT_FALSE(t.has(Sig::kGcCycles)) << "absent, never a made-up zero";
}

}  // namespace
}  // namespace oomsentinel
