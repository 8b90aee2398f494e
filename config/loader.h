// config/: one YAML file -> typed, validated configuration.
// Private to config/ (included by config/*.cc only): the Loader, one config text's reading. Its
// sections are defined each in its own file: config.cc (the document, the top map, the
// cross-section checks), load_poll.cc (poll, discovery), load_targets.cc (a target's name and
// kind), load_runtime.cc (a target's runtime endpoints), load_dump.cc (dump, and a target's
// dumpers), load_alerts.cc, load_rules.cc.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace oomsentinel::config_internal {

class Loader : private YamlReader {
 public:
  Loader(const std::string& text, std::string file);
  ConfigLoad run(const std::string& text);

 private:
  // A name a rule refers to, checked once every target is known.
  struct TargetRef {
    std::string name;
    Pos pos;
    std::string path;
  };

  // config.cc
  void readDocuments(const std::string& text, Config& config);
  void readTop(const YAML::Node& root, Config& config);
  void checkTargetRefs();

  // load_poll.cc
  void readPoll(const Entry& e, PollSpec& poll);
  void readPollIntervals(const std::vector<Entry>& entries, PollSpec& poll);
  void readPsi(const std::vector<Entry>& entries, PollSpec& poll);
  void readSkimRate(const Entry& r, PollSpec& poll);
  void readDiscovery(const Entry& e, DiscoverySpec& d);

  // load_targets.cc
  void readTargets(const Entry& e, Config& config);
  std::optional<TargetSpec> readTarget(const YAML::Node& item, const std::string& path);
  bool readTargetName(const YAML::Node& item, const std::string& path,
                      const std::vector<Entry>& entries, const std::vector<std::string>& meant,
                      TargetSpec& spec);
  bool readTargetKinds(const YAML::Node& item, const std::string& path,
                       const std::vector<Entry>& entries, const std::vector<std::string>& meant,
                       TargetSpec& spec);
  bool readTargetKind(const Entry& e, TargetSpec& spec);
  bool readSelector(const Entry& e, TargetSpec& spec);
  bool checkCgroupGlob(const Entry& e, const std::string& v);
  bool checkSystemdUnit(const Entry& e, const std::string& v);
  bool readPredictWindow(const Entry& w, TargetSpec& spec);
  bool readEnvName(const Entry& e, std::string& out);

  // load_runtime.cc
  bool readRuntime(const std::vector<Entry>& entries, RuntimeSpec& rt);
  bool readGo(const Entry& go, RuntimeSpec& rt);
  bool readJvm(const Entry& jvm, RuntimeSpec& rt);
  bool readRuntimeFetch(const Entry& r, RuntimeSpec& rt, bool ok);
  bool readSignalMappings(const Entry& e, std::vector<std::pair<std::string, std::string>>& out);

  // load_dump.cc
  void readDump(const Entry& e, DumpSpec& d);
  bool readTargetDump(const std::vector<Entry>& entries, TargetSpec& spec);
  bool readGperftools(const Entry& g, TargetDumpSpec& d);
  bool readGoProfiles(const Entry& go, TargetDumpSpec& d);
  bool readJvmDump(const Entry& jvm, TargetDumpSpec& d);
  bool readExec(const Entry& x, TargetDumpSpec& d);
  bool readExecArgv(const Entry& argv, TargetDumpSpec& d);
  bool readExecLimits(const std::vector<Entry>& keys, TargetDumpSpec& d);
  bool readProc(const Entry& pr, TargetDumpSpec& d);
  bool readThrottle(const Entry& e, TargetSpec& spec);
  bool readSignal(const Entry& e, int& out);
  bool readDumperList(const Entry& list, const std::vector<Entry>& entries, TargetSpec& spec);

  // load_alerts.cc
  void readAlerts(const Entry& e, AlertsSpec& a);
  void readMetricsListen(const Entry& l, AlertsSpec& a);
  void readAlertmanager(const Entry& e, AlertsSpec& a);
  void readAlertmanagerTls(const Entry& t, AlertsSpec& a);
  void readAlertmanagerLabels(const Entry& l, AlertsSpec& a);

  // load_rules.cc
  void readRules(const Entry& e, Config& config);
  std::optional<RuleSpec> readRule(const YAML::Node& item, const std::string& path,
                                   std::map<std::string, int>& names);
  bool readRuleActions(const Entry& a, RuleSpec& rule);
  bool readRuleTargets(const Entry& t, RuleSpec& rule);
  bool readExpr(const Entry& e, std::string& out);
  bool readSeverity(const Entry& e, Severity& out);

  std::map<std::string, int> target_names_;  // name -> line
  bool targets_incomplete_ = false;
  std::vector<TargetRef> target_refs_;
};

}  // namespace oomsentinel::config_internal
