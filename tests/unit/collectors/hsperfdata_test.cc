// HotSpot hsperfdata: files captured from real JVMs (tests/fixtures/runtime-captured, each with
// what `jcmd PID PerfCounter.print` said at the same moment), what a broken or hostile file may
// hold, finding a JVM's file through a (fake) proc tree, and the collector over a cgroup.
#include "collectors/hsperfdata.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <vector>

#include "collectors/jvm_perf.h"
#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using oomsentinel::testing::readFixture;
using oomsentinel::testing::TempDir;

using testing::kMiB;

// ---- helpers ----

// `jcmd PID PerfCounter.print`: a "PID:" line, then name=value, strings in double quotes.
std::map<std::string, std::string> parsePerfCounterText(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

void put(std::string& b, std::size_t offset, std::uint64_t v, int size, bool little) {
  for (int i = 0; i < size; ++i) {
    int shift = 8 * (little ? i : size - 1 - i);
    b[offset + static_cast<std::size_t>(i)] = static_cast<char>((v >> shift) & 0xff);
  }
}

void swapBytes(std::string& b, std::size_t offset, std::size_t size) {
  for (std::size_t i = 0; i < size / 2; ++i) std::swap(b[offset + i], b[offset + size - 1 - i]);
}

struct Field {
  std::string name;
  char type = 'J';
  std::int64_t value = 0;
  std::string text;  // for 'B'
  PerfUnits units = PerfUnits::kBytes;
};
// A long counter and a string.
Field J(std::string name, std::int64_t value, PerfUnits units = PerfUnits::kBytes) {
  return Field{std::move(name), 'J', value, "", units};
}
Field S(std::string name, std::string text) {
  return Field{std::move(name), 'B', 0, std::move(text), PerfUnits::kString};
}

// A file laid out as a JVM lays it out: the prologue, then entries of header, name, padding to 8,
// data, padding to 8.
std::string buildPerf(const std::vector<Field>& fields, bool little = true,
                      std::size_t file_size = 0) {
  std::string b(kPerfPrologueSize, '\0');
  for (const Field& f : fields) {
    std::size_t start = b.size();
    std::size_t name_end = kPerfEntryHeaderSize + f.name.size() + 1;
    std::size_t data_offset = (name_end + 7) / 8 * 8;
    std::uint32_t vector_length = 0;
    std::size_t data_size = 8;
    if (f.type == 'B') {
      vector_length = static_cast<std::uint32_t>(f.text.size() + 1);
      data_size = vector_length;
    }
    std::size_t length = (data_offset + data_size + 7) / 8 * 8;
    b.resize(start + length, '\0');
    put(b, start, length, 4, little);
    put(b, start + 4, kPerfEntryHeaderSize, 4, little);
    put(b, start + 8, vector_length, 4, little);
    b[start + 12] = f.type;
    b[start + 13] = 0;
    b[start + 14] = static_cast<char>(f.type == 'B' ? PerfUnits::kString : f.units);
    b[start + 15] = static_cast<char>(PerfVariability::kVariable);
    put(b, start + 16, data_offset, 4, little);
    std::memcpy(&b[start + kPerfEntryHeaderSize], f.name.data(), f.name.size());
    if (f.type == 'B')
      std::memcpy(&b[start + data_offset], f.text.data(), f.text.size());
    else
      put(b, start + data_offset, static_cast<std::uint64_t>(f.value), 8, little);
  }
  std::size_t used = b.size();
  b[0] = static_cast<char>(0xca);
  b[1] = static_cast<char>(0xfe);
  b[2] = static_cast<char>(0xc0);
  b[3] = static_cast<char>(0xc0);
  b[4] = little ? 1 : 0;
  b[5] = 2;
  b[6] = 0;
  b[7] = 1;
  put(b, 8, used, 4, little);
  put(b, 12, 0, 4, little);
  put(b, 16, 123456789, 8, little);
  put(b, 24, kPerfPrologueSize, 4, little);
  put(b, 28, fields.size(), 4, little);
  if (file_size > b.size()) b.resize(file_size, '\0');
  return b;
}

std::vector<PerfEntry> entriesOf(std::string_view bytes) {
  std::vector<PerfEntry> out;
  Status st = forEachPerfEntry(bytes, [&](const PerfEntry& e) { out.push_back(e); });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return out;
}

std::optional<double> signal(const Snapshot& s, const char* name) {
  return s.get(internSignal(name));
}

// ---- the captured files ----

struct Captured {
  const char* name;  // tests/fixtures/runtime-captured/hsperfdata-<name>
  std::size_t signals;
  double heap_alloc, heap_limit, committed, gc_cycles, pause_seconds;
  std::optional<double> young, full, old_used, old_capacity;
  double metaspace;
  const char* policy;  // sun.gc.policy.name; "" when the JVM has none
};

// Every JVM ran `JavaLeak --rate 32MiB/s --chunk 256KiB --max 96MiB --hold --churn 64MiB/s` with
// -Xmx256m, then got one `jcmd PID GC.run` (SOURCE.md). Values from the .perfcounters.txt.
const Captured kCaptured[] = {
    // G1, JDK 17: each generation's maxCapacity is the whole heap plus 8 bytes per space.
    {"jdk17-g1", 10, 102051192, 256 * kMiB, 256 * kMiB, 13 + 1 + 2,
     (120716488.0 + 14957395 + 1038417) / 1e9, 13, 1, 102051192, 209 * kMiB, 1153496,
     "GarbageFirst"},
    {"jdk17-parallel", 10, 101564048, 256 * kMiB, 256 * kMiB, 5 + 1, (76427974.0 + 31949999) / 1e9,
     5, 1, 101564048, 179306496, 1183320, "ParScav:MSC"},
    {"jdk17-serial", 10, 101575496, 256 * kMiB, 256 * kMiB, 4 + 1, (76710816.0 + 9800532) / 1e9, 4,
     1, 101575496, 178978816, 1149464, "Copy:MSC"},
    // G1, JDK 25: no padding any more.
    {"jdk25-g1", 10, 102160080, 256 * kMiB, 256 * kMiB, 4 + 1 + 0, (77446941.0 + 20039488) / 1e9, 4,
     1, 102160080, 194 * kMiB, 1089160, "GarbageFirst"},
    // Generational ZGC: young and old both say the whole heap; a "minor" and a "major" collector.
    {"jdk25-zgc", 9, 130023424, 256 * kMiB, 256 * kMiB, 38, 293006 / 1e9, 0, std::nullopt,
     130023424, 130023424, 1109784, ""},
    // Shenandoah: one generation "Heap"; "Shenandoah full" counts every pause.
    {"jdk17-shenandoah", 6, 101718000, 256 * kMiB, 256 * kMiB, 184, 112530886 / 1e9, std::nullopt,
     std::nullopt, std::nullopt, std::nullopt, 1104704, ""},
};

void PrintTo(const Captured& c, std::ostream* os) { *os << c.name; }

class HsperfdataCaptured : public ::testing::TestWithParam<Captured> {
 protected:
  std::string bytes() const {
    return readFixture(std::string("runtime-captured/hsperfdata-") + GetParam().name);
  }
  std::map<std::string, std::string> jcmd() const {
    return parsePerfCounterText(readFixture(std::string("runtime-captured/hsperfdata-") +
                                            GetParam().name + ".perfcounters.txt"));
  }
};

TEST_P(HsperfdataCaptured, EveryCounterIsWhatJcmdPrinted) {
  std::string b = bytes();
  auto text = jcmd();
  ASSERT_GT(text.size(), 100u);
  auto p = parsePerfPrologue(b);
  ASSERT_TRUE(p.ok()) << p.error().message;
  // jcmd shows the prologue as sun.perfdata.* pseudo-counters.
  EXPECT_EQ(text["sun.perfdata.majorVersion"], std::to_string(p->major));
  EXPECT_EQ(text["sun.perfdata.minorVersion"], std::to_string(p->minor));
  EXPECT_EQ(text["sun.perfdata.used"], std::to_string(p->used));
  EXPECT_EQ(text["sun.perfdata.overflow"], std::to_string(p->overflow));
  EXPECT_EQ(text["sun.perfdata.timestamp"], std::to_string(p->mod_time_stamp));
  EXPECT_EQ(text["sun.perfdata.size"], std::to_string(b.size()));
  EXPECT_TRUE(p->little_endian);

  std::size_t longs = 0, strings = 0;
  std::map<std::string, bool> seen;
  for (const PerfEntry& e : entriesOf(b)) {
    std::string name(e.name);
    seen[name] = true;
    auto it = text.find(name);
    ASSERT_NE(it, text.end()) << name << " is not in jcmd's output";
    if (e.isLong()) {
      ++longs;
      // The sampler's clock, updated every 50 ms: it moved between the copy and jcmd.
      if (name == "sun.os.hrt.ticks") continue;
      EXPECT_EQ(it->second, std::to_string(e.value)) << name;
    } else {
      ASSERT_TRUE(e.isString()) << name << " is of type " << e.type;
      ++strings;
      EXPECT_EQ(it->second, "\"" + std::string(e.text) + "\"") << name;
    }
  }
  EXPECT_GT(longs, 100u);
  EXPECT_GT(strings, 20u);
  EXPECT_EQ(longs + strings, p->num_entries);
  for (const auto& [name, value] : text) {
    if (name.rfind("sun.perfdata.", 0) == 0) continue;
    EXPECT_TRUE(seen[name]) << name << " was not parsed";
  }
}

TEST_P(HsperfdataCaptured, MapsOntoTheRuntimeSignals) {
  const Captured& c = GetParam();
  Snapshot s;
  auto n = mapHsperfdata(bytes(), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, c.signals);
  EXPECT_EQ(s.size(), c.signals);
  EXPECT_EQ(s.get(Sig::kHeapAllocBytes), c.heap_alloc);
  EXPECT_EQ(signal(s, "heap_limit_bytes"), c.heap_limit) << "-Xmx256m";
  EXPECT_EQ(signal(s, "jvm_heap_committed_bytes"), c.committed);
  EXPECT_EQ(s.get(Sig::kGcCycles), c.gc_cycles);
  ASSERT_TRUE(s.has(Sig::kGcPauseSecondsTotal));
  EXPECT_DOUBLE_EQ(*s.get(Sig::kGcPauseSecondsTotal), c.pause_seconds);
  EXPECT_EQ(signal(s, "jvm_young_gc_cycles"), c.young);
  EXPECT_EQ(signal(s, "jvm_full_gc_cycles"), c.full);
  EXPECT_EQ(signal(s, "jvm_old_used_bytes"), c.old_used);
  EXPECT_EQ(signal(s, "jvm_old_capacity_bytes"), c.old_capacity);
  EXPECT_EQ(signal(s, "jvm_metaspace_used_bytes"), c.metaspace);

  // The same sums, straight from jcmd's text.
  auto text = jcmd();
  double used = 0, invocations = 0;
  for (const auto& [name, value] : text) {
    if (name.rfind("sun.gc.generation.", 0) == 0 && name.find(".space.") != std::string::npos &&
        name.size() > 5 && name.substr(name.size() - 5) == ".used")
      used += std::stod(value);
    if (name.rfind("sun.gc.collector.", 0) == 0 && name.size() > 12 &&
        name.substr(name.size() - 12) == ".invocations")
      invocations += std::stod(value);
  }
  EXPECT_EQ(s.get(Sig::kHeapAllocBytes), used);
  EXPECT_EQ(s.get(Sig::kGcCycles), invocations);
  EXPECT_EQ(text["sun.gc.policy.name"], *c.policy ? "\"" + std::string(c.policy) + "\"" : "")
      << "the heap limit rule depends on it";
}

TEST_P(HsperfdataCaptured, BigEndianCopyReadsTheSame) {
  // The JVM writes its own byte order; a big-endian JVM's file is this one with every field
  // swapped, which exercises the other half of every load.
  std::string le = bytes();
  std::string be = le;
  be[4] = 0;
  for (std::size_t off : {8, 12, 24, 28}) swapBytes(be, off, 4);
  swapBytes(be, 16, 8);
  auto entries = entriesOf(le);
  for (const PerfEntry& e : entries) {
    for (std::size_t field : {0, 4, 8, 16}) swapBytes(be, e.offset + field, 4);
    if (e.isLong()) swapBytes(be, e.data, 8);
  }
  auto p = parsePerfPrologue(be);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->little_endian);
  auto swapped = entriesOf(be);
  ASSERT_EQ(swapped.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(swapped[i].name, entries[i].name);
    EXPECT_EQ(swapped[i].value, entries[i].value) << entries[i].name;
    EXPECT_EQ(swapped[i].text, entries[i].text) << entries[i].name;
    EXPECT_EQ(swapped[i].units, entries[i].units) << entries[i].name;
  }
  Snapshot a, b;
  ASSERT_TRUE(mapHsperfdata(le, a).ok());
  ASSERT_TRUE(mapHsperfdata(be, b).ok());
  a.forEach([&](SignalId id, double v) { EXPECT_EQ(b.get(id), v) << signalName(id); });
  EXPECT_EQ(a.size(), b.size());
}

