#include "daemon/report.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/units.h"

namespace oomsentinel {
namespace {

std::string bytesOr(const Snapshot& s, Sig sig) {
  auto v = s.get(sig);
  return v ? formatBytes(*v) : "-";
}

std::string countOr(const Snapshot& s, Sig sig) {
  auto v = s.get(sig);
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", *v);
  return buf;
}

std::string percentOr(const Snapshot& s, Sig sig) {
  auto v = s.get(sig);
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", *v * 100);
  return buf;
}

std::string psiOr(const Snapshot& s, Sig a10, Sig a60, Sig a300) {
  if (!s.has(a10)) return "-";
  char buf[96];
  std::snprintf(buf, sizeof buf, "avg10 %.2f  avg60 %.2f  avg300 %.2f", *s.get(a10), *s.get(a60),
                *s.get(a300));
  return buf;
}

std::string describeTarget(const SampleContext& ctx) {
  const auto& t = ctx.target->target();
  std::string out = t.name;
  if (t.kind == TargetKind::kHost) return out + " (host)";
  out += " (";
  out += targetKindName(t.kind);
  if (t.kind == TargetKind::kPid) out += " " + std::to_string(t.pid);
  out += ", cgroup ";
  out += ctx.target->cgroupRelative();
  out += ", ";
  out += cgroupVersionName(ctx.target->cgroupVersion());
  if (!ctx.layout.empty()) out += " " + ctx.layout + " layout";
  out += ")";
  return out;
}

std::optional<double> named(const Snapshot& s, const char* name) {
  auto id = findSignal(name);
  return id ? s.get(*id) : std::nullopt;
}

std::string namedBytes(const Snapshot& s, const char* name) {
  auto v = named(s, name);
  return v ? formatBytes(*v) : "-";
}

std::string namedNumber(const Snapshot& s, const char* name, const char* fmt, double scale = 1) {
  auto v = named(s, name);
  if (!v) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, *v * scale);
  return buf;
}

// "<1ms", "340ms", "2.5s", "3m20s": an age or a duration read by people.
std::string shortDuration(Duration d) {
  double ms = std::chrono::duration<double, std::milli>(d).count();
  char buf[32];
  if (ms < 1)
    return "<1ms";
  else if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  else if (ms < 60'000)
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000);
  else
    return formatDuration(std::chrono::duration_cast<std::chrono::seconds>(d));
  return buf;
}

template <typename Row>
void appendRuntimeRows(const SampleContext& ctx, const Snapshot& s, Row& row) {
  static const char* const kRuntimeSignals[] = {"heap_alloc_bytes",  "heap_limit_bytes",
                                                "gc_cycles",         "gc_pause_seconds_total",
                                                "alloc_bytes_total", "gc_cpu_fraction"};
  bool any = !ctx.runtime.empty();
  for (const char* name : kRuntimeSignals) any = any || named(s, name).has_value();
  if (!any) return;
  for (const auto& e : ctx.runtime) {
    if (e.format == "jvm_perfdata") {
      if (e.state.has_values)
        row("runtime", "jvm perf data of pid " + std::to_string(e.pid) + ": ok (" + e.url + ")");
      else
        row("runtime", "jvm perf data: " + e.state.last_error);
      continue;
    }
    std::string line = e.format + " " + e.url + ": ";
    if (e.state.has_values && !e.state.stale)
      line += "ok, " + shortDuration(*e.state.age) + " old";
    else if (e.state.has_values)
      line += "stale, " + shortDuration(*e.state.age) + " old (signals absent)";
    else
      line += "no answer yet";
    if (!e.state.last_error.empty()) line += "; last fetch failed: " + e.state.last_error;
    row("runtime", line);
  }
  auto limit = named(s, "heap_limit_bytes");
  row("heap", namedBytes(s, "heap_alloc_bytes") + " in use" +
                  (limit ? "  (limit " + formatBytes(*limit) + ")" : ""));
  auto paused = named(s, "gc_pause_seconds_total");
  row("gc", namedNumber(s, "gc_cycles", "%.0f") + " cycles, " +
                (paused ? shortDuration(std::chrono::duration_cast<Duration>(
                              std::chrono::duration<double>(*paused)))
                        : std::string("-")) +
                " paused in total, " + namedNumber(s, "gc_cpu_fraction", "%.2f%%", 100) +
                " of CPU");
  row("allocated", namedBytes(s, "alloc_bytes_total") + " since start");
}

}  // namespace

