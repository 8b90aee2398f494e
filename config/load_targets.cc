// The targets: section: each target's name and kind (config/loader.h). Its runtime endpoints
// are read in load_runtime.cc, its dumpers in load_dump.cc.
#include <algorithm>
#include <charconv>

#include "collectors/discovery.h"
#include "config/loader.h"

namespace oomsentinel::config_internal {

namespace {
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
// systemd units that have a cgroup of their own.
const std::vector<std::string> kUnitSuffixes = {".service", ".scope", ".slice"};
constexpr Duration kMinPredictWindow = std::chrono::seconds(1);
// The same bound as a rule's window functions have (rules/expr_parse.cc): no history is longer.
constexpr Duration kMaxPredictWindow = std::chrono::hours(1);
// The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger.
constexpr long kMaxPid = 4 * 1024 * 1024;

// A path with a ".." component would leave the cgroup tree.
bool hasDotDot(const std::string& p) {
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t slash = p.find('/', start);
    if (p.substr(start, slash == std::string::npos ? std::string::npos : slash - start) == "..")
      return true;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return false;
}
}  // namespace

void Loader::readTargets(const Entry& e, Config& config) {
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

std::optional<TargetSpec> Loader::readTarget(const YAML::Node& item, const std::string& path) {
  if (!item.IsMap()) {
    error(posOf(item), path,
          "expected a map with a name and one of " + kTargetKindList + ", got " + describe(item));
    targets_incomplete_ = true;
    return std::nullopt;
  }
  std::vector<std::string> meant;
  auto entries = readMap(item, path, kTargetKeys, &meant);
  TargetSpec spec;
  bool ok = readTargetName(item, path, entries, meant, spec);
  ok = readTargetKinds(item, path, entries, meant, spec) && ok;
  if (const Entry* l = find(entries, "limit_env")) ok = readEnvName(*l, spec.limit_env) && ok;
  if (const Entry* w = find(entries, "predict_window")) ok = readPredictWindow(*w, spec) && ok;
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

bool Loader::readTargetName(const YAML::Node& item, const std::string& path,
                            const std::vector<Entry>& entries,
                            const std::vector<std::string>& meant, TargetSpec& spec) {
  const Entry* n = find(entries, "name");
  if (!n) {
    if (!contains(meant, "name")) error(posOf(item), path, "missing required key 'name'");
    return false;
  }
  auto name = readName(*n, "target");
  if (!name) {
    targets_incomplete_ = true;
    return false;
  }
  spec.target.name = *name;
  auto [first, inserted] = target_names_.emplace(*name, posOf(n->value).line);
  if (!inserted) {
    error(valuePos(*n), n->path,
          "duplicate target name '" + *name + "' (first at line " + std::to_string(first->second) +
              ")");
    return false;
  }
  return true;
}

// Exactly one of the kinds (cgroup, pid, ..., systemd_unit).
bool Loader::readTargetKinds(const YAML::Node& item, const std::string& path,
                             const std::vector<Entry>& entries,
                             const std::vector<std::string>& meant, TargetSpec& spec) {
  std::vector<const Entry*> kinds;
  for (const auto& en : entries)
    if (contains(kTargetKinds, en.key)) kinds.push_back(&en);
  if (kinds.empty()) {
    // A misspelt kind has been reported already.
    bool reported = std::any_of(meant.begin(), meant.end(),
                                [](const std::string& k) { return contains(kTargetKinds, k); });
    if (!reported)
      error(posOf(item), path,
            "no target kind: give one of cgroup: PATH, pid: N, self: true, host: true, "
            "process: REGEX, pid_file: PATH, cgroup_glob: GLOB, systemd_unit: NAME");
    return false;
  }
  bool ok = readTargetKind(*kinds[0], spec);
  for (std::size_t i = 1; i < kinds.size(); ++i) {
    error(posOf(kinds[i]->key_node), kinds[i]->path,
          "'" + kinds[i]->key + "' and '" + kinds[0]->key +
              "' given together: a target is exactly one of " + kTargetKindList);
    ok = false;
  }
  return ok;
}

bool Loader::readPredictWindow(const Entry& w, TargetSpec& spec) {
  auto d = readDurationAtLeast(w, kMinPredictWindow);
  if (d && *d > kMaxPredictWindow) {
    error(valuePos(w), w.path, "must be at most 1h, got '" + w.value.Scalar() + "'");
    return false;
  }
  if (!d) return false;
  spec.predict_window = *d;
  return true;
}

// A POSIX shell's variable name: what a container's env can define and getenv can read.
bool Loader::readEnvName(const Entry& e, std::string& out) {
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
bool Loader::readSelector(const Entry& e, TargetSpec& spec) {
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
    case SelectorKind::kCgroupGlob:
      if (!checkCgroupGlob(e, v)) return false;
      break;
    case SelectorKind::kSystemdUnit:
      if (!checkSystemdUnit(e, v)) return false;
      break;
    case SelectorKind::kNone:
      return false;
  }
  spec.selector = {kind, v};
  spec.target.kind = selectorTargetKind(kind);
  return true;
}

bool Loader::checkCgroupGlob(const Entry& e, const std::string& v) {
  if (v[0] == '/') {
    error(valuePos(e), e.path,
          "a glob is relative to the memory hierarchy's root: leave out the leading '/'");
    return false;
  }
  if (hasDotDot(v)) {
    error(valuePos(e), e.path, "a cgroup glob may not contain '..'");
    return false;
  }
  return true;
}

bool Loader::checkSystemdUnit(const Entry& e, const std::string& v) {
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
  return true;
}

bool Loader::readTargetKind(const Entry& e, TargetSpec& spec) {
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
    if (hasDotDot(p)) {
      error(valuePos(e), e.path, "a cgroup path may not contain '..'");
      return false;
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

}  // namespace oomsentinel::config_internal
