// The collectors on the fixture trees of tests/fixtures/trees/ (README.md there has the figures):
// concrete values, the v1 mapping, the host, process sums, and what happens when files or whole
// cgroups and processes go away.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/xattr.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <optional>
#include <string>

#include "collectors/cgroup_v1.h"
#include "collectors/cgroup_v2.h"
#include "collectors/host.h"
#include "collectors/layout.h"
#include "collectors/process.h"
#include "collectors/target_collector.h"
#include "core/clock.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "tests/support/test_support.h"

// Counts allocations while g_counting is set: the collectors promise none per read in the
// steady state (same TargetCollector, same Snapshot).
namespace {

using ::testing::HasSubstr;
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// noinline: GCC would otherwise see free() meet a pointer from operator new once inlined and
// warn (-Wmismatched-new-delete), though both sides are these replacements.
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed))
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t n) { return ::operator new(n); }
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace oomsentinel {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::TempDir;

using testing::kMiB;

// A fixture tree, either read in place or copied into a TempDir so that a test may change it.
class Tree {
 public:
  explicit Tree(std::string layout, bool copy = false) : layout_(std::move(layout)) {
    root_ = fixture("trees/" + layout_);
    if (copy) {
      tmp_.emplace();
      std::string dst = tmp_->path() + "/" + layout_;
      fs::copy(root_, dst, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      root_ = dst;
    }
  }
  std::string cgroup(const std::string& rel = "") const { return join(root_ + "/cgroup", rel); }
  std::string proc(const std::string& rel = "") const { return join(root_ + "/proc", rel); }
  HostPaths paths() const { return HostPaths(cgroup(), proc()); }
  CgroupLayout layout() const {
    auto l = detectLayout(paths());
    EXPECT_TRUE(l.ok()) << l.error().describe();
    return l.ok() ? *l : CgroupLayout{};
  }
  // Memory hierarchy root: cgroup/ or cgroup/memory/ (hybrid).
  std::string mem(const std::string& rel = "") const {
    return join(layout_ == "hybrid" ? cgroup("memory") : cgroup(), rel);
  }
  void write(const std::string& path, const std::string& text) const {
    fs::create_directories(fs::path(path).parent_path());
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  void remove(const std::string& path) const {
    std::error_code ec;
    ASSERT_TRUE(fs::remove_all(path, ec) > 0) << path << ": " << ec.message();
  }

  std::unique_ptr<TargetCollector> collector(const Target& t) const {
    auto tc = TargetCollector::create(paths(), layout(), t);
    EXPECT_TRUE(tc.ok()) << tc.error().describe();
    return tc.ok() ? std::move(*tc) : nullptr;
  }

 private:
  static std::string join(const std::string& a, const std::string& b) {
    return b.empty() ? a : a + "/" + b;
  }
  std::string layout_, root_;
  std::optional<TempDir> tmp_;
};

Snapshot collectOnce(const Tree& t, const Target& target) {
  Snapshot s;
  auto tc = t.collector(target);
  if (!tc) return s;
  FakeClock clock;
  auto st = tc->collect(clock, s);
  EXPECT_TRUE(st.ok()) << st.error().describe();
  return s;
}

std::optional<double> sig(const Snapshot& s, const std::string& name) {
  auto sid = findSignal(name);
  if (!sid) return std::nullopt;
  return s.get(*sid);
}

Target cgroupTarget(const std::string& path) { return Target::cgroupPath(path, path); }

// ---- cgroup v2 ----

TEST(CgroupV2, ContainerFiguresAndTheEffectiveLimitFromThePod) {
  Snapshot s = collectOnce(Tree("v2"), cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kUsageBytes), 192 * kMiB);
  // memory.max is "max" here; pod-x says 256 MiB, kubepods.slice 1 GiB: the smallest binds.
  EXPECT_EQ(s.get(Sig::kLimitBytes), 256 * kMiB);
  EXPECT_EQ(s.get(Sig::kInactiveFileBytes), 32 * kMiB);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 160 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.75);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0.625);
  EXPECT_EQ(s.get(Sig::kAnonBytes), 144 * kMiB);
  EXPECT_EQ(s.get(Sig::kFileBytes), 44 * kMiB);
  EXPECT_EQ(s.get(Sig::kShmemBytes), 4 * kMiB);
  EXPECT_EQ(s.get(Sig::kHighBytes), 240 * kMiB);
  EXPECT_EQ(s.get(Sig::kPeakBytes), 216 * kMiB);
  EXPECT_EQ(s.get(Sig::kLowBytes), 0);
  EXPECT_EQ(s.get(Sig::kMinBytes), 0);
  EXPECT_EQ(s.get(Sig::kSwapBytes), 0);
  EXPECT_FALSE(s.has(Sig::kSwapLimitBytes));  // memory.swap.max "max"
  EXPECT_EQ(s.get(Sig::kPgfault), 123456);
  EXPECT_EQ(s.get(Sig::kPgmajfault), 42);
  // memory.stat's pgscan, not again pgscan_kswapd + pgscan_direct on top.
  EXPECT_EQ(s.get(Sig::kPgscan), 4096);
  EXPECT_EQ(s.get(Sig::kPgsteal), 3072);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 100);
  // v1-only signals stay absent.
  EXPECT_FALSE(s.has(Sig::kFailcnt));
  EXPECT_FALSE(s.has(Sig::kUnderOom));
  EXPECT_FALSE(s.has(Sig::kMemswUsageBytes));
}

