#include "bench/race/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace oomsentinel::race {
namespace {

double rank(std::vector<double> v, double p) {
  if (v.empty()) return kNone;
  std::sort(v.begin(), v.end());
  auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(r, 1) - 1];
}

std::string fmt(double v, int digits = 0) {
  if (std::isnan(v)) return "-";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(digits);
  o << v;
  return o.str();
}

const std::vector<std::string> kRuntimeOrder = {"cpp", "go", "java"};
const std::vector<std::string> kConfigOrder = {
    "defaults", "defaults-watched", "adaptive",  "adaptive-throttle", "adaptive-poll",
    "fixed-1s", "fixed-5s",         "fixed-10s", "go-inprocess"};

int orderOf(const std::vector<std::string>& order, const std::string& x) {
  auto it = std::find(order.begin(), order.end(), x);
  return it == order.end() ? 99 : static_cast<int>(it - order.begin());
}

std::string runtimeTitle(const std::string& r) {
  return r == "cpp"  ? "C++ (tcmalloc, gperftools heap profile)"
         : r == "go" ? "Go (net/http/pprof heap profile)"
                     : "Java (JVM class histogram)";
}

std::string configTitle(const std::string& c) {
  if (c == "defaults")
    return "oomsentinel as shipped: the built-in rules (oom-imminent with its capture clause), "
           "the adaptive poll and the kernel's wake-ups; the leak from the target's first second";
  if (c == "defaults-watched")
    return "the same, the target watched for 3 s before it leaks (time_to_oom known)";
  if (c == "adaptive")
    return "oomsentinel, adaptive poll (1 s; 50 ms above 70%) with the kernel's wake-ups";
  if (c == "adaptive-throttle")
    return "oomsentinel, the same with throttle_during_dump (cgroup v2)";
  if (c == "adaptive-poll") return "oomsentinel, the same poll without wake-ups";
  if (c == "go-inprocess") return "in-process Go check (MemStats every 3 s, > 85%)";
  return "oomsentinel, fixed " + c.substr(c.rfind('-') + 1) + " poll";
}

}  // namespace

std::vector<CellFigures> summarize(const std::vector<TrialResult>& trials) {
  std::map<std::tuple<int, int, double>, std::vector<const TrialResult*>> by;
  for (const auto& t : trials)
    by[{orderOf(kRuntimeOrder, t.spec.runtime), orderOf(kConfigOrder, t.spec.config),
        t.spec.rate_mib}]
        .push_back(&t);
  std::vector<CellFigures> out;
  for (const auto& [key, list] : by) {
    CellFigures c;
    c.runtime = list[0]->spec.runtime;
    c.config = list[0]->spec.config;
    c.rate_mib = list[0]->spec.rate_mib;
    std::vector<double> lead, detect, alert_lead, achieved;
    for (const TrialResult* t : list) {
      ++c.trials;
      if (t->achieved_mib_s > 0) achieved.push_back(t->achieved_mib_s);
      if (t->captured) {
        ++c.captured;
        lead.push_back((t->killed - t->published) * 1000);
      } else if (!t->note.empty()) {
        c.notes.push_back(t->note);
      }
      if (t->fired > 0 && t->crossed > 0) detect.push_back((t->fired - t->crossed) * 1000);
      if (t->fired > 0 && t->killed > 0 && t->fired < t->killed) ++c.fired_before_kill;
      if (t->alerted > 0 && t->killed > 0 && t->alerted < t->killed) {
        ++c.alerted_before_kill;
        alert_lead.push_back((t->killed - t->alerted) * 1000);
      }
    }
    c.achieved_p50 = rank(achieved, 0.5);
    c.lead_p50 = rank(lead, 0.5);
    c.lead_p99 = rank(lead, 0.99);
    c.detect_p50 = rank(detect, 0.5);
    c.detect_p99 = rank(detect, 0.99);
    c.alert_lead_p50 = rank(alert_lead, 0.5);
    out.push_back(std::move(c));
  }
  return out;
}

