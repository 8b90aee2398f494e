#include "config/config.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <utility>

#include "collectors/discovery.h"
#include "collectors/prom_text.h"
#include "config/values.h"
#include "core/http_client.h"
#include "core/safe_text.h"
#include "core/units.h"
#include "rules/expr.h"

namespace oomsentinel {

std::string ConfigError::format() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

const std::vector<std::string>& knownDumpers() {
  static const std::vector<std::string> k = {"proc", "gperftools", "go_pprof", "jvm", "exec"};
  return k;
}

namespace {

using config_values::didYouMean;

// Keys that docs/architecture.md names and later versions implement: a config written for them gets
// a precise "not yet" rather than "unknown key".
const std::vector<std::string> kTopKeys = {"poll", "targets", "rules",
                                           "dump", "alerts",  "discovery"};
const std::vector<std::string> kDiscoveryKeys = {"interval", "containers_log_dir"};
// Selectors are evaluated again every interval, each a walk of /proc or the cgroup tree.
constexpr Duration kMinDiscoveryInterval = std::chrono::milliseconds(100);
const std::vector<std::string> kTopLater = {};
const std::vector<std::string> kAlertsKeys = {"metrics", "alertmanager"};
const std::vector<std::string> kAlertmanagerKeys = {
    "urls", "resend_interval", "timeout", "bearer_token_file", "basic_auth_file", "labels", "tls"};
const std::vector<std::string> kTlsKeys = {"ca_file", "cert_file", "key_file", "server_name",
                                           "insecure_skip_verify"};
const std::vector<std::string> kMetricsKeys = {"listen"};
const std::vector<std::string> kDumpKeys = {"dir",     "max_incidents",    "max_bytes",
                                            "max_age", "min_free",         "max_artifact_bytes",
                                            "timeout", "per_minute",       "target_cooldown",
                                            "history", "throttle_records", "max_bundle_bytes"};
const std::vector<std::string> kGperftoolsKeys = {"heap_prefix", "signal"};
const std::vector<std::string> kExecKeys = {"argv", "timeout", "user", "memory_max", "pids_max"};
// The least a hook's cgroup may be given: below this, no shell starts.
constexpr std::uint64_t kMinExecMemory = 16ull << 20;
constexpr std::uint64_t kMinExecPids = 16;
constexpr std::uint64_t kMaxExecPids = 4194304;  // the kernel's pid_max ceiling
const std::vector<std::string> kProcKeys = {"smaps"};
const std::vector<std::string> kThrottleKeys = {"max_duration", "headroom"};
const std::vector<std::string> kPollKeys = {
    "interval",           "fast_interval", "fast_above", "fast_when_tto_below",
    "full_read_interval", "events",        "psi_stall",  "psi_window",
    "skim_rate"};
const std::vector<std::string> kTargetKeys = {
    "name",      "cgroup",         "pid",
    "self",      "host",           "process",
    "pid_file",  "cgroup_glob",    "systemd_unit",
    "limit_env", "predict_window", "go",
    "jvm",       "metrics_url",    "signals",
    "runtime",   "dumpers",        "gperftools",
    "exec",      "proc",           "throttle_during_dump"};
const std::vector<std::string> kTargetKinds = {
    "cgroup", "pid", "self", "host", "process", "pid_file", "cgroup_glob", "systemd_unit"};
// What every "exactly one of" message lists.
const std::string kTargetKindList =
    "cgroup, pid, self, host, process, pid_file, cgroup_glob, systemd_unit";
const std::vector<std::string> kTargetLater = {};
// systemd units that have a cgroup of their own.
const std::vector<std::string> kUnitSuffixes = {".service", ".scope", ".slice"};
const std::vector<std::string> kGoKeys = {"pprof_url", "expvar_url", "profiles"};
const std::vector<std::string> kJvmKeys = {"perfdata", "class_histogram", "heap_dump"};
const std::vector<std::string> kRuntimeKeys = {"interval", "timeout", "stale_after", "max_bytes"};
constexpr Duration kMinRuntimeInterval = std::chrono::milliseconds(100);
constexpr Duration kMinRuntimeTimeout = std::chrono::milliseconds(10);
constexpr Duration kMaxRuntimeTimeout = std::chrono::seconds(60);
constexpr std::uint64_t kMinRuntimeBytes = 1 << 10;
constexpr std::uint64_t kMaxRuntimeBytes = 64 << 20;
constexpr std::size_t kMaxRuntimeSignals = 64;
const std::vector<std::string> kTargetLaterKinds = {};
const std::vector<std::string> kRuleKeys = {"name",     "expr",     "for",     "keep_firing_for",
                                            "cooldown", "severity", "actions", "targets"};
const std::vector<std::string> kSeverities = {"info", "warning", "critical"};

constexpr Duration kMinPollInterval = std::chrono::milliseconds(10);
constexpr Duration kMinPredictWindow = std::chrono::seconds(1);
// The same bound as a rule's window functions have (rules/expr.cc): no history is longer.
constexpr Duration kMaxPredictWindow = std::chrono::hours(1);
// The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger.
constexpr long kMaxPid = 4 * 1024 * 1024;
// Names become labels, log fields and parts of incident directory names.
constexpr std::size_t kMaxNameLength = 128;

struct Pos {
  int line = 0;  // 1-based; 0 unknown
  int column = 0;
};

Pos posOf(const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}
Pos posOf(const YAML::Node& n) { return posOf(n.Mark()); }

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string listNames(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// A quoted scalar is a string even when it spells a number or a boolean.
bool isQuoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

std::string shortened(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

// What "expected X, got Y" says for Y.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return (isQuoted(n) ? "the string '" : "'") + shortened(n.Scalar()) + "'";
    default:
      return "nothing";
  }
}

bool isNumber(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

std::string trimmed(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  std::size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// One key of a map, with where it stands.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
  std::string path;
};

const Entry* find(const std::vector<Entry>& entries, const std::string& key) {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

// A name a rule refers to, checked once every target is known.
struct TargetRef {
  std::string name;
  Pos pos;
  std::string path;
};

class Loader {
 public:
  Loader(const std::string& text, std::string file) : file_(std::move(file)) {
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t nl = text.find('\n', start);
      std::string line =
          text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      // yaml-cpp reads past a byte order mark without counting it as a column.
      if (start == 0 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
      lines_.push_back(std::move(line));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }

  // yaml-cpp before 0.8.1 (jbeder/yaml-cpp#1040) reports a stray ',' as one empty document after
  // another, forever, and LoadAll appends each to its list until memory runs out. A first pass
  // that only counts documents stops it: every real document takes at least one byte of text.
  static bool endsItsDocuments(const std::string& text) {
    struct Counter final : YAML::EventHandler {
      void OnDocumentStart(const YAML::Mark&) override {}
      void OnDocumentEnd() override {}
      void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
      void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
      void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    const std::string&) override {}
      void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                           YAML::EmitterStyle::value) override {}
      void OnSequenceEnd() override {}
      void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                      YAML::EmitterStyle::value) override {}
      void OnMapEnd() override {}
    } counter;
    std::istringstream in(text);
    YAML::Parser parser(in);
    for (std::size_t docs = 0; parser.HandleNextDocument(counter);)
      if (++docs > text.size() + 1) return false;
    return true;
  }

  ConfigLoad run(const std::string& text) {
    Config config;
    config.source = file_;
    config.rules = defaultRules();
    config.rules_are_defaults = true;
    std::vector<YAML::Node> docs;
    // YAML is Unicode text; yaml-cpp takes any bytes, and its printer then writes U+FFFD for
    // them, so a config with a stray byte would not print back as itself (found by fuzz_config).
    if (std::size_t bad = firstIllFormedUtf8(text); bad != std::string::npos) {
      std::size_t line_start = text.rfind('\n', bad);
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      Pos p{static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n')) + 1,
            static_cast<int>(bad - line_start) + 1};
      error(p, "", "not UTF-8 text: a byte here starts no valid character");
      ConfigLoad out;
      out.errors = std::move(errors_);
      return out;
    }
    try {
      if (!endsItsDocuments(text))
        throw YAML::ParserException(YAML::Mark::null_mark(), "unexpected ',' or other token");
      docs = YAML::LoadAll(text);
    } catch (const YAML::DeepRecursion& e) {
      error(posOf(e.mark), "", "YAML syntax error: nested too deeply");
    } catch (const YAML::Exception& e) {
      // yaml-cpp stops at the first syntax error, so it is the only finding there is.
      error(posOf(e.mark), "", "YAML syntax error: " + e.msg);
    }
    try {
      // A second document is a second config, unless it is empty (a trailing '---').
      for (std::size_t i = 1; i < docs.size(); ++i)
        if (!docs[i].IsNull())
          error(posOf(docs[i]), "",
                "a config is one YAML document, this is document " + std::to_string(i + 1) +
                    " (remove the '---')");
      if (!docs.empty()) readTop(docs[0], config);
    } catch (const YAML::Exception& e) {
      // Not expected: reading only looks at nodes of the type it checked first.
      error(posOf(e.mark), "", std::string("internal error reading the YAML: ") + e.what());
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    ConfigLoad out;
    out.errors = std::move(errors_);
    if (out.errors.empty()) out.config = std::move(config);
    return out;
  }

 private:
  void error(Pos p, const std::string& path, std::string message) {
    errors_.push_back({file_, p.line, p.column, path, std::move(message)});
  }

  // yaml-cpp marks an empty value at the token after it, often on another line: point at its
  // key instead.
  Pos valuePos(const Entry& e) const {
    return e.value.IsNull() ? posOf(e.key_node) : posOf(e.value);
  }

  void typeError(const Entry& e, const std::string& expected) {
    error(valuePos(e), e.path, "expected " + expected + ", got " + describe(e.value));
  }

  // The keys of a map, checking each against what is known here. Unknown, not-yet-supported
  // and repeated keys are reported and left out. `meant` collects what the left-out keys were
  // probably meant to be (the suggestion, or the not-yet-supported key itself), so the caller
  // does not also report those keys as missing.
  std::vector<Entry> readMap(const YAML::Node& map, const std::string& path,
                             const std::vector<std::string>& known,
                             const std::vector<std::string>& later,
                             std::vector<std::string>* meant = nullptr) {
    std::vector<Entry> out;
    std::map<std::string, int> first_line;
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies: the iterator's pair is a temporary (yaml-cpp's operator-> returns a proxy).
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        error(posOf(k), path, "expected a key name, got " + describe(k));
        continue;
      }
      const std::string key = k.Scalar();
      const std::string kpath = join(path, key);
      if (contains(later, key)) {
        error(posOf(k), kpath, "'" + key + "' is not supported by this version yet");
        if (meant) meant->push_back(key);
        continue;
      }
      if (!contains(known, key)) {
        std::vector<std::string> all = known;
        all.insert(all.end(), later.begin(), later.end());
        auto guess = didYouMean(key, all);
        if (meant && guess) meant->push_back(*guess);
        error(posOf(k), kpath,
              "unknown key '" + shortened(key) + "'" +
                  (guess ? " (did you mean '" + *guess + "'?)"
                         : " (expected one of: " + listNames(known) + ")"));
        continue;
      }
      auto [first, inserted] = first_line.emplace(key, posOf(k).line);
      if (!inserted) {
        error(posOf(k), kpath,
              "duplicate key '" + key + "' (first at line " + std::to_string(first->second) + ")");
        continue;
      }
      out.push_back({key, k, v, kpath});
    }
    return out;
  }

