// collectors/: turning kernel and runtime text into Snapshots.
// HotSpot's performance-data file (hsperfdata, what jstat reads): a pure parser of its binary
// layout, the mapping of its GC counters onto the runtime signals, and where to find a JVM's file.
//
// The JVM maps /tmp/hsperfdata_<user>/<pid in its pid namespace> and updates the counters in
// place. The file starts with a 32-byte prologue:
//
//   offset  size  field
//        0     4  magic 0xcafec0c0, always stored big-endian
//        4     1  byte order of everything else: 0 big-endian, 1 little-endian
//        5     1  major version (2), 6: minor version
//        7     1  accessible: 0 while the JVM is still setting the file up
//        8     4  used: bytes of the file in use (prologue and entries)
//       12     4  overflow: bytes the JVM wanted beyond the file (counters it had to drop)
//       16     8  modification time stamp (high-resolution ticks)
//       24     4  offset of the first entry, 28: number of entries
//
// and each entry (at the previous one's offset + its length) starts with a 20-byte header:
//
//        0     4  entry length, 4: name offset, 8: vector length (0 for a scalar),
//       12     1  data type ('J' 64-bit long, 'B' byte: a vector of them is a string, ...),
//       13     1  flags, 14: units, 15: variability, 16: 4 bytes data offset
//
// with both offsets counted from the start of the entry and the name NUL-terminated.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/result.h"
#include "core/snapshot.h"
#include "core/target_fs.h"

namespace oomsentinel {

// A JVM's file is 32 KiB (PerfDataMemorySize) unless told otherwise; a file larger than this is
// not one we read.
inline constexpr std::size_t kMaxHsperfdataBytes = 1 << 20;
inline constexpr std::size_t kPerfPrologueSize = 32;
inline constexpr std::size_t kPerfEntryHeaderSize = 20;

struct PerfPrologue {
  bool little_endian = true;
  int major = 0, minor = 0;
  bool accessible = false;
  std::uint32_t used = 0;
  std::uint32_t overflow = 0;
  std::int64_t mod_time_stamp = 0;
  std::uint32_t entry_offset = 0;
  std::uint32_t num_entries = 0;
};

enum class PerfUnits : std::uint8_t {
  kInvalid = 0,
  kNone = 1,
  kBytes = 2,
  kTicks = 3,  // of sun.os.hrt.frequency per second
  kEvents = 4,
  kString = 5,
  kHertz = 6,
};
enum class PerfVariability : std::uint8_t {
  kInvalid = 0,
  kConstant = 1,
  kMonotonic = 2,
  kVariable = 3,
};

struct PerfEntry {
  std::string_view name;
  char type = 0;                    // 'J', 'B', ... as the file says
  std::uint32_t vector_length = 0;  // 0: a scalar
  PerfUnits units = PerfUnits::kInvalid;
  PerfVariability variability = PerfVariability::kInvalid;
  std::uint8_t flags = 0;
  std::size_t offset = 0;  // of the entry in the file
  std::uint32_t length = 0;
  std::size_t data = 0;    // of the value in the file (0 for a type without a value)
  std::int64_t value = 0;  // a scalar 'J'
  std::string_view text;   // a 'B' vector, up to its first NUL