TEST_P(HsperfdataCaptured, EveryTruncationIsAnErrorNotACrash) {
  std::string b = bytes();
  auto p = parsePerfPrologue(b);
  ASSERT_TRUE(p.ok());
  for (std::size_t len = 0; len < p->used; ++len) {
    Snapshot s;
    // As cut by a short read...
    auto r = mapHsperfdata(std::string_view(b).substr(0, len), s);
    ASSERT_FALSE(r.ok()) << "prefix of " << len << " bytes";
    EXPECT_EQ(s.size(), 0u) << "nothing set from a broken file";
    // ...and as a JVM that claimed less room: the entries themselves are cut.
    if (len >= kPerfPrologueSize) {
      std::string cut = b.substr(0, len);
      put(cut, 8, len, 4, true);
      ASSERT_FALSE(mapHsperfdata(cut, s).ok()) << "used cut to " << len;
    }
  }
  Snapshot s;
  EXPECT_TRUE(mapHsperfdata(std::string_view(b).substr(0, p->used), s).ok())
      << "the bytes after `used` are not needed";
}

INSTANTIATE_TEST_SUITE_P(Jvms, HsperfdataCaptured, ::testing::ValuesIn(kCaptured),
                         [](const ::testing::TestParamInfo<Captured>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

// ---- synthetic files ----

TEST(Hsperfdata, BuiltFileRoundTripsInBothByteOrders) {
  std::vector<Field> fields = {
      J("sun.gc.generation.0.space.0.used", 1000),
      S("sun.gc.policy.name", "ParScav:MSC"),
      S("java.property.java.version", "17.0.15"),
      J("sun.os.hrt.frequency", -5, PerfUnits::kHertz),
  };
  for (bool little : {true, false}) {
    std::string b = buildPerf(fields, little, 4096);
    auto entries = entriesOf(b);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0].name, "sun.gc.generation.0.space.0.used");
    EXPECT_TRUE(entries[0].isLong());
    EXPECT_EQ(entries[0].value, 1000);
    EXPECT_EQ(entries[0].units, PerfUnits::kBytes);
    EXPECT_EQ(entries[1].text, "ParScav:MSC");
    EXPECT_TRUE(entries[1].isString());
    EXPECT_EQ(entries[1].units, PerfUnits::kString);
    EXPECT_EQ(entries[2].text, "17.0.15");
    EXPECT_EQ(entries[3].value, -5);
    EXPECT_EQ(entries[3].units, PerfUnits::kHertz);
    EXPECT_EQ(parsePerfPrologue(b)->little_endian, little);
  }
}

