#include "collectors/hsperfdata.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

#include "collectors/control_file.h"
#include "collectors/parse.h"
#include "core/target_fs.h"

namespace oomsentinel {
namespace {

constexpr std::uint32_t kMagic = 0xcafec0c0;
constexpr int kMajorVersion = 2;

std::string at(std::size_t offset) { return " at offset " + std::to_string(offset); }

// Unsigned integers of the file's byte order, from any alignment. The caller has checked that
// the bytes are there.
template <typename T>
T load(std::string_view bytes, std::size_t offset, bool little) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, bytes.data() + offset, sizeof(T));
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    std::size_t shift = 8 * (little ? i : sizeof(T) - 1 - i);
    v |= static_cast<T>(static_cast<T>(b[i]) << shift);
  }
  return v;
}

// The file's 32-bit fields are Java ints; a negative one is as wrong as an oversized one, and the
// check against the file's size catches both when they are read as unsigned.
std::size_t typeSize(char type) {
  switch (type) {
    case 'B':  // byte
    case 'Z':  // boolean
      return 1;
    case 'C':  // char
    case 'S':  // short
      return 2;
    case 'I':  // int
    case 'F':  // float
      return 4;
    case 'J':  // long
    case 'D':  // double
      return 8;
    default:
      return 0;
  }
}

}  // namespace

Result<PerfPrologue> parsePerfPrologue(std::string_view bytes) {
  if (bytes.size() > kMaxHsperfdataBytes)
    return makeError("hsperfdata: file of " + std::to_string(bytes.size()) +
                     " bytes is over 1 MiB");
  if (bytes.size() < kPerfPrologueSize)
    return makeError("hsperfdata: truncated: " + std::to_string(bytes.size()) +
                     " bytes, the prologue alone is 32");
  PerfPrologue p;
  std::uint32_t magic = load<std::uint32_t>(bytes, 0, /*little=*/false);
  if (magic != kMagic)
    // The file's bytes are not shown: a file that is not an hsperfdata file may be anything.
    return makeError("hsperfdata: bad magic" + at(0) +
                     " (expected 0xcafec0c0; the file's bytes are not shown)");
  auto order = static_cast<unsigned char>(bytes[4]);
  if (order > 1)
    return makeError("hsperfdata: byte order flag" + at(4) +
                     " is neither 0 (big-endian) nor 1 (little-endian)");
  p.little_endian = order == 1;
  p.major = static_cast<unsigned char>(bytes[5]);
  p.minor = static_cast<unsigned char>(bytes[6]);
  if (p.major != kMajorVersion)
    return makeError("hsperfdata: version " + std::to_string(p.major) + "." +
                     std::to_string(p.minor) + at(5) + " is not supported (2.x is)");
  p.accessible = bytes[7] != 0;
  if (!p.accessible)
    return makeError("hsperfdata: not accessible yet (flag" + at(7) +
                     " is 0): the JVM is still initialising");
  const bool le = p.little_endian;
  p.used = load<std::uint32_t>(bytes, 8, le);
  p.overflow = load<std::uint32_t>(bytes, 12, le);
  p.mod_time_stamp = static_cast<std::int64_t>(load<std::uint64_t>(bytes, 16, le));
  p.entry_offset = load<std::uint32_t>(bytes, 24, le);
  p.num_entries = load<std::uint32_t>(bytes, 28, le);
  if (p.used < kPerfPrologueSize || p.used > bytes.size())
    return makeError("hsperfdata: used size " + std::to_string(static_cast<std::int32_t>(p.used)) +
                     at(8) + " is outside the " + std::to_string(bytes.size()) + "-byte file");
  if (p.entry_offset < kPerfPrologueSize || p.entry_offset > p.used)
    return makeError("hsperfdata: entry offset " +
                     std::to_string(static_cast<std::int32_t>(p.entry_offset)) + at(24) +
                     " is outside the used " + std::to_string(p.used) + " bytes");
  std::size_t room = (p.used - p.entry_offset) / kPerfEntryHeaderSize;
  if (p.num_entries > room)
    return makeError("hsperfdata: " + std::to_string(static_cast<std::int32_t>(p.num_entries)) +
                     " entries" + at(28) + " do not fit in the " +
                     std::to_string(p.used - p.entry_offset) + " bytes after the prologue");
  return p;
}

