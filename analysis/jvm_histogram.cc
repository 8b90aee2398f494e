// analysis/: what a bundle's raw evidence says, read from hostile input.
// The class histogram's parser (one pass over its lines, each looked at once), its ranking by
// bytes, and the growth between two histograms.
#include "analysis/jvm_histogram.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>

#include "core/safe_text.h"

namespace oomsentinel {
namespace {

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kMaxArrayDims = 255;  // the JVM's own limit on an array's dimensions

std::uint64_t addSat(std::uint64_t a, std::uint64_t b) { return b > kU64Max - a ? kU64Max : a + b; }

std::int64_t asSigned(std::uint64_t v) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(v, kMax));
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A run of spaces; false when there is none.
bool spaces(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && isSpace(s[n])) ++n;
  s.remove_prefix(n);
  return n > 0;
}

// A decimal number that fits in 64 bits; nothing on no digit or on overflow.
std::optional<std::uint64_t> number(std::string_view& s) {
  std::size_t n = 0;
  std::uint64_t v = 0;
  for (; n < s.size() && s[n] >= '0' && s[n] <= '9'; ++n) {
    auto d = static_cast<std::uint64_t>(s[n] - '0');
    if (v > (kU64Max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (n == 0) return std::nullopt;
  s.remove_prefix(n);
  return v;
}

bool isHeader(std::string_view line) {
  line = trim(line);
  if (!line.starts_with("num")) return false;
  auto inst = line.find("#instances");
  return inst != std::string_view::npos && line.find("#bytes", inst) != std::string_view::npos;
}

bool isRule(std::string_view line) {
  line = trim(line);
  return !line.empty() && line.find_first_not_of('-') == std::string_view::npos;
}

struct Row {
  std::uint64_t instances = 0, bytes = 0;
  std::string_view name, module;
};

// "   1:   12345   67890123  [B (java.base@17.0.9)"
std::optional<Row> parseRow(std::string_view s) {
  Row r;
  spaces(s);
  if (!number(s) || s.empty() || s.front() != ':') return std::nullopt;
  s.remove_prefix(1);
  spaces(s);
  auto inst = number(s);
  if (!inst || !spaces(s)) return std::nullopt;
  auto bytes = number(s);
  if (!bytes || !spaces(s)) return std::nullopt;
  s = trim(s);
  if (s.empty()) return std::nullopt;
  r.instances = *inst;
  r.bytes = *bytes;
  r.name = s;
  // The module is the last " (...)"; a name of the unnamed module has none.
  if (s.back() == ')') {
    auto open = s.rfind(" (");
    if (open != std::string_view::npos && open > 0) {
      r.module = s.substr(open + 2, s.size() - open - 3);
      r.name = trim(s.substr(0, open));
    }
  }
  return r;
}

// "Total        30911       66377096"
std::optional<std::pair<std::uint64_t, std::uint64_t>> parseTotal(std::string_view s) {
  s = trim(s);
  if (!s.starts_with("Total")) return std::nullopt;
  s.remove_prefix(5);
  if (!spaces(s)) return std::nullopt;
  auto inst = number(s);
  if (!inst || !spaces(s)) return std::nullopt;
  auto bytes = number(s);
  if (!bytes || !s.empty()) return std::nullopt;
  return std::make_pair(*inst, *bytes);
}

bool bySizeThenName(const ClassCount& a, const ClassCount& b) {
  if (a.bytes != b.bytes) return a.bytes > b.bytes;
  if (a.name != b.name) return a.name < b.name;
  return a.module < b.module;
}

std::string classKey(const std::string& name, const std::string& module) {
  return name + std::string(1, '\0') + module;  // safeText escapes a NUL: no name holds one
}

// The rows' classes and sums: the state of the one pass.
struct HistogramTally {
  ClassHistogram h;
  std::unordered_map<std::string, std::size_t> index;
  std::uint64_t sum_bytes = 0, sum_instances = 0;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> total;
};

void addRow(HistogramTally& t, const Row& row, const ClassHistogramLimits& limits) {
  ++t.h.rows;
  // The raw name is cut before it is converted: safeText keeps at most kClassNameCap bytes.
  std::string name =
      safeText(readableJvmClassName(row.name.substr(0, kClassNameCap + 1)), kClassNameCap);
  std::string module = safeText(row.module, kClassModuleCap);
  std::string key = classKey(name, module);
  auto it = t.index.find(key);
  if (it == t.index.end()) {
    if (t.h.classes.size() >= limits.max_classes) {
      ++t.h.dropped_rows;
      return;
    }
    it = t.index.emplace(std::move(key), t.h.classes.size()).first;
    t.h.classes.push_back({std::move(name), std::move(module), 0, 0, 0});
  }
  ClassCount& c = t.h.classes[it->second];
  c.instances = addSat(c.instances, row.instances);
  c.bytes = addSat(c.bytes, row.bytes);
  t.sum_bytes = addSat(t.sum_bytes, row.bytes);
  t.sum_instances = addSat(t.sum_instances, row.instances);
}

// One line after the header.
void readLine(HistogramTally& t, std::string_view line, bool last_cut,
              const ClassHistogramLimits& limits) {
  if (trim(line).empty() || isRule(line)) return;
  // A line cut short (the input's end without its newline) may have lost digits: neither the
  // Total line nor a row.
  if (last_cut) {
    ++t.h.garbage_lines;
    return;
  }
  if (auto total = parseTotal(line); total && !t.total) {
    t.total = total;
    return;
  }
  if (auto row = parseRow(line))
    addRow(t, *row, limits);
  else
    ++t.h.garbage_lines;
}

}  // namespace

std::string readableJvmClassName(std::string_view name) {
  std::size_t dims = 0;
  while (dims < name.size() && name[dims] == '[') ++dims;
  if (dims == 0 || dims > kMaxArrayDims) return std::string(name);
  std::string_view elem = name.substr(dims);
  std::string out;
  if (elem.size() == 1) {
    switch (elem[0]) {
      case 'B':
        out = "byte";
        break;
      case 'C':
        out = "char";
        break;
      case 'D':
        out = "double";
        break;
      case 'F':
        out = "float";
        break;
      case 'I':
        out = "int";
        break;
      case 'J':
        out = "long";
        break;
      case 'S':
        out = "short";
        break;
      case 'Z':
        out = "boolean";
        break;
      default:
        return std::string(name);
    }
  } else if (elem.size() > 2 && elem.front() == 'L' && elem.back() == ';') {
    out = elem.substr(1, elem.size() - 2);
  } else {
    return std::string(name);
  }
  out.reserve(out.size() + 2 * dims);
  for (std::size_t i = 0; i < dims; ++i) out += "[]";
  return out;
}

Result<ClassHistogram> parseClassHistogram(std::string_view text, std::size_t top,
                                           const ClassHistogramLimits& limits) {
  HistogramTally t;
  if (text.size() > limits.max_input) {
    text = text.substr(0, limits.max_input);
    t.h.input_cut = true;
  }
  bool header = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    bool last_cut = nl == std::string_view::npos;
    std::string_view line = text.substr(pos, last_cut ? std::string_view::npos : nl - pos);
    pos = last_cut ? text.size() : nl + 1;
    if (header)
      readLine(t, line, last_cut, limits);
    else if (isHeader(line))
      header = true;
    else if (!trim(line).empty())
      ++t.h.garbage_lines;
  }
  if (!header)
    return makeError("no class histogram header (\" num  #instances  #bytes  class name\")");
  if (t.h.rows == 0) return makeError("the class histogram has no row");
  ClassHistogram& h = t.h;
  h.has_total_line = t.total.has_value();
  // The Total line counts every row, kept or not: never less than the rows kept.
  h.total_from_line =
      t.total && t.total->first >= t.sum_instances && t.total->second >= t.sum_bytes;
  h.total_instances = h.total_from_line ? t.total->first : t.sum_instances;
  h.total_bytes = h.total_from_line ? t.total->second : t.sum_bytes;
  // The largest by index, so that only the top is copied, not every class kept.
  std::vector<std::size_t> order(h.classes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::size_t n = std::min(top, order.size());
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
      [&](std::size_t a, std::size_t b) { return bySizeThenName(h.classes[a], h.classes[b]); });
  for (std::size_t i = 0; i < n; ++i) h.top.push_back(h.classes[order[i]]);
  for (auto& c : h.top)
    c.share = h.total_bytes ? static_cast<double>(c.bytes) / static_cast<double>(h.total_bytes) : 0;
  return std::move(t.h);
}

HistogramGrowth diffClassHistograms(const ClassHistogram& baseline, const ClassHistogram& now,
                                    std::size_t top) {
  HistogramGrowth g;
  g.complete = baseline.complete() && now.complete();
  g.net_growth = asSigned(now.total_bytes) - asSigned(baseline.total_bytes);
  std::unordered_map<std::string, const ClassCount*> before;
  before.reserve(baseline.classes.size());
  for (const auto& c : baseline.classes) before.emplace(classKey(c.name, c.module), &c);
  std::vector<ClassGrowth> grown;
  for (const auto& c : now.classes) {
    auto it = before.find(classKey(c.name, c.module));
    const ClassCount* b = it == before.end() ? nullptr : it->second;
    std::uint64_t was = b ? b->bytes : 0;
    if (c.bytes <= was) continue;
    ClassGrowth x{c.name, c.module, was, c.bytes, c.bytes - was, 0, 0, b == nullptr};
    x.instances_growth = asSigned(c.instances) - asSigned(b ? b->instances : 0);
    g.total_growth = addSat(g.total_growth, x.growth);
    grown.push_back(std::move(x));
  }
  g.growing = grown.size();
  std::size_t n = std::min(top, grown.size());
  std::partial_sort(grown.begin(), grown.begin() + static_cast<std::ptrdiff_t>(n), grown.end(),
                    [](const ClassGrowth& a, const ClassGrowth& b) {
                      if (a.growth != b.growth) return a.growth > b.growth;
                      if (a.name != b.name) return a.name < b.name;
                      return a.module < b.module;
                    });
  grown.resize(n);
  for (auto& x : grown)
    x.share = static_cast<double>(x.growth) / static_cast<double>(g.total_growth);
  g.top = std::move(grown);
  return g;
}

}  // namespace oomsentinel
