// daemon/: wiring and lifetime of the oomsentinel executable.
// Quiet reads (docs/design/quiet-targets.md): whether a skimmed target stays quiet this tick or
// is read again in full, and how a skim's values fold into the last full read's snapshot.
#pragma once

#include "config/config.h"
#include "core/snapshot.h"
#include "daemon/watched.h"
#include "rules/engine.h"

namespace oomsentinel {

// Margin added to a quiet target's usage_ratio before the rules' thresholds are compared with
// it: the full reads (and the history time_to_oom needs) start this far below a threshold.
inline constexpr double kQuietMargin = 0.05;
// A usage_ratio that fell this much since the last tick is read in full at once: an OOM kill
// frees what the killed process held, and the skim does not read the kill counters.
inline constexpr double kQuietDrop = 0.10;

// Remembers `s`'s usage_ratio; `growth` (per second) and `drop` since the last one, if asked.
void noteUsageRatio(Watched& w, const Snapshot& s, double* growth, double* drop);
// Whether the skim in `w.work` (runtime and kernel signals merged) leaves the target quiet: no
// rule may fire on it, and the poll policy would not go fast for it.
bool staysQuiet(Watched& w, const PollSpec& poll, const RuleEngine& engine);
// The skim's values replace the last full read's in `w.snapshot`.
void foldSkim(Watched& w);

}  // namespace oomsentinel
