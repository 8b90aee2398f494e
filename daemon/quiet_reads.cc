#include "daemon/quiet_reads.h"

#include <algorithm>

namespace oomsentinel {

namespace {

// What a skim says of the signals a full read would have given: the skim's own exactly; the
// working set at most the usage (it is usage - inactive_file), its ratio at most the usage
// ratio plus `extra`; what the last full read had but the skim does not, anything; and what
// neither had, absent (a v1 cgroup has no PSI, an unlimited one no ratios).
class QuietBounds final : public SignalBounds {
 public:
  QuietBounds(const Snapshot& skim, const Snapshot& full, double extra)
      : skim_(skim), full_(full), extra_(extra) {}
  SignalBound bound(SignalId sid) const override {
    using K = SignalBound::Kind;
    static const SignalId kWsRatio = id(Sig::kWorkingSetRatio), kRatio = id(Sig::kUsageRatio),
                          kWs = id(Sig::kWorkingSetBytes);
    if (sid == kWsRatio || sid == kRatio) {
      auto r = skim_.get(Sig::kUsageRatio);
      if (!r) return {K::kAbsent};
      return {K::kRange, sid == kWsRatio ? 0.0 : *r - extra_, *r + extra_};
    }
    if (sid == kWs) {
      if (auto u = skim_.get(Sig::kUsageBytes)) return {K::kRange, 0.0, *u};
    }
    if (auto v = skim_.get(sid)) return {K::kRange, *v, *v};
    if (full_.has(sid)) return {};
    return {K::kAbsent};
  }

 private:
  const Snapshot& skim_;
  const Snapshot& full_;
  double extra_;
};

}  // namespace

void noteUsageRatio(Watched& w, const Snapshot& s, double* growth, double* drop) {
  if (growth) *growth = 0;
  if (drop) *drop = 0;
  auto r = s.get(Sig::kUsageRatio);
  if (!r) return;
  if (growth && w.last_usage_ratio && s.steady > w.last_usage_ratio->first &&
      *r > w.last_usage_ratio->second)
    *growth = (*r - w.last_usage_ratio->second) / toSeconds(s.steady - w.last_usage_ratio->first);
  if (drop && w.last_usage_ratio) *drop = std::max(0.0, w.last_usage_ratio->second - *r);
  w.last_usage_ratio = {s.steady, *r};
}

// A skimmed target stays quiet when nothing it shows could change what a full tick would do
// (and its usage did not just fall by kQuietDrop, the mark of an OOM kill):
// no rule may fire (RuleEngine::mayFire on the bounds above), and it is neither above the fast
// tick's threshold nor predicted to reach its limit within fast_when_tto_below, as the poll
// policy would have judged it. Growth widens the margin by what it adds over the prediction
// window, so that the full reads start early enough for time_to_oom to have a history.
bool staysQuiet(Watched& w, const PollSpec& poll, const RuleEngine& engine) {
  double growth = 0, drop = 0;
  noteUsageRatio(w, w.work, &growth, &drop);
  if (drop >= kQuietDrop) return false;
  double extra = kQuietMargin + growth * toSeconds(w.spec.predict_window);
  if (auto r = w.work.get(Sig::kUsageRatio)) {
    if (*r + extra > poll.fast_above) return false;
    if (growth > 0 && (1 - *r) / growth < toSeconds(poll.fast_when_tto_below)) return false;
  }
  return !engine.mayFire(w.handle, QuietBounds(w.work, w.snapshot, extra));
}

// The skim's values replace the last full read's; the working set, which it does not read, is
// kept no larger than the usage it did read.
void foldSkim(Watched& w) {
  w.work.forEach([&](SignalId sid, double v) { w.snapshot.set(sid, v); });
  w.snapshot.steady = w.work.steady;
  w.snapshot.wall = w.work.wall;
  auto usage = w.snapshot.get(Sig::kUsageBytes);
  auto ws = w.snapshot.get(Sig::kWorkingSetBytes);
  if (usage && ws && *ws > *usage) w.snapshot.set(Sig::kWorkingSetBytes, *usage);
  auto ratio = w.snapshot.get(Sig::kUsageRatio);
  auto ws_ratio = w.snapshot.get(Sig::kWorkingSetRatio);
  if (ratio && ws_ratio && *ws_ratio > *ratio) w.snapshot.set(Sig::kWorkingSetRatio, *ratio);
}

}  // namespace oomsentinel
