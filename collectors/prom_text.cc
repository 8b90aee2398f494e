#include "collectors/prom_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "collectors/parse.h"

namespace oomsentinel {
namespace {

bool isNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }
bool isLabelStart(char c) { return isNameStart(c) && c != ':'; }
bool isLabelChar(char c) { return isNameChar(c) && c != ':'; }

Error promTextLineError(int lineno, const std::string& msg) {
  return makeError("line " + std::to_string(lineno) + ": " + msg);
}

void skipSpace(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

std::string_view takeName(std::string_view& s, bool label) {
  std::size_t i = 0;
  if (s.empty() || !(label ? isLabelStart(s[0]) : isNameStart(s[0]))) return {};
  while (i < s.size() && (label ? isLabelChar(s[i]) : isNameChar(s[i]))) ++i;
  std::string_view n = s.substr(0, i);
  s.remove_prefix(i);
  return n;
}

// "+Inf", "-Inf", "NaN" and Go's float syntax.
bool parseValue(std::string_view t, double& out) {
  if (t == "+Inf" || t == "Inf" || t == "+inf" || t == "inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (t == "-Inf" || t == "-inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (t == "NaN" || t == "nan") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size() && !t.empty();
}

}  // namespace

const std::string* PromSample::label(std::string_view key) const {
  for (const auto& [k, v] : labels)
    if (k == key) return &v;
  return nullptr;
}

namespace prom_detail {

Status lineCapError(int lineno, std::size_t line_bytes) {
  if (line_bytes > kPromMaxLineBytes)
    return promTextLineError(lineno, "the line is " + std::to_string(line_bytes) +
                                         " bytes long, over the cap of " +
                                         std::to_string(kPromMaxLineBytes));
  return promTextLineError(lineno,
                           "the page has more than " + std::to_string(kPromMaxLines) + " lines");
}

// The family a sample name belongs to, from the # TYPE lines seen so far: the name itself or the
// name less a histogram's or summary's suffix, whichever was declared last. At most six lookups.
void LineParser::resolveFamily() {
  PromSample& s = sample;
  s.family = s.name;
  s.type = PromType::kUntyped;
  static constexpr std::string_view kSuffixes[] = {"",       "_bucket", "_sum",
                                                   "_count", "_total",  "_created"};
  const TypeEntry* best = nullptr;
  for (auto suf : kSuffixes) {
    if (s.name.size() <= suf.size() && !suf.empty()) continue;
    if (!s.name.ends_with(suf)) continue;
    std::string_view base = s.name.substr(0, s.name.size() - suf.size());
    auto it = types.find(base);
    if (it == types.end() || (best && best->order > it->second.order)) continue;
    best = &it->second;
    s.family = it->first;
    s.type = it->second.type;
  }
}

Status LineParser::parseComment(std::string_view line, int lineno) {
  std::string_view rest = line.substr(1);
  skipSpace(rest);
  bool type = rest.substr(0, 4) == "TYPE" && rest.size() > 4 && (rest[4] == ' ' || rest[4] == '\t');
  bool help = rest.substr(0, 4) == "HELP" && rest.size() > 4 && (rest[4] == ' ' || rest[4] == '\t');
  if (!type && !help) return Ok{};  // any other comment
  rest.remove_prefix(4);
  skipSpace(rest);
  std::string_view name = takeName(rest, false);
  if (name.empty())
    return promTextLineError(lineno,
                             std::string(type ? "# TYPE" : "# HELP") + " needs a metric name");
  if (help) return Ok{};  // the docstring is free text (with \\ and \n escapes): not needed
  skipSpace(rest);
  std::string_view t = trim(rest);
  PromType pt;
  if (t == "counter")
    pt = PromType::kCounter;
  else if (t == "gauge")
    pt = PromType::kGauge;
  else if (t == "histogram")
    pt = PromType::kHistogram;
  else if (t == "summary")
    pt = PromType::kSummary;
  else if (t == "untyped" || t == "unknown")
    pt = PromType::kUntyped;
  else
    return promTextLineError(lineno, "# TYPE " + std::string(name) + ": unknown type '" +
                                         std::string(t.substr(0, 40)) + "'");
  auto it = types.find(name);
  if (it == types.end()) {
    if (types.size() >= kPromMaxFamilies)
      return promTextLineError(lineno, "more than " + std::to_string(kPromMaxFamilies) +
                                           " metric families in # TYPE lines");
    types.emplace(name, TypeEntry{pt, next_order});
  } else {
    // Declared again: this declaration is now the closest one.
    it->second = TypeEntry{pt, next_order};
  }
  ++next_order;
  return Ok{};
}

namespace {

// A label's value after its opening '"', up to and without the closing one, unescaped into `v`.
Status takeQuotedValue(std::string_view& rest, std::string& v, std::string_view key, int lineno) {
  bool closed = false;
  while (!rest.empty()) {
    char c = rest[0];
    rest.remove_prefix(1);
    if (c == '"') {
      closed = true;
      break;
    }
    if (c == '\\') {
      if (rest.empty()) break;
      char e = rest[0];
      rest.remove_prefix(1);
      if (e == 'n')
        v += '\n';
      else if (e == '\\' || e == '"')
        v += e;
      else
        return promTextLineError(lineno, "label '" + std::string(key) + "': unknown escape '\\" +
                                             std::string(1, e) + "'");
    } else {
      v += c;
    }
  }
  if (!closed)
    return promTextLineError(lineno, "label '" + std::string(key) + "': unterminated value");
  return Ok{};
}

// The sample's timestamp (milliseconds since the epoch), the rest of its line.
Result<std::int64_t> parseTimestamp(std::string_view ts, std::string_view name, int lineno) {
  std::int64_t t = 0;
  auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
  if (ec != std::errc() || p != ts.data() + ts.size())
    return promTextLineError(
        lineno, std::string(name) + ": bad timestamp '" + std::string(ts.substr(0, 40)) + "'");
  return t;
}

}  // namespace

Status LineParser::parseSampleLine(std::string_view line, int lineno) {
  std::string_view rest = line;
  sample.name = takeName(rest, false);
  if (sample.name.empty())
    return promTextLineError(
        lineno, "expected a metric name, got '" + std::string(line.substr(0, 40)) + "'");
  std::size_t used = 0;  // reuse the label strings' storage from the previous sample
  skipSpace(rest);
  if (!rest.empty() && rest[0] == '{') {
    rest.remove_prefix(1);
    for (;;) {
      skipSpace(rest);
      if (!rest.empty() && rest[0] == '}') {
        rest.remove_prefix(1);
        break;
      }
      std::string_view key = takeName(rest, true);
      if (key.empty()) return promTextLineError(lineno, "expected a label name or '}'");
      skipSpace(rest);
      if (rest.empty() || rest[0] != '=')
        return promTextLineError(lineno, "label '" + std::string(key) + "': expected '='");
      rest.remove_prefix(1);
      skipSpace(rest);
      if (rest.empty() || rest[0] != '"')
        return promTextLineError(lineno,
                                 "label '" + std::string(key) + "': expected a quoted value");
      rest.remove_prefix(1);
      if (used == kPromMaxLabelsPerLine)
        return promTextLineError(lineno, std::string(sample.name) + ": more than " +
                                             std::to_string(kPromMaxLabelsPerLine) + " labels");
      if (used == sample.labels.size()) sample.labels.emplace_back();
      auto& [k, v] = sample.labels[used++];
      k.assign(key);
      v.clear();
      if (auto st = takeQuotedValue(rest, v, key, lineno); !st) return st;
      skipSpace(rest);
      if (!rest.empty() && rest[0] == ',') {
        rest.remove_prefix(1);
        continue;
      }
      skipSpace(rest);
      if (rest.empty() || rest[0] != '}')
        return promTextLineError(lineno,
                                 "expected ',' or '}' after label '" + std::string(key) + "'");
      rest.remove_prefix(1);
      break;
    }
  }
  sample.labels.resize(used);
  if (used > 1) {
    // Sorted, not each against each: a line's labels cost n log n.
    keys.clear();
    for (std::size_t i = 0; i < used; ++i) keys.push_back(sample.labels[i].first);
    std::sort(keys.begin(), keys.end(), CountingLess<std::string_view>{&stats.comparisons});
    for (std::size_t i = 1; i < keys.size(); ++i) {
      ++stats.comparisons;
      if (keys[i] == keys[i - 1])
        return promTextLineError(lineno, "label '" + std::string(keys[i]) + "' given twice");
    }
  }
  skipSpace(rest);
  std::size_t sp = findSpaceOrTab(rest);
  std::string_view value = rest.substr(0, sp);
  rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
  if (value.empty()) return promTextLineError(lineno, std::string(sample.name) + ": no value");
  if (!parseValue(value, sample.value))
    return promTextLineError(lineno, std::string(sample.name) + ": bad value '" +
                                         std::string(value.substr(0, 40)) + "'");
  skipSpace(rest);
  sample.timestamp_ms.reset();
  if (!rest.empty()) {
    auto ts = parseTimestamp(trim(rest), sample.name, lineno);
    if (!ts) return ts.error();
    sample.timestamp_ms = *ts;
  }
  sample.line = lineno;
  resolveFamily();
  return Ok{};
}

}  // namespace prom_detail

Result<PromSelector> PromSelector::parse(std::string_view text) {
  std::string_view rest = trim(text);
  PromSelector sel;
  std::string_view name = takeName(rest, false);
  if (name.empty()) return makeError("expected a metric name in '" + std::string(text) + "'");
  sel.name = std::string(name);
  skipSpace(rest);
  if (!rest.empty() && rest[0] == '{') {
    rest.remove_prefix(1);
    for (;;) {
      skipSpace(rest);
      if (!rest.empty() && rest[0] == '}') {
        rest.remove_prefix(1);
        break;
      }
      std::string_view key = takeName(rest, true);
      if (key.empty()) return makeError("expected a label name in '" + std::string(text) + "'");
      skipSpace(rest);
      Matcher m;
      m.label = std::string(key);
      if (rest.substr(0, 2) == "!=") {
        m.equal = false;
        rest.remove_prefix(2);
      } else if (!rest.empty() && rest[0] == '=') {
        rest.remove_prefix(1);
      } else {
        return makeError("expected '=' or '!=' after '" + m.label + "' in '" + std::string(text) +
                         "'");
      }
      skipSpace(rest);
      if (rest.empty() || rest[0] != '"')
        return makeError("expected a quoted value for '" + m.label + "' in '" + std::string(text) +
                         "'");
      rest.remove_prefix(1);
      std::size_t q = rest.find('"');
      if (q == std::string_view::npos)
        return makeError("unterminated value for '" + m.label + "' in '" + std::string(text) + "'");
      m.value = std::string(rest.substr(0, q));
      rest.remove_prefix(q + 1);
      sel.matchers.push_back(std::move(m));
      skipSpace(rest);
      if (!rest.empty() && rest[0] == ',') rest.remove_prefix(1);
    }
  }
  if (!trim(rest).empty())
    return makeError("unexpected '" + std::string(trim(rest)) + "' in '" + std::string(text) + "'");
  return sel;
}

bool PromSelector::matches(const PromSample& s) const {
  if (s.name != name) return false;
  for (const auto& m : matchers) {
    const std::string* v = s.label(m.label);
    bool eq = v ? *v == m.value : m.value.empty();
    if (eq != m.equal) return false;
  }
  return true;
}

const std::vector<PromMapping>& wellKnownPromMappings() {
  static const std::vector<PromMapping> k = [] {
    const std::pair<const char*, const char*> table[] = {
        // Go (client_golang)
        {"heap_alloc_bytes", "go_memstats_heap_alloc_bytes"},
        {"alloc_bytes_total", "go_memstats_alloc_bytes_total"},
        {"gc_cycles", "go_gc_duration_seconds_count"},
        {"gc_pause_seconds_total", "go_gc_duration_seconds_sum"},
        {"gc_cpu_fraction", "go_memstats_gc_cpu_fraction"},
        {"heap_limit_bytes", "go_gc_gomemlimit_bytes"},
        // Java, Micrometer
        {"heap_alloc_bytes", "jvm_memory_used_bytes{area=\"heap\"}"},
        {"heap_limit_bytes", "jvm_memory_max_bytes{area=\"heap\"}"},
        {"gc_cycles", "jvm_gc_pause_seconds_count"},
        {"gc_pause_seconds_total", "jvm_gc_pause_seconds_sum"},
        {"alloc_bytes_total", "jvm_gc_memory_allocated_bytes_total"},
        // Java, simpleclient_hotspot
        {"heap_alloc_bytes", "jvm_memory_bytes_used{area=\"heap\"}"},
        {"heap_limit_bytes", "jvm_memory_bytes_max{area=\"heap\"}"},
        {"gc_cycles", "jvm_gc_collection_seconds_count"},
        {"gc_pause_seconds_total", "jvm_gc_collection_seconds_sum"},
        // Python (prometheus_client)
        {"gc_cycles", "python_gc_collections_total"},
        // Node.js (prom-client)
        {"heap_alloc_bytes", "nodejs_heap_size_used_bytes"},
        {"gc_cycles", "nodejs_gc_duration_seconds_count"},
        {"gc_pause_seconds_total", "nodejs_gc_duration_seconds_sum"},
    };
    std::vector<PromMapping> out;
    for (auto [sig, sel] : table) out.push_back({sig, *PromSelector::parse(sel)});
    return out;
  }();
  return k;
}

// FNV-1a: a series is remembered by 8 bytes, whatever its labels. Two series of a target that
// collide count once, which a target could as well get by writing a wrong value.
std::uint64_t seriesHash(std::string_view key) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Result<std::size_t> mapPromText(std::string_view text, const std::vector<PromMapping>& mappings,
                                Snapshot& out, PromParseStats* stats) {
  std::uint64_t seen_comparisons = 0;
  using SeenSet = std::set<std::uint64_t, prom_detail::CountingLess<std::uint64_t>>;
  struct Acc {
    double sum = 0;
    bool matched = false;
    // The series summed so far (name and sorted labels): a series written twice, which
    // Prometheus itself would refuse, counts once.
    SeenSet seen;
  };
  std::vector<Acc> acc;
  acc.reserve(mappings.size());
  for (std::size_t i = 0; i < mappings.size(); ++i)
    acc.push_back(
        Acc{0, false, SeenSet(prom_detail::CountingLess<std::uint64_t>{&seen_comparisons})});
  std::string key;
  std::vector<std::pair<std::string, std::string>> labels;
  std::optional<Error> too_many;
  PromParseStats parse_stats;
  Status st = forEachPromSample(
      text,
      [&](const PromSample& s) {
        if (too_many) return;
        bool keyed = false;
        std::uint64_t hash = 0;
        for (std::size_t i = 0; i < mappings.size(); ++i) {
          if (!mappings[i].selector.matches(s)) continue;
          // -1 is Micrometer's "no maximum"; +Inf and NaN say nothing a rule can use.
          if (!std::isfinite(s.value) || s.value < 0) continue;
          if (!keyed) {
            labels = s.labels;
            std::sort(labels.begin(), labels.end());
            key.assign(s.name);
            for (const auto& [k, v] : labels) {
              key.push_back('\0');
              key += k;
              key.push_back('\0');
              key += v;
            }
            hash = seriesHash(key);
            keyed = true;
          }
          auto& a = acc[i];
          if (a.seen.contains(hash)) continue;
          if (a.seen.size() >= kPromMaxSeriesPerMapping) {
            too_many = promTextLineError(
                s.line, "more than " + std::to_string(kPromMaxSeriesPerMapping) + " series of '" +
                            std::string(s.name) + "' for " + mappings[i].signal);
            return;
          }
          a.seen.insert(hash);
          a.sum += s.value;
          a.matched = true;
        }
      },
      &parse_stats);
  parse_stats.comparisons += seen_comparisons;
  if (stats) *stats = parse_stats;
  if (st && too_many) return *too_many;
  if (!st) return st.error();
  for (auto& a : acc)
    if (!std::isfinite(a.sum)) a.matched = false;  // 1e308 + 1e308
  std::size_t set = 0;
  std::vector<std::string_view> done;
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    if (!acc[i].matched) continue;
    bool taken = false;
    for (auto d : done) taken = taken || d == mappings[i].signal;
    if (taken) continue;  // an earlier mapping of this signal matched: preferred
    done.push_back(mappings[i].signal);
    out.set(internSignal(mappings[i].signal), acc[i].sum);
    ++set;
  }
  return set;
}

}  // namespace oomsentinel
