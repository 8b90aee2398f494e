// tests/: the analysis room. The JVM class histogram (analysis/jvm_histogram.h): the ranking on a
// real GC.class_histogram reply of examples/java-leak and on text written here, the parser's
// answer to garbage, cut and hostile text, the growth between two histograms, and the report's
// two files (analysis/jvm_histogram_report.h).
#include "analysis/jvm_histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/jvm_histogram_report.h"
#include "core/safe_text.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kJvmHistHeader =
    " num     #instances         #bytes  class name (module)\n"
    "-------------------------------------------------------\n";

ClassHistogram jvmHistParse(std::string_view text, std::size_t top = 10,
                            const ClassHistogramLimits& limits = {}) {
  auto r = parseClassHistogram(text, top, limits);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? *r : ClassHistogram{};
}

std::string jvmHistRefusal(std::string_view text) {
  auto r = parseClassHistogram(text);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message;
}

std::string jvmHistRow(int n, std::uint64_t inst, std::uint64_t bytes, const std::string& name) {
  return "  " + std::to_string(n) + ":  " + std::to_string(inst) + "  " + std::to_string(bytes) +
         "  " + name + "\n";
}

TEST(JvmClassName, DescriptorsReadAsJavaTypes) {
  EXPECT_EQ(readableJvmClassName("[B"), "byte[]");
  EXPECT_EQ(readableJvmClassName("[C"), "char[]");
  EXPECT_EQ(readableJvmClassName("[Z"), "boolean[]");
  EXPECT_EQ(readableJvmClassName("[J"), "long[]");
  EXPECT_EQ(readableJvmClassName("[[I"), "int[][]");
  EXPECT_EQ(readableJvmClassName("[[[D"), "double[][][]");
  EXPECT_EQ(readableJvmClassName("[Ljava.lang.String;"), "java.lang.String[]");
  EXPECT_EQ(readableJvmClassName("[[Ljava.util.HashMap$Node;"), "java.util.HashMap$Node[][]");
  // Not a descriptor: as it is.
  EXPECT_EQ(readableJvmClassName("java.lang.String"), "java.lang.String");
  EXPECT_EQ(readableJvmClassName("[Q"), "[Q");
  EXPECT_EQ(readableJvmClassName("[BB"), "[BB");
  EXPECT_EQ(readableJvmClassName("[Ljava.lang.String"), "[Ljava.lang.String");
  EXPECT_EQ(readableJvmClassName("[L;"), "[L;");
  EXPECT_EQ(readableJvmClassName("["), "[");
  EXPECT_EQ(readableJvmClassName(""), "");
  // More dimensions than a JVM allows: as it is, not 256 pairs of brackets.
  std::string deep = std::string(256, '[') + "I";
  EXPECT_EQ(readableJvmClassName(deep), deep);
  EXPECT_EQ(readableJvmClassName(std::string(255, '[') + "I").size(), 3u + 2 * 255);
}

TEST(JvmClassHistogram, RanksTheRealJavaLeakHistogram) {
  ClassHistogram h =
      jvmHistParse(testing::readFixture("runtime-captured/java-leak-class-histogram.txt"));
  EXPECT_EQ(h.total_bytes, 66377096u);
  EXPECT_EQ(h.total_instances, 30911u);
  EXPECT_TRUE(h.total_from_line);
  EXPECT_TRUE(h.complete());
  EXPECT_EQ(h.rows, 420u);
  EXPECT_EQ(h.classes.size(), 420u);
  EXPECT_EQ(h.garbage_lines, 0u);
  ASSERT_EQ(h.top.size(), 10u);
  EXPECT_EQ(h.top[0].name, "byte[]");
  EXPECT_EQ(h.top[0].module, "java.base@17.0.15");
  EXPECT_EQ(h.top[0].instances, 7844u);
  EXPECT_EQ(h.top[0].bytes, 65370944u);
  EXPECT_NEAR(h.top[0].share, 65370944.0 / 66377096.0, 1e-12);
  EXPECT_EQ(h.top[1].name, "java.lang.Class");
  EXPECT_EQ(h.top[3].name, "java.lang.Object[]");
  for (std::size_t i = 1; i < h.top.size(); ++i) EXPECT_GE(h.top[i - 1].bytes, h.top[i].bytes);
  // A class of the unnamed module has no module.
  bool lambda = false;
  for (const auto& c : h.classes)
    if (c.name.starts_with("JavaLeak$$Lambda$1/")) lambda = c.module.empty();
  EXPECT_TRUE(lambda);
}

