// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// URLs (core/http_client.h Url::parse): from the config, from a target's annotations and
// labels (discovery), and rebuilt into the Host header and request line. What parses must
// print and parse back to the same URL.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/http_client.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto u = Url::parse(text, UrlSchemes::kHttpOrHttps);
  if (!u) return 0;
  (void)u->authority();
  auto again = Url::parse(u->str(), UrlSchemes::kHttpOrHttps);
  if (!again || again->host != u->host || again->port != u->port || again->target != u->target ||
      again->scheme != u->scheme)
    std::abort();  // str() wrote something that does not read back
  return 0;
}
