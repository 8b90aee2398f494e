// collectors/: turning kernel text into Snapshots.
// Collector: one source (a cgroup, the host, a set of processes) adding its signals to a Snapshot.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/signal.h"
#include "core/snapshot.h"

namespace oomsentinel {

class Collector {
 public:
  virtual ~Collector() = default;
  // Adds this source's signals to `out`. An error means the source as a whole failed (its
  // cgroup is gone, a required file is unreadable or malformed); signals a source does not
  // offer are simply left absent.
  virtual Status collect(Snapshot& out) = 0;
  // The cheap part, read on every tick of a quiet target (one no rule can fire on): what moves
  // fast and decides whether a rule may fire (usage, pressure), and the limit as the last
  // collect() saw it. Sources with nothing cheap to offer add nothing.
  virtual Status skim(Snapshot& out) {
    (void)out;
    return Ok{};
  }
};

// Maps the keys of a flat keyed file to signal ids ("<prefix><key>"), remembering the order of
// the last read so that the steady state costs one string compare per line and no allocation.
class KeyedSignals {
 public:
  explicit KeyedSignals(std::string prefix) : prefix_(std::move(prefix)) {}
  SignalId idFor(std::size_t index, std::string_view key);

 private:
  std::string prefix_;
  std::vector<std::pair<std::string, SignalId>> seen_;
};

}  // namespace oomsentinel
