#include "bench/soak_report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/host_paths.h"

namespace oomsentinel::bench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Issue 19's goals.
constexpr double kRssGrowthGoalKib = 1024;
constexpr double kLateP99GoalMs = 5;
// fds "flat": medians of many samples move by a descriptor or two with what happened to be alive
// (a leaker's /proc files, a POST to Alertmanager); a leak per churned cgroup, per dump, per
// reload or per Alertmanager restart grows past this within the hour.
constexpr double kFdTolerance = 4;

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string ms(double v) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return ">1000";
  return fmt("%.1f", v);
}

// Every sample line of `body` named `name` whose labels contain `label` (may be empty), summed.
struct MetricLine {
  std::string_view name, labels;
  double value = 0;
};

bool parseLine(std::string_view line, MetricLine& out) {
  if (line.empty() || line[0] == '#') return false;
  std::size_t name_end = line.find_first_of("{ ");
  if (name_end == std::string_view::npos) return false;
  out.name = line.substr(0, name_end);
  out.labels = {};
  std::size_t rest = name_end;
  if (line[name_end] == '{') {
    std::size_t close = line.find('}', name_end);
    if (close == std::string_view::npos) return false;
    out.labels = line.substr(name_end + 1, close - name_end - 1);
    rest = close + 1;
  }
  std::string value(line.substr(rest));
  char* end = nullptr;
  out.value = std::strtod(value.c_str(), &end);
  return end != value.c_str();
}

void forEachLine(std::string_view body, const std::function<void(const MetricLine&)>& f) {
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    MetricLine m;
    if (parseLine(body.substr(start, end - start), m)) f(m);
    start = end + 1;
  }
}

double sumOf(std::string_view body, std::string_view name, std::string_view label = {}) {
  double sum = 0;
  forEachLine(body, [&](const MetricLine& m) {
    if (m.name == name && (label.empty() || m.labels.find(label) != std::string_view::npos))
      sum += m.value;
  });
  return sum;
}

// The samples at or after the warm-up that scraped.
std::vector<const SoakSample*> window(const std::vector<SoakSample>& samples, double from) {
  std::vector<const SoakSample*> w;
  for (const auto& s : samples)
    if (s.t >= from && s.scraped) w.push_back(&s);
  return w;
}

