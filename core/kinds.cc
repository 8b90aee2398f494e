#include "core/kinds.h"

#include <ostream>

namespace oomsentinel {

std::string_view name(ActionKind kind) {
  switch (kind) {
    case ActionKind::kLog:
      return "log";
    case ActionKind::kAlert:
      return "alert";
    case ActionKind::kDump:
      return "dump";
  }
  return "unknown";
}

std::string_view name(DumperKind kind) {
  switch (kind) {
    case DumperKind::kProc:
      return "proc";
    case DumperKind::kGperftools:
      return "gperftools";
    case DumperKind::kGoPprof:
      return "go_pprof";
    case DumperKind::kJvm:
      return "jvm";
    case DumperKind::kExec:
      return "exec";
  }
  return "unknown";
}

std::string_view name(DumpRefused kind) {
  switch (kind) {
    case DumpRefused::kCooldown:
      return "cooldown";
    case DumpRefused::kStormLimit:
      return "storm_limit";
    case DumpRefused::kBusy:
      return "busy";
    case DumpRefused::kStuck:
      return "stuck";
    case DumpRefused::kDegraded:
      return "degraded";
  }
  return "unknown";
}

std::optional<ActionKind> parseActionKind(std::string_view text) {
  for (ActionKind kind : kActionKinds)
    if (name(kind) == text) return kind;
  return std::nullopt;
}

std::optional<DumperKind> parseDumperKind(std::string_view text) {
  for (DumperKind kind : kDumperKinds)
    if (name(kind) == text) return kind;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& out, ActionKind kind) { return out << name(kind); }
std::ostream& operator<<(std::ostream& out, DumperKind kind) { return out << name(kind); }
std::ostream& operator<<(std::ostream& out, DumpRefused kind) { return out << name(kind); }

}  // namespace oomsentinel