std::string formatWallTime(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string statusTable(const SampleContext& ctx, const Snapshot& s) {
  std::string out;
  char line[256];
  auto row = [&](const char* label, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-14s %s\n", label, value.c_str());
    out += line;
  };
  out += "target         " + describeTarget(ctx) + "\n";
  out += "time           " + formatWallTime(s.wall) + "\n";
  auto limit = s.get(Sig::kLimitBytes);
  row("usage",
      bytesOr(s, Sig::kUsageBytes) + "  (" + percentOr(s, Sig::kUsageRatio) + " of limit)");
  row("limit", limit ? formatBytes(*limit) : "none (no cgroup limit on the path)");
  row("working set", bytesOr(s, Sig::kWorkingSetBytes) + "  (" +
                         percentOr(s, Sig::kWorkingSetRatio) + " of limit)");
  auto ws = s.get(Sig::kWorkingSetBytes);
  row("headroom", limit && ws ? formatBytes(std::max(0.0, *limit - *ws)) : "-");
  row("anon / file", bytesOr(s, Sig::kAnonBytes) + " / " + bytesOr(s, Sig::kFileBytes) +
                         "  (shmem " + bytesOr(s, Sig::kShmemBytes) + ")");
  row("swap", bytesOr(s, Sig::kSwapBytes) + "  (limit " + bytesOr(s, Sig::kSwapLimitBytes) + ")");
  if (s.has(Sig::kHighBytes) || s.has(Sig::kPeakBytes))
    row("high / peak", bytesOr(s, Sig::kHighBytes) + " / " + bytesOr(s, Sig::kPeakBytes));
  row("psi some", psiOr(s, Sig::kPsiSomeAvg10, Sig::kPsiSomeAvg60, Sig::kPsiSomeAvg300));
  row("psi full", psiOr(s, Sig::kPsiFullAvg10, Sig::kPsiFullAvg60, Sig::kPsiFullAvg300));
  row("page faults", countOr(s, Sig::kPgfault) + " (major " + countOr(s, Sig::kPgmajfault) + ")");
  row("reclaim", "pgscan " + countOr(s, Sig::kPgscan) + "  pgsteal " + countOr(s, Sig::kPgsteal) +
                     "  refault " + countOr(s, Sig::kWorkingsetRefault));
  row("events", "high " + countOr(s, Sig::kEventsHigh) + "  max " + countOr(s, Sig::kEventsMax) +
                    "  oom " + countOr(s, Sig::kEventsOom));
  row("oom kills", countOr(s, Sig::kEventsOomKill));
  if (s.has(Sig::kProcessCount))
    row("processes", countOr(s, Sig::kProcessCount) + "  (rss " + bytesOr(s, Sig::kRssBytes) +
                         ", pss " + bytesOr(s, Sig::kPssBytes) + ")");
  appendRuntimeRows(ctx, s, row);
  out += "  ('-': not offered by this kernel or source)\n";
  return out;
}

std::string watchHeader(bool with_target) {
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s%-12s %11s %11s %7s %11s %11s %7s %7s %8s %5s %11s %6s\n",
                with_target ? "target           " : "", "time", "usage", "working set", "ws%",
                "limit", "headroom", "some10", "full10", "maj.flt", "ooms", "heap", "gcs");
  return buf;
}

std::string watchRow(const Snapshot& s, const std::string& target) {
  std::string t = formatWallTime(s.wall).substr(11, 12);
  auto limit = s.get(Sig::kLimitBytes);
  auto ws = s.get(Sig::kWorkingSetBytes);
  std::string headroom = limit && ws ? formatBytes(std::max(0.0, *limit - *ws)) : "-";
  auto num = [&](Sig sig, const char* fmt) {
    auto v = s.get(sig);
    if (!v) return std::string("-");
    char b[32];
    std::snprintf(b, sizeof b, fmt, *v);
    return std::string(b);
  };
  std::string name;
  if (!target.empty()) {
    char col[32];
    std::snprintf(col, sizeof col, "%-16.16s ", target.c_str());
    name = col;
  }
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s%-12s %11s %11s %7s %11s %11s %7s %7s %8s %5s %11s %6s\n",
                name.c_str(), t.c_str(), bytesOr(s, Sig::kUsageBytes).c_str(),
                bytesOr(s, Sig::kWorkingSetBytes).c_str(),
                percentOr(s, Sig::kWorkingSetRatio).c_str(), bytesOr(s, Sig::kLimitBytes).c_str(),
                headroom.c_str(), num(Sig::kPsiSomeAvg10, "%.2f").c_str(),
                num(Sig::kPsiFullAvg10, "%.2f").c_str(), num(Sig::kPgmajfault, "%.0f").c_str(),
                num(Sig::kEventsOomKill, "%.0f").c_str(), namedBytes(s, "heap_alloc_bytes").c_str(),
                namedNumber(s, "gc_cycles", "%.0f").c_str());
  return buf;
}

std::string snapshotJson(const SampleContext& ctx, const Snapshot& s) {
  nlohmann::ordered_json j;
  j["time"] = formatWallTime(s.wall);
  j["unix_time"] = std::chrono::duration<double>(s.wall.time_since_epoch()).count();
  const auto& t = ctx.target->target();
  j["target"] = t.name;
  j["kind"] = targetKindName(t.kind);
  if (t.kind == TargetKind::kPid) j["pid"] = t.pid;
  if (t.kind != TargetKind::kHost) {
    j["cgroup"] = ctx.target->cgroupRelative();
    j["cgroup_version"] = cgroupVersionName(ctx.target->cgroupVersion());
    j["layout"] = ctx.layout;
  }
  if (!ctx.runtime.empty()) {
    auto& rt = j["runtime_endpoints"] = nlohmann::ordered_json::array();
    for (const auto& e : ctx.runtime) {
      nlohmann::ordered_json x;
      x["format"] = e.format;
      x[e.format == "jvm_perfdata" ? "file" : "url"] = e.url;
      if (e.pid) x["pid"] = e.pid;
      x["fresh"] = e.state.has_values && !e.state.stale;
      if (e.state.age) x["age_seconds"] = std::chrono::duration<double>(*e.state.age).count();
      x["fetches"] = e.state.fetches;
      x["errors"] = e.state.errors;
      if (!e.state.last_error.empty()) x["last_error"] = e.state.last_error;
      rt.push_back(std::move(x));
    }
  }
  auto& sig = j["signals"] = nlohmann::ordered_json::object();
  s.forEach([&](SignalId id, double v) {
    // JSON has no Inf/NaN; keep the value visible as a string rather than lose it.
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)
      sig[signalName(id)] = static_cast<std::int64_t>(v);
    else if (std::isfinite(v))
      sig[signalName(id)] = v;
    else
      sig[signalName(id)] = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  });
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace oomsentinel
