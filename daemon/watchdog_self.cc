// The Watchdog's side of the self guard (daemon/self_guard.h): the check at the start of a tick,
// what entering and leaving degraded mode says, and the dumps refused while degraded.
#include <malloc.h>

#include <algorithm>

#include "collectors/target_collector.h"
#include "core/units.h"
#include "daemon/quiet_reads.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

namespace {

std::string ownMemory(const SelfGuard& g) {
  return "own memory " + formatBytes(g.used().value_or(0)) + " of limit " +
         (g.limit() ? formatBytes(*g.limit()) : std::string("none"));
}

}  // namespace

std::string Watchdog::degradedLine() const {
  if (!guard_.degraded()) return std::string();
  return "degraded: " + ownMemory(guard_) + "; reading targets by skim only, no dumps";
}

void Watchdog::setDumpSink(DumpSink* sink) {
  guarded_dumps_.inner = sink;
  dump_action_.setSink(sink ? &guarded_dumps_ : nullptr);
}

std::optional<DumpRefusal> Watchdog::GuardedDumpSink::refusal() {
  if (dog_.guard_.degraded()) {
    dog_.metrics_->degradedDropped("dump");
    return counted(DumpRefusal{DumpRefused::kDegraded, dog_.degradedLine()});
  }
  return counted(inner->refusal());
}

std::optional<DumpRefusal> Watchdog::GuardedDumpSink::submit(DumpJob job) {
  if (dog_.guard_.degraded()) {
    dog_.metrics_->degradedDropped("dump");
    return counted(DumpRefusal{DumpRefused::kDegraded, dog_.degradedLine()});
  }
  return counted(inner->submit(std::move(job)));
}

std::optional<DumpRefusal> Watchdog::GuardedDumpSink::counted(std::optional<DumpRefusal> r) {
  if (r) dog_.metrics_->dumpRefused(r->kind);
  return r;
}

void Watchdog::foldDegraded(Watched& w) {
  foldSkim(w);
  // The last full read's working set is stale: derived again (collectors' deriveSignals) from the
  // skim's usage and that read's inactive file, so that rules on it still see the climb.
  Snapshot& s = w.snapshot;
  if (!s.has(Sig::kUsageBytes) || !s.has(Sig::kInactiveFileBytes)) return;
  s.erase(id(Sig::kWorkingSetBytes));
  deriveSignals(s);
}

void Watchdog::checkSelf() {
  SelfGuard::Change change = guard_.check();
  metrics_->selfMemory(guard_.degraded(), guard_.used(), guard_.limit());
  if (change == SelfGuard::Change::kNone) return;
  if (change == SelfGuard::Change::kLeft) {
    log_.log(LogLevel::kInfo,
             "no longer degraded: " + ownMemory(guard_) + "; full reads and dumps resume",
             {{"below", formatValue(guard_.mark() - kDegradeHysteresis)}});
    return;
  }
  // glibc keeps freed memory in its arenas (one per read thread): give back what it can before
  // the reads shrink to skims. What it gave back is said, so that its worth is known.
  double before = guard_.used().value_or(0);
  ::malloc_trim(0);
  SelfGuard::Change again = guard_.check(/*now=*/true);
  std::string trimmed =
      guard_.used() ? formatBytes(std::max(0.0, before - *guard_.used())) : std::string("unknown");
  if (again == SelfGuard::Change::kLeft) {
    log_.log(LogLevel::kInfo,
             "own memory near its limit, but malloc_trim gave back enough: " + ownMemory(guard_) +
                 "; not degraded",
             {{"malloc_trim_freed", trimmed}});
    return;
  }
  log_.log(LogLevel::kWarning, degradedLine(),
           {{"mark", formatValue(guard_.mark())}, {"malloc_trim_freed", trimmed}});
}

}  // namespace oomsentinel
