// The dump: section, and a target's dumpers with their settings: dumpers:, gperftools:, exec:,
// proc:, throttle_during_dump:, and the dump keys of go: and jvm: (config/loader.h).
#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "config/loader.h"
#include "config/values.h"

namespace oomsentinel::config_internal {

namespace {
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

// An absolute path with no "//", "/./" nor trailing '/': "/a/b/" makes lstat and
// open(O_NOFOLLOW) follow a symlink at "b", which the store means never to follow. nullopt when
// a component is "..": the path would name a directory other than the one it seems to.
std::optional<std::string> normalDirPath(std::string_view v) {
  std::string out;
  while (!v.empty()) {
    auto slash = v.find('/');
    std::string_view part = v.substr(0, slash);
    v = slash == std::string_view::npos ? std::string_view() : v.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return std::nullopt;
    out += '/';
    out += part;
  }
  return out.empty() ? std::string("/") : out;
}
}  // namespace

void Loader::readDump(const Entry& e, DumpSpec& d) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    typeError(e, "a map with the keys " + listNames(kDumpKeys));
    return;
  }
  auto keys = readMap(e.value, e.path, kDumpKeys);
  auto directory = [&](const char* key, std::string& out, const char* example) {
    const Entry* dir = find(keys, key);
    if (!dir || !requireScalar(*dir, example)) return;
    const std::string& v = dir->value.Scalar();
    if (v.empty() || v[0] != '/')
      error(valuePos(*dir), dir->path, "must be an absolute path, got " + describe(dir->value));
    else if (auto n = normalDirPath(v))
      out = *n;
    else
      error(valuePos(*dir), dir->path,
            "must not have a '..' component (write the directory it names), got " +
                describe(dir->value));
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
bool Loader::readTargetDump(const std::vector<Entry>& entries, TargetSpec& spec) {
  TargetDumpSpec& d = spec.dump;
  bool ok = true;
  if (const Entry* g = find(entries, "gperftools")) ok = readGperftools(*g, d) && ok;
  if (const Entry* go = find(entries, "go"); go && go->value.IsMap())
    ok = readGoProfiles(*go, d) && ok;
  if (const Entry* jvm = find(entries, "jvm"); jvm && jvm->value.IsMap())
    ok = readJvmDump(*jvm, d) && ok;
  if (const Entry* x = find(entries, "exec")) ok = readExec(*x, d) && ok;
  if (const Entry* pr = find(entries, "proc")) ok = readProc(*pr, d) && ok;
  if (const Entry* th = find(entries, "throttle_during_dump")) ok = readThrottle(*th, spec) && ok;
  // Which dumpers: as listed, or inferred from the sections given.
  if (const Entry* list = find(entries, "dumpers"))
    return readDumperList(*list, entries, spec) && ok;
  const bool pidless = spec.target.kind == TargetKind::kHost;
  d.dumpers = {DumperKind::kProc};
  if (find(entries, "gperftools") && !pidless) d.dumpers.push_back(DumperKind::kGperftools);
  if (!spec.runtime.go_pprof_url.empty()) d.dumpers.push_back(DumperKind::kGoPprof);
  if (find(entries, "jvm") && !pidless && (d.jvm_class_histogram || d.jvm_heap_dump))
    d.dumpers.push_back(DumperKind::kJvm);
  if (find(entries, "exec")) d.dumpers.push_back(DumperKind::kExec);
  return ok;
}

bool Loader::readDumperList(const Entry& list, const std::vector<Entry>& entries,
                            TargetSpec& spec) {
  TargetDumpSpec& d = spec.dump;
  const bool pidless = spec.target.kind == TargetKind::kHost;
  auto listed = readNameList(list, "[proc, gperftools]");
  if (!listed) return false;
  bool ok = true;
  d.dumpers.clear();
  for (const auto& [name, node] : *listed) {
    std::optional<DumperKind> kind = parseDumperKind(name);
    if (!kind) {
      error(posOf(node), list.path, unknownName("dumper", name, names(kDumperKinds)));
      ok = false;
      continue;
    }
    std::string missing;
    if (kind == DumperKind::kGperftools && !find(entries, "gperftools"))
      missing = "the 'gperftools' dumper needs a gperftools: {heap_prefix: ...} section";
    else if (kind == DumperKind::kGoPprof && spec.runtime.go_pprof_url.empty())
      missing = "the 'go_pprof' dumper needs go.pprof_url";
    else if (kind == DumperKind::kExec && !find(entries, "exec"))
      missing = "the 'exec' dumper needs an exec: {argv: [...]} section";
    else if ((kind == DumperKind::kGperftools || kind == DumperKind::kJvm) && pidless)
      missing = "the '" + name + "' dumper needs a process: give a cgroup or pid target";
    if (!missing.empty()) {
      error(posOf(node), list.path, missing);
      ok = false;
      continue;
    }
    if (std::find(d.dumpers.begin(), d.dumpers.end(), *kind) == d.dumpers.end())
      d.dumpers.push_back(*kind);
  }
  return ok;
}

bool Loader::readGperftools(const Entry& g, TargetDumpSpec& d) {
  if (!g.value.IsMap()) {
    typeError(g, "a map with the keys " + listNames(kGperftoolsKeys));
    return false;
  }
  bool ok = true;
  auto keys = readMap(g.value, g.path, kGperftoolsKeys);
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
    error(posOf(g.key_node), g.path,
          "missing required key 'heap_prefix' (the target's HEAPPROFILE)");
    ok = false;
  }
  if (const Entry* sig = find(keys, "signal")) ok = readSignal(*sig, d.gperftools_signal) && ok;
  return ok;
}