TEST(CgroupV2, EventsAndLocalEvents) {
  Tree t("v2");
  Snapshot app = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(app.get(Sig::kEventsLow), 0);
  EXPECT_EQ(app.get(Sig::kEventsHigh), 12);
  EXPECT_EQ(app.get(Sig::kEventsMax), 5);
  EXPECT_EQ(app.get(Sig::kEventsOom), 2);
  EXPECT_EQ(app.get(Sig::kEventsOomKill), 1);
  EXPECT_EQ(app.get(Sig::kEventsOomGroupKill), 0);
  EXPECT_EQ(sig(app, "events_local_oom_kill"), 1);
  EXPECT_EQ(sig(app, "events_local_high"), 12);

  // The pod: hierarchical events include the container's, local ones do not.
  Snapshot pod = collectOnce(t, cgroupTarget("kubepods.slice/pod-x"));
  EXPECT_EQ(pod.get(Sig::kEventsMax), 7);
  EXPECT_EQ(pod.get(Sig::kEventsOomKill), 1);
  EXPECT_EQ(sig(pod, "events_local_max"), 2);
  EXPECT_EQ(sig(pod, "events_local_oom_kill"), 0);
  EXPECT_EQ(sig(pod, "events_local_high"), 0);
}

TEST(CgroupV2, Pressure) {
  Snapshot s = collectOnce(Tree("v2"), cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg10), 12.5);
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg60), 6.25);
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg300), 1.75);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kPsiSomeTotalSeconds), 3.456789);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg10), 4.0);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg60), 2.0);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg300), 0.5);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kPsiFullTotalSeconds), 1.234567);
}

TEST(CgroupV2, RawStatKeys) {
  Snapshot s = collectOnce(Tree("v2"), cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(sig(s, "stat_anon"), 144 * kMiB);
  EXPECT_EQ(sig(s, "stat_kernel"), 4 * kMiB);
  EXPECT_EQ(sig(s, "stat_pgscan_kswapd"), 1024);
  EXPECT_EQ(sig(s, "stat_pgscan_direct"), 3072);
  EXPECT_EQ(sig(s, "stat_workingset_refault_file"), 90);
  EXPECT_EQ(sig(s, "stat_thp_collapse_alloc"), 0);  // the last line
  EXPECT_EQ(sig(s, "stat_active_file"), 8 * kMiB);
}

TEST(CgroupV2, OwnLimitsOfThePodAndTheSlice) {
  Tree t("v2");
  Snapshot pod = collectOnce(t, cgroupTarget("kubepods.slice/pod-x"));
  EXPECT_EQ(pod.get(Sig::kLimitBytes), 256 * kMiB);
  EXPECT_DOUBLE_EQ(*pod.get(Sig::kUsageRatio), 200.0 / 256.0);
  EXPECT_EQ(pod.get(Sig::kSwapLimitBytes), 0);  // memory.swap.max 0 is a real zero
  EXPECT_FALSE(pod.has(Sig::kHighBytes));       // memory.high "max"
  Snapshot slice = collectOnce(t, cgroupTarget("kubepods.slice"));
  EXPECT_EQ(slice.get(Sig::kLimitBytes), 1024 * kMiB);
  EXPECT_EQ(slice.get(Sig::kWorkingSetBytes), 168 * kMiB);
}

TEST(CgroupV2, TheSmallestLimitOnThePathWins) {
  Tree t("v2", /*copy=*/true);
  // The slice becomes the tightest: 100 MiB.
  t.write(t.cgroup("kubepods.slice/memory.max"), "104857600\n");
  Snapshot s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kLimitBytes), 100 * kMiB);
  // The container's own, tighter still.
  t.write(t.cgroup("kubepods.slice/pod-x/app/memory.max"), "67108864\n");
  s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kLimitBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 3.0);
}

TEST(CgroupV2, NoLimitAnywhereMeansNoLimitAndNoRatios) {
  Tree t("v2", /*copy=*/true);
  t.write(t.cgroup("kubepods.slice/memory.max"), "max\n");
  t.write(t.cgroup("kubepods.slice/pod-x/memory.max"), "max\n");
  Snapshot s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_TRUE(s.has(Sig::kUsageBytes));
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 160 * kMiB);
  EXPECT_FALSE(s.has(Sig::kLimitBytes));
  EXPECT_FALSE(s.has(Sig::kUsageRatio));
  EXPECT_FALSE(s.has(Sig::kWorkingSetRatio));
}

TEST(CgroupV2, CollectorWithoutAncestorsSeesOnlyItsOwnLimit) {
  Tree t("v2");
  CgroupV2Collector c(t.cgroup("kubepods.slice/pod-x/app"), {});
  Snapshot s;
  ASSERT_TRUE(c.collect(s).ok());
  EXPECT_FALSE(s.has(Sig::kLimitBytes));
  CgroupV2Collector with(t.cgroup("kubepods.slice/pod-x/app"), {t.cgroup("kubepods.slice/pod-x")});
  Snapshot s2;
  ASSERT_TRUE(with.collect(s2).ok());
  EXPECT_EQ(s2.get(Sig::kLimitBytes), 256 * kMiB);
}

