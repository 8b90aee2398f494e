// tests/: the analysis room. The growth between two JVM class histograms
// (analysis/jvm_histogram.h: diffClassHistograms), on two real histograms of one java-leak
// process and on text written here, and the JVM heap report's two files
// (analysis/jvm_histogram_report.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/jvm_histogram.h"
#include "analysis/jvm_histogram_report.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ClassHistogram jvmDiffParse(std::string_view text) {
  auto r = parseClassHistogram(text);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? *r : ClassHistogram{};
}

// A histogram of (name, instances, bytes) rows and a consistent Total line.
std::string jvmDiffText(
    const std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>>& rows) {
  std::string out = " num     #instances         #bytes  class name (module)\n---\n";
  std::uint64_t inst = 0, bytes = 0;
  int n = 0;
  for (const auto& [name, i, b] : rows) {
    out += "  " + std::to_string(++n) + ":  " + std::to_string(i) + "  " + std::to_string(b) +
           "  " + name + "\n";
    inst += i;
    bytes += b;
  }
  return out + "Total  " + std::to_string(inst) + "  " + std::to_string(bytes) + "\n";
}

TEST(JvmHistogramDiff, TheRealLeakGrowsAsByteArrays) {
  ClassHistogram before =
      jvmDiffParse(testing::readFixture("runtime-captured/java-leak-class-histogram-baseline.txt"));
  ClassHistogram now =
      jvmDiffParse(testing::readFixture("runtime-captured/java-leak-class-histogram.txt"));
  HistogramGrowth g = diffClassHistograms(before, now);
  EXPECT_TRUE(g.complete);
  EXPECT_EQ(g.net_growth, 66377096 - 23385736);
  ASSERT_FALSE(g.top.empty());
  EXPECT_EQ(g.top[0].name, "byte[]");
  EXPECT_EQ(g.top[0].module, "java.base@17.0.15");
  EXPECT_EQ(g.top[0].bytes_before, 22378056u);
  EXPECT_EQ(g.top[0].bytes_after, 65370944u);
  EXPECT_EQ(g.top[0].growth, 65370944u - 22378056u);
  EXPECT_EQ(g.top[0].instances_growth, 7844 - 7792);
  EXPECT_FALSE(g.top[0].new_class);
  EXPECT_GT(g.top[0].share, 0.99);
  EXPECT_GE(g.total_growth, g.top[0].growth);
  double shares = 0;
  for (const auto& x : g.top) shares += x.share;
  EXPECT_LE(shares, 1.0 + 1e-9);
}