double medianOf(const std::vector<const SoakSample*>& w, std::size_t begin, std::size_t n,
                double SoakSample::*field) {
  std::vector<double> v;
  for (std::size_t i = begin; i < w.size() && v.size() < n; ++i) v.push_back(w[i]->*field);
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

bool readMetrics(std::string_view body, SoakSample& s) {
  s.late_le.clear();
  s.late_counts.clear();
  forEachLine(body, [&](const MetricLine& m) {
    if (m.name != "oomsentinel_tick_lateness_seconds_bucket") return;
    std::size_t le = m.labels.find("le=\"");
    if (le == std::string_view::npos) return;
    std::string bound(m.labels.substr(le + 4));
    s.late_le.push_back(std::strtod(bound.c_str(), nullptr));  // "+Inf" reads as infinity
    s.late_counts.push_back(m.value);
  });
  s.m_rss_kib = sumOf(body, "oomsentinel_process_resident_memory_bytes") / 1024;
  s.m_fds = sumOf(body, "oomsentinel_process_open_fds");
  s.malloc_in_use_kib = sumOf(body, "oomsentinel_process_malloc_bytes", "kind=\"in_use\"") / 1024;
  s.malloc_free_kib = sumOf(body, "oomsentinel_process_malloc_bytes", "kind=\"free\"") / 1024;
  s.malloc_mmapped_kib = sumOf(body, "oomsentinel_process_malloc_bytes", "kind=\"mmapped\"") / 1024;
  s.m_cpu_s = sumOf(body, "oomsentinel_process_cpu_seconds_total");
  s.targets = sumOf(body, "oomsentinel_targets");
  s.firings = sumOf(body, "oomsentinel_rule_transitions_total", "state=\"firing\"");
  s.incidents_published = sumOf(body, "oomsentinel_incidents_total", "result=\"published\"");
  s.incidents_skipped = sumOf(body, "oomsentinel_incidents_total", "result=\"skipped\"");
  s.incidents_failed = sumOf(body, "oomsentinel_incidents_total", "result=\"failed\"");
  s.dumps_ok = sumOf(body, "oomsentinel_dumps_total", "result=\"ok\"");
  s.dumps_failed = sumOf(body, "oomsentinel_dumps_total") - s.dumps_ok;
  s.am_sent = sumOf(body, "oomsentinel_alertmanager_notifications_sent_total");
  s.am_errors = sumOf(body, "oomsentinel_alertmanager_notifications_errors_total");
  s.reloads_ok = sumOf(body, "oomsentinel_config_reloads_total", "result=\"ok\"");
  s.reloads_failed = sumOf(body, "oomsentinel_config_reloads_total") - s.reloads_ok;
  return !s.late_le.empty();
}

double lateP99Ms(const SoakSample& from, const SoakSample& to, double* ticks) {
  if (ticks) *ticks = 0;
  if (to.late_le.empty() || from.late_counts.size() != to.late_counts.size()) return kNaN;
  double total = to.late_counts.back() - from.late_counts.back();
  if (ticks) *ticks = total;
  if (total <= 0) return kNaN;
  double rank = std::ceil(0.99 * total);
  for (std::size_t i = 0; i < to.late_le.size(); ++i)
    if (to.late_counts[i] - from.late_counts[i] >= rank) return to.late_le[i] * 1000;
  return kInf;
}

double lateMaxMs(const SoakSample& from, const SoakSample& to) {
  if (to.late_le.empty() || from.late_counts.size() != to.late_counts.size()) return kNaN;
  double total = to.late_counts.back() - from.late_counts.back();
  if (total <= 0) return kNaN;
  for (std::size_t i = 0; i < to.late_le.size(); ++i)
    if (to.late_counts[i] - from.late_counts[i] >= total) return to.late_le[i] * 1000;
  return kInf;
}

// The most bundles begun (published or failed) in any 6 sample intervals (60 s at 10 s).
double maxBundlesPerMinute(const std::vector<SoakSample>& s, int sample_s) {
  std::size_t span = static_cast<std::size_t>(std::max(1, 60 / sample_s));
  double most = 0;
  for (std::size_t i = 0; i + span < s.size(); ++i)
    most = std::max(most, s[i + span].incidents_published + s[i + span].incidents_failed -
                              s[i].incidents_published - s[i].incidents_failed);
  return most;
}

std::string describeMachine(const std::vector<SoakSample>& samples, const std::string& load_start,
                            const std::string& load_end) {
  utsname u{};
  ::uname(&u);
  std::string model;
  std::ifstream cpu(HostPaths().procFile("cpuinfo"));
  for (std::string line; std::getline(cpu, line) && model.empty();)
    if (line.rfind("model name", 0) == 0) model = line.substr(line.find(':') + 2);
  double load_sum = 0, load_max = 0;
  for (const auto& s : samples) load_sum += s.load1, load_max = std::max(load_max, s.load1);
  char b[512];
  std::snprintf(b, sizeof b,
                "- machine: nproc %ld, kernel %s, %s; cgroup v1 memory controller\n"
                "- load average at start: %s; during the run (1 min, at the samples): mean "
                "%.2f, max %.2f; at end: %s\n",
                ::sysconf(_SC_NPROCESSORS_ONLN), u.release, model.c_str(), load_start.c_str(),
                samples.empty() ? 0 : load_sum / static_cast<double>(samples.size()), load_max,
                load_end.c_str());
  return b;
}

SoakVerdict judge(const std::vector<SoakSample>& samples, const SoakRun& run) {
  SoakVerdict v;
  auto w = window(samples, run.warmup_s);
  if (w.size() < 2) {
    v.ok = false;
    v.text = "MISSED: fewer than 2 samples after the warm-up; nothing to judge\n";
    return v;
  }
  // RSS: the median of the last minute's samples against the first minute's after the warm-up
  // (a dump in progress at one sample moves a mean, not a median).
  std::size_t minute = std::max<std::size_t>(1, 60 / static_cast<std::size_t>(run.sample_s));
  double first = medianOf(w, 0, minute, &SoakSample::rss_kib);
  double last = medianOf(w, w.size() - std::min(minute, w.size()), minute, &SoakSample::rss_kib);
  double growth = last - first, peak = 0;
  for (auto* s : w) peak = std::max(peak, s->rss_kib - first);
  bool rss_ok = growth < kRssGrowthGoalKib;
  // What the growth is made of, over the same minutes: malloc's in-use memory is what the daemon
  // keeps; its free memory is the allocator's retention; the rest is outside malloc.
  auto delta = [&](double SoakSample::*field) {
    return medianOf(w, w.size() - std::min(minute, w.size()), minute, field) -
           medianOf(w, 0, minute, field);
  };
  double in_use = delta(&SoakSample::malloc_in_use_kib), kept = delta(&SoakSample::malloc_free_kib),
         mapped = delta(&SoakSample::malloc_mmapped_kib);
  v.text += std::string(rss_ok ? "met" : "MISSED") + ": RSS growth after the warm-up " +
            fmt("%+.0f KiB", growth) + " (goal under " + fmt("%.0f KiB", kRssGrowthGoalKib) +
            (rss_ok ? "" : fmt(", over by %.0f KiB", growth - kRssGrowthGoalKib)) +
            "; medians of the first and last minute " + fmt("%.2f", first / 1024) + " and " +
            fmt("%.2f MiB", last / 1024) + ", the highest sample " + fmt("%+.0f KiB", peak) + ")\n";
  v.text += "info: malloc over the same minutes (medians): in use " + fmt("%+.0f KiB", in_use) +
            ", freed but kept " + fmt("%+.0f KiB", kept) + ", mapped on their own " +
            fmt("%+.0f KiB", mapped) +
            "; outside malloc (stacks, libraries, page tables' "
            "neighbours) " +
            fmt("%+.0f KiB", growth - in_use - kept - mapped) + "\n";
  // fds: at the most common state (targets, leakers alive, Alertmanager up: each holds
  // descriptors while it exists), the median of the last third of those samples against the
  // first third's (an exchange in flight holds a socket: noise, not a trend).
  auto key = [](const SoakSample* s) {
    return s->targets * 1000 + s->leakers_alive * 2 + s->am_up;
  };
  std::vector<double> counts;
  for (auto* s : w) counts.push_back(key(s));
  double mode = counts[0];
  std::size_t best = 0;
  for (double c : counts)
    if (auto n = static_cast<std::size_t>(std::count(counts.begin(), counts.end(), c)); n > best)
      best = n, mode = c;
  std::vector<const SoakSample*> same;
  for (auto* s : w)
    if (key(s) == mode) same.push_back(s);
  std::size_t third = std::max<std::size_t>(1, same.size() / 3);
  double f0 = medianOf(same, 0, third, &SoakSample::fds);
  double f1 = medianOf(same, same.size() - third, third, &SoakSample::fds);
  double fmin = kInf, fmax = 0;
  for (auto* s : w) fmin = std::min(fmin, s->fds), fmax = std::max(fmax, s->fds);
  bool fds_ok = f1 - f0 <= kFdTolerance;
  v.text += std::string(fds_ok ? "met" : "MISSED") + ": fds flat: " + fmt("%+.1f", f1 - f0) +
            " at " + fmt("%.0f targets", same[0]->targets) + ", " +
            std::to_string(same[0]->leakers_alive) + " leakers alive, Alertmanager " +
            (same[0]->am_up ? "up" : "down") + ", " + std::to_string(same.size()) +
            " samples (medians of the first and last third " + fmt("%.1f", f0) + " and " +
            fmt("%.1f", f1) + "; goal at most +" + fmt("%.0f", kFdTolerance) +
            (fds_ok ? "" : fmt(", over by %.1f", f1 - f0 - kFdTolerance)) + "; all samples " +
            fmt("%.0f", fmin) + ".." + fmt("%.0f", fmax) + ")\n";
  // Tick lateness: every tick from the first sample to the last.
  double ticks = 0, worst = 0;
  double p99 = lateP99Ms(samples.front(), samples.back(), &ticks);
  for (std::size_t i = 1; i < samples.size(); ++i) {
    double p = lateP99Ms(samples[i - 1], samples[i]);
    if (!std::isnan(p)) worst = std::max(worst, p);
  }
  bool late_ok = !std::isnan(p99) && p99 <= kLateP99GoalMs;
  v.text += std::string(late_ok ? "met" : "MISSED") + ": tick lateness p99 " + ms(p99) +
            " ms over " + fmt("%.0f ticks", ticks) + " (goal under " +
            fmt("%.0f ms", kLateP99GoalMs) +
            (late_ok || std::isinf(p99) || std::isnan(p99)
                 ? ""
                 : fmt(", over by %.1f ms", p99 - kLateP99GoalMs)) +
            "; the worst " + std::to_string(run.sample_s) + " s window's p99 " + ms(worst) +
            " ms; a p99 is its bucket's upper bound)\n";
  double drss = 0, dfds = 0;
  for (const auto& s : samples)
    if (s.scraped)
      drss = std::max(drss, std::abs(s.rss_kib - s.m_rss_kib)),
      dfds = std::max(dfds, std::abs(s.fds - s.m_fds));
  v.text += "info: /proc against the daemon's own oomsentinel_process_* metrics: RSS differs by " +
            fmt("%.0f KiB", drss) + " at most, fds by " + fmt("%.0f", dfds) +
            " (read a moment apart; the scrape's own socket)\n";
  v.ok = rss_ok && fds_ok && late_ok;
  return v;
}

std::string soakMarkdown(const std::vector<SoakSample>& samples, const SoakRun& run,
                         const SoakVerdict& verdict) {
  std::ostringstream o;
  o << "# bench_soak: the daemon for a while against churning cgroups\n\n"
    << "## The run\n\n"
    << run.params << run.machine << "\n## What happened\n\n"
    << run.events << "\n## Verdict\n\n"
    << (verdict.ok ? "**Every goal met.**\n\n" : "**A goal was missed.**\n\n") << "```\n"
    << verdict.text << "```\n\n"
    << "## Every minute\n\n"
    << "p99 and worst are the tick lateness over the minute before the row (from the "
       "histogram's bucket deltas: a bucket's upper bound); CPU is the daemon's share of one "
       "CPU over that minute; /metrics' own RSS and fds beside the /proc figures.\n\n"
    << "| min | RSS MiB | /metrics RSS MiB | malloc in use / free MiB | fds | /metrics fds | CPU s "
       "| CPU % | targets | "
       "ticks | p99 ms | worst ms | firings | incidents published / skipped | dumps ok | "
       "Alertmanager | load1 |\n"
    << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n";
  const SoakSample* prev = nullptr;
  for (int minute = 0;; ++minute) {
    auto it = std::find_if(samples.begin(), samples.end(),
                           [&](const SoakSample& s) { return s.t >= minute * 60.0 - 1; });
    if (it == samples.end()) break;
    const SoakSample& s = *it;
    double ticks = 0, p99 = kNaN, worst = kNaN, cpu = kNaN;
    if (prev) {
      p99 = lateP99Ms(*prev, s, &ticks);
      worst = lateMaxMs(*prev, s);
      if (s.t > prev->t) cpu = 100 * (s.cpu_s - prev->cpu_s) / (s.t - prev->t);
    }
    o << "| " << minute << " | " << fmt("%.2f", s.rss_kib / 1024) << " | "
      << fmt("%.2f", s.m_rss_kib / 1024) << " | " << fmt("%.2f", s.malloc_in_use_kib / 1024)
      << " / " << fmt("%.2f", s.malloc_free_kib / 1024) << " | " << fmt("%.0f", s.fds) << " | "
      << fmt("%.0f", s.m_fds) << " | " << fmt("%.2f", s.cpu_s) << " | "
      << (std::isnan(cpu) ? "-" : fmt("%.1f", cpu)) << " | " << fmt("%.0f", s.targets) << " | "
      << fmt("%.0f", ticks) << " | " << ms(p99) << " | " << ms(worst) << " | "
      << fmt("%.0f", s.firings) << " | " << fmt("%.0f", s.incidents_published) << " / "
      << fmt("%.0f", s.incidents_skipped) << " | " << fmt("%.0f", s.dumps_ok) << " | "
      << (s.am_up ? "up" : "down") << " | " << fmt("%.2f", s.load1) << " |\n";
    prev = &s;
  }
  if (!run.warnings.empty())
    o << "\n## The daemon's warnings and errors\n\n```\n" << run.warnings << "```\n";
  return o.str();
}

namespace {

// One panel of the plot: a series against minutes, scaled to its own range.
void panel(std::ostringstream& o, const std::vector<SoakSample>& samples, int top,
           const std::string& title, const std::function<double(std::size_t)>& y, double goal,
           double warmup_min) {
  constexpr int kLeft = 70, kWidth = 700, kHeight = 150;
  double tmax = std::max(1.0, samples.back().t / 60), lo = kInf, hi = -kInf;
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (double v = y(i); std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isnan(goal)) hi = std::max(hi, goal * 1.2), lo = std::min(lo, 0.0);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) hi = lo + 1;
  auto px = [&](double m) { return kLeft + kWidth * m / tmax; };
  auto py = [&](double v) { return top + kHeight - kHeight * (std::min(v, hi) - lo) / (hi - lo); };
  o << "<rect x=\"" << kLeft << "\" y=\"" << top << "\" width=\"" << kWidth << "\" height=\""
    << kHeight << "\" fill=\"none\" stroke=\"#888\"/>\n"
    << "<text x=\"" << kLeft << "\" y=\"" << top - 6 << "\">" << title << "</text>\n"
    << "<text x=\"" << kLeft - 6 << "\" y=\"" << top + 10 << "\" text-anchor=\"end\">"
    << fmt("%.4g", hi) << "</text>\n<text x=\"" << kLeft - 6 << "\" y=\"" << top + kHeight
    << "\" text-anchor=\"end\">" << fmt("%.4g", lo) << "</text>\n"
    << "<text x=\"" << kLeft + kWidth << "\" y=\"" << top + kHeight + 14
    << "\" text-anchor=\"end\">" << fmt("%.0f min", tmax) << "</text>\n";
  o << "<line x1=\"" << px(warmup_min) << "\" x2=\"" << px(warmup_min) << "\" y1=\"" << top
    << "\" y2=\"" << top + kHeight << "\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n";
  if (!std::isnan(goal))
    o << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + kWidth << "\" y1=\"" << py(goal)
      << "\" y2=\"" << py(goal) << "\" stroke=\"#c33\" stroke-dasharray=\"6 3\"/>\n";
  o << "<polyline fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"1.5\" points=\"";
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (double v = y(i); !std::isnan(v))
      o << fmt("%.1f", px(samples[i].t / 60)) << "," << fmt("%.1f", py(v)) << " ";
  o << "\"/>\n";
}

}  // namespace

