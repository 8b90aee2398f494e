// The two payloads captured from examples/go-leak at one moment (tests/fixtures/runtime-captured,
// SOURCE.md says how): /debug/vars through mapGoExpvar and /metrics (client_golang 1.14's default
// registry) through mapPromText. Each mapping must give the numbers written in its payload, read
// here from the text itself, and the two must agree as far as 12 ms between the GETs allows. Then
// what go_expvar_test.cc and prom_text_test.cc leave out of broken and hostile input: every
// prefix, the size and depth limits at their edge, wrong types, bad UTF-8, NaN/Inf, duplicates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "collectors/go_expvar.h"
#include "collectors/prom_text.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using testing::kMiB;
// What the capture ran with (SOURCE.md): 96 MiB leaked and held, a 256 MiB memory limit, 64 MiB/s
// of garbage, and the two GETs 12 ms apart.
constexpr double kLeaked = 96 * kMiB;
constexpr double kMemLimit = 256 * kMiB;
constexpr double kChurnPerSecond = 64 * kMiB;
constexpr double kSecondsBetweenGets = 0.012;

const char* const kExpvarFixture = "runtime-captured/go-leak-expvar.json";
const char* const kMetricsFixture = "runtime-captured/go-leak-metrics.txt";

// The number after "key": inside the payload's "memstats" object (memstats' own fields come
// before its BySize array, so the first match is the right one).
double memstat(const std::string& json, const std::string& key) {
  std::size_t from = json.find("\"memstats\":");
  std::string needle = "\"" + key + "\":";
  std::size_t at = from == std::string::npos ? from : json.find(needle, from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << needle << " in the memstats of the payload";
    return NAN;
  }
  return std::strtod(json.c_str() + at + needle.size(), nullptr);
}

// The value of the sample written exactly as `series` at the start of a line.
double promValue(const std::string& text, const std::string& series) {
  std::string needle = "\n" + series + " ";
  std::size_t at = text.find(needle);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no line '" << series << " ...' in the payload";
    return NAN;
  }
  return std::strtod(text.c_str() + at + needle.size(), nullptr);
}

double get(const Snapshot& s, const char* signal) {
  auto v = s.get(internSignal(signal));
  EXPECT_TRUE(v.has_value()) << signal << " not set";
  return v.value_or(NAN);
}

struct Mapped {
  Snapshot snapshot;
  std::size_t count = 0;
};

Mapped mapExpvarFixture(const std::string& json) {
  Mapped m;
  auto n = mapGoExpvar(json, m.snapshot);
  EXPECT_TRUE(n.ok()) << n.error().message;
  m.count = n.ok() ? *n : 0;
  return m;
}

Mapped mapMetricsFixture(const std::string& text) {
  Mapped m;
  auto n = mapPromText(text, wellKnownPromMappings(), m.snapshot);
  EXPECT_TRUE(n.ok()) << n.error().message;
  m.count = n.ok() ? *n : 0;
  return m;
}

