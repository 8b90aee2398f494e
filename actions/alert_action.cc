#include "actions/alert_action.h"

#include <algorithm>

namespace oomsentinel {

std::string_view AlertAction::unavailable() const {
  if (sink_) return {};
  return "the config has no alerts.alertmanager (metrics still show the firing)";
}

void AlertAction::fire(const Firing& f, const TargetContext& t) {
  AlertEvent e;
  e.rule = f.rule;
  e.target = f.target;
  e.severity = severityName(f.severity);
  e.expr = f.expr;
  e.starts_at = f.wall;
  e.values = f.values;
  e.labels = labels_;
  // A discovered container's own names; the daemon's Downward API ones say where it runs.
  // A named pair, not a structured binding: clang before 16 cannot capture a binding in a
  // lambda, and fuzz_state_file builds the daemon with clang 14.
  for (const auto& label : t.labels) {
    const std::string& key = label.first;
    auto it = std::find_if(e.labels.begin(), e.labels.end(),
                           [&key](const auto& l) { return l.first == key; });
    if (it != e.labels.end())
      it->second = label.second;
    else
      e.labels.emplace_back(key, label.second);
  }
  sink_->fire(std::move(e));
}

void AlertAction::resolve(const Firing& f) {
  // Whatever the cooldown did: the sink ignores an alert it never sent.
  if (sink_) sink_->resolve(f.rule, f.target, f.wall);
}

}  // namespace oomsentinel
