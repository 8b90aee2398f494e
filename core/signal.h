// core/: the shared vocabulary of oomsentinel.
// Signals: the names rules and outputs use for what the kernel and runtimes report, interned
// to small integer ids so that a snapshot is a flat array and a rule resolves a name once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oomsentinel {

using SignalId = std::uint32_t;

// The well-known signals (docs/signals.md; docs/architecture.md, "Names the outside world sees").
// Their ids are fixed; any other name (a raw memory.stat key, a runtime mapping) is interned at run
// time.
enum class Sig : SignalId {
  // levels
  kUsageBytes,
  kLimitBytes,
  kUsageRatio,
  kWorkingSetBytes,
  kWorkingSetRatio,
  kAnonBytes,
  kFileBytes,
  kShmemBytes,
  kInactiveFileBytes,
  kSwapBytes,
  kSwapLimitBytes,
  kHighBytes,
  kLowBytes,
  kMinBytes,
  kPeakBytes,
  kMemswUsageBytes,
  kMemswLimitBytes,
  kUnderOom,
  kFailcnt,
  kMemswFailcnt,
  // pressure (PSI): averages in percent, totals in seconds
  kPsiSomeAvg10,
  kPsiSomeAvg60,
  kPsiSomeAvg300,
  kPsiSomeTotalSeconds,
  kPsiFullAvg10,
  kPsiFullAvg60,
  kPsiFullAvg300,
  kPsiFullTotalSeconds,
  // counters
  kPgfault,
  kPgmajfault,
  kPgscan,
  kPgsteal,
  kWorkingsetRefault,
  kEventsLow,
  kEventsHigh,
  kEventsMax,
  kEventsOom,
  kEventsOomKill,
  kEventsOomGroupKill,
  // cgroup v1 vmpressure (memory.pressure_level): notifications at or above each level since
  // oomsentinel began listening, which it does only for a target whose rules name them
  kVmpressureLow,
  kVmpressureMedium,
  kVmpressureCritical,
  // the target's processes, summed
  kRssBytes,
  kRssAnonBytes,
  kRssFileBytes,
  kRssShmemBytes,
  kPssBytes,
  kProcSwapBytes,
  kProcDataBytes,
  kProcMinflt,
  kProcMajflt,
  kProcessCount,
  // runtimes and predictions (filled by later collectors and rules)
  kHeapAllocBytes,
  kGcCycles,
  kGcPauseSecondsTotal,
  kTimeToOomSeconds,
  // how long the target's capture takes (daemon/capture_times.h), set by the watchdog each read
  kCaptureSeconds,
  kCount  // not a signal: the number of well-known ids
};

constexpr SignalId id(Sig s) { return static_cast<SignalId>(s); }

// Name <-> id. Well-known names are fixed; others are added on first use. Thread-safe.
SignalId internSignal(std::string_view name);
std::optional<SignalId> findSignal(std::string_view name);
std::string signalName(SignalId id);
// Ids handed out so far (well-known plus interned).
SignalId signalCount();

}  // namespace oomsentinel