std::string soakSvg(const std::vector<SoakSample>& samples, const SoakRun& run) {
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"620\" "
       "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
       "fill=\"white\"/>\n";
  if (samples.empty()) return o.str() + "</svg>\n";
  double wm = run.warmup_s / 60;
  panel(
      o, samples, 30, "RSS, MiB (/proc VmRSS; dashed grey: end of the warm-up)",
      [&](std::size_t i) { return samples[i].rss_kib / 1024; }, kNaN, wm);
  panel(
      o, samples, 230, "open fds (/proc/PID/fd)", [&](std::size_t i) { return samples[i].fds; },
      kNaN, wm);
  panel(
      o, samples, 430,
      "tick lateness p99 per " + std::to_string(run.sample_s) + " s, ms (red: the 5 ms goal)",
      [&](std::size_t i) { return i ? lateP99Ms(samples[i - 1], samples[i]) : kNaN; },
      kLateP99GoalMs, wm);
  o << "</svg>\n";
  return o.str();
}

std::string soakCsv(const std::vector<SoakSample>& samples) {
  std::ostringstream o;
  o << "t_s,rss_kib,fds,cpu_s,metrics_rss_kib,metrics_fds,metrics_cpu_s,targets,cgroups,"
       "ticks,late_p99_ms,late_worst_ms,late_count,firings,incidents_published,"
       "incidents_skipped,incidents_failed,dumps_ok,dumps_not_ok,am_sent,am_errors,reloads_ok,"
       "reloads_failed,alertmanager_up,leakers_alive,scraped,load1,malloc_in_use_kib,"
       "malloc_free_kib,malloc_mmapped_kib\n";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const SoakSample& s = samples[i];
    double ticks = 0, p99 = kNaN, worst = kNaN;
    if (i) p99 = lateP99Ms(samples[i - 1], s, &ticks), worst = lateMaxMs(samples[i - 1], s);
    auto num = [](double v) { return std::isnan(v) ? std::string() : fmt("%.6g", v); };
    o << fmt("%.1f", s.t) << "," << num(s.rss_kib) << "," << num(s.fds) << "," << num(s.cpu_s)
      << "," << num(s.m_rss_kib) << "," << num(s.m_fds) << "," << num(s.m_cpu_s) << ","
      << num(s.targets) << "," << s.cgroups << "," << num(ticks) << "," << num(p99) << ","
      << num(worst) << "," << num(s.late_counts.empty() ? kNaN : s.late_counts.back()) << ","
      << num(s.firings) << "," << num(s.incidents_published) << "," << num(s.incidents_skipped)
      << "," << num(s.incidents_failed) << "," << num(s.dumps_ok) << "," << num(s.dumps_failed)
      << "," << num(s.am_sent) << "," << num(s.am_errors) << "," << num(s.reloads_ok) << ","
      << num(s.reloads_failed) << "," << s.am_up << "," << s.leakers_alive << "," << s.scraped
      << "," << num(s.load1) << "," << num(s.malloc_in_use_kib) << "," << num(s.malloc_free_kib)
      << "," << num(s.malloc_mmapped_kib) << "\n";
  }
  return o.str();
}

}  // namespace oomsentinel::bench
