// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The config loader (config/config.h) from a string: YAML, then every key's value (durations,
// sizes, ratios, rule expressions, URLs, selectors). A config that loads must print (check-config
// --print) and read back equal, as config.h promises.
#include "config/config.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  ConfigLoad load = loadConfigText(text, "fuzz.yaml");
  for (const auto& e : load.errors) (void)e.format();
  if (!load.config) return 0;
  std::string printed = printConfig(*load.config);
  ConfigLoad again = loadConfigText(printed, "printed.yaml");
  if (!again.config || !(*again.config == *load.config)) std::abort();
  return 0;
}