namespace perf_detail {

Result<PerfEntry> entryAt(std::string_view bytes, const PerfPrologue& p, std::size_t offset,
                          std::uint32_t index) {
  auto where = [&] { return "hsperfdata: entry " + std::to_string(index) + at(offset); };
  const std::size_t end = p.used;  // parsePerfPrologue checked used <= bytes.size()
  if (offset > end || end - offset < kPerfEntryHeaderSize)
    return makeError(where() + ": its header runs past the used " + std::to_string(end) + " bytes");
  const bool le = p.little_endian;
  PerfEntry e;
  e.offset = offset;
  e.length = load<std::uint32_t>(bytes, offset, le);
  std::uint32_t name_offset = load<std::uint32_t>(bytes, offset + 4, le);
  e.vector_length = load<std::uint32_t>(bytes, offset + 8, le);
  e.type = bytes[offset + 12];
  e.flags = static_cast<std::uint8_t>(bytes[offset + 13]);
  e.units = static_cast<PerfUnits>(bytes[offset + 14]);
  e.variability = static_cast<PerfVariability>(bytes[offset + 15]);
  std::uint32_t data_offset = load<std::uint32_t>(bytes, offset + 16, le);

  // As a Java int: a negative length would walk backwards.
  if (static_cast<std::int32_t>(e.length) < static_cast<std::int32_t>(kPerfEntryHeaderSize))
    return makeError(where() + ": length " + std::to_string(static_cast<std::int32_t>(e.length)) +
                     " is shorter than an entry header (20)");
  if (e.length > end - offset)
    return makeError(where() + ": length " + std::to_string(static_cast<std::int32_t>(e.length)) +
                     " runs past the used " + std::to_string(end) + " bytes");
  if (name_offset < kPerfEntryHeaderSize || name_offset >= e.length)
    return makeError(where() + ": name offset " +
                     std::to_string(static_cast<std::int32_t>(name_offset)) +
                     " is outside the entry (length " + std::to_string(e.length) + ")");
  std::string_view rest = bytes.substr(offset + name_offset, e.length - name_offset);
  std::size_t nul = rest.find('\0');
  if (nul == std::string_view::npos)
    return makeError(where() + ": name" + at(offset + name_offset) +
                     " is not NUL-terminated within the entry");
  if (nul == 0) return makeError(where() + ": empty name" + at(offset + name_offset));
  e.name = rest.substr(0, nul);

  std::size_t size = typeSize(e.type);
  if (size == 0) return e;  // a type this reader does not know: passed on without a value
  if (e.vector_length > std::numeric_limits<std::int32_t>::max())
    return makeError(where() + " ('" + std::string(e.name) + "'): vector length " +
                     std::to_string(static_cast<std::int32_t>(e.vector_length)) + " is negative");
  std::size_t data_size = size * (e.vector_length == 0 ? 1 : e.vector_length);
  if (data_offset < kPerfEntryHeaderSize || data_offset > e.length ||
      data_size > e.length - data_offset)
    return makeError(where() + " ('" + std::string(e.name) + "'): data offset " +
                     std::to_string(static_cast<std::int32_t>(data_offset)) + " and " +
                     std::to_string(data_size) + " bytes of data run outside the entry (length " +
                     std::to_string(e.length) + ")");
  std::size_t data = offset + data_offset;
  e.data = data;
  if (e.type == 'J' && e.vector_length == 0)
    e.value = static_cast<std::int64_t>(load<std::uint64_t>(bytes, data, le));
  if (e.type == 'B' && e.vector_length > 0) {
    std::string_view v = bytes.substr(data, e.vector_length);
    std::size_t z = v.find('\0');
    e.text = z == std::string_view::npos ? v : v.substr(0, z);
  }
  return e;
}

}  // namespace perf_detail

namespace {

constexpr std::size_t kMaxIndex = 16;  // generations, spaces per generation, collectors

struct Gen {
  bool has_max = false, has_cap = false, has_used = false;
  double max = 0, cap = 0, used = 0;
  std::string_view name;
};
struct GcCollector {
  bool has_invocations = false, has_time = false;
  double invocations = 0, time = 0;
  std::string_view name;
};

// "12.rest" -> 12 and "rest". False when there is no index or it is too large.
bool splitIndex(std::string_view s, std::size_t& index, std::string_view& rest) {
  std::size_t i = 0;
  std::size_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    v = v * 10 + static_cast<std::size_t>(s[i] - '0');
    if (v >= 1000) return false;
    ++i;
  }
  if (i == 0 || i >= s.size() || s[i] != '.') return false;
  index = v;
  rest = s.substr(i + 1);
  return true;
}

