#include "collectors/parse.h"

#include <charconv>
#include <cmath>

namespace oomsentinel {
namespace parse_detail {

std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 60;  // keep messages short when the input is garbage
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (char c : s.substr(0, kMax)) {
    // Kernel text that is garbage must not break a log line.
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) out += "...";
  out += "'";
  return out;
}

Error lineError(int lineno, std::string message) {
  return makeError("line " + std::to_string(lineno) + ": " + message);
}

}  // namespace parse_detail

namespace {

using parse_detail::lineError;
using parse_detail::quoted;

// PSI averages are percentages: a negative one is not kernel text.
Result<double> parseDouble(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || v < 0)
    return makeError("expected a non-negative number, got " + quoted(s));
  return v;
}

// Parses "some avg10=0.00 avg60=0.00 avg300=0.00 total=0".
Result<PsiLine> parsePsiFields(std::string_view line, std::string_view rest, int lineno) {
  PsiLine out;
  bool seen[4] = {false, false, false, false};
  while (!rest.empty()) {
    rest = trim(rest);
    std::size_t sp = rest.find(' ');
    std::string_view field = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    std::size_t eq = field.find('=');
    if (eq == std::string_view::npos)
      return lineError(lineno, "expected name=value, got " + quoted(field));
    std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    auto bad = [&](const Error& e) {
      return lineError(lineno, std::string(name) + ": " + e.message);
    };
    if (name == "total") {
      auto v = parseU64(value);
      if (!v) return bad(v.error());
      out.total_us = *v;
      seen[3] = true;
    } else {
      auto v = parseDouble(value);
      if (!v) return bad(v.error());
      if (name == "avg10") {
        out.avg10 = *v;
        seen[0] = true;
      } else if (name == "avg60") {
        out.avg60 = *v;
        seen[1] = true;
      } else if (name == "avg300") {
        out.avg300 = *v;
        seen[2] = true;
      }  // unknown fields are skipped: newer kernels may add some
    }
  }
  static constexpr const char* kNames[4] = {"avg10", "avg60", "avg300", "total"};
  for (int i = 0; i < 4; ++i)
    if (!seen[i]) return lineError(lineno, std::string("no ") + kNames[i] + " in " + quoted(line));
  return out;
}

}  // namespace

bool nextLine(std::string_view& text, std::string_view& line) {
  if (text.empty()) return false;
  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos) {
    line = text;
    text = {};
  } else {
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
  }
  return true;
}

Result<std::uint64_t> parseU64(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return makeError("expected a number, got nothing");
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return makeError("number out of range: " + quoted(s));
  if (ec != std::errc() || ptr != s.data() + s.size())
    return makeError("expected an unsigned number, got " + quoted(s));
  return v;
}

Result<std::optional<std::uint64_t>> parseV2Limit(std::string_view text) {
  std::string_view s = trim(text);
  if (s == "max") return std::optional<std::uint64_t>();
  auto v = parseU64(s);
  if (!v) return makeError(v.error().message + " (or 'max')");
  return std::optional<std::uint64_t>(*v);
}

bool isV1Unlimited(std::uint64_t bytes) { return bytes >= (std::uint64_t{1} << 62); }

Result<Psi> parsePressure(std::string_view text) {
  Psi out;
  bool have_some = false;
  std::string_view line;
  int lineno = 0;
  while (nextLine(text, line)) {
    ++lineno;
    std::string_view l = trim(line);
    if (l.empty()) continue;
    std::size_t sp = l.find(' ');
    std::string_view kind = l.substr(0, sp);
    if (sp == std::string_view::npos)
      return lineError(lineno, "expected 'some|full avg10=...', got " + quoted(l));
    if (kind != "some" && kind != "full") {
      // A kind a newer kernel may add is skipped, like an unknown field, when it has the shape
      // of one; anything else is not pressure text.
      for (std::string_view rest = trim(l.substr(sp + 1)); !rest.empty();) {
        std::size_t next = rest.find(' ');
        std::string_view field = rest.substr(0, next);
        if (field.find('=') == std::string_view::npos || field.front() == '=')
          return lineError(lineno, "expected name=value, got " + quoted(field));
        rest = next == std::string_view::npos ? std::string_view() : trim(rest.substr(next + 1));
      }
      continue;
    }
    auto fields = parsePsiFields(l, l.substr(sp + 1), lineno);
    if (!fields) return fields.error();
    if (kind == "some") {
      out.some = *fields;
      have_some = true;
    } else {
      out.full = *fields;
    }
  }
  if (!have_some) return makeError("no 'some' line");
  return out;
}

