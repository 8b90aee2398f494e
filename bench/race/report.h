// bench/race: the race's figures per cell (runtime x configuration x leak rate): capture rate,
// lead time (kill - publish) and detection latency (firing - crossing), as a Markdown report, an
// SVG plot of capture rate against leak rate, and the raw trials as CSV.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "bench/race/trial.h"

namespace oomsentinel::race {

inline constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

struct CellFigures {
  std::string runtime, config;
  double rate_mib = 0;
  int trials = 0, captured = 0, fired_before_kill = 0, alerted_before_kill = 0;
  // Milliseconds, nearest rank; NaN when no trial gave one. A detection can be negative: the
  // rule saw the crossing on its tick before the harness's sampler did.
  double achieved_p50 = kNone;  // MiB/s the cgroup saw
  double lead_p50 = kNone, lead_p99 = kNone, detect_p50 = kNone, detect_p99 = kNone,
         alert_lead_p50 = kNone;
  std::vector<std::string> notes;  // why the trials that lost, lost
};

std::vector<CellFigures> summarize(const std::vector<TrialResult>& trials);
std::string markdownReport(const std::vector<CellFigures>& cells, const std::string& preamble);
std::string svgPlot(const std::vector<CellFigures>& cells, const std::string& cgroup,
                    long long limit_mib);
std::string csvTrials(const std::vector<TrialResult>& trials);
// The trials back from csvTrials' text (what summarize needs), to draw a recorded run again.
std::vector<TrialResult> parseCsvTrials(const std::string& text);

}  // namespace oomsentinel::race
