// tests/: the pure parsers of collectors/parse.h on real kernel text (tests/fixtures/*-captured,
// see their SOURCE.md) and on hand-written text in the formats of the kernel documentation.
#include "collectors/parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::ElementsAre;
using testing::fixture;
using ::testing::Pair;
using testing::readFixture;

constexpr std::uint64_t kU64Max = 18446744073709551615ull;
constexpr std::uint64_t kKiB = 1024;
// The v1 "no limit" value with 4 KiB pages: PAGE_COUNTER_MAX pages, 0x7FFFFFFFFFFFF000.
constexpr std::uint64_t kV1Unlimited = 9223372036854771712ull;

// The v1 child cgroup and the leaker inside it (tests/fixtures/v1-captured/SOURCE.md).
const std::string kV1Root = "v1-captured/sys/fs/cgroup/memory/";
const std::string kV1 = kV1Root + "oomsentinel-fixture-5283/";
const std::string kProc = "proc-captured/";
const std::string kLeaker = kProc + "5297/";
const std::string kV2 = "v2-captured/sys/fs/cgroup/fixture/";
const std::string kV2Proc = "v2-captured/proc/";

using KeyValues = std::vector<std::pair<std::string, std::uint64_t>>;

// Every (key, value) the parser hands out, in order; the Status in `st`.
template <typename Parser>
KeyValues collect(Parser parser, std::string_view text, Status* st) {
  KeyValues out;
  *st = parser(text, [&](std::string_view k, std::uint64_t v) { out.emplace_back(k, v); });
  return out;
}

KeyValues keyValues(std::string_view text, Status* st) {
  return collect([](std::string_view t, auto&& f) { return forEachKeyValue(t, f); }, text, st);
}
KeyValues kbLines(std::string_view text, Status* st) {
  return collect([](std::string_view t, auto&& f) { return forEachKbLine(t, f); }, text, st);
}

std::map<std::string, std::uint64_t> asMap(const KeyValues& kv) {
  return std::map<std::string, std::uint64_t>(kv.begin(), kv.end());
}

// The value of `key`; fails the test when the parser did not hand it out exactly once.
std::uint64_t only(const KeyValues& kv, const std::string& key) {
  int n = 0;
  std::uint64_t v = 0;
  for (const auto& [k, value] : kv)
    if (k == key) {
      ++n;
      v = value;
    }
  EXPECT_EQ(n, 1) << "key " << key;
  return v;
}

bool has(const KeyValues& kv, const std::string& key) {
  for (const auto& p : kv)
    if (p.first == key) return true;
  return false;
}

template <typename T>
std::string errorOf(const Result<T>& r) {
  EXPECT_FALSE(r.ok()) << "expected an error";
  return r.ok() ? std::string("<no error>") : r.error().message;
}

// ---------------------------------------------------------------- parseU64

TEST(ParseU64, CapturedV1NumberFiles) {
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.usage_in_bytes")), 21610496u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.limit_in_bytes")), 64u * 1024 * 1024);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.max_usage_in_bytes")), 21757952u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.failcnt")), 0u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.memsw.usage_in_bytes")), 21610496u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.memsw.limit_in_bytes")), kV1Unlimited);
  EXPECT_EQ(*parseU64(readFixture(kV1Root + "memory.limit_in_bytes")), kV1Unlimited);
}

TEST(ParseU64, CapturedV1AfterOom) {
  // The limit was hit 149 times on the way to the kill; the peak is the limit itself.
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.failcnt.after-oom")), 149u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.max_usage_in_bytes.after-oom")), 67108864u);
  EXPECT_EQ(*parseU64(readFixture(kV1 + "memory.usage_in_bytes.after-oom")), 204800u);
}

TEST(ParseU64, WhiteSpaceAroundIsAllowed) {
  EXPECT_EQ(*parseU64(" \t42 \r\n"), 42u);
  EXPECT_EQ(*parseU64("0"), 0u);
  EXPECT_EQ(*parseU64("1234"), 1234u);  // no newline, as a truncated read would give
}

TEST(ParseU64, LargestValueIsAcceptedOneMoreIsOutOfRange) {
  EXPECT_EQ(*parseU64("18446744073709551615\n"), kU64Max);
  EXPECT_EQ(errorOf(parseU64("18446744073709551616\n")),
            "number out of range: '18446744073709551616'");
  EXPECT_EQ(errorOf(parseU64("99999999999999999999999")),
            "number out of range: '99999999999999999999999'");
}

TEST(ParseU64, EmptyIsAnError) {
  EXPECT_EQ(errorOf(parseU64("")), "expected a number, got nothing");
  EXPECT_EQ(errorOf(parseU64(" \n")), "expected a number, got nothing");
}

TEST(ParseU64, NegativeIsAnError) {
  EXPECT_EQ(errorOf(parseU64("-1\n")), "expected an unsigned number, got '-1'");
  EXPECT_EQ(errorOf(parseU64("-0")), "expected an unsigned number, got '-0'");
}

TEST(ParseU64, MaxIsNotANumber) {
  // v1 files never say "max"; only parseV2Limit takes it.
  EXPECT_EQ(errorOf(parseU64("max\n")), "expected an unsigned number, got 'max'");
}

TEST(ParseU64, MalformedIsAnErrorShowingTheText) {
  EXPECT_EQ(errorOf(parseU64("12abc")), "expected an unsigned number, got '12abc'");
  EXPECT_EQ(errorOf(parseU64("+5")), "expected an unsigned number, got '+5'");
  EXPECT_EQ(errorOf(parseU64("0x10")), "expected an unsigned number, got '0x10'");
  EXPECT_EQ(errorOf(parseU64("1.5")), "expected an unsigned number, got '1.5'");
  EXPECT_EQ(errorOf(parseU64("64M")), "expected an unsigned number, got '64M'");
}

TEST(ParseU64, TwoLinesAreNotOneNumberAndControlCharactersAreEscaped) {
  EXPECT_EQ(errorOf(parseU64("123\n456\n")), "expected an unsigned number, got '123\\n456'");
  EXPECT_EQ(errorOf(parseU64("1\t2")), "expected an unsigned number, got '1\\t2'");
  EXPECT_EQ(errorOf(parseU64(std::string("7\x01", 2))),
            "expected an unsigned number, got '7\\x01'");
}

TEST(ParseU64, LongGarbageIsCutInTheMessage) {
  std::string garbage(100, 'z');
  EXPECT_EQ(errorOf(parseU64(garbage)),
            "expected an unsigned number, got '" + std::string(60, 'z') + "...'");
  std::string digits(100, '9');
  EXPECT_EQ(errorOf(parseU64(digits)), "number out of range: '" + std::string(60, '9') + "...'");
}

// ---------------------------------------------------------------- parseV2Limit

TEST(ParseV2Limit, NumberOrMax) {
  // Documentation/admin-guide/cgroup-v2.rst: memory.max "Default is max"; a number is bytes.
  auto limit = parseV2Limit("67108864\n");
  ASSERT_TRUE(limit.ok());
  EXPECT_EQ(*limit, std::optional<std::uint64_t>(67108864));
  auto max = parseV2Limit("max\n");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, std::nullopt);
  auto zero = parseV2Limit("0\n");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, std::optional<std::uint64_t>(0));
}