TEST(GoExamplePayload, ExpvarGivesTheNumbersInIt) {
  std::string json = testing::readFixture(kExpvarFixture);
  Mapped m = mapExpvarFixture(json);
  const Snapshot& s = m.snapshot;
  EXPECT_EQ(m.count, 10u);
  EXPECT_EQ(get(s, "heap_alloc_bytes"), memstat(json, "HeapAlloc"));
  EXPECT_EQ(get(s, "alloc_bytes_total"), memstat(json, "TotalAlloc"));
  EXPECT_EQ(get(s, "gc_cycles"), memstat(json, "NumGC"));
  EXPECT_DOUBLE_EQ(get(s, "gc_pause_seconds_total"), memstat(json, "PauseTotalNs") * 1e-9);
  EXPECT_DOUBLE_EQ(get(s, "gc_cpu_fraction"), memstat(json, "GCCPUFraction"));
  EXPECT_EQ(get(s, "go_heap_inuse_bytes"), memstat(json, "HeapInuse"));
  EXPECT_EQ(get(s, "go_heap_sys_bytes"), memstat(json, "HeapSys"));
  EXPECT_EQ(get(s, "go_next_gc_bytes"), memstat(json, "NextGC"));
  EXPECT_EQ(get(s, "go_mallocs_total"), memstat(json, "Mallocs"));
  EXPECT_EQ(get(s, "go_frees_total"), memstat(json, "Frees"));
  EXPECT_FALSE(s.has(internSignal("heap_limit_bytes"))) << "expvar does not show GOMEMLIMIT";
  // And what the capture was made to show: the held leak is live heap, under the limit, and the
  // garbage made the collector run a two-digit number of times.
  EXPECT_GE(get(s, "heap_alloc_bytes"), kLeaked);
  EXPECT_LT(get(s, "heap_alloc_bytes"), kMemLimit);
  EXPECT_GE(get(s, "gc_cycles"), 10);
  EXPECT_LT(get(s, "gc_cycles"), 100);
  EXPECT_GT(get(s, "gc_pause_seconds_total"), 0);
  EXPECT_THAT(json, HasSubstr("\"kept_bytes\":100663296"));
  EXPECT_THAT(json, HasSubstr("\"--memlimit\",\"256MiB\""));
}

TEST(GoExamplePayload, MetricsGiveTheNumbersInThem) {
  std::string text = testing::readFixture(kMetricsFixture);
  Mapped m = mapMetricsFixture(text);
  const Snapshot& s = m.snapshot;
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(get(s, "heap_alloc_bytes"), promValue(text, "go_memstats_heap_alloc_bytes"));
  EXPECT_EQ(get(s, "alloc_bytes_total"), promValue(text, "go_memstats_alloc_bytes_total"));
  EXPECT_EQ(get(s, "gc_cycles"), promValue(text, "go_gc_duration_seconds_count"));
  EXPECT_EQ(get(s, "gc_pause_seconds_total"), promValue(text, "go_gc_duration_seconds_sum"));
  // client_golang 1.14 on Go 1.19 builds its go_memstats_* from runtime/metrics: no
  // gc_cpu_fraction family, and no GOMEMLIMIT (/gc/gomemlimit:bytes came with Go 1.21), although
  // the program set a 256 MiB limit.
  EXPECT_THAT(text, Not(HasSubstr("go_memstats_gc_cpu_fraction")));
  EXPECT_FALSE(s.has(internSignal("gc_cpu_fraction")));
  EXPECT_THAT(text, Not(HasSubstr("go_gc_gomemlimit_bytes")));
  EXPECT_FALSE(s.has(internSignal("heap_limit_bytes")))
      << "client_golang 1.14 does not expose GOMEMLIMIT: absent, never made up";
  EXPECT_THAT(text, HasSubstr("go_info{version=\"go1.19.8\"} 1\n"));

  // A user mapping reads the program's own gauge, and the process collector's RSS holds the leak.
  std::vector<PromMapping> mine = {
      {"leak_kept_bytes", *PromSelector::parse("goleak_kept_bytes")},
      {"rss_bytes", *PromSelector::parse("process_resident_memory_bytes")}};
  Snapshot own;
  auto n = mapPromText(text, mine, own);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(get(own, "leak_kept_bytes"), kLeaked);
  EXPECT_GE(get(own, "rss_bytes"), kLeaked);
}

