// actions/: what a rule's firing does (log, alert, dump), one class per action; daemon/ only
// wires them. Actions act and decide nothing: the rules decided.
// Action: the interface, what an action is told of the target, and where it says what it did.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/firing.h"
#include "core/kinds.h"
#include "core/snapshot.h"
#include "core/target.h"

namespace oomsentinel {

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Where actions say what they did: the daemon's Logger stands behind it (actions/ does not see
// daemon/), a recording fake in tests.
class ActionLog {
 public:
  enum class Level { kInfo, kWarning, kError };
  virtual ~ActionLog() = default;
  virtual void write(Level level, const std::string& msg, const LogFields& fields) = 0;
};

struct DumpPlan;  // actions/dump_action.h

// What an action is told of the target a rule fired on, at the firing: the daemon's view of it,
// flattened, so that actions/ needs neither collectors/ nor config/. Valid for the call only.
struct TargetContext {
  const Target& target;
  const Snapshot& snapshot;  // the read the rule fired on
  // What discovery said of it (Kubernetes names and ids); empty for a target the config names.
  const std::vector<std::pair<std::string, std::string>>& labels;
  // The last dump.history snapshots, a ring whose oldest entry is at `history_oldest`, holding
  // the signals inIncidentHistory keeps (actions/dump_action.h); an entry with none is not
  // written yet.
  const std::vector<SparseSnapshot>& history;
  std::size_t history_oldest = 0;
  std::string cgroup_dir;          // empty: no cgroup (the host, a process-only target, unresolved)
  std::optional<pid_t> jvm_pid;    // the JVM whose perf data is read, if one is
  const DumpPlan* dump = nullptr;  // the target's dump settings (null: none)
};

class Action {
 public:
  virtual ~Action() = default;
  // What rules call it in `actions:` (core/kinds.h; name(kind()) is the spelling). The
  // dispatcher looks it up once per rule and config, never per firing.
  virtual ActionKind kind() const = 0;
  // Why it cannot run under the present config, or empty; the dispatcher says so once and skips
  // it.
  virtual std::string_view unavailable() const { return {}; }
  // A rule went to firing on the target (and the cooldown let its actions run).
  virtual void fire(const Firing& f, const TargetContext& t) = 0;
  // A rule left firing, whatever the cooldown did: most actions have nothing to take back.
  virtual void resolve(const Firing& /*f*/) {}
};

}  // namespace oomsentinel
