// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The Go heap profile (analysis/go_heap.h): the bytes of a target's /debug/pprof/heap. An input
// that starts with gzip's magic is given as it is (the inflate and its bounds); any other is
// gzipped here first, so that the fuzzer's mutations reach the protobuf, the counting pass and
// the checks of every id and index rather than dying in the deflate stream. The report's two
// files are rendered from each result.
#include "analysis/go_heap.h"

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analysis/go_heap_report.h"

using namespace oomsentinel;

namespace {

std::string gzip(std::string_view raw) {
  z_stream zs{};
  deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  std::string input = gz ? std::string(in) : gzip(in);
  // Small limits as well as the defaults: the refusals at each limit are paths of their own.
  HeapProfileLimits small;
  small.max_decompressed = 4096;
  small.max_samples = small.max_locations = small.max_functions = small.max_strings = 16;
  small.max_lines = small.max_sample_locations = small.max_values = small.max_labels = 32;
  // And the report made of it: report.json and report.txt of the bundle.
  (void)renderGoHeapReport("go-heap.pb.gz", analyzeGoHeapProfile(input, 10, "inuse_space"));
  (void)analyzeGoHeapProfile(input, 3, "alloc_space", small);
  return 0;
}