std::string markdownReport(const std::vector<CellFigures>& cells, const std::string& preamble) {
  std::ostringstream o;
  o << preamble << "\n";
  std::string runtime;
  for (const auto& c : cells) {
    if (c.runtime != runtime) {
      runtime = c.runtime;
      o << "\n### " << runtimeTitle(runtime) << "\n\n"
        << "| configuration | leak MiB/s (seen) | captured | lead p50 / p99 ms | detection p50 / "
           "p99 ms "
           "| alert before kill | alert lead p50 ms | why the others lost |\n"
        << "|---|---:|---:|---:|---:|---:|---:|---|\n";
    }
    std::set<std::string> why(c.notes.begin(), c.notes.end());
    std::string whys;
    for (const auto& n : c.notes) {
      if (!why.count(n)) continue;
      why.erase(n);
      whys += (whys.empty() ? "" : "; ") + n;
    }
    bool alerting = c.config != "go-inprocess";
    o << "| " << configTitle(c.config) << " | " << fmt(c.rate_mib) << " (" << fmt(c.achieved_p50)
      << ") | " << c.captured << "/" << c.trials << " ("
      << fmt(100.0 * c.captured / std::max(1, c.trials)) << "%) | " << fmt(c.lead_p50) << " / "
      << fmt(c.lead_p99) << " | " << fmt(c.detect_p50) << " / " << fmt(c.detect_p99) << " | "
      << (alerting ? std::to_string(c.alerted_before_kill) + "/" + std::to_string(c.trials) : "n/a")
      << " | " << (alerting ? fmt(c.alert_lead_p50) : "n/a") << " | " << whys << " |\n";
  }
  return o.str();
}

