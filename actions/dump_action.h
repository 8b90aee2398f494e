// actions/: what a rule's firing does (log, alert, dump); daemon/ only wires them.
// DumpAction (`dump`): a firing becomes a DumpJob (the incident's values and history, the process
// chosen, the target's dumpers) handed to the dump runner, which refuses or runs it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actions/action.h"
#include "core/host_paths.h"
#include "core/http_client.h"  // Url
#include "core/kinds.h"
#include "dumpers/child.h"
#include "dumpers/dump_runner.h"
#include "dumpers/dump_throttle.h"
#include "dumpers/gperftools_dumper.h"
#include "dumpers/jvm_dumper.h"

namespace oomsentinel {

// A target's dump settings, made once when the target is (daemon/: from its `dump:` section).
struct DumpPlan {
  std::vector<DumperKind> dumpers = {DumperKind::kProc};  // as configured, in order
  bool proc_smaps = false;
  GperftoolsSpec gperftools;
  std::optional<Url> go_pprof_url;  // go_pprof runs only with one
  std::vector<std::string> go_profiles;
  JvmDumpSpec jvm;
  std::vector<std::string> exec_argv;
  Duration exec_timeout{};
  std::string exec_user;
  ChildCgroupLimits exec_limits;
  std::optional<ThrottleSpec> throttle;  // throttle_during_dump (a target with a cgroup only)
};

// Where dump jobs go: DumpRunner behind RunnerDumpSink, a recording fake in tests.
// Whether the incident manifest's history shows this signal: not the stat_ keys (a cgroup's
// memory.stat, raw; the manifest has what is made of them), so the ring does not keep them
// either. Cached per id; call it from one thread (the tick's).
bool inIncidentHistory(SignalId id);

class DumpSink {
 public:
  virtual ~DumpSink() = default;
  // Why the job was refused (storm control), or nullopt when it started.
  virtual std::optional<DumpRefusal> submit(DumpJob job) = 0;
  // Why no job would be taken now, asked before one is built (choosing its process reads /proc
  // for each of the cgroup's processes): the daemon degraded near its own memory limit
  // (daemon/self_guard.h). nullopt: build it and submit.
  virtual std::optional<DumpRefusal> refusal() { return std::nullopt; }
};

class RunnerDumpSink final : public DumpSink {
 public:
  explicit RunnerDumpSink(DumpRunner& r) : r_(r) {}
  std::optional<DumpRefusal> submit(DumpJob job) override { return r_.submit(std::move(job)); }

 private:
  DumpRunner& r_;
};

class DumpAction final : public Action {
 public:
  // `labels`: the daemon's own (host; namespace, pod, container from the Downward API).
  DumpAction(const HostPaths& paths, ActionLog& log,
             std::vector<std::pair<std::string, std::string>> labels)
      : paths_(paths), log_(log), labels_(std::move(labels)) {}
  // Null: no rule dumps, or the dump directory could not be prepared.
  void setSink(DumpSink* sink) { sink_ = sink; }
  // dump.timeout and dump.max_artifact_bytes.
  void setLimits(Duration timeout, std::uint64_t max_artifact_bytes) {
    timeout_ = timeout;
    max_artifact_bytes_ = max_artifact_bytes;
  }

  ActionKind kind() const override { return ActionKind::kDump; }
  std::string_view unavailable() const override;
  void fire(const Firing& f, const TargetContext& t) override;

 private:
  std::vector<std::shared_ptr<Dumper>> dumpersFor(const DumpPlan& plan) const;

  HostPaths paths_;
  ActionLog& log_;
  std::vector<std::pair<std::string, std::string>> labels_;
  DumpSink* sink_ = nullptr;
  Duration timeout_ = std::chrono::seconds(30);
  std::uint64_t max_artifact_bytes_ = 0;
};

}  // namespace oomsentinel
