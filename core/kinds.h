// core/: the shared vocabulary of oomsentinel.
// The fixed kinds the config names and the daemon dispatches on: a rule's actions and a target's
// dumpers. Each has one spelling, name(), which the config reads and prints, the logs write and
// the metrics' labels carry; the rest of the code compares the enums, never the text.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oomsentinel {

// What a rule does when it fires (rules: actions: [log, alert, dump]).
enum class ActionKind { kLog, kAlert, kDump };
// Every action, in the order messages list them.
inline constexpr ActionKind kActionKinds[] = {ActionKind::kLog, ActionKind::kAlert,
                                              ActionKind::kDump};

// What the dump action captures for a target (targets: dumpers: [proc, ...]).
enum class DumperKind { kProc, kGperftools, kGoPprof, kJvm, kExec };
// Every dumper, in the order messages list them.
inline constexpr DumperKind kDumperKinds[] = {DumperKind::kProc, DumperKind::kGperftools,
                                              DumperKind::kGoPprof, DumperKind::kJvm,
                                              DumperKind::kExec};

// Why a firing's dump did not start: the target's cooldown (dump.target_cooldown), the storm
// limit (dump.per_minute), every dump slot taken, dumpers stuck past their deadline, or the daemon
// degraded near its own memory limit. The label of oomsentinel_dumps_refused_total.
enum class DumpRefused { kCooldown, kStormLimit, kBusy, kStuck, kDegraded };
inline constexpr DumpRefused kDumpRefusals[] = {DumpRefused::kCooldown, DumpRefused::kStormLimit,
                                                DumpRefused::kBusy, DumpRefused::kStuck,
                                                DumpRefused::kDegraded};

// "log", "alert", "dump"; "proc", "gperftools", "go_pprof", "jvm", "exec"; "cooldown",
// "storm_limit", "busy", "stuck", "degraded".
std::string_view name(ActionKind kind);
std::string_view name(DumperKind kind);
std::string_view name(DumpRefused kind);
// The kind `text` names exactly (as name() spells it); nullopt for anything else.
std::optional<ActionKind> parseActionKind(std::string_view text);
std::optional<DumperKind> parseDumperKind(std::string_view text);

// The names of a list of kinds, in its order.
template <class Kinds>
std::vector<std::string> names(const Kinds& kinds) {
  std::vector<std::string> out;
  for (auto kind : kinds) out.emplace_back(name(kind));
  return out;
}

// name(), so that a test's failure message shows the kind.
std::ostream& operator<<(std::ostream& out, ActionKind kind);
std::ostream& operator<<(std::ostream& out, DumperKind kind);
std::ostream& operator<<(std::ostream& out, DumpRefused kind);

}  // namespace oomsentinel
