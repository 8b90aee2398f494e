#include "rules/history.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace oomsentinel {

namespace {
constexpr std::size_t kMinCapacity = 8;
constexpr std::size_t kMaxCapacity = 4096;
}  // namespace

Series::Series(std::size_t capacity, double min_spacing_seconds)
    : t_(std::max<std::size_t>(capacity, 2)),
      v_(std::max<std::size_t>(capacity, 2)),
      min_spacing_(min_spacing_seconds) {}

void Series::push(double t, double v) {
  // The newest sample is provisional until it lies min_spacing after the one before it: until
  // then a new sample replaces it rather than push the oldest out. So every kept gap is at least
  // min_spacing, and a full ring spans (capacity - 2) x min_spacing however fast samples come.
  // (Comparing `t` instead of the newest would keep every sample that comes between half and
  // all of min_spacing, and the ring would cover as little as half its window.)
  if (size_ >= 2 && time(size_ - 1) - time(size_ - 2) < min_spacing_) {
    std::size_t last = (head_ + size_ - 1) % t_.size();
    t_[last] = t;
    v_[last] = v;
    return;
  }
  if (size_ == t_.size()) {
    head_ = (head_ + 1) % t_.size();
    --size_;
  }
  std::size_t at = (head_ + size_) % t_.size();
  t_[at] = t;
  v_[at] = v;
  ++size_;
}

std::size_t Series::firstAtOrAfter(double since) const {
  // Times are increasing: binary search.
  std::size_t lo = 0, hi = size_;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (time(mid) < since)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

Fit leastSquares(const Series& s, std::size_t from) {
  Fit f;
  std::size_t n = s.size() - std::min(from, s.size());
  f.points = n;
  if (n == 0) return f;
  f.last = s.value(s.size() - 1);
  double t0 = s.time(from);
  f.span = s.time(s.size() - 1) - t0;
  if (n < 2) return f;
  double st = 0, sv = 0, stt = 0, stv = 0;
  for (std::size_t i = from; i < s.size(); ++i) {
    double t = s.time(i) - t0, v = s.value(i);
    st += t;
    sv += v;
    stt += t * t;
    stv += t * v;
  }
  double dn = static_cast<double>(n);
  double denom = dn * stt - st * st;
  if (denom <= 0) return f;
  f.slope = (dn * stv - st * sv) / denom;
  return f;
}

History::History(Duration min_interval) : min_interval_(min_interval) {}

namespace {
// A ring that always reaches back `window`: (cap - 3) x spacing = window, and a full ring spans
// (cap - 2) x spacing, one spacing to spare for rounding. The spacing is at most 99% of the
// interval, so ticks at the interval (or a little early) are all kept, none thinned out.
Series ringFor(double window, Duration min_interval) {
  double interval = std::max(toSeconds(min_interval), 1e-3);
  std::size_t cap =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(window / (interval * 0.99))) + 3,
                              kMinCapacity, kMaxCapacity);
  return Series(cap, window / static_cast<double>(cap - 3));
}
}  // namespace

void History::require(SignalId signal, Duration window) {
  memo_used_ = 0;
  double w = toSeconds(window);
  for (auto& e : entries_)
    if (e.signal == signal) {
      if (w <= e.window) return;
      e.window = w;
      // Grown window: a new ring; the samples so far are few enough to lose once, at reload.
      e.series = ringFor(w, min_interval_);
      return;
    }
  entries_.push_back({signal, w, ringFor(w, min_interval_)});
}

void History::reset() {
  entries_.clear();
  memo_used_ = 0;
}

void History::append(const Snapshot& snap, double now_seconds) {
  memo_used_ = 0;
  for (auto& e : entries_)
    if (auto v = snap.get(e.signal)) e.series.push(now_seconds, *v);
}

const Series* History::series(SignalId signal) const {
  for (const auto& e : entries_)
    if (e.signal == signal) return &e.series;
  return nullptr;
}

Fit History::fit(SignalId signal, double window_seconds, double now_seconds) const {
  const Series* s = series(signal);
  if (!s) return {};
  return leastSquares(*s, s->firstAtOrAfter(now_seconds - window_seconds - 1e-9));
}

Num History::apply(WindowFn fn, SignalId signal, double window_seconds, double now_seconds) const {
  for (std::size_t i = 0; i < memo_used_; ++i) {
    const Memo& m = memo_[i];
    if (m.fn == fn && m.signal == signal && m.window == window_seconds && m.now == now_seconds)
      return m.value;
  }
  Num v = compute(fn, signal, window_seconds, now_seconds);
  if (memo_used_ < kMemoSize) memo_[memo_used_++] = {fn, signal, window_seconds, now_seconds, v};
  return v;
}

Num History::compute(WindowFn fn, SignalId signal, double window_seconds,
                     double now_seconds) const {
  const Series* s = series(signal);
  if (!s || s->size() == 0) return {};
  std::size_t from = s->firstAtOrAfter(now_seconds - window_seconds - 1e-9);
  std::size_t n = s->size() - from;
  if (n == 0) return {};
  switch (fn) {
    case WindowFn::kAvgOver: {
      double sum = 0;
      for (std::size_t i = from; i < s->size(); ++i) sum += s->value(i);
      return {sum / static_cast<double>(n), true};
    }
    case WindowFn::kMaxOver:
    case WindowFn::kMinOver: {
      double m = s->value(from);
      for (std::size_t i = from + 1; i < s->size(); ++i)
        m = fn == WindowFn::kMaxOver ? std::max(m, s->value(i)) : std::min(m, s->value(i));
      return {m, true};
    }
    case WindowFn::kDelta:
      if (n < 2) return {};
      return {s->value(s->size() - 1) - s->value(from), true};
    case WindowFn::kRate: {
      if (n < 2) return {};
      double span = s->time(s->size() - 1) - s->time(from);
      if (span <= 0) return {};
      // A counter that went down was reset (a restarted process, a re-created cgroup): what it
      // counts since the reset is its whole value.
      double increase = 0;
      for (std::size_t i = from + 1; i < s->size(); ++i) {
        double d = s->value(i) - s->value(i - 1);
        increase += d >= 0 ? d : s->value(i);
      }
      return {increase / span, true};
    }
    case WindowFn::kDeriv: {
      if (n < 2) return {};
      Fit f = leastSquares(*s, from);
      if (f.span <= 0) return {};
      return {f.slope, true};
    }
  }
  return {};
}

std::size_t History::memoryBytes() const {
  std::size_t b = 0;
  for (const auto& e : entries_) b += e.series.capacity() * 2 * sizeof(double);
  return b;
}

Num timeToOom(const History& h, const Snapshot& snap, double window_seconds, double now_seconds) {
  auto ws = snap.get(Sig::kWorkingSetBytes);
  if (!ws) return {};
  auto limit = snap.get(Sig::kLimitBytes);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (!limit) return {kInf, true};
  if (*ws >= *limit) return {0, true};
  Fit f = h.fit(id(Sig::kWorkingSetBytes), window_seconds, now_seconds);
  if (f.points < 3 || f.span < window_seconds / 5) return {};
  if (f.slope <= 0) return {kInf, true};
  return {(*limit - *ws) / f.slope, true};
}

}  // namespace oomsentinel