TEST(Hsperfdata, SumsGenerationsAndCollectorsAndLeavesTheRestAbsent) {
  // A split heap (a policy other than G1): limits add up. Two spaces of two generations.
  std::vector<Field> fields = {
      S("sun.gc.policy.name", "Copy:MSC"),
      J("sun.gc.generation.0.maxCapacity", 100),
      J("sun.gc.generation.0.capacity", 60),
      J("sun.gc.generation.0.space.0.used", 10),
      J("sun.gc.generation.0.space.1.used", 20),
      S("sun.gc.generation.1.name", "old"),
      J("sun.gc.generation.1.maxCapacity", 300),
      J("sun.gc.generation.1.capacity", 200),
      J("sun.gc.generation.1.space.0.used", 150),
      J("sun.gc.generation.1.space.0.capacity", 999),  // not a generation's capacity
      S("sun.gc.collector.0.name", "Copy"),
      J("sun.gc.collector.0.invocations", 7, PerfUnits::kEvents),
      S("sun.gc.collector.1.name", "MSC"),
      J("sun.gc.collector.1.invocations", 2, PerfUnits::kEvents),
  };
  Snapshot s;
  auto n = mapHsperfdata(buildPerf(fields), s);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 8u);
  EXPECT_EQ(s.get(Sig::kHeapAllocBytes), 180);
  EXPECT_EQ(signal(s, "heap_limit_bytes"), 400);
  EXPECT_EQ(signal(s, "jvm_heap_committed_bytes"), 260);
  EXPECT_EQ(s.get(Sig::kGcCycles), 9);
  EXPECT_EQ(signal(s, "jvm_young_gc_cycles"), 7);
  EXPECT_EQ(signal(s, "jvm_full_gc_cycles"), 2);
  EXPECT_EQ(signal(s, "jvm_old_used_bytes"), 150);
  EXPECT_EQ(signal(s, "jvm_old_capacity_bytes"), 200);
  EXPECT_FALSE(s.has(Sig::kGcPauseSecondsTotal)) << "no collector time, no frequency";
  EXPECT_FALSE(s.has(internSignal("jvm_metaspace_used_bytes")));

  // The same generations without a policy name: the largest maximum, not the sum.
  fields.erase(fields.begin());
  Snapshot t;
  ASSERT_TRUE(mapHsperfdata(buildPerf(fields), t).ok());
  EXPECT_EQ(signal(t, "heap_limit_bytes"), 300);

  // Collector times without sun.os.hrt.frequency: no pause seconds; with it, seconds.
  fields.push_back(J("sun.gc.collector.0.time", 3000, PerfUnits::kTicks));
  Snapshot u;
  ASSERT_TRUE(mapHsperfdata(buildPerf(fields), u).ok());
  EXPECT_FALSE(u.has(Sig::kGcPauseSecondsTotal));
  fields.push_back(J("sun.os.hrt.frequency", 1000, PerfUnits::kHertz));
  Snapshot v;
  ASSERT_TRUE(mapHsperfdata(buildPerf(fields), v).ok());
  EXPECT_EQ(v.get(Sig::kGcPauseSecondsTotal), 3.0);

  // Nothing GC-related at all: nothing set, and that is not an error.
  Snapshot w;
  auto none = mapHsperfdata(buildPerf({J("java.cls.loadedClasses", 5)}), w);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(Hsperfdata, G1PaddingIsRoundedAwayOnlyForG1) {
  std::vector<Field> fields = {
      S("sun.gc.policy.name", "GarbageFirst"),
      J("sun.gc.generation.0.maxCapacity", 256 * (1 << 20) + 24),
      J("sun.gc.generation.0.capacity", 42 * (1 << 20) + 24),
      S("sun.gc.generation.1.name", "old"),
      J("sun.gc.generation.1.maxCapacity", 256 * (1 << 20) + 8),
      J("sun.gc.generation.1.capacity", 214 * (1 << 20) + 8),
      J("sun.gc.generation.1.space.0.used", 12345),
  };
  Snapshot s;
  ASSERT_TRUE(mapHsperfdata(buildPerf(fields), s).ok());
  EXPECT_EQ(signal(s, "heap_limit_bytes"), 256 * kMiB);
  EXPECT_EQ(signal(s, "jvm_heap_committed_bytes"), 256 * kMiB);
  EXPECT_EQ(signal(s, "jvm_old_capacity_bytes"), 214 * kMiB);
  EXPECT_EQ(signal(s, "jvm_old_used_bytes"), 12345) << "used is never padded";
  fields[0].text = "ParScav:MSC";
  Snapshot t;
  ASSERT_TRUE(mapHsperfdata(buildPerf(fields), t).ok());
  EXPECT_EQ(signal(t, "heap_limit_bytes"), 512 * kMiB + 32);
}

