// collectors/: turning kernel and runtime text into Snapshots.
// The Prometheus text exposition format (version 0.0.4): a pure parser, selectors such as
// `jvm_memory_used_bytes{area="heap"}`, and the mapping of well-known client-library families
// onto oomsentinel's runtime signals (heap_alloc_bytes, gc_cycles, ...).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/signal.h"
#include "core/snapshot.h"

namespace oomsentinel {

// Caps on a page, which the target writes: whatever it sends, the parse is linear in its size
// and its memory bounded. Going over one is an Error that names the line (or, for the series of
// one mapping, the selector), never a crash or a slow parse.
inline constexpr std::size_t kPromMaxLineBytes = 64 << 10;     // one line, labels included
inline constexpr std::size_t kPromMaxLines = 1 << 20;          // lines, blank and comments too
inline constexpr std::size_t kPromMaxLabelsPerLine = 128;      // labels of one sample
inline constexpr std::size_t kPromMaxFamilies = 16384;         // distinct names in # TYPE lines
inline constexpr std::size_t kPromMaxSeriesPerMapping = 4096;  // series one mapping sums

// The work a parse did, for tests and benchmarks: `comparisons` counts the name, label and
// series comparisons of the lookups, the part that used to grow with the square of the page.
struct PromParseStats {
  std::uint64_t lines = 0;
  std::uint64_t samples = 0;
  std::uint64_t comparisons = 0;
};

enum class PromType { kUntyped, kCounter, kGauge, kHistogram, kSummary };

struct PromSample {
  std::string_view name;  // as written: "go_gc_duration_seconds_count"
  std::vector<std::pair<std::string, std::string>> labels;  // values unescaped
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  // The family from the closest # TYPE that covers this name (a histogram's _bucket/_sum/_count
  // belong to their family), and its type; kUntyped without one.
  std::string_view family;
  PromType type = PromType::kUntyped;
  int line = 0;  // 1-based, in the text

  const std::string* label(std::string_view key) const;
};

// Calls f(const PromSample&) for every sample. A malformed line, or one over a cap above, stops
// with an Error naming the line and what is wrong with it. The sample's views point into `text`.
// `stats`, when given, receives the work done.
template <typename F>
Status forEachPromSample(std::string_view text, F&& f, PromParseStats* stats = nullptr);

// `name` or `name{label="value",other!="x"}`: the family a signal is read from.
struct PromSelector {
  std::string name;
  struct Matcher {
    std::string label, value;
    bool equal = true;
  };
  std::vector<Matcher> matchers;

  static Result<PromSelector> parse(std::string_view text);
  bool matches(const PromSample& s) const;
};

// A signal read from the samples that match a selector, summed (pools, GC collectors and
// generations are separate series of one family). Negative values (Micrometer's -1 for "no
// maximum") are skipped.
struct PromMapping {
  std::string signal;
  PromSelector selector;
};

// The official Go, Java (simpleclient and Micrometer), Python and Node.js clients' families, in
// order of preference: for each signal the first mapping that matches anything wins, so a target
// exposing two libraries' families is not counted twice.
const std::vector<PromMapping>& wellKnownPromMappings();

// Applies mappings (user ones first, then the well-known) to a payload: sets each mapped signal
// in `out`. Returns how many signals were set, or the parse error (also when more than
// kPromMaxSeriesPerMapping distinct series match one mapping).
Result<std::size_t> mapPromText(std::string_view text, const std::vector<PromMapping>& mappings,
                                Snapshot& out, PromParseStats* stats = nullptr);

// ---- parser internals, used by the template ----
namespace prom_detail {
// Counts what it compares into PromParseStats::comparisons. Ordered containers, not hashes: a
// target chooses the keys, and a tree's O(log n) holds whatever they are.
template <typename T>
struct CountingLess {
  std::uint64_t* count;
  bool operator()(const T& a, const T& b) const {
    ++*count;
    return a < b;
  }
};

struct LineParser {
  LineParser() = default;
  LineParser(const LineParser&) = delete;  // the maps hold a pointer to stats
  LineParser& operator=(const LineParser&) = delete;

  PromParseStats stats;
  // The latest # TYPE of each name (views into the text), with its order: the closest TYPE that
  // covers a name wins, as when they were scanned from the last one back.
  struct TypeEntry {
    PromType type;
    std::size_t order;
  };
  std::map<std::string_view, TypeEntry, CountingLess<std::string_view>> types{
      CountingLess<std::string_view>{&stats.comparisons}};
  std::size_t next_order = 0;
  PromSample sample;
  std::vector<std::string_view> keys;  // scratch for the duplicate-label check
  Status parseSampleLine(std::string_view line, int lineno);
  Status parseComment(std::string_view line, int lineno);
  void resolveFamily();
};

Status lineCapError(int lineno, std::size_t line_bytes);
}  // namespace prom_detail

template <typename F>
Status forEachPromSample(std::string_view text, F&& f, PromParseStats* stats) {
  prom_detail::LineParser p;
  Status result = Ok{};
  int lineno = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    if (line.size() > kPromMaxLineBytes || static_cast<std::size_t>(lineno) > kPromMaxLines) {
      result = prom_detail::lineCapError(lineno, line.size());
      break;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    line.remove_prefix(i);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (auto st = p.parseComment(line, lineno); !st) {
        result = st;
        break;
      }
      continue;
    }
    if (auto st = p.parseSampleLine(line, lineno); !st) {
      result = st;
      break;
    }
    ++p.stats.samples;
    f(static_cast<const PromSample&>(p.sample));
  }
  p.stats.lines = static_cast<std::uint64_t>(lineno);
  if (stats) *stats = p.stats;
  return result;
}

}  // namespace oomsentinel
