// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// Go's expvar JSON (collectors/go_expvar.h): the body of a target's /debug/vars.
#include "collectors/go_expvar.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/snapshot.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Snapshot snap;
  (void)mapGoExpvar(std::string_view(reinterpret_cast<const char*>(data), size), snap);
  return 0;
}