TEST(CgroupV2, OptionalFilesMissingLeaveTheirSignalsAbsent) {
  Tree t("v2", /*copy=*/true);
  std::string app = t.cgroup("kubepods.slice/pod-x/app");
  for (const char* f : {"memory.peak", "memory.pressure", "memory.events.local", "memory.high",
                        "memory.low", "memory.min", "memory.swap.current", "memory.swap.max"})
    t.remove(app + "/" + f);
  Snapshot s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kUsageBytes), 192 * kMiB);
  EXPECT_EQ(s.get(Sig::kLimitBytes), 256 * kMiB);
  EXPECT_EQ(s.get(Sig::kEventsOomKill), 1);
  for (Sig gone :
       {Sig::kPeakBytes, Sig::kHighBytes, Sig::kLowBytes, Sig::kMinBytes, Sig::kSwapBytes,
        Sig::kSwapLimitBytes, Sig::kPsiSomeAvg10, Sig::kPsiSomeAvg60, Sig::kPsiSomeAvg300,
        Sig::kPsiSomeTotalSeconds, Sig::kPsiFullAvg10, Sig::kPsiFullTotalSeconds})
    EXPECT_FALSE(s.has(gone)) << signalName(id(gone));
  EXPECT_EQ(sig(s, "events_local_oom_kill"), std::nullopt);

  // No memory.events either (an old kernel): no events_*, still no error.
  t.remove(app + "/memory.events");
  Snapshot s2 = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_TRUE(s2.has(Sig::kUsageBytes));
  EXPECT_FALSE(s2.has(Sig::kEventsOomKill));
  EXPECT_FALSE(s2.has(Sig::kEventsMax));
}

TEST(CgroupV2, PressureWithoutAFullLineHasOnlySome) {
  Tree t("v2", /*copy=*/true);
  t.write(t.cgroup("kubepods.slice/pod-x/app/memory.pressure"),
          "some avg10=1.00 avg60=2.00 avg300=3.00 total=4\n");
  Snapshot s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg60), 2.0);
  EXPECT_FALSE(s.has(Sig::kPsiFullAvg10));
}

// A required file that is malformed: an error naming the file, not a crash, not "gone".
void expectMalformed(const Tree& t, const Target& target, const std::string& file,
                     const std::string& message_part) {
  auto tc = t.collector(target);
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  auto st = tc->collect(clock, s);
  ASSERT_FALSE(st.ok()) << file;
  EXPECT_EQ(st.error().path, file);
  EXPECT_THAT(st.error().message, HasSubstr(message_part)) << st.error().describe();
  EXPECT_FALSE(st.error().isGone()) << st.error().describe();
}

TEST(CgroupV2, MalformedFilesAreErrorsNamingThePath) {
  struct Case {
    const char* file;
    const char* text;
    const char* message_part;
  };
  for (const Case& c : {
           Case{"kubepods.slice/pod-x/app/memory.current", "12x\n", "12x"},
           Case{"kubepods.slice/pod-x/app/memory.stat", "anon 1\nfile\n", "line 2"},
           Case{"kubepods.slice/pod-x/app/memory.max", "lots\n", "'max'"},
           // An ancestor's limit is named by its own path.
           Case{"kubepods.slice/pod-x/memory.max", "-1\n", "'max'"},
           Case{"kubepods.slice/pod-x/app/memory.events", "oom_kill one\n", "oom_kill"},
           Case{"kubepods.slice/pod-x/app/memory.pressure", "some avg10=x\n", "avg10"},
           Case{"kubepods.slice/pod-x/app/memory.peak", "\n", "number"},
           Case{"kubepods.slice/pod-x/app/cgroup.procs", "4242\nabc\n", "abc"},
       }) {
    Tree t("v2", /*copy=*/true);
    t.write(t.cgroup(c.file), c.text);
    expectMalformed(t, cgroupTarget("kubepods.slice/pod-x/app"), t.cgroup(c.file), c.message_part);
  }
}

TEST(CgroupV2, AMissingRequiredFileIsAnError) {
  Tree t("v2", /*copy=*/true);
  t.remove(t.cgroup("kubepods.slice/pod-x/app/memory.stat"));
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  auto st = tc->collect(clock, s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path, t.cgroup("kubepods.slice/pod-x/app/memory.stat"));
  EXPECT_EQ(st.error().errnum, ENOENT);
}

// ---- cgroup v1 ----

TEST(CgroupV1, JobBoundByItsParentsLimit) {
  Snapshot s = collectOnce(Tree("v1"), cgroupTarget("batch/job"));
  EXPECT_EQ(s.get(Sig::kUsageBytes), 48 * kMiB);
  // Its own limit_in_bytes is unlimited; hierarchical_memory_limit carries batch's 64 MiB.
  EXPECT_EQ(s.get(Sig::kLimitBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kInactiveFileBytes), 8 * kMiB);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 40 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.75);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0.625);
  EXPECT_EQ(s.get(Sig::kAnonBytes), 32 * kMiB);
  EXPECT_EQ(s.get(Sig::kFileBytes), 14 * kMiB);
  EXPECT_EQ(s.get(Sig::kShmemBytes), 1 * kMiB);
  EXPECT_EQ(s.get(Sig::kSwapBytes), 0);
  EXPECT_EQ(s.get(Sig::kPeakBytes), 60 * kMiB);
  EXPECT_EQ(s.get(Sig::kFailcnt), 0);
  EXPECT_EQ(s.get(Sig::kEventsMax), 0);
  EXPECT_EQ(s.get(Sig::kEventsOomKill), 0);
  EXPECT_EQ(s.get(Sig::kUnderOom), 0);
  EXPECT_EQ(s.get(Sig::kMemswUsageBytes), 48 * kMiB);
  EXPECT_FALSE(s.has(Sig::kMemswLimitBytes));  // unlimited
  EXPECT_EQ(s.get(Sig::kPgfault), 54321);
  EXPECT_EQ(s.get(Sig::kPgmajfault), 12);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 25);
  EXPECT_EQ(sig(s, "stat_hierarchical_memory_limit"), 64 * kMiB);
  EXPECT_EQ(sig(s, "stat_total_rss"), 32 * kMiB);
  // What v1 does not offer is absent, not zero.
  for (Sig gone : {Sig::kPgscan, Sig::kPgsteal, Sig::kEventsHigh, Sig::kEventsOom, Sig::kEventsLow,
                   Sig::kPsiSomeAvg10, Sig::kHighBytes, Sig::kSwapLimitBytes})
    EXPECT_FALSE(s.has(gone)) << signalName(id(gone));
}

