// rules/: the rule language (parse + evaluate), per-series windows, time-to-OOM prediction and
// the pending/firing/resolved state of every rule for every target.
// Expr: one compiled expression over a target's signals. Parsing allocates; evaluation does not.
//
//   working_set_ratio > 85%
//   time_to_oom < 10s or working_set_ratio > 95%
//   rate(pgmajfault[10s]) > 100 and not (usage_bytes < 64MiB)
//
// Numbers take units: KiB MiB GiB TiB (bytes), % (ratio: 85% = 0.85), ns us ms s m h (seconds).
// Arithmetic + - * /, comparisons > >= < <= == !=, and/or/not with Kleene logic: a signal the
// target does not offer makes its comparison unknown, `unknown or true` is true, `unknown and
// false` is false; a rule whose expression is unknown neither fires nor resolves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/signal.h"
#include "core/snapshot.h"

namespace oomsentinel {

class History;

struct ExprError {
  std::size_t column = 0;  // 1-based, in the expression text
  std::string message;
  // "  expr text\n       ^ message": the caret under the column.
  std::string render(std::string_view text, std::string_view indent = "  ") const;
};

enum class WindowFn { kRate, kDeriv, kDelta, kAvgOver, kMaxOver, kMinOver };
const char* windowFnName(WindowFn f);

// A series a window function reads: the engine keeps that signal's history at least this long.
struct WindowNeed {
  SignalId signal;
  Duration window;
};

// The value of a number-valued node: known or not.
struct Num {
  double value = 0;
  bool known = false;
};
enum class Truth : std::uint8_t { kFalse, kTrue, kUnknown };

// What evaluation reads: the tick's snapshot, the target's history and its time-to-OOM.
struct EvalContext {
  const Snapshot* snapshot = nullptr;
  const History* history = nullptr;
  double now_seconds = 0;  // steady time of the snapshot, in seconds
  Num time_to_oom;         // seconds; +Inf when not growing or unlimited
};

// What a cheap read says about a signal when no full snapshot was taken (the watchdog's quiet
// ticks): nothing (kAny), that the target does not offer it (kAbsent: its comparisons are
// unknown), or that its value lies in [lo, hi].
struct SignalBound {
  enum class Kind : std::uint8_t { kAny, kAbsent, kRange };
  Kind kind = Kind::kAny;
  double lo = 0, hi = 0;
};
class SignalBounds {
 public:
  virtual ~SignalBounds() = default;
  virtual SignalBound bound(SignalId signal) const = 0;
};

class Expr {
 public:
  static std::variant<Expr, ExprError> parse(std::string_view text);

  Truth evaluate(const EvalContext& ctx) const;
  // False only when `bounds` prove that evaluate() cannot give kTrue on any snapshot within them
  // (Kleene logic as evaluate() has it); window functions and time_to_oom are taken as anything.
  bool mayBeTrue(const SignalBounds& bounds) const;
  const std::string& text() const { return text_; }
  // Every comparison of a bare signal with a number, whichever side each is on, as (signal,
  // number): `working_set_ratio > 85%` gives (working_set_ratio, 0.85). The levels the kernel can
  // be asked to report a crossing of (docs/design/wakeups.md).
  std::vector<std::pair<SignalId, double>> levels() const;
  const std::vector<WindowNeed>& windows() const { return windows_; }
  bool usesTimeToOom() const { return uses_tto_; }
  // True when `signal` is read by the expression, bare or in a window function.
  bool uses(SignalId signal) const;
  // The leaves (signals, window functions, time_to_oom) with the value each had at the last
  // evaluate(): for transition logs. Unknown leaves are reported by name in `unknown`.
  void lastValues(std::vector<std::pair<std::string, double>>& known,
                  std::vector<std::string>* unknown) const;
  // The same leaves, without allocating: f(const std::string& label, Num value), in order.
  template <typename F>
  void forEachLeaf(F&& f) const {
    for (const Node& n : nodes_)
      if (n.kind == Node::Kind::kSignal || n.kind == Node::Kind::kWindow ||
          n.kind == Node::Kind::kTimeToOom)
        f(n.label, n.last);
  }

  struct Node {
    enum class Kind : std::uint8_t {
      kNumber,
      kSignal,
      kWindow,
      kTimeToOom,  // leaves
      kNeg,
      kAdd,
      kSub,
      kMul,
      kDiv,  // numbers
      kLt,
      kLe,
      kGt,
      kGe,
      kEq,
      kNe,  // comparisons
      kAnd,
      kOr,
      kNot  // truth
    };
    Kind kind = Kind::kNumber;
    WindowFn fn = WindowFn::kRate;
    std::uint32_t a = 0, b = 0;  // children (node indices)
    double number = 0;
    SignalId signal = 0;
    double window_seconds = 0;
    std::string label;  // leaves: how the user wrote it, for transition logs
    mutable Num last;   // leaves: value at the last evaluation
  };

 private:
  friend class ExprParser;
  Num evalNum(std::uint32_t i, const EvalContext& ctx) const;
  Truth evalBool(std::uint32_t i, const EvalContext& ctx) const;
  struct Possible {
    bool can_true = true, can_false = true;
  };
  SignalBound rangeOf(std::uint32_t i, const SignalBounds& b) const;
  Possible possible(std::uint32_t i, const SignalBounds& b) const;

  std::string text_;
  std::vector<Node> nodes_;
  std::uint32_t root_ = 0;
  std::vector<WindowNeed> windows_;
  bool uses_tto_ = false;
};

}  // namespace oomsentinel
