// rules/: the rule language (parse + evaluate), per-series windows, time-to-OOM prediction and
// the pending/firing/resolved state of every rule for every target.
// History: one target's recent samples of the signals that window functions and time_to_oom
// read, each in a fixed-size ring, so that a long-running daemon never grows.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "core/clock.h"
#include "core/signal.h"
#include "core/snapshot.h"
#include "rules/expr.h"

namespace oomsentinel {

// A ring of (time, value) samples. When samples come faster than the window needs (event-driven
// ticks, or a window longer than capacity x interval), the newest one is overwritten instead of
// pushing the oldest out, so the ring always spans its whole window.
class Series {
 public:
  Series(std::size_t capacity, double min_spacing_seconds);
  void push(double t, double v);
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return t_.size(); }
  // i = 0 is the oldest sample.
  double time(std::size_t i) const { return t_[(head_ + i) % t_.size()]; }
  double value(std::size_t i) const { return v_[(head_ + i) % t_.size()]; }
  // Index of the first sample at or after `since` (size() when none).
  std::size_t firstAtOrAfter(double since) const;

 private:
  std::vector<double> t_, v_;
  std::size_t head_ = 0, size_ = 0;
  double min_spacing_;
};

// Least squares over samples [from, size()) of a series, time centred for precision.
struct Fit {
  double slope = 0;  // per second
  double last = 0;   // newest value
  double span = 0;   // seconds between the first and newest sample used
  std::size_t points = 0;
};
Fit leastSquares(const Series& s, std::size_t from);

class History {
 public:
  // `min_interval`: the shortest expected time between ticks; sizes the rings.
  explicit History(Duration min_interval = std::chrono::milliseconds(50));

  // Keeps `signal` for at least `window`. Called when rules are installed; cheap to repeat.
  void require(SignalId signal, Duration window);
  // Forgets every requirement and sample (rules replaced by a reload that changed windows).
  void reset();
  // Records the signals that are required and present in `snap` at `now_seconds`.
  void append(const Snapshot& snap, double now_seconds);

  Num apply(WindowFn fn, SignalId signal, double window_seconds, double now_seconds) const;
  // Least squares of `signal` over the last `window_seconds`.
  Fit fit(SignalId signal, double window_seconds, double now_seconds) const;
  const Series* series(SignalId signal) const;
  std::size_t memoryBytes() const;

 private:
  struct Entry {
    SignalId signal;
    double window;
    Series series;
  };
  Num compute(WindowFn fn, SignalId signal, double window_seconds, double now_seconds) const;

  // Rules often share a window function (several thresholds on one rate): each distinct one is
  // computed once per tick. Cleared by append(); a fixed capacity, so it never allocates.
  struct Memo {
    WindowFn fn;
    SignalId signal;
    double window, now;
    Num value;
  };
  static constexpr std::size_t kMemoSize = 32;
  Duration min_interval_;
  std::vector<Entry> entries_;
  mutable std::array<Memo, kMemoSize> memo_{};
  mutable std::size_t memo_used_ = 0;
};

// Seconds until working_set_bytes reaches limit_bytes at the trend of the last `window`
// (least squares). +Inf when flat, shrinking, or without a limit; 0 at or above the limit;
// unknown with fewer than 3 samples or a span under a fifth of the window.
Num timeToOom(const History& h, const Snapshot& snap, double window_seconds, double now_seconds);

}  // namespace oomsentinel
