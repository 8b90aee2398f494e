// The Prometheus text exposition parser, selectors and the well-known client mappings. The
// payloads are written here in the shape the client libraries emit; captured ones come with the
// runtime examples (issue 4).
#include "collectors/prom_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

namespace oomsentinel {
namespace {

struct Row {
  std::string name, family, labels;
  double value;
  PromType type;
  std::optional<std::int64_t> ts;
};

std::vector<Row> parseAll(std::string_view text, Status* st = nullptr) {
  std::vector<Row> rows;
  Status s = forEachPromSample(text, [&](const PromSample& p) {
    std::string l;
    for (const auto& [k, v] : p.labels) l += k + "=" + v + ";";
    rows.push_back(
        {std::string(p.name), std::string(p.family), l, p.value, p.type, p.timestamp_ms});
  });
  if (st) *st = s;
  return rows;
}

std::string promTextErrorOf(std::string_view text) {
  Status st = Ok{};
  parseAll(text, &st);
  return st ? "" : st.error().message;
}

TEST(PromText, HistogramSummaryLabelsEscapesTimestampsAndSpecialValues) {
  const char* text =
      "# HELP go_gc_duration_seconds A summary of the pause duration of GC cycles.\n"
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0\"} 2.1e-05\n"
      "go_gc_duration_seconds{quantile=\"1\"} 0.000112\n"
      "go_gc_duration_seconds_sum 0.0042\n"
      "go_gc_duration_seconds_count 37\n"
      "# A free comment\n"
      "\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.1\",path=\"/a \\\"b\\\"\\\\c\\nd\",} 5 "
      "1700000000123\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} +Inf\n"
      "weird_gauge NaN\n"
      "negative -Inf\r\n";
  Status st = Ok{};
  auto rows = parseAll(text, &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0].family, "go_gc_duration_seconds");
  EXPECT_EQ(rows[0].type, PromType::kSummary);
  EXPECT_EQ(rows[0].labels, "quantile=0;");
  EXPECT_DOUBLE_EQ(rows[0].value, 2.1e-05);
  EXPECT_EQ(rows[3].name, "go_gc_duration_seconds_count");
  EXPECT_EQ(rows[3].family, "go_gc_duration_seconds");
  EXPECT_EQ(rows[3].value, 37);
  EXPECT_EQ(rows[4].family, "http_request_duration_seconds");
  EXPECT_EQ(rows[4].type, PromType::kHistogram);
  EXPECT_EQ(rows[4].labels, "le=0.1;path=/a \"b\"\\c\nd;");
  EXPECT_EQ(rows[4].ts, 1700000000123);
  EXPECT_TRUE(std::isinf(rows[5].value) && rows[5].value > 0);
  EXPECT_TRUE(std::isnan(rows[6].value));
  EXPECT_EQ(rows[6].type, PromType::kUntyped);
  EXPECT_TRUE(std::isinf(rows[7].value) && rows[7].value < 0);
}

TEST(PromText, MalformedLinesSayWhereAndWhat) {
  EXPECT_EQ(promTextErrorOf("ok 1\n9bad 1\n"), "line 2: expected a metric name, got '9bad 1'");
  EXPECT_EQ(promTextErrorOf("m{a=\"x\" 1\n"), "line 1: expected ',' or '}' after label 'a'");
  EXPECT_EQ(promTextErrorOf("m{a=x} 1\n"), "line 1: label 'a': expected a quoted value");
  EXPECT_EQ(promTextErrorOf("m{a=\"x} 1\n"), "line 1: label 'a': unterminated value");
  EXPECT_EQ(promTextErrorOf("m{a=\"\\t\"} 1\n"), "line 1: label 'a': unknown escape '\\t'");
  EXPECT_EQ(promTextErrorOf("m{a=\"1\",a=\"2\"} 1\n"), "line 1: label 'a' given twice");
  EXPECT_EQ(promTextErrorOf("m\n"), "line 1: m: no value");
  EXPECT_EQ(promTextErrorOf("m 1.2.3\n"), "line 1: m: bad value '1.2.3'");
  EXPECT_EQ(promTextErrorOf("m 1 soon\n"), "line 1: m: bad timestamp 'soon'");
  EXPECT_EQ(promTextErrorOf("# TYPE m meter\n"), "line 1: # TYPE m: unknown type 'meter'");
  EXPECT_EQ(promTextErrorOf("# TYPE\n"), "");  // "# TYPE" with nothing after is a plain comment
  EXPECT_EQ(promTextErrorOf("# TYPE  \n"), "line 1: # TYPE needs a metric name");
  EXPECT_EQ(promTextErrorOf(""), "");
  EXPECT_EQ(promTextErrorOf("m{a=\"x\"} 1"), "") << "no newline at the end";
}

TEST(PromText, AdversarialInputNeitherCrashesNorHangs) {
  std::string many(100000, '{');
  EXPECT_NE(promTextErrorOf("m" + many + " 1"), "");
  // Up to the cap of labels a line parses; one more is the documented error, not a slow check.
  auto labels = [](std::size_t n) {
    std::string line = "m{";
    for (std::size_t i = 0; i < n; ++i) line += "l" + std::to_string(i) + "=\"v\",";
    return line + "} 3\n";
  };
  Status st = Ok{};
  auto rows = parseAll(labels(kPromMaxLabelsPerLine), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].value, 3);
  EXPECT_EQ(promTextErrorOf(labels(5000)), "line 1: m: more than 128 labels");
  EXPECT_NE(promTextErrorOf(std::string("m{a=\"") + std::string(1 << 20, 'x')), "");
  EXPECT_NE(promTextErrorOf(std::string("\xff\xfe 1\n")), "");
}