TEST(Hsperfdata, CollectorsAreToldApartByName) {
  auto classify = [](const char* name) {
    Snapshot s;
    auto n = mapHsperfdata(
        buildPerf({S("sun.gc.collector.3.name", name), J("sun.gc.collector.3.invocations", 4)}), s);
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(s.get(Sig::kGcCycles), 4) << name;
    if (s.has(internSignal("jvm_young_gc_cycles"))) return std::string("young");
    if (s.has(internSignal("jvm_full_gc_cycles"))) return std::string("full");
    return std::string("other");
  };
  EXPECT_EQ(classify("G1 young collection pauses"), "young");
  EXPECT_EQ(classify("G1 incremental collections"), "young");
  EXPECT_EQ(classify("PSScavenge"), "young");
  EXPECT_EQ(classify("Copy"), "young");
  EXPECT_EQ(classify("ZGC minor collection pauses"), "young");
  EXPECT_EQ(classify("G1 full collection pauses"), "full");
  EXPECT_EQ(classify("G1 stop-the-world full collections"), "full");
  EXPECT_EQ(classify("PSParallelCompact"), "full");
  EXPECT_EQ(classify("MSC"), "full");
  EXPECT_EQ(classify("G1 concurrent cycle pauses"), "other");
  EXPECT_EQ(classify("ZGC major collection pauses"), "other");
  EXPECT_EQ(classify("Shenandoah full"), "other");
  EXPECT_EQ(classify("Shenandoah partial"), "other");
  EXPECT_EQ(classify(""), "other");
}

// The offsets of the first entry's header fields in a built file.
constexpr std::size_t kFirst = kPerfPrologueSize;

std::string oneEntry() { return buildPerf({J("sun.gc.collector.0.invocations", 3)}); }

std::string hsperfdataErrorOf(const std::string& bytes) {
  Snapshot s;
  auto r = mapHsperfdata(bytes, s);
  if (r.ok()) return "(no error)";
  EXPECT_EQ(s.size(), 0u) << "nothing set from a broken file";
  return r.error().message;
}

