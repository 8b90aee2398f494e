#include <signal.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dumpers/jvm_dumper.h"

// What the JVM's /proc/PID/status and stat, and jcmd's replies, say: pure parsers (jvm_dumper.h).
namespace oomsentinel {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Calls f(trimmed line) for each line until it returns true.
template <typename F>
void eachLine(std::string_view text, F f) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (f(trim(text.substr(0, nl)))) return;
    if (nl == std::string_view::npos) return;
    text.remove_prefix(nl + 1);
  }
}

// jcmd starts its output with "<pid>:".
bool isPidLine(std::string_view line) {
  if (line.size() < 2 || line.back() != ':') return false;
  line.remove_suffix(1);
  return std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string firstLine(std::string_view text) {
  std::string out;
  eachLine(text, [&](std::string_view l) {
    if (l.empty()) return false;
    out = l;
    return true;
  });
  return out;
}

template <typename T>
bool parseNumber(std::string_view s, T& out, int base = 10) {
  s = trim(s);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

Result<JvmProcessFacts> parseJvmProcessStatus(std::string_view status) {
  JvmProcessFacts f;
  bool have_uid = false;
  pid_t pid = 0;
  eachLine(status, [&](std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view key = line.substr(0, colon);
    auto values = fields(line.substr(colon + 1));
    if (values.empty()) return false;
    if (key == "Uid" && values.size() >= 2) {
      have_uid = parseNumber(values[1], f.euid);
    } else if (key == "Gid" && values.size() >= 2) {
      parseNumber(values[1], f.egid);
    } else if (key == "Pid") {
      parseNumber(values[0], pid);
    } else if (key == "NSpid") {
      parseNumber(values.back(), f.nspid);
    } else if (key == "SigCgt") {
      std::uint64_t mask = 0;
      if (parseNumber(values[0], mask, 16)) f.catches_sigquit = (mask >> (SIGQUIT - 1)) & 1;
    }
    return false;
  });
  if (!have_uid) return makeError("no Uid line in the process status");
  if (f.nspid == 0) f.nspid = pid;  // kernels before 4.1 have no NSpid
  if (f.nspid == 0) return makeError("no Pid line in the process status");
  return f;
}

std::optional<std::uint64_t> parseStartTime(std::string_view stat) {
  // The command name (field 2) is in parentheses and may hold spaces and ')'.
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  auto rest = fields(stat.substr(close + 1));
  constexpr std::size_t kStartTime = 22 - 3;  // fields after the name start at field 3
  std::uint64_t v = 0;
  if (rest.size() <= kStartTime || !parseNumber(rest[kStartTime], v)) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parseBootTime(std::string_view proc_stat) {
  std::optional<std::uint64_t> out;
  eachLine(proc_stat, [&](std::string_view l) {
    if (l.rfind("btime ", 0) != 0) return false;
    std::uint64_t v = 0;
    auto f = fields(l);
    if (f.size() == 2 && parseNumber(f[1], v)) out = v;
    return true;
  });
  return out;
}

bool attachSocketPredatesProcess(timespec socket_mtime, std::uint64_t start_ticks, long ticks_per_s,
                                 timespec boot_at) {
  if (ticks_per_s <= 0) return false;
  auto seconds = [](timespec t) { return static_cast<double>(t.tv_sec) + t.tv_nsec / 1e9; };
  double started = seconds(boot_at) + static_cast<double>(start_ticks) / ticks_per_s;
  // A second's slack for the tick's rounding and a clock that was slewed meanwhile.
  return seconds(socket_mtime) < started - 1.0;
}

bool looksLikeClassHistogram(std::string_view out) {
  bool header = false;
  eachLine(out, [&](std::string_view l) {
    header = l.find("#instances") != std::string_view::npos &&
             l.find("#bytes") != std::string_view::npos;
    return header;
  });
  return header;
}

std::string jcmdReason(std::string_view out, std::string_view err) {
  std::string reason;
  eachLine(out, [&](std::string_view l) {
    if (l.empty() || isPidLine(l)) return false;
    reason = l;
    return true;
  });
  if (reason.empty()) reason = firstLine(err);
  return reason.empty() ? "jcmd said nothing" : reason;
}

std::optional<std::string> heapDumpProblem(std::string_view out, std::string_view err) {
  if (out.find("Heap dump file created") != std::string_view::npos) return std::nullopt;
  std::string reason;
  eachLine(out, [&](std::string_view l) {
    if (l.empty() || isPidLine(l) || l.starts_with("Dumping heap to")) return false;
    reason = l;
    return true;
  });
  if (reason.empty()) reason = firstLine(err);
  return reason.empty() ? "jcmd said nothing" : reason;
}

}  // namespace oomsentinel