TEST(GoExamplePayload, BothEndpointsAgreeWithinTheTimeBetweenTheGets) {
  Mapped e = mapExpvarFixture(testing::readFixture(kExpvarFixture));
  Mapped p = mapMetricsFixture(testing::readFixture(kMetricsFixture));
  // /metrics was read after /debug/vars: counters may only have grown, and by no more than the
  // garbage allocated meanwhile (the leak was held). 100 ms of churn is a generous bound for 12 ms.
  const double alloc_bound = kChurnPerSecond * 0.1;
  static_assert(kSecondsBetweenGets < 0.1);
  double cycles = get(p.snapshot, "gc_cycles") - get(e.snapshot, "gc_cycles");
  EXPECT_GE(cycles, 0);
  EXPECT_LE(cycles, 3);
  double allocated = get(p.snapshot, "alloc_bytes_total") - get(e.snapshot, "alloc_bytes_total");
  EXPECT_GE(allocated, 0);
  EXPECT_LE(allocated, alloc_bound);
  double paused =
      get(p.snapshot, "gc_pause_seconds_total") - get(e.snapshot, "gc_pause_seconds_total");
  EXPECT_GE(paused, -1e-12);
  double heap = get(p.snapshot, "heap_alloc_bytes") - get(e.snapshot, "heap_alloc_bytes");
  if (cycles == 0) {
    // Without a collection in between, the pause total stands still and the heap can only have
    // grown by what was allocated (sweeping may have given some back).
    EXPECT_NEAR(paused, 0, 1e-12);
    EXPECT_LE(heap, allocated);
    EXPECT_GE(heap, -alloc_bound);
  } else {
    EXPECT_LE(paused, cycles * 0.01) << "each cycle's pauses are well under 10 ms here";
    EXPECT_LE(std::abs(heap), kMemLimit);
  }
  for (const Mapped* m : {&e, &p}) {
    EXPECT_GE(get(m->snapshot, "heap_alloc_bytes"), kLeaked);
    EXPECT_LT(get(m->snapshot, "heap_alloc_bytes"), kMemLimit);
  }
}

TEST(GoExamplePayload, EveryPrefixOfTheExpvarPayloadIsRefusedUntilItIsWhole) {
  std::string json = testing::readFixture(kExpvarFixture);
  const std::size_t whole = json.rfind('}') + 1;  // what is left after it is the final newline
  Mapped full = mapExpvarFixture(json);
  for (std::size_t len = 0; len <= json.size(); ++len) {
    Snapshot s;
    auto n = mapGoExpvar(std::string_view(json).substr(0, len), s);
    if (len < whole) {
      ASSERT_FALSE(n.ok()) << "a " << len << "-byte prefix was taken as a whole payload";
      ASSERT_EQ(s.size(), 0u) << "a refused payload sets nothing (prefix of " << len << ")";
    } else {
      ASSERT_TRUE(n.ok()) << n.error().message;
      ASSERT_EQ(*n, full.count);
      ASSERT_EQ(s.get(Sig::kHeapAllocBytes), full.snapshot.get(Sig::kHeapAllocBytes));
    }
  }
}

TEST(GoExamplePayload, EveryPrefixOfTheMetricsPayloadParsesOrSaysWhy) {
  std::string text = testing::readFixture(kMetricsFixture);
  Mapped full = mapMetricsFixture(text);
  const char* signals[] = {"heap_alloc_bytes", "alloc_bytes_total", "gc_cycles",
                           "gc_pause_seconds_total"};
  std::size_t whole_lines = 0, mid_line_ok = 0, mid_line_refused = 0;
  for (std::size_t len = 0; len <= text.size(); ++len) {
    std::string_view prefix = std::string_view(text).substr(0, len);
    Snapshot s;
    auto n = mapPromText(prefix, wellKnownPromMappings(), s);
    if (len == 0 || prefix.back() == '\n') {
      // Cut between lines: whatever was read so far is exactly what the whole payload says.
      ++whole_lines;
      ASSERT_TRUE(n.ok()) << "prefix of " << len << ": " << n.error().message;
      for (const char* sig : signals) {
        if (!s.has(internSignal(sig))) continue;
        ASSERT_EQ(s.get(internSignal(sig)), full.snapshot.get(internSignal(sig)))
            << sig << " in a prefix of " << len << " bytes";
      }
    } else if (n.ok()) {
      // Cut inside a line that still reads as a sample ("go_gc_duration_seconds_count 3" of
      // "... 31"): the text format cannot tell, only a length or the lines after it can.
      ++mid_line_ok;
      ASSERT_LE(*n, full.count);
    } else {
      ++mid_line_refused;
      ASSERT_EQ(n.error().message.rfind("line ", 0), 0u) << n.error().message;
    }
  }
  EXPECT_GT(whole_lines, 100u);
  EXPECT_GT(mid_line_ok, 0u);
  EXPECT_GT(mid_line_refused, 0u);
}

