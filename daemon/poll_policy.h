// daemon/: wiring and lifetime of the oomsentinel executable.
// PollPolicy: the adaptive tick. Slow while every target is calm, fast while any is near its
// limit or predicted to reach it soon, and back to slow only after a calm spell (hysteresis).
#pragma once

#include <string>

#include "config/config.h"
#include "core/clock.h"

namespace oomsentinel {

class PollPolicy {
 public:
  // Leaving fast mode needs the ratio this far below fast_above...
  static constexpr double kRatioHysteresis = 0.05;
  // ...time_to_oom this many times the threshold, and both for this long.
  static constexpr double kTtoHysteresis = 1.5;
  static constexpr Duration kCalmFor = std::chrono::seconds(5);

  explicit PollPolicy(const PollSpec& spec) : spec_(spec) {}
  void setSpec(const PollSpec& spec) { spec_ = spec; }

  // Feeds one tick's worst values over all targets (max working_set_ratio, min time_to_oom;
  // NaN / +Inf when no target has them). Returns true when the interval changed; `why` then
  // says what caused it.
  bool update(SteadyTime now, double max_ratio, double min_tto_seconds, std::string* why);
  Duration interval() const { return fast_ ? spec_.fast_interval : spec_.interval; }
  bool fast() const { return fast_; }

 private:
  PollSpec spec_;
  bool fast_ = false;
  bool calm_since_set_ = false;
  SteadyTime calm_since_{};
};

}  // namespace oomsentinel
