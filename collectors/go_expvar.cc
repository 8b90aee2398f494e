#include "collectors/go_expvar.h"

#include <nlohmann/json.hpp>

namespace oomsentinel {
namespace {

constexpr std::size_t kMaxPayload = 4 << 20;
constexpr int kMaxDepth = 32;

// The parser and the destructor of a JSON tree recurse; a hostile endpoint must not get to
// choose how deep. Counted outside strings, before parsing. Also says whether the payload holds
// the bare NaN, +Inf or -Inf that Go's expvar.Float writes for such values (not JSON).
bool tooDeep(std::string_view s, bool* has_non_finite) {
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
    } else if (c == 'N' || c == 'I') {
      *has_non_finite = true;
    }
  }
  return false;
}

// A copy with NaN, +Inf, -Inf and Inf outside strings written as null, so that one odd
// variable of the service does not cost every memstats field.
std::string nullNonFinite(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < s.size())
        out.push_back(s[++i]);
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    std::string_view rest = s.substr(i);
    std::size_t n = 0;
    if (rest.starts_with("NaN"))
      n = 3;
    else if (rest.starts_with("+Inf") || rest.starts_with("-Inf"))
      n = 4;
    else if (rest.starts_with("Inf"))
      n = 3;
    if (n) {
      out += "null";
      i += n - 1;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::size_t> mapGoExpvar(std::string_view json, Snapshot& out) {
  if (json.size() > kMaxPayload)
    return makeError("expvar payload of " + std::to_string(json.size()) + " bytes is over 4 MiB");
  bool non_finite = false;
  if (tooDeep(json, &non_finite)) return makeError("expvar payload nested deeper than 32 levels");
  std::string cleaned;
  if (non_finite) {
    cleaned = nullNonFinite(json);
    json = cleaned;
  }
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
    // An older Go may lack one, and NaN (written as null above) says nothing: absent, not zero.
    if (it == m.end() || it->is_null()) continue;
    if (!it->is_number()) return makeError(std::string("memstats.") + f.key + " is not a number");
    double v = it->get<double>();
    if (v < 0) return makeError(std::string("memstats.") + f.key + " is negative");
    out.set(internSignal(f.signal), v * f.scale);
    ++set;
  }
  return set;
}

}  // namespace oomsentinel