TEST(CgroupV1, MappingUsesTheTotalKeysAndFailcnt) {
  Snapshot s = collectOnce(Tree("v1"), cgroupTarget("batch"));
  EXPECT_EQ(s.get(Sig::kLimitBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageBytes), 50 * kMiB);
  // total_rss (33 MiB, with the job's), not rss (1 MiB, batch's own pages).
  EXPECT_EQ(s.get(Sig::kAnonBytes), 33 * kMiB);
  EXPECT_EQ(sig(s, "stat_rss"), 1 * kMiB);
  EXPECT_EQ(s.get(Sig::kFileBytes), 15204352);
  EXPECT_EQ(s.get(Sig::kInactiveFileBytes), 8650752);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 50 * kMiB - 8650752);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.78125);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0.65234375);
  EXPECT_EQ(s.get(Sig::kFailcnt), 20);
  EXPECT_EQ(s.get(Sig::kEventsMax), 20);     // failcnt
  EXPECT_EQ(s.get(Sig::kEventsOomKill), 1);  // oom_control's oom_kill
  EXPECT_EQ(s.get(Sig::kPeakBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kPgfault), 60000);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 30);
  EXPECT_EQ(s.get(Sig::kProcessCount), 0);  // empty cgroup.procs
  EXPECT_EQ(s.get(Sig::kRssBytes), 0);
}

TEST(CgroupV1, UnlimitedRootHasNoLimitNeverZero) {
  Snapshot s = collectOnce(Tree("v1"), cgroupTarget("/"));
  EXPECT_EQ(s.get(Sig::kUsageBytes), 1024 * kMiB);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 768 * kMiB);
  EXPECT_FALSE(s.has(Sig::kLimitBytes));
  EXPECT_FALSE(s.has(Sig::kUsageRatio));
  EXPECT_FALSE(s.has(Sig::kWorkingSetRatio));
  EXPECT_FALSE(s.has(Sig::kMemswLimitBytes));
  EXPECT_EQ(s.get(Sig::kProcessCount), 1);  // init
}

TEST(CgroupV1, OtherSpellingsOfUnlimited) {
  // Older kernels and other page sizes: LONG_MAX, and PAGE_COUNTER_MAX with 64 KiB pages.
  for (const char* unlimited : {"9223372036854775807", "9223372036854710272"}) {
    Tree t("v1", /*copy=*/true);
    std::string stat;
    {
      std::FILE* f = std::fopen(t.cgroup("memory.stat").c_str(), "r");
      ASSERT_NE(f, nullptr);
      char line[256];
      while (std::fgets(line, sizeof line, f)) {
        std::string l = line;
        if (l.rfind("hierarchical_memory_limit ", 0) == 0)
          l = std::string("hierarchical_memory_limit ") + unlimited + "\n";
        stat += l;
      }
      std::fclose(f);
    }
    t.write(t.cgroup("memory.stat"), stat);
    t.write(t.cgroup("memory.limit_in_bytes"), std::string(unlimited) + "\n");
    Snapshot s = collectOnce(t, cgroupTarget("/"));
    EXPECT_TRUE(s.has(Sig::kUsageBytes));
    EXPECT_FALSE(s.has(Sig::kLimitBytes)) << unlimited;
  }
}

TEST(CgroupV1, OwnLimitTighterThanHierarchical) {
  // The kernel's hierarchical_memory_limit already includes the own limit; a stale or
  // hand-made file with a looser value must not loosen the own limit.
  Tree t("v1", /*copy=*/true);
  t.write(t.cgroup("batch/job/memory.limit_in_bytes"), "33554432\n");
  Snapshot s = collectOnce(t, cgroupTarget("batch/job"));
  EXPECT_EQ(s.get(Sig::kLimitBytes), 32 * kMiB);
}

TEST(CgroupV1, WithoutSwapAccountingNoMemsw) {
  Snapshot s = collectOnce(Tree("hybrid"), cgroupTarget("system.slice/app.service"));
  EXPECT_FALSE(s.has(Sig::kMemswUsageBytes));
  EXPECT_FALSE(s.has(Sig::kMemswLimitBytes));
}