Result<ProcStat> parseProcStat(std::string_view text) {
  std::size_t close = text.rfind(')');
  if (close == std::string_view::npos || text.find('(') == std::string_view::npos)
    return makeError("no '(comm)' field");
  std::string_view rest = trim(text.substr(close + 1));
  // Field numbers as in proc(5); rest starts at field 3 (state).
  ProcStat out;
  int field = 3;
  while (!rest.empty()) {
    std::size_t sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view() : trim(rest.substr(sp + 1));
    auto num = [&](std::uint64_t& dst) -> Status {
      auto v = parseU64(tok);
      if (!v) return makeError("field " + std::to_string(field) + ": " + v.error().message);
      dst = *v;
      return Ok{};
    };
    Status st = Ok{};
    switch (field) {
      case 3:
        if (tok.size() != 1)
          return makeError("field 3 (state): expected one letter, got " + quoted(tok));
        out.state = tok[0];
        break;
      case 10:
        st = num(out.minflt);
        break;
      case 12:
        st = num(out.majflt);
        break;
      case 14:
        st = num(out.utime_ticks);
        break;
      case 15:
        st = num(out.stime_ticks);
        break;
      case 24:
        st = num(out.rss_pages);
        break;
      default:
        break;
    }
    if (!st) return st.error();
    ++field;
  }
  if (field <= 24)
    return makeError("truncated: " + std::to_string(field - 1) +
                     " fields, need 24: " + quoted(trim(text)));
  return out;
}

Result<std::vector<MountInfo>> parseMountinfo(std::string_view text) {
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
  std::vector<MountInfo> out;
  std::string_view line;
  int lineno = 0;
  auto unescape = [](std::string_view s) {
    // mountinfo escapes space, tab, newline and backslash as \ooo (octal).
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 4 <= s.size() &&
          s.substr(i + 1, 3).find_first_not_of("01234567") == std::string_view::npos) {
        r += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
        i += 3;
      } else {
        r += s[i];
      }
    }
    return r;
  };
  while (nextLine(text, line)) {
    ++lineno;
    if (trim(line).empty()) continue;
    std::vector<std::string_view> f;
    std::string_view rest = trim(line);
    while (!rest.empty()) {
      std::size_t sp = rest.find(' ');
      f.push_back(rest.substr(0, sp));
      rest = sp == std::string_view::npos ? std::string_view() : trim(rest.substr(sp + 1));
    }
    std::size_t dash = 0;
    for (std::size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 4 > f.size())
      return lineError(lineno, "not a mountinfo line: " + quoted(line));
    MountInfo m;
    m.root = unescape(f[3]);
    m.mount_point = unescape(f[4]);
    m.fs_type = std::string(f[dash + 1]);
    m.super_options = std::string(f[dash + 3]);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<ProcCgroupEntry>> parseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  std::string_view line;
  int lineno = 0;
  while (nextLine(text, line)) {
    ++lineno;
    std::string_view l = trim(line);
    if (l.empty()) continue;
    std::size_t c1 = l.find(':');
    std::size_t c2 = c1 == std::string_view::npos ? c1 : l.find(':', c1 + 1);
    if (c2 == std::string_view::npos)
      return lineError(lineno, "expected 'id:controllers:path', got " + quoted(l));
    auto hid = parseU64(l.substr(0, c1));
    if (!hid) return lineError(lineno, "hierarchy id: " + hid.error().message);
    if (*hid > 1'000'000)
      return lineError(lineno, "hierarchy id out of range: " + quoted(l.substr(0, c1)));
    ProcCgroupEntry e;
    e.hierarchy = static_cast<int>(*hid);
    e.controllers = std::string(l.substr(c1 + 1, c2 - c1 - 1));
    e.path = std::string(l.substr(c2 + 1));
    if (e.path.empty() || e.path.front() != '/')
      return lineError(lineno, "path is not absolute: " + quoted(l));
    out.push_back(std::move(e));
  }
  if (out.empty()) return makeError("no cgroup lines");
  return out;
}

Status parsePidList(std::string_view text, std::vector<int>& out) {
  out.clear();
  std::string_view line;
  int lineno = 0;
  while (nextLine(text, line)) {
    ++lineno;
    std::string_view l = trim(line);
    if (l.empty()) continue;
    auto v = parseU64(l);
    // The caller gets either the whole list or an error, never the first part of a list.
    if (!v) {
      out.clear();
      return lineError(lineno, "not a pid: " + v.error().message);
    }
    // 0x3fffffff: the largest pid the kernel's tid fields can hold (FUTEX_TID_MASK).
    if (*v == 0 || *v > 0x3fffffff) {
      out.clear();
      return lineError(lineno, "pid out of range: " + quoted(l));
    }
    out.push_back(static_cast<int>(*v));
  }
  return Ok{};
}

}  // namespace oomsentinel