TEST(Hsperfdata, BadProloguesSayWhatAndWhere) {
  EXPECT_EQ(hsperfdataErrorOf(""), "hsperfdata: truncated: 0 bytes, the prologue alone is 32");
  std::string b = oneEntry();
  std::string bad = b;
  bad[3] = static_cast<char>(0xbe);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: bad magic at offset 0 (expected 0xcafec0c0; the file's bytes are not "
            "shown)");
  bad = b;
  std::memcpy(bad.data(), "\xc0\xc0\xfe\xca", 4);  // the magic in the wrong byte order
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: bad magic at offset 0 (expected 0xcafec0c0; the file's bytes are not "
            "shown)");
  bad = b;
  bad[4] = 2;
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: byte order flag at offset 4 is neither 0 (big-endian) nor 1 "
            "(little-endian)");
  bad = b;
  bad[4] = 0;  // a little-endian file read as big-endian: its sizes make no sense
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: used size 1610612736 at offset 8 is outside the 96-byte file");
  bad = b;
  bad[5] = 1;
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: version 1.0 at offset 5 is not supported (2.x is)");
  bad = b;
  bad[7] = 0;
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: not accessible yet (flag at offset 7 is 0): the JVM is still "
            "initialising");
  bad = b;
  put(bad, 8, b.size() + 1, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: used size 97 at offset 8 is outside the 96-byte file");
  bad = b;
  put(bad, 24, 16, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry offset 16 at offset 24 is outside the used 96 bytes");
  bad = b;
  put(bad, 24, 0xffffffff, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry offset -1 at offset 24 is outside the used 96 bytes");
  bad = b;
  put(bad, 28, 0x7fffffff, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: 2147483647 entries at offset 28 do not fit in the 64 bytes after the "
            "prologue");
  bad = b;
  put(bad, 28, 4, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: 4 entries at offset 28 do not fit in the 64 bytes after the prologue");
  bad = b;
  put(bad, 28, 3, 4, true);  // room for 3 headers, but there is one entry
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 1 at offset 96: its header runs past the used 96 bytes");
  EXPECT_EQ(hsperfdataErrorOf(std::string(kMaxHsperfdataBytes + 1, '\0')),
            "hsperfdata: file of 1048577 bytes is over 1 MiB");
}

TEST(Hsperfdata, BadEntriesSayWhatAndWhere) {
  std::string b = oneEntry();
  // The prologue, then one entry of 64 bytes: header, the name (30 + NUL) at 52, padding, the
  // value at 88.
  ASSERT_EQ(b.size(), 96u);
  ASSERT_EQ(hsperfdataErrorOf(b), "(no error)");
  std::string bad = b;
  put(bad, kFirst, 0, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: length 0 is shorter than an entry header (20)");
  bad = b;
  put(bad, kFirst, 0xfffffff0, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: length -16 is shorter than an entry header (20)")
      << "a negative length must not walk backwards";
  bad = b;
  put(bad, kFirst, 72, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: length 72 runs past the used 96 bytes");
  bad = b;
  put(bad, kFirst + 4, 64, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: name offset 64 is outside the entry (length 64)");
  bad = b;
  put(bad, kFirst + 4, 4, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: name offset 4 is outside the entry (length 64)");
  bad = b;
  for (std::size_t i = kFirst + 20; i < b.size(); ++i) bad[i] = 'x';
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32: name at offset 52 is not NUL-terminated within "
            "the entry");
  bad = b;
  bad[kFirst + 20] = '\0';
  EXPECT_EQ(hsperfdataErrorOf(bad), "hsperfdata: entry 0 at offset 32: empty name at offset 52");
  bad = b;
  put(bad, kFirst + 16, 60, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32 ('sun.gc.collector.0.invocations'): data offset 60 "
            "and 8 bytes of data run outside the entry (length 64)");
  bad = b;
  put(bad, kFirst + 16, 0x80000000, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32 ('sun.gc.collector.0.invocations'): data offset "
            "-2147483648 and 8 bytes of data run outside the entry (length 64)");
  bad = b;
  put(bad, kFirst + 8, 0x7fffffff, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32 ('sun.gc.collector.0.invocations'): data offset 56 "
            "and 17179869176 bytes of data run outside the entry (length 64)");
  bad = b;
  put(bad, kFirst + 8, 0x80000000, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(bad),
            "hsperfdata: entry 0 at offset 32 ('sun.gc.collector.0.invocations'): vector length "
            "-2147483648 is negative");

  // Two entries where the second is cut by `used`.
  std::string two = buildPerf({J("a.b", 1), J("c.d", 2)});
  ASSERT_EQ(two.size(), 96u);
  put(two, 8, 88, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(two),
            "hsperfdata: entry 1 at offset 64: length 32 runs past the used 88 bytes");
  put(two, 8, 80, 4, true);
  EXPECT_EQ(hsperfdataErrorOf(two),
            "hsperfdata: entry 1 at offset 64: its header runs past the used 80 bytes");
}

TEST(Hsperfdata, BadValuesOfMappedCountersAreErrors) {
  EXPECT_EQ(hsperfdataErrorOf(buildPerf({J("sun.gc.generation.0.capacity", -1)})),
            "hsperfdata: 'sun.gc.generation.0.capacity' at offset 32 is negative (-1)");
  EXPECT_EQ(hsperfdataErrorOf(buildPerf({J("sun.gc.collector.16.invocations", 1)})),
            "hsperfdata: 'sun.gc.collector.16.invocations' at offset 32 has an index over 15");
  EXPECT_EQ(hsperfdataErrorOf(buildPerf({J("sun.gc.generation.1.space.99.used", 1)})),
            "hsperfdata: 'sun.gc.generation.1.space.99.used' at offset 32 has an index over 15");
  // Names that only look like counters are not ours: ignored.
  EXPECT_EQ(hsperfdataErrorOf(
                buildPerf({J("sun.gc.generation.x.capacity", -1),
                           J("sun.gc.collector.99999.time", 1), J("sun.gc.collector.", 1)})),
            "(no error)");
}

TEST(Hsperfdata, UnknownTypesAndLongVectorsPassWithoutAValue) {
  std::string b = buildPerf({J("x.y", 5), J("sun.gc.metaspace.used", 77)});
  b[kFirst + 12] = 'Q';  // a type this reader does not know
  auto entries = entriesOf(b);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].type, 'Q');
  EXPECT_FALSE(entries[0].isLong());
  EXPECT_FALSE(entries[0].isString());
  EXPECT_EQ(entries[1].value, 77);
  Snapshot s;
  ASSERT_TRUE(mapHsperfdata(b, s).ok());
  EXPECT_EQ(signal(s, "jvm_metaspace_used_bytes"), 77);
  // A 'B' vector without a NUL is taken whole.
  std::string t = buildPerf({S("s.t", "abc")});
  put(t, kFirst + 8, 3, 4, true);
  EXPECT_EQ(entriesOf(t)[0].text, "abc");
}

// ---- finding the file ----

TEST(HsperfdataFind, NsPidIsTheLastField) {
  EXPECT_EQ(*parseNsPid("Name:\tjava\nNSpid:\t4242\t17\t1\nVmRSS: 1 kB\n", 4242), 1);
  EXPECT_EQ(*parseNsPid("Name:\tjava\nNSpid:\t4242\n", 4242), 4242);
  EXPECT_EQ(*parseNsPid("Name:\tjava\nPid:\t4242\n", 4242), 4242) << "kernels before 4.1";
  EXPECT_FALSE(parseNsPid("NSpid:\t4242\tx\n", 4242).ok());
  EXPECT_FALSE(parseNsPid("NSpid:\n", 4242).ok());
  EXPECT_FALSE(parseNsPid("NSpid:\t0\n", 4242).ok());
}

TEST(HsperfdataFind, ThroughTheProcessRootWithItsNamespacePid) {
  TempDir t;
  HostPaths paths(t.path() + "/cg", t.path() + "/fakeproc");
  std::string bytes = oneEntry();
  // In a container: pid 4242 here is 7 inside, and /tmp is the container's.
  t.write("fakeproc/4242/status", "Name:\tjava\nPid:\t4242\nNSpid:\t4242\t7\n");
  t.write("fakeproc/4242/root/tmp/hsperfdata_app/7", bytes);
  t.write("fakeproc/4242/root/tmp/hsperfdata_app/4242", "a host pid's name: not this one");
  t.write("fakeproc/4242/root/tmp/other/7", "not an hsperfdata directory");
  auto f = findHsperfdataFile(paths, 4242);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->path, "pid 4242's root:/tmp/hsperfdata_app/7");
  EXPECT_GE(f->fd.get(), 0);

  // No NSpid line: the pid itself.
  t.write("fakeproc/99/status", "Name:\tjava\nPid:\t99\n");
  t.write("fakeproc/99/root/tmp/hsperfdata_root/99", bytes);
  f = findHsperfdataFile(paths, 99);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->path, "pid 99's root:/tmp/hsperfdata_root/99");

  // Two users' directories with the name: the newest file (both are owned by the test's user).
  t.write("fakeproc/99/root/tmp/hsperfdata_old/99", bytes);
  struct timespec old_times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (t.path() + "/fakeproc/99/root/tmp/hsperfdata_old/99").c_str(),
                        old_times, 0),
            0);
  EXPECT_EQ(findHsperfdataFile(paths, 99)->path, "pid 99's root:/tmp/hsperfdata_root/99");
  ASSERT_EQ(::utimensat(AT_FDCWD, (t.path() + "/fakeproc/99/root/tmp/hsperfdata_root/99").c_str(),
                        old_times, 0),
            0);
  struct timespec new_times[2] = {{2000, 0}, {2000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (t.path() + "/fakeproc/99/root/tmp/hsperfdata_old/99").c_str(),
                        new_times, 0),
            0);
  EXPECT_EQ(findHsperfdataFile(paths, 99)->path, "pid 99's root:/tmp/hsperfdata_old/99");

  // A directory of that name is not the file.
  std::filesystem::create_directories(t.path() + "/fakeproc/5/root/tmp/hsperfdata_x/5");
  t.write("fakeproc/5/status", "NSpid:\t5\n");
  EXPECT_FALSE(findHsperfdataFile(paths, 5).ok());
}

TEST(HsperfdataFind, NoFileSaysWhereAndWhy) {
  TempDir t;
  HostPaths paths(t.path() + "/cg", t.path() + "/fakeproc");
  t.write("fakeproc/4242/status", "Name:\tjava\nNSpid:\t4242\t7\n");
  t.write("fakeproc/4242/root/tmp/hsperfdata_app/8", "another JVM");
  auto f = findHsperfdataFile(paths, 4242);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().path, "pid 4242's root:/tmp");
  EXPECT_EQ(f.error().errnum, ENOENT);
  EXPECT_EQ(f.error().message,
            "no hsperfdata file hsperfdata_*/7 (pid 4242 is 7 in its namespace): not a JVM, a JVM "
            "still starting, or one run with -XX:-UsePerfData or -XX:+PerfDisableSharedMem "
            "(java.io.tmpdir does not move the file: it is always under /tmp)");

  // No /tmp in its root at all.
  t.write("fakeproc/5/status", "NSpid:\t5\n");
  t.write("fakeproc/5/root/.keep", "");
  f = findHsperfdataFile(paths, 5);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().path, "pid 5's root:/tmp");
  EXPECT_EQ(f.error().errnum, ENOENT);
  EXPECT_EQ(f.error().message, "cannot list the process's /tmp");

  // No root either (a process that is gone, or a kernel thread).
  t.write("fakeproc/8/status", "NSpid:\t8\n");
  f = findHsperfdataFile(paths, 8);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().path, t.path() + "/fakeproc/8/root");
  EXPECT_EQ(f.error().errnum, ENOENT);

  // No such process.
  f = findHsperfdataFile(paths, 6);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().path, t.path() + "/fakeproc/6/status");
  EXPECT_EQ(f.error().errnum, ENOENT);
}

