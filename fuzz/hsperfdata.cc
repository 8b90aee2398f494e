// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// HotSpot's hsperfdata (collectors/hsperfdata.h): a binary file in the target's own /tmp, every
// offset and length in it the target's to choose. Every entry's views must stay inside the file.
#include "collectors/hsperfdata.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/snapshot.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t sum = 0;
  (void)forEachPerfEntry(bytes, [&](const PerfEntry& e) {
    // Touch every byte the views claim, so that ASan checks them.
    for (char c : e.name) sum += static_cast<unsigned char>(c);
    for (char c : e.text) sum += static_cast<unsigned char>(c);
  });
  Snapshot snap;
  (void)mapHsperfdata(bytes, snap);
  // Used, so that the reads above are not optimised away.
  __asm__ volatile("" : : "r"(sum) : "memory");
  return 0;
}
