#include "actions/dump_action.h"

#include <algorithm>

#include "core/signal.h"
#include "dumpers/exec_dumper.h"
#include "dumpers/go_pprof_dumper.h"
#include "dumpers/proc_dumper.h"
#include "dumpers/target_process.h"

namespace oomsentinel {

std::string_view DumpAction::unavailable() const {
  if (sink_) return {};
  return "its dump directory could not be prepared";
}

std::vector<std::shared_ptr<Dumper>> DumpAction::dumpersFor(const DumpPlan& plan) const {
  std::vector<std::shared_ptr<Dumper>> out;
  for (DumperKind kind : plan.dumpers) {
    switch (kind) {
      case DumperKind::kProc:
        out.push_back(std::make_shared<ProcDumper>(paths_, plan.proc_smaps));
        break;
      case DumperKind::kGperftools:
        out.push_back(std::make_shared<GperftoolsDumper>(paths_, plan.gperftools));
        break;
      case DumperKind::kGoPprof:
        if (plan.go_pprof_url)
          out.push_back(std::make_shared<GoPprofDumper>(*plan.go_pprof_url, plan.go_profiles));
        break;
      case DumperKind::kJvm:
        out.push_back(std::make_shared<JvmDumper>(plan.jvm, paths_));
        break;
      case DumperKind::kExec:
        out.push_back(
            std::make_shared<ExecDumper>(plan.exec_argv, plan.exec_timeout,
                                         ExecIdentity{plan.exec_user, paths_, plan.exec_limits}));
        break;
    }
  }
  return out;
}

bool inIncidentHistory(SignalId id) {
  // 0: not looked at yet, 1: shown, 2: left out. Names never change once interned.
  thread_local std::vector<std::uint8_t> seen;
  if (id >= seen.size()) seen.resize(std::max<std::size_t>(id + 1, signalCount()), 0);
  if (seen[id] == 0) seen[id] = signalName(id).rfind("stat_", 0) == 0 ? 2 : 1;
  return seen[id] == 1;
}

void DumpAction::fire(const Firing& f, const TargetContext& t) {
  if (auto no = sink_->refusal()) {
    log_.write(ActionLog::Level::kWarning, "dump not started",
               {{"rule", f.rule}, {"target", f.target}, {"why", no->why}});
    return;
  }
  static const DumpPlan kDefault;
  const DumpPlan& plan = t.dump ? *t.dump : kDefault;
  DumpJob job;
  job.timeout = timeout_;
  IncidentInfo& info = job.info;
  info.target = f.target;
  info.rule = f.rule;
  info.severity = severityName(f.severity);
  info.expr = f.expr;
  info.fired_at = f.wall;
  info.values = f.values;
  info.labels = labels_;
  // The ring from its oldest entry; those not written yet (no signals) left out.
  for (std::size_t i = 0; i < t.history.size(); ++i) {
    const SparseSnapshot& s = t.history[(t.history_oldest + i) % t.history.size()];
    if (s.signals.empty()) continue;
    IncidentInfo::Sample sample;
    sample.time = s.wall;
    for (const auto& [id, v] : s.signals)
      if (inIncidentHistory(id)) sample.signals.emplace_back(signalName(id), v);
    info.history.push_back(std::move(sample));
  }
  DumpRequest& req = job.request;
  req.max_bytes = max_artifact_bytes_;
  req.cgroup_dir = t.cgroup_dir;
  // The process: the JVM when one is being read and a JVM dumper runs, the pid of a pid target,
  // else the largest process of the cgroup.
  Result<ChosenProcess> chosen = makeError("no process: the host target");
  bool wants_jvm =
      std::find(plan.dumpers.begin(), plan.dumpers.end(), DumperKind::kJvm) != plan.dumpers.end();
  if (wants_jvm && t.jvm_pid)
    chosen = describeProcess(paths_, *t.jvm_pid);
  else if (t.target.kind == TargetKind::kPid)
    chosen = describeProcess(paths_, t.target.pid);
  else if (!req.cgroup_dir.empty())
    chosen = largestProcess(paths_, joinPath(req.cgroup_dir, "cgroup.procs"));
  if (chosen) {
    req.pid = chosen->pid;
    req.pid_starttime = chosen->starttime;
  }
  job.dumpers = dumpersFor(plan);
  if (plan.throttle && !req.cgroup_dir.empty()) job.throttle = *plan.throttle;
  LogFields fields = {{"rule", f.rule}, {"target", f.target}};
  if (req.pid) fields.emplace_back("pid", std::to_string(*req.pid));
  std::string dumpers;
  for (const auto& d : names(plan.dumpers)) dumpers += (dumpers.empty() ? "" : ",") + d;
  fields.emplace_back("dumpers", dumpers);
  if (auto refused = sink_->submit(std::move(job))) {
    fields.emplace_back("why", refused->why);
    log_.write(ActionLog::Level::kWarning, "dump not started", fields);
    return;
  }
  log_.write(ActionLog::Level::kInfo, "dump started", fields);
}

}  // namespace oomsentinel