// ---- the collector ----

// A fake host with a cgroup of three processes; 200 and 300 are JVMs (in a container: 7 and 8).
// As in procfs, <pid>/root is a link to the process's root, which outlives the process.
class JvmPerfFake : public ::testing::Test {
 protected:
  void SetUp() override {
    jvm_ = readFixture("runtime-captured/hsperfdata-jdk17-g1");
    t_.write("cg/app/cgroup.procs", "100\n200\n300\n");
    process(100, 1, "");
    process(200, 7, jvm_);
    process(300, 8, small_);
  }
  // Process `pid`, `nspid` in its namespace, with a root of its own holding `file` as its
  // hsperfdata file (none when empty).
  void process(int pid, int nspid, const std::string& file) {
    std::string p = std::to_string(pid);
    t_.write("fakeproc/" + p + "/status",
             "Name:\tjava\nNSpid:\t" + p + "\t" + std::to_string(nspid) + "\n");
    t_.write("ctr/" + p + "/tmp/.keep", "");
    if (!file.empty()) t_.write("ctr/" + p + "/tmp/hsperfdata_app/" + std::to_string(nspid), file);
    std::filesystem::create_directory_symlink(t_.path() + "/ctr/" + p,
                                              t_.path() + "/fakeproc/" + p + "/root");
  }
  std::string procs() const { return t_.path() + "/cg/app/cgroup.procs"; }
  Snapshot tick(JvmPerfCollector& c, int seconds) {
    Snapshot s;
    s.steady = SteadyTime(std::chrono::seconds(seconds));
    auto st = c.collect(s);
    EXPECT_TRUE(st.ok()) << "never fails the target";
    return s;
  }
  // Overwrites 8 bytes of a long counter in place, as the JVM does.
  void poke(const std::string& relative, std::string_view counter, std::int64_t value) {
    std::string path = t_.path() + "/" + relative;
    std::string bytes = readFixture("runtime-captured/hsperfdata-jdk17-g1");
    std::size_t at = 0;
    for (const PerfEntry& e : entriesOf(bytes))
      if (e.name == counter) at = e.data;
    ASSERT_NE(at, 0u) << counter;
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, &value, 8, static_cast<off_t>(at)), 8);
    ::close(fd);
  }

  TempDir t_;
  HostPaths paths_{t_.path() + "/cg", t_.path() + "/fakeproc"};
  std::string jvm_;
  std::string small_ = buildPerf({J("sun.gc.collector.0.invocations", 3)});
};