TEST(ParseV2Limit, HugeValues) {
  auto top = parseV2Limit("18446744073709551615\n");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(*top, std::optional<std::uint64_t>(kU64Max));
  EXPECT_EQ(errorOf(parseV2Limit("18446744073709551616\n")),
            "number out of range: '18446744073709551616' (or 'max')");
}

TEST(ParseV2Limit, EmptyNegativeAndMalformedAreErrors) {
  EXPECT_EQ(errorOf(parseV2Limit("")), "expected a number, got nothing (or 'max')");
  EXPECT_EQ(errorOf(parseV2Limit("-1\n")), "expected an unsigned number, got '-1' (or 'max')");
  EXPECT_EQ(errorOf(parseV2Limit("MAX\n")), "expected an unsigned number, got 'MAX' (or 'max')");
  EXPECT_EQ(errorOf(parseV2Limit("max max\n")),
            "expected an unsigned number, got 'max max' (or 'max')");
  EXPECT_EQ(errorOf(parseV2Limit("ma")), "expected an unsigned number, got 'ma' (or 'max')");
  EXPECT_EQ(errorOf(parseV2Limit("64M\n")), "expected an unsigned number, got '64M' (or 'max')");
}

// ---------------------------------------------------------------- isV1Unlimited

TEST(IsV1Unlimited, PageCounterMaxIsUnlimited) {
  EXPECT_TRUE(isV1Unlimited(9223372036854771712ull));  // 4 KiB pages
  EXPECT_TRUE(isV1Unlimited(*parseU64(readFixture(kV1Root + "memory.limit_in_bytes"))));
  EXPECT_TRUE(isV1Unlimited(*parseU64(readFixture(kV1 + "memory.memsw.limit_in_bytes"))));
  EXPECT_TRUE(isV1Unlimited(9223372036854710272ull));  // 64 KiB pages (arm64, ppc64)
  EXPECT_TRUE(isV1Unlimited(kU64Max));
}

TEST(IsV1Unlimited, TheBoundaryIsTwoToThe62) {
  EXPECT_TRUE(isV1Unlimited(std::uint64_t{1} << 62));
  EXPECT_FALSE(isV1Unlimited((std::uint64_t{1} << 62) - 1));
}

TEST(IsV1Unlimited, RealLimitsAreLimits) {
  EXPECT_FALSE(isV1Unlimited(*parseU64(readFixture(kV1 + "memory.limit_in_bytes"))));
  EXPECT_FALSE(isV1Unlimited(0));
  EXPECT_FALSE(isV1Unlimited(std::uint64_t{1} << 50));  // 1 PiB is a (large) limit
}

// ---------------------------------------------------------------- forEachKeyValue

