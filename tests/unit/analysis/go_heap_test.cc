// tests/: the analysis room. The Go heap report (analysis/go_heap.h): the ranking on profiles
// written here with the generated classes and on a real one of examples/go-leak, and the
// parser's answer to hostile profiles.
#include "analysis/go_heap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/test_support.h"
#include "tests/unit/analysis/pprof_builder.h"

namespace oomsentinel {
namespace {

using pprof_test::gzip;
using pprof_test::PprofBuilder;
using ::testing::HasSubstr;

constexpr std::int64_t kMiB = 1 << 20;

HeapReport analyze(const std::string& gz, std::size_t top = 10,
                   std::string_view type = "inuse_space", const HeapProfileLimits& limits = {}) {
  auto r = analyzeGoHeapProfile(gz, top, type, limits);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? *r : HeapReport{};
}

std::string refusal(const std::string& gz, const HeapProfileLimits& limits = {}) {
  auto r = analyzeGoHeapProfile(gz, 10, "inuse_space", limits);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.error().message;
}

TEST(GoHeapRuntime, RuntimeIsTheRuntimePackageAndItsInternals) {
  EXPECT_TRUE(isRuntimeFunction("runtime.mallocgc"));
  EXPECT_TRUE(isRuntimeFunction("runtime.(*mheap).alloc"));
  EXPECT_TRUE(isRuntimeFunction("runtime/internal/atomic.Load"));
  EXPECT_TRUE(isRuntimeFunction("internal/runtime/maps.newarray"));
  EXPECT_FALSE(isRuntimeFunction("runtime/pprof.StartCPUProfile"));
  EXPECT_FALSE(isRuntimeFunction("runtime/debug.FreeOSMemory"));
  EXPECT_FALSE(isRuntimeFunction("main.runtimeCache"));
  EXPECT_FALSE(isRuntimeFunction("example.com/runtime.Foo"));
}

// A cache made once (the biggest in use), a leak that grows through append (runtime.growslice
// is where its bytes were allocated) and a goroutine stack (all runtime).
PprofBuilder cacheAndLeak() {
  PprofBuilder b;
  b.sample(b.stack({{"main.newCache", 12}, {"main.main", 40}}), 100 * kMiB);
  b.sample(b.stack({{"runtime.growslice", 200}, {"main.(*Leak).put", 30}, {"main.serve", 50}}),
           30 * kMiB, 300 * kMiB);
  b.sample(b.stack({{"runtime.malg", 4076}, {"runtime.newproc1", 4123}}), 1 * kMiB);
  return b;
}

TEST(GoHeap, RanksByInUseBytesByLeafAndByTheFirstFrameOutsideTheRuntime) {
  HeapReport r = analyze(cacheAndLeak().gz());
  EXPECT_EQ(r.sample_type, "inuse_space");
  EXPECT_EQ(r.total_bytes, static_cast<std::uint64_t>(131 * kMiB));
  EXPECT_EQ(r.samples, 3u);
  ASSERT_EQ(r.by_leaf.size(), 3u);
  EXPECT_EQ(r.by_leaf[0].function, "main.newCache");
  EXPECT_EQ(r.by_leaf[0].file, "main.go");
  EXPECT_EQ(r.by_leaf[0].line, 12);
  EXPECT_EQ(r.by_leaf[0].bytes, static_cast<std::uint64_t>(100 * kMiB));
  EXPECT_DOUBLE_EQ(r.by_leaf[0].share, 100.0 / 131.0);
  EXPECT_EQ(r.by_leaf[1].function, "runtime.growslice");
  EXPECT_EQ(r.by_leaf[2].function, "runtime.malg");

  ASSERT_EQ(r.by_caller.size(), 3u);
  EXPECT_EQ(r.by_caller[0].function, "main.newCache");
  EXPECT_EQ(r.by_caller[1].function, "main.(*Leak).put");
  EXPECT_EQ(r.by_caller[1].line, 30);
  EXPECT_EQ(r.by_caller[1].bytes, static_cast<std::uint64_t>(30 * kMiB));
  // All runtime: the runtime's own allocation, named by its leaf.
  EXPECT_EQ(r.by_caller[2].function, "runtime.malg");
}

TEST(GoHeap, AllocSpaceRanksTheBytesAllocatedSinceTheStart) {
  HeapReport r = analyze(cacheAndLeak().gz(), 10, "alloc_space");
  EXPECT_EQ(r.sample_type, "alloc_space");
  ASSERT_FALSE(r.by_caller.empty());
  EXPECT_EQ(r.by_caller[0].function, "main.(*Leak).put");
  EXPECT_EQ(r.by_caller[0].bytes, static_cast<std::uint64_t>(300 * kMiB));
}

TEST(GoHeap, AnInlinedFrameIsTheLeafAndItsCallerIsTheNextLine) {
  PprofBuilder b;
  // One location, two lines: grow inlined into run (Go's own layout, innermost first).
  std::uint64_t loc = b.location({{"runtime.makeslice", 90}, {"main.(*leak).grow", 240}});
  b.sample({loc, b.location({{"main.run", 601}})}, 8 * kMiB);
  HeapReport r = analyze(b.gz());
  ASSERT_EQ(r.by_leaf.size(), 1u);
  EXPECT_EQ(r.by_leaf[0].function, "runtime.makeslice");
  ASSERT_EQ(r.by_caller.size(), 1u);
  EXPECT_EQ(r.by_caller[0].function, "main.(*leak).grow");
  EXPECT_EQ(r.by_caller[0].line, 240);
}

TEST(GoHeap, OneFunctionAtSeveralLinesIsOneSiteNamedByItsBiggestLine) {
  PprofBuilder b;
  b.sample(b.stack({{"main.fill", 10}}), 2 * kMiB);
  b.sample(b.stack({{"main.fill", 20}}), 5 * kMiB);
  b.sample(b.stack({{"main.fill", 30}}), 1 * kMiB);
  b.sample(b.stack({{"main.other", 5}}), 6 * kMiB);
  HeapReport r = analyze(b.gz());
  ASSERT_EQ(r.by_leaf.size(), 2u);
  EXPECT_EQ(r.by_leaf[0].function, "main.fill");
  EXPECT_EQ(r.by_leaf[0].bytes, static_cast<std::uint64_t>(8 * kMiB));
  EXPECT_EQ(r.by_leaf[0].line, 20);
  EXPECT_EQ(r.by_leaf[1].function, "main.other");
}

TEST(GoHeap, KeepsTheTopNLargestFirstTiesByName) {
  PprofBuilder b;
  for (int i = 0; i < 15; ++i)
    b.sample(b.stack({{"main.f" + std::to_string(100 + i), 1}}), (i / 2 + 1) * kMiB);
  HeapReport r = analyze(b.gz(), 4);
  ASSERT_EQ(r.by_leaf.size(), 4u);
  EXPECT_EQ(r.by_leaf[0].function, "main.f114");  // 8 MiB, alone
  EXPECT_EQ(r.by_leaf[1].function, "main.f112");  // 7 MiB, before f113
  EXPECT_EQ(r.by_leaf[2].function, "main.f113");
  EXPECT_EQ(r.by_leaf[3].function, "main.f110");
  EXPECT_EQ(r.samples, 15u);
}

TEST(GoHeap, SamplesHoldingNothingOrLessAreLeftOut) {
  PprofBuilder b;
  b.sample(b.stack({{"main.freed", 1}}), 0, 50 * kMiB);
  b.sample(b.stack({{"main.negative", 1}}), -5 * kMiB);
  b.sample(b.stack({{"main.kept", 1}}), 3 * kMiB);
  HeapReport r = analyze(b.gz());
  EXPECT_EQ(r.samples, 1u);
  EXPECT_EQ(r.total_bytes, static_cast<std::uint64_t>(3 * kMiB));
  ASSERT_EQ(r.by_leaf.size(), 1u);
  EXPECT_EQ(r.by_leaf[0].function, "main.kept");
  EXPECT_DOUBLE_EQ(r.by_leaf[0].share, 1.0);
}

TEST(GoHeap, AnEmptyHeapIsAnEmptyReport) {
  HeapReport r = analyze(PprofBuilder().gz());
  EXPECT_EQ(r.total_bytes, 0u);
  EXPECT_TRUE(r.by_leaf.empty());
}

TEST(GoHeap, TheRealProfileOfTheGoExampleNamesItsLeak) {
  // tests/fixtures/runtime-captured/SOURCE.md: go-leak holding 24 chunks of 1 MiB.
  HeapReport r = analyze(testing::readFixture("runtime-captured/go-leak-heap.pb.gz"));
  EXPECT_EQ(r.total_bytes, 23927372u);
  EXPECT_EQ(r.samples, 5u);  // the sixth holds nothing in use
  ASSERT_EQ(r.by_leaf.size(), 5u);
  EXPECT_EQ(r.by_leaf[0].function, "main.(*leak).grow");
  EXPECT_THAT(r.by_leaf[0].file, ::testing::EndsWith("examples/go-leak/main.go"));
  EXPECT_EQ(r.by_leaf[0].line, 240);
  EXPECT_EQ(r.by_leaf[0].bytes, 21828539u);
  EXPECT_NEAR(r.by_leaf[0].share, 0.912, 0.001);
  ASSERT_FALSE(r.by_caller.empty());
  EXPECT_EQ(r.by_caller[0].function, "main.(*leak).grow");
  // runtime.malg's stack is all runtime: named by its leaf in both rankings.
  bool malg = false;
  for (const auto& s : r.by_caller) malg = malg || s.function == "runtime.malg";
  EXPECT_TRUE(malg);
}

// ---- hostile profiles: each refused with a reason, none crashes ----

TEST(GoHeapHostile, NotGzipOrCutShort) {
  EXPECT_THAT(refusal("not gzip at all"), HasSubstr("not a gzip stream"));
  EXPECT_THAT(refusal(""), HasSubstr("cut short"));
  std::string gz = cacheAndLeak().gz();
  EXPECT_THAT(refusal(gz.substr(0, gz.size() / 2)), HasSubstr("cut short"));
}

TEST(GoHeapHostile, GzipOfSomethingElse) {
  EXPECT_THAT(refusal(gzip("hello, this is not a protobuf\xff\xff")),
              HasSubstr("not a pprof profile"));
}

TEST(GoHeapHostile, ADecompressionBombStopsAtTheCap) {
  std::string zeros(8 * kMiB, '\0');
  std::string bomb = gzip(zeros);  // about 8 KiB
  HeapProfileLimits limits;
  limits.max_decompressed = 1 * kMiB;
  EXPECT_THAT(refusal(bomb, limits), HasSubstr("more than 1048576 bytes once decompressed"));
  limits.max_compressed = bomb.size() - 1;
  EXPECT_THAT(refusal(bomb, limits), HasSubstr("compressed"));
}

TEST(GoHeapHostile, EachKindOfElementIsCountedBeforeItIsKept) {
  PprofBuilder b;
  for (int i = 0; i < 5; ++i) b.sample(b.stack({{"main.f", i}, {"main.g", i}}), kMiB);
  std::string gz = b.gz();
  struct Case {
    std::size_t HeapProfileLimits::*field;
    const char* says;
  };
  for (Case c : {Case{&HeapProfileLimits::max_samples, "samples"},
                 Case{&HeapProfileLimits::max_sample_locations, "sample location ids"},
                 Case{&HeapProfileLimits::max_values, "values"},
                 Case{&HeapProfileLimits::max_locations, "locations"},
                 Case{&HeapProfileLimits::max_lines, "lines"},
                 Case{&HeapProfileLimits::max_strings, "strings"},
                 Case{&HeapProfileLimits::max_sample_types, "sample types"}}) {
    HeapProfileLimits limits;
    limits.*(c.field) = 3;
    EXPECT_THAT(refusal(gz, limits), HasSubstr(std::string("more than 3 ") + c.says)) << c.says;
  }
  HeapProfileLimits one;
  one.max_functions = 1;
  EXPECT_THAT(refusal(gz, one), HasSubstr("more than 1 functions"));
}

TEST(GoHeapHostile, UnpackedLocationIdsAndLabelsAreCountedToo) {
  // Location ids written one field each (wire type 0), as an old encoder may: the count pass
  // must see them as well as the packed form.
  PprofBuilder b;
  std::uint64_t loc = b.location({{"main.f", 1}});
  b.sample({loc}, kMiB);
  std::string raw = b.raw();
  // Field 2 of Profile written by hand: 4 unpacked location ids, 4 values, 3 empty labels.
  std::string sample;
  for (int i = 0; i < 4; ++i) sample += std::string("\x08", 1) + static_cast<char>(loc);
  for (int i = 0; i < 4; ++i) sample += std::string("\x10\x01", 2);
  for (int i = 0; i < 3; ++i) sample += std::string("\x1a\x00", 2);  // empty labels
  raw += std::string("\x12", 1) + static_cast<char>(sample.size()) + sample;
  HeapProfileLimits limits;
  limits.max_sample_locations = 4;
  EXPECT_THAT(refusal(gzip(raw), limits), HasSubstr("more than 4 sample location ids"));
  limits = {};
  limits.max_labels = 2;
  EXPECT_THAT(refusal(gzip(raw), limits), HasSubstr("more than 2 labels"));
  // Within the limits it parses and counts the hand-written sample.
  HeapReport r = analyze(gzip(raw));
  EXPECT_EQ(r.samples, 2u);
}

TEST(GoHeapHostile, EveryIdAndIndexIsChecked) {
  {
    PprofBuilder b;
    b.sample({12345}, kMiB);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("location id 12345 not in the profile"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB);
    b.profile().mutable_location(0)->mutable_line(0)->set_function_id(999);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("function id 999 not in the profile"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB);
    b.profile().mutable_function(0)->set_name(1'000'000);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("string index 1000000 out of range"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB);
    b.profile().mutable_function(0)->set_filename(-1);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("string index -1 out of range"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB);
    b.profile().mutable_sample_type(0)->set_type(77);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("string index 77 out of range"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}, {"main.g", 2}}), kMiB);
    b.profile().mutable_location(1)->set_id(b.profile().location(0).id());
    EXPECT_THAT(refusal(b.gz()), HasSubstr("twice"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB);
    b.profile().mutable_location(0)->set_id(0);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("location id 0"));
  }
  {
    PprofBuilder b;
    b.sample(b.stack({{"main.f", 1}}), kMiB).add_value(7);
    EXPECT_THAT(refusal(b.gz()), HasSubstr("5 values for 4 sample types"));
  }
}