// ---- hostile and broken expvar payloads, beyond go_expvar_test.cc ----

// The real payload with memstats' `key` given `value` instead of its number.
std::string withMemstat(const std::string& json, const std::string& key, const std::string& value) {
  std::string needle = "\"" + key + "\":";
  std::size_t at = json.find(needle, json.find("\"memstats\":"));
  std::size_t from = at + needle.size();
  std::size_t to = json.find_first_of(",}", from);
  return json.substr(0, from) + value + json.substr(to);
}

TEST(GoExampleHostileExpvar, AFieldOfTheWrongTypeIsNamed) {
  std::string json = testing::readFixture(kExpvarFixture);
  for (const char* key : {"HeapAlloc", "TotalAlloc", "NumGC", "PauseTotalNs", "GCCPUFraction",
                          "HeapInuse", "HeapSys", "NextGC", "Mallocs", "Frees"}) {
    for (const char* value : {"true", "\"114541608\"", "{}", "[1]"}) {
      Snapshot s;
      auto n = mapGoExpvar(withMemstat(json, key, value), s);
      ASSERT_FALSE(n.ok()) << key << ": " << value;
      EXPECT_EQ(n.error().message, std::string("memstats.") + key + " is not a number");
    }
  }
  // Fields oomsentinel does not read may be anything.
  Snapshot s;
  auto n = mapGoExpvar(withMemstat(json, "Sys", "\"lots\""), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 10u);
  for (const char* memstats : {"null", "[]", "\"x\"", "7"}) {
    Snapshot t;
    EXPECT_EQ(mapGoExpvar(std::string("{\"memstats\": ") + memstats + "}", t).error().message,
              "expvar payload has no \"memstats\" object (is this /debug/vars?)")
        << memstats;
  }
}

TEST(GoExampleHostileExpvar, SizeAndDepthLimitsHoldAtTheirEdge) {
  std::string json = testing::readFixture(kExpvarFixture);
  Snapshot s;
  std::string at_limit = json + std::string((4u << 20) - json.size(), ' ');
  auto n = mapGoExpvar(at_limit, s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 10u);
  EXPECT_EQ(mapGoExpvar(at_limit + " ", s).error().message,
            "expvar payload of 4194305 bytes is over 4 MiB");
  // A huge value of a field nobody reads (a 3 MiB command line) is fine.
  std::string big_cmdline =
      "{\"cmdline\": [\"" + std::string(3 << 20, 'a') + "\"], \"memstats\": {\"NumGC\": 31}}";
  n = mapGoExpvar(big_cmdline, s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kGcCycles), 31);
  // The top object is level 1: 31 more levels of arrays are allowed, 32 are not.
  auto nested = [](int levels) {
    return "{\"memstats\": {\"NumGC\": 2}, \"x\": " + std::string(levels, '[') +
           std::string(levels, ']') + "}";
  };
  n = mapGoExpvar(nested(31), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(mapGoExpvar(nested(32), s).error().message,
            "expvar payload nested deeper than 32 levels");
  // Deep objects, not only arrays; and a deep payload that is also cut short.
  std::string objects = "{\"memstats\": {}, \"x\": ";
  for (int i = 0; i < 40; ++i) objects += "{\"a\": ";
  EXPECT_EQ(mapGoExpvar(objects, s).error().message, "expvar payload nested deeper than 32 levels");
}

