// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// AlertAction (`alert`): a firing becomes an AlertEvent for Alertmanager, its resolve follows.
#pragma once

#include "actions/action.h"
#include "alerts/alertmanager.h"

namespace oomsentinel {

// Where alerts go: AlertmanagerNotifier behind NotifierAlertSink, a recording fake in tests.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void fire(AlertEvent e) = 0;
  // Ignored for an alert the sink never sent.
  virtual void resolve(const std::string& rule, const std::string& target, WallTime at) = 0;
  // A dump of the firing published its bundle at `path`, whose heap report names `top_site`
  // ("" when none): the alert carries both from now on (ignored, like a resolve, for an alert the
  // sink never sent).
  virtual void setIncident(const std::string& rule, const std::string& target,
                           const std::string& path, const std::string& top_site) = 0;
};

class NotifierAlertSink final : public AlertSink {
 public:
  explicit NotifierAlertSink(AlertmanagerNotifier& n) : n_(n) {}
  void fire(AlertEvent e) override { n_.fire(std::move(e)); }
  void resolve(const std::string& rule, const std::string& target, WallTime at) override {
    n_.resolve(rule, target, at);
  }
  void setIncident(const std::string& rule, const std::string& target, const std::string& path,
                   const std::string& top_site) override {
    n_.setIncident(rule, target, path, top_site);
  }

 private:
  AlertmanagerNotifier& n_;
};

class AlertAction final : public Action {
 public:
  // `labels`: the daemon's own (host; namespace, pod, container from the Downward API).
  explicit AlertAction(std::vector<std::pair<std::string, std::string>> labels)
      : labels_(std::move(labels)) {}
  // Null: the config has no (usable) alerts.alertmanager.
  void setSink(AlertSink* sink) { sink_ = sink; }

  ActionKind kind() const override { return ActionKind::kAlert; }
  std::string_view unavailable() const override;
  void fire(const Firing& f, const TargetContext& t) override;
  void resolve(const Firing& f) override;

 private:
  std::vector<std::pair<std::string, std::string>> labels_;
  AlertSink* sink_ = nullptr;
};

}  // namespace oomsentinel