  bool isLong() const { return type == 'J' && vector_length == 0; }
  bool isString() const { return type == 'B' && vector_length > 0; }
};

// The prologue, checked: at least 32 bytes and at most kMaxHsperfdataBytes, the magic, a byte
// order of 0 or 1, major version 2, the accessible flag set (otherwise an Error saying the JVM is
// still initialising), `used` within the file, the first entry within `used`, and no more entries
// than `used` has room for. Every Error says what is wrong and at which offset.
Result<PerfPrologue> parsePerfPrologue(std::string_view bytes);

namespace perf_detail {
// The entry at `offset`, bounded by the prologue's `used`: a header that fits, a length of at least
// a header (so that a walk always moves on), a NUL-terminated non-empty name and data inside the
// entry. Types other than 'B' and 'J' are returned without a value.
Result<PerfEntry> entryAt(std::string_view bytes, const PerfPrologue& p, std::size_t offset,
                          std::uint32_t index);
}  // namespace perf_detail

// Calls f(const PerfEntry&) for each entry in file order. The views point into `bytes`. Stops at
// the first malformed entry with an Error; entries before it have been passed to f.
template <typename F>
Status forEachPerfEntry(std::string_view bytes, F&& f) {
  auto p = parsePerfPrologue(bytes);
  if (!p) return p.error();
  std::size_t offset = p->entry_offset;
  for (std::uint32_t i = 0; i < p->num_entries; ++i) {
    auto e = perf_detail::entryAt(bytes, *p, offset, i);
    if (!e) return e.error();
    f(std::as_const(*e));
    offset += e->length;
  }
  return Ok{};
}

// The JVM's heap and GC counters onto the runtime signals. Sets, each only when the JVM has the
// counters it comes from (a signal is absent, never a made-up zero):
//   heap_alloc_bytes          sum of sun.gc.generation.N.space.M.used
//   heap_limit_bytes          the maximum heap (-Xmx): the sum of the generations' maxCapacity
//                             for the collectors whose generations split the heap (Serial,
//                             Parallel: sun.gc.policy.name other than "GarbageFirst"); the
//                             largest one otherwise, since G1 and generational ZGC give every
//                             generation the whole heap as its maximum (and Shenandoah, ZGC
//                             before JDK 21 and Epsilon have one generation that holds it)
//   jvm_heap_committed_bytes  sum of sun.gc.generation.N.capacity
//   gc_cycles                 sum of sun.gc.collector.N.invocations (jstat's YGC+FGC+CGC; for
//                             the concurrent collectors these count pauses, not cycles)
//   gc_pause_seconds_total    sum of sun.gc.collector.N.time / sun.os.hrt.frequency
//   jvm_young_gc_cycles       invocations of the collectors whose name says young, minor or
//                             incremental (or PSScavenge, Copy, ParNew, DefNew); not
//                             "Shenandoah partial", which is no young collection
//   jvm_full_gc_cycles        invocations of the collectors whose name says full (or
//                             PSParallelCompact, PSMarkSweep, MSC), except Shenandoah's: its
//                             "Shenandoah full" counter counts every one of its pauses
//   jvm_old_used_bytes        used bytes of the spaces of the generation named "old"
//   jvm_old_capacity_bytes    that generation's capacity
//   jvm_metaspace_used_bytes  sun.gc.metaspace.used
// G1 before JDK 21 adds the object alignment (8 bytes) to each space's capacities so that none
// reads 0; G1 sizes are whole regions of at least 1 MiB, so its capacities are rounded down to a
// MiB. Returns how many signals were set. A malformed file, one the JVM has not finished setting
// up, or a counter index over 15 is an Error.
Result<std::size_t> mapHsperfdata(std::string_view bytes, Snapshot& out);

// The NSpid of a /proc/PID/status text: the pid in the innermost pid namespace (the last field of
// the NSpid line), or `pid` when there is no such line (kernels before 4.1).
Result<pid_t> parseNsPid(std::string_view status, pid_t pid);

// The hsperfdata file of a process, open for reading, and how messages name it.
struct HsperfdataFile {
  OwnedFd fd;
  std::string path;  // "pid 4242's root:/tmp/hsperfdata_app/7": for messages only, never opened
};

// The hsperfdata file of process `pid`, seen through its own root and mount namespace and only
// through the door (core/target_fs.h): /tmp/hsperfdata_<any user>/<NSpid>, where the
// hsperfdata_* directory is a real directory (not a symlink) and the file a regular file (not a
// symlink, FIFO or device) of the process's own user, at most kMaxHsperfdataBytes, opened without
// blocking. When several users' directories hold that name (a stale file of an earlier process),
// the newest wins. `pidfd` (when >= 0) is checked after the root is opened, so a reused pid
// cannot hand over another process's root. The Error names the directory tried and the likely
// causes, and never carries bytes of any file. The search runs with a deadline (`timeout`):
// the process's /tmp can be a FUSE file system it serves and stalls, and this runs on one of the
// daemon's read threads (core/target_fs.h: withTargetTimeout, keyed by the pid).
Result<HsperfdataFile> findHsperfdataFile(const HostPaths& paths, pid_t pid, int pidfd = -1,
                                          Duration timeout = kTargetReadTimeout);

}  // namespace oomsentinel
