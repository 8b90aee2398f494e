// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The JVM class histogram (analysis/jvm_histogram.h): the text of a target's GC.class_histogram
// reply, class_histogram.txt in a bundle. Each input is read with the default limits and with
// small ones, and its report rendered. An input holding a form feed is also two histograms, the
// baseline before it and the later one after it: their growth is computed and rendered too.
#include "analysis/jvm_histogram.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "analysis/jvm_histogram_report.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto full = parseClassHistogram(in);
  (void)renderJvmHistogramReport("class_histogram.txt", full);
  // Small limits as well as the defaults: the cut input and the class cap are paths of their own.
  ClassHistogramLimits small;
  small.max_input = 512;
  small.max_classes = 4;
  (void)parseClassHistogram(in, 3, small);
  if (auto ff = in.find('\f'); ff != std::string_view::npos) {
    auto before = parseClassHistogram(in.substr(0, ff), 10, small);
    auto after = parseClassHistogram(in.substr(ff + 1));
    if (before && after) {
      HistogramGrowth g = diffClassHistograms(*before, *after, 5);
      (void)renderJvmHistogramReport("class_histogram.txt", after, &g);
    }
  }
  return 0;
}