// go.profiles (the rest of go: is the runtime's, load_runtime.cc, which reports its unknown
// keys: this looks at the raw map).
bool Loader::readGoProfiles(const Entry& go, TargetDumpSpec& d) {
  bool ok = true;
  for (auto it = go.value.begin(); it != go.value.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar() || k.Scalar() != "profiles") continue;
    Entry p{"profiles", k, v, join(go.path, "profiles")};
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
  return ok;
}

// jvm.class_histogram, jvm.class_histogram_all, jvm.heap_dump and jvm.attach (as go.profiles
// above: the raw map).
bool Loader::readJvmDump(const Entry& jvm, TargetDumpSpec& d) {
  bool ok = true;
  for (auto it = jvm.value.begin(); it != jvm.value.end(); ++it) {
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) continue;
    const std::string key = k.Scalar();
    Entry b{key, k, v, join(jvm.path, key)};
    if (key == "attach") {
      if (!requireScalar(b, "direct or jcmd")) {
        ok = false;
      } else if (v.Scalar() == "direct" || v.Scalar() == "jcmd") {
        d.jvm_attach_jcmd = v.Scalar() == "jcmd";
      } else {
        error(valuePos(b), b.path, "use direct or jcmd, got " + describe(v));
        ok = false;
      }
      continue;
    }
    bool* flag = key == "heap_dump"             ? &d.jvm_heap_dump
                 : key == "class_histogram"     ? &d.jvm_class_histogram
                 : key == "class_histogram_all" ? &d.jvm_class_histogram_all
                                                : nullptr;
    if (flag == nullptr) continue;
    auto value = readBool(b);
    if (!value)
      ok = false;
    else
      *flag = *value;
  }
  return ok;
}

bool Loader::readExec(const Entry& x, TargetDumpSpec& d) {
  if (!x.value.IsMap()) {
    typeError(x, "a map with the keys " + listNames(kExecKeys));
    return false;
  }
  bool ok = true;
  auto keys = readMap(x.value, x.path, kExecKeys);
  if (const Entry* argv = find(keys, "argv")) {
    ok = readExecArgv(*argv, d);
  } else {
    error(posOf(x.key_node), x.path, "missing required key 'argv'");
    ok = false;
  }
  return readExecLimits(keys, d) && ok;
}

bool Loader::readExecArgv(const Entry& argv, TargetDumpSpec& d) {
  if (!argv.value.IsSequence() || argv.value.size() == 0) {
    typeError(argv, "a list of strings such as [/usr/local/bin/collect, --fast]");
    return false;
  }
  bool ok = true;
  for (std::size_t i = 0; i < argv.value.size(); ++i) {
    const YAML::Node a = argv.value[i];
    if (!a.IsScalar()) {
      error(posOf(a), indexed(argv.path, i), "expected a string, got " + describe(a));
      ok = false;
    } else {
      d.exec_argv.push_back(a.Scalar());
    }
  }
  if (!d.exec_argv.empty() && (d.exec_argv[0].empty() || d.exec_argv[0][0] != '/')) {
    error(posOf(argv.value[0]), indexed(argv.path, 0),
          "the program must be an absolute path (it runs without a shell or PATH)");
    ok = false;
  }
  return ok;
}

// exec.timeout, exec.user, exec.memory_max, exec.pids_max.
bool Loader::readExecLimits(const std::vector<Entry>& keys, TargetDumpSpec& d) {
  bool ok = true;
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
            "must be at least 16MiB (the hook's cgroup's memory.max), got '" + m->value.Scalar() +
                "'");
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
  return ok;
}

bool Loader::readProc(const Entry& pr, TargetDumpSpec& d) {
  if (!pr.value.IsMap()) {
    typeError(pr, "a map with the keys " + listNames(kProcKeys));
    return false;
  }
  auto keys = readMap(pr.value, pr.path, kProcKeys);
  if (const Entry* sm = find(keys, "smaps")) {
    auto v = readBool(*sm);
    if (!v) return false;
    d.proc_smaps = *v;
  }
  return true;
}

// throttle_during_dump: true | false | {max_duration: 5s, headroom: 16MiB}
bool Loader::readThrottle(const Entry& e, TargetSpec& spec) {
  TargetDumpSpec& d = spec.dump;
  if (e.value.IsMap()) {
    auto keys = readMap(e.value, e.path, kThrottleKeys);
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

// gperftools.signal: one the profiler handles and that cannot stop the target.
bool Loader::readSignal(const Entry& e, int& out) {
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

}  // namespace oomsentinel::config_internal