TEST(GoHeapHostile, AProfileWithoutInUseBytesIsNotAHeapProfile) {
  PprofBuilder b;
  b.profile().mutable_sample_type(3)->set_type(b.str("samples"));
  EXPECT_THAT(refusal(b.gz()), HasSubstr("no sample type inuse_space"));
}

TEST(GoHeapHostile, NamesAreMadeSafeAndCut) {
  PprofBuilder b;
  b.sample(b.stack({{"main.evil\n2026-12-07 fake log line\x1b[31m", 1}}), kMiB);
  b.sample(b.stack({{std::string(5000, 'x'), 1}}), kMiB / 2);
  HeapReport r = analyze(b.gz());
  ASSERT_EQ(r.by_leaf.size(), 2u);
  EXPECT_EQ(r.by_leaf[0].function, "main.evil\\x0a2026-12-07 fake log line\\x1b[31m");
  EXPECT_LE(r.by_leaf[1].function.size(), 512u);
}

TEST(GoHeapHostile, HugeValuesSaturateInsteadOfWrapping) {
  PprofBuilder b;
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  b.sample(b.stack({{"main.a", 1}}), big);
  b.sample(b.stack({{"main.a", 2}}), big);
  b.sample(b.stack({{"main.a", 3}}), big);
  HeapReport r = analyze(b.gz());
  EXPECT_EQ(r.total_bytes, std::numeric_limits<std::uint64_t>::max());
  ASSERT_EQ(r.by_leaf.size(), 1u);
  EXPECT_EQ(r.by_leaf[0].bytes, std::numeric_limits<std::uint64_t>::max());
}

TEST(GoHeapHostile, AStackOfOnlyRuntimeFramesIsNamedByItsLeaf) {
  // One location of 1000 inlined runtime lines, named 20000 times (what each location holds is
  // found once, when the locations are checked, so the samples cost one step per location id).
  PprofBuilder b;
  std::vector<std::pair<std::string, std::int64_t>> lines;
  for (int i = 0; i < 1000; ++i) lines.push_back({"runtime.f" + std::to_string(i % 7), i});
  std::uint64_t loc = b.location(lines);
  std::vector<std::uint64_t> stack(20000, loc);
  b.sample(stack, kMiB);
  HeapReport r = analyze(b.gz());
  ASSERT_EQ(r.by_caller.size(), 1u);
  EXPECT_EQ(r.by_caller[0].function, "runtime.f0");
}

}  // namespace
}  // namespace oomsentinel
