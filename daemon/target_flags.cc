#include "daemon/target_flags.h"

#include <cstdlib>

#include "collectors/layout.h"

namespace oomsentinel {

bool takeTargetFlag(Args& args, std::optional<Target>& target) {
  std::optional<std::string> v;
  Target t;
  if (args.flag("--cgroup", &v)) {
    t = Target::cgroupPath(*v, *v);
  } else if (args.flag("--pid", &v)) {
    char* end = nullptr;
    long pid = std::strtol(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || pid <= 0 || pid > 0x3fffffff)
      throw UsageError{"--pid needs a positive process id, got '" + *v + "'"};
    t = Target::process("pid-" + *v, static_cast<pid_t>(pid));
  } else if (args.flag("--self")) {
    t = Target::self();
  } else if (args.flag("--host")) {
    t = Target::host();
  } else {
    return false;
  }
  if (target) throw UsageError{"give only one of --cgroup, --pid, --self, --host"};
  target = std::move(t);
  return true;
}

Result<OpenedTarget> openTarget(const HostPaths& paths, const Target& target) {
  OpenedTarget out;
  CgroupLayout layout;
  if (target.kind != TargetKind::kHost) {
    auto l = detectLayout(paths);
    if (!l) return l.error();
    layout = *l;
    out.layout = layoutKindName(layout.kind);
  }
  auto tc = TargetCollector::create(paths, layout, target);
  if (!tc) return tc.error();
  out.collector = std::move(*tc);
  return out;
}

void checkConfigFlags(const std::optional<Target>& target,
                      const std::optional<std::string>& config_path,
                      const std::optional<std::string>& only) {
  if (config_path && target)
    throw UsageError{
        "--config and a target flag given together: --config FILE [--target NAME] picks the "
        "target from the file"};
  if (only && !config_path) throw UsageError{"--target goes with --config"};
}

Result<std::unique_ptr<ConfigTargets>> ConfigTargets::create(
    const HostPaths& paths, const std::string& config_path,
    const std::optional<std::string>& only) {
  ConfigLoad load = loadConfigFile(config_path);
  if (!load.config) {
    std::string lines;
    for (const auto& e : load.errors) lines += e.format() + "\n";
    return makeError(lines + std::to_string(load.errors.size()) + " error(s) in " + config_path);
  }
  Config config = *load.config;
  if (config.targets.empty())
    return makeError(config_path + " has no targets; use --cgroup, --pid, --self or --host");
  if (only) {
    std::vector<TargetSpec> kept;
    std::string names;
    for (const auto& t : config.targets) {
      if (t.target.name == *only) kept.push_back(t);
      names += (names.empty() ? "" : ", ") + t.target.name;
    }
    if (kept.empty())
      return makeError("no target named '" + *only + "' in " + config_path + " (it has: " + names +
                       ")");
    config.targets = std::move(kept);
  }
  config.rules.clear();
  config.rules_are_defaults = false;
  std::unique_ptr<ConfigTargets> ct(new ConfigTargets(paths, std::move(config)));
  if (!ct->dog_->apply(ct->config_)) return makeError("cannot apply " + config_path);
  return ct;
}

ConfigTargets::ConfigTargets(const HostPaths& paths, Config config)
    : config_(std::move(config)), log_(clock_, Logger::Format::kHuman, stderr) {
  log_.setMinLevel(LogLevel::kError);
  dog_ = std::make_unique<Watchdog>(paths, clock_, log_);
}

void ConfigTargets::primeRuntime() {
  Duration longest{};
  for (const auto& t : config_.targets) longest = std::max(longest, t.runtime.timeout);
  dog_->pollRuntime();
  dog_->waitForRuntime(longest + std::chrono::milliseconds(100));
}

SampleContext ConfigTargets::context(const std::string& name) const {
  SampleContext ctx{dog_->collector(name), dog_->layoutName(), {}};
  for (const auto& v : dog_->runtimeEndpoints(name))
    ctx.runtime.push_back({runtimeFormatName(v.format), v.url, v.state});
  if (ctx.target && ctx.target->jvm()) {
    const JvmPerfCollector& jvm = *ctx.target->jvm();
    RuntimeEndpointLine line{"jvm_perfdata", jvm.filePath(), {}};
    line.state.has_values = jvm.lastProblem().empty();
    line.state.last_error = jvm.lastProblem();
    if (auto pid = jvm.jvmPid()) line.pid = *pid;
    ctx.runtime.push_back(std::move(line));
  }
  return ctx;
}

}  // namespace oomsentinel
