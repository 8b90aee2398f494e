// record: one JSON snapshot per tick into a trace; replay: the rules over a trace, offline.
#include <cmath>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "config/config.h"
#include "core/units.h"
#include "daemon/capture_times.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/report.h"
#include "daemon/target_flags.h"
#include "daemon/watched.h"
#include "rules/engine.h"

namespace oomsentinel {

const char* const kRecordUsage =
    "usage: oomsentinel [--cgroup-root DIR] [--proc-root DIR] record\n"
    "           [--cgroup PATH | --pid PID | --self | --host | --config FILE [--target NAME]]\n"
    "           [--name NAME] [--interval 100ms] [--duration D | --count N] --out FILE\n"
    "\n"
    "Writes one JSON object per sample (time + every signal, as `status --json`) to FILE,\n"
    "until --duration or --count is reached, the target disappears, or SIGINT/SIGTERM.\n"
    "With --config, a target of the file (--target NAME when it has several) with its\n"
    "runtime endpoints, so the trace holds heap and GC signals too.\n"
    "Replay it with `oomsentinel replay` to tune rules offline.\n";

const char* const kReplayUsage =
    "usage: oomsentinel replay [--config FILE] [--capture-seconds D] TRACE.jsonl\n"
    "\n"
    "Runs the rules (the config's, or the built-in ones) over a recorded trace at the trace's\n"
    "own time and prints each rule transition as a JSON line: time, rule, target, state, and\n"
    "the values that caused it.\n"
    "capture_seconds is, in order: --capture-seconds (e.g. 1.5s: what if a capture took that\n"
    "long), the trace's own, or the default of the target's dumpers in the config (proc\n"
    "alone without one).\n"
    "\n"
    "Exit status: 0 ok; 2 usage error, invalid config or unreadable trace.\n";

namespace {

volatile std::sig_atomic_t g_stop = 0;
void onStopSignal(int) { g_stop = 1; }

int recordFromConfig(const HostPaths& paths, const std::string& config_path,
                     const std::optional<std::string>& only, const std::optional<std::string>& name,
                     Duration interval, std::optional<Duration> duration, long count,
                     const std::string& out_path) {
  auto made = ConfigTargets::create(paths, config_path, only);
  if (!made) {
    std::cerr << "oomsentinel record: " << made.error().message << "\n";
    return 2;
  }
  ConfigTargets& ct = **made;
  if (ct.targets().size() != 1) {
    std::cerr << "oomsentinel record: " << config_path << " has " << ct.targets().size()
              << " targets; pick one with --target NAME\n";
    return 2;
  }
  const std::string target = ct.targets()[0].target.name;
  if (!ct.watchdog().collector(target)) {
    std::cerr << "oomsentinel record: " << target << ": " << ct.watchdog().lastError(target)
              << "\n";
    return 2;
  }
  std::ofstream out(out_path, std::ios::trunc);
  if (!out) {
    std::cerr << "oomsentinel record: cannot write " << out_path << "\n";
    return 2;
  }
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  ct.primeRuntime();
  SystemClock clock;
  SteadyTime start = clock.steadyNow();
  long n = 0;
  for (; !g_stop && (count < 0 || n < count); ++n) {
    SteadyTime tick = clock.steadyNow();
    if (duration && tick - start > *duration) break;
    ct.watchdog().tick();
    const Snapshot* snap = ct.watchdog().lastSnapshot(target);
    if (!snap || !ct.watchdog().collector(target)) {
      std::cerr << "oomsentinel record: target stopped being readable after " << n
                << " samples: " << ct.watchdog().lastError(target) << "\n";
      break;
    }
    SampleContext ctx = ct.context(target);
    std::string line = snapshotJson(ctx, *snap);
    if (name) {  // --name renames the target in the trace
      auto j = nlohmann::ordered_json::parse(line);
      j["target"] = *name;
      line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    }
    out << line << "\n";
    out.flush();
    std::this_thread::sleep_until(tick + interval);
  }
  std::cerr << "oomsentinel record: " << n << " samples written to " << out_path << "\n";
  return out.good() ? 0 : 1;
}

}  // namespace

int runRecord(const HostPaths& paths, std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::optional<Target> target;
  std::optional<std::string> out_path, name, config_path, only;
  Duration interval = std::chrono::milliseconds(100);
  std::optional<Duration> duration;
  long count = -1;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (takeTargetFlag(args, target)) {
      continue;
    } else if (args.flag("--config", &v)) {
      config_path = *v;
    } else if (args.flag("--target", &v)) {
      only = *v;
    } else if (args.flag("--name", &v)) {
      name = *v;
    } else if (args.flag("--interval", &v)) {
      auto d = parseDuration(*v);
      if (!d || *d < std::chrono::milliseconds(10))
        throw UsageError{"--interval needs a duration of at least 10ms"};
      interval = *d;
    } else if (args.flag("--duration", &v)) {
      auto d = parseDuration(*v);
      if (!d) throw UsageError{"--duration: " + d.error().message};
      duration = *d;
    } else if (args.flag("--count", &v)) {
      count = std::strtol(v->c_str(), nullptr, 10);
      if (count <= 0) throw UsageError{"--count needs a positive number"};
    } else if (args.flag("--out", &v)) {
      out_path = *v;
    } else {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    }
  }
  if (!out_path) throw UsageError{"--out FILE is required"};
  checkConfigFlags(target, config_path, only);
  if (config_path)
    return recordFromConfig(paths, *config_path, only, name, interval, duration, count, *out_path);
  if (!target) target = Target::host();
  if (name) target->name = *name;

