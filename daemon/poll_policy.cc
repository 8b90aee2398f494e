#include "daemon/poll_policy.h"

#include <cmath>
#include <cstdio>

namespace oomsentinel {

bool PollPolicy::update(SteadyTime now, double max_ratio, double min_tto, std::string* why,
                        double projected) {
  const double tto_limit = toSeconds(spec_.fast_when_tto_below);
  bool hot_ratio = !std::isnan(max_ratio) && max_ratio > spec_.fast_above;
  bool hot_tto = !std::isnan(min_tto) && min_tto < tto_limit;
  bool hot_projected = !std::isnan(projected) && projected > spec_.fast_above;
  char buf[160];
  if (!fast_) {
    if (!hot_ratio && !hot_tto && !hot_projected) return false;
    fast_ = true;
    calm_since_set_ = false;
    if (why) {
      if (hot_ratio)
        std::snprintf(buf, sizeof buf, "working_set_ratio %.3f > fast_above %.3f", max_ratio,
                      spec_.fast_above);
      else if (hot_tto)
        std::snprintf(buf, sizeof buf, "time_to_oom %.1fs < %.1fs", min_tto, tto_limit);
      else
        std::snprintf(buf, sizeof buf,
                      "working_set_ratio %.3f heading for %.3f > fast_above %.3f within %.1fs",
                      max_ratio, projected, spec_.fast_above, toSeconds(spec_.interval));
      *why = buf;
    }
    return true;
  }
  bool calm = (std::isnan(max_ratio) || max_ratio < spec_.fast_above - kRatioHysteresis) &&
              (std::isnan(projected) || projected < spec_.fast_above - kRatioHysteresis) &&
              (std::isnan(min_tto) || min_tto > tto_limit * kTtoHysteresis);
  if (!calm) {
    calm_since_set_ = false;
    return false;
  }
  if (!calm_since_set_) {
    calm_since_set_ = true;
    calm_since_ = now;
  }
  if (now - calm_since_ < kCalmFor) return false;
  fast_ = false;
  if (why) {
    std::snprintf(buf, sizeof buf, "calm for %.0fs (working_set_ratio below %.3f)",
                  toSeconds(kCalmFor), spec_.fast_above - kRatioHysteresis);
    *why = buf;
  }
  return true;
}

}  // namespace oomsentinel