TEST(PromSelector, ParsesAndMatches) {
  auto sel = PromSelector::parse("jvm_memory_used_bytes{area=\"heap\", id!=\"Metaspace\"}");
  ASSERT_TRUE(sel.ok()) << sel.error().message;
  PromSample s;
  s.name = "jvm_memory_used_bytes";
  s.labels = {{"area", "heap"}, {"id", "G1 Old Gen"}};
  EXPECT_TRUE(sel->matches(s));
  s.labels = {{"area", "nonheap"}, {"id", "G1 Old Gen"}};
  EXPECT_FALSE(sel->matches(s));
  s.labels = {{"area", "heap"}, {"id", "Metaspace"}};
  EXPECT_FALSE(sel->matches(s));
  s.labels = {{"id", "x"}};
  EXPECT_FALSE(sel->matches(s)) << "a missing label is the empty string";
  EXPECT_EQ(PromSelector::parse("x{a=\"1\"").error().message,
            "expected a label name in 'x{a=\"1\"'");
  EXPECT_EQ(PromSelector::parse("x{a~\"1\"}").error().message,
            "expected '=' or '!=' after 'a' in 'x{a~\"1\"}'");
  EXPECT_EQ(PromSelector::parse("x y").error().message, "unexpected 'y' in 'x y'");
  EXPECT_FALSE(PromSelector::parse("").ok());
}

TEST(PromMapping, GoClientFamiliesBecomeRuntimeSignals) {
  const char* text =
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0.5\"} 5e-05\n"
      "go_gc_duration_seconds_sum 0.25\n"
      "go_gc_duration_seconds_count 120\n"
      "# TYPE go_memstats_heap_alloc_bytes gauge\n"
      "go_memstats_heap_alloc_bytes 5.24288e+07\n"
      "# TYPE go_memstats_alloc_bytes_total counter\n"
      "go_memstats_alloc_bytes_total 1.073741824e+09\n"
      "go_memstats_gc_cpu_fraction 0.012\n"
      "go_gc_gomemlimit_bytes 2.68435456e+08\n";
  Snapshot s;
  auto n = mapPromText(text, wellKnownPromMappings(), s);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 6u);
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 52428800);
  EXPECT_EQ(*s.get(Sig::kGcCycles), 120);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kGcPauseSecondsTotal), 0.25);
  EXPECT_EQ(*s.get(internSignal("alloc_bytes_total")), 1073741824);
  EXPECT_DOUBLE_EQ(*s.get(internSignal("gc_cpu_fraction")), 0.012);
  EXPECT_EQ(*s.get(internSignal("heap_limit_bytes")), 268435456);
}

TEST(PromMapping, JavaPoolsAndCollectorsAreSummedAndOneLibraryIsPreferred) {
  // Micrometer and simpleclient_hotspot both present: Micrometer's come first and win, so the
  // heap is not counted twice. Micrometer's -1 ("no maximum") is skipped.
  const char* text =
      "jvm_memory_used_bytes{area=\"heap\",id=\"G1 Eden Space\"} 1.0e+07\n"
      "jvm_memory_used_bytes{area=\"heap\",id=\"G1 Old Gen\"} 3.0e+07\n"
      "jvm_memory_used_bytes{area=\"nonheap\",id=\"Metaspace\"} 9.0e+07\n"
      "jvm_memory_max_bytes{area=\"heap\",id=\"G1 Eden Space\"} -1\n"
      "jvm_memory_max_bytes{area=\"heap\",id=\"G1 Old Gen\"} 5.36870912E8\n"
      "jvm_gc_pause_seconds_count{action=\"end of minor GC\",cause=\"G1 Evacuation Pause\"} 40\n"
      "jvm_gc_pause_seconds_count{action=\"end of major GC\",cause=\"G1 Compaction Pause\"} 2\n"
      "jvm_gc_pause_seconds_sum{action=\"end of minor GC\",cause=\"G1 Evacuation Pause\"} 0.5\n"
      "jvm_memory_bytes_used{area=\"heap\"} 4.0e+07\n"
      "jvm_gc_collection_seconds_count{gc=\"G1 Young Generation\"} 40\n";
  Snapshot s;
  ASSERT_TRUE(mapPromText(text, wellKnownPromMappings(), s).ok());
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 4.0e+07);
  EXPECT_EQ(*s.get(internSignal("heap_limit_bytes")), 536870912);
  EXPECT_EQ(*s.get(Sig::kGcCycles), 42);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kGcPauseSecondsTotal), 0.5);
}