TEST(CgroupV1, MalformedFilesAreErrorsNamingThePath) {
  struct Case {
    const char* file;
    const char* text;
    const char* message_part;
  };
  for (const Case& c : {
           Case{"batch/job/memory.usage_in_bytes", "abc\n", "abc"},
           Case{"batch/job/memory.limit_in_bytes", "\n", "number"},
           Case{"batch/job/memory.failcnt", "-3\n", "-3"},
           Case{"batch/job/memory.stat", "cache 0\ntotal_rss x\n", "line 2"},
           Case{"batch/job/memory.oom_control", "oom_kill\n", "line 1"},
           Case{"batch/job/memory.memsw.usage_in_bytes", "1 2\n", "1 2"},
       }) {
    Tree t("v1", /*copy=*/true);
    t.write(t.cgroup(c.file), c.text);
    expectMalformed(t, cgroupTarget("batch/job"), t.cgroup(c.file), c.message_part);
  }
}

TEST(CgroupV1, HybridApp) {
  Snapshot s = collectOnce(Tree("hybrid"), cgroupTarget("system.slice/app.service"));
  EXPECT_EQ(s.get(Sig::kUsageBytes), 96 * kMiB);
  EXPECT_EQ(s.get(Sig::kLimitBytes), 128 * kMiB);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 80 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.75);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0.625);
  EXPECT_EQ(s.get(Sig::kAnonBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kPeakBytes), 112 * kMiB);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 42);
  EXPECT_EQ(s.get(Sig::kProcessCount), 1);
  EXPECT_EQ(s.get(Sig::kRssBytes), 80 * kMiB);
  // system.slice: unlimited all the way up.
  Snapshot slice = collectOnce(Tree("hybrid"), cgroupTarget("system.slice"));
  EXPECT_EQ(slice.get(Sig::kUsageBytes), 200 * kMiB);
  EXPECT_FALSE(slice.has(Sig::kLimitBytes));
}

// ---- host ----

TEST(Host, V2TreeHost) {
  Snapshot s = collectOnce(Tree("v2"), Target::host());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 8192 * kMiB);  // MemTotal
  EXPECT_EQ(s.get(Sig::kUsageBytes), 2048 * kMiB);  // MemTotal - MemAvailable
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 2048 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.25);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0.25);
  EXPECT_EQ(s.get(Sig::kSwapLimitBytes), 2048 * kMiB);
  EXPECT_EQ(s.get(Sig::kSwapBytes), 512 * kMiB);
  EXPECT_EQ(s.get(Sig::kAnonBytes), 1536 * kMiB);
  EXPECT_EQ(s.get(Sig::kFileBytes), 1024 * kMiB);
  EXPECT_EQ(s.get(Sig::kShmemBytes), 64 * kMiB);
  EXPECT_EQ(s.get(Sig::kInactiveFileBytes), 512 * kMiB);
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg10), 2.5);
  EXPECT_EQ(s.get(Sig::kPsiSomeAvg60), 1.25);
  EXPECT_DOUBLE_EQ(*s.get(Sig::kPsiSomeTotalSeconds), 7.654321);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg10), 1.0);
  EXPECT_EQ(s.get(Sig::kPsiFullAvg300), 0.2);
  // kswapd 1000 + direct 200 + khugepaged 30 + proactive 70; the anon/file split (also 1300)
  // and pgscan_direct_throttle are not added.
  EXPECT_EQ(s.get(Sig::kPgscan), 1300);
  EXPECT_EQ(s.get(Sig::kPgsteal), 1135);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 333);
  EXPECT_EQ(s.get(Sig::kPgfault), 9876543);
  EXPECT_EQ(s.get(Sig::kPgmajfault), 4321);
  EXPECT_EQ(s.get(Sig::kEventsOomKill), 3);
  EXPECT_FALSE(s.has(Sig::kProcessCount));
}

TEST(Host, V1TreeHostOnAnOlderKernelsVmstat) {
  Snapshot s = collectOnce(Tree("v1"), Target::host());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 16384 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageBytes), 4096 * kMiB);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.25);
  EXPECT_EQ(s.get(Sig::kSwapLimitBytes), 0);  // no swap configured: a real zero
  EXPECT_EQ(s.get(Sig::kSwapBytes), 0);
  EXPECT_EQ(s.get(Sig::kPgscan), 750);
  EXPECT_EQ(s.get(Sig::kPgsteal), 600);
  EXPECT_EQ(s.get(Sig::kWorkingsetRefault), 77);
  EXPECT_EQ(s.get(Sig::kEventsOomKill), 1);
}

TEST(Host, CapturedMeminfo) {
  Snapshot s = collectOnce(Tree("hybrid"), Target::host());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 24684084.0 * 1024);
  EXPECT_EQ(s.get(Sig::kUsageBytes), (24684084.0 - 23979128.0) * 1024);
}

TEST(Host, NoPressureFileNoPsi) {
  Tree t("v2", /*copy=*/true);
  t.remove(t.proc("pressure"));
  Snapshot s = collectOnce(t, Target::host());
  EXPECT_TRUE(s.has(Sig::kUsageBytes));
  for (Sig gone : {Sig::kPsiSomeAvg10, Sig::kPsiSomeAvg60, Sig::kPsiSomeAvg300,
                   Sig::kPsiSomeTotalSeconds, Sig::kPsiFullAvg10, Sig::kPsiFullTotalSeconds})
    EXPECT_FALSE(s.has(gone)) << signalName(id(gone));
}