TEST_F(JvmPerfFake, CgroupPicksTheFirstJvmAndSearchesAgainWhenItGoes) {
  auto c = JvmPerfCollector::forCgroup(paths_, procs());
  EXPECT_EQ(c.lastProblem(), "not searched yet");
  Snapshot s = tick(c, 100);
  EXPECT_EQ(c.lastProblem(), "");
  ASSERT_EQ(c.jvmPid(), 200) << "100 is not a JVM";
  EXPECT_EQ(c.filePath(), "pid 200's root:/tmp/hsperfdata_app/7");
  EXPECT_EQ(signal(s, "heap_limit_bytes"), 256 * kMiB);
  EXPECT_EQ(s.get(Sig::kGcCycles), 16);

  // The file is rewritten in place: the next tick reads the new value.
  poke("fakeproc/200/root/tmp/hsperfdata_app/7", "sun.gc.collector.0.invocations", 20);
  s = tick(c, 101);
  EXPECT_EQ(s.get(Sig::kGcCycles), 23);

  // 200 is killed: its /proc directory goes, its file stays behind.
  std::filesystem::remove_all(t_.path() + "/fakeproc/200");
  s = tick(c, 102);
  EXPECT_EQ(s.size(), 0u) << "absent, never the last values";
  EXPECT_EQ(c.jvmPid(), std::nullopt);
  EXPECT_EQ(c.lastProblem(), "the JVM (pid 200) exited; searching again");
  // Searched at 100: not again before 105.
  s = tick(c, 104);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(c.jvmPid(), std::nullopt);
  s = tick(c, 105);
  ASSERT_EQ(c.jvmPid(), 300);
  EXPECT_EQ(s.get(Sig::kGcCycles), 3);
  EXPECT_EQ(c.lastProblem(), "");

  // 300 exits cleanly (it removes its file) and 200 comes back as a new JVM.
  ASSERT_EQ(::unlink((t_.path() + "/fakeproc/300/root/tmp/hsperfdata_app/8").c_str()), 0);
  process(200, 7, jvm_);
  s = tick(c, 106);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(c.lastProblem(),
            "the hsperfdata file of pid 300 was removed (the JVM exited); searching again");
  s = tick(c, 110);
  EXPECT_EQ(c.jvmPid(), 200);
  EXPECT_EQ(s.get(Sig::kGcCycles), 16);
}