TEST(PromMapping, PythonNodeAndUserMappings) {
  const char* text =
      "python_gc_collections_total{generation=\"0\"} 100\n"
      "python_gc_collections_total{generation=\"1\"} 9\n"
      "python_gc_collections_total{generation=\"2\"} 1\n"
      "nodejs_heap_size_used_bytes 1.5e+07\n"
      "queue_bytes{queue=\"in\"} 4096\n";
  std::vector<PromMapping> mappings = {
      {"queue_in_bytes", *PromSelector::parse("queue_bytes{queue=\"in\"}")}};
  for (const auto& m : wellKnownPromMappings()) mappings.push_back(m);
  Snapshot s;
  auto n = mapPromText(text, mappings, s);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(*s.get(Sig::kGcCycles), 110);
  EXPECT_EQ(*s.get(Sig::kHeapAllocBytes), 1.5e+07);
  EXPECT_EQ(*s.get(internSignal("queue_in_bytes")), 4096);
  Snapshot none;
  EXPECT_EQ(*mapPromText("other_metric 1\n", mappings, none), 0u);
  EXPECT_FALSE(none.has(Sig::kGcCycles)) << "absent, never a made-up zero";
  EXPECT_FALSE(mapPromText("broken{ 1\n", mappings, none).ok());
}

TEST(PromMapping, InfinitiesAndRepeatedSeriesAreNotSummed) {
  SignalId heap = internSignal("heap_alloc_bytes");
  SignalId cycles = internSignal("gc_cycles");
  Snapshot s;
  auto n = mapPromText("go_memstats_heap_alloc_bytes +Inf\n", wellKnownPromMappings(), s);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_FALSE(s.has(heap));
  // Two finite values whose sum is not.
  Snapshot t;
  n = mapPromText(
      "jvm_memory_used_bytes{area=\"heap\",id=\"a\"} 1e308\n"
      "jvm_memory_used_bytes{area=\"heap\",id=\"b\"} 1e308\n",
      wellKnownPromMappings(), t);
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(t.has(heap));
  // The same series twice (Prometheus would refuse the scrape) counts once, whatever the label
  // order; series that differ in a label are still summed.
  Snapshot u;
  n = mapPromText(
      "go_gc_duration_seconds_count 31\n"
      "go_gc_duration_seconds_count 31\n"
      "jvm_memory_used_bytes{area=\"heap\",id=\"eden\"} 10\n"
      "jvm_memory_used_bytes{id=\"eden\",area=\"heap\"} 10\n"
      "jvm_memory_used_bytes{area=\"heap\",id=\"old\"} 5\n",
      wellKnownPromMappings(), u);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(u.get(cycles), 31.0);
  EXPECT_EQ(u.get(heap), 15.0);
}

// The closest # TYPE wins, whether it names the sample or its family (kept when the scan of
// every earlier TYPE line became a lookup).
TEST(PromText, TheLatestTypeThatCoversANameWins) {
  auto rows = parseAll(
      "# TYPE foo_count counter\n# TYPE foo summary\nfoo_count 1\n"
      "# TYPE bar summary\n# TYPE bar_count counter\nbar_count 2\n"
      "# TYPE baz gauge\nbaz_bucket 3\n# TYPE baz histogram\nbaz_bucket 4\nbaz_other 5\n");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].family, "foo");
  EXPECT_EQ(rows[0].type, PromType::kSummary);
  EXPECT_EQ(rows[1].family, "bar_count");
  EXPECT_EQ(rows[1].type, PromType::kCounter);
  EXPECT_EQ(rows[2].type, PromType::kGauge);
  EXPECT_EQ(rows[3].type, PromType::kHistogram);
  EXPECT_EQ(rows[4].family, "baz_other");
  EXPECT_EQ(rows[4].type, PromType::kUntyped);
}

// Pages of about 4 MiB shaped like the ones that made the parser quadratic: every sample looked
// up against every # TYPE line before it, every series of a mapped family compared with every one
// summed before, every label with every other label of its line. Within the caps they parse with
// a number of comparisons that grows like n log n (about 20 a line here, where the old scans made
// hundreds of millions); past a cap, the documented error names the line.
constexpr std::size_t k4MiB = 4 << 20;

