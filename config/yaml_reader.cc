#include "config/yaml_reader.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "config/values.h"
#include "core/units.h"

namespace oomsentinel::config_internal {

namespace {
// Names become labels, log fields and parts of incident directory names.
constexpr std::size_t kMaxNameLength = 128;

// A double-quoted escape at line[i] == '\\': its length in the source and in the value
// (UTF-8 bytes); {0, 0} when it is not one this follows.
std::pair<std::size_t, std::size_t> escapeSize(const std::string& line, std::size_t i) {
  char e = line[i + 1];
  std::size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
  if (digits == 0) {
    if (e == 'N' || e == '_') return {2, 2};  // U+0085, U+00A0
    if (e == 'L' || e == 'P') return {2, 3};  // U+2028, U+2029
    return {2, 1};
  }
  if (i + 2 + digits > line.size()) return {0, 0};
  unsigned long cp = 0;
  auto [ptr, ec] = std::from_chars(line.data() + i + 2, line.data() + i + 2 + digits, cp, 16);
  if (ec != std::errc() || ptr != line.data() + i + 2 + digits) return {0, 0};
  std::size_t bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  return {2 + digits, bytes};
}

// raw[i]: the source column (0-based) of a quoted scalar's value byte i, raw[size]: the end;
// false when the quotes do not close on this line or an escape is not one escapeSize follows.
bool quotedColumns(const std::string& line, std::size_t col, std::vector<std::size_t>& raw) {
  const char open = line[col];
  std::size_t i = col + 1;
  while (i < line.size()) {
    char c = line[i];
    if (open == '\'' && c == '\'') {
      if (i + 1 < line.size() && line[i + 1] == '\'') {  // '' is one quote
        raw.push_back(i);
        i += 2;
        continue;
      }
      raw.push_back(i);
      return true;
    }
    if (open == '"' && c == '"') {
      raw.push_back(i);
      return true;
    }
    if (open == '"' && c == '\\') {
      if (i + 1 >= line.size()) return false;  // continues on the next line
      auto [len, bytes] = escapeSize(line, i);
      if (len == 0) return false;
      for (std::size_t b = 0; b < bytes; ++b) raw.push_back(i);
      i += len;
      continue;
    }
    raw.push_back(i);
    ++i;
  }
  return false;
}
}  // namespace

Pos posOf(const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}
Pos posOf(const YAML::Node& n) { return posOf(n.Mark()); }

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string listNames(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool isQuoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

std::string shortened(const std::string& s) { return s.size() <= 60 ? s : s.substr(0, 57) + "..."; }

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return (isQuoted(n) ? "the string '" : "'") + shortened(n.Scalar()) + "'";
    default:
      return "nothing";
  }
}

