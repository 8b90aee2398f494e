#include "core/signal.h"

#include <array>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace oomsentinel {
namespace {

constexpr std::array<std::string_view, id(Sig::kCount)> kWellKnown = {
    "usage_bytes",
    "limit_bytes",
    "usage_ratio",
    "working_set_bytes",
    "working_set_ratio",
    "anon_bytes",
    "file_bytes",
    "shmem_bytes",
    "inactive_file_bytes",
    "swap_bytes",
    "swap_limit_bytes",
    "high_bytes",
    "low_bytes",
    "min_bytes",
    "peak_bytes",
    "memsw_usage_bytes",
    "memsw_limit_bytes",
    "under_oom",
    "failcnt",
    "memsw_failcnt",
    "psi_some_avg10",
    "psi_some_avg60",
    "psi_some_avg300",
    "psi_some_total_seconds",
    "psi_full_avg10",
    "psi_full_avg60",
    "psi_full_avg300",
    "psi_full_total_seconds",
    "pgfault",
    "pgmajfault",
    "pgscan",
    "pgsteal",
    "workingset_refault",
    "events_low",
    "events_high",
    "events_max",
    "events_oom",
    "events_oom_kill",
    "events_oom_group_kill",
    "vmpressure_low",
    "vmpressure_medium",
    "vmpressure_critical",
    "rss_bytes",
    "rss_anon_bytes",
    "rss_file_bytes",
    "rss_shmem_bytes",
    "pss_bytes",
    "proc_swap_bytes",
    "proc_data_bytes",
    "proc_minflt",
    "proc_majflt",
    "process_count",
    "heap_alloc_bytes",
    "gc_cycles",
    "gc_pause_seconds_total",
    "time_to_oom_seconds",
    "capture_seconds",
};

struct Registry {
  std::shared_mutex mu;
  std::deque<std::string> names;  // deque: references stay valid as it grows
  std::unordered_map<std::string_view, SignalId> ids;

  Registry() {
    for (auto n : kWellKnown) add(n);
  }
  SignalId add(std::string_view name) {
    names.emplace_back(name);
    auto sid = static_cast<SignalId>(names.size() - 1);
    ids.emplace(names.back(), sid);
    return sid;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

SignalId internSignal(std::string_view name) {
  auto& r = registry();
  {
    std::shared_lock lock(r.mu);
    if (auto it = r.ids.find(name); it != r.ids.end()) return it->second;
  }
  std::unique_lock lock(r.mu);
  if (auto it = r.ids.find(name); it != r.ids.end()) return it->second;
  return r.add(name);
}

std::optional<SignalId> findSignal(std::string_view name) {
  auto& r = registry();
  std::shared_lock lock(r.mu);
  if (auto it = r.ids.find(name); it != r.ids.end()) return it->second;
  return std::nullopt;
}

std::string signalName(SignalId sid) {
  auto& r = registry();
  std::shared_lock lock(r.mu);
  return sid < r.names.size() ? r.names[sid] : std::string("signal#") + std::to_string(sid);
}

SignalId signalCount() {
  auto& r = registry();
  std::shared_lock lock(r.mu);
  return static_cast<SignalId>(r.names.size());
}

}  // namespace oomsentinel
