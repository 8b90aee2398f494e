// analysis/: what a bundle's raw evidence says, read from hostile input.
// The ranking: a checked pprof::Profile's samples summed by leaf function and by the first
// function outside Go's runtime.
#include "analysis/go_heap.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "analysis/go_heap_internal.h"
#include "core/safe_text.h"

namespace oomsentinel {
namespace {

constexpr std::size_t kNameCap = 512;  // bytes of a function or file name in the report
constexpr int kNone = -1;

// The profile with its ids turned into indices and its string indices checked, so the ranking
// reads it without a check of its own.
struct Checked {
  std::vector<int> line_fn;            // per line of every location, in order: function index
  std::vector<std::int64_t> line_no;   // the same lines' line numbers
  std::vector<std::size_t> loc_first;  // per location: its first entry in line_fn
  std::vector<int> loc_caller;         // per location: index into line_fn of its first
                                       // non-runtime line, kNone when every line is runtime
  std::vector<char> fn_runtime;        // per function
  std::unordered_map<std::uint64_t, int> loc_index;
  int value = kNone;  // the sample value ranked
};

Result<std::string_view> str(const pprof::Profile& p, std::int64_t i) {
  if (i < 0 || i >= p.string_table_size())
    return makeError("string index " + std::to_string(i) + " out of range");
  return std::string_view(p.string_table(static_cast<int>(i)));
}

// Each id unique and nonzero, as the format says.
template <typename Repeated>
Result<std::unordered_map<std::uint64_t, int>> indexIds(const Repeated& items, const char* what) {
  std::unordered_map<std::uint64_t, int> index;
  index.reserve(static_cast<std::size_t>(items.size()));
  for (int i = 0; i < items.size(); ++i) {
    std::uint64_t id = items.Get(i).id();
    if (id == 0) return makeError(std::string(what) + " id 0");
    if (!index.emplace(id, i).second)
      return makeError(std::string(what) + " id " + std::to_string(id) + " twice");
  }
  return index;
}

Status checkFunctions(const pprof::Profile& p, Checked& c) {
  c.fn_runtime.resize(static_cast<std::size_t>(p.function_size()));
  for (int i = 0; i < p.function_size(); ++i) {
    auto name = str(p, p.function(i).name());
    if (!name) return name.error();
    if (auto file = str(p, p.function(i).filename()); !file) return file.error();
    c.fn_runtime[static_cast<std::size_t>(i)] = isRuntimeFunction(*name);
  }
  return Ok{};
}

Status checkLocations(const pprof::Profile& p, Checked& c) {
  auto fns = indexIds(p.function(), "function");
  if (!fns) return fns.error();
  auto locs = indexIds(p.location(), "location");
  if (!locs) return locs.error();
  c.loc_index = std::move(*locs);
  for (const auto& loc : p.location()) {
    c.loc_first.push_back(c.line_fn.size());
    c.loc_caller.push_back(kNone);
    for (const auto& line : loc.line()) {
      int fn = kNone;
      if (line.function_id() != 0) {
        auto it = fns->find(line.function_id());
        if (it == fns->end())
          return makeError("function id " + std::to_string(line.function_id()) +
                           " not in the profile");
        fn = it->second;
      }
      if (c.loc_caller.back() == kNone && fn != kNone &&
          !c.fn_runtime[static_cast<std::size_t>(fn)])
        c.loc_caller.back() = static_cast<int>(c.line_fn.size());
      c.line_fn.push_back(fn);
      c.line_no.push_back(line.line());
    }
  }
  c.loc_first.push_back(c.line_fn.size());
  return Ok{};
}

Status checkSamples(const pprof::Profile& p, std::string_view sample_type, Checked& c) {
  for (int i = 0; i < p.sample_type_size(); ++i) {
    auto type = str(p, p.sample_type(i).type());
    if (!type) return type.error();
    if (*type == sample_type && c.value == kNone) c.value = i;
  }
  if (c.value == kNone)
    return makeError("no sample type " + std::string(sample_type) + " (not a heap profile?)");
  for (const auto& s : p.sample()) {
    if (s.value_size() != p.sample_type_size())
      return makeError("a sample has " + std::to_string(s.value_size()) + " values for " +
                       std::to_string(p.sample_type_size()) + " sample types");
    for (std::uint64_t id : s.location_id())
      if (!c.loc_index.contains(id))
        return makeError("location id " + std::to_string(id) + " not in the profile");
  }
  return Ok{};
}

// Bytes by (function, line), then folded by function name.
class Tally {
 public:
  explicit Tally(const pprof::Profile& p) : p_(p) {}
  void add(int fn, std::int64_t line, std::uint64_t bytes) {
    auto& b = by_line_[{fn, line}];
    b = saturatingAdd(b, bytes);
  }
  std::vector<HeapSite> top(std::size_t n, std::uint64_t total) const;
  static std::uint64_t saturatingAdd(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b
               ? std::numeric_limits<std::uint64_t>::max()
               : a + b;
  }

