// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The Prometheus text format (collectors/prom_text.h): the body a target's /metrics endpoint
// answers, wholly the target's to choose. Every sample's views must stay inside the text, and
// the mapping onto signals must not trip on what the parser let through. The first byte, when it
// is '{', starts a selector (up to the first newline) that is parsed and matched too.
#include "collectors/prom_text.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/snapshot.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<PromMapping> mappings;
  if (!text.empty() && text[0] == '{') {
    std::size_t nl = text.find('\n');
    std::string_view sel = text.substr(1, nl == std::string_view::npos ? nl : nl - 1);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto s = PromSelector::parse(sel)) mappings.push_back({"fuzz_selected", std::move(*s)});
  }
  std::size_t bytes = 0;
  (void)forEachPromSample(text, [&](const PromSample& s) {
    bytes += s.name.size() + s.family.size();
    for (const auto& [k, v] : s.labels) bytes += k.size() + v.size();
    for (const auto& m : mappings) (void)m.selector.matches(s);
  });
  Snapshot snap;
  (void)mapPromText(text, mappings, snap);
  return 0;
}