bool contains(std::string_view s, std::string_view word) {
  return s.find(word) != std::string_view::npos;
}

// HotSpot's collector names: JDK 17 and later say "young"/"full" ("G1 young collection pauses",
// "Parallel full collection pauses", "ZGC minor collection pauses"); JDK 8-16 used "G1 incremental
// collections", "G1 stop-the-world full collections", "PSScavenge", "PSParallelCompact", "Copy",
// "MSC", "ParNew".
bool isYoungCollector(std::string_view n) {
  return contains(n, "young") || contains(n, "minor") || contains(n, "incremental") ||
         n == "PSScavenge" || n == "Copy" || n == "ParNew" || n == "DefNew";
}
bool isFullCollector(std::string_view n) {
  // Shenandoah puts each of its pauses, concurrent cycle or not, on its "Shenandoah full" counter.
  if (n.substr(0, 10) == "Shenandoah") return false;
  return contains(n, "full") || n == "PSParallelCompact" || n == "PSMarkSweep" || n == "MSC" ||
         n == "MarkSweepCompact";
}

double floorMiB(double v) {
  constexpr double kMiB = 1 << 20;
  return static_cast<double>(static_cast<std::uint64_t>(v / kMiB)) * kMiB;
}

}  // namespace

namespace {

// What the JVM's counters say about its generations and collectors, indexed as they are named.
struct PerfTotals {
  Gen gens[kMaxIndex];
  GcCollector collectors[kMaxIndex];
  bool has_freq = false, has_meta = false, has_policy = false;
  double freq = 0, meta = 0;
  std::string_view policy;
  Error bad;  // the first value that cannot be taken (its message empty when none)
};

// Reads the sun.gc.* counters (and the tick frequency) of `bytes` into `t`.
Status readPerfTotals(std::string_view bytes, PerfTotals& t) {
  constexpr std::string_view kGen = "sun.gc.generation.";
  constexpr std::string_view kColl = "sun.gc.collector.";
  return forEachPerfEntry(bytes, [&](const PerfEntry& e) {
    if (!t.bad.message.empty()) return;
    std::string_view n = e.name;
    if (n.substr(0, 7) != "sun.gc." && n != "sun.os.hrt.frequency") return;
    auto number = [&](double& dst, bool& has) {
      if (!e.isLong()) return;
      if (e.value < 0) {
        t.bad = makeError("hsperfdata: '" + std::string(n) + "'" + at(e.offset) + " is negative (" +
                          std::to_string(e.value) + ")");
        return;
      }
      dst = static_cast<double>(e.value);
      has = true;
    };
    auto tooMany = [&] {
      t.bad = makeError("hsperfdata: '" + std::string(n) + "'" + at(e.offset) +
                        " has an index over " + std::to_string(kMaxIndex - 1));
    };
    std::size_t i = 0;
    std::string_view rest;
    if (n.substr(0, kGen.size()) == kGen) {
      if (!splitIndex(n.substr(kGen.size()), i, rest)) return;
      if (i >= kMaxIndex) return tooMany();
      Gen& g = t.gens[i];
      if (rest == "maxCapacity") {
        number(g.max, g.has_max);
      } else if (rest == "capacity") {
        number(g.cap, g.has_cap);
      } else if (rest == "name") {
        if (e.isString()) g.name = e.text;
      } else if (rest.substr(0, 6) == "space.") {
        std::size_t s = 0;
        std::string_view field;
        if (!splitIndex(rest.substr(6), s, field) || field != "used") return;
        if (s >= kMaxIndex) return tooMany();
        double used = 0;
        bool has = false;
        number(used, has);
        if (has) {
          g.used += used;
          g.has_used = true;
        }
      }
    } else if (n.substr(0, kColl.size()) == kColl) {
      if (!splitIndex(n.substr(kColl.size()), i, rest)) return;
      if (i >= kMaxIndex) return tooMany();
      GcCollector& c = t.collectors[i];
      if (rest == "invocations")
        number(c.invocations, c.has_invocations);
      else if (rest == "time")
        number(c.time, c.has_time);
      else if (rest == "name" && e.isString())
        c.name = e.text;
    } else if (n == "sun.os.hrt.frequency") {
      number(t.freq, t.has_freq);
    } else if (n == "sun.gc.metaspace.used") {
      number(t.meta, t.has_meta);
    } else if (n == "sun.gc.policy.name" && e.isString()) {
      t.policy = e.text;
      t.has_policy = true;
    }
  });
}

// The heap's signals from the generations; how many were set.
std::size_t setHeapSignals(const PerfTotals& t, Snapshot& out) {
  static const SignalId kHeapLimit = internSignal("heap_limit_bytes");
  static const SignalId kCommitted = internSignal("jvm_heap_committed_bytes");
  static const SignalId kOldUsed = internSignal("jvm_old_used_bytes");
  static const SignalId kOldCapacity = internSignal("jvm_old_capacity_bytes");

  const bool g1 = t.policy == "GarbageFirst";
  // Serial and Parallel (and CMS) split the heap into generations; the region-based collectors
  // show it whole in each. Without a policy name (ZGC, Shenandoah, Epsilon, or a JVM this reader
  // does not know) the largest is taken, which is also right for one generation and would rather
  // understate a limit than double it.
  const bool split = t.has_policy && !g1;
  auto unpad = [&](double v) { return g1 ? floorMiB(v) : v; };

  std::size_t set = 0;
  double used = 0, limit = 0, committed = 0;
  bool has_used = false, has_limit = false, has_committed = false;
  for (const Gen& g : t.gens) {
    if (g.has_used) {
      used += g.used;
      has_used = true;
    }
    if (g.has_max) {
      double m = unpad(g.max);
      limit = split ? limit + m : std::max(limit, m);
      has_limit = true;
    }
    if (g.has_cap) {
      committed += unpad(g.cap);
      has_committed = true;
    }
    if (g.name == "old") {
      if (g.has_used) {
        out.set(kOldUsed, g.used);
        ++set;
      }
      if (g.has_cap) {
        out.set(kOldCapacity, unpad(g.cap));
        ++set;
      }
    }
  }
  if (has_used) {
    out.set(Sig::kHeapAllocBytes, used);
    ++set;
  }
  if (has_limit) {
    out.set(kHeapLimit, limit);
    ++set;
  }
  if (has_committed) {
    out.set(kCommitted, committed);
    ++set;
  }

  return set;
}

// The collectors' signals (cycles, pause time) and the metaspace; how many were set.
std::size_t setGcSignals(const PerfTotals& t, Snapshot& out) {
  static const SignalId kYoung = internSignal("jvm_young_gc_cycles");
  static const SignalId kFull = internSignal("jvm_full_gc_cycles");
  static const SignalId kMetaspace = internSignal("jvm_metaspace_used_bytes");

  std::size_t set = 0;
  double invocations = 0, ticks = 0, young = 0, full = 0;
  bool has_invocations = false, has_ticks = false, has_young = false, has_full = false;
  for (const GcCollector& c : t.collectors) {
    if (c.has_invocations) {
      invocations += c.invocations;
      has_invocations = true;
      if (isYoungCollector(c.name)) {
        young += c.invocations;
        has_young = true;
      } else if (isFullCollector(c.name)) {
        full += c.invocations;
        has_full = true;
      }
    }
    if (c.has_time) {
      ticks += c.time;
      has_ticks = true;
    }
  }
  if (has_invocations) {
    out.set(Sig::kGcCycles, invocations);
    ++set;
  }
  if (has_ticks && t.has_freq && t.freq > 0) {
    out.set(Sig::kGcPauseSecondsTotal, ticks / t.freq);
    ++set;
  }
  if (has_young) {
    out.set(kYoung, young);
    ++set;
  }
  if (has_full) {
    out.set(kFull, full);
    ++set;
  }
  if (t.has_meta) {
    out.set(kMetaspace, t.meta);
    ++set;
  }
  return set;
}

}  // namespace

