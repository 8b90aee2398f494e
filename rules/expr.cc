#include "rules/expr.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/units.h"
#include "rules/history.h"

namespace oomsentinel {

using Kind = Expr::Node::Kind;

std::string ExprError::render(std::string_view text, std::string_view indent) const {
  std::string out(indent);
  out += text;
  out += '\n';
  out += indent;
  out += std::string(column > 0 ? column - 1 : 0, ' ');
  out += "^ ";
  out += message;
  return out;
}

const char* windowFnName(WindowFn f) {
  switch (f) {
    case WindowFn::kRate:
      return "rate";
    case WindowFn::kDeriv:
      return "deriv";
    case WindowFn::kDelta:
      return "delta";
    case WindowFn::kAvgOver:
      return "avg_over";
    case WindowFn::kMaxOver:
      return "max_over";
    case WindowFn::kMinOver:
      return "min_over";
  }
  return "?";
}

Num Expr::evalNum(std::uint32_t i, const EvalContext& ctx) const {
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kNumber:
      return {n.number, true};
    case Kind::kSignal: {
      auto v = ctx.snapshot->get(n.signal);
      n.last = v ? Num{*v, true} : Num{};
      return n.last;
    }
    case Kind::kWindow:
      n.last = ctx.history ? ctx.history->apply(n.fn, n.signal, n.window_seconds, ctx.now_seconds)
                           : Num{};
      return n.last;
    case Kind::kTimeToOom:
      n.last = ctx.time_to_oom;
      return n.last;
    case Kind::kNeg: {
      Num a = evalNum(n.a, ctx);
      return {-a.value, a.known};
    }
    case Kind::kAdd:
    case Kind::kSub:
    case Kind::kMul:
    case Kind::kDiv: {
      Num a = evalNum(n.a, ctx), b = evalNum(n.b, ctx);
      if (!a.known || !b.known) return {};
      double r = n.kind == Kind::kAdd   ? a.value + b.value
                 : n.kind == Kind::kSub ? a.value - b.value
                 : n.kind == Kind::kMul ? a.value * b.value
                                        : a.value / b.value;
      // x/0 is unknown rather than an infinity that would compare as true.
      if (n.kind == Kind::kDiv && b.value == 0) return {};
      return {r, true};
    }
    default:
      return {};
  }
}

Truth Expr::evalBool(std::uint32_t i, const EvalContext& ctx) const {
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kAnd: {
      Truth a = evalBool(n.a, ctx), b = evalBool(n.b, ctx);
      if (a == Truth::kFalse || b == Truth::kFalse) return Truth::kFalse;
      if (a == Truth::kTrue && b == Truth::kTrue) return Truth::kTrue;
      return Truth::kUnknown;
    }
    case Kind::kOr: {
      Truth a = evalBool(n.a, ctx), b = evalBool(n.b, ctx);
      if (a == Truth::kTrue || b == Truth::kTrue) return Truth::kTrue;
      if (a == Truth::kFalse && b == Truth::kFalse) return Truth::kFalse;
      return Truth::kUnknown;
    }
    case Kind::kNot: {
      Truth a = evalBool(n.a, ctx);
      return a == Truth::kUnknown ? a : (a == Truth::kTrue ? Truth::kFalse : Truth::kTrue);
    }
    case Kind::kLt:
    case Kind::kLe:
    case Kind::kGt:
    case Kind::kGe:
    case Kind::kEq:
    case Kind::kNe: {
      Num a = evalNum(n.a, ctx), b = evalNum(n.b, ctx);
      if (!a.known || !b.known || std::isnan(a.value) || std::isnan(b.value))
        return Truth::kUnknown;
      bool r = n.kind == Kind::kLt   ? a.value < b.value
               : n.kind == Kind::kLe ? a.value <= b.value
               : n.kind == Kind::kGt ? a.value > b.value
               : n.kind == Kind::kGe ? a.value >= b.value
               : n.kind == Kind::kEq ? a.value == b.value
                                     : a.value != b.value;
      return r ? Truth::kTrue : Truth::kFalse;
    }
    default:
      return Truth::kUnknown;
  }
}

