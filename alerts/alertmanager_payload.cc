#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alerts/alertmanager.h"
#include "alerts/alertmanager_internal.h"
#include "core/safe_text.h"
#include "core/units.h"

// The alerts as Alertmanager takes them: labels, annotations, the JSON of a POST.
namespace oomsentinel {

using alertmanager_detail::endsWith;
using alertmanager_detail::isReservedLabel;

namespace {

// Alertmanager's format: RFC 3339 in UTC with milliseconds, the way Prometheus sends it.
std::string rfc3339(WallTime t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t);
  auto day = floor<days>(ms);
  year_month_day ymd{day};
  hh_mm_ss hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string printf1(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string formatSeconds(double s) {
  // Beyond this the conversion to nanoseconds would overflow; no one reads such a duration.
  if (std::fabs(s) > 1e9) return printf1("%gs", s);
  std::string sign = s < 0 ? "-" : "";
  return sign + formatDuration(std::chrono::duration_cast<Duration>(
                    std::chrono::duration<double>(std::fabs(s))));
}

std::string summaryOf(const AlertEvent& e) {
  return e.target + ": " + e.rule + (e.firing ? " is firing" : " resolved");
}

std::string descriptionOf(const AlertEvent& e) {
  std::string values;
  for (const auto& [name, v] : e.values) {
    if (!values.empty()) values += ", ";
    values += name + "=" + formatAlertValue(name, v);
  }
  std::string what = e.expr.empty() ? "rule " + e.rule : e.expr;
  if (e.firing)
    return what + " holds for target " + e.target + (values.empty() ? "" : " (" + values + ")") +
           ".";
  return what + " no longer holds for target " + e.target +
         (values.empty() ? "" : "; at firing: " + values) + ".";
}

}  // namespace

std::string generatorUrlFor(std::string_view listen) {
  if (listen.empty()) return "";
  auto colon = listen.rfind(':');
  std::string host(listen.substr(0, colon == std::string_view::npos ? listen.size() : colon));
  std::string port(colon == std::string_view::npos ? "" : listen.substr(colon));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::" || host == "*") {
    char name[256] = {};
    host = ::gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
  }
  return "http://" + host + port + "/metrics";
}

bool isValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string sanitizeLabelName(std::string_view name) {
  std::string out;
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) out += '_';
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
    out += ok ? c : '_';
  }
  return out;
}

std::string formatAlertValue(std::string_view name, double value) {
  // A window function's label is "fn(signal[window])": the unit is the signal's, per second for
  // the two that are rates.
  std::string_view signal = name;
  bool per_second = false;
  if (std::size_t open = name.find('('); open != std::string_view::npos && name.back() == ')') {
    std::string_view fn = name.substr(0, open);
    per_second = fn == "rate" || fn == "deriv";
    signal = name.substr(open + 1);
    signal = signal.substr(0, std::min(signal.find('['), signal.size() - 1));
  }
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::string text;
  bool seconds =
      endsWith(signal, "_seconds") || endsWith(signal, "_seconds_total") || signal == "time_to_oom";
  if (endsWith(signal, "_bytes"))
    text = formatBytes(value);
  else if (endsWith(signal, "_ratio"))
    text = printf1("%.1f%%", value * 100);
  else if (seconds && !per_second)
    text = formatSeconds(value);
  else
    text = printf1("%g", value);
  if (per_second) text += seconds ? "s/s" : "/s";
  return text;
}

std::string alertmanagerPayload(const std::vector<AlertEvent>& events, const AlertmanagerSpec& spec,
                                const std::string& generator_url, WallTime sent_at) {
  using Json = nlohmann::ordered_json;
  Json out = Json::array();
  for (const auto& e : events) {
    Json labels = Json::object();
    // Prometheus' convention: an empty value is the same as no label.
    auto add = [&](std::string_view name, const std::string& value) {
      if (value.empty()) return;
      std::string key = sanitizeLabelName(name);
      // Values may hold what a target made (its name, its container's): safe, like a log line.
      if (!labels.contains(key)) labels[key] = safeText(value);
    };
    add("alertname", e.rule);
    add("severity", e.severity);
    add("target", e.target);
    for (const auto& [name, value] : e.labels)
      if (!isReservedLabel(sanitizeLabelName(name))) add(name, value);
    for (const auto& [name, value] : spec.static_labels)
      if (!isReservedLabel(sanitizeLabelName(name))) add(name, value);

    Json annotations = Json::object();
    annotations["summary"] = safeText(summaryOf(e));
    annotations["description"] = safeText(descriptionOf(e));
    if (!e.expr.empty()) annotations["expr"] = safeText(e.expr);
    if (!e.incident.empty()) annotations["incident"] = safeText(e.incident);
    if (!e.top_growth.empty()) annotations["top_growth"] = safeText(e.top_growth, 512);

    Json alert = Json::object();
    alert["labels"] = std::move(labels);
    alert["annotations"] = std::move(annotations);
    alert["startsAt"] = rfc3339(e.starts_at);
    if (!e.firing) {
      // Alertmanager refuses the whole batch for an alert that ends before it starts.
      WallTime ends = std::max(e.ends_at.value_or(e.starts_at), e.starts_at);
      alert["endsAt"] = rfc3339(ends);
    } else {
      auto expiry = std::chrono::duration_cast<WallTime::duration>(4 * spec.resend_interval);
      alert["endsAt"] = rfc3339(std::max(sent_at, e.starts_at) + expiry);
    }
    if (!generator_url.empty()) alert["generatorURL"] = generator_url;
    out.push_back(std::move(alert));
  }
  // Label values must be UTF-8: a byte sequence that is not is replaced, not a thrown exception.
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace oomsentinel
