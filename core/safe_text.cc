#include "core/safe_text.h"

#include <algorithm>
#include <cstdint>

namespace oomsentinel {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kCutMarker = "\xE2\x80\xA6";    // U+2026 "…"
constexpr char kHex[] = "0123456789abcdef";

bool escapedCodePoint(std::uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Appends whole pieces while they fit; the first one that does not fit ends the text with the
// marker, at the last piece boundary that leaves room for it.
class CappedOut {
 public:
  explicit CappedOut(std::size_t max_bytes)
      : max_(max_bytes),
        room_(max_bytes >= kCutMarker.size() ? max_bytes - kCutMarker.size() : max_bytes) {}

  // False once the cap is reached: the caller stops reading.
  bool add(std::string_view piece) {
    if (piece.size() > max_ - out_.size()) {
      out_.resize(fits_);
      if (max_ >= kCutMarker.size()) out_ += kCutMarker;
      return false;
    }
    out_ += piece;
    if (out_.size() <= room_) fits_ = out_.size();
    return true;
  }
  void reserve(std::size_t n) { out_.reserve(std::min(n, max_)); }
  std::string take() { return std::move(out_); }

 private:
  std::size_t max_, room_;
  std::size_t fits_ = 0;  // the length at the last piece boundary within room_
  std::string out_;
};

// One UTF-8 sequence at in[i] (a byte >= 0x80): the well-formed sequences of the Unicode
// standard (table 3-7), where the lead byte fixes the length and the range of the second byte,
// which rules out overlong forms, surrogates and code points above U+10FFFF. Well formed: its
// length and code point. Else the length of the maximal subpart to replace (at least 1).
struct Utf8Step {
  bool ok;
  std::size_t len;
  std::uint32_t cp;
};

Utf8Step utf8Step(std::string_view in, std::size_t i) {
  const auto b = static_cast<unsigned char>(in[i]);
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  std::uint32_t cp;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2, cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3, cp = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (b == 0xED) hi = 0x9F;  // surrogates U+D800-U+DFFF
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4, cp = b & 0x07;
    if (b == 0xF0) lo = 0x90;  // overlong below U+10000
    if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {                     // a continuation byte with no lead, C0/C1 (overlong), F5-FF
    return {false, 1, 0};
  }
  std::size_t k = 1;
  for (; k < len && i + k < in.size(); ++k) {
    const auto c = static_cast<unsigned char>(in[i + k]);
    if (c < lo || c > hi) break;
    lo = 0x80, hi = 0xBF;
    cp = (cp << 6) | (c & 0x3F);
  }
  // The maximal subpart (the lead and the continuation bytes valid so far) is one U+FFFD; the
  // byte that broke it starts afresh.
  if (k < len) return {false, k, 0};
  return {true, len, cp};
}

}  // namespace

std::size_t firstIllFormedUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    Utf8Step st = utf8Step(text, i);
    if (!st.ok) return i;
    i += st.len;
  }
  return std::string_view::npos;
}

std::string safeText(std::string_view in, std::size_t max_bytes) {
  CappedOut out(max_bytes);
  out.reserve(in.size());
  const std::size_t n = in.size();
  std::size_t i = 0;
  while (i < n) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      bool ok;
      if (b < 0x20 || b == 0x7F) {
        const char esc[4] = {'\\', 'x', kHex[b >> 4], kHex[b & 0xF]};
        ok = out.add({esc, 4});
      } else {
        ok = out.add(in.substr(i, 1));
      }
      if (!ok) break;
      ++i;
      continue;
    }
    Utf8Step st = utf8Step(in, i);
    bool ok;
    if (!st.ok) {
      ok = out.add(kReplacement);
      i += st.len;
    } else {
      const std::uint32_t cp = st.cp;
      if (escapedCodePoint(cp)) {
        const char esc[6] = {'\\',
                             'u',
                             kHex[(cp >> 12) & 0xF],
                             kHex[(cp >> 8) & 0xF],
                             kHex[(cp >> 4) & 0xF],
                             kHex[cp & 0xF]};
        ok = out.add({esc, 6});
      } else {
        ok = out.add(in.substr(i, st.len));
      }
      i += st.len;
    }
    if (!ok) break;
  }
  return out.take();
}

}  // namespace oomsentinel
