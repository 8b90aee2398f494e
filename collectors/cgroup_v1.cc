#include "collectors/cgroup_v1.h"

#include <utility>

#include "collectors/parse.h"

namespace oomsentinel {

CgroupV1Collector::CgroupV1Collector(std::string dir) : dir_(std::move(dir)) {
  auto file = [&](const char* name) { return ControlFile(joinPath(dir_, name)); };
  usage_ = file("memory.usage_in_bytes");
  limit_ = file("memory.limit_in_bytes");
  max_usage_ = file("memory.max_usage_in_bytes");
  failcnt_ = file("memory.failcnt");
  stat_ = file("memory.stat");
  oom_control_ = file("memory.oom_control");
  memsw_usage_ = file("memory.memsw.usage_in_bytes");
  memsw_limit_ = file("memory.memsw.limit_in_bytes");
  memsw_failcnt_ = file("memory.memsw.failcnt");
  // memsw files exist only with swap accounting (swapaccount=1); decided once.
  has_memsw_ = fileExists(memsw_usage_.path());
}

Status CgroupV1Collector::readNumber(ControlFile& f, Sig sig, Snapshot& out, bool limit) {
  auto text = f.read();
  if (!text) return text.error();
  auto v = parseU64(*text);
  if (!v) return makeError(v.error().message, f.path());
  if (limit && isV1Unlimited(*v)) return Ok{};
  out.set(sig, static_cast<double>(*v));
  return Ok{};
}

Status CgroupV1Collector::collect(Snapshot& out) {
  if (auto s = readNumber(usage_, Sig::kUsageBytes, out, false); !s) return s;
  if (auto s = readNumber(limit_, Sig::kLimitBytes, out, true); !s) return s;
  if (auto s = readNumber(max_usage_, Sig::kPeakBytes, out, false); !s) return s;
  // failcnt counts the times usage hit the limit: v2's events "max" means the same.
  if (auto s = readNumber(failcnt_, Sig::kFailcnt, out, false); !s) return s;
  double events_max = *out.get(Sig::kFailcnt);
  if (has_memsw_) {
    if (auto s = readNumber(memsw_usage_, Sig::kMemswUsageBytes, out, false); !s) return s;
    if (auto s = readNumber(memsw_limit_, Sig::kMemswLimitBytes, out, true); !s) return s;
    // A charge checks memory+swap first: with equal limits only memsw.failcnt moves.
    if (auto s = readNumber(memsw_failcnt_, Sig::kMemswFailcnt, out, false); !s) return s;
    events_max += *out.get(Sig::kMemswFailcnt);
  }
  out.set(Sig::kEventsMax, events_max);

  auto stat = stat_.read();
  if (!stat) return stat.error();
  std::size_t i = 0;
  double refault = 0;
  bool have_refault = false;
  std::optional<double> hierarchical_limit;
  // The total_* keys include the descendants (use_hierarchy=1, always on since 5.x): they are
  // the ones that match what the kernel charges against the limit.
  Status st = forEachKeyValue(*stat, [&](std::string_view key, std::uint64_t v) {
    double d = static_cast<double>(v);
    out.set(stat_keys_.idFor(i++, key), d);
    if (key == "total_rss")
      out.set(Sig::kAnonBytes, d);
    else if (key == "total_cache")
      out.set(Sig::kFileBytes, d);
    else if (key == "total_shmem")
      out.set(Sig::kShmemBytes, d);
    else if (key == "total_inactive_file")
      out.set(Sig::kInactiveFileBytes, d);
    else if (key == "total_swap")
      out.set(Sig::kSwapBytes, d);
    else if (key == "total_pgfault")
      out.set(Sig::kPgfault, d);
    else if (key == "total_pgmajfault")
      out.set(Sig::kPgmajfault, d);
    else if (key == "total_workingset_refault" || key == "total_workingset_refault_anon" ||
             key == "total_workingset_refault_file") {
      refault += d;
      have_refault = true;
    } else if (key == "hierarchical_memory_limit" && !isV1Unlimited(v)) {
      hierarchical_limit = d;
    }
  });
  if (!st) return makeError(st.error().message, stat_.path());
  if (have_refault) out.set(Sig::kWorkingsetRefault, refault);
  // A parent's limit binds this cgroup too: the kernel computes the smallest one for us.
  if (hierarchical_limit) {
    auto own = out.get(Sig::kLimitBytes);
    if (!own || *hierarchical_limit < *own) out.set(Sig::kLimitBytes, *hierarchical_limit);
  }

  last_limit_ = out.get(Sig::kLimitBytes);
  return readOomControl(out);
}

Status CgroupV1Collector::readOomControl(Snapshot& out) {
  auto oom = oom_control_.read();
  if (!oom) return oom.error();
  Status st = forEachKeyValue(*oom, [&](std::string_view key, std::uint64_t v) {
    if (key == "oom_kill")
      out.set(Sig::kEventsOomKill, static_cast<double>(v));
    else if (key == "under_oom")
      out.set(Sig::kUnderOom, static_cast<double>(v));
  });
  if (!st) return makeError(st.error().message, oom_control_.path());
  return Ok{};
}

Status CgroupV1Collector::skim(Snapshot& out) {
  if (auto s = readNumber(usage_, Sig::kUsageBytes, out, false); !s) return s;
  if (last_limit_) out.set(Sig::kLimitBytes, *last_limit_);
  return Ok{};
}

}  // namespace oomsentinel
