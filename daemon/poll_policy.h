// daemon/: wiring and lifetime of the oomsentinel executable.
// PollPolicy: the adaptive tick. Slow while every target is calm, fast while any is near its
// limit or predicted to reach it soon, and back to slow only after a calm spell (hysteresis).
#pragma once

#include <limits>
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
  // NaN / +Inf when no target has them) and the highest ratio any target is heading for at the
  // next slow tick, on its growth since its last sample (NaN: not known). Going fast on that
  // projection catches a leak that would cross fast_above and the rules' thresholds within one
  // slow interval, which the ratio alone sees only one interval late. Returns true when the
  // interval changed; `why` then says what caused it.
  bool update(SteadyTime now, double max_ratio, double min_tto_seconds, std::string* why,
              double max_projected_ratio = std::numeric_limits<double>::quiet_NaN());
  Duration interval() const { return fast_ ? spec_.fast_interval : spec_.interval; }
  bool fast() const { return fast_; }

 private:
  PollSpec spec_;
  bool fast_ = false;
  bool calm_since_set_ = false;
  SteadyTime calm_since_{};
};

}  // namespace oomsentinel