TEST(GoExampleHostileExpvar, BadUtf8AndNonJsonNumbersAreRefused) {
  const std::string tail = "\"memstats\": {\"NumGC\": 1}}";
  for (const std::string& bad : {
           std::string("{\"cmdline\": [\"\xc0\xaf\"], "),      // overlong '/'
           std::string("{\"cmdline\": [\"\xe2\x82\"], "),      // cut multibyte sequence
           std::string("{\"cmdline\": [\"\xed\xa0\x80\"], "),  // UTF-8 encoded surrogate
           std::string("{\"cmdline\": [\"\\ud800\"], "),       // lone surrogate escape
           std::string("{\"\xff\": 1, "),                      // in a key
           std::string("{\"ratio\": -Infinity, "),             // not JSON numbers
           std::string("{\"ratio\": 1e400, "),                 // overflows a double
           std::string("{\"ratio\": 0x10, "),                  //
           std::string("{\"ratio\": 01, "),                    //
       }) {
    Snapshot s;
    auto n = mapGoExpvar(bad + tail, s);
    EXPECT_FALSE(n.ok()) << bad;
    if (!n.ok()) {
      EXPECT_EQ(n.error().message, "expvar payload is not valid JSON") << bad;
    }
    EXPECT_EQ(s.size(), 0u);
  }
  // Valid UTF-8 of every length is fine.
  Snapshot s;
  auto n = mapGoExpvar("{\"cmdline\": [\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x90\xb9\"], " + tail, s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kGcCycles), 1);
}

// Go's expvar.Float writes NaN, +Inf and -Inf bare (not JSON): one such variable of the service
// must not cost the memstats, and a memstats field that is NaN is absent, not zero.
TEST(GoExampleHostileExpvar, GoNonFiniteFloatsDoNotCostTheMemstats) {
  std::string json = testing::readFixture(kExpvarFixture);
  for (const char* odd : {"NaN", "+Inf", "-Inf"}) {
    std::string payload = "{\"ratio\": " + std::string(odd) + ", \"name\": \"NaN +Inf\", " +
                          json.substr(json.find('{') + 1);
    Snapshot s;
    auto n = mapGoExpvar(payload, s);
    ASSERT_TRUE(n.ok()) << odd << ": " << n.error().message;
    EXPECT_EQ(*n, 10u) << odd;
    EXPECT_EQ(s.get(Sig::kGcCycles), 31.0) << odd;
  }
  Snapshot s;
  auto n = mapGoExpvar(withMemstat(json, "GCCPUFraction", "NaN"), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 9u);
  EXPECT_FALSE(s.has(*findSignal("gc_cpu_fraction")));
  // Negative counts are not memstats: an error that names the field.
  Snapshot t;
  EXPECT_EQ(mapGoExpvar(withMemstat(json, "NumGC", "-5"), t).error().message,
            "memstats.NumGC is negative");
}

TEST(GoExampleHostileExpvar, DuplicateKeysTakeTheLastLikeGo) {
  // Go's encoding/json keeps the last of duplicate keys; so does the mapping.
  Snapshot s;
  auto n = mapGoExpvar("{\"memstats\": {\"NumGC\": 1, \"NumGC\": 2}}", s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kGcCycles), 2);
  Snapshot t;
  n = mapGoExpvar("{\"memstats\": {\"NumGC\": 1}, \"memstats\": {\"HeapAlloc\": 5}}", t);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(*t.get(Sig::kHeapAllocBytes), 5);
  EXPECT_FALSE(t.has(Sig::kGcCycles)) << "the whole first memstats object is replaced";
}

// ---- hostile and broken Prometheus text, beyond prom_text_test.cc ----