  // ---- values ----

  bool requireScalar(const Entry& e, const std::string& expected) {
    if (e.value.IsScalar()) return true;
    typeError(e, expected);
    return false;
  }

  std::optional<Duration> readDuration(const Entry& e) {
    if (!requireScalar(e, "a duration such as 5s")) return std::nullopt;
    const std::string& s = e.value.Scalar();
    auto d = parseDuration(s);
    if (d) return *d;
    if (isNumber(s) && s[0] != '-')
      error(valuePos(e), e.path,
            "a duration needs a unit, e.g. '" + s + "s' or '" + s + "ms' (ns, us, ms, s, m, h)");
    else
      error(valuePos(e), e.path, d.error().message);
    return std::nullopt;
  }

  std::optional<Duration> readDurationAtLeast(const Entry& e, Duration min) {
    auto d = readDuration(e);
    if (d && *d < min) {
      error(valuePos(e), e.path,
            "must be at least " + config_values::formatDurationExact(min) + ", got '" +
                e.value.Scalar() + "'");
      return std::nullopt;
    }
    return d;
  }

  std::optional<bool> readBool(const Entry& e) {
    if (!requireScalar(e, "true or false")) return std::nullopt;
    const std::string& s = e.value.Scalar();
    if (!isQuoted(e.value)) {
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    typeError(e, "true or false");
    return std::nullopt;
  }

  std::optional<double> readRatio(const Entry& e) {
    const std::string expected = "a percentage like 70% or a ratio like 0.7";
    if (!requireScalar(e, expected)) return std::nullopt;
    const std::string& s = e.value.Scalar();
    auto r = config_values::parseRatio(s);
    if (!r) {
      typeError(e, expected);
      return std::nullopt;
    }
    if (*r > 0 && *r <= 1) return *r;
    std::string msg = "must be more than 0% and at most 100%, got '" + s + "'";
    if (s.find('%') == std::string::npos && *r > 1 && *r <= 100)
      msg += " (did you mean '" + trimmed(s) + "%'?)";
    error(valuePos(e), e.path, msg);
    return std::nullopt;
  }

  std::optional<std::string> readName(const Entry& e, const std::string& what) {
    if (!requireScalar(e, "a " + what + " name")) return std::nullopt;
    const std::string& s = e.value.Scalar();
    bool charset_ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    });
    if (!charset_ok)
      error(valuePos(e), e.path,
            "a " + what + " name is letters, digits, '_', '.' and '-', got " + describe(e.value));
    else if (s == "." || s == "..")
      error(valuePos(e), e.path, "'" + s + "' is not a " + what + " name (it names a directory)");
    else if (s.size() > kMaxNameLength)
      error(valuePos(e), e.path,
            "a " + what + " name is at most " + std::to_string(kMaxNameLength) + " characters");
    // Even a bad name is returned: it still counts for duplicates and references, so one
    // mistake is reported once.
    return s;
  }

  // Each item of a list of names, with its position; nullopt when it is not a list.
  std::optional<std::vector<std::pair<std::string, YAML::Node>>> readNameList(
      const Entry& e, const std::string& example) {
    if (!e.value.IsSequence()) {
      typeError(e, "a list such as " + example);
      return std::nullopt;
    }
    std::vector<std::pair<std::string, YAML::Node>> out;
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      YAML::Node item = e.value[i];
      if (!item.IsScalar()) {
        error(posOf(item), indexed(e.path, i), "expected a name, got " + describe(item));
        continue;
      }
      out.emplace_back(item.Scalar(), item);
    }
    return out;
  }

  // ---- expression columns ----

  // The file column (1-based) of byte `offset` of a scalar's value, when the scalar stands on
  // one line and its text can be followed back to the source: plain, 'single' or "double"
  // quoted. nullopt for block and multi-line scalars, and whatever cannot be followed.
  std::optional<int> columnInScalar(const YAML::Node& n, std::size_t offset) const {
    const YAML::Mark m = n.Mark();
    if (m.line < 0 || static_cast<std::size_t>(m.line) >= lines_.size() || m.column < 0)
      return std::nullopt;
    const std::string& line = lines_[static_cast<std::size_t>(m.line)];
    const std::size_t col = static_cast<std::size_t>(m.column);
    const std::string& value = n.Scalar();
    if (col >= line.size() || offset > value.size()) return std::nullopt;
    // raw[i]: the source column (0-based) of the value's byte i; raw[size]: the end.
    std::vector<std::size_t> raw;
    const char open = line[col];
    if (open == '\'' || open == '"') {
      std::size_t i = col + 1;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i];
        if (open == '\'' && c == '\'') {
          if (i + 1 < line.size() && line[i + 1] == '\'') {  // '' is one quote
            raw.push_back(i);
            i += 2;
            continue;
          }
          closed = true;
          break;
        }
        if (open == '"' && c == '"') {
          closed = true;
          break;
        }
        if (open == '"' && c == '\\') {
          if (i + 1 >= line.size()) return std::nullopt;  // continues on the next line
          auto [len, bytes] = escapeSize(line, i);
          if (len == 0) return std::nullopt;
          for (std::size_t b = 0; b < bytes; ++b) raw.push_back(i);
          i += len;
          continue;
        }
        raw.push_back(i);
        ++i;
      }
      if (!closed) return std::nullopt;
      raw.push_back(i);
    } else {
      // Plain: the value is the source text itself, unless it was folded from several lines.
      if (line.compare(col, value.size(), value) != 0) return std::nullopt;
      for (std::size_t i = 0; i <= value.size(); ++i) raw.push_back(col + i);
    }
    if (raw.size() != value.size() + 1) return std::nullopt;
    return static_cast<int>(raw[offset]) + 1;
  }

  // A double-quoted escape at line[i] == '\\': its length in the source and in the value
  // (UTF-8 bytes); {0, 0} when it is not one this follows.
  static std::pair<std::size_t, std::size_t> escapeSize(const std::string& line, std::size_t i) {
    char e = line[i + 1];
    std::size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits == 0) {
      if (e == 'N' || e == '_') return {2, 2};  // U+0085, U+00A0
      if (e == 'L' || e == 'P') return {2, 3};  // U+2028, U+2029
      return {2, 1};
    }
    if (i + 2 + digits > line.size()) return {0, 0};
    unsigned long cp = 0;
    auto [ptr, ec] = std::from_chars(line.data() + i + 2, line.data() + i + 2 + digits, cp, 16);
    if (ec != std::errc() || ptr != line.data() + i + 2 + digits) return {0, 0};
    std::size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    return {2 + digits, bytes};
  }

  // ---- sections ----

  void readTop(const YAML::Node& root, Config& config) {
    if (root.IsNull()) return;  // an empty file: every default
    if (!root.IsMap()) {
      error(posOf(root), "",
            "expected a map with the keys " + listNames(kTopKeys) + ", got " + describe(root));
      return;
    }
    auto entries = readMap(root, "", kTopKeys, kTopLater);
    if (auto* e = find(entries, "poll")) readPoll(*e, config.poll);
    if (auto* e = find(entries, "targets")) readTargets(*e, config);
    if (auto* e = find(entries, "rules")) readRules(*e, config);
    if (auto* e = find(entries, "dump")) readDump(*e, config.dump);
    if (auto* e = find(entries, "alerts")) readAlerts(*e, config.alerts);
    if (auto* e = find(entries, "discovery")) readDiscovery(*e, config.discovery);
    checkTargetRefs();
  }

  void readDiscovery(const Entry& e, DiscoverySpec& d) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      typeError(e, "a map with the keys " + listNames(kDiscoveryKeys));
      return;
    }
    auto entries = readMap(e.value, e.path, kDiscoveryKeys, {});
    if (const Entry* i = find(entries, "interval"))
      if (auto v = readDurationAtLeast(*i, kMinDiscoveryInterval)) d.interval = *v;
    if (const Entry* l = find(entries, "containers_log_dir")) {
      if (!requireScalar(*l, "an absolute directory path")) return;
      const std::string& v = l->value.Scalar();
      if (v.empty() || v[0] != '/')
        error(valuePos(*l), l->path, "must be an absolute path, got " + describe(l->value));
      else
        d.containers_log_dir = v;
    }
  }

  void readPoll(const Entry& e, PollSpec& poll) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      typeError(e, "a map with the keys " + listNames(kPollKeys));
      return;
    }
    auto entries = readMap(e.value, e.path, kPollKeys, {});
    const Entry* interval = find(entries, "interval");
    const Entry* fast = find(entries, "fast_interval");
    bool interval_ok = true, fast_ok = true;
    if (interval) {
      auto d = readDurationAtLeast(*interval, kMinPollInterval);
      interval_ok = d.has_value();
      if (d) poll.interval = *d;
    }
    if (fast) {
      auto d = readDurationAtLeast(*fast, kMinPollInterval);
      fast_ok = d.has_value();
      if (d) poll.fast_interval = *d;
    }
    if (interval_ok && fast_ok && poll.fast_interval > poll.interval) {
      using config_values::formatDurationExact;
      std::string msg = "fast_interval (" + formatDurationExact(poll.fast_interval) +
                        (fast ? "" : ", the default") + ") must not be longer than interval (" +
                        formatDurationExact(poll.interval) + (interval ? "" : ", the default") +
                        ")";
      const Entry* at = fast ? fast : interval;
      error(valuePos(*at), at->path, msg);
    }
    if (auto* a = find(entries, "fast_above"))
      if (auto r = readRatio(*a)) poll.fast_above = *r;
    if (auto* t = find(entries, "fast_when_tto_below"))
      if (auto d = readDuration(*t)) poll.fast_when_tto_below = *d;
    if (auto* t = find(entries, "full_read_interval"))
      if (auto d = readDuration(*t)) poll.full_read_interval = *d;
    if (auto* t = find(entries, "events"))
      if (auto b = readBool(*t)) poll.events = *b;
    // The kernel takes PSI trigger windows from 500ms to 10s, and a stall within the window.
    const Entry* stall = find(entries, "psi_stall");
    const Entry* window = find(entries, "psi_window");
    bool window_ok = true, stall_ok = true;
    if (window) {
      auto d = readDuration(*window);
      window_ok = d && *d >= std::chrono::milliseconds(500) && *d <= std::chrono::seconds(10);
      if (d && !window_ok)
        error(valuePos(*window), window->path,
              "must be from 500ms to 10s (the kernel's bounds for a PSI trigger), got " +
                  config_values::formatDurationExact(*d));
      if (window_ok) poll.psi_window = *d;
    }
    if (stall) {
      auto d = readDuration(*stall);
      stall_ok = d && *d > Duration::zero();
      if (d && !stall_ok) error(valuePos(*stall), stall->path, "must be more than 0s");
      if (stall_ok) poll.psi_stall = *d;
    }
    if (const Entry* r = find(entries, "skim_rate")) {
      // A size per second: "1GiB/s" (or "1GiB"); 0 turns the skim off.
      if (requireScalar(*r, "a rate such as 1GiB/s, or 0")) {
        std::string text = r->value.Scalar();
        if (text.size() > 2 && text.compare(text.size() - 2, 2, "/s") == 0)
          text.resize(text.size() - 2);
        if (auto n = parseBytes(text))
          poll.skim_rate = *n;
        else
          error(valuePos(*r), r->path, n.error().message + " (a rate such as 1GiB/s, or 0)");
      }
    }
    if (window_ok && stall_ok && poll.psi_stall > poll.psi_window) {
      const Entry* at = stall ? stall : window;
      error(valuePos(*at), at->path,
            "psi_stall (" + config_values::formatDurationExact(poll.psi_stall) +
                ") must not be longer than psi_window (" +
                config_values::formatDurationExact(poll.psi_window) + ")");
    }
  }

  void readTargets(const Entry& e, Config& config) {
    if (e.value.IsNull()) return;  // `targets:` alone: none, as when absent
    if (!e.value.IsSequence()) {
      typeError(e, "a list of targets");
      targets_incomplete_ = true;
      return;
    }
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      if (auto t = readTarget(e.value[i], indexed(e.path, i))) config.targets.push_back(*t);
    }
  }

  std::optional<TargetSpec> readTarget(const YAML::Node& item, const std::string& path) {
    if (!item.IsMap()) {
      error(posOf(item), path,
            "expected a map with a name and one of " + kTargetKindList + ", got " + describe(item));
      targets_incomplete_ = true;
      return std::nullopt;
    }
    std::vector<std::string> meant;
    auto entries = readMap(item, path, kTargetKeys, kTargetLater, &meant);
    TargetSpec spec;
    bool ok = true;
    if (const Entry* n = find(entries, "name")) {
      if (auto name = readName(*n, "target")) {
        spec.target.name = *name;
        auto [first, inserted] = target_names_.emplace(*name, posOf(n->value).line);
        if (!inserted) {
          error(valuePos(*n), n->path,
                "duplicate target name '" + *name + "' (first at line " +
                    std::to_string(first->second) + ")");
          ok = false;
        }
      } else {
        targets_incomplete_ = true;
        ok = false;
      }
    } else {
      if (!contains(meant, "name")) error(posOf(item), path, "missing required key 'name'");
      ok = false;
    }

    std::vector<const Entry*> kinds;
    for (const auto& en : entries)
      if (contains(kTargetKinds, en.key)) kinds.push_back(&en);
    if (kinds.empty()) {
      // A misspelt kind, or one of a later version, has been reported already.
      bool reported = std::any_of(meant.begin(), meant.end(), [](const std::string& k) {
        return contains(kTargetKinds, k) || contains(kTargetLaterKinds, k);
      });
      if (!reported)
        error(posOf(item), path,
              "no target kind: give one of cgroup: PATH, pid: N, self: true, host: true, "
              "process: REGEX, pid_file: PATH, cgroup_glob: GLOB, systemd_unit: NAME");
      ok = false;
    } else {
      ok = readTargetKind(*kinds[0], spec) && ok;
      for (std::size_t i = 1; i < kinds.size(); ++i) {
        error(posOf(kinds[i]->key_node), kinds[i]->path,
              "'" + kinds[i]->key + "' and '" + kinds[0]->key +
                  "' given together: a target is exactly one of " + kTargetKindList);
        ok = false;
      }
    }
    if (const Entry* l = find(entries, "limit_env")) ok = readEnvName(*l, spec.limit_env) && ok;

    if (const Entry* w = find(entries, "predict_window")) {
      auto d = readDurationAtLeast(*w, kMinPredictWindow);
      if (d && *d > kMaxPredictWindow) {
        error(valuePos(*w), w->path, "must be at most 1h, got '" + w->value.Scalar() + "'");
        d.reset();
      }
      if (d)
        spec.predict_window = *d;
      else
        ok = false;
    }
    ok = readRuntime(entries, spec.runtime) && ok;
    ok = readTargetDump(entries, spec) && ok;
    if (const Entry* jvm = find(entries, "jvm");
        jvm && spec.runtime.jvm_perfdata && spec.target.kind == TargetKind::kHost && ok) {
      error(posOf(jvm->key_node), jvm->path,
            "a JVM is read from a cgroup's or a pid's processes; the host target has none of "
            "its own");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return spec;
  }

  void readAlerts(const Entry& e, AlertsSpec& a) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      typeError(e, "a map with the keys " + listNames(kAlertsKeys));
      return;
    }
    auto keys = readMap(e.value, e.path, kAlertsKeys, {});
    if (const Entry* am = find(keys, "alertmanager")) readAlertmanager(*am, a);
    const Entry* m = find(keys, "metrics");
    if (!m || m->value.IsNull()) return;
    if (!m->value.IsMap()) {
      typeError(*m, "a map with the keys " + listNames(kMetricsKeys));
      return;
    }
    auto mk = readMap(m->value, m->path, kMetricsKeys, {});
    if (const Entry* l = find(mk, "listen")) {
      if (!requireScalar(*l, "HOST:PORT such as 127.0.0.1:10087")) return;
      const std::string& v = l->value.Scalar();
      std::size_t colon = v.rfind(':');
      long port = -1;
      if (colon != std::string::npos && colon + 1 < v.size()) {
        char* end = nullptr;
        port = std::strtol(v.c_str() + colon + 1, &end, 10);
        if (*end != '\0') port = -1;
      }
      if (port < 1 || port > 65535) {
        error(valuePos(*l), l->path,
              "expected HOST:PORT such as 127.0.0.1:" + std::to_string(kDefaultMetricsPort) +
                  " or 0.0.0.0:" + std::to_string(kDefaultMetricsPort) + ", got " +
                  describe(l->value));
        return;
      }
      // No host is loopback: the port answers anyone who reaches it, so reaching it from other
      // hosts (0.0.0.0, a pod IP) is asked for by name. Written out, so that every reader
      // (the listener, the alerts' generatorURL, print) sees the same address.
      a.metrics_listen = colon == 0 ? "127.0.0.1" + v : v;
    }
  }

  void readAlertmanager(const Entry& e, AlertsSpec& a) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      typeError(e, "a map with the keys " + listNames(kAlertmanagerKeys));
      return;
    }
    auto keys = readMap(e.value, e.path, kAlertmanagerKeys, {});
    if (const Entry* urls = find(keys, "urls")) {
      if (!urls->value.IsSequence() || urls->value.size() == 0) {
        typeError(*urls, "a list of URLs such as [http://127.0.0.1:9093]");
      } else {
        for (std::size_t i = 0; i < urls->value.size(); ++i) {
          Entry u{"urls", urls->key_node, urls->value[i], indexed(urls->path, i)};
          std::string url;
          if (readUrl(u, url, UrlSchemes::kHttpOrHttps)) a.alertmanager_urls.push_back(url);
        }
      }
    } else {
      error(posOf(e.key_node), e.path, "missing required key 'urls'");
    }
    if (const Entry* r = find(keys, "resend_interval"))
      if (auto d = readDurationAtLeast(*r, std::chrono::seconds(1))) a.resend_interval = *d;
    if (const Entry* t = find(keys, "timeout"))
      if (auto d = readDurationAtLeast(*t, std::chrono::milliseconds(10)))
        a.alertmanager_timeout = *d;
    auto path = [&](const char* key, std::string& out) {
      if (const Entry* f = find(keys, key)) {
        if (!requireScalar(*f, "an absolute file path")) return;
        if (f->value.Scalar().empty() || f->value.Scalar()[0] != '/')
          error(valuePos(*f), f->path, "must be an absolute path, got " + describe(f->value));
        else
          out = f->value.Scalar();
      }
    };
    path("bearer_token_file", a.bearer_token_file);
    path("basic_auth_file", a.basic_auth_file);
    if (const Entry* t = find(keys, "tls")) {
      if (!t->value.IsMap()) {
        typeError(*t, "a map with the keys " + listNames(kTlsKeys));
      } else {
        auto tk = readMap(t->value, t->path, kTlsKeys, {});
        auto tlsPath = [&](const char* key, std::string& out) {
          if (const Entry* f = find(tk, key)) {
            if (!requireScalar(*f, "an absolute file path")) return;
            if (f->value.Scalar().empty() || f->value.Scalar()[0] != '/')
              error(valuePos(*f), f->path, "must be an absolute path, got " + describe(f->value));
            else
              out = f->value.Scalar();
          }
        };
        tlsPath("ca_file", a.tls.ca_file);
        tlsPath("cert_file", a.tls.cert_file);
        tlsPath("key_file", a.tls.key_file);
        if (a.tls.cert_file.empty() != a.tls.key_file.empty())
          error(posOf(t->key_node), t->path,
                "give cert_file and key_file together (a client certificate and its key)");
        if (const Entry* n = find(tk, "server_name"))
          if (requireScalar(*n, "a host name")) a.tls.server_name = n->value.Scalar();
        if (const Entry* i = find(tk, "insecure_skip_verify"))
          if (auto b = readBool(*i)) a.tls.insecure_skip_verify = *b;
        bool https = std::any_of(a.alertmanager_urls.begin(), a.alertmanager_urls.end(),
                                 [](const std::string& u) { return u.rfind("https:", 0) == 0; });
        if (!https && !a.alertmanager_urls.empty())
          error(posOf(t->key_node), t->path, "tls is set but no URL is https://");
      }
    }
    if (!a.bearer_token_file.empty() && !a.basic_auth_file.empty())
      error(posOf(e.key_node), e.path, "give bearer_token_file or basic_auth_file, not both");
    if (const Entry* l = find(keys, "labels")) {
      if (!l->value.IsMap()) {
        typeError(*l, "a map of label names to values such as {cluster: prod}");
      } else {
        for (auto it = l->value.begin(); it != l->value.end(); ++it) {
          const YAML::Node k = it->first;
          const YAML::Node v = it->second;
          if (!k.IsScalar() || !v.IsScalar()) {
            error(posOf(k), l->path, "expected name: value pairs of strings");
            continue;
          }
          a.static_labels.emplace_back(k.Scalar(), v.Scalar());
        }
      }
    }
  }

  void readDump(const Entry& e, DumpSpec& d) {
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      typeError(e, "a map with the keys " + listNames(kDumpKeys));
      return;
    }
    auto keys = readMap(e.value, e.path, kDumpKeys, {});
    auto directory = [&](const char* key, std::string& out, const char* example) {
      const Entry* dir = find(keys, key);
      if (!dir || !requireScalar(*dir, example)) return;
      const std::string& v = dir->value.Scalar();
      if (v.empty() || v[0] != '/')
        error(valuePos(*dir), dir->path, "must be an absolute path, got " + describe(dir->value));
      else
        out = v;
    };
    directory("dir", d.dir, "a directory such as /var/lib/oomsentinel/incidents");
    directory("throttle_records", d.throttle_records,
              "a directory such as /var/lib/oomsentinel/throttle");
    auto count = [&](const char* key, std::size_t& out, std::size_t min, std::size_t max) {
      const Entry* c = find(keys, key);
      if (!c || !requireScalar(*c, "a number")) return;
      const std::string& v = c->value.Scalar();
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || ptr != v.data() + v.size() || n < min || n > max) {
        error(valuePos(*c), c->path,
              "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + describe(c->value));
        return;
      }
      out = n;
    };
    count("max_incidents", d.max_incidents, 1, 100000);
    count("per_minute", d.per_minute, 1, 10000);
    count("history", d.history, 0, 10000);
    auto bytes = [&](const char* key, std::uint64_t& out) {
      if (const Entry* b = find(keys, key))
        if (auto n = readBytes(*b)) out = *n;
    };
    bytes("max_bytes", d.max_bytes);
    bytes("min_free", d.min_free);
    bytes("max_artifact_bytes", d.max_artifact_bytes);
    bytes("max_bundle_bytes", d.max_bundle_bytes);
    auto duration = [&](const char* key, Duration& out, Duration min) {
      if (const Entry* t = find(keys, key))
        if (auto v = readDurationAtLeast(*t, min)) out = *v;
    };
    duration("max_age", d.max_age, std::chrono::minutes(1));
    duration("timeout", d.timeout, std::chrono::milliseconds(100));
    duration("target_cooldown", d.target_cooldown, Duration::zero());
  }

  // dumpers:, gperftools:, exec:, proc:, and the dump keys of go: and jvm: of a target.
  bool readTargetDump(const std::vector<Entry>& entries, TargetSpec& spec) {
    TargetDumpSpec& d = spec.dump;
    bool ok = true;
    if (const Entry* g = find(entries, "gperftools")) {
      if (!g->value.IsMap()) {
        typeError(*g, "a map with the keys " + listNames(kGperftoolsKeys));
        ok = false;
      } else {
        auto keys = readMap(g->value, g->path, kGperftoolsKeys, {});
        if (const Entry* p = find(keys, "heap_prefix")) {
          if (!requireScalar(*p, "the HEAPPROFILE prefix, such as /tmp/app")) {
            ok = false;
          } else if (p->value.Scalar().empty() || p->value.Scalar()[0] != '/') {
            error(valuePos(*p), p->path,
                  "must be an absolute path (HEAPPROFILE as the target sees it), got " +
                      describe(p->value));
            ok = false;
          } else {
            d.gperftools_heap_prefix = p->value.Scalar();
          }
        } else {
          error(posOf(g->key_node), g->path,
                "missing required key 'heap_prefix' (the target's HEAPPROFILE)");
          ok = false;
        }
        if (const Entry* sig = find(keys, "signal"))
          ok = readSignal(*sig, d.gperftools_signal) && ok;
      }
    }
    if (const Entry* go = find(entries, "go"); go && go->value.IsMap()) {
      for (auto it = go->value.begin(); it != go->value.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar() || k.Scalar() != "profiles") continue;
        Entry p{"profiles", k, v, join(go->path, "profiles")};
        auto list = readNameList(p, "[heap, goroutine?debug=2]");
        if (!list) {
          ok = false;
          continue;
        }
        d.go_profiles.clear();
        for (const auto& [name, node] : *list) {
          bool good = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '?' || c == '=' ||
                   c == '&' || c == '_';
          });
          if (!good) {
            error(posOf(node), p.path,
                  "a pprof profile is a name under /debug/pprof/ such as heap, allocs or "
                  "goroutine?debug=2, got '" +
                      shortened(name) + "'");
            ok = false;
          } else {
            d.go_profiles.push_back(name);
          }
        }
      }
    }
    if (const Entry* jvm = find(entries, "jvm"); jvm && jvm->value.IsMap()) {
      for (auto it = jvm->value.begin(); it != jvm->value.end(); ++it) {
        const YAML::Node k = it->first;
        const YAML::Node v = it->second;
        if (!k.IsScalar()) continue;
        const std::string key = k.Scalar();
        if (key != "class_histogram" && key != "heap_dump") continue;
        Entry b{key, k, v, join(jvm->path, key)};
        auto value = readBool(b);
        if (!value)
          ok = false;
        else
          (key == "heap_dump" ? d.jvm_heap_dump : d.jvm_class_histogram) = *value;
      }
    }
    if (const Entry* x = find(entries, "exec")) {
      if (!x->value.IsMap()) {
        typeError(*x, "a map with the keys " + listNames(kExecKeys));
        ok = false;
      } else {
        auto keys = readMap(x->value, x->path, kExecKeys, {});
        if (const Entry* argv = find(keys, "argv")) {
          if (!argv->value.IsSequence() || argv->value.size() == 0) {
            typeError(*argv, "a list of strings such as [/usr/local/bin/collect, --fast]");
            ok = false;
          } else {
            for (std::size_t i = 0; i < argv->value.size(); ++i) {
              const YAML::Node a = argv->value[i];
              if (!a.IsScalar()) {
                error(posOf(a), indexed(argv->path, i), "expected a string, got " + describe(a));
                ok = false;
              } else {
                d.exec_argv.push_back(a.Scalar());
              }
            }
            if (!d.exec_argv.empty() && (d.exec_argv[0].empty() || d.exec_argv[0][0] != '/')) {
              error(posOf(argv->value[0]), indexed(argv->path, 0),
                    "the program must be an absolute path (it runs without a shell or PATH)");
              ok = false;
            }
          }
        } else {
          error(posOf(x->key_node), x->path, "missing required key 'argv'");
          ok = false;
        }
        if (const Entry* t = find(keys, "timeout")) {
          if (auto v = readDurationAtLeast(*t, std::chrono::milliseconds(10)))
            d.exec_timeout = *v;
          else
            ok = false;
        }
        if (const Entry* u = find(keys, "user")) {
          if (!u->value.IsScalar() || u->value.Scalar().empty()) {
            typeError(*u, "a user name or uid such as nobody");
            ok = false;
          } else {
            d.exec_user = u->value.Scalar();
          }
        }
        if (const Entry* m = find(keys, "memory_max")) {
          auto v = readBytes(*m);
          if (v && *v < kMinExecMemory) {
            error(valuePos(*m), m->path,
                  "must be at least 16MiB (the hook's cgroup's memory.max), got '" +
                      m->value.Scalar() + "'");
            v.reset();
          }
          if (v)
            d.exec_memory_max = *v;
          else
            ok = false;
        }
        if (const Entry* p = find(keys, "pids_max")) {
          const std::string& v = p->value.IsScalar() ? p->value.Scalar() : std::string();
          std::uint64_t n = 0;
          auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
          if (!p->value.IsScalar() || ec != std::errc() || ptr != v.data() + v.size() ||
              n < kMinExecPids || n > kMaxExecPids) {
            error(valuePos(*p), p->path,
                  "expected a whole number from " + std::to_string(kMinExecPids) + " to " +
                      std::to_string(kMaxExecPids) + ", got " + describe(p->value));
            ok = false;
          } else {
            d.exec_pids_max = n;
          }
        }
      }
    }
    if (const Entry* pr = find(entries, "proc")) {
      if (!pr->value.IsMap()) {
        typeError(*pr, "a map with the keys " + listNames(kProcKeys));
        ok = false;
      } else {
        auto keys = readMap(pr->value, pr->path, kProcKeys, {});
        if (const Entry* sm = find(keys, "smaps")) {
          if (auto v = readBool(*sm))
            d.proc_smaps = *v;
          else
            ok = false;
        }
      }
    }
    if (const Entry* th = find(entries, "throttle_during_dump")) ok = readThrottle(*th, spec) && ok;
    // Which dumpers: as listed, or inferred from the sections given.
    const bool pidless = spec.target.kind == TargetKind::kHost;
    if (const Entry* list = find(entries, "dumpers")) {
      auto names = readNameList(*list, "[proc, gperftools]");
      if (!names) return false;
      d.dumpers.clear();
      for (const auto& [name, node] : *names) {
        if (!contains(knownDumpers(), name)) {
          auto guess = didYouMean(name, knownDumpers());
          error(posOf(node), list->path,
                "unknown dumper '" + shortened(name) + "'" +
                    (guess ? " (did you mean '" + *guess + "'?)"
                           : " (expected one of: " + listNames(knownDumpers()) + ")"));
          ok = false;
          continue;
        }
        std::string missing;
        if (name == "gperftools" && !find(entries, "gperftools"))
          missing = "the 'gperftools' dumper needs a gperftools: {heap_prefix: ...} section";
        else if (name == "go_pprof" && spec.runtime.go_pprof_url.empty())
          missing = "the 'go_pprof' dumper needs go.pprof_url";
        else if (name == "exec" && !find(entries, "exec"))
          missing = "the 'exec' dumper needs an exec: {argv: [...]} section";
        else if ((name == "gperftools" || name == "jvm") && pidless)
          missing = "the '" + name + "' dumper needs a process: give a cgroup or pid target";
        if (!missing.empty()) {
          error(posOf(node), list->path, missing);
          ok = false;
          continue;
        }
        if (!contains(d.dumpers, name)) d.dumpers.push_back(name);
      }
    } else {
      d.dumpers = {"proc"};
      if (find(entries, "gperftools") && !pidless) d.dumpers.push_back("gperftools");
      if (!spec.runtime.go_pprof_url.empty()) d.dumpers.push_back("go_pprof");
      if (find(entries, "jvm") && !pidless && (d.jvm_class_histogram || d.jvm_heap_dump))
        d.dumpers.push_back("jvm");
      if (find(entries, "exec")) d.dumpers.push_back("exec");
    }
    return ok;
  }

  // throttle_during_dump: true | false | {max_duration: 5s, headroom: 16MiB}
  bool readThrottle(const Entry& e, TargetSpec& spec) {
    TargetDumpSpec& d = spec.dump;
    if (e.value.IsMap()) {
      auto keys = readMap(e.value, e.path, kThrottleKeys, {});
      d.throttle = true;
      if (const Entry* m = find(keys, "max_duration")) {
        auto v = readDurationAtLeast(*m, std::chrono::milliseconds(100));
        if (v && *v > std::chrono::minutes(5)) {
          error(valuePos(*m), m->path,
                "must be at most 5m (the workload is held back all that time), got '" +
                    m->value.Scalar() + "'");
          return false;
        }
        if (!v) return false;
        d.throttle_max_duration = *v;
      }
      if (const Entry* h = find(keys, "headroom")) {
        auto v = readBytes(*h);
        if (!v) return false;
        if (*v == 0) {
          error(valuePos(*h), h->path, "must be more than 0 (leave it out for the default)");
          return false;
        }
        d.throttle_headroom = *v;
      }
    } else {
      auto v = readBool(e);
      if (!v) return false;
      d.throttle = *v;
    }
    if (d.throttle && spec.target.kind == TargetKind::kHost) {
      error(posOf(e.key_node), e.path,
            "the host target has no memory.high to throttle: give a cgroup or pid target");
      return false;
    }
    return true;
  }

  bool readSignal(const Entry& e, int& out) {
    static const std::pair<const char*, int> kNames[] = {
        {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGPROF", SIGPROF}};
    if (!requireScalar(e, "a signal such as SIGUSR2")) return false;
    std::string v = e.value.Scalar();
    bool numeric = !v.empty() && v[0] >= '0' && v[0] <= '9';
    if (!numeric && v.rfind("SIG", 0) != 0) v = "SIG" + v;
    int n = 0;
    for (const auto& [name, num] : kNames)
      if (v == name) n = num;
    if (v.rfind("SIGRTMIN+", 0) == 0) {
      int k = std::atoi(v.c_str() + 9);
      if (k >= 0 && SIGRTMIN + k <= SIGRTMAX) n = SIGRTMIN + k;
    } else if (numeric) {
      int k = std::atoi(v.c_str());
      if (k == SIGUSR1 || k == SIGUSR2 || k == SIGPROF || (k >= SIGRTMIN && k <= SIGRTMAX)) n = k;
    }
    if (n == 0) {
      error(valuePos(e), e.path,
            "use SIGUSR1, SIGUSR2, SIGPROF or SIGRTMIN+N (a signal the profiler handles and that "
            "cannot stop the target), got " +
                describe(e.value));
      return false;
    }
    out = n;
    return true;
  }

  // go:, jvm:, metrics_url:, signals:, runtime: of a target.
  bool readRuntime(const std::vector<Entry>& entries, RuntimeSpec& rt) {
    bool ok = true;
    if (const Entry* go = find(entries, "go")) {
      if (!go->value.IsMap()) {
        typeError(*go, "a map with the keys " + listNames(kGoKeys));
        ok = false;
      } else {
        auto keys = readMap(go->value, go->path, kGoKeys, {});
        if (const Entry* u = find(keys, "pprof_url")) ok = readUrl(*u, rt.go_pprof_url) && ok;
        if (const Entry* u = find(keys, "expvar_url")) ok = readUrl(*u, rt.go_expvar_url) && ok;
        if (rt.go_expvar_url.empty() && !rt.go_pprof_url.empty())
          if (auto pprof = Url::parse(rt.go_pprof_url))
            rt.go_expvar_url = pprof->withTarget("/debug/vars").str();
      }
    }
    if (const Entry* jvm = find(entries, "jvm")) {
      if (jvm->value.IsNull()) {
        rt.jvm_perfdata = true;
      } else if (!jvm->value.IsMap()) {
        typeError(*jvm, "a map with the keys " + listNames(kJvmKeys));
        ok = false;
      } else {
        auto keys = readMap(jvm->value, jvm->path, kJvmKeys, {});
        rt.jvm_perfdata = true;
        if (const Entry* p = find(keys, "perfdata")) {
          auto b = readBool(*p);
          if (b)
            rt.jvm_perfdata = *b;
          else
            ok = false;
        }
      }
    }
    if (const Entry* m = find(entries, "metrics_url")) ok = readUrl(*m, rt.metrics_url) && ok;
    if (const Entry* sig = find(entries, "signals")) {
      ok = readSignalMappings(*sig, rt.signals) && ok;
      if (!rt.signals.empty() && !find(entries, "metrics_url")) {
        error(posOf(sig->key_node), sig->path,
              "signals are read from the target's metrics_url, and it has none");
        ok = false;
      }
    }
    if (const Entry* r = find(entries, "runtime")) {
      if (!r->value.IsMap()) {
        typeError(*r, "a map with the keys " + listNames(kRuntimeKeys));
        ok = false;
      } else {
        auto keys = readMap(r->value, r->path, kRuntimeKeys, {});
        const Entry* interval = find(keys, "interval");
        const Entry* stale = find(keys, "stale_after");
        if (interval) {
          auto d = readDurationAtLeast(*interval, kMinRuntimeInterval);
          if (d)
            rt.interval = *d;
          else
            ok = false;
        }
        if (const Entry* t = find(keys, "timeout")) {
          auto d = readDurationAtLeast(*t, kMinRuntimeTimeout);
          if (d && *d > kMaxRuntimeTimeout) {
            error(valuePos(*t), t->path, "must be at most 1m, got '" + t->value.Scalar() + "'");
            d.reset();
          }
          if (d)
            rt.timeout = *d;
          else
            ok = false;
        }
        if (stale) {
          auto d = readDuration(*stale);
          if (d)
            rt.stale_after = *d;
          else
            ok = false;
        }
        if (ok && rt.stale_after < rt.interval) {
          using config_values::formatDurationExact;
          error(valuePos(stale ? *stale : *interval), (stale ? stale : interval)->path,
                "stale_after (" + formatDurationExact(rt.stale_after) +
                    ") is shorter than interval (" + formatDurationExact(rt.interval) +
                    "): every value would be stale before the next fetch");
          ok = false;
        }
        if (const Entry* b = find(keys, "max_bytes")) {
          auto n = readBytes(*b);
          if (n && (*n < kMinRuntimeBytes || *n > kMaxRuntimeBytes)) {
            error(valuePos(*b), b->path,
                  "must be between 1KiB and 64MiB, got '" + b->value.Scalar() + "'");
            n.reset();
          }
          if (n)
            rt.max_bytes = *n;
          else
            ok = false;
        }
      }
    }
    return ok;
  }

  bool readUrl(const Entry& e, std::string& out, UrlSchemes schemes = UrlSchemes::kHttpOnly) {
    if (!requireScalar(e, "a URL such as http://127.0.0.1:6060")) return false;
    auto u = Url::parse(e.value.Scalar(), schemes);
    if (!u) {
      error(valuePos(e), e.path, u.error().message);
      return false;
    }
    out = u->str();
    return true;
  }

  std::optional<std::uint64_t> readBytes(const Entry& e) {
    if (!requireScalar(e, "a size such as 4MiB")) return std::nullopt;
    auto n = parseBytes(e.value.Scalar());
    if (!n) {
      error(valuePos(e), e.path, n.error().message);
      return std::nullopt;
    }
    return *n;
  }

  // signals: {my_signal: 'family{label="x"}'}
  bool readSignalMappings(const Entry& e, std::vector<std::pair<std::string, std::string>>& out) {
    if (!e.value.IsMap()) {
      typeError(e,
                "a map of signal names to metric selectors, such as queue_bytes: "
                "'app_queue_bytes{queue=\"in\"}'");
      return false;
    }
    bool ok = true;
    std::map<std::string, int> first_line;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      const YAML::Node k = it->first;
      const YAML::Node v = it->second;
      if (!k.IsScalar()) {
        error(posOf(k), e.path, "expected a signal name, got " + describe(k));
        ok = false;
        continue;
      }
      const std::string name = k.Scalar();
      const std::string path = join(e.path, name);
      bool name_ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '_';
                     });
      if (!name_ok) {
        error(posOf(k), path,
              "a signal name is letters, digits and '_', not starting with a digit, got '" +
                  shortened(name) + "'");
        ok = false;
        continue;
      }
      auto [first, inserted] = first_line.emplace(name, posOf(k).line);
      if (!inserted) {
        error(posOf(k), path,
              "duplicate signal '" + name + "' (first at line " + std::to_string(first->second) +
                  ")");
        ok = false;
        continue;
      }
      if (!v.IsScalar() || v.Scalar().empty()) {
        error(v.IsNull() ? posOf(k) : posOf(v), path,
              "expected a metric selector such as 'family{label=\"x\"}', got " + describe(v));
        ok = false;
        continue;
      }
      auto sel = PromSelector::parse(v.Scalar());
      if (!sel) {
        error(posOf(v), path, sel.error().message);
        ok = false;
        continue;
      }
      if (out.size() == kMaxRuntimeSignals) {
        error(posOf(k), path,
              "at most " + std::to_string(kMaxRuntimeSignals) + " signals per target");
        return false;
      }
      out.emplace_back(name, v.Scalar());
    }
    return ok;
  }

  // A POSIX shell's variable name: what a container's env can define and getenv can read.
  bool readEnvName(const Entry& e, std::string& out) {
    if (!requireScalar(e, "an environment variable name such as MEMORY_LIMIT")) return false;
    const std::string& s = e.value.Scalar();
    auto word = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    };
    if (s.empty() || (s[0] >= '0' && s[0] <= '9') || !std::all_of(s.begin(), s.end(), word)) {
      error(valuePos(e), e.path,
            "an environment variable name is letters, digits and '_', not starting with a "
            "digit, got " +
                describe(e.value));
      return false;
    }
    out = s;
    return true;
  }

  // process, pid_file, cgroup_glob, systemd_unit: checked here so that a typo is a config
  // error, not a target that silently never appears.
  bool readSelector(const Entry& e, TargetSpec& spec) {
    static const std::vector<std::pair<std::string, SelectorKind>> kKinds = {
        {"process", SelectorKind::kProcess},
        {"pid_file", SelectorKind::kPidFile},
        {"cgroup_glob", SelectorKind::kCgroupGlob},
        {"systemd_unit", SelectorKind::kSystemdUnit}};
    SelectorKind kind = SelectorKind::kNone;
    for (const auto& [key, k] : kKinds)
      if (e.key == key) kind = k;
    static const std::vector<std::pair<SelectorKind, std::string>> kExpected = {
        {SelectorKind::kProcess, "a regular expression such as 'java .*-jar app\\.jar'"},
        {SelectorKind::kPidFile, "an absolute path such as /run/app.pid"},
        {SelectorKind::kCgroupGlob, "a glob such as 'kubepods.slice/*/*'"},
        {SelectorKind::kSystemdUnit, "a unit name such as app.service"}};
    std::string expected;
    for (const auto& [k, x] : kExpected)
      if (k == kind) expected = x;
    if (!requireScalar(e, expected)) return false;
    const std::string& v = e.value.Scalar();
    if (v.empty()) {
      error(valuePos(e), e.path, "empty: expected " + expected);
      return false;
    }
    switch (kind) {
      case SelectorKind::kProcess:
        if (auto st = checkProcessSelector(v); !st) {
          error(valuePos(e), e.path, "not a valid RE2 regular expression: " + st.error().message);
          return false;
        }
        break;
      case SelectorKind::kPidFile:
        if (v[0] != '/') {
          error(valuePos(e), e.path, "must be an absolute path, got " + describe(e.value));
          return false;
        }
        break;
      case SelectorKind::kCgroupGlob: {
        if (v[0] == '/') {
          error(valuePos(e), e.path,
                "a glob is relative to the memory hierarchy's root: leave out the leading '/'");
          return false;
        }
        std::size_t start = 0;
        while (start <= v.size()) {
          std::size_t slash = v.find('/', start);
          if (v.substr(start, slash == std::string::npos ? std::string::npos : slash - start) ==
              "..") {
            error(valuePos(e), e.path, "a cgroup glob may not contain '..'");
            return false;
          }
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
        break;
      }
      case SelectorKind::kSystemdUnit: {
        bool suffix_ok = false;
        for (const auto& sfx : kUnitSuffixes)
          if (v.size() > sfx.size() && v.ends_with(sfx)) suffix_ok = true;
        if (v.find('/') != std::string::npos) {
          error(valuePos(e), e.path,
                "a unit name has no '/': give the unit (app.service), or use cgroup: PATH");
          return false;
        }
        if (!suffix_ok) {
          error(valuePos(e), e.path,
                "a unit with a cgroup of its own ends in .service, .scope or .slice, got " +
                    describe(e.value));
          return false;
        }
        break;
      }
      case SelectorKind::kNone:
        return false;
    }
    spec.selector = {kind, v};
    spec.target.kind = selectorTargetKind(kind);
    return true;
  }

  bool readTargetKind(const Entry& e, TargetSpec& spec) {
    Target& target = spec.target;
    if (e.key == "process" || e.key == "pid_file" || e.key == "cgroup_glob" ||
        e.key == "systemd_unit")
      return readSelector(e, spec);
    if (e.key == "cgroup") {
      if (!requireScalar(e, "a cgroup path such as system.slice/app.service")) return false;
      const std::string& p = e.value.Scalar();
      if (p.empty()) {
        error(valuePos(e), e.path, "empty cgroup path (the root cgroup is '/')");
        return false;
      }
      std::size_t start = 0;
      while (start <= p.size()) {
        std::size_t slash = p.find('/', start);
        if (p.substr(start, slash == std::string::npos ? std::string::npos : slash - start) ==
            "..") {
          error(valuePos(e), e.path, "a cgroup path may not contain '..'");
          return false;
        }
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
      target.kind = TargetKind::kCgroup;
      target.cgroup = p;
      return true;
    }
    if (e.key == "pid") {
      const std::string expected = "a process id (1 to " + std::to_string(kMaxPid) + ")";
      if (!requireScalar(e, expected)) return false;
      const std::string& s = e.value.Scalar();
      long v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (isQuoted(e.value) || s.empty() || ec != std::errc() || ptr != s.data() + s.size() ||
          v < 1 || v > kMaxPid) {
        typeError(e, expected);
        return false;
      }
      target.kind = TargetKind::kPid;
      target.pid = static_cast<pid_t>(v);
      return true;
    }
    // self, host: only `true` says anything.
    auto b = readBool(e);
    if (!b) return false;
    if (!*b) {
      error(valuePos(e), e.path,
            "'" + e.key + ": false' selects nothing: write '" + e.key +
                ": true' or use another kind (cgroup, pid, self, host)");
      return false;
    }
    target.kind = e.key == "self" ? TargetKind::kSelf : TargetKind::kHost;
    return true;
  }

  void readRules(const Entry& e, Config& config) {
    config.rules_are_defaults = false;
    config.rules.clear();
    if (e.value.IsNull()) {
      error(valuePos(e), e.path,
            "empty: write 'rules: []' for no rules, or leave the key out for the built-in rules");
      return;
    }
    if (!e.value.IsSequence()) {
      typeError(e, "a list of rules");
      return;
    }
    std::map<std::string, int> names;
    for (std::size_t i = 0; i < e.value.size(); ++i) {
      if (auto r = readRule(e.value[i], indexed(e.path, i), names)) config.rules.push_back(*r);
    }
  }

  std::optional<RuleSpec> readRule(const YAML::Node& item, const std::string& path,
                                   std::map<std::string, int>& names) {
    if (!item.IsMap()) {
      error(posOf(item), path, "expected a map with a name and an expr, got " + describe(item));
      return std::nullopt;
    }
    std::vector<std::string> meant;
    auto entries = readMap(item, path, kRuleKeys, {}, &meant);
    RuleSpec rule;
    rule.actions = {"log"};
    bool ok = true;
    if (const Entry* n = find(entries, "name")) {
      if (auto name = readName(*n, "rule")) {
        rule.name = *name;
        auto [first, inserted] = names.emplace(*name, posOf(n->value).line);
        if (!inserted) {
          error(valuePos(*n), n->path,
                "duplicate rule name '" + *name + "' (first at line " +
                    std::to_string(first->second) + ")");
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      if (!contains(meant, "name")) error(posOf(item), path, "missing required key 'name'");
      ok = false;
    }

    if (const Entry* x = find(entries, "expr")) {
      ok = readExpr(*x, rule.expr) && ok;
    } else {
      if (!contains(meant, "expr")) error(posOf(item), path, "missing required key 'expr'");
      ok = false;
    }

    auto duration = [&](const char* key, Duration& out) {
      if (const Entry* d = find(entries, key)) {
        if (auto v = readDuration(*d))
          out = *v;
        else
          ok = false;
      }
    };
    duration("for", rule.for_duration);
    duration("keep_firing_for", rule.keep_firing_for);
    duration("cooldown", rule.cooldown);

    if (const Entry* s = find(entries, "severity")) {
      ok = readSeverity(*s, rule.severity) && ok;
    }

    if (const Entry* a = find(entries, "actions")) {
      auto list = readNameList(*a, "[log, alert]");
      if (!list) ok = false;
      rule.actions.clear();
      for (std::size_t i = 0; list && i < list->size(); ++i) {
        const auto& [name, node] = (*list)[i];
        std::string ipath = indexed(a->path, i);
        if (!contains(knownActions(), name)) {
          error(posOf(node), ipath, unknownName("action", name, knownActions()));
          ok = false;
        } else if (contains(rule.actions, name)) {
          error(posOf(node), ipath, "action '" + name + "' is listed twice");
          ok = false;
        } else {
          rule.actions.push_back(name);
        }
      }
    }

    if (const Entry* t = find(entries, "targets")) {
      auto list = readNameList(*t, "[app, db]");
      if (!list) ok = false;
      for (std::size_t i = 0; list && i < list->size(); ++i) {
        const auto& [name, node] = (*list)[i];
        target_refs_.push_back({name, posOf(node), indexed(t->path, i)});
        if (contains(rule.targets, name)) {
          error(posOf(node), indexed(t->path, i), "target '" + name + "' is listed twice");
          ok = false;
        } else {
          rule.targets.push_back(name);
        }
      }
    }
    if (!ok) return std::nullopt;
    return rule;
  }

  bool readExpr(const Entry& e, std::string& out) {
    if (!requireScalar(e, "an expression such as 'working_set_ratio > 85%'")) return false;
    const std::string& text = e.value.Scalar();
    auto parsed = Expr::parse(text);
    if (const auto* err = std::get_if<ExprError>(&parsed)) {
      std::size_t offset = err->column > 0 ? err->column - 1 : 0;
      std::optional<int> col = columnInScalar(e.value, std::min(offset, text.size()));
      Pos p = posOf(e.value);
      std::string msg = err->message;
      if (col) {
        p.column = *col;
      } else {
        // A block or multi-line scalar: point at its start and say where inside it.
        msg += " (at column " + std::to_string(err->column) + " of the expression)";
      }
      error(p, e.path, msg);
      return false;
    }
    out = trimmed(text);
    return true;
  }

  bool readSeverity(const Entry& e, Severity& out) {
    if (!requireScalar(e, "one of info, warning, critical")) return false;
    const std::string& s = e.value.Scalar();
    static constexpr Severity kValues[] = {Severity::kInfo, Severity::kWarning,
                                           Severity::kCritical};
    for (std::size_t i = 0; i < kSeverities.size(); ++i)
      if (s == kSeverities[i]) {
        out = kValues[i];
        return true;
      }
    error(valuePos(e), e.path, unknownName("severity", s, kSeverities));
    return false;
  }

  static std::string unknownName(const std::string& what, const std::string& name,
                                 const std::vector<std::string>& known) {
    std::string msg = "unknown " + what + " '" + shortened(name) + "'";
    if (auto guess = didYouMean(name, known)) return msg + " (did you mean '" + *guess + "'?)";
    return msg + " (expected one of: " + listNames(known) + ")";
  }

  void checkTargetRefs() {
    // A target that could not be read may be the one meant: say nothing rather than guess.
    if (targets_incomplete_) return;
    std::vector<std::string> names;
    for (const auto& [name, line] : target_names_) names.push_back(name);
    for (const auto& ref : target_refs_) {
      if (target_names_.count(ref.name)) continue;
      if (names.empty())
        error(ref.pos, ref.path,
              "unknown target '" + shortened(ref.name) + "' (the config defines no targets)");
      else
        error(ref.pos, ref.path, unknownName("target", ref.name, names));
    }
  }

  std::string file_;
  std::vector<std::string> lines_;
  std::vector<ConfigError> errors_;
  std::map<std::string, int> target_names_;  // name -> line
  bool targets_incomplete_ = false;
  std::vector<TargetRef> target_refs_;
};

}  // namespace

ConfigLoad loadConfigText(const std::string& text, const std::string& source_name) {
  return Loader(text, source_name).run(text);
}

ConfigLoad loadConfigFile(const std::string& path) {
  auto fail = [&](std::string message) {
    ConfigLoad out;
    out.errors.push_back({path, 0, 0, "", std::move(message)});
    return out;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return fail("larger than " + std::to_string(kMaxConfigBytes >> 20) +
                  " MiB: not a config file");
    }
  }
  ::close(fd);
  return loadConfigText(text, path);
}

}  // namespace oomsentinel
