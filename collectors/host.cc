#include "collectors/host.h"

#include "collectors/cgroup_v2.h"
#include "collectors/parse.h"

namespace oomsentinel {

HostCollector::HostCollector(const HostPaths& paths)
    : meminfo_(paths.meminfo()), pressure_(paths.memoryPressure()), vmstat_(paths.vmstat()) {
  // PSI needs CONFIG_PSI and is off with psi=0 on the kernel command line.
  has_pressure_ = fileExists(pressure_.path());
}

namespace {

// /proc/vmstat: reclaim, refaults, faults and OOM kills.
Status setVmstatSignals(std::string_view vm, Snapshot& out) {
  double pgscan = 0, pgsteal = 0, refault = 0;
  bool scan = false, steal = false, ref = false;
  Status st = forEachKeyValue(vm, [&](std::string_view key, std::uint64_t v) {
    double d = static_cast<double>(v);
    // Newer kernels also split these by anon/file; summing by reclaimer avoids counting twice.
    // Recent kernels (6.18 has them) count proactive reclaim (memory.reclaim) on lines of its
    // own, where older ones counted it as direct: adding them keeps the sum comparable across
    // kernels and equal to pgscan_anon + pgscan_file.
    if (key == "pgscan_kswapd" || key == "pgscan_direct" || key == "pgscan_khugepaged" ||
        key == "pgscan_proactive") {
      pgscan += d;
      scan = true;
    } else if (key == "pgsteal_kswapd" || key == "pgsteal_direct" || key == "pgsteal_khugepaged" ||
               key == "pgsteal_proactive") {
      pgsteal += d;
      steal = true;
    } else if (key == "workingset_refault" || key == "workingset_refault_anon" ||
               key == "workingset_refault_file") {
      refault += d;
      ref = true;
    } else if (key == "pgfault") {
      out.set(Sig::kPgfault, d);
    } else if (key == "pgmajfault") {
      out.set(Sig::kPgmajfault, d);
    } else if (key == "oom_kill") {
      out.set(Sig::kEventsOomKill, d);
    }
  });
  if (!st) return st;
  if (scan) out.set(Sig::kPgscan, pgscan);
  if (steal) out.set(Sig::kPgsteal, pgsteal);
  if (ref) out.set(Sig::kWorkingsetRefault, refault);
  return Ok{};
}

}  // namespace

Status HostCollector::collect(Snapshot& out) {
  auto mi = meminfo_.read();
  if (!mi) return mi.error();
  std::optional<std::uint64_t> total, available, swap_total, swap_free;
  Status st = forEachKbLine(*mi, [&](std::string_view key, std::uint64_t v) {
    double d = static_cast<double>(v);
    if (key == "MemTotal")
      total = v;
    else if (key == "MemAvailable")
      available = v;
    else if (key == "SwapTotal")
      swap_total = v;
    else if (key == "SwapFree")
      swap_free = v;
    else if (key == "AnonPages")
      out.set(Sig::kAnonBytes, d);
    else if (key == "Cached")
      out.set(Sig::kFileBytes, d);
    else if (key == "Shmem")
      out.set(Sig::kShmemBytes, d);
    else if (key == "Inactive(file)")
      out.set(Sig::kInactiveFileBytes, d);
  });
  if (!st) return makeError(st.error().message, meminfo_.path());
  if (!total || !available)
    return makeError("MemTotal or MemAvailable missing (kernel older than 3.14?)", meminfo_.path());
  // MemAvailable already counts reclaimable page cache as free, so usage here is the host's
  // working set: there is no separate inactive_file to subtract.
  double usage = static_cast<double>(*total - std::min(*total, *available));
  out.set(Sig::kLimitBytes, static_cast<double>(*total));
  out.set(Sig::kUsageBytes, usage);
  out.set(Sig::kWorkingSetBytes, usage);
  if (swap_total && swap_free) {
    out.set(Sig::kSwapLimitBytes, static_cast<double>(*swap_total));
    out.set(Sig::kSwapBytes, static_cast<double>(*swap_total - std::min(*swap_total, *swap_free)));
  }

  if (has_pressure_) {
    auto p = pressure_.read();
    if (!p) return p.error();
    auto psi = parsePressure(*p);
    if (!psi) return makeError(psi.error().message, pressure_.path());
    setPressure(*psi, out);
  }

  auto vm = vmstat_.read();
  if (!vm) return vm.error();
  st = setVmstatSignals(*vm, out);
  if (!st) return makeError(st.error().message, vmstat_.path());
  return Ok{};
}

}  // namespace oomsentinel
