#include "collectors/go_expvar.h"

#include <array>
#include <charconv>
#include <optional>
#include <string>

namespace oomsentinel {
namespace {

constexpr std::size_t kMaxPayload = 4 << 20;
constexpr int kMaxDepth = 32;
// Longer keys are checked for being JSON but not kept: none of the names read here is that long.
constexpr std::size_t kMaxKeyBytes = 32;

struct Field {
  std::string_view key;
  const char* signal;
  double scale;
};
constexpr Field kFields[] = {
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
constexpr std::size_t kFieldCount = std::size(kFields);

// One pass over the payload that checks it is JSON and keeps only the memstats fields above:
// nothing is copied but those numbers and one short key, so the memory it takes does not depend
// on what the target sends (a JSON tree of a 4 MiB payload took 90 to 170 MB). The nesting is
// capped, and the recursion with it. Go's expvar.Float writes NaN, +Inf and -Inf bare (not JSON):
// they are taken as values that say nothing, like null.
class ExpvarWalker {
 public:
  enum class Slot { kAbsent, kNumber, kNotNumber };
  // What the value being read is to us.
  enum class Role { kRoot, kMemstats, kField, kOther };

  explicit ExpvarWalker(std::string_view s) : s_(s) {}

  // False: not JSON (or too deep, then too_deep_ is set).
  bool run() {
    if (!value(0, Role::kRoot, 0)) return false;
    skipSpace();
    return i_ == s_.size();
  }

  bool too_deep_ = false;
  bool memstats_object_ = false;  // the last "memstats" of the root was an object
  std::array<Slot, kFieldCount> slots_{};
  std::array<double, kFieldCount> values_{};

 private:
  void skipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool take(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool value(int depth, Role role, std::size_t field) {
    skipSpace();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (role == Role::kMemstats) memstats_object_ = c == '{';
    if (c == '{' || c == '[') {
      if (depth + 1 > kMaxDepth) {
        too_deep_ = true;
        return false;
      }
      if (role == Role::kField) slots_[field] = Slot::kNotNumber;
      if (c == '[') return array(depth + 1);
      if (role == Role::kMemstats) slots_.fill(Slot::kAbsent);  // the last memstats wins
      return object(depth + 1, role);
    }
    if (c == '"') {
      if (role == Role::kField) slots_[field] = Slot::kNotNumber;
      return string(nullptr);
    }
    if (take("true") || take("false")) {
      if (role == Role::kField) slots_[field] = Slot::kNotNumber;
      return true;
    }
    if (take("null") || take("NaN") || take("+Inf") || take("-Inf") || take("Inf")) {
      if (role == Role::kField) slots_[field] = Slot::kAbsent;
      return true;
    }
    std::size_t start = i_;
    if (!number()) return false;
    std::string_view token = s_.substr(start, i_ - start);
    double v = 0;
    auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec == std::errc::result_out_of_range) {
      // Too small for a double is 0, as strtod says; too large is not a JSON number a reader can
      // hold (nlohmann's parser refused it too).
      if (!underflows(token)) return false;
      v = 0;
    } else if (ec != std::errc()) {
      return false;
    }
    if (role == Role::kField) {
      slots_[field] = Slot::kNumber;
      values_[field] = v;
    }
    return true;
  }

  // Whether an out-of-range number is tiny rather than huge: a negative exponent, or none and a
  // zero integer part.
  static bool underflows(std::string_view t) {
    if (auto e = t.find_first_of("eE"); e != std::string_view::npos)
      return e + 1 < t.size() && t[e + 1] == '-';
    return t.starts_with("0") || t.starts_with("-0");
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    auto digits = [&] {
      if (!digit()) return false;
      while (digit()) ++i_;
      return true;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0')
      ++i_;
    else if (!digits())
      return false;
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    return true;
  }

  bool array(int depth) {
    ++i_;  // [
    skipSpace();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      if (!value(depth, Role::kOther, 0)) return false;
      skipSpace();
      if (i_ >= s_.size()) return false;
      char c = s_[i_++];
      if (c == ']') return true;
      if (c != ',') return false;
    }
  }

  bool object(int depth, Role role) {
    ++i_;  // {
    skipSpace();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      skipSpace();
      if (i_ >= s_.size() || s_[i_] != '"') return false;
      Key key;
      if (!string(&key)) return false;
      skipSpace();
      if (i_ >= s_.size() || s_[i_++] != ':') return false;
      Role inner = Role::kOther;
      std::size_t field = 0;
      if (key.fits) {
        std::string_view k(key.bytes.data(), key.size);
        if (role == Role::kRoot && k == "memstats") inner = Role::kMemstats;
        if (role == Role::kMemstats)
          for (std::size_t f = 0; f < kFieldCount; ++f)
            if (k == kFields[f].key) {
              inner = Role::kField;
              field = f;
            }
      }
      if (!value(depth, inner, field)) return false;
      skipSpace();
      if (i_ >= s_.size()) return false;
      char c = s_[i_++];
      if (c == '}') return true;
      if (c != ',') return false;
    }
  }

  struct Key {
    std::array<char, kMaxKeyBytes> bytes;
    std::size_t size = 0;
    bool fits = true;
    void push(char c) {
      if (size == bytes.size())
        fits = false;
      else
        bytes[size++] = c;
    }
  };

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after \u: their value, or -1.
  int hex4() {
    if (i_ + 4 > s_.size()) return -1;
    int code = 0;
    for (int k = 0; k < 4; ++k) {
      int h = hex(s_[i_++]);
      if (h < 0) return -1;
      code = code * 16 + h;
    }
    return code;
  }

  // A string, checked as JSON (escapes, no control characters, UTF-8); `key`, when given,
  // receives its first kMaxKeyBytes bytes decoded.
  bool string(Key* key) {
    ++i_;  // "
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        static constexpr std::string_view kSimple = "\"\\/bfnrt";
        static constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
        if (auto at = kSimple.find(e); at != std::string_view::npos) {
          if (key) key->push(kMeaning[at]);
          continue;
        }
        if (e != 'u') return false;
        int code = hex4();
        if (code < 0) return false;
        // A surrogate only as the first half of a pair followed by its second half.
        if (code >= 0xDC00 && code <= 0xDFFF) return false;
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (!take("\\u")) return false;
          int low = hex4();
          if (low < 0xDC00 || low > 0xDFFF) return false;
        }
        // Not ASCII: no name read here has it, so the key matches nothing.
        if (key) code < 0x80 ? key->push(static_cast<char>(code)) : void(key->fits = false);
        continue;
      }
      if (c < 0x80) {
        if (key) key->push(static_cast<char>(c));
        continue;
      }
      // UTF-8: a lead byte and its continuation bytes, no overlong form, no surrogate.
      int more;
      unsigned lo = 0x80, hi = 0xBF;  // the range of the first continuation byte
      if (c >= 0xC2 && c <= 0xDF) {
        more = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        more = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        more = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      } else {
        return false;
      }
      if (key) key->fits = false;
      for (int k = 0; k < more; ++k) {
        if (i_ >= s_.size()) return false;
        auto b = static_cast<unsigned char>(s_[i_++]);
        if (b < (k == 0 ? lo : 0x80) || b > (k == 0 ? hi : 0xBF)) return false;
      }
    }
    return false;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

Result<std::size_t> mapGoExpvar(std::string_view json, Snapshot& out) {
  if (json.size() > kMaxPayload)
    return makeError("expvar payload of " + std::to_string(json.size()) + " bytes is over 4 MiB");
  ExpvarWalker w(json);
  if (!w.run()) {
    if (w.too_deep_) return makeError("expvar payload nested deeper than 32 levels");
    return makeError("expvar payload is not valid JSON");
  }
  if (!w.memstats_object_)
    return makeError("expvar payload has no \"memstats\" object (is this /debug/vars?)");
  std::size_t set = 0;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    // An older Go may lack one, and NaN says nothing: absent, not zero.
    if (w.slots_[f] == ExpvarWalker::Slot::kAbsent) continue;
    std::string name(kFields[f].key);
    if (w.slots_[f] == ExpvarWalker::Slot::kNotNumber)
      return makeError("memstats." + name + " is not a number");
    double v = w.values_[f];
    if (v < 0) return makeError("memstats." + name + " is negative");
    out.set(internSignal(kFields[f].signal), v * kFields[f].scale);
    ++set;
  }
  return set;
}

}  // namespace oomsentinel
