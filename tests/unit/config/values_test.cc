// config/values.h: the value syntax shared by loading and printing, and "did you mean".
#include "config/values.h"

#include <gtest/gtest.h>

#include "core/units.h"

namespace oomsentinel::config_values {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(ConfigValues, ParseRatio) {
  EXPECT_EQ(*parseRatio("70%"), 0.7);
  EXPECT_EQ(*parseRatio("0.7"), 0.7);
  EXPECT_EQ(*parseRatio(" 72.5 % "), 0.725);
  EXPECT_EQ(*parseRatio("100%"), 1.0);
  EXPECT_EQ(*parseRatio("170%"), 1.7);  // range is the caller's
  for (const char* bad : {"", "%", "seventy", "70%%", "70 percent", "0x10", "nan", "inf"})
    EXPECT_FALSE(parseRatio(bad).ok()) << bad;
  EXPECT_EQ(parseRatio("most").error().message,
            "expected a percentage like 70% or a ratio like 0.7, got 'most'");
}

TEST(ConfigValues, FormatRatioIsShortAndExact) {
  EXPECT_EQ(formatRatio(0.7), "70%");
  EXPECT_EQ(formatRatio(0.725), "72.5%");
  EXPECT_EQ(formatRatio(1.0), "100%");
  EXPECT_EQ(formatRatio(0.85), "85%");
  for (double r : {0.7, 0.725, 0.123456789, 1e-9, 0.1 + 0.2, 1.0 / 3, 0.999999999999})
    EXPECT_EQ(*parseRatio(formatRatio(r)), r) << formatRatio(r);
}

TEST(ConfigValues, FormatDurationUsesOneExactUnit) {
  EXPECT_EQ(formatDurationExact(Duration(0)), "0s");
  EXPECT_EQ(formatDurationExact(milliseconds(50)), "50ms");
  EXPECT_EQ(formatDurationExact(seconds(1)), "1s");
  EXPECT_EQ(formatDurationExact(minutes(5)), "5m");
  EXPECT_EQ(formatDurationExact(seconds(90)), "90s");
  EXPECT_EQ(formatDurationExact(hours(2)), "2h");
  EXPECT_EQ(formatDurationExact(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDurationExact(microseconds(7)), "7us");
  EXPECT_EQ(formatDurationExact(nanoseconds(1'000'000'007)), "1000000007ns");
  for (Duration d : {Duration(0), Duration(1), Duration(999), Duration(1'000'000'007),
                     Duration(milliseconds(10'500)), Duration(hours(24 * 365))})
    EXPECT_EQ(*parseDuration(formatDurationExact(d)), d) << formatDurationExact(d);
}

TEST(ConfigValues, EditDistanceCountsSwapsAsOne) {
  EXPECT_EQ(editDistance("interval", "interval"), 0u);
  EXPECT_EQ(editDistance("intreval", "interval"), 1u);
  EXPECT_EQ(editDistance("intervall", "interval"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
}

TEST(ConfigValues, DidYouMean) {
  const std::vector<std::string> keys = {"interval", "fast_interval", "fast_above",
                                         "fast_when_tto_below"};
  EXPECT_EQ(didYouMean("intervl", keys), "interval");
  EXPECT_EQ(didYouMean("fast_abvoe", keys), "fast_above");
  EXPECT_EQ(didYouMean("fast_when", keys), "fast_when_tto_below");  // a prefix
  EXPECT_EQ(didYouMean("interval_seconds", keys), "interval");      // the other way round
  EXPECT_EQ(didYouMean("colour", keys), std::nullopt);
  EXPECT_EQ(didYouMean("fa", keys), std::nullopt);  // too short to be a prefix worth naming
  // Short words: two edits away is another word, not a typo.
  EXPECT_EQ(didYouMean("to", {"go"}), "go");
  EXPECT_EQ(didYouMean("xy", {"go"}), std::nullopt);
  EXPECT_EQ(didYouMean("", keys), std::nullopt);
}

}  // namespace
}  // namespace oomsentinel::config_values
