// safeText: whatever bytes a target hands over, what comes out is valid UTF-8 on one line.
#include "core/safe_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace oomsentinel {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// A strict validator written apart from safeText (by code point ranges, not by the lead-byte
// table), so that a shared mistake does not pass.
bool validUtf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80         ? 1
                      : (b >> 5) == 6  ? 2
                      : (b >> 4) == 14 ? 3
                      : (b >> 3) == 30 ? 4
                                       : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? b : b & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 2) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool hasControl(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return true;
  return false;
}

TEST(SafeText, KeepsPrintableTextAndValidCharacters) {
  EXPECT_EQ(safeText("hello world"), "hello world");
  EXPECT_EQ(safeText(""), "");
  EXPECT_EQ(safeText("C:\\path\\x0a \"quoted\""), "C:\\path\\x0a \"quoted\"");
  // 2-, 3- and 4-byte characters, and the ends of the ranges.
  EXPECT_EQ(safeText("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(safeText("\xC2\xA0\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF"),
            "\xC2\xA0\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF");
}

TEST(SafeText, EscapesControlCharacters) {
  EXPECT_EQ(safeText("a\nlevel=error forged"), "a\\x0alevel=error forged");
  EXPECT_EQ(safeText("\r\t\x1b[31m\x7f"), "\\x0d\\x09\\x1b[31m\\x7f");
  EXPECT_EQ(safeText(std::string("nul\0end", 7)), "nul\\x00end");
  // C1 controls (NEL is a line break to some readers), the Unicode line and paragraph
  // separators, and the bidi overrides and isolates.
  EXPECT_EQ(safeText("\xC2\x85|\xC2\x9B|\xC2\x80"), "\\u0085|\\u009b|\\u0080");
  EXPECT_EQ(safeText("a\xE2\x80\xA8"
                     "b\xE2\x80\xA9"
                     "c"),
            "a\\u2028b\\u2029c");
  EXPECT_EQ(safeText("\xE2\x80\xAE\xE2\x81\xA6\xE2\x81\xA9"), "\\u202e\\u2066\\u2069");
  // Next to them, characters that stay.
  EXPECT_EQ(safeText("\xE2\x80\xA7\xE2\x80\xAF\xC2\xA1"), "\xE2\x80\xA7\xE2\x80\xAF\xC2\xA1");
}

TEST(SafeText, ReplacesInvalidBytes) {
  EXPECT_EQ(safeText("\xff\xfe"), kFffd + kFffd);
  EXPECT_EQ(safeText("a\x80"
                     "b"),
            "a" + kFffd + "b");  // a lone continuation byte
  EXPECT_EQ(safeText("\xF5\x80\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above F4
}

TEST(SafeText, FirstIllFormedUtf8IsWhereSafeTextWouldReplace) {
  EXPECT_EQ(firstIllFormedUtf8(""), std::string_view::npos);
  EXPECT_EQ(firstIllFormedUtf8("plain \x1b text, caf\xc3\xa9 \xf0\x9f\x98\x80"),
            std::string_view::npos);
  EXPECT_EQ(firstIllFormedUtf8("ab\xb1"), 2u);               // a continuation byte with no lead
  EXPECT_EQ(firstIllFormedUtf8("caf\xc3\xa9\xc0\xaf"), 5u);  // an overlong '/'
  EXPECT_EQ(firstIllFormedUtf8("x\xed\xa0\x80"), 1u);        // a surrogate
  EXPECT_EQ(firstIllFormedUtf8("x\xe2\x82"), 1u);            // cut short
}

TEST(SafeText, ReplacesOverlongForms) {
  // "/" and NUL as 2-, 3- and 4-byte overlongs: never decoded into what they spell.
  EXPECT_EQ(safeText("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(safeText("\xC1\xBF"), kFffd + kFffd);
  EXPECT_EQ(safeText("\xE0\x80\xAF"), kFffd + kFffd + kFffd);
  EXPECT_EQ(safeText("\xF0\x80\x80\xAF"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(safeText("\xC0\x8A"), kFffd + kFffd) << "an overlong newline stays no newline";
}

TEST(SafeText, ReplacesSurrogatesAndCodePointsAboveTheMaximum) {
  EXPECT_EQ(safeText("\xED\xA0\x80"), kFffd + kFffd + kFffd);              // U+D800
  EXPECT_EQ(safeText("\xED\xBF\xBF"), kFffd + kFffd + kFffd);              // U+DFFF
  EXPECT_EQ(safeText("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // U+110000
}

TEST(SafeText, ReplacesTruncatedSequencesOncePerMaximalSubpart) {
  EXPECT_EQ(safeText("\xE2\x82"), kFffd);
  EXPECT_EQ(safeText("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(safeText("x\xE2\x82y"), "x" + kFffd + "y");
  // The byte that broke a sequence starts again: here a newline, escaped, and a valid é.
  EXPECT_EQ(safeText("\xE2\n"), kFffd + "\\x0a");
  EXPECT_EQ(safeText("\xF0\x9F\xC3\xA9"), kFffd + "\xC3\xA9");
}

TEST(SafeText, CutsAtTheCapOnACharacterBoundaryWithAMarker) {
  const std::string marker = "\xE2\x80\xA6";
  EXPECT_EQ(safeText("abcdef", 6), "abcdef") << "text that fits is not cut";
  EXPECT_EQ(safeText("abcdefg", 6), "abc" + marker);
  // A 3-byte character is never split, nor an escape.
  EXPECT_EQ(safeText("ab\xE2\x82\xAC"
                     "cdef",
                     7),
            "ab" + marker);
  EXPECT_EQ(safeText("a\n\n", 8), "a\\x0a" + marker);
  EXPECT_EQ(safeText("a\n\n", 7), "a" + marker);
  EXPECT_EQ(safeText("a\n\n", 9), "a\\x0a\\x0a");
  // Below the marker's size, a bare cut.
  EXPECT_EQ(safeText("abcdef", 2), "ab");
  EXPECT_EQ(safeText("abcdef", 0), "");
  for (std::size_t cap = 0; cap < 40; ++cap) {
    std::string s = safeText("\xff\x01\xF0\x9F\x98\x80\xC2\x85z\n\xE2\x80\xA8", cap);
    EXPECT_LE(s.size(), cap);
    EXPECT_TRUE(validUtf8(s)) << cap;
  }
}

TEST(SafeText, EveryByteStringComesOutValidOnOneLine) {
  // Every 1- and 2-byte string, and 3-byte ones around the interesting lead bytes.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      std::string out = safeText(s);
      ASSERT_TRUE(validUtf8(out)) << a << " " << b;
      ASSERT_FALSE(hasControl(out)) << a << " " << b;
      for (int c : {0x0A, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0}) {
        std::string t = s + static_cast<char>(c);
        ASSERT_TRUE(validUtf8(safeText(t))) << a << " " << b << " " << c;
        ASSERT_FALSE(hasControl(safeText(t)));
      }
    }
  }
}

TEST(SafeText, IsLinearInTheInput) {
  // 8 MiB of the worst mix (every byte escaped or replaced) in seconds at most, even under a
  // sanitizer on a loaded machine; a quadratic pass would take hours.
  std::string big;
  for (int i = 0; i < (8 << 20) / 4; ++i) big += "\n\xff\xE2\x82";
  auto t0 = std::chrono::steady_clock::now();
  std::string out = safeText(big);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out.size(), (8u << 20) / 4 * (4 + 3 + 3));
  EXPECT_LT(took, std::chrono::seconds(5));
  // With a cap, the work stops at the cap.
  // Pieces of 4, 3 and 3 bytes: cut after 97 bytes, where the marker still fits.
  EXPECT_EQ(safeText(big, 100).size(), 100u);
}

}  // namespace
}  // namespace oomsentinel
