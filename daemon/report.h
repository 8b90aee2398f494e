// daemon/: wiring and lifetime of the oomsentinel executable.
// How a sample is shown to people: the status table, the --watch row, and the JSON object.
#pragma once

#include <string>

#include "collectors/target_collector.h"
#include "core/snapshot.h"

namespace oomsentinel {

struct SampleContext {
  const TargetCollector* target = nullptr;
  std::string layout;  // "unified", "legacy", "hybrid" or "" for the host
};

std::string statusTable(const SampleContext& ctx, const Snapshot& s);
std::string watchHeader();
std::string watchRow(const Snapshot& s);
// One line of JSON: time, target, cgroup, and every present signal by name.
std::string snapshotJson(const SampleContext& ctx, const Snapshot& s);
// ISO 8601 UTC with milliseconds.
std::string formatWallTime(WallTime t);

}  // namespace oomsentinel
