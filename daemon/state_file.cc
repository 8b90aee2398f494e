#include "daemon/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "collectors/control_file.h"
#include "core/units.h"
#include "daemon/kernel_wakeups.h"
#include "daemon/watchdog.h"

namespace oomsentinel {
namespace {

double unixSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Seconds from the file as a Duration; one that is not finite or beyond a year reads as 0, since
// converting such a double to the Duration's integer count is undefined behaviour.
Duration secondsOrZero(double s) {
  if (!std::isfinite(s) || s < 0 || s > 365.0 * 24 * 3600) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// An integer field, or 0 when it is absent, not an integer or beyond an int: value<int>() would
// convert a float such as 1e300 with undefined behaviour.
int intOrZero(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number_integer()) return 0;
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    return v > static_cast<std::uint64_t>(INT_MAX) ? 0 : static_cast<int>(v);
  }
  auto v = it->get<std::int64_t>();
  return v > INT_MAX || v < INT_MIN ? 0 : static_cast<int>(v);
}

std::string summaryOf(const nlohmann::json& j, const std::string& path, const Clock& clock,
                      Duration stale_after);

// A number field, or 0 when it is absent or not a finite number.
double numberOrZero(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return 0;
  double v = it->get<double>();
  return std::isfinite(v) ? v : 0;
}

// "  capture of api: 0.35s (proc 0.05s by default; go_pprof 0.30s, the p90 of 4 dumps)".
std::string captureLine(const nlohmann::json& t) {
  auto parts = t.find("capture");
  if (!t.contains("capture_seconds") || parts == t.end() || !parts->is_array()) return "";
  char buf[128];
  std::snprintf(buf, sizeof buf, "  capture of %s: %.2fs (",
                t.value("name", std::string("?")).c_str(), numberOrZero(t, "capture_seconds"));
  std::string line = buf;
  bool first = true;
  for (const auto& p : *parts) {
    if (!p.is_object()) continue;
    int learned = intOrZero(p, "learned");
    std::snprintf(buf, sizeof buf, "%s%s %.2fs", first ? "" : "; ",
                  p.value("dumper", std::string("?")).c_str(), numberOrZero(p, "seconds"));
    line += buf;
    line += learned == 0
                ? std::string(" by default")
                : ", the p90 of " + std::to_string(learned) + (learned == 1 ? " dump" : " dumps");
    first = false;
  }
  return line + ")\n";
}

}  // namespace