  auto opened = openTarget(paths, *target);
  if (!opened) {
    std::cerr << "oomsentinel record: " << opened.error().describe() << "\n";
    return 2;
  }
  auto* tc = &opened->collector;
  std::ofstream out(*out_path, std::ios::trunc);
  if (!out) {
    std::cerr << "oomsentinel record: cannot write " << *out_path << "\n";
    return 2;
  }
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  SampleContext ctx{tc->get(), opened->layout, {}};
  SystemClock clock;
  Snapshot snap;
  SteadyTime start = clock.steadyNow();
  long n = 0;
  for (; !g_stop && (count < 0 || n < count); ++n) {
    SteadyTime tick = clock.steadyNow();
    if (duration && tick - start > *duration) break;
    if (auto st = (*tc)->collect(clock, snap); !st) {
      std::cerr << "oomsentinel record: target stopped being readable after " << n
                << " samples: " << st.error().describe() << "\n";
      break;
    }
    out << snapshotJson(ctx, snap) << "\n";
    out.flush();
    std::this_thread::sleep_until(tick + interval);
  }
  std::cerr << "oomsentinel record: " << n << " samples written to " << *out_path << "\n";
  return out.good() ? 0 : 1;
}

namespace {

// One line of a trace: its time, target and signals (time_to_oom left out: it is the engine's own
// prediction, and a recorded one must not shadow it). An error says what is wrong with the line.
struct TraceLine {
  double unix_time = 0;
  std::string target;
};
std::optional<std::string> parseTraceLine(const std::string& line, TraceLine& out, Snapshot& snap) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return "not a JSON object";
  if (!j.contains("unix_time") || !j["unix_time"].is_number()) return "missing number 'unix_time'";
  if (!j.contains("target") || !j["target"].is_string()) return "missing string 'target'";
  if (!j.contains("signals") || !j["signals"].is_object()) return "missing object 'signals'";
  out.unix_time = j["unix_time"].get<double>();
  out.target = j["target"].get<std::string>();
  snap.clear();
  for (auto& [k, v] : j["signals"].items()) {
    double d;
    if (v.is_number())
      d = v.get<double>();
    else if (v == "+Inf")
      d = INFINITY;
    else if (v == "-Inf")
      d = -INFINITY;
    else if (v == "NaN")
      d = NAN;
    else
      return "signal '" + k + "' is not a number";
    snap.set(internSignal(k), d);
  }
  snap.erase(id(Sig::kTimeToOomSeconds));
  return std::nullopt;
}

