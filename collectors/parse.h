// collectors/: turning kernel text into Snapshots.
// Pure parsers: string_view in, values or an Error out. No file access, no allocation on success.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

// A whole decimal unsigned number, surrounding white space allowed. Overflow is an error.
Result<std::uint64_t> parseU64(std::string_view text);

// A cgroup v2 limit file (memory.max, memory.high, memory.swap.max): a number or "max".
// nullopt means "max" (no limit).
Result<std::optional<std::uint64_t>> parseV2Limit(std::string_view text);

// cgroup v1 reports "no limit" as PAGE_COUNTER_MAX pages (0x7FFFFFFFFFFFF000 with 4 KiB pages);
// anything at or above 2^62 bytes is treated as unlimited so other page sizes are covered too.
bool isV1Unlimited(std::uint64_t bytes);

// Flat keyed files ("key value" per line): memory.stat, memory.events, oom_control, vmstat.
// Calls f(key, value) for each line; a malformed line stops with an Error naming the line.
template <typename F>
Status forEachKeyValue(std::string_view text, F&& f);

// "Key:   123 kB" lines (meminfo, /proc/PID/status, smaps_rollup). Values are returned in bytes
// when the unit is kB, as is otherwise. Lines that are not of that shape are skipped
// (smaps_rollup's first line is an address range; status has non-numeric lines), except that a
// value with the kB unit must be a number: "VmRSS: x kB" stops with an Error naming the line.
template <typename F>
Status forEachKbLine(std::string_view text, F&& f);

struct PsiLine {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  std::uint64_t total_us = 0;
};
struct Psi {
  PsiLine some;
  std::optional<PsiLine> full;  // absent in old kernels' /proc/pressure/cpu-style files
};
// memory.pressure and /proc/pressure/memory. A line of a kind other than some/full (none
// exists today) is skipped when it is made of name=value fields, as unknown fields are.
Result<Psi> parsePressure(std::string_view text);

// /proc/PID/stat: the fields we use. comm may contain spaces and ')' so fields are counted from
// the last ')'.
struct ProcStat {
  char state = '?';
  std::uint64_t minflt = 0;
  std::uint64_t majflt = 0;
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t rss_pages = 0;
};
Result<ProcStat> parseProcStat(std::string_view text);

struct MountInfo {
  std::string mount_point;
  std::string root;  // the part of the filesystem mounted there (cgroup namespaces, bind mounts)
  std::string fs_type;
  std::string super_options;
};
Result<std::vector<MountInfo>> parseMountinfo(std::string_view text);

// One line of /proc/PID/cgroup: "hierarchy-id:controllers:path".
struct ProcCgroupEntry {
  int hierarchy = 0;
  std::string controllers;  // comma separated; empty for the v2 line "0::/path"
  std::string path;
};
Result<std::vector<ProcCgroupEntry>> parseProcCgroup(std::string_view text);

// cgroup.procs: one pid per line. On an error `out` is left empty.
Status parsePidList(std::string_view text, std::vector<int>& out);

// Splits off the next line (without '\n'); returns false at the end.
bool nextLine(std::string_view& text, std::string_view& line);

// Hand-written scans: the hot path parses every line of several files per target per tick, and
// libstdc++'s find_first_of calls memchr on the set once per character.
inline bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline std::string_view trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && isBlank(s[b])) ++b;
  while (e > b && isBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}
inline std::size_t findSpaceOrTab(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == ' ' || s[i] == '\t') return i;
  return std::string_view::npos;
}
inline bool allDigits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

namespace parse_detail {
// 's' in quotes for an error message: cut after 60 characters, control characters escaped.
std::string quoted(std::string_view s);
// "line N: message".
Error lineError(int lineno, std::string message);
}  // namespace parse_detail

// ---- template definitions ----

template <typename F>
Status forEachKeyValue(std::string_view text, F&& f) {
  std::string_view line;
  int lineno = 0;
  while (nextLine(text, line)) {
    ++lineno;
    std::string_view l = trim(line);
    if (l.empty()) continue;
    std::size_t sp = findSpaceOrTab(l);
    if (sp == std::string_view::npos)
      return parse_detail::lineError(lineno,
                                     "expected 'key value', got " + parse_detail::quoted(l));
    std::string_view key = l.substr(0, sp);
    auto value = parseU64(l.substr(sp + 1));
    if (!value)
      return parse_detail::lineError(
          lineno, "key " + parse_detail::quoted(key) + ": " + value.error().message);
    f(key, *value);
  }
  return Ok{};
}

template <typename F>
Status forEachKbLine(std::string_view text, F&& f) {
  std::string_view line;
  int lineno = 0;
  while (nextLine(text, line)) {
    ++lineno;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view key = line.substr(0, colon);
    if (findSpaceOrTab(key) != std::string_view::npos) continue;
    std::string_view rest = trim(line.substr(colon + 1));
    bool kb = false;
    if (rest.size() > 3 && rest.substr(rest.size() - 3) == " kB") {
      kb = true;
      rest = trim(rest.substr(0, rest.size() - 3));
    }
    // Without a unit a non-number is another kind of line (status "Name:", "SigQ:"); with "kB"
    // it must be a number, or a signal would silently go missing.
    if (!kb && (rest.empty() || !allDigits(rest))) continue;
    auto value = parseU64(rest);
    if (!value)
      return parse_detail::lineError(
          lineno, "key " + parse_detail::quoted(key) + ": " + value.error().message);
    if (kb && *value > UINT64_MAX / 1024)
      return parse_detail::lineError(lineno, "key " + parse_detail::quoted(key) + ": " +
                                                 parse_detail::quoted(rest) +
                                                 " kB does not fit in 64 bits as bytes");
    f(key, kb ? *value * 1024 : *value);
  }
  return Ok{};
}

}  // namespace oomsentinel
