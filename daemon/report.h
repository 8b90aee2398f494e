// daemon/: wiring and lifetime of the oomsentinel executable.
// How a sample is shown to people: the status table, the --watch row, and the JSON object.
#pragma once

#include <string>
#include <vector>

#include "collectors/runtime_endpoint.h"
#include "collectors/target_collector.h"
#include "core/snapshot.h"

namespace oomsentinel {

struct RuntimeEndpointLine {
  std::string format;  // "go_expvar", "metrics"
  std::string url;
  RuntimeEndpointState state;
  int pid = 0;  // jvm_perfdata: the JVM read (as this host numbers it)
};

struct SampleContext {
  const TargetCollector* target = nullptr;
  std::string layout;                        // "unified", "legacy", "hybrid" or "" for the host
  std::vector<RuntimeEndpointLine> runtime;  // the target's configured endpoints
};

// The runtime rows (heap, GC, allocation) appear when the target has runtime signals or
// endpoints.
std::string statusTable(const SampleContext& ctx, const Snapshot& s);
// `with_target`: a first column naming the target (several targets in one --watch).
std::string watchHeader(bool with_target = false);
std::string watchRow(const Snapshot& s, const std::string& target = {});
// One line of JSON: time, target, cgroup, and every present signal by name.
std::string snapshotJson(const SampleContext& ctx, const Snapshot& s);
// ISO 8601 UTC with milliseconds.
std::string formatWallTime(WallTime t);

}  // namespace oomsentinel
