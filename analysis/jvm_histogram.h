// analysis/: what a bundle's raw evidence says, read from hostile input.
// The JVM's class histogram (HotSpot's GC.class_histogram reply, class_histogram.txt in a bundle)
// read and ranked: which classes hold the heap's bytes, and which grew between two histograms.
// The text comes from the target: its class names are the target's to choose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace oomsentinel {

// Bounds on a hostile histogram. A real one is ~100 bytes a class: go-leak's JVM twin has 420
// classes in 40 KiB; a large service some 10,000 classes, 1 MiB. Only the first max_input bytes
// are read; rows past max_classes are counted, not kept (the histogram is sorted by bytes, so
// they are its smallest). Memory: at most max_classes names of kClassNameCap bytes.
struct ClassHistogramLimits {
  std::size_t max_input = 8u << 20;
  std::size_t max_classes = 25'000;
};

inline constexpr std::size_t kClassNameCap = 512;    // bytes of a class name once made safe
inline constexpr std::size_t kClassModuleCap = 128;  // bytes of a module name once made safe

// One class as the histogram counts it: its rows summed (the same name loaded by two class
// loaders is two rows of one class here).
struct ClassCount {
  std::string name;    // readable ("byte[]", "java.lang.String[]") and made safe (safeText)
  std::string module;  // "java.base@17.0.15", made safe; empty when the row names none
  std::uint64_t instances = 0;
  std::uint64_t bytes = 0;
  double share = 0;  // of ClassHistogram::total_bytes, 0..1 (set in `top` only)
};

struct ClassHistogram {
  std::uint64_t total_bytes = 0;      // the Total line's when consistent, else the rows' sum
  std::uint64_t total_instances = 0;  // likewise
  bool total_from_line = false;       // total_* are the Total line's
  bool has_total_line = false;        // a Total line was read (absent: the text was cut)
  bool input_cut = false;             // longer than max_input: only its start was read
  std::size_t rows = 0;               // rows read, kept or not
  std::size_t dropped_rows = 0;       // rows past max_classes, counted in no total but the line's
  std::size_t garbage_lines = 0;      // lines that are neither header, rule, row nor Total
  std::vector<ClassCount> classes;    // every class kept, in the order of its first row
  std::vector<ClassCount> top;        // the largest by bytes (ties by name, then module)
  // True when every row was read and kept and the Total line agrees: nothing is missing.
  bool complete() const { return has_total_line && total_from_line && !input_cut && !dropped_rows; }
};

// A JVM type name as a person reads it: "[B" -> "byte[]", "[[I" -> "int[][]",
// "[Ljava.lang.String;" -> "java.lang.String[]"; anything else as it is. Not made safe.
std::string readableJvmClassName(std::string_view name);

// `text`: a GC.class_histogram reply (JDK 8's header without "(module)" too; lines before the
// header, such as jcmd's "<pid>:", are skipped and counted as garbage). Keeps the `top` largest
// classes in ClassHistogram::top. Linear in the input and never throws; an Error when there is no
// header or no row after it.
Result<ClassHistogram> parseClassHistogram(std::string_view text, std::size_t top = 10,
                                           const ClassHistogramLimits& limits = {});

// One class's growth between a baseline histogram and a later one.
struct ClassGrowth {
  std::string name, module;
  std::uint64_t bytes_before = 0, bytes_after = 0;
  std::uint64_t growth = 0;           // bytes_after - bytes_before, > 0
  std::int64_t instances_growth = 0;  // may be negative (fewer, larger objects)
  double share = 0;                   // of HistogramGrowth::total_growth, 0..1
  bool new_class = false;             // not in the baseline
};

struct HistogramGrowth {
  std::uint64_t total_growth = 0;  // the sum of every growing class's growth
  std::int64_t net_growth = 0;     // now's total minus the baseline's (what shrank counted too)
  std::size_t growing = 0;         // classes that grew
  bool complete = false;           // both histograms complete(): a "new" class may be one the
                                   // baseline's cut left out
  std::vector<ClassGrowth> top;    // largest growth first, ties by name then module
};

// What grew from `baseline` to `now`, class by class (name and module), the `top` largest kept.
// Pure; linear in the two histograms' classes (one hash of the baseline's).
HistogramGrowth diffClassHistograms(const ClassHistogram& baseline, const ClassHistogram& now,
                                    std::size_t top = 10);

}  // namespace oomsentinel
