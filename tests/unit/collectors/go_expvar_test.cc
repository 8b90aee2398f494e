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

// Nesting past the cap is an error wherever it is, objects as arrays, inside memstats too; at the
// cap it is fine. A hostile endpoint cannot choose how deep the reader recurses.
TEST(GoExpvar, NestingPastTheCapIsAnErrorNotACrash) {
  auto nested = [](int depth, char open, char close) {
    std::string inner = "1";
    for (int i = 0; i < depth; ++i)
      inner = open == '{' ? "{\"k\":" + inner + "}" : std::string(1, open) + inner + close;
    return inner;
  };
  Snapshot s;
  // The root and memstats are two levels: 30 more reach the cap of 32.
  for (char open : {'{', '['}) {
    char close = open == '{' ? '}' : ']';
    auto at_cap =
        mapGoExpvar("{\"memstats\": {\"NumGC\": 3, \"x\": " + nested(30, open, close) + "}}", s);
    ASSERT_TRUE(at_cap.ok()) << at_cap.error().message;
    EXPECT_EQ(*at_cap, 1u);
    EXPECT_EQ(
        mapGoExpvar("{\"memstats\": {\"NumGC\": 3, \"x\": " + nested(31, open, close) + "}}", s)
            .error()
            .message,
        "expvar payload nested deeper than 32 levels");
    // 4 MiB of openings: refused at the 33rd, without a stack that deep.
    std::string deep;
    while (deep.size() < (4u << 20) - 8) deep += open == '{' ? "{\"k\":" : "[";
    EXPECT_EQ(mapGoExpvar(deep, s).error().message, "expvar payload nested deeper than 32 levels");
  }
}

// Huge keys and values of the service's own variables are walked past, not kept: the fields are
// read all the same. An escaped key is still the name it spells.
TEST(GoExpvar, HugeIrrelevantKeysAndValuesAreSkipped) {
  std::string big(3 << 20, 'k');
  std::string payload = "{\"" + big + "\": \"" + std::string(500000, 'v') +
                        "\", \"memstats\": {\"" + big.substr(0, 100000) +
                        "\": 1, \"HeapAllocX\": 9, \"\\u0048eapAlloc\": 12, \"NumGC\": 5}}";
  ASSERT_LE(payload.size(), 4u << 20);
  Snapshot s;
  auto n = mapGoExpvar(payload, s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 12);
  EXPECT_EQ(*s.get(Sig::kGcCycles), 5);
}

// Go's expvar.Float writes NaN and infinities bare: they say nothing (absent), and do not cost
// the other fields. The last "memstats" wins, as in a JSON tree.
TEST(GoExpvar, NonFiniteValuesAreAbsentAndTheLastMemstatsWins) {
  Snapshot s;
  auto n = mapGoExpvar(
      "{\"ratio\": NaN, \"up\": +Inf, \"down\": [-Inf, Inf], \"memstats\": {\"NumGC\": 1}, "
      "\"memstats\": {\"GCCPUFraction\": NaN, \"HeapAlloc\": 2e3, \"NextGC\": null}}",
      s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 2000);
  EXPECT_FALSE(s.has(Sig::kGcCycles));
  EXPECT_EQ(mapGoExpvar("{\"memstats\": {\"HeapAlloc\": -1}}", s).error().message,
            "memstats.HeapAlloc is negative");
  EXPECT_EQ(mapGoExpvar("{\"memstats\": {\"HeapAlloc\": {\"a\": 1}}}", s).error().message,
            "memstats.HeapAlloc is not a number");
  for (const char* bad : {"", "{", "{\"memstats\": {}} x", "{\"a\" 1}", "{\"a\": 01}",
                          "{\"a\": 1.}", "{\"a\": \"\\x\"}", "{\"a\": \"\t\"}", "{\"a\": tru}",
                          "{\"a\": [1,]}", "{,}", "{\"a\": \"\xed\xa0\x80\"}",
                          "{\"a\": \"\\udc00\"}", "{\"a\": \"\\ud800\\u0041\"}", "{\"a\": 1e400}"})
    EXPECT_EQ(mapGoExpvar(bad, s).error().message, "expvar payload is not valid JSON") << bad;
}

}  // namespace
}  // namespace oomsentinel