TEST(Host, MeminfoWithoutMemAvailableIsAnError) {
  Tree t("v2", /*copy=*/true);
  t.write(t.proc("meminfo"), "MemTotal:        8388608 kB\nMemFree:         5242880 kB\n");
  HostCollector c(t.paths());
  Snapshot s;
  auto st = c.collect(s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().describe(),
            t.proc("meminfo") + ": MemTotal or MemAvailable missing (kernel older than 3.14?)");
}

TEST(Host, MalformedFilesNameThePath) {
  for (const char* file : {"vmstat", "pressure/memory"}) {
    Tree t("v2", /*copy=*/true);
    t.write(t.proc(file), "pgscan_kswapd many\n");
    HostCollector c(t.paths());
    Snapshot s;
    auto st = c.collect(s);
    ASSERT_FALSE(st.ok()) << file;
    EXPECT_EQ(st.error().path, t.proc(file));
  }
}

// ---- processes ----

TEST(Process, CgroupMembersAreSummed) {
  Snapshot s = collectOnce(Tree("v2"), cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kProcessCount), 2);
  EXPECT_EQ(s.get(Sig::kRssBytes), (102400 + 51200) * 1024.0);
  EXPECT_EQ(s.get(Sig::kRssAnonBytes), (98304 + 49152) * 1024.0);
  EXPECT_EQ(s.get(Sig::kRssFileBytes), (3072 + 2048) * 1024.0);
  EXPECT_EQ(s.get(Sig::kRssShmemBytes), 1024 * 1024.0);
  EXPECT_EQ(s.get(Sig::kProcDataBytes), (110000 + 60000) * 1024.0);
  EXPECT_EQ(s.get(Sig::kProcSwapBytes), 0);
  EXPECT_EQ(s.get(Sig::kProcMinflt), 8000);
  EXPECT_EQ(s.get(Sig::kProcMajflt), 10);
  // smaps_rollup is read for one process only.
  EXPECT_FALSE(s.has(Sig::kPssBytes));
}

TEST(Process, APidTargetHasItsCgroupAndItsOwnCounters) {
  Snapshot s = collectOnce(Tree("v2"), Target::process("p", 4243));
  EXPECT_EQ(s.get(Sig::kLimitBytes), 256 * kMiB);  // the cgroup's signals too
  EXPECT_EQ(s.get(Sig::kProcessCount), 1);
  EXPECT_EQ(s.get(Sig::kRssBytes), 51200 * 1024.0);
  EXPECT_EQ(s.get(Sig::kPssBytes), 48000 * 1024.0);
  EXPECT_EQ(s.get(Sig::kProcMinflt), 3000);  // comm "app worker" has a space
  EXPECT_EQ(s.get(Sig::kProcMajflt), 3);

  Snapshot v1 = collectOnce(Tree("v1"), Target::process("p", 5151));
  EXPECT_EQ(v1.get(Sig::kLimitBytes), 64 * kMiB);
  EXPECT_EQ(v1.get(Sig::kProcSwapBytes), 1024 * 1024.0);
  EXPECT_EQ(v1.get(Sig::kPssBytes), 38000 * 1024.0);
}

TEST(Process, SelfIsTheCgroupOfProcSelf) {
  for (const char* layout : {"v2", "v1", "hybrid"}) {
    Tree t(layout);
    auto tc = t.collector(Target::self());
    ASSERT_NE(tc, nullptr) << layout;
    EXPECT_EQ(tc->cgroupRelative(), std::string(layout) == "v2"   ? "/kubepods.slice/pod-x/app"
                                    : std::string(layout) == "v1" ? "/batch/job"
                                                                  : "/system.slice/app.service");
  }
}

// Under the unit's Delegate=yes the daemon moves into <service>/daemon (dumpers/child.h): `self`
// is still the service, whose limit systemd set, not the leaf, which has none.
TEST(Process, SelfInTheDaemonsLeafOfADelegatedCgroupIsTheService) {
  Tree t("v2", /*copy=*/true);
  t.write(t.proc("4242/cgroup"), "0::/kubepods.slice/pod-x/app/daemon\n");
  t.write(t.cgroup("kubepods.slice/pod-x/app/daemon/cgroup.procs"), "4242\n");
  t.write(t.cgroup("kubepods.slice/pod-x/app/daemon/memory.current"), "1048576\n");
  t.write(t.cgroup("kubepods.slice/pod-x/app/daemon/memory.max"), "max\n");
  // Not marked delegated: a cgroup that happens to be called daemon is just a cgroup.
  auto plain = t.collector(Target::self());
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->cgroupRelative(), "/kubepods.slice/pod-x/app/daemon");
  std::string service = t.cgroup("kubepods.slice/pod-x/app");
  if (::setxattr(service.c_str(), "user.delegate", "1", 1, 0) != 0)
    GTEST_SKIP() << "the test's temporary directory takes no user.* xattr";
  auto tc = t.collector(Target::self());
  ASSERT_NE(tc, nullptr);
  EXPECT_EQ(tc->cgroupRelative(), "/kubepods.slice/pod-x/app");
  Snapshot s;
  FakeClock clock;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kLimitBytes), 256 * kMiB);  // the service's limit, not the leaf's "max"
}

