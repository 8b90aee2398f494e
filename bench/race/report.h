// bench/race: the race's figures per cell (runtime x configuration x leak rate): capture rate,
// lead time (kill - publish) and detection latency (firing - crossing), as a Markdown report, an
// SVG plot of capture rate against leak rate, and the raw trials as CSV.
#pragma once

#include <string>
#include <vector>

#include "bench/race/trial.h"

namespace oomsentinel::race {

struct CellFigures {
  std::string runtime, config;
  double rate_mib = 0;
  int trials = 0, captured = 0, fired_before_kill = 0, alerted_before_kill = 0;
  // Milliseconds, nearest rank; -1 when no trial gave one.
  double achieved_p50 = -1;  // MiB/s the cgroup saw
  double lead_p50 = -1, lead_p99 = -1, detect_p50 = -1, detect_p99 = -1, alert_lead_p50 = -1;
  std::vector<std::string> notes;  // why the trials that lost, lost
};

std::vector<CellFigures> summarize(const std::vector<TrialResult>& trials);
std::string markdownReport(const std::vector<CellFigures>& cells, const std::string& preamble);
std::string svgPlot(const std::vector<CellFigures>& cells, const std::string& cgroup,
                    long long limit_mib);
std::string csvTrials(const std::vector<TrialResult>& trials);

}  // namespace oomsentinel::race