bool isNumber(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

std::string trimmed(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  std::size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string unknownName(const std::string& what, const std::string& name,
                        const std::vector<std::string>& known) {
  std::string msg = "unknown " + what + " '" + shortened(name) + "'";
  if (auto guess = config_values::didYouMean(name, known))
    return msg + " (did you mean '" + *guess + "'?)";
  return msg + " (expected one of: " + listNames(known) + ")";
}

const Entry* find(const std::vector<Entry>& entries, const std::string& key) {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

YamlReader::YamlReader(const std::string& text, std::string file) : file_(std::move(file)) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // yaml-cpp reads past a byte order mark without counting it as a column.
    if (start == 0 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    lines_.push_back(std::move(line));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

void YamlReader::error(Pos p, const std::string& path, std::string message) {
  errors_.push_back({file_, p.line, p.column, path, std::move(message)});
}

Pos YamlReader::valuePos(const Entry& e) const {
  return e.value.IsNull() ? posOf(e.key_node) : posOf(e.value);
}

void YamlReader::typeError(const Entry& e, const std::string& expected) {
  error(valuePos(e), e.path, "expected " + expected + ", got " + describe(e.value));
}

std::vector<Entry> YamlReader::readMap(const YAML::Node& map, const std::string& path,
                                       const std::vector<std::string>& known,
                                       std::vector<std::string>* meant) {
  std::vector<Entry> out;
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies: the iterator's pair is a temporary (yaml-cpp's operator-> returns a proxy).
    const YAML::Node k = it->first;
    const YAML::Node v = it->second;
    if (!k.IsScalar()) {
      error(posOf(k), path, "expected a key name, got " + describe(k));
      continue;
    }
    const std::string key = k.Scalar();
    const std::string kpath = join(path, key);
    if (!contains(known, key)) {
      auto guess = config_values::didYouMean(key, known);
      if (meant && guess) meant->push_back(*guess);
      error(posOf(k), kpath,
            "unknown key '" + shortened(key) + "'" +
                (guess ? " (did you mean '" + *guess + "'?)"
                       : " (expected one of: " + listNames(known) + ")"));
      continue;
    }
    auto [first, inserted] = first_line.emplace(key, posOf(k).line);
    if (!inserted) {
      error(posOf(k), kpath,
            "duplicate key '" + key + "' (first at line " + std::to_string(first->second) + ")");
      continue;
    }
    out.push_back({key, k, v, kpath});
  }
  return out;
}

bool YamlReader::requireScalar(const Entry& e, const std::string& expected) {
  if (e.value.IsScalar()) return true;
  typeError(e, expected);
  return false;
}

std::optional<Duration> YamlReader::readDuration(const Entry& e) {
  if (!requireScalar(e, "a duration such as 5s")) return std::nullopt;
  const std::string& s = e.value.Scalar();
  auto d = parseDuration(s);
  if (d) return *d;
  if (isNumber(s) && s[0] != '-')
    error(valuePos(e), e.path,
          "a duration needs a unit, e.g. '" + s + "s' or '" + s + "ms' (ns, us, ms, s, m, h)");
  else
    error(valuePos(e), e.path, d.error().message);
  return std::nullopt;
}

std::optional<Duration> YamlReader::readDurationAtLeast(const Entry& e, Duration min) {
  auto d = readDuration(e);
  if (d && *d < min) {
    error(valuePos(e), e.path,
          "must be at least " + config_values::formatDurationExact(min) + ", got '" +
              e.value.Scalar() + "'");
    return std::nullopt;
  }
  return d;
}

std::optional<bool> YamlReader::readBool(const Entry& e) {
  if (!requireScalar(e, "true or false")) return std::nullopt;
  const std::string& s = e.value.Scalar();
  if (!isQuoted(e.value)) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  typeError(e, "true or false");
  return std::nullopt;
}

std::optional<double> YamlReader::readRatio(const Entry& e) {
  const std::string expected = "a percentage like 70% or a ratio like 0.7";
  if (!requireScalar(e, expected)) return std::nullopt;
  const std::string& s = e.value.Scalar();
  auto r = config_values::parseRatio(s);
  if (!r) {
    typeError(e, expected);
    return std::nullopt;
  }
  if (*r > 0 && *r <= 1) return *r;
  std::string msg = "must be more than 0% and at most 100%, got '" + s + "'";
  if (s.find('%') == std::string::npos && *r > 1 && *r <= 100)
    msg += " (did you mean '" + trimmed(s) + "%'?)";
  error(valuePos(e), e.path, msg);
  return std::nullopt;
}

std::optional<std::uint64_t> YamlReader::readBytes(const Entry& e) {
  if (!requireScalar(e, "a size such as 4MiB")) return std::nullopt;
  auto n = parseBytes(e.value.Scalar());
  if (!n) {
    error(valuePos(e), e.path, n.error().message);
    return std::nullopt;
  }
  return *n;
}

bool YamlReader::readUrl(const Entry& e, std::string& out, UrlSchemes schemes) {
  if (!requireScalar(e, "a URL such as http://127.0.0.1:6060")) return false;
  auto u = Url::parse(e.value.Scalar(), schemes);
  if (!u) {
    error(valuePos(e), e.path, u.error().message);
    return false;
  }
  out = u->str();
  return true;
}

std::optional<std::string> YamlReader::readName(const Entry& e, const std::string& what) {
  if (!requireScalar(e, "a " + what + " name")) return std::nullopt;
  const std::string& s = e.value.Scalar();
  bool charset_ok = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
  if (!charset_ok)
    error(valuePos(e), e.path,
          "a " + what + " name is letters, digits, '_', '.' and '-', got " + describe(e.value));
  else if (s == "." || s == "..")
    error(valuePos(e), e.path, "'" + s + "' is not a " + what + " name (it names a directory)");
  else if (s.size() > kMaxNameLength)
    error(valuePos(e), e.path,
          "a " + what + " name is at most " + std::to_string(kMaxNameLength) + " characters");
  return s;
}

std::optional<std::vector<std::pair<std::string, YAML::Node>>> YamlReader::readNameList(
    const Entry& e, const std::string& example) {
  if (!e.value.IsSequence()) {
    typeError(e, "a list such as " + example);
    return std::nullopt;
  }
  std::vector<std::pair<std::string, YAML::Node>> out;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    YAML::Node item = e.value[i];
    if (!item.IsScalar()) {
      error(posOf(item), indexed(e.path, i), "expected a name, got " + describe(item));
      continue;
    }
    out.emplace_back(item.Scalar(), item);
  }
  return out;
}

std::optional<int> YamlReader::columnInScalar(const YAML::Node& n, std::size_t offset) const {
  const YAML::Mark m = n.Mark();
  if (m.line < 0 || static_cast<std::size_t>(m.line) >= lines_.size() || m.column < 0)
    return std::nullopt;
  const std::string& line = lines_[static_cast<std::size_t>(m.line)];
  const std::size_t col = static_cast<std::size_t>(m.column);
  const std::string& value = n.Scalar();
  if (col >= line.size() || offset > value.size()) return std::nullopt;
  // raw[i]: the source column (0-based) of the value's byte i; raw[size]: the end.
  std::vector<std::size_t> raw;
  if (line[col] == '\'' || line[col] == '"') {
    if (!quotedColumns(line, col, raw)) return std::nullopt;
  } else {
    // Plain: the value is the source text itself, unless it was folded from several lines.
    if (line.compare(col, value.size(), value) != 0) return std::nullopt;
    for (std::size_t i = 0; i <= value.size(); ++i) raw.push_back(col + i);
  }
  if (raw.size() != value.size() + 1) return std::nullopt;
  return static_cast<int>(raw[offset]) + 1;
}

}  // namespace oomsentinel::config_internal