TEST(Process, AMemberExitingBetweenTicksIsNotAnError) {
  Tree t("v2", /*copy=*/true);
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kProcessCount), 2);

  // 4243 exits: gone from cgroup.procs and from /proc.
  t.write(t.cgroup("kubepods.slice/pod-x/app/cgroup.procs"), "4242\n");
  t.remove(t.proc("4243"));
  auto st = tc->collect(clock, s);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(s.get(Sig::kProcessCount), 1);
  EXPECT_EQ(s.get(Sig::kRssBytes), 102400 * 1024.0);
  EXPECT_EQ(s.get(Sig::kProcMinflt), 5000);
}

TEST(Process, AMemberListedButAlreadyGoneIsSkipped) {
  // cgroup.procs read, then the process exits before its files are opened.
  Tree t("v2", /*copy=*/true);
  t.write(t.cgroup("kubepods.slice/pod-x/app/cgroup.procs"), "4242\n4243\n4299\n");
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  auto st = tc->collect(clock, s);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(s.get(Sig::kProcessCount), 2);
  EXPECT_EQ(s.get(Sig::kRssBytes), (102400 + 51200) * 1024.0);
}

TEST(Process, AMemberJoiningIsCounted) {
  Tree t("v2", /*copy=*/true);
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  fs::copy(t.proc("4243"), t.proc("4244"));
  t.write(t.cgroup("kubepods.slice/pod-x/app/cgroup.procs"), "4242\n4243\n4244\n");
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kProcessCount), 3);
  EXPECT_EQ(s.get(Sig::kRssBytes), (102400 + 51200 + 51200) * 1024.0);
}

TEST(Process, TooManyMembersLeaveTheSumsAbsent) {
  Tree t("v2", /*copy=*/true);
  std::string procs;
  for (std::size_t i = 0; i <= ProcessCollector::kMaxProcesses; ++i)
    procs += std::to_string(10000 + i) + "\n";
  t.write(t.cgroup("kubepods.slice/pod-x/app/cgroup.procs"), procs);
  Snapshot s = collectOnce(t, cgroupTarget("kubepods.slice/pod-x/app"));
  EXPECT_EQ(s.get(Sig::kProcessCount), ProcessCollector::kMaxProcesses + 1);
  EXPECT_FALSE(s.has(Sig::kRssBytes));
  EXPECT_FALSE(s.has(Sig::kProcMinflt));
}

TEST(Process, APidTargetVanishingIsAnError) {
  Tree t("v2", /*copy=*/true);
  auto tc = t.collector(Target::process("p", 4243));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  t.remove(t.proc("4243"));
  auto st = tc->collect(clock, s);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().isGone() || st.error().errnum == ESRCH) << st.error().describe();
  EXPECT_THAT(st.error().path, HasSubstr(t.proc("4243"))) << st.error().describe();
  // And it stays gone.
  EXPECT_FALSE(tc->collect(clock, s).ok());
}

TEST(Process, APidTargetGoneBeforeTheFirstTick) {
  Tree t("v2", /*copy=*/true);
  auto tc = t.collector(Target::process("p", 4243));
  ASSERT_NE(tc, nullptr);
  t.remove(t.proc("4243"));
  FakeClock clock;
  Snapshot s;
  auto st = tc->collect(clock, s);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().isGone() || st.error().errnum == ESRCH) << st.error().describe();
}

TEST(Process, AMalformedProcFileOfAPidTargetNamesIt) {
  Tree t("v2", /*copy=*/true);
  t.write(t.proc("4242/stat"), "4242 (app) S 1\n");
  expectMalformed(t, Target::process("p", 4242), t.proc("4242/stat"), "truncated");
}

// ---- a cgroup that goes away and comes back ----

void expectRemovedThenRecreated(const std::string& layout, const std::string& rel,
                                const std::string& usage_file) {
  Tree t(layout, /*copy=*/true);
  auto tc = t.collector(cgroupTarget(rel));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  double before = *s.get(Sig::kUsageBytes);

  std::string dir = t.mem(rel);
  std::string saved = dir + ".saved";
  fs::copy(dir, saved, fs::copy_options::recursive);
  t.remove(dir);
  for (int tick = 0; tick < 2; ++tick) {
    auto st = tc->collect(clock, s);
    ASSERT_FALSE(st.ok()) << layout << ": a removed cgroup must be an error";
    EXPECT_TRUE(st.error().isGone()) << st.error().describe();
    EXPECT_THAT(st.error().describe(), HasSubstr(dir));
  }

  // Made again under the same name, with new figures: they are read, not the old ones.
  fs::rename(saved, dir);
  t.write(dir + "/" + usage_file, "12345678\n");
  auto st = tc->collect(clock, s);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(s.get(Sig::kUsageBytes), 12345678) << layout << " (was " << before << ")";
  EXPECT_TRUE(s.has(Sig::kLimitBytes));
  EXPECT_TRUE(s.has(Sig::kProcessCount));
}

TEST(Lifecycle, V2CgroupRemovedThenRecreated) {
  expectRemovedThenRecreated("v2", "kubepods.slice/pod-x/app", "memory.current");
}

TEST(Lifecycle, V1CgroupRemovedThenRecreated) {
  expectRemovedThenRecreated("v1", "batch/job", "memory.usage_in_bytes");
}

TEST(Lifecycle, HybridCgroupRemovedThenRecreated) {
  expectRemovedThenRecreated("hybrid", "system.slice/app.service", "memory.usage_in_bytes");
}

