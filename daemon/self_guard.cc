#include "daemon/self_guard.h"

#include <algorithm>

#include "collectors/layout.h"

namespace oomsentinel {

bool nextDegraded(bool degraded, double used, std::optional<double> limit, double above) {
  if (above <= 0 || !limit || *limit <= 0) return false;
  double ratio = used / *limit;
  if (degraded) return ratio >= above - kDegradeHysteresis;
  return ratio >= above;
}

SelfGuard::Change SelfGuard::check(bool now_please) {
  bool was = degraded_;
  if (above_ <= 0) {
    degraded_ = false;
    used_.reset();
    limit_.reset();
    last_read_.reset();
  } else {
    SteadyTime now = clock_.steadyNow();
    if (!now_please && last_read_ && now - *last_read_ < kEvery) return Change::kNone;
    last_read_ = now;
    if (!self_ && (!next_resolve_ || now >= *next_resolve_)) {
      next_resolve_ = now + std::chrono::minutes(1);
      auto layout = detectLayout(paths_);
      auto made = layout ? TargetCollector::create(paths_, *layout, Target::self())
                         : Result<std::unique_ptr<TargetCollector>>(layout.error());
      if (made) {
        self_ = std::move(*made);
        off_.clear();
      } else {
        off_ = made.error().describe();
      }
    }
    // A full read of one cgroup: its limit can be changed at any time (that is the fault), and
    // the working set needs memory.stat's inactive file. About ten held descriptors, read into
    // buffers and a snapshot that are reused: no allocation once running.
    if (self_) {
      if (Status st = self_->collect(clock_, s_); !st) {
        off_ = st.error().describe();
        self_.reset();
      }
    }
    used_.reset();
    limit_.reset();
    if (self_) {
      used_ = s_.get(Sig::kWorkingSetBytes);
      if (!used_) used_ = s_.get(Sig::kUsageBytes);
      limit_ = s_.get(Sig::kLimitBytes);
      // v2: memory.high throttles (and reclaims hard) before memory.max kills: it is the wall the
      // daemon would stall at first.
      if (auto high = s_.get(Sig::kHighBytes)) limit_ = limit_ ? std::min(*limit_, *high) : *high;
    }
    // Nothing read (the cgroup is gone until the next resolve): the mode stays as it was.
    if (used_) degraded_ = nextDegraded(degraded_, *used_, limit_, above_);
  }
  if (degraded_ == was) return Change::kNone;
  return degraded_ ? Change::kEntered : Change::kLeft;
}

}  // namespace oomsentinel
