#include "rules/engine.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace oomsentinel {

std::string RuleCompileError::format() const {
  return "rule '" + rule + "': column " + std::to_string(error.column) + ": " + error.message +
         "\n" + error.render(expr, "    ");
}

struct Instance {
  std::shared_ptr<const void> keep;  // holds the CompiledRule alive across reloads
  const RuleSpec* spec = nullptr;
  const Expr* expr = nullptr;
  RuleState state = RuleState::kInactive;
  SteadyTime since{};
  std::optional<SteadyTime> false_since;   // firing: when the expression turned false
  std::optional<SteadyTime> last_actions;  // for the cooldown
  bool firing_acted = false;               // the current firing ran its actions
  Truth last = Truth::kFalse;
  bool unknown_reported = false;
  // The leaves unknown at the last unknown evaluation are [0, unknown_count); the slots past it
  // keep their strings' buffers, so that a signal that comes and goes does not allocate.
  std::vector<std::string> unknown_signals;
  std::size_t unknown_count = 0;
};

class RuleEngine::TargetState {
 public:
  TargetState(std::string n, Duration predict, Duration min_interval)
      : name(std::move(n)), predict_window(predict), history(min_interval) {}
  std::string name;
  Duration predict_window;
  History history;
  std::vector<Instance> instances;
};

RuleEngine::RuleEngine(Duration min_interval) : min_interval_(min_interval) {}
RuleEngine::~RuleEngine() = default;

std::vector<RuleCompileError> RuleEngine::setRules(const std::vector<RuleSpec>& specs) {
  std::vector<RuleCompileError> errors;
  std::vector<std::shared_ptr<CompiledRule>> compiled;
  for (const auto& spec : specs) {
    auto parsed = Expr::parse(spec.expr);
    if (auto* err = std::get_if<ExprError>(&parsed)) {
      errors.push_back({spec.name, *err, spec.expr});
      continue;
    }
    compiled.push_back(
        std::make_shared<CompiledRule>(CompiledRule{spec, std::move(std::get<Expr>(parsed))}));
  }
  if (!errors.empty()) return errors;
  rules_ = std::move(compiled);
  for (auto& t : targets_) attach(*t);
  return errors;
}

// Rebuilds a target's instances for the current rules, keeping the state of unchanged ones.
void RuleEngine::attach(TargetState& t) {
  std::vector<Instance> old = std::move(t.instances);
  t.instances.clear();
  t.history.require(id(Sig::kWorkingSetBytes), t.predict_window);
  for (const auto& r : rules_) {
    const auto& targets = r->spec.targets;
    // A selector's name also covers what it found ("pods" covers "pods/<container>").
    auto covers = [&](const std::string& n) {
      return n == t.name || (t.name.size() > n.size() && t.name.compare(0, n.size(), n) == 0 &&
                             t.name[n.size()] == '/');
    };
    if (!targets.empty() && std::none_of(targets.begin(), targets.end(), covers)) continue;
    for (const auto& w : r->expr.windows()) t.history.require(w.signal, w.window);
    Instance inst;
    for (auto& o : old)
      if (o.spec && o.spec->name == r->spec.name && *o.spec == r->spec) {
        inst = std::move(o);
        // The moved-from entry no longer keeps its rule alive (inst.keep is replaced just below,
        // which may free it): it must not be looked at again, nor matched by a duplicate name.
        o.spec = nullptr;
        o.expr = nullptr;
        break;
      }
    inst.keep = r;
    inst.spec = &r->spec;
    inst.expr = &r->expr;
    t.instances.push_back(std::move(inst));
  }
}

RuleEngine::TargetHandle RuleEngine::addTarget(const std::string& name, Duration predict_window) {
  if (auto* t = findTarget(name)) return t;
  targets_.push_back(std::make_unique<TargetState>(name, predict_window, min_interval_));
  attach(*targets_.back());
  return targets_.back().get();
}

void RuleEngine::removeTarget(const std::string& name) {
  targets_.erase(std::remove_if(targets_.begin(), targets_.end(),
                                [&](const auto& t) { return t->name == name; }),
                 targets_.end());
}

RuleEngine::TargetHandle RuleEngine::findTarget(const std::string& name) const {
  for (const auto& t : targets_)
    if (t->name == name) return t.get();
  return nullptr;
}

