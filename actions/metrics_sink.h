// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// MetricsSink: where the tick and the actions count what happened. The base class counts nothing
// (the null object: a Watchdog without /metrics holds one, so no caller checks for null);
// DaemonMetricsSink forwards to the Prometheus series (alerts/metrics.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alertmanager.h"
#include "alerts/metrics.h"
#include "core/clock.h"
#include "core/firing.h"
#include "core/snapshot.h"

namespace oomsentinel {

class MetricsSink {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  virtual ~MetricsSink() = default;
  // What each does: the DaemonMetrics method of the same name.
  virtual void updateTarget(const std::string&, const Snapshot&) {}
  virtual void removeTarget(const std::string&) {}
  virtual void targetGone(const std::string&) {}
  virtual void targetInfo(const std::string&, const Labels&) {}
  virtual void declareDumpers(const std::string&, const std::vector<std::string>&) {}
  virtual void transition(const Firing&) {}
  virtual void oomKill(const std::string&, bool /*warned*/) {}
  virtual void dump(const std::string&, const std::string& /*dumper*/,
                    const std::string& /*result*/, double /*seconds*/, double /*bytes*/) {}
  virtual void incident(const std::string&, const std::string& /*result*/) {}
  virtual void throttle(const std::string&, const std::string& /*result*/, bool /*held*/) {}
  virtual void alertmanager(const AlertmanagerStatus&) {}
  virtual void tick(WallTime, Duration /*took*/, Duration /*interval*/, std::size_t /*resolved*/,
                    std::size_t /*unresolved*/) {}
  virtual void selfMemory(bool /*degraded*/, std::optional<double> /*used*/,
                          std::optional<double> /*limit*/) {}
  virtual void degradedDropped(const char* /*what*/) {}
  virtual void dumpRefused(DumpRefused /*why*/) {}
};

class DaemonMetricsSink final : public MetricsSink {
 public:
  explicit DaemonMetricsSink(DaemonMetrics& m) : m_(m) {}
  void updateTarget(const std::string& t, const Snapshot& s) override { m_.updateTarget(t, s); }
  void removeTarget(const std::string& t) override { m_.removeTarget(t); }
  void targetGone(const std::string& t) override { m_.targetGone(t); }
  void targetInfo(const std::string& t, const Labels& l) override { m_.targetInfo(t, l); }
  void declareDumpers(const std::string& t, const std::vector<std::string>& d) override {
    m_.declareDumpers(t, d);
  }
  void transition(const Firing& f) override { m_.transition(f); }
  void oomKill(const std::string& t, bool warned) override { m_.oomKill(t, warned); }
  void dump(const std::string& t, const std::string& dumper, const std::string& result,
            double seconds, double bytes) override {
    m_.dump(t, dumper, result, seconds, bytes);
  }
  void incident(const std::string& t, const std::string& result) override {
    m_.incident(t, result);
  }
  void throttle(const std::string& t, const std::string& result, bool held) override {
    m_.throttle(t, result, held);
  }
  void alertmanager(const AlertmanagerStatus& s) override { m_.alertmanager(s); }
  void tick(WallTime now, Duration took, Duration interval, std::size_t resolved,
            std::size_t unresolved) override {
    m_.tick(now, took, interval, resolved, unresolved);
  }
  void selfMemory(bool degraded, std::optional<double> used, std::optional<double> limit) override {
    m_.selfMemory(degraded, used, limit);
  }
  void degradedDropped(const char* what) override { m_.degradedDropped(what); }
  void dumpRefused(DumpRefused why) override { m_.dumpRefused(why); }

 private:
  DaemonMetrics& m_;
};

}  // namespace oomsentinel