TEST_F(JvmPerfFake, CgroupWithoutAJvmSaysWhyAndLooksAgainLater) {
  t_.write("cg/app/cgroup.procs", "100\n");
  auto c = JvmPerfCollector::forCgroup(paths_, procs());
  Snapshot s = tick(c, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(c.jvmPid(), std::nullopt);
  EXPECT_EQ(c.lastProblem(),
            "no JVM among the 1 processes in " + procs() +
                " (pid 100: pid 100's root:/tmp: no hsperfdata file hsperfdata_*/1 (pid 100 "
                "is 1 in its namespace): not a JVM, a JVM still starting, or one "
                "run with -XX:-UsePerfData or -XX:+PerfDisableSharedMem "
                "(java.io.tmpdir does not move the file: it is always under "
                "/tmp) (No such file or directory))");
  // A JVM joins: found at the next search, 5 s after the last one, not before.
  t_.write("cg/app/cgroup.procs", "100\n300\n");
  s = tick(c, 4);
  EXPECT_EQ(c.jvmPid(), std::nullopt);
  s = tick(c, 5);
  EXPECT_EQ(c.jvmPid(), 300);
  EXPECT_EQ(s.get(Sig::kGcCycles), 3);

  // An empty cgroup, a cgroup that is gone.
  auto empty = JvmPerfCollector::forCgroup(paths_, t_.path() + "/cg/app/none");
  tick(empty, 0);
  EXPECT_THAT(empty.lastProblem(), HasSubstr("cg/app/none"));
  t_.write("cg/app/cgroup.procs", "");
  auto c2 = JvmPerfCollector::forCgroup(paths_, procs());
  tick(c2, 0);
  EXPECT_EQ(c2.lastProblem(), procs() + ": no process in the cgroup");
}

TEST_F(JvmPerfFake, PidFormWaitsForTheJvmToBeReady) {
  std::string path = "fakeproc/200/root/tmp/hsperfdata_app/7";
  std::string starting = jvm_;
  starting[7] = 0;  // accessible: not yet
  t_.write(path, starting);
  auto c = JvmPerfCollector::forPid(paths_, 200);
  Snapshot s = tick(c, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(c.jvmPid(), 200) << "the file is held open";
  EXPECT_EQ(c.lastProblem(),
            "pid 200's root:/tmp/hsperfdata_app/7"
            ": hsperfdata: not accessible yet (flag at offset 7 is 0): the "
            "JVM is still initialising");
  // The JVM finishes setting up, in place (same file): read at the next tick, no search needed.
  t_.write(path, jvm_);
  s = tick(c, 1);
  EXPECT_EQ(c.lastProblem(), "");
  EXPECT_EQ(s.get(Sig::kHeapAllocBytes), 102051192);
  // Garbage in place: absent, and said.
  t_.write(path, "not a perf file at all, but long enough for a prologue");
  s = tick(c, 2);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_THAT(c.lastProblem(), HasSubstr("bad magic"));

  // A process that is not a JVM.
  auto not_jvm = JvmPerfCollector::forPid(paths_, 100);
  s = tick(not_jvm, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_THAT(not_jvm.lastProblem(), HasSubstr("-XX:-UsePerfData"));
  // A moved collector keeps its descriptor.
  auto moved = std::move(c);
  t_.write(path, jvm_);
  s = tick(moved, 3);
  EXPECT_EQ(moved.jvmPid(), 200);
  EXPECT_EQ(s.get(Sig::kHeapAllocBytes), 102051192);
}

// ---- a hostile target (issue 18): its /tmp is its own to arrange ----

// What the host has and no container may hand us: its first bytes would have been printed as the
// "bad magic" of an hsperfdata file.
constexpr const char* kHostSecret = "SECRET host bytes: root's own file, never the target's.";

TEST_F(JvmPerfFake, ASymlinkAsTheFileIsRefusedAndNoHostByteIsShown) {
  t_.write("host-secret", kHostSecret);
  process(400, 9, "");
  t_.write("ctr/400/tmp/hsperfdata_app/.keep", "");
  ASSERT_EQ(::symlink((t_.path() + "/host-secret").c_str(),
                      (t_.path() + "/ctr/400/tmp/hsperfdata_app/9").c_str()),
            0);
  auto c = JvmPerfCollector::forPid(paths_, 400);
  Snapshot s = tick(c, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(c.jvmPid(), std::nullopt) << "nothing is held open";
  EXPECT_THAT(c.lastProblem(), HasSubstr("refused: a symlink"));
  // Neither the bytes nor their hex ("SECR" is 0x53454352).
  EXPECT_THAT(c.lastProblem(), Not(HasSubstr("SECR")));
  EXPECT_THAT(c.lastProblem(), Not(HasSubstr("53454352")));
  EXPECT_THAT(c.lastProblem(), Not(HasSubstr("bad magic")));

  // Through /proc/1/root, a magic link: the same.
  ASSERT_EQ(::unlink((t_.path() + "/ctr/400/tmp/hsperfdata_app/9").c_str()), 0);
  ASSERT_EQ(::symlink(("/proc/1/root" + t_.path() + "/host-secret").c_str(),
                      (t_.path() + "/ctr/400/tmp/hsperfdata_app/9").c_str()),
            0);
  auto again = JvmPerfCollector::forPid(paths_, 400);
  s = tick(again, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_THAT(again.lastProblem(), Not(HasSubstr("SECR")));
  EXPECT_THAT(again.lastProblem(), Not(HasSubstr("53454352")));
}

TEST_F(JvmPerfFake, ASymlinkedHsperfdataDirectoryIsNotFollowed) {
  // hsperfdata_app -> a host directory holding the host's own JVM's file under the target's
  // namespace pid: the host JVM's counters must not become the target's.
  t_.write("host-tmp/hsperfdata_root/9", jvm_);
  process(400, 9, "");
  ASSERT_EQ(::symlink((t_.path() + "/host-tmp/hsperfdata_root").c_str(),
                      (t_.path() + "/ctr/400/tmp/hsperfdata_app").c_str()),
            0);
  auto c = JvmPerfCollector::forPid(paths_, 400);
  Snapshot s = tick(c, 0);
  EXPECT_EQ(s.size(), 0u) << "the host JVM's counters were read";
  EXPECT_EQ(c.jvmPid(), std::nullopt);
  EXPECT_THAT(c.lastProblem(), HasSubstr("no hsperfdata file"));
}

TEST_F(JvmPerfFake, AFifoAsTheFileIsRefusedWithoutBlocking) {
  // A plain open for reading would wait for a writer for good, and with it the read thread.
  process(400, 9, "");
  t_.write("ctr/400/tmp/hsperfdata_app/.keep", "");
  ASSERT_EQ(::mkfifo((t_.path() + "/ctr/400/tmp/hsperfdata_app/9").c_str(), 0600), 0);
  auto c = JvmPerfCollector::forPid(paths_, 400);
  Snapshot s = tick(c, 0);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_THAT(c.lastProblem(), HasSubstr("not a regular file"));
}

TEST(Hsperfdata, ABadMagicShowsNoByteOfTheFile) {
  std::string bytes(64, '\0');
  std::memcpy(bytes.data(), kHostSecret, 32);
  auto r = parsePerfPrologue(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, Not(HasSubstr("53454352")));
  EXPECT_THAT(r.error().message, Not(HasSubstr("SECR")));
}

}  // namespace
}  // namespace oomsentinel