Result<std::size_t> mapHsperfdata(std::string_view bytes, Snapshot& out) {
  PerfTotals t;
  if (Status st = readPerfTotals(bytes, t); !st) return st.error();
  if (!t.bad.message.empty()) return t.bad;
  std::size_t set = setHeapSignals(t, out);
  return set + setGcSignals(t, out);
}

Result<pid_t> parseNsPid(std::string_view status, pid_t pid) {
  std::string_view line;
  while (nextLine(status, line)) {
    if (line.substr(0, 6) != "NSpid:") continue;
    std::string_view fields = trim(line.substr(6));
    std::size_t sp = fields.find_last_of(" \t");
    std::string_view last = sp == std::string_view::npos ? fields : fields.substr(sp + 1);
    auto v = parseU64(last);
    if (!v || *v == 0 || *v > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max()))
      return makeError("NSpid line " + parse_detail::quoted(line) + " does not end in a pid");
    return static_cast<pid_t>(*v);
  }
  return pid;
}

namespace {

Result<HsperfdataFile> findHsperfdataFileNow(const HostPaths& paths, pid_t pid, int pidfd) {
  std::string status_path = paths.proc(pid, "status");
  auto status = readWholeFile(status_path);
  if (!status) return status.error();
  auto nspid = parseNsPid(*status, pid);
  if (!nspid) return makeError(nspid.error().message, status_path);
  const std::string file = std::to_string(*nspid);

  // The process's /tmp as the process sees it: its mount namespace, its container's tmpfs. Its
  // files are the process's to arrange as it likes: a symlink there could name any host file.
  auto fs = TargetFs::open(paths, pid, pidfd, TargetAnchor::kRoot);
  if (!fs) return fs.error();
  const std::string tmp_where = fs->where() + ":/tmp";
  auto tmp = fs->openDir("/tmp");
  if (!tmp) {
    int e = tmp.error().errnum;
    return makeError(e == EACCES || e == EPERM
                         ? "cannot list the process's /tmp (another user's process: reading its "
                           "root needs root or CAP_SYS_PTRACE)"
                         : "cannot list the process's /tmp",
                     tmp_where, e);
  }
  auto entries = listTargetDir(tmp->get(), tmp_where);
  if (!entries) return entries.error();

  TargetFileRules rules;
  rules.max_bytes = kMaxHsperfdataBytes;
  rules.owner = fs->owner();
  std::optional<HsperfdataFile> best;
  struct timespec best_mtime {};
  std::optional<Error> refused;  // a candidate that exists but is not taken, and why
  for (const TargetDirEntry& d : *entries) {
    if (d.name.substr(0, 11) != "hsperfdata_") continue;
    // A real directory only: a symlinked hsperfdata_x would take us wherever it points.
    if (!S_ISDIR(d.st.st_mode)) continue;
    const std::string where = tmp_where + "/" + d.name;
    auto dir = openTargetDirAt(tmp->get(), d.name, tmp_where);
    if (!dir) {
      if (dir.error().errnum == EACCES && !refused)
        refused =
            makeError("hsperfdata directory not readable (another user's JVM)", where, EACCES);
      continue;
    }
    auto fd = openTargetFileAt(dir->get(), file, rules, where);
    if (!fd) {
      if (fd.error().errnum != ENOENT && !refused) refused = fd.error();
      continue;
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) continue;
    bool newer = st.st_mtim.tv_sec > best_mtime.tv_sec || (st.st_mtim.tv_sec == best_mtime.tv_sec &&
                                                           st.st_mtim.tv_nsec > best_mtime.tv_nsec);
    if (!best || newer) {
      best = HsperfdataFile{std::move(*fd), where + "/" + file};
      best_mtime = st.st_mtim;
    }
  }
  if (best) return std::move(*best);
  if (refused) return *refused;
  return makeError("no hsperfdata file hsperfdata_*/" + file + " (pid " + std::to_string(pid) +
                       " is " + file +
                       " in its namespace): not a JVM, a JVM still starting, or one run with "
                       "-XX:-UsePerfData or -XX:+PerfDisableSharedMem (java.io.tmpdir does not "
                       "move the file: it is always under /tmp)",
                   tmp_where, ENOENT);
}

}  // namespace

Result<HsperfdataFile> findHsperfdataFile(const HostPaths& paths, pid_t pid, int pidfd,
                                          Duration timeout) {
  // The worker may outlive this call: it owns a copy of the paths and of the pidfd.
  std::shared_ptr<OwnedFd> own_pidfd;
  if (pidfd >= 0) {
    own_pidfd = std::make_shared<OwnedFd>(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
    if (own_pidfd->get() < 0) return makeError("cannot duplicate the pidfd", "", errno);
  }
  return withTargetTimeout<HsperfdataFile>(
      "pid " + std::to_string(pid), timeout, [paths, pid, own_pidfd]() {
        return findHsperfdataFileNow(paths, pid, own_pidfd ? own_pidfd->get() : -1);
      });
}

}  // namespace oomsentinel