TEST(GoExampleHostileProm, NanAndNegativeInfinityAreNotSignals) {
  Snapshot s;
  auto n = mapPromText(
      "go_memstats_heap_alloc_bytes NaN\n"
      "go_gc_duration_seconds_count -Inf\n"
      "go_gc_duration_seconds_sum 0.5\n",
      wellKnownPromMappings(), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(s.has(Sig::kHeapAllocBytes));
  EXPECT_FALSE(s.has(Sig::kGcCycles));
  EXPECT_EQ(*s.get(Sig::kGcPauseSecondsTotal), 0.5);
}

TEST(GoExampleHostileProm, BadUtf8InHelpAndLabelValuesDoesNotStopTheMapping) {
  std::string text = testing::readFixture(kMetricsFixture);
  std::string noisy =
      "# HELP junk_metric \xff\xfe\xc0\xaf bytes\n"
      "# TYPE junk_metric gauge\n"
      "junk_metric{path=\"\xff\xfe\",le=\"\xed\xa0\x80\"} 1\n" +
      text;
  Mapped m = mapMetricsFixture(noisy);
  Mapped full = mapMetricsFixture(text);
  EXPECT_EQ(m.count, full.count);
  EXPECT_EQ(m.snapshot.get(Sig::kHeapAllocBytes), full.snapshot.get(Sig::kHeapAllocBytes));
  // ...but bytes that cannot start a metric name are a malformed line.
  Snapshot s;
  EXPECT_FALSE(mapPromText("\xc3\xa9t\xc3\xa9 1\n" + text, wellKnownPromMappings(), s).ok());
}

TEST(GoExampleHostileProm, WrongTypesAndValues) {
  Snapshot s;
  // A # TYPE that does not fit the family changes nothing: families are mapped by name.
  auto n = mapPromText(
      "# TYPE go_gc_duration_seconds counter\n"
      "go_gc_duration_seconds_count 4\n",
      wellKnownPromMappings(), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kGcCycles), 4);
  const char* const bad_lines[] = {
      "go_gc_duration_seconds_count true\n",
      "go_gc_duration_seconds_count \"4\"\n",
      "go_gc_duration_seconds_count 1,5\n",
      "go_gc_duration_seconds_count 0x10\n",
      "go_gc_duration_seconds_count 1e400\n",  // Go's ParseFloat calls this out of range too
      "go_gc_duration_seconds_count 4 9223372036854775808\n",  // the timestamp overflows
      "go_gc_duration_seconds_count{quantile=0.5} 4\n",
  };
  for (const char* line : bad_lines) {
    Snapshot t;
    auto r = mapPromText(line, wellKnownPromMappings(), t);
    EXPECT_FALSE(r.ok()) << line;
    EXPECT_FALSE(t.has(Sig::kGcCycles)) << line;
  }
}

TEST(GoExampleHostileProm, AHugePayloadIsReadInFull) {
  // 300000 series of other families (about 8 MiB) before the real payload: nothing is cut, nothing
  // is mistaken for a mapped family.
  std::string text;
  for (int i = 0; i < 300000; ++i)
    text += "filler_metric{id=\"" + std::to_string(i) + "\",job=\"go-leak\"} " + std::to_string(i) +
            "\n";
  ASSERT_GT(text.size(), 8u << 20);
  std::string real = testing::readFixture(kMetricsFixture);
  Mapped m = mapMetricsFixture(text + real);
  Mapped full = mapMetricsFixture(real);
  EXPECT_EQ(m.count, 4u);
  EXPECT_EQ(m.snapshot.get(Sig::kGcCycles), full.snapshot.get(Sig::kGcCycles));
  EXPECT_EQ(m.snapshot.get(Sig::kHeapAllocBytes), full.snapshot.get(Sig::kHeapAllocBytes));
  // One line of 64 KiB (the cap, a long label value) is one sample; a line of 4 MiB is the
  // documented error, naming the line.
  Snapshot s;
  std::string head = "go_memstats_heap_alloc_bytes{x=\"", end = "\"} 12\n";
  auto n =
      mapPromText(head + std::string(kPromMaxLineBytes - head.size() - end.size() + 1, 'v') + end,
                  wellKnownPromMappings(), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 12);
  auto huge = mapPromText(head + std::string(4 << 20, 'v') + end, wellKnownPromMappings(), s);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().message, "line 1: the line is 4194341 bytes long, over the cap of 65536");
}

}  // namespace
}  // namespace oomsentinel