TEST(ForEachKeyValue, CapturedV1MemoryStat) {
  Status st = Ok{};
  auto kv = keyValues(readFixture(kV1 + "memory.stat"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(kv.size(), 42u);
  EXPECT_THAT(kv.front(), Pair("cache", 0u));
  EXPECT_THAT(kv.back(), Pair("total_unevictable", 0u));
  EXPECT_EQ(only(kv, "rss"), 21258240u);
  EXPECT_EQ(only(kv, "total_rss"), 21258240u);
  EXPECT_EQ(only(kv, "inactive_anon"), 21254144u);
  EXPECT_EQ(only(kv, "pgfault"), 5255u);
  EXPECT_EQ(only(kv, "total_pgpgin"), 5190u);
  EXPECT_EQ(only(kv, "hierarchical_memory_limit"), 67108864u);
  EXPECT_EQ(only(kv, "hierarchical_memsw_limit"), kV1Unlimited);
  EXPECT_TRUE(isV1Unlimited(only(kv, "hierarchical_memsw_limit")));
}

TEST(ForEachKeyValue, CapturedV1MemoryStatAfterOom) {
  Status st = Ok{};
  auto kv = asMap(keyValues(readFixture(kV1 + "memory.stat.after-oom"), &st));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.at("total_rss"), 0u);  // the killed process's memory was given back
  EXPECT_EQ(kv.at("total_pgfault"), 21655u);
  EXPECT_EQ(kv.at("total_pgpgout"), 21525u);
}

TEST(ForEachKeyValue, CapturedV1OomControlBeforeAndAfterTheKill) {
  Status st = Ok{};
  auto before = keyValues(readFixture(kV1 + "memory.oom_control"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(before, ElementsAre(Pair("oom_kill_disable", 0u), Pair("under_oom", 0u),
                                  Pair("oom_kill", 0u)));
  auto after = keyValues(readFixture(kV1 + "memory.oom_control.after-oom"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(after, ElementsAre(Pair("oom_kill_disable", 0u), Pair("under_oom", 0u),
                                 Pair("oom_kill", 1u)));
}

TEST(ForEachKeyValue, CapturedVmstat) {
  Status st = Ok{};
  auto kv = keyValues(readFixture(kProc + "vmstat"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.size(), 192u);
  EXPECT_THAT(kv.front(), Pair("nr_free_pages", 1283098u));
  EXPECT_EQ(only(kv, "pgfault"), 10093596u);
  EXPECT_EQ(only(kv, "pgmajfault"), 1491u);
  EXPECT_EQ(only(kv, "oom_kill"), 7u);  // host-wide: earlier OOM tests on this machine
}

TEST(ForEachKeyValue, V2MemoryEventsAsDocumented) {
  // cgroup-v2.rst, memory.events: low, high, max, oom, oom_kill, oom_group_kill.
  Status st = Ok{};
  auto kv = keyValues("low 0\nhigh 12\nmax 35\noom 1\noom_kill 1\noom_group_kill 0\n", &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(kv, ElementsAre(Pair("low", 0u), Pair("high", 12u), Pair("max", 35u), Pair("oom", 1u),
                              Pair("oom_kill", 1u), Pair("oom_group_kill", 0u)));
}

TEST(ForEachKeyValue, V2MemoryStatAsDocumented) {
  // cgroup-v2.rst, memory.stat: "anon", "file", ... in bytes, then event counters.
  Status st = Ok{};
  auto kv = asMap(
      keyValues("anon 25206784\nfile 16781312\nkernel 147456\nshmem 16781312\ninactive_file 0\n"
                "workingset_refault_anon 3\nworkingset_refault_file 4\npgscan 10\npgsteal 9\n"
                "pgfault 6465\npgmajfault 2\n",
                &st));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.size(), 11u);
  EXPECT_EQ(kv.at("anon"), 25206784u);
  EXPECT_EQ(kv.at("shmem"), 16781312u);
  EXPECT_EQ(kv.at("pgsteal"), 9u);
}

TEST(ForEachKeyValue, UnknownKeysArePassedThroughInOrder) {
  Status st = Ok{};
  auto kv = keyValues("low 0\nsome_future_counter 7\nhigh 1\nzswpwb 3\n", &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(kv, ElementsAre(Pair("low", 0u), Pair("some_future_counter", 7u), Pair("high", 1u),
                              Pair("zswpwb", 3u)));
}

TEST(ForEachKeyValue, EmptyTextAndBlankLinesGiveNothing) {
  Status st = makeError("not run");
  EXPECT_TRUE(keyValues("", &st).empty());
  EXPECT_TRUE(st.ok());
  st = makeError("not run");
  EXPECT_THAT(keyValues("\n\n  \nmax 3\n\n", &st), ElementsAre(Pair("max", 3u)));
  EXPECT_TRUE(st.ok());
}

TEST(ForEachKeyValue, TabSeparatorAndNoFinalNewline) {
  Status st = Ok{};
  EXPECT_THAT(keyValues("a\t1\nb  2", &st), ElementsAre(Pair("a", 1u), Pair("b", 2u)));
  EXPECT_TRUE(st.ok());
}

TEST(ForEachKeyValue, KeyWithoutValueIsAnErrorNamingTheLine) {
  Status st = Ok{};
  keyValues("cache 0\nrss 5\nmapped_file\nswap 0\n", &st);
  EXPECT_EQ(errorOf(st), "line 3: expected 'key value', got 'mapped_file'");
}

TEST(ForEachKeyValue, LineNumbersCountBlankLines) {
  Status st = Ok{};
  keyValues("\n\nbogus\n", &st);
  EXPECT_EQ(errorOf(st), "line 3: expected 'key value', got 'bogus'");
}

TEST(ForEachKeyValue, MalformedValueIsAnErrorShowingKeyAndText) {
  Status st = Ok{};
  keyValues("cache 0\nrss abc\n", &st);
  EXPECT_EQ(errorOf(st), "line 2: key 'rss': expected an unsigned number, got 'abc'");
  keyValues("rss 1 2\n", &st);
  EXPECT_EQ(errorOf(st), "line 1: key 'rss': expected an unsigned number, got '1 2'");
}

TEST(ForEachKeyValue, TruncatedTextIsAnErrorWhenTheLastLineLostItsValue) {
  std::string text = readFixture(kV1 + "memory.oom_control");  // three lines
  Status st = Ok{};
  auto kv = keyValues(text.substr(0, text.find("oom_kill 0") + 6), &st);  // "...\noom_ki"
  EXPECT_EQ(errorOf(st), "line 3: expected 'key value', got 'oom_ki'");
  // The lines before the bad one were handed out; the caller discards them with the error.
  EXPECT_THAT(kv, ElementsAre(Pair("oom_kill_disable", 0u), Pair("under_oom", 0u)));
  keyValues("oom_kill \n", &st);
  EXPECT_EQ(errorOf(st), "line 1: expected 'key value', got 'oom_kill'");
}

TEST(ForEachKeyValue, NegativeValueIsAnError) {
  Status st = Ok{};
  keyValues("nr_free_pages 10\nnr_zone_write_pending -5\n", &st);
  EXPECT_EQ(errorOf(st),
            "line 2: key 'nr_zone_write_pending': expected an unsigned number, got '-5'");
}

TEST(ForEachKeyValue, HugeValues) {
  Status st = Ok{};
  auto kv = keyValues("total_rss 18446744073709551615\n", &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(kv, ElementsAre(Pair("total_rss", kU64Max)));
  keyValues("total_rss 18446744073709551616\n", &st);
  EXPECT_EQ(errorOf(st), "line 1: key 'total_rss': number out of range: '18446744073709551616'");
}

TEST(ForEachKeyValue, MaxIsNotACounter) {
  Status st = Ok{};
  keyValues("low 0\nhigh max\n", &st);
  EXPECT_EQ(errorOf(st), "line 2: key 'high': expected an unsigned number, got 'max'");
}

TEST(ForEachKeyValue, LongBadLineIsCut) {
  Status st = Ok{};
  keyValues(std::string(80, 'k'), &st);
  EXPECT_EQ(errorOf(st), "line 1: expected 'key value', got '" + std::string(60, 'k') + "...'");
}

// ---------------------------------------------------------------- forEachKbLine

TEST(ForEachKbLine, CapturedStatusInBytes) {
  Status st = Ok{};
  auto kv = kbLines(readFixture(kLeaker + "status"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.size(), 45u);
  EXPECT_EQ(only(kv, "VmRSS"), 23532 * kKiB);
  EXPECT_EQ(only(kv, "VmHWM"), 23532 * kKiB);
  EXPECT_EQ(only(kv, "RssAnon"), 20760 * kKiB);
  EXPECT_EQ(only(kv, "RssFile"), 2772 * kKiB);
  EXPECT_EQ(only(kv, "RssShmem"), 0u);
  EXPECT_EQ(only(kv, "VmData"), 20820 * kKiB);
  EXPECT_EQ(only(kv, "VmSwap"), 0u);
  // Without a unit a number is handed out as it is.
  EXPECT_EQ(only(kv, "Pid"), 5297u);
  EXPECT_EQ(only(kv, "Threads"), 1u);
  // Lines that are not "Key: number [kB]" are skipped.
  EXPECT_FALSE(has(kv, "Name"));
  EXPECT_FALSE(has(kv, "State"));
  EXPECT_FALSE(has(kv, "Uid"));
  EXPECT_FALSE(has(kv, "SigQ"));
  EXPECT_FALSE(has(kv, "CapEff"));
  EXPECT_FALSE(has(kv, "Groups"));
}

TEST(ForEachKbLine, CapturedStatusOfAProcessWhoseNameHasParens) {
  Status st = Ok{};
  auto kv = kbLines(readFixture(kProc + "comm-with-paren/status"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_FALSE(has(kv, "Name"));  // "Name:\ta) b (c) d"
  EXPECT_EQ(only(kv, "VmRSS"), 1844 * kKiB);
  EXPECT_EQ(only(kv, "Pid"), 5334u);
}

TEST(ForEachKbLine, CapturedSmapsRollup) {
  Status st = Ok{};
  auto kv = kbLines(readFixture(kLeaker + "smaps_rollup"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  // The first line, "56510eda4000-7ffed5dde000 ---p 00000000 00:00 0 [rollup]", is skipped.
  ASSERT_EQ(kv.size(), 22u);
  EXPECT_THAT(kv.front(), Pair("Rss", 23532 * kKiB));
  EXPECT_EQ(only(kv, "Pss"), 21996 * kKiB);
  EXPECT_EQ(only(kv, "Pss_Anon"), 20760 * kKiB);
  EXPECT_EQ(only(kv, "Private_Dirty"), 20760 * kKiB);
  EXPECT_EQ(only(kv, "SwapPss"), 0u);
}

TEST(ForEachKbLine, CapturedMeminfo) {
  Status st = Ok{};
  auto kv = kbLines(readFixture(kProc + "meminfo"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.size(), 54u);
  EXPECT_EQ(only(kv, "MemTotal"), 24684084 * kKiB);
  EXPECT_EQ(only(kv, "MemAvailable"), 23979128 * kKiB);
  EXPECT_EQ(only(kv, "Active(anon)"), 1564 * kKiB);
  EXPECT_EQ(only(kv, "DirectMap1G"), 25165824 * kKiB);
  EXPECT_EQ(only(kv, "Hugepagesize"), 2048 * kKiB);
  EXPECT_EQ(only(kv, "HugePages_Total"), 0u);  // a count, no unit
}

TEST(ForEachKbLine, UnknownKeysArePassedThrough) {
  Status st = Ok{};
  auto kv = kbLines("MemTotal:  100 kB\nFutureThing:    7 kB\nFutureCount:  3\n", &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(kv, ElementsAre(Pair("MemTotal", 100 * kKiB), Pair("FutureThing", 7 * kKiB),
                              Pair("FutureCount", 3u)));
}

TEST(ForEachKbLine, EmptyTextGivesNothing) {
  Status st = makeError("not run");
  EXPECT_TRUE(kbLines("", &st).empty());
  EXPECT_TRUE(st.ok());
  // A zombie's or kernel thread's smaps_rollup can be empty; so can a line.
  EXPECT_TRUE(kbLines("\n\n", &st).empty());
  EXPECT_TRUE(st.ok());
}

TEST(ForEachKbLine, MalformedKbValueIsAnErrorNamingTheLine) {
  Status st = Ok{};
  kbLines("Name:\tx\nVmPeak:\t 10 kB\nVmRSS:\t 12x kB\n", &st);
  EXPECT_EQ(errorOf(st), "line 3: key 'VmRSS': expected an unsigned number, got '12x'");
  kbLines("VmRSS: 1 2 kB\n", &st);
  EXPECT_EQ(errorOf(st), "line 1: key 'VmRSS': expected an unsigned number, got '1 2'");
}

TEST(ForEachKbLine, NonNumbersWithoutUnitAreOtherLines) {
  Status st = Ok{};
  auto kv = kbLines("State:\tS (sleeping)\nSigQ:\t2/96365\nFoo: -5\nBar: max\nVmRSS: 4 kB\n", &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_THAT(kv, ElementsAre(Pair("VmRSS", 4 * kKiB)));
}

TEST(ForEachKbLine, NegativeKbValueIsAnError) {
  Status st = Ok{};
  kbLines("MemTotal: 100 kB\nCommitted_AS:  -5 kB\n", &st);
  EXPECT_EQ(errorOf(st), "line 2: key 'Committed_AS': expected an unsigned number, got '-5'");
}

TEST(ForEachKbLine, MaxKbValueIsAnError) {
  Status st = Ok{};
  kbLines("VmSwap:  max kB\n", &st);
  EXPECT_EQ(errorOf(st), "line 1: key 'VmSwap': expected an unsigned number, got 'max'");
}

TEST(ForEachKbLine, HugeValues) {
  Status st = Ok{};
  // Without a unit the whole 64-bit range passes; with kB it must still fit once multiplied.
  EXPECT_THAT(kbLines("HugePages_Total: 18446744073709551615\n", &st),
              ElementsAre(Pair("HugePages_Total", kU64Max)));
  EXPECT_TRUE(st.ok());
  EXPECT_THAT(kbLines("MemTotal: 18014398509481983 kB\n", &st),
              ElementsAre(Pair("MemTotal", 18014398509481983ull * 1024)));
  EXPECT_TRUE(st.ok());
  kbLines("MemTotal: 18014398509481984 kB\n", &st);
  EXPECT_EQ(errorOf(st),
            "line 1: key 'MemTotal': '18014398509481984' kB does not fit in 64 bits as bytes");
  kbLines("MemTotal: 1\nMemFree: 18446744073709551616 kB\n", &st);
  EXPECT_EQ(errorOf(st), "line 2: key 'MemFree': number out of range: '18446744073709551616'");
  kbLines("HugePages_Total: 18446744073709551616\n", &st);
  EXPECT_EQ(errorOf(st),
            "line 1: key 'HugePages_Total': number out of range: '18446744073709551616'");
}

TEST(ForEachKbLine, TruncatedLinesAreSkippedNotMisread) {
  // A read cut inside a line: "VmRSS:" alone and "VmRSS: 23532 k" are not values. (A cut right
  // before " kB" cannot be told from a count without a unit.)
  Status st = Ok{};
  auto kv = kbLines("VmHWM:\t   23532 kB\nVmRSS:", &st);
  EXPECT_TRUE(st.ok());
  EXPECT_THAT(kv, ElementsAre(Pair("VmHWM", 23532 * kKiB)));
  kv = kbLines("VmHWM:\t   23532 kB\nVmRSS:\t   23532 k", &st);
  EXPECT_TRUE(st.ok());
  EXPECT_THAT(kv, ElementsAre(Pair("VmHWM", 23532 * kKiB)));
}

// ---------------------------------------------------------------- parsePressure

TEST(ParsePressure, CapturedHost) {
  auto psi = parsePressure(readFixture(kProc + "pressure/memory"));
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_EQ(psi->some.total_us, 4207u);
  EXPECT_EQ(psi->some.avg10, 0.0);
  ASSERT_TRUE(psi->full.has_value());
  EXPECT_EQ(psi->full->total_us, 3227u);
  EXPECT_EQ(psi->full->avg300, 0.0);
}

TEST(ParsePressure, DocumentedExampleWithAverages) {
  // Documentation/accounting/psi.rst.
  auto psi = parsePressure(
      "some avg10=0.22 avg60=0.17 avg300=1.11 total=58761459\n"
      "full avg10=0.23 avg60=0.16 avg300=1.08 total=58464525\n");
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_DOUBLE_EQ(psi->some.avg10, 0.22);
  EXPECT_DOUBLE_EQ(psi->some.avg60, 0.17);
  EXPECT_DOUBLE_EQ(psi->some.avg300, 1.11);
  EXPECT_EQ(psi->some.total_us, 58761459u);
  ASSERT_TRUE(psi->full.has_value());
  EXPECT_DOUBLE_EQ(psi->full->avg10, 0.23);
  EXPECT_DOUBLE_EQ(psi->full->avg60, 0.16);
  EXPECT_DOUBLE_EQ(psi->full->avg300, 1.08);
  EXPECT_EQ(psi->full->total_us, 58464525u);
}

TEST(ParsePressure, SomeAloneHasNoFull) {
  auto psi = parsePressure("some avg10=100.00 avg60=50.50 avg300=0.01 total=1");
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_DOUBLE_EQ(psi->some.avg10, 100.0);
  EXPECT_FALSE(psi->full.has_value());
}

TEST(ParsePressure, UnknownFieldsAndKindsAreSkipped) {
  auto psi = parsePressure(
      "some avg10=1.00 avg60=2.00 avg300=3.00 total=4 avg5=9.99\n"
      "partial avg10=7.00 total=8\n"
      "full avg10=5.00 avg60=6.00 avg300=7.00 total=8\n");
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_DOUBLE_EQ(psi->some.avg10, 1.0);
  EXPECT_EQ(psi->some.total_us, 4u);
  ASSERT_TRUE(psi->full.has_value());
  EXPECT_DOUBLE_EQ(psi->full->avg10, 5.0);  // not partial's 7.00
  EXPECT_EQ(psi->full->total_us, 8u);
}

TEST(ParsePressure, UnknownKindThatIsNotPressureTextIsAnError) {
  EXPECT_EQ(errorOf(parsePressure("some avg10=0 avg60=0 avg300=0 total=0\nhello world\n")),
            "line 2: expected name=value, got 'world'");
}

TEST(ParsePressure, EmptyIsAnError) {
  EXPECT_EQ(errorOf(parsePressure("")), "no 'some' line");
  EXPECT_EQ(errorOf(parsePressure("\n\n")), "no 'some' line");
  EXPECT_EQ(errorOf(parsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")),
            "no 'some' line");
}

TEST(ParsePressure, MissingFieldIsAnErrorShowingTheLine) {
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=0.00 total=0\n")),
            "line 1: no avg300 in 'some avg10=0.00 avg60=0.00 total=0'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
                                  "full avg60=0.00 avg300=0.00 total=0\n")),
            "line 2: no avg10 in 'full avg60=0.00 avg300=0.00 total=0'");
  EXPECT_EQ(errorOf(parsePressure("some\n")), "line 1: expected 'some|full avg10=...', got 'some'");
}

TEST(ParsePressure, TruncatedIsAnError) {
  std::string text = readFixture(kProc + "pressure/memory");
  std::string cut = text.substr(0, text.find("full") + 18);  // "...\nfull avg10=0.00 av"
  EXPECT_EQ(errorOf(parsePressure(cut)), "line 2: expected name=value, got 'av'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=")),
            "line 1: total: expected a number, got nothing");
}

TEST(ParsePressure, MalformedValuesAreErrors) {
  EXPECT_EQ(errorOf(parsePressure("some avg10=abc avg60=0.00 avg300=0.00 total=0\n")),
            "line 1: avg10: expected a non-negative number, got 'abc'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=nan avg60=0.00 avg300=0.00 total=0\n")),
            "line 1: avg10: expected a non-negative number, got 'nan'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=inf avg300=0.00 total=0\n")),
            "line 1: avg60: expected a non-negative number, got 'inf'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=1.5\n")),
            "line 1: total: expected an unsigned number, got '1.5'");
}

TEST(ParsePressure, NegativeValuesAreErrors) {
  EXPECT_EQ(errorOf(parsePressure("some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n")),
            "line 1: avg10: expected a non-negative number, got '-1.00'");
  EXPECT_EQ(errorOf(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=-5\n")),
            "line 1: total: expected an unsigned number, got '-5'");
}

TEST(ParsePressure, MaxIsAnError) {
  EXPECT_EQ(errorOf(parsePressure("some avg10=max avg60=0.00 avg300=0.00 total=0\n")),
            "line 1: avg10: expected a non-negative number, got 'max'");
}

TEST(ParsePressure, HugeTotal) {
  auto psi = parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n");
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  EXPECT_EQ(psi->some.total_us, kU64Max);
  EXPECT_EQ(
      errorOf(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n")),
      "line 1: total: number out of range: '18446744073709551616'");
}

// ---------------------------------------------------------------- parseProcStat

TEST(ParseProcStat, CapturedLeaker) {
  // "5297 (leaker) S 5283 5281 2832 0 -1 4194304 5373 0 0 0 0 1 0 0 20 0 1 0 273411 26849280 5848"
  auto ps = parseProcStat(readFixture(kLeaker + "stat"));
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  EXPECT_EQ(ps->state, 'S');
  EXPECT_EQ(ps->minflt, 5373u);
  EXPECT_EQ(ps->majflt, 0u);
  EXPECT_EQ(ps->utime_ticks, 0u);
  EXPECT_EQ(ps->stime_ticks, 1u);
  EXPECT_EQ(ps->rss_pages, 5848u);
}

TEST(ParseProcStat, CapturedCommWithSpacesAndParens) {
  // "5334 (a) b (c) d) S 5283 5281 2832 0 -1 4194304 129 0 0 0 0 0 0 0 20 0 1 0 273537 2990080 417"
  auto ps = parseProcStat(readFixture(kProc + "comm-with-paren/stat"));
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  EXPECT_EQ(ps->state, 'S');
  EXPECT_EQ(ps->minflt, 129u);
  EXPECT_EQ(ps->rss_pages, 417u);
}

TEST(ParseProcStat, CommThatLooksLikeFields) {
  // comm ") R 1 2 3 4 5" (15 characters, the kernel's limit) must not shift the fields.
  auto ps = parseProcStat(
      "42 () R 1 2 3 4 5) D 1 42 42 0 -1 4194560 11 0 12 0 13 14 0 0 20 0 1 0 99 4096 15 "
      "18446744073709551615\n");
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  EXPECT_EQ(ps->state, 'D');
  EXPECT_EQ(ps->minflt, 11u);
  EXPECT_EQ(ps->majflt, 12u);
  EXPECT_EQ(ps->utime_ticks, 13u);
  EXPECT_EQ(ps->stime_ticks, 14u);
  EXPECT_EQ(ps->rss_pages, 15u);
}

TEST(ParseProcStat, ExactlyTwentyFourFieldsIsEnough) {
  auto ps = parseProcStat("1 (init) S 0 1 1 0 -1 4194560 7 0 8 0 9 10 0 0 20 0 1 0 5 1000 11");
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  EXPECT_EQ(ps->minflt, 7u);
  EXPECT_EQ(ps->rss_pages, 11u);
}

TEST(ParseProcStat, EmptyIsAnError) {
  EXPECT_EQ(errorOf(parseProcStat("")), "no '(comm)' field");
  EXPECT_EQ(errorOf(parseProcStat("5297 leaker S 1 2 3")), "no '(comm)' field");
}

TEST(ParseProcStat, TruncatedIsAnErrorShowingTheText) {
  std::string text = readFixture(kLeaker + "stat");
  std::string cut = text.substr(0, text.find(" 5373") + 9);  // ends after field 12
  EXPECT_EQ(errorOf(parseProcStat(cut)),
            "truncated: 12 fields, need 24: "
            "'5297 (leaker) S 5283 5281 2832 0 -1 4194304 5373 0 0'");
  EXPECT_EQ(errorOf(parseProcStat("5297 (leaker)")),
            "truncated: 2 fields, need 24: '5297 (leaker)'");
  EXPECT_EQ(
      errorOf(parseProcStat("1 (init) S 0 1 1 0 -1 4194560 7 0 8 0 9 10 0 0 20 0 1 0 5 1000")),
      "truncated: 23 fields, need 24: "
      "'1 (init) S 0 1 1 0 -1 4194560 7 0 8 0 9 10 0 0 20 0 1 0 5 10...'");  // cut at 60
}

TEST(ParseProcStat, MalformedFieldsAreErrors) {
  EXPECT_EQ(errorOf(parseProcStat("1 (x) S 0 1 1 0 -1 0 abc 0 8 0 9 10 0 0 20 0 1 0 5 1000 11")),
            "field 10: expected an unsigned number, got 'abc'");
  EXPECT_EQ(errorOf(parseProcStat("1 (x) SS 0 1 1 0 -1 0 7 0 8 0 9 10 0 0 20 0 1 0 5 1000 11")),
            "field 3 (state): expected one letter, got 'SS'");
}

TEST(ParseProcStat, NegativeFieldWeReadIsAnError) {
  // tpgid (field 8) is -1 in every captured line and is not read; minflt must not be negative.
  EXPECT_EQ(errorOf(parseProcStat("1 (x) S 0 1 1 0 -1 0 -7 0 8 0 9 10 0 0 20 0 1 0 5 1000 11")),
            "field 10: expected an unsigned number, got '-7'");
}

TEST(ParseProcStat, HugeValues) {
  auto ps = parseProcStat(
      "1 (x) S 0 1 1 0 -1 0 18446744073709551615 0 8 0 9 10 0 0 20 0 1 0 5 1000 "
      "18446744073709551615");
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  EXPECT_EQ(ps->minflt, kU64Max);
  EXPECT_EQ(ps->rss_pages, kU64Max);
  EXPECT_EQ(errorOf(parseProcStat("1 (x) S 0 1 1 0 -1 0 7 0 8 0 9 10 0 0 20 0 1 0 5 1000 "
                                  "18446744073709551616")),
            "field 24: number out of range: '18446744073709551616'");
}

TEST(ParseProcStat, MaxIsAnError) {
  EXPECT_EQ(errorOf(parseProcStat("1 (x) S 0 1 1 0 -1 0 7 0 8 0 max 10 0 0 20 0 1 0 5 1000 11")),
            "field 14: expected an unsigned number, got 'max'");
}

// ---------------------------------------------------------------- parseMountinfo

const MountInfo* mountAt(const std::vector<MountInfo>& mounts, const std::string& point) {
  const MountInfo* found = nullptr;
  for (const auto& m : mounts)
    if (m.mount_point == point) found = &m;  // the last one wins, as in the kernel's view
  return found;
}

TEST(ParseMountinfo, CapturedHybridHost) {
  auto mounts = parseMountinfo(readFixture(kProc + "self/mountinfo"));
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 20u);
  EXPECT_EQ(mounts->front().mount_point, "/proc");
  EXPECT_EQ(mounts->front().fs_type, "proc");

  const MountInfo* memory = mountAt(*mounts, "/sys/fs/cgroup/memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(memory->fs_type, "cgroup");
  EXPECT_EQ(memory->root, "/");
  EXPECT_EQ(memory->super_options, "rw,memory");

  const MountInfo* unified = mountAt(*mounts, "/sys/fs/cgroup/unified");
  ASSERT_NE(unified, nullptr);
  EXPECT_EQ(unified->fs_type, "cgroup2");
  EXPECT_EQ(unified->root, "/");
  EXPECT_EQ(unified->super_options, "rw");

  const MountInfo* systemd = mountAt(*mounts, "/sys/fs/cgroup/systemd");
  ASSERT_NE(systemd, nullptr);
  EXPECT_EQ(systemd->fs_type, "cgroup");
  EXPECT_EQ(systemd->super_options, "rw,name=systemd");

  const MountInfo* tmpfs = mountAt(*mounts, "/sys/fs/cgroup");
  ASSERT_NE(tmpfs, nullptr);
  EXPECT_EQ(tmpfs->fs_type, "tmpfs");
  EXPECT_EQ(tmpfs->super_options, "rw,mode=755");

  int v1 = 0, v2 = 0, with_memory = 0;
  for (const auto& m : *mounts) {
    if (m.fs_type == "cgroup") ++v1;
    if (m.fs_type == "cgroup2") ++v2;
    if (m.fs_type == "cgroup" && m.super_options.find("memory") != std::string::npos) ++with_memory;
  }
  EXPECT_EQ(v1, 9);
  EXPECT_EQ(v2, 1);
  EXPECT_EQ(with_memory, 1);
}

TEST(ParseMountinfo, DocumentedExample) {
  // Documentation/filesystems/proc.rst, 3.5 /proc/<pid>/mountinfo.
  auto mounts = parseMountinfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].root, "/mnt1");
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt2");
  EXPECT_EQ((*mounts)[0].fs_type, "ext3");
  EXPECT_EQ((*mounts)[0].super_options, "rw,errors=continue");
}

TEST(ParseMountinfo, NoOrSeveralOptionalFields) {
  auto mounts = parseMountinfo(
      "25 23 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
      "40 31 0:37 /kubepods/pod1/c1 /sys/fs/cgroup/memory ro shared:5 master:3 propagate_from:2 "
      "- cgroup cgroup rw,memory\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[0].fs_type, "cgroup2");
  EXPECT_EQ((*mounts)[0].super_options, "rw,nsdelegate");
  EXPECT_EQ((*mounts)[1].root, "/kubepods/pod1/c1");  // a container's view of its cgroup
  EXPECT_EQ((*mounts)[1].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ((*mounts)[1].fs_type, "cgroup");
  EXPECT_EQ((*mounts)[1].super_options, "rw,memory");
}

TEST(ParseMountinfo, OctalEscapesInRootAndMountPoint) {
  // The kernel escapes space, tab, newline and backslash (seq_path with " \t\n\\").
  auto mounts =
      parseMountinfo("50 27 0:40 /my\\040dir /mnt/a\\040b\\011c\\012d\\134e rw - tmpfs tmpfs rw\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].root, "/my dir");
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt/a b\tc\nd\\e");
  // A backslash not followed by three octal digits stays as it is.
  mounts = parseMountinfo("50 27 0:40 / /mnt/x\\9y\\04 rw - tmpfs tmpfs rw\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt/x\\9y\\04");
}

TEST(ParseMountinfo, MountPointNamedDash) {
  auto mounts = parseMountinfo("50 27 0:40 / - rw - tmpfs tmpfs rw,size=4k\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].mount_point, "-");
  EXPECT_EQ((*mounts)[0].fs_type, "tmpfs");
  EXPECT_EQ((*mounts)[0].super_options, "rw,size=4k");
}

TEST(ParseMountinfo, EmptyGivesNoMounts) {
  auto mounts = parseMountinfo("");
  ASSERT_TRUE(mounts.ok());
  EXPECT_TRUE(mounts->empty());
  mounts = parseMountinfo("\n\n");
  ASSERT_TRUE(mounts.ok());
  EXPECT_TRUE(mounts->empty());
}

TEST(ParseMountinfo, MalformedLineIsAnErrorNamingIt) {
  EXPECT_EQ(errorOf(parseMountinfo("22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                                   "this is not mountinfo at all\n")),
            "line 2: not a mountinfo line: 'this is not mountinfo at all'");
  // The separator must come after the mount options (field 6), not before.
  EXPECT_EQ(errorOf(parseMountinfo("1 2 3:4 / / - ext4 /dev/x rw\n")),
            "line 1: not a mountinfo line: '1 2 3:4 / / - ext4 /dev/x rw'");
}

TEST(ParseMountinfo, TruncatedIsAnError) {
  std::string text = readFixture(kProc + "self/mountinfo");
  std::size_t memory_line = text.find("/sys/fs/cgroup/memory");
  std::string cut = text.substr(0, text.find(" - cgroup", memory_line) + 9);  // "... - cgroup"
  EXPECT_EQ(errorOf(parseMountinfo(cut)),
            "line 14: not a mountinfo line: '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - "
            "cgroup'");
}

TEST(ParseMountinfo, NumbersItDoesNotReadAreNotInterpreted) {
  // Mount ids and device numbers are not used: huge, negative or "max" ones do not matter.
  auto mounts =
      parseMountinfo("18446744073709551616 -1 max:max / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].fs_type, "cgroup2");
}

// ---------------------------------------------------------------- parseProcCgroup

TEST(ParseProcCgroup, CapturedHybridLeaker) {
  auto entries = parseProcCgroup(readFixture(kLeaker + "cgroup"));
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 10u);
  EXPECT_EQ((*entries)[0].hierarchy, 9);
  EXPECT_EQ((*entries)[0].controllers, "name=systemd");
  EXPECT_EQ((*entries)[0].path, "/");
  EXPECT_EQ((*entries)[5].hierarchy, 4);
  EXPECT_EQ((*entries)[5].controllers, "memory");
  EXPECT_EQ((*entries)[5].path, "/oomsentinel-fixture-5283");
  // The hybrid set ends with the v2 line, which has no controllers.
  EXPECT_EQ(entries->back().hierarchy, 0);
  EXPECT_EQ(entries->back().controllers, "");
  EXPECT_EQ(entries->back().path, "/");
}

TEST(ParseProcCgroup, CapturedNestedV1Path) {
  auto entries = parseProcCgroup(readFixture(kProc + "self/cgroup"));
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 10u);
  EXPECT_EQ((*entries)[5].controllers, "memory");
  EXPECT_EQ((*entries)[5].path, "/process_api/3a1739f19387ca9368828f4f01c6ae03");
}

TEST(ParseProcCgroup, V2AndV1Forms) {
  // cgroup-v2.rst: "0::$PATH"; cgroup v1: "hierarchy-ID:controller-list:cgroup-path".
  auto entries = parseProcCgroup(
      "0::/system.slice/app.service\n"
      "3:cpu,cpuacct:/user.slice\n"
      "12:misc:/\n"
      "0::/a:b/c\n");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[0].hierarchy, 0);
  EXPECT_EQ((*entries)[0].controllers, "");
  EXPECT_EQ((*entries)[0].path, "/system.slice/app.service");
  EXPECT_EQ((*entries)[1].hierarchy, 3);
  EXPECT_EQ((*entries)[1].controllers, "cpu,cpuacct");
  EXPECT_EQ((*entries)[2].controllers, "misc");  // a controller we do not know passes through
  EXPECT_EQ((*entries)[3].path, "/a:b/c");       // colons after the second belong to the path
}

TEST(ParseProcCgroup, NamespaceAndDeletedPathsPassThrough) {
  // Outside the reader's cgroup namespace the kernel writes "/../..": callers decide.
  auto entries = parseProcCgroup("0::/../../system.slice/x.service\n0::/gone (deleted)\n");
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  EXPECT_EQ((*entries)[0].path, "/../../system.slice/x.service");
  EXPECT_EQ((*entries)[1].path, "/gone (deleted)");
}

TEST(ParseProcCgroup, EmptyIsAnError) {
  EXPECT_EQ(errorOf(parseProcCgroup("")), "no cgroup lines");
  EXPECT_EQ(errorOf(parseProcCgroup("\n")), "no cgroup lines");
}

TEST(ParseProcCgroup, MalformedIsAnErrorShowingTheLine) {
  EXPECT_EQ(errorOf(parseProcCgroup("0::/\n4memory/x\n")),
            "line 2: expected 'id:controllers:path', got '4memory/x'");
  EXPECT_EQ(errorOf(parseProcCgroup("4:memory/x\n")),
            "line 1: expected 'id:controllers:path', got '4:memory/x'");
  EXPECT_EQ(errorOf(parseProcCgroup(":memory:/\n")),
            "line 1: hierarchy id: expected a number, got nothing");
  EXPECT_EQ(errorOf(parseProcCgroup("x:memory:/\n")),
            "line 1: hierarchy id: expected an unsigned number, got 'x'");
  EXPECT_EQ(errorOf(parseProcCgroup("4:memory:\n")), "line 1: path is not absolute: '4:memory:'");
  EXPECT_EQ(errorOf(parseProcCgroup("4:memory:x/y\n")),
            "line 1: path is not absolute: '4:memory:x/y'");
}

TEST(ParseProcCgroup, TruncatedIsAnError) {
  std::string text = readFixture(kLeaker + "cgroup");
  std::string cut = text.substr(0, text.find("8:pids") + 4);  // "9:name=systemd:/\n8:pi"
  EXPECT_EQ(errorOf(parseProcCgroup(cut)), "line 2: expected 'id:controllers:path', got '8:pi'");
}

TEST(ParseProcCgroup, NegativeHugeAndMaxIdsAreErrors) {
  EXPECT_EQ(errorOf(parseProcCgroup("-1:memory:/\n")),
            "line 1: hierarchy id: expected an unsigned number, got '-1'");
  EXPECT_EQ(errorOf(parseProcCgroup("18446744073709551616:memory:/\n")),
            "line 1: hierarchy id: number out of range: '18446744073709551616'");
  EXPECT_EQ(errorOf(parseProcCgroup("18446744073709551615:memory:/\n")),
            "line 1: hierarchy id out of range: '18446744073709551615'");
  EXPECT_EQ(errorOf(parseProcCgroup("1000001:memory:/\n")),
            "line 1: hierarchy id out of range: '1000001'");
  auto ok = parseProcCgroup("1000000:memory:/\n");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)[0].hierarchy, 1000000);
  EXPECT_EQ(errorOf(parseProcCgroup("max:memory:/\n")),
            "line 1: hierarchy id: expected an unsigned number, got 'max'");
}

// ---------------------------------------------------------------- parsePidList

TEST(ParsePidList, CapturedV1Procs) {
  std::vector<int> pids;
  ASSERT_TRUE(parsePidList(readFixture(kV1 + "cgroup.procs"), pids).ok());
  EXPECT_THAT(pids, ElementsAre(5297));
  // After the kill the cgroup is empty: an empty file is an empty list, not an error.
  pids = {1, 2};
  ASSERT_TRUE(parsePidList(readFixture(kV1 + "cgroup.procs.after-oom"), pids).ok());
  EXPECT_TRUE(pids.empty());
}

TEST(ParsePidList, SeveralPidsNoFinalNewlineAndTheListIsReplaced) {
  std::vector<int> pids = {99, 98, 97};
  ASSERT_TRUE(parsePidList("1\n\n 300 \n1073741823", pids).ok());
  EXPECT_THAT(pids, ElementsAre(1, 300, 1073741823));
}

TEST(ParsePidList, MalformedIsAnErrorAndLeavesNoPartialList) {
  std::vector<int> pids;
  Status st = parsePidList("5297\n12a\n7\n", pids);
  EXPECT_EQ(errorOf(st), "line 2: not a pid: expected an unsigned number, got '12a'");
  EXPECT_TRUE(pids.empty());
  st = parsePidList("5297 5298\n", pids);
  EXPECT_EQ(errorOf(st), "line 1: not a pid: expected an unsigned number, got '5297 5298'");
}

TEST(ParsePidList, NegativeZeroHugeAndMaxAreErrors) {
  std::vector<int> pids;
  EXPECT_EQ(errorOf(parsePidList("-1\n", pids)),
            "line 1: not a pid: expected an unsigned number, got '-1'");
  EXPECT_EQ(errorOf(parsePidList("5297\n0\n", pids)), "line 2: pid out of range: '0'");
  EXPECT_TRUE(pids.empty());
  EXPECT_EQ(errorOf(parsePidList("1073741824\n", pids)), "line 1: pid out of range: '1073741824'");
  EXPECT_EQ(errorOf(parsePidList("18446744073709551615\n", pids)),
            "line 1: pid out of range: '18446744073709551615'");
  EXPECT_EQ(errorOf(parsePidList("18446744073709551616\n", pids)),
            "line 1: not a pid: number out of range: '18446744073709551616'");
  EXPECT_EQ(errorOf(parsePidList("max\n", pids)),
            "line 1: not a pid: expected an unsigned number, got 'max'");
}

TEST(ParsePidList, EmptyIsNoPids) {
  std::vector<int> pids = {4};
  ASSERT_TRUE(parsePidList("", pids).ok());
  EXPECT_TRUE(pids.empty());
}

TEST(ParsePidList, TruncatedLastLineIsStillAPid) {
  // A cut inside the last number cannot be seen; the list is what was read.
  std::vector<int> pids;
  ASSERT_TRUE(parsePidList("5297\n53", pids).ok());
  EXPECT_THAT(pids, ElementsAre(5297, 53));
}

// ---------------------------------------------------------------- nextLine, trim

TEST(NextLine, SplitsKeepingEmptyLinesAndNoTrailingEmptyOne) {
  std::string_view text = "a\n\nb c\n", line;
  std::vector<std::string> lines;
  while (nextLine(text, line)) lines.emplace_back(line);
  EXPECT_THAT(lines, ElementsAre("a", "", "b c"));
  text = "x";
  ASSERT_TRUE(nextLine(text, line));
  EXPECT_EQ(line, "x");
  EXPECT_FALSE(nextLine(text, line));
}

TEST(Trim, SpacesTabsAndLineEnds) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(trim(" \n\t"), "");
  EXPECT_EQ(trim(""), "");
}

// ---------------------------------------------------------------- cgroup v2, captured in a VM

// tests/fixtures/v2-captured (see its SOURCE.md) is written by another capture; these tests pin
// what that capture sets up (a 64 MiB memory.max, one OOM kill), not incidental numbers.
bool haveV2Fixtures() { return std::filesystem::exists(fixture(kV2 + "memory.events.after-oom")); }

TEST(CapturedV2, LimitsAndNumbers) {
  if (!haveV2Fixtures()) GTEST_SKIP() << "no " << fixture(kV2) << " (v2 capture not present)";
  auto max = parseV2Limit(readFixture(kV2 + "memory.max"));
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ(*max, std::optional<std::uint64_t>(64u * 1024 * 1024));
  auto high = parseV2Limit(readFixture(kV2 + "memory.high"));
  ASSERT_TRUE(high.ok()) << high.error().message;
  EXPECT_EQ(*high, std::nullopt);
  auto swap_max = parseV2Limit(readFixture(kV2 + "memory.swap.max"));
  ASSERT_TRUE(swap_max.ok()) << swap_max.error().message;
  EXPECT_EQ(*swap_max, std::nullopt);
  EXPECT_EQ(*parseU64(readFixture(kV2 + "memory.swap.current")), 0u);
  auto current = parseU64(readFixture(kV2 + "memory.current"));
  ASSERT_TRUE(current.ok()) << current.error().message;
  EXPECT_GT(*current, 16u * 1024 * 1024);  // the 16 MiB tmpfs file plus the holder's memory
  EXPECT_LT(*current, 64u * 1024 * 1024);
  EXPECT_EQ(*parseU64(readFixture(kV2 + "memory.peak.after-oom")), 64u * 1024 * 1024);
}

TEST(CapturedV2, EventsCountTheOomKill) {
  if (!haveV2Fixtures()) GTEST_SKIP() << "no " << fixture(kV2) << " (v2 capture not present)";
  Status st = Ok{};
  auto before = asMap(keyValues(readFixture(kV2 + "memory.events"), &st));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(before.at("oom_kill"), 0u);
  EXPECT_EQ(before.at("oom"), 0u);
  auto after = keyValues(readFixture(kV2 + "memory.events.after-oom"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after[0].first, "low");
  EXPECT_EQ(only(after, "oom_kill"), 1u);
  EXPECT_EQ(only(after, "oom"), 1u);
  EXPECT_GT(only(after, "max"), 0u);
  auto local = asMap(keyValues(readFixture(kV2 + "memory.events.local.after-oom"), &st));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(local.at("oom_kill"), 1u);
}

TEST(CapturedV2, MemoryStat) {
  if (!haveV2Fixtures()) GTEST_SKIP() << "no " << fixture(kV2) << " (v2 capture not present)";
  Status st = Ok{};
  auto kv = keyValues(readFixture(kV2 + "memory.stat"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(kv.front().first, "anon");
  EXPECT_GT(only(kv, "anon"), 0u);
  EXPECT_GE(only(kv, "shmem"), 16u * 1024 * 1024);  // the tmpfs file
  EXPECT_TRUE(has(kv, "pgfault"));
  EXPECT_TRUE(has(kv, "workingset_refault_file"));
  auto after = asMap(keyValues(readFixture(kV2 + "memory.stat.after-oom"), &st));
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(after.at("anon"), 0u);  // the killed process's memory was given back
}

TEST(CapturedV2, PressureAndProcFiles) {
  if (!haveV2Fixtures()) GTEST_SKIP() << "no " << fixture(kV2) << " (v2 capture not present)";
  auto psi = parsePressure(readFixture(kV2 + "memory.pressure.after-oom"));
  ASSERT_TRUE(psi.ok()) << psi.error().message;
  ASSERT_TRUE(psi->full.has_value());
  EXPECT_GT(psi->some.total_us, 0u);  // the OOM run stalled on memory
  auto host = parsePressure(readFixture(kV2Proc + "pressure/memory"));
  ASSERT_TRUE(host.ok()) << host.error().message;

  auto cg = parseProcCgroup(readFixture(kV2Proc + "self/cgroup"));
  ASSERT_TRUE(cg.ok()) << cg.error().message;
  ASSERT_EQ(cg->size(), 1u);
  EXPECT_EQ((*cg)[0].hierarchy, 0);
  EXPECT_EQ((*cg)[0].controllers, "");
  EXPECT_EQ((*cg)[0].path, "/fixture");

  auto mounts = parseMountinfo(readFixture(kV2Proc + "self/mountinfo"));
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  const MountInfo* cgroup = mountAt(*mounts, "/sys/fs/cgroup");
  ASSERT_NE(cgroup, nullptr);
  EXPECT_EQ(cgroup->fs_type, "cgroup2");
  EXPECT_EQ(cgroup->root, "/");
  EXPECT_EQ(cgroup->super_options, "rw,nsdelegate,memory_recursiveprot");

  // The holder's pid is the one in cgroup.procs; its /proc files parse.
  std::vector<int> pids;
  ASSERT_TRUE(parsePidList(readFixture(kV2 + "cgroup.procs"), pids).ok());
  ASSERT_EQ(pids.size(), 1u);
  std::string holder = kV2Proc + std::to_string(pids[0]) + "/";
  auto ps = parseProcStat(readFixture(holder + "stat"));
  ASSERT_TRUE(ps.ok()) << ps.error().message;
  // alloc touched 24 MiB: over 20 MiB in 4 KiB pages, and in bytes once kB are scaled.
  EXPECT_GT(ps->minflt, 20u * 256);
  EXPECT_GT(ps->rss_pages, 20u * 256);
  Status st = Ok{};
  auto status = kbLines(readFixture(holder + "status"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(only(status, "Pid"), static_cast<std::uint64_t>(pids[0]));
  EXPECT_GT(only(status, "RssAnon"), 20u * 1024 * 1024);
  auto rollup = kbLines(readFixture(holder + "smaps_rollup"), &st);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_GT(only(rollup, "Pss_Anon"), 20u * 1024 * 1024);
}

}  // namespace
}  // namespace oomsentinel