 private:
  struct Key {
    int fn;
    std::int64_t line;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::int64_t>()(k.line) * 31u + std::hash<int>()(k.fn);
    }
  };
  const pprof::Profile& p_;
  std::unordered_map<Key, std::uint64_t, Hash> by_line_;
};

std::vector<HeapSite> Tally::top(std::size_t n, std::uint64_t total) const {
  struct Folded {
    std::uint64_t bytes = 0, best = 0;
    int fn = kNone;
    std::int64_t line = 0;
  };
  // Checked already: every index below is in range.
  auto name = [&](int fn) -> std::string_view {
    return fn == kNone ? std::string_view("?")
                       : p_.string_table(static_cast<int>(p_.function(fn).name()));
  };
  std::unordered_map<std::string_view, Folded> by_name;
  for (const auto& [key, bytes] : by_line_) {
    Folded& f = by_name[name(key.fn)];
    f.bytes = saturatingAdd(f.bytes, bytes);
    bool better = f.fn == kNone || bytes > f.best ||
                  (bytes == f.best && std::tie(key.fn, key.line) < std::tie(f.fn, f.line));
    if (better) f = {f.bytes, bytes, key.fn, key.line};
  }
  std::vector<std::pair<std::string_view, Folded>> all(by_name.begin(), by_name.end());
  auto order = [](const auto& a, const auto& b) {
    return a.second.bytes != b.second.bytes ? a.second.bytes > b.second.bytes : a.first < b.first;
  };
  std::size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), order);
  std::vector<HeapSite> out;
  for (std::size_t i = 0; i < keep; ++i) {
    const auto& [fn_name, f] = all[i];
    HeapSite s;
    s.function = safeText(fn_name, kNameCap);
    if (f.fn != kNone)
      s.file = safeText(p_.string_table(static_cast<int>(p_.function(f.fn).filename())), kNameCap);
    s.line = f.line;
    s.bytes = f.bytes;
    s.share = total == 0 ? 0 : static_cast<double>(f.bytes) / static_cast<double>(total);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

bool isRuntimeFunction(std::string_view name) {
  return name.starts_with("runtime.") || name.starts_with("runtime/internal/") ||
         name.starts_with("internal/runtime/");
}

Result<HeapReport> analyzeGoHeapProfile(std::string_view gz, std::size_t top,
                                        std::string_view sample_type,
                                        const HeapProfileLimits& limits) {
  pprof::Profile p;
  if (auto decoded = go_heap_detail::decodeProfile(gz, limits, p); !decoded) return decoded.error();
  Checked c;
  if (auto s = checkFunctions(p, c); !s) return s.error();
  if (auto s = checkLocations(p, c); !s) return s.error();
  if (auto s = checkSamples(p, sample_type, c); !s) return s.error();

  HeapReport r;
  r.sample_type = std::string(sample_type);
  Tally leaf(p), caller(p);
  for (const auto& s : p.sample()) {
    std::int64_t v = s.value(c.value);
    if (v <= 0) continue;  // nothing held (or a profile that says less than nothing)
    auto bytes = static_cast<std::uint64_t>(v);
    ++r.samples;
    r.total_bytes = Tally::saturatingAdd(r.total_bytes, bytes);
    // The leaf: the first line of the first location; the caller: the first non-runtime line
    // along the stack, else the leaf (all runtime: the runtime's own allocation).
    int leaf_line = kNone, caller_line = kNone;
    for (std::uint64_t id : s.location_id()) {
      auto loc = static_cast<std::size_t>(c.loc_index.at(id));
      if (leaf_line == kNone && c.loc_first[loc] < c.loc_first[loc + 1])
        leaf_line = static_cast<int>(c.loc_first[loc]);
      if (c.loc_caller[loc] != kNone) {
        caller_line = c.loc_caller[loc];
        break;
      }
    }
    if (caller_line == kNone) caller_line = leaf_line;
    auto add = [&](Tally& t, int at) {
      if (at == kNone) return t.add(kNone, 0, bytes);
      int fn = c.line_fn[static_cast<std::size_t>(at)];
      t.add(fn, c.line_no[static_cast<std::size_t>(at)], bytes);
    };
    add(leaf, leaf_line);
    add(caller, caller_line);
  }
  r.by_leaf = leaf.top(top, r.total_bytes);
  r.by_caller = caller.top(top, r.total_bytes);
  return r;
}

}  // namespace oomsentinel