namespace {

// Which leaves left `in`'s expression unknown, kept per target (the Expr is shared by every
// target); the first time, a notice says so.
void noteUnknown(Instance& in, const std::string& target, std::vector<RuleNotice>& notices) {
  std::size_t k = 0;
  in.expr->forEachLeaf([&](const std::string& label, Num v) {
    if (v.known) return;
    for (std::size_t i = 0; i < k; ++i)
      if (in.unknown_signals[i] == label) return;  // written twice in the expression
    if (k == in.unknown_signals.size())
      in.unknown_signals.push_back(label);
    else if (in.unknown_signals[k] != label)
      in.unknown_signals[k].assign(label);  // reuses the buffer once it is large enough
    ++k;
  });
  in.unknown_count = k;
  if (in.unknown_reported) return;
  in.unknown_reported = true;
  std::string msg = "cannot be decided for this target: ";
  for (std::size_t i = 0; i < in.unknown_count; ++i) msg += (i ? ", " : "") + in.unknown_signals[i];
  msg += in.unknown_count == 1 ? " is not offered" : " are not offered";
  msg += " (the rule neither fires nor resolves while it is unknown)";
  notices.push_back({in.spec->name, target, std::move(msg)});
}

// The state `in` moves to on `truth` at `now` (for, keep_firing_for); while it fires, when its
// expression turned false is kept in `in`.
RuleState nextState(Instance& in, Truth truth, SteadyTime now) {
  const RuleSpec& spec = *in.spec;
  RuleState next = in.state;
  switch (in.state) {
    case RuleState::kInactive:
    case RuleState::kResolved:
      if (truth == Truth::kTrue)
        next = spec.for_duration.count() == 0 ? RuleState::kFiring : RuleState::kPending;
      break;
    case RuleState::kPending:
      if (truth == Truth::kTrue && now - in.since >= spec.for_duration)
        next = RuleState::kFiring;
      else if (truth == Truth::kFalse)
        next = RuleState::kInactive;
      break;
    case RuleState::kFiring:
      if (truth == Truth::kTrue) {
        in.false_since.reset();
      } else if (truth == Truth::kFalse) {
        if (!in.false_since) in.false_since = now;
        if (now - *in.false_since >= spec.keep_firing_for) next = RuleState::kResolved;
      }
      break;
  }
  return next;
}

// The Firing of `in`'s move to `next`; a firing runs its actions unless the cooldown holds them.
Firing transition(Instance& in, RuleState next, const std::string& target, const Snapshot& snap,
                  SteadyTime now) {
  const RuleSpec& spec = *in.spec;
  Firing f;
  f.rule = spec.name;
  f.target = target;
  f.expr = spec.expr;
  f.severity = spec.severity;
  f.from = in.state;
  f.to = next;
  f.steady = now;
  f.wall = snap.wall;
  in.expr->lastValues(f.values, nullptr);
  if (next == RuleState::kFiring) {
    in.firing_acted = !(in.last_actions && now - *in.last_actions < spec.cooldown);
    if (!in.firing_acted) {
      f.suppressed_by_cooldown = true;
    } else {
      f.actions = spec.actions;
      in.last_actions = now;
    }
  } else if (next == RuleState::kResolved && in.firing_acted) {
    // So an alert that was sent can be resolved (dumps ignore resolutions); a firing whose
    // actions the cooldown suppressed resolves silently too.
    f.actions = spec.actions;
  }
  return f;
}

}  // namespace

void RuleEngine::evaluate(TargetHandle t, Snapshot& snap, std::vector<Firing>& out,
                          std::vector<RuleNotice>& notices) {
  const SteadyTime now = snap.steady;
  const double now_s = toSeconds(now.time_since_epoch());
  // The prediction is ours alone: one that came with the snapshot (replayed, or a reused
  // snapshot not cleared) must neither be recorded nor outlive a tick where ours is unknown.
  snap.erase(id(Sig::kTimeToOomSeconds));
  t->history.append(snap, now_s);
  Num tto = timeToOom(t->history, snap, toSeconds(t->predict_window), now_s);
  if (tto.known) snap.set(Sig::kTimeToOomSeconds, tto.value);
  EvalContext ctx{&snap, &t->history, now_s, tto};

  for (Instance& in : t->instances) {
    Truth truth = in.expr->evaluate(ctx);
    if (truth == Truth::kUnknown) noteUnknown(in, t->name, notices);
    in.last = truth;

    RuleState next = nextState(in, truth, now);
    if (next == in.state) continue;

    Firing f = transition(in, next, t->name, snap, now);
    in.state = next;
    in.since = now;
    in.false_since.reset();
    out.push_back(std::move(f));
  }
}

bool RuleEngine::mayFire(TargetHandle t, const SignalBounds& bounds) const {
  for (const Instance& in : t->instances) {
    if (in.state == RuleState::kPending || in.state == RuleState::kFiring) return true;
    if (in.expr->mayBeTrue(bounds)) return true;
  }
  return false;
}

std::vector<std::pair<SignalId, double>> RuleEngine::levels(TargetHandle t) const {
  std::vector<std::pair<SignalId, double>> out;
  for (const Instance& in : t->instances) {
    auto l = in.expr->levels();
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

bool RuleEngine::uses(TargetHandle t, SignalId signal) const {
  return std::any_of(t->instances.begin(), t->instances.end(),
                     [&](const Instance& in) { return in.expr->uses(signal); });
}

std::vector<RuleStatus> RuleEngine::status() const {
  std::vector<RuleStatus> out;
  for (const auto& t : targets_)
    for (const auto& in : t->instances) {
      RuleStatus s;
      s.rule = in.spec->name;
      s.target = t->name;
      s.severity = in.spec->severity;
      s.state = in.state;
      s.since = in.since;
      s.last = in.last;
      if (in.last == Truth::kUnknown)
        s.unknown_signals.assign(
            in.unknown_signals.begin(),
            in.unknown_signals.begin() + static_cast<std::ptrdiff_t>(in.unknown_count));
      out.push_back(std::move(s));
    }
  return out;
}

}  // namespace oomsentinel
