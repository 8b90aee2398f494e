#include "collectors/go_expvar.h"

#include <nlohmann/json.hpp>

namespace oomsentinel {
namespace {

constexpr std::size_t kMaxPayload = 4 << 20;
constexpr int kMaxDepth = 32;

// The parser and the destructor of a JSON tree recurse; a hostile endpoint must not get to
// choose how deep. Counted outside strings, before parsing.
bool tooDeep(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<std::size_t> mapGoExpvar(std::string_view json, Snapshot& out) {
  if (json.size() > kMaxPayload)
    return makeError("expvar payload of " + std::to_string(json.size()) + " bytes is over 4 MiB");
  if (tooDeep(json)) return makeError("expvar payload nested deeper than 32 levels");
  auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return makeError("expvar payload is not valid JSON");
  if (!doc.is_object() || !doc.contains("memstats") || !doc["memstats"].is_object())
    return makeError("expvar payload has no \"memstats\" object (is this /debug/vars?)");
  const auto& m = doc["memstats"];
  struct Field {
    const char* key;
    const char* signal;
    double scale;
  };
  static constexpr Field kFields[] = {
      {"HeapAlloc", "heap_alloc_bytes", 1},
      {"TotalAlloc", "alloc_bytes_total", 1},
      {"NumGC", "gc_cycles", 1},
      {"PauseTotalNs", "gc_pause_seconds_total", 1e-9},
      {"GCCPUFraction", "gc_cpu_fraction", 1},
      {"HeapInuse", "go_heap_inuse_bytes", 1},
      {"HeapSys", "go_heap_sys_bytes", 1},
      {"NextGC", "go_next_gc_bytes", 1},
      {"Mallocs", "go_mallocs_total", 1},
      {"Frees", "go_frees_total", 1},
  };
  std::size_t set = 0;
  for (const auto& f : kFields) {
    auto it = m.find(f.key);
    if (it == m.end()) continue;  // an older Go may lack one: absent, not zero
    if (!it->is_number()) return makeError(std::string("memstats.") + f.key + " is not a number");
    out.set(internSignal(f.signal), it->get<double>() * f.scale);
    ++set;
  }
  return set;
}

}  // namespace oomsentinel