TEST(JvmClassHistogram, JcmdsPidLineAndJdk8sHeaderAndTiesByName) {
  std::string text =
      "4242:\n num     #instances         #bytes  class name\n"
      "----------------------------------------------\n" +
      jvmHistRow(1, 3, 300, "b.B") + jvmHistRow(2, 3, 300, "a.A") + jvmHistRow(3, 1, 100, "[I") +
      "Total             7            700\n";
  ClassHistogram h = jvmHistParse(text, 2);
  EXPECT_EQ(h.garbage_lines, 1u);  // the "<pid>:" line
  ASSERT_EQ(h.top.size(), 2u);
  EXPECT_EQ(h.top[0].name, "a.A");
  EXPECT_EQ(h.top[1].name, "b.B");
  EXPECT_EQ(h.top[0].module, "");
  EXPECT_EQ(h.classes.size(), 3u);
  EXPECT_EQ(h.classes[2].name, "int[]");
  EXPECT_TRUE(h.complete());
}

TEST(JvmClassHistogram, RowsOfOneClassFromTwoLoadersAreOneClass) {
  std::string text = std::string(kJvmHistHeader) + jvmHistRow(1, 2, 500, "x.Plugin (m@1)") +
                     jvmHistRow(2, 9, 400, "y.Other (m@1)") +
                     jvmHistRow(3, 1, 200, "x.Plugin (m@1)") +
                     jvmHistRow(4, 1, 50, "x.Plugin (n@2)") + "Total 13 1150\n";
  ClassHistogram h = jvmHistParse(text);
  EXPECT_EQ(h.rows, 4u);
  ASSERT_EQ(h.classes.size(), 3u);
  EXPECT_EQ(h.top[0].name, "x.Plugin");
  EXPECT_EQ(h.top[0].module, "m@1");
  EXPECT_EQ(h.top[0].bytes, 700u);
  EXPECT_EQ(h.top[0].instances, 3u);
  EXPECT_EQ(h.top[2].module, "n@2");
}

TEST(JvmClassHistogram, GarbageLinesAreCountedNotFatal) {
  std::string text = std::string(kJvmHistHeader) + jvmHistRow(1, 1, 1000, "a.A (m)") +
                     "  2:  12  nope  b.B\n" +                    // bytes not a number
                     "  3:  1  99999999999999999999999  c.C\n" +  // bytes past 64 bits
                     "  4:  1  10\n" +                            // no name
                     "\x01\xff random\n" + "\n" +                 // noise, a blank line
                     jvmHistRow(5, 1, 10, "e.E (m)") + "Total 2 1010\n" + "Total 9 9\n";
  ClassHistogram h = jvmHistParse(text);
  EXPECT_EQ(h.rows, 2u);
  EXPECT_EQ(h.garbage_lines, 5u);  // four bad lines and the second Total
  EXPECT_EQ(h.total_bytes, 1010u);
  EXPECT_TRUE(h.total_from_line);
}

TEST(JvmClassHistogram, NoHeaderOrNoRowIsAClearError) {
  EXPECT_THAT(jvmHistRefusal(""), HasSubstr("no class histogram header"));
  EXPECT_THAT(jvmHistRefusal("GC.class_histogram: unknown command\n"),
              HasSubstr("no class histogram header"));
  EXPECT_THAT(jvmHistRefusal(jvmHistRow(1, 1, 10, "a.A")), HasSubstr("no class histogram header"));
  EXPECT_THAT(jvmHistRefusal(std::string(kJvmHistHeader) + "Total 0 0\n"), HasSubstr("no row"));
  EXPECT_THAT(jvmHistRefusal(std::string(kJvmHistHeader) + "garbage\n"), HasSubstr("no row"));
}

TEST(JvmClassHistogram, ACutHistogramIsRankedFromItsRowsAndSaysSo) {
  std::string full = testing::readFixture("runtime-captured/java-leak-class-histogram.txt");
  // Cut in the middle of a row's number: that row is not read (its digits may be missing).
  std::string cut = full.substr(0, full.find("   3:") + 12);
  ClassHistogram h = jvmHistParse(cut);
  EXPECT_EQ(h.rows, 2u);
  EXPECT_EQ(h.garbage_lines, 1u);
  EXPECT_FALSE(h.has_total_line);
  EXPECT_FALSE(h.complete());
  EXPECT_EQ(h.total_bytes, 65370944u + 196424u);  // the rows read
  EXPECT_EQ(h.top[0].name, "byte[]");
  // A Total line without its newline may be cut in its digits too.
  std::string no_nl = full.substr(0, full.size() - 1);
  ClassHistogram t = jvmHistParse(no_nl);
  EXPECT_FALSE(t.has_total_line);
  EXPECT_EQ(t.rows, 420u);
  // Past max_input: only the start is read.
  ClassHistogramLimits small;
  small.max_input = 1000;
  ClassHistogram s = jvmHistParse(full, 10, small);
  EXPECT_TRUE(s.input_cut);
  EXPECT_FALSE(s.complete());
  EXPECT_GT(s.rows, 3u);
  EXPECT_LT(s.rows, 20u);
}

