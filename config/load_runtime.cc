// A target's runtime endpoints: go:, jvm:, metrics_url:, signals:, runtime: (config/loader.h).
// The dump keys of go: and jvm: are read with the dumpers (load_dump.cc).
#include <algorithm>

#include "collectors/prom_text.h"
#include "config/loader.h"
#include "config/values.h"
#include "core/http_client.h"

namespace oomsentinel::config_internal {

namespace {
const std::vector<std::string> kGoKeys = {"pprof_url", "expvar_url", "profiles"};
const std::vector<std::string> kJvmKeys = {"perfdata", "class_histogram", "heap_dump",
                                           "class_histogram_all", "attach"};
const std::vector<std::string> kRuntimeKeys = {"interval", "timeout", "stale_after", "max_bytes"};
constexpr Duration kMinRuntimeInterval = std::chrono::milliseconds(100);
constexpr Duration kMinRuntimeTimeout = std::chrono::milliseconds(10);
constexpr Duration kMaxRuntimeTimeout = std::chrono::seconds(60);
constexpr std::uint64_t kMinRuntimeBytes = 1 << 10;
constexpr std::uint64_t kMaxRuntimeBytes = 64 << 20;
constexpr std::size_t kMaxRuntimeSignals = 64;
}  // namespace

bool Loader::readRuntime(const std::vector<Entry>& entries, RuntimeSpec& rt) {
  bool ok = true;
  if (const Entry* go = find(entries, "go")) ok = readGo(*go, rt) && ok;
  if (const Entry* jvm = find(entries, "jvm")) ok = readJvm(*jvm, rt) && ok;
  if (const Entry* m = find(entries, "metrics_url")) ok = readUrl(*m, rt.metrics_url) && ok;
  if (const Entry* sig = find(entries, "signals")) {
    ok = readSignalMappings(*sig, rt.signals) && ok;
    if (!rt.signals.empty() && !find(entries, "metrics_url")) {
      error(posOf(sig->key_node), sig->path,
            "signals are read from the target's metrics_url, and it has none");
      ok = false;
    }
  }
  if (const Entry* r = find(entries, "runtime")) ok = readRuntimeFetch(*r, rt, ok);
  return ok;
}

bool Loader::readGo(const Entry& go, RuntimeSpec& rt) {
  if (!go.value.IsMap()) {
    typeError(go, "a map with the keys " + listNames(kGoKeys));
    return false;
  }
  bool ok = true;
  auto keys = readMap(go.value, go.path, kGoKeys);
  if (const Entry* u = find(keys, "pprof_url")) ok = readUrl(*u, rt.go_pprof_url) && ok;
  if (const Entry* u = find(keys, "expvar_url")) ok = readUrl(*u, rt.go_expvar_url) && ok;
  if (rt.go_expvar_url.empty() && !rt.go_pprof_url.empty())
    if (auto pprof = Url::parse(rt.go_pprof_url))
      rt.go_expvar_url = pprof->withTarget("/debug/vars").str();
  return ok;
}

bool Loader::readJvm(const Entry& jvm, RuntimeSpec& rt) {
  if (jvm.value.IsNull()) {
    rt.jvm_perfdata = true;
    return true;
  }
  if (!jvm.value.IsMap()) {
    typeError(jvm, "a map with the keys " + listNames(kJvmKeys));
    return false;
  }
  auto keys = readMap(jvm.value, jvm.path, kJvmKeys);
  rt.jvm_perfdata = true;
  if (const Entry* p = find(keys, "perfdata")) {
    auto b = readBool(*p);
    if (!b) return false;
    rt.jvm_perfdata = *b;
  }
  return true;
}

// runtime: how the endpoints are fetched. `ok` is what the target's runtime keys read so far
// came to: stale_after is compared with interval only when everything before it was read.
bool Loader::readRuntimeFetch(const Entry& r, RuntimeSpec& rt, bool ok) {
  if (!r.value.IsMap()) {
    typeError(r, "a map with the keys " + listNames(kRuntimeKeys));
    return false;
  }
  auto keys = readMap(r.value, r.path, kRuntimeKeys);
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
          "stale_after (" + formatDurationExact(rt.stale_after) + ") is shorter than interval (" +
              formatDurationExact(rt.interval) +
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
  return ok;
}

// signals: {my_signal: 'family{label="x"}'}
bool Loader::readSignalMappings(const Entry& e,
                                std::vector<std::pair<std::string, std::string>>& out) {
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
      error(
          posOf(k), path,
          "duplicate signal '" + name + "' (first at line " + std::to_string(first->second) + ")");
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

}  // namespace oomsentinel::config_internal