TEST(Lifecycle, ReplacedBetweenTwoTicksIsFollowed) {
  // Removed and made again between two ticks (never seen missing): the new one is read.
  Tree t("v2", /*copy=*/true);
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  std::string dir = t.cgroup("kubepods.slice/pod-x/app");
  fs::copy(dir, dir + ".new", fs::copy_options::recursive);
  t.write(dir + ".new/memory.current", "1048576\n");
  t.write(dir + ".new/cgroup.procs", "4242\n");
  t.remove(dir);
  fs::rename(dir + ".new", dir);
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.get(Sig::kUsageBytes), 1048576);
  EXPECT_EQ(s.get(Sig::kProcessCount), 1);
}

TEST(Lifecycle, APidTargetsCgroupRemoved) {
  Tree t("v1", /*copy=*/true);
  auto tc = t.collector(Target::process("p", 5151));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  Snapshot s;
  ASSERT_TRUE(tc->collect(clock, s).ok());
  t.remove(t.cgroup("batch/job"));
  auto st = tc->collect(clock, s);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.error().isGone()) << st.error().describe();
}

// ---- the snapshot itself ----

TEST(TargetCollector, StampsTheClockAndClearsTheSnapshot) {
  Tree t("v2");
  auto tc = t.collector(cgroupTarget("kubepods.slice/pod-x/app"));
  ASSERT_NE(tc, nullptr);
  FakeClock clock;
  clock.advance(std::chrono::seconds(42));
  Snapshot s;
  s.set(Sig::kTimeToOomSeconds, 1);  // left over from someone else
  ASSERT_TRUE(tc->collect(clock, s).ok());
  EXPECT_EQ(s.steady, clock.steadyNow());
  EXPECT_EQ(s.wall, clock.wallNow());
  EXPECT_FALSE(s.has(Sig::kTimeToOomSeconds));
  EXPECT_EQ(tc->cgroupVersion(), CgroupVersion::kV2);
  EXPECT_EQ(tc->cgroupDir(), t.cgroup("kubepods.slice/pod-x/app"));
  EXPECT_EQ(tc->cgroupRelative(), "/kubepods.slice/pod-x/app");
}

TEST(TargetCollector, ResolutionErrors) {
  Tree t("v2");
  auto missing = TargetCollector::create(t.paths(), t.layout(), cgroupTarget("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().isGone());
  auto pid = TargetCollector::create(t.paths(), t.layout(), Target::process("p", 99999));
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().errnum, ESRCH);
  auto zero = TargetCollector::create(t.paths(), t.layout(), Target::process("p", 0));
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().message, "pid must be positive, got 0");
  CgroupLayout none;
  none.why_none = "nothing here";
  auto no = TargetCollector::create(t.paths(), none, cgroupTarget("x"));
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.error().message, "no memory cgroup controller: nothing here");
  // The host needs no cgroup.
  EXPECT_TRUE(TargetCollector::create(t.paths(), none, Target::host()).ok());
}

TEST(DeriveSignals, WorkingSetNeverBelowZeroAndNoRatioWithoutALimit) {
  Snapshot s;
  s.set(Sig::kUsageBytes, 10);
  s.set(Sig::kInactiveFileBytes, 20);
  deriveSignals(s);
  EXPECT_EQ(s.get(Sig::kWorkingSetBytes), 0);
  EXPECT_FALSE(s.has(Sig::kUsageRatio));
  s.set(Sig::kLimitBytes, 0);  // memory.max 0: a ratio would be infinite
  deriveSignals(s);
  EXPECT_FALSE(s.has(Sig::kUsageRatio));
  s.set(Sig::kLimitBytes, 40);
  deriveSignals(s);
  EXPECT_EQ(s.get(Sig::kUsageRatio), 0.25);
  EXPECT_EQ(s.get(Sig::kWorkingSetRatio), 0);
}

// ---- no allocation per read in the steady state ----

long allocationsOverTicks(TargetCollector& tc, Snapshot& s, int ticks) {
  FakeClock clock;
  g_allocations = 0;
  g_counting = true;
  bool ok = true;
  for (int i = 0; i < ticks; ++i) ok = tc.collect(clock, s).ok() && ok;
  g_counting = false;
  EXPECT_TRUE(ok);
  return g_allocations.load();
}

TEST(SteadyState, CollectingAgainDoesNotAllocate) {
  // The counter itself must work, or a 0 below would prove nothing.
  g_allocations = 0;
  g_counting = true;
  auto* probe = new std::string(100, 'x');
  g_counting = false;
  delete probe;
  ASSERT_GE(g_allocations.load(), 1);

  struct Case {
    const char* layout;
    Target target;
  };
  for (const Case& c : {Case{"v2", cgroupTarget("kubepods.slice/pod-x/app")},
                        Case{"v2", Target::process("p", 4242)}, Case{"v2", Target::self()},
                        Case{"v2", Target::host()}, Case{"v1", cgroupTarget("batch/job")},
                        Case{"v1", Target::process("p", 5151)},
                        Case{"hybrid", cgroupTarget("system.slice/app.service")}}) {
    Tree t(c.layout);
    auto tc = t.collector(c.target);
    ASSERT_NE(tc, nullptr);
    Snapshot s;
    FakeClock clock;
    ASSERT_TRUE(tc->collect(clock, s).ok());  // the first tick may allocate
    EXPECT_EQ(allocationsOverTicks(*tc, s, 10), 0)
        << c.layout << " " << targetKindName(c.target.kind) << " " << c.target.cgroup;
  }
}

}  // namespace
}  // namespace oomsentinel