TEST(JvmClassHistogram, RowsPastTheClassCapAreCountedNotKept) {
  std::string full = testing::readFixture("runtime-captured/java-leak-class-histogram.txt");
  ClassHistogramLimits small;
  small.max_classes = 5;
  ClassHistogram h = jvmHistParse(full, 10, small);
  EXPECT_EQ(h.classes.size(), 5u);
  EXPECT_EQ(h.top.size(), 5u);
  EXPECT_EQ(h.rows, 420u);
  EXPECT_EQ(h.dropped_rows, 415u);
  EXPECT_TRUE(h.total_from_line);  // the Total line counts them, and is more than the rows kept
  EXPECT_EQ(h.total_bytes, 66377096u);
  EXPECT_FALSE(h.complete());
}

TEST(JvmClassHistogram, ATotalLineLessThanItsRowsIsNotBelieved) {
  std::string text = std::string(kJvmHistHeader) + jvmHistRow(1, 4, 4000, "a.A") +
                     jvmHistRow(2, 1, 1000, "b.B") + "Total 5 10\n";
  ClassHistogram h = jvmHistParse(text);
  EXPECT_TRUE(h.has_total_line);
  EXPECT_FALSE(h.total_from_line);
  EXPECT_EQ(h.total_bytes, 5000u);
  EXPECT_DOUBLE_EQ(h.top[0].share, 0.8);
  // Sums past 64 bits saturate rather than wrap.
  std::string big = std::string(kJvmHistHeader) + jvmHistRow(1, 1, 18446744073709551615u, "a.A") +
                    jvmHistRow(2, 1, 18446744073709551615u, "a.A");
  ClassHistogram b = jvmHistParse(big);
  EXPECT_EQ(b.top[0].bytes, 18446744073709551615u);
}

TEST(JvmClassHistogram, AHostileClassNameIsBoundedAndMadeSafe) {
  std::string evil = "evil\n\x1b[31mred\r\xff\xfe\xc0\x80";
  std::string huge = "x." + std::string(1 << 20, 'A');
  std::string hostile_module = "mod\x07" + std::string(4096, 'm');
  std::string text = std::string(kJvmHistHeader) +
                     jvmHistRow(1, 1, 900, huge + " (" + hostile_module + ")") + "  2:  1  800  " +
                     evil + " (m)\n" + jvmHistRow(3, 1, 700, "[L" + huge + ";") +
                     jvmHistRow(4, 1, 600,
                                "ok\xe2\x80\xae"
                                "gnp.exe") +
                     "Total 4 3000\n";
  ClassHistogram h = jvmHistParse(text);
  // The newline ends the row: "evil" is a row with no module; "\x1b[31mred..." is garbage.
  ASSERT_EQ(h.top.size(), 4u);
  for (const auto& c : h.top) {
    EXPECT_LE(c.name.size(), kClassNameCap);
    EXPECT_LE(c.module.size(), kClassModuleCap);
    EXPECT_EQ(firstIllFormedUtf8(c.name), std::string::npos);
    EXPECT_EQ(c.name.find_first_of("\r\n\x1b\x07"), std::string::npos);
    EXPECT_EQ(c.module.find_first_of("\r\n\x1b\x07"), std::string::npos);
  }
  EXPECT_TRUE(h.top[0].name.starts_with("x.AAAA"));
  EXPECT_TRUE(h.top[0].name.ends_with("…"));
  EXPECT_TRUE(h.top[0].module.starts_with("mod\\x07mmm"));
  EXPECT_EQ(h.top[1].name, "evil");
  // A descriptor too long to end in the cap is kept as it is, cut.
  EXPECT_TRUE(h.top[2].name.starts_with("[Lx.AAA"));
  EXPECT_EQ(h.top[3].name, "ok\\u202egnp.exe");
  EXPECT_EQ(h.garbage_lines, 1u);
  // The report of it is valid JSON and its text has no control byte but newlines.
  ReportFiles f = renderJvmHistogramReport("class_histogram.txt", h);
  auto j = nlohmann::json::parse(f.json, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["top_by_class"].size(), 4u);
  EXPECT_EQ(f.text.find_first_of("\r\x1b\x07"), std::string::npos);
  EXPECT_EQ(firstIllFormedUtf8(f.text), std::string::npos);
  EXPECT_LT(f.json.size(), 16u << 10);
}

TEST(JvmClassHistogram, AHugeInputIsLinear) {
  // 8 MiB of rows, each its own class, over the class cap: read in one pass, bounded memory.
  std::string text = kJvmHistHeader;
  for (int i = 0; text.size() < (8u << 20) - 64; ++i)
    text += jvmHistRow(i + 1, 1, 1000000 - i % 1000, "c" + std::to_string(i));
  ClassHistogram h = jvmHistParse(text);
  EXPECT_EQ(h.classes.size(), ClassHistogramLimits{}.max_classes);
  EXPECT_GT(h.dropped_rows, 100'000u);
  EXPECT_EQ(h.top.size(), 10u);
}

}  // namespace
}  // namespace oomsentinel
