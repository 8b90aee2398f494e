// collectors/: turning kernel and runtime text into Snapshots.
// The Prometheus text exposition format (version 0.0.4): a pure parser, selectors such as
// `jvm_memory_used_bytes{area="heap"}`, and the mapping of well-known client-library families
// onto oomsentinel's runtime signals (heap_alloc_bytes, gc_cycles, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/signal.h"
#include "core/snapshot.h"

namespace oomsentinel {

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

  const std::string* label(std::string_view key) const;
};

// Calls f(const PromSample&) for every sample. A malformed line stops with an Error naming the
// line and what is wrong with it. The sample's views point into `text`.
template <typename F>
Status forEachPromSample(std::string_view text, F&& f);

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
// in `out`. Returns how many signals were set, or the parse error.
Result<std::size_t> mapPromText(std::string_view text, const std::vector<PromMapping>& mappings,
                                Snapshot& out);

// ---- parser internals, used by the template ----
namespace prom_detail {
struct LineParser {
  // Metadata from # TYPE lines seen so far.
  std::vector<std::pair<std::string_view, PromType>> types;  // views into the text
  PromSample sample;
  Status parseSampleLine(std::string_view line, int lineno);
  Status parseComment(std::string_view line, int lineno);
};
}  // namespace prom_detail

template <typename F>
Status forEachPromSample(std::string_view text, F&& f) {
  prom_detail::LineParser p;
  int lineno = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    line.remove_prefix(i);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (auto st = p.parseComment(line, lineno); !st) return st;
      continue;
    }
    if (auto st = p.parseSampleLine(line, lineno); !st) return st;
    f(static_cast<const PromSample&>(p.sample));
  }
  return Ok{};
}

}  // namespace oomsentinel
