// core/: the shared vocabulary of oomsentinel.
// safeText: text a watched process controls (an HTTP answer, a file name, a cmdline, a cgroup
// name), made fit for a log line, a JSON string, a metric label or an alert annotation.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace oomsentinel {

inline constexpr std::size_t kNoTextCap = std::numeric_limits<std::size_t>::max();

// Valid UTF-8 that holds no character able to end a log line or fake one, in one linear pass:
//  - an ill-formed UTF-8 sequence (a stray continuation byte, an overlong form, a surrogate, a
//    code point above U+10FFFF, a sequence cut short) becomes U+FFFD, one per maximal subpart
//    (the Unicode and WHATWG recommended practice);
//  - a C0 control (U+0000-U+001F, so also \n \r \t ESC) and DEL become "\x" and two lowercase
//    hex digits ("\x0a");
//  - a C1 control (U+0080-U+009F), the line and paragraph separators U+2028/U+2029 and the
//    bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069, which reorder what a
//    terminal shows) become "\u" and four lowercase hex digits ("\u2028");
//  - everything else (printable ASCII, a backslash, any other valid character) is kept as it is.
// The escapes are for a reader, not a round trip: a literal "\x0a" in the input stays as it was.
// The result is at most `max_bytes` long: a longer one is cut at a character (or escape)
// boundary and ends with "…" (U+2026, 3 bytes; left out when max_bytes < 3). Only the bytes up
// to the cap are looked at.
std::string safeText(std::string_view text, std::size_t max_bytes = kNoTextCap);

// The offset of the first ill-formed UTF-8 sequence in `text` (as safeText would replace), or
// npos when all of it is well formed. Linear.
std::size_t firstIllFormedUtf8(std::string_view text);

}  // namespace oomsentinel