std::string svgPlot(const std::vector<CellFigures>& cells, const std::string& cgroup,
                    long long limit_mib) {
  // One panel per runtime: x = leak rate (log scale), y = capture rate, a line per config.
  std::vector<std::string> runtimes, configs;
  std::set<double> rates;
  for (const auto& c : cells) {
    if (std::find(runtimes.begin(), runtimes.end(), c.runtime) == runtimes.end())
      runtimes.push_back(c.runtime);
    if (std::find(configs.begin(), configs.end(), c.config) == configs.end())
      configs.push_back(c.config);
    rates.insert(c.rate_mib);
  }
  std::sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) {
    return orderOf(kConfigOrder, a) < orderOf(kConfigOrder, b);
  });
  const char* colors[] = {"#1b9e77", "#66a61e", "#d95f02", "#7570b3", "#e7298a", "#666666"};
  const int panel_w = 300, panel_h = 220, left = 50, top = 40, gap = 70;
  int width = left + static_cast<int>(runtimes.size()) * (panel_w + gap) + 10;
  int height = top + panel_h + 60 + static_cast<int>(configs.size()) * 18;
  double lo = std::log10(rates.empty() ? 10 : *rates.begin());
  double hi = std::log10(rates.empty() ? 1000 : *rates.rbegin());
  if (hi <= lo) hi = lo + 1;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << left
    << "\" y=\"16\" font-size=\"13\">Evidence captured before the OOM "
       "kill (% of trials) against leak rate, "
    << limit_mib << " MiB cgroup " << cgroup << " limit</text>\n";
  for (std::size_t p = 0; p < runtimes.size(); ++p) {
    int x0 = left + static_cast<int>(p) * (panel_w + gap), y0 = top;
    auto X = [&](double rate) { return x0 + (std::log10(rate) - lo) / (hi - lo) * panel_w; };
    auto Y = [&](double pct) { return y0 + panel_h - pct / 100.0 * panel_h; };
    o << "<text x=\"" << x0 << "\" y=\"" << y0 - 6 << "\" font-weight=\"bold\">" << runtimes[p]
      << "</text>\n";
    o << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << panel_w << "\" height=\""
      << panel_h << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (int pct = 0; pct <= 100; pct += 25)
      o << "<line x1=\"" << x0 << "\" x2=\"" << x0 + panel_w << "\" y1=\"" << Y(pct) << "\" y2=\""
        << Y(pct) << "\" stroke=\"#eee\"/><text x=\"" << x0 - 4 << "\" y=\"" << Y(pct) + 4
        << "\" text-anchor=\"end\">" << pct << "%</text>\n";
    for (double r : rates)
      o << "<text x=\"" << X(r) << "\" y=\"" << y0 + panel_h + 14 << "\" text-anchor=\"middle\">"
        << fmt(r) << "</text>\n";
    o << "<text x=\"" << x0 + panel_w / 2 << "\" y=\"" << y0 + panel_h + 28
      << "\" text-anchor=\"middle\">leak rate, MiB/s (log)</text>\n";
    for (std::size_t k = 0; k < configs.size(); ++k) {
      std::ostringstream pts;
      std::string dots;
      for (const auto& c : cells) {
        if (c.runtime != runtimes[p] || c.config != configs[k]) continue;
        double pct = 100.0 * c.captured / std::max(1, c.trials);
        // Lines that coincide (two configurations with the same capture) stay visible: each
        // configuration is drawn a pixel or two off the next.
        double y = Y(pct) + (static_cast<double>(k) - (configs.size() - 1) / 2.0) * 2.0;
        pts << X(c.rate_mib) << "," << y << " ";
        std::ostringstream d;
        d << "<circle cx=\"" << X(c.rate_mib) << "\" cy=\"" << y << "\" r=\"3\" fill=\""
          << colors[k % 6] << "\"/>\n";
        dots += d.str();
      }
      if (pts.str().empty()) continue;
      o << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << colors[k % 6] << "\" points=\""
        << pts.str() << "\"/>\n"
        << dots;
    }
  }
  for (std::size_t k = 0; k < configs.size(); ++k) {
    int y = top + panel_h + 48 + static_cast<int>(k) * 18;
    o << "<line x1=\"" << left << "\" x2=\"" << left + 24 << "\" y1=\"" << y - 4 << "\" y2=\""
      << y - 4 << "\" stroke-width=\"2\" stroke=\"" << colors[k % 6] << "\"/><text x=\""
      << left + 30 << "\" y=\"" << y << "\">" << configTitle(configs[k]) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string csvTrials(const std::vector<TrialResult>& trials) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(3);
  o << "runtime,config,rate_mib,trial,started,crossed,fired,published,alerted,killed,oom_killed,"
       "dumper_result,captured,peak_ratio,achieved_mib_s,note\n";
  for (const auto& t : trials) {
    std::string note = t.note;
    std::replace(note.begin(), note.end(), ',', ';');
    std::replace(note.begin(), note.end(), '\n', ' ');
    o << t.spec.runtime << "," << t.spec.config << "," << t.spec.rate_mib << "," << t.spec.index
      << "," << t.started << "," << t.crossed << "," << t.fired << "," << t.published << ","
      << t.alerted << "," << t.killed << "," << (t.oom_killed ? 1 : 0) << "," << t.dumper_result
      << "," << (t.captured ? 1 : 0) << "," << t.peak_ratio << "," << t.achieved_mib_s << ","
      << note << "\n";
  }
  return o.str();
}

std::vector<TrialResult> parseCsvTrials(const std::string& text) {
  std::vector<TrialResult> out;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    if (f.size() < 15) continue;
    TrialResult t;
    t.spec.runtime = f[0];
    t.spec.config = f[1];
    t.spec.rate_mib = std::atof(f[2].c_str());
    t.spec.index = std::atoi(f[3].c_str());
    t.started = std::atof(f[4].c_str());
    t.crossed = std::atof(f[5].c_str());
    t.fired = std::atof(f[6].c_str());
    t.published = std::atof(f[7].c_str());
    t.alerted = std::atof(f[8].c_str());
    t.killed = std::atof(f[9].c_str());
    t.oom_killed = f[10] == "1";
    t.dumper_result = f[11];
    t.captured = f[12] == "1";
    t.peak_ratio = std::atof(f[13].c_str());
    t.achieved_mib_s = std::atof(f[14].c_str());
    t.note = f.size() > 15 ? f[15] : "";
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace oomsentinel::race