SignalBound Expr::rangeOf(std::uint32_t i, const SignalBounds& b) const {
  using K = SignalBound::Kind;
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kNumber:
      return {K::kRange, n.number, n.number};
    case Kind::kSignal:
      return b.bound(n.signal);
    case Kind::kNeg: {
      SignalBound a = rangeOf(n.a, b);
      if (a.kind != K::kRange) return a;
      return {K::kRange, -a.hi, -a.lo};
    }
    case Kind::kAdd:
    case Kind::kSub:
    case Kind::kMul:
    case Kind::kDiv: {
      SignalBound x = rangeOf(n.a, b), y = rangeOf(n.b, b);
      if (x.kind == K::kAbsent || y.kind == K::kAbsent) return {K::kAbsent};
      if (x.kind == K::kAny || y.kind == K::kAny) return {};
      if (n.kind == Kind::kAdd) return {K::kRange, x.lo + y.lo, x.hi + y.hi};
      if (n.kind == Kind::kSub) return {K::kRange, x.lo - y.hi, x.hi - y.lo};
      return {};  // products and quotients: not worth the sign cases
    }
    default:
      return {};  // window functions, time_to_oom: history, not a reading
  }
}

Expr::Possible Expr::possible(std::uint32_t i, const SignalBounds& b) const {
  using K = SignalBound::Kind;
  const Node& n = nodes_[i];
  switch (n.kind) {
    case Kind::kAnd: {
      Possible x = possible(n.a, b), y = possible(n.b, b);
      return {x.can_true && y.can_true, x.can_false || y.can_false};
    }
    case Kind::kOr: {
      Possible x = possible(n.a, b), y = possible(n.b, b);
      return {x.can_true || y.can_true, x.can_false && y.can_false};
    }
    case Kind::kNot: {
      Possible x = possible(n.a, b);
      return {x.can_false, x.can_true};
    }
    case Kind::kLt:
    case Kind::kLe:
    case Kind::kGt:
    case Kind::kGe:
    case Kind::kEq:
    case Kind::kNe: {
      SignalBound x = rangeOf(n.a, b), y = rangeOf(n.b, b);
      // An absent signal makes the comparison unknown: neither true nor false.
      if (x.kind == K::kAbsent || y.kind == K::kAbsent) return {false, false};
      if (x.kind == K::kAny || y.kind == K::kAny) return {};
      const bool overlap = x.lo <= y.hi && y.lo <= x.hi;
      const bool single = x.lo == x.hi && y.lo == y.hi && x.lo == y.lo;
      switch (n.kind) {
        case Kind::kGt:
          return {x.hi > y.lo, x.lo <= y.hi};
        case Kind::kGe:
          return {x.hi >= y.lo, x.lo < y.hi};
        case Kind::kLt:
          return {x.lo < y.hi, x.hi >= y.lo};
        case Kind::kLe:
          return {x.lo <= y.hi, x.hi > y.lo};
        case Kind::kEq:
          return {overlap, !single};
        default:
          return {!single, overlap};
      }
    }
    default:
      return {};
  }
}

bool Expr::uses(SignalId signal) const {
  return std::any_of(nodes_.begin(), nodes_.end(), [&](const Node& n) {
    return (n.kind == Node::Kind::kSignal || n.kind == Node::Kind::kWindow) && n.signal == signal;
  });
}

std::vector<std::pair<SignalId, double>> Expr::levels() const {
  std::vector<std::pair<SignalId, double>> out;
  for (const Node& n : nodes_) {
    if (n.kind < Node::Kind::kLt || n.kind > Node::Kind::kNe) continue;
    const Node& a = nodes_[n.a];
    const Node& b = nodes_[n.b];
    if (a.kind == Node::Kind::kSignal && b.kind == Node::Kind::kNumber)
      out.emplace_back(a.signal, b.number);
    else if (b.kind == Node::Kind::kSignal && a.kind == Node::Kind::kNumber)
      out.emplace_back(b.signal, a.number);
  }
  return out;
}

bool Expr::mayBeTrue(const SignalBounds& bounds) const { return possible(root_, bounds).can_true; }

Truth Expr::evaluate(const EvalContext& ctx) const {
  // Leaves not reached this time (short-circuit is not used, so all are) keep no stale value.
  return evalBool(root_, ctx);
}

void Expr::lastValues(std::vector<std::pair<std::string, double>>& known,
                      std::vector<std::string>* unknown) const {
  // A signal written twice in one expression is reported once.
  forEachLeaf([&](const std::string& label, Num v) {
    if (v.known) {
      for (const auto& k : known)
        if (k.first == label) return;
      known.emplace_back(label, v.value);
    } else if (unknown) {
      for (const auto& u : *unknown)
        if (u == label) return;
      unknown->push_back(label);
    }
  });
}

}  // namespace oomsentinel