void printFiring(const Firing& f, double unix_time) {
  nlohmann::ordered_json o;
  o["time"] = formatWallTime(f.wall);
  o["unix_time"] = unix_time;
  o["rule"] = f.rule;
  o["target"] = f.target;
  o["severity"] = severityName(f.severity);
  o["from"] = ruleStateName(f.from);
  o["state"] = ruleStateName(f.to);
  auto& values = o["values"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f.values) {
    if (std::isfinite(v))
      values[k] = std::round(v * 1e6) / 1e6;
    else
      values[k] = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  }
  std::cout << o.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

// The rules a replay evaluates: the built-in ones, or the config's; nullopt (the errors printed)
// when the config does not load.
std::optional<Config> replayConfig(const std::optional<std::string>& config_path) {
  Config config;
  config.rules = defaultRules();
  if (!config_path) return config;
  ConfigLoad load = loadConfigFile(*config_path);
  if (!load.config) {
    for (const auto& e : load.errors) std::cerr << e.format() << "\n";
    return std::nullopt;
  }
  return *load.config;
}

}  // namespace

int runReplay(std::vector<std::string> argv) {
  Args args(std::move(argv));
  std::optional<std::string> config_path, trace_path;
  std::optional<double> capture_seconds;
  while (!args.empty()) {
    std::optional<std::string> v;
    if (args.flag("--config", &v)) {
      config_path = *v;
    } else if (args.flag("--capture-seconds", &v)) {
      auto d = parseDuration(*v);
      if (!d) throw UsageError{"--capture-seconds: " + d.error().message};
      capture_seconds = toSeconds(*d);
    } else if (!args.peek().empty() && args.peek()[0] == '-') {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    } else if (trace_path) {
      throw UsageError{"give one trace file"};
    } else {
      trace_path = args.next();
    }
  }
  if (!trace_path) throw UsageError{"no trace file given"};
  std::optional<Config> config = replayConfig(config_path);
  if (!config) return 2;
  std::ifstream in(*trace_path);
  if (!in) {
    std::cerr << "oomsentinel replay: cannot read " << *trace_path << "\n";
    return 2;
  }
  RuleEngine engine(std::chrono::milliseconds(10));
  if (auto errs = engine.setRules(config->rules); !errs.empty()) {
    for (const auto& e : errs) std::cerr << e.format() << "\n";
    return 2;
  }
  FakeClock clock(WallTime{});
  Snapshot snap;
  std::vector<Firing> firings;
  std::vector<RuleNotice> notices;
  std::map<std::string, double> default_capture;  // per target: its dumpers' defaults
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    TraceLine tl;
    if (auto why = parseTraceLine(line, tl, snap)) {
      std::cerr << *trace_path << ":" << lineno << ": " << *why << "\n";
      return 2;
    }
    // The trace's own time drives both clocks: rules see the intervals that were recorded.
    clock.set(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(tl.unix_time)));
    auto handle = engine.findTarget(tl.target);
    if (!handle) {
      Duration predict = std::chrono::seconds(10);
      std::vector<DumperKind> dumpers = {DumperKind::kProc};
      for (const auto& ts : config->targets)
        if (ts.target.name == tl.target) {
          predict = ts.predict_window;
          dumpers = dumpPlanFor(ts).dumpers;
        }
      handle = engine.addTarget(tl.target, predict);
      default_capture[tl.target] = CaptureTimes{}.seconds(dumpers);
    }
    if (capture_seconds)
      snap.set(Sig::kCaptureSeconds, *capture_seconds);
    else if (!snap.get(Sig::kCaptureSeconds))
      snap.set(Sig::kCaptureSeconds, default_capture[tl.target]);
    snap.steady = clock.steadyNow();
    snap.wall = clock.wallNow();
    firings.clear();
    notices.clear();
    engine.evaluate(handle, snap, firings, notices);
    for (const auto& f : firings) printFiring(f, tl.unix_time);
  }
  return 0;
}

}  // namespace oomsentinel