TEST(JvmHistogramDiff, RanksGrowthNotSize) {
  // A cache larger than everything, steady; a leak smaller but growing; a new class; a shrink.
  ClassHistogram before = jvmDiffParse(jvmDiffText({{"app.Cache (app@1)", 1, 100'000},
                                                    {"app.Leak (app@1)", 10, 1'000},
                                                    {"app.Shrinks (app@1)", 50, 50'000}}));
  ClassHistogram now = jvmDiffParse(jvmDiffText({{"app.Cache (app@1)", 1, 100'000},
                                                 {"app.Leak (app@1)", 300, 31'000},
                                                 {"app.Shrinks (app@1)", 1, 1'000},
                                                 {"app.Fresh (app@1)", 5, 10'000},
                                                 {"app.Leak (other@2)", 1, 100}}));
  HistogramGrowth g = diffClassHistograms(before, now);
  EXPECT_EQ(g.growing, 3u);
  EXPECT_EQ(g.total_growth, 30'000u + 10'000u + 100u);
  EXPECT_EQ(g.net_growth, 142'100 - 151'000);
  ASSERT_EQ(g.top.size(), 3u);
  EXPECT_EQ(g.top[0].name, "app.Leak");
  EXPECT_EQ(g.top[0].module, "app@1");
  EXPECT_EQ(g.top[0].growth, 30'000u);
  EXPECT_EQ(g.top[0].instances_growth, 290);
  EXPECT_DOUBLE_EQ(g.top[0].share, 30'000.0 / 40'100.0);
  EXPECT_EQ(g.top[1].name, "app.Fresh");
  EXPECT_TRUE(g.top[1].new_class);
  EXPECT_EQ(g.top[1].bytes_before, 0u);
  EXPECT_EQ(g.top[2].module, "other@2");  // same name, another module: another class
  EXPECT_TRUE(g.top[2].new_class);
  // top cuts the list; the totals still count every class.
  HistogramGrowth one = diffClassHistograms(before, now, 1);
  ASSERT_EQ(one.top.size(), 1u);
  EXPECT_EQ(one.total_growth, g.total_growth);
}

TEST(JvmHistogramDiff, TiesByNameAndNothingGrew) {
  ClassHistogram before = jvmDiffParse(jvmDiffText({{"b", 1, 10}, {"a", 1, 10}}));
  ClassHistogram now = jvmDiffParse(jvmDiffText({{"b", 1, 20}, {"a", 1, 20}}));
  HistogramGrowth g = diffClassHistograms(before, now);
  ASSERT_EQ(g.top.size(), 2u);
  EXPECT_EQ(g.top[0].name, "a");
  EXPECT_DOUBLE_EQ(g.top[0].share, 0.5);
  HistogramGrowth none = diffClassHistograms(now, before);
  EXPECT_TRUE(none.top.empty());
  EXPECT_EQ(none.total_growth, 0u);
  EXPECT_EQ(none.net_growth, -20);
  HistogramGrowth same = diffClassHistograms(now, now);
  EXPECT_TRUE(same.top.empty());
  EXPECT_EQ(same.net_growth, 0);
}

TEST(JvmHistogramDiff, AnIncompleteHistogramMakesTheDiffIncomplete) {
  std::string full = jvmDiffText({{"a", 1, 30}, {"b", 1, 20}});
  ClassHistogram complete = jvmDiffParse(full);
  ClassHistogram cut = jvmDiffParse(full.substr(0, full.find("Total")));
  EXPECT_TRUE(diffClassHistograms(complete, complete).complete);
  EXPECT_FALSE(diffClassHistograms(cut, complete).complete);
  EXPECT_FALSE(diffClassHistograms(complete, cut).complete);
  // Extreme values do not wrap.
  ClassHistogram huge =
      jvmDiffParse(jvmDiffText({{"a", 18446744073709551615u, 18446744073709551615u}}));
  HistogramGrowth g = diffClassHistograms(complete, huge);
  EXPECT_EQ(g.top[0].growth, 18446744073709551615u - 30u);
  EXPECT_GT(g.net_growth, 0);
  EXPECT_GT(g.top[0].instances_growth, 0);
  HistogramGrowth back = diffClassHistograms(huge, complete);
  EXPECT_LT(back.net_growth, 0);
}

TEST(JvmHistogramReport, TheRealHistogramsReport) {
  auto now =
      parseClassHistogram(testing::readFixture("runtime-captured/java-leak-class-histogram.txt"));
  ReportFiles f = renderJvmHistogramReport("class_histogram.txt", now);
  auto j = nlohmann::json::parse(f.json);
  EXPECT_EQ(j["runtime"], "jvm");
  EXPECT_EQ(j["profile"], "class_histogram.txt");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["total_bytes"], 66377096u);
  EXPECT_EQ(j["complete"], true);
  EXPECT_FALSE(j.contains("growth"));
  ASSERT_EQ(j["top_by_class"].size(), 10u);
  EXPECT_EQ(j["top_by_class"][0]["class"], "byte[]");
  EXPECT_EQ(j["top_by_class"][0]["module"], "java.base@17.0.15");
  EXPECT_EQ(j["top_by_class"][0]["instances"], 7844u);
  EXPECT_EQ(j["top_by_class"][0]["bytes"], 65370944u);
  EXPECT_NEAR(j["top_by_class"][0]["share"].get<double>(), 0.985, 0.001);
  EXPECT_THAT(f.text, HasSubstr("(JVM class histogram)"));
  EXPECT_THAT(f.text,
              HasSubstr("1.   62.3 MiB  98.5%  byte[] (java.base@17.0.15)  7844 instances"));
  EXPECT_THAT(f.text, HasSubstr("No baseline histogram"));
  EXPECT_THAT(f.text, HasSubstr("less class_histogram.txt"));
  EXPECT_THAT(f.text, Not(HasSubstr("not understood")));

  auto before = parseClassHistogram(
      testing::readFixture("runtime-captured/java-leak-class-histogram-baseline.txt"));
  HistogramGrowth g = diffClassHistograms(*before, *now);
  ReportFiles d = renderJvmHistogramReport("class_histogram.txt", now, &g);
  auto dj = nlohmann::json::parse(d.json);
  EXPECT_EQ(dj["growth"]["top"][0]["class"], "byte[]");
  EXPECT_EQ(dj["growth"]["top"][0]["growth"], 65370944u - 22378056u);
  EXPECT_EQ(dj["growth"]["complete"], true);
  EXPECT_THAT(d.text, HasSubstr("Growth since the baseline histogram: "));
  EXPECT_THAT(d.text, HasSubstr("byte[] (java.base@17.0.15)  21.3 MiB -> 62.3 MiB"));
}

// tests/fixtures/heap-report/java-leak-report.{json,txt} are this report, byte for byte: the
// daemon's tests of `incidents show` read them as a bundle's (they do not link analysis/).
TEST(JvmHistogramReport, TheFixtureReportsAreWhatTheRendererWrites) {
  ReportFiles f = renderJvmHistogramReport(
      "class_histogram.txt",
      parseClassHistogram(testing::readFixture("runtime-captured/java-leak-class-histogram.txt")));
  EXPECT_EQ(f.json, testing::readFixture("heap-report/java-leak-report.json"));
  EXPECT_EQ(f.text, testing::readFixture("heap-report/java-leak-report.txt"));
}

TEST(JvmHistogramReport, AFailureSaysWhy) {
  ReportFiles f = renderJvmHistogramReport("class_histogram.txt",
                                           makeError("the class histogram was not captured"));
  auto j = nlohmann::json::parse(f.json);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error"], "the class histogram was not captured");
  EXPECT_FALSE(j.contains("top_by_class"));
  EXPECT_THAT(f.text, HasSubstr("No analysis: the class histogram was not captured."));
  // A cut histogram's caveats are in the text.
  std::string cut = jvmDiffText({{"a", 1, 30}, {"b", 1, 20}, {"c", 1, 10}});
  cut = cut.substr(0, cut.find("Total")) + "junk\n";
  ReportFiles c = renderJvmHistogramReport("class_histogram.txt", parseClassHistogram(cut));
  EXPECT_THAT(c.text, HasSubstr("no Total line"));
  EXPECT_THAT(c.text, HasSubstr("1 line was not understood"));
  EXPECT_EQ(nlohmann::json::parse(c.json)["complete"], false);
}

}  // namespace
}  // namespace oomsentinel