std::string stateJson(const Watchdog& dog, const Clock& clock, const KernelWakeups* wakeups) {
  nlohmann::ordered_json j;
  WallTime wall = clock.wallNow();
  SteadyTime steady = clock.steadyNow();
  j["unix_time"] = unixSeconds(wall);
  // For the age `status` prints: the monotonic clock is the host's (one origin for every process
  // of a boot) and a step of the wall clock does not move it, so the age measured on it is never
  // negative after a step back nor an hour after a step forward.
  j["steady_seconds"] = std::chrono::duration<double>(steady.time_since_epoch()).count();
  j["pid"] = ::getpid();
  j["config"] = dog.config().source;
  j["interval_seconds"] = toSeconds(dog.interval());
  j["fast"] = dog.interval() < dog.config().poll.interval;
  j["ticks"] = dog.ticks();
  if (dog.degraded()) j["degraded"] = dog.degradedLine();  // the self guard (daemon/self_guard.h)
  if (wakeups) {
    auto s = wakeups->summary();
    nlohmann::ordered_json w;
    w["enabled"] = s.enabled;
    w["v1_targets"] = s.v1_armed;
    w["v2_targets"] = s.v2_watched;
    if (s.host_window) {
      w["host_psi_window_seconds"] = toSeconds(*s.host_window);
      w["host_psi_widened"] = s.host_widened;
    }
    if (s.cgroup_window) {
      w["cgroup_psi_window_seconds"] = toSeconds(*s.cgroup_window);
      w["cgroup_psi_widened"] = s.cgroup_widened;
    }
    j["wakeups"] = w;
  }
  auto& targets = j["targets"] = nlohmann::ordered_json::array();
  for (const auto& t : dog.config().targets) {
    nlohmann::ordered_json o;
    o["name"] = t.target.name;
    o["kind"] = targetKindName(t.target.kind);
    const Snapshot* s = dog.lastSnapshot(t.target.name);
    o["watching"] = s != nullptr;
    if (s) {
      if (auto r = s->get(Sig::kWorkingSetRatio)) o["working_set_ratio"] = *r;
      if (auto tto = s->get(Sig::kTimeToOomSeconds); tto && std::isfinite(*tto))
        o["time_to_oom_seconds"] = *tto;
      if (auto c = s->get(Sig::kCaptureSeconds)) o["capture_seconds"] = *c;
      auto& parts = o["capture"] = nlohmann::ordered_json::array();
      for (const auto& p : dog.captureParts(t.target.name))
        parts.push_back({{"dumper", std::string(name(p.dumper))},
                         {"seconds", p.seconds},
                         {"learned", p.learned}});
    }
    targets.push_back(o);
  }
  auto& rules = j["rules"] = nlohmann::ordered_json::array();
  for (const auto& r : dog.engine().status()) {
    nlohmann::ordered_json o;
    o["rule"] = r.rule;
    o["target"] = r.target;
    o["severity"] = severityName(r.severity);
    o["state"] = ruleStateName(r.state);
    if (r.state != RuleState::kInactive) o["for_seconds"] = toSeconds(steady - r.since);
    o["value"] = r.last == Truth::kTrue ? "true" : r.last == Truth::kFalse ? "false" : "unknown";
    if (!r.unknown_signals.empty()) o["unknown_signals"] = r.unknown_signals;
    rules.push_back(o);
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Status writeStateFile(const std::string& path, const std::string& json) {
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return makeError("cannot create the state directory", dir, errno);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return makeError("cannot write", tmp, errno);
  std::string body = json + "\n";
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  int err = errno;
  // No fsync: the file describes a running process and is worthless after a crash; a rename is
  // still atomic for readers.
  ::close(fd);
  if (!ok) return makeError("cannot write", tmp, err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return makeError("cannot rename into", path, errno);
  return Ok{};
}

std::optional<std::string> daemonSummary(const std::string& path, const Clock& clock,
                                         Duration stale_after) {
  auto text = readWholeFile(path);
  if (!text) return std::nullopt;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return "daemon         state file " + path + " is not valid JSON\n";
  // A damaged file may hold a field of another type (value() then throws) or a number no
  // Duration can hold: `status` says so instead of terminating.
  try {
    return summaryOf(j, path, clock, stale_after);
  } catch (const nlohmann::json::exception&) {
    return "daemon         state file " + path + " is not an oomsentinel state file\n";
  }
}

namespace {

std::string summaryOf(const nlohmann::json& j, const std::string& path, const Clock& clock,
                      Duration stale_after) {
  // On the monotonic clock when the file has it and it is not ahead of ours (ahead: a file of an
  // earlier boot, whose clock began elsewhere); else on the wall clock, never below 0 (a wall
  // clock stepped back since the file was written).
  double steady_now = std::chrono::duration<double>(clock.steadyNow().time_since_epoch()).count();
  auto it = j.find("steady_seconds");
  double written = it != j.end() && it->is_number() ? it->get<double>() : -1.0;
  double age = written >= 0 && written <= steady_now
                   ? steady_now - written
                   : std::max(0.0, unixSeconds(clock.wallNow()) - j.value("unix_time", 0.0));
  char buf[256];
  std::string out;
  bool stale = age > toSeconds(stale_after);
  std::snprintf(
      buf, sizeof buf, "daemon         %s, pid %d, interval %s%s, updated %.1fs ago (%s)\n",
      stale ? "NOT UPDATING (stopped or hung?)" : "running", intOrZero(j, "pid"),
      formatDuration(secondsOrZero(j.value("interval_seconds", 0.0))).c_str(),
      j.value("fast", false) ? " (fast: a target is near its limit)" : "", age, path.c_str());
  out += buf;
  if (j.contains("degraded") && j["degraded"].is_string())
    out += "  " + j["degraded"].get<std::string>() + "\n";
  if (j.contains("wakeups") && j["wakeups"].is_object()) {
    const auto& w = j["wakeups"];
    if (!w.value("enabled", false)) {
      out += "  woken by the kernel: off (poll.events: false)\n";
    } else {
      std::string line = "  woken by the kernel: " + std::to_string(intOrZero(w, "v1_targets")) +
                         " v1 target(s) (thresholds, OOM), " +
                         std::to_string(intOrZero(w, "v2_targets")) + " v2 (memory.events)";
      auto psi = [&](const char* who, const char* window, const char* widened) {
        if (!w.contains(window)) return;
        std::snprintf(buf, sizeof buf, "; %s PSI window %gs%s", who, w.value(window, 0.0),
                      w.value(widened, false) ? " (widened: no CAP_SYS_RESOURCE)" : "");
        line += buf;
      };
      psi("host", "host_psi_window_seconds", "host_psi_widened");
      psi("targets'", "cgroup_psi_window_seconds", "cgroup_psi_widened");
      out += line + "\n";
    }
  }
  for (const auto& t : j.value("targets", nlohmann::json::array())) {
    if (!t.value("watching", false)) {
      out += "  target " + t.value("name", std::string("?")) + ": not found yet (retrying)\n";
      continue;
    }
    out += captureLine(t);
  }
  for (const auto& r : j.value("rules", nlohmann::json::array())) {
    std::string state = r.value("state", std::string("?"));
    std::string value = r.value("value", std::string("?"));
    if (state == "inactive" && value != "unknown") continue;
    std::string line = "  rule " + r.value("rule", std::string("?")) + " on " +
                       r.value("target", std::string("?")) + ": ";
    if (value == "unknown") {
      line += "unknown (";
      bool first = true;
      for (const auto& s : r.value("unknown_signals", nlohmann::json::array())) {
        line += (first ? "" : ", ") + s.get<std::string>();
        first = false;
      }
      line += " not offered)";
      if (state != "inactive") line += ", " + state;
    } else {
      std::snprintf(buf, sizeof buf, "%s for %.0fs [%s]", state.c_str(),
                    r.value("for_seconds", 0.0), r.value("severity", std::string("?")).c_str());
      line += buf;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace
}  // namespace oomsentinel