std::string fill(std::string page, const std::function<std::string(std::size_t)>& line) {
  for (std::size_t i = 0;; ++i) {
    std::string l = line(i);
    if (page.size() + l.size() > k4MiB) return page;
    page += l;
  }
}

TEST(PromText, FourMiBOfTypeLinesThenSamplesIsLinearWork) {
  std::string page;
  for (std::size_t i = 0; i < kPromMaxFamilies; ++i)
    page += "# TYPE family_" + std::to_string(i) + " gauge\n";
  page = fill(page, [](std::size_t i) { return "untyped{i=\"" + std::to_string(i) + "\"} 1\n"; });
  PromParseStats stats;
  std::size_t samples = 0;
  Status st = forEachPromSample(
      page, [&](const PromSample&) { ++samples; }, &stats);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_GT(samples, 150000u);
  EXPECT_EQ(stats.samples, samples);
  // Six lookups a sample at most, each log2(16384) = 14 comparisons deep, and the TYPE lines'
  // own inserts: a scan of the TYPE lines would be 16384 comparisons a sample.
  EXPECT_LT(stats.comparisons, 6 * 15 * stats.lines) << stats.lines << " lines";

  // One family more than the cap: the error names the line, and nothing is slow.
  std::string over;
  for (std::size_t i = 0; i <= kPromMaxFamilies; ++i)
    over += "# TYPE family_" + std::to_string(i) + " gauge\n";
  EXPECT_EQ(promTextErrorOf(over), "line 16385: more than 16384 metric families in # TYPE lines");
  // The same name declared again is no new family.
  std::string again;
  for (std::size_t i = 0; i <= kPromMaxFamilies; ++i) again += "# TYPE same gauge\n";
  EXPECT_EQ(promTextErrorOf(again), "");
}

TEST(PromText, FourMiBOfSeriesOfAMappedFamilyIsCappedNotQuadratic) {
  auto series = [](std::size_t i) {
    return "go_gc_duration_seconds_count{i=\"" + std::to_string(i) + "\"} 1\n";
  };
  // Up to the cap the series are summed, each a lookup in a tree of at most 4096.
  std::string within = fill("", [&](std::size_t i) {
    return i < kPromMaxSeriesPerMapping ? series(i) : "other{i=\"" + std::to_string(i) + "\"} 1\n";
  });
  Snapshot s;
  PromParseStats stats;
  auto n = mapPromText(within, wellKnownPromMappings(), s, &stats);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*s.get(Sig::kGcCycles), 4096);
  EXPECT_LT(stats.comparisons, 20 * stats.lines) << stats.lines << " lines";

  std::string over = fill("", series);
  auto e = mapPromText(over, wellKnownPromMappings(), s);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "line 4097: more than 4096 series of 'go_gc_duration_seconds_count' for gc_cycles");
}

TEST(PromText, FourMiBOfLongLabelSetsIsLinearWork) {
  std::string page = fill("", [](std::size_t i) {
    std::string line = "wide{";
    for (std::size_t k = 0; k < kPromMaxLabelsPerLine; ++k)
      line += (k ? ",l" : "l") + std::to_string(k) + "=\"" + std::to_string(i) + "\"";
    return line + "} 1\n";
  });
  PromParseStats stats;
  Status st = forEachPromSample(
      page, [](const PromSample&) {}, &stats);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_GT(stats.samples, 1000u);
  // A sort of 128 keys: about 128 * log2(128) = 896 comparisons a line; each against each would
  // be 8128.
  EXPECT_LT(stats.comparisons, 1500 * stats.samples);
  // A repeat is still found, at the end of the set as at the start.
  std::string dup = "m{";
  for (std::size_t k = 0; k < kPromMaxLabelsPerLine - 1; ++k)
    dup += "l" + std::to_string(k) + "=\"v\",";
  EXPECT_EQ(promTextErrorOf(dup + "l5=\"w\"} 1\n"), "line 1: label 'l5' given twice");
}

TEST(PromText, LineLengthAndLineCountCapsNameTheLine) {
  std::string long_line = "ok 1\nm{a=\"" + std::string(kPromMaxLineBytes, 'x') + "\"} 1\n";
  EXPECT_EQ(promTextErrorOf(long_line),
            "line 2: the line is 65545 bytes long, over the cap of 65536");
  EXPECT_EQ(promTextErrorOf(std::string(kPromMaxLines, '\n')), "");
  EXPECT_EQ(promTextErrorOf(std::string(kPromMaxLines + 1, '\n')),
            "line 1048577: the page has more than 1048576 lines");
}

}  // namespace
}  // namespace oomsentinel
