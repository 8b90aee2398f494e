// The poll: and discovery: sections (config/loader.h).
#include "config/loader.h"
#include "config/values.h"
#include "core/units.h"

namespace oomsentinel::config_internal {

namespace {
const std::vector<std::string> kPollKeys = {
    "interval", "fast_interval", "fast_above", "fast_when_tto_below", "full_read_interval",
    "events",   "psi_stall",     "psi_window", "skim_rate",           "degrade_above"};
constexpr Duration kMinPollInterval = std::chrono::milliseconds(10);
const std::vector<std::string> kDiscoveryKeys = {"interval", "containers_log_dir"};
// Selectors are evaluated again every interval, each a walk of /proc or the cgroup tree.
constexpr Duration kMinDiscoveryInterval = std::chrono::milliseconds(100);
}  // namespace

void Loader::readPoll(const Entry& e, PollSpec& poll) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    typeError(e, "a map with the keys " + listNames(kPollKeys));
    return;
  }
  auto entries = readMap(e.value, e.path, kPollKeys);
  readPollIntervals(entries, poll);
  if (auto* a = find(entries, "fast_above"))
    if (auto r = readRatio(*a)) poll.fast_above = *r;
  if (auto* t = find(entries, "fast_when_tto_below"))
    if (auto d = readDuration(*t)) poll.fast_when_tto_below = *d;
  if (auto* t = find(entries, "full_read_interval"))
    if (auto d = readDuration(*t)) poll.full_read_interval = *d;
  if (auto* a = find(entries, "degrade_above"))
    if (auto r = readRatio(*a)) poll.degrade_above = *r;
  if (auto* t = find(entries, "events"))
    if (auto b = readBool(*t)) poll.events = *b;
  readPsi(entries, poll);
}

// interval and fast_interval, and that the fast one is not the longer.
void Loader::readPollIntervals(const std::vector<Entry>& entries, PollSpec& poll) {
  const Entry* interval = find(entries, "interval");
  const Entry* fast = find(entries, "fast_interval");
  bool interval_ok = true, fast_ok = true;
  if (interval) {
    auto d = readDurationAtLeast(*interval, kMinPollInterval);
    interval_ok = d.has_value();
    if (d) poll.interval = *d;
  }
  if (fast) {
    auto d = readDurationAtLeast(*fast, kMinPollInterval);
    fast_ok = d.has_value();
    if (d) poll.fast_interval = *d;
  }
  if (interval_ok && fast_ok && poll.fast_interval > poll.interval) {
    using config_values::formatDurationExact;
    std::string msg = "fast_interval (" + formatDurationExact(poll.fast_interval) +
                      (fast ? "" : ", the default") + ") must not be longer than interval (" +
                      formatDurationExact(poll.interval) + (interval ? "" : ", the default") + ")";
    const Entry* at = fast ? fast : interval;
    error(valuePos(*at), at->path, msg);
  }
}

// psi_window and psi_stall (and skim_rate, read between them as it always was).
void Loader::readPsi(const std::vector<Entry>& entries, PollSpec& poll) {
  // The kernel takes PSI trigger windows from 500ms to 10s, and a stall within the window.
  const Entry* stall = find(entries, "psi_stall");
  const Entry* window = find(entries, "psi_window");
  bool window_ok = true, stall_ok = true;
  if (window) {
    auto d = readDuration(*window);
    window_ok = d && *d >= std::chrono::milliseconds(500) && *d <= std::chrono::seconds(10);
    if (d && !window_ok)
      error(valuePos(*window), window->path,
            "must be from 500ms to 10s (the kernel's bounds for a PSI trigger), got " +
                config_values::formatDurationExact(*d));
    if (window_ok) poll.psi_window = *d;
  }
  if (stall) {
    auto d = readDuration(*stall);
    stall_ok = d && *d > Duration::zero();
    if (d && !stall_ok) error(valuePos(*stall), stall->path, "must be more than 0s");
    if (stall_ok) poll.psi_stall = *d;
  }
  if (const Entry* r = find(entries, "skim_rate")) readSkimRate(*r, poll);
  if (window_ok && stall_ok && poll.psi_stall > poll.psi_window) {
    const Entry* at = stall ? stall : window;
    error(valuePos(*at), at->path,
          "psi_stall (" + config_values::formatDurationExact(poll.psi_stall) +
              ") must not be longer than psi_window (" +
              config_values::formatDurationExact(poll.psi_window) + ")");
  }
}

void Loader::readSkimRate(const Entry& r, PollSpec& poll) {
  // A size per second: "1GiB/s" (or "1GiB"); 0 turns the skim off.
  if (!requireScalar(r, "a rate such as 1GiB/s, or 0")) return;
  std::string text = r.value.Scalar();
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "/s") == 0) text.resize(text.size() - 2);
  if (auto n = parseBytes(text))
    poll.skim_rate = *n;
  else
    error(valuePos(r), r.path, n.error().message + " (a rate such as 1GiB/s, or 0)");
}

void Loader::readDiscovery(const Entry& e, DiscoverySpec& d) {
  if (e.value.IsNull()) return;
  if (!e.value.IsMap()) {
    typeError(e, "a map with the keys " + listNames(kDiscoveryKeys));
    return;
  }
  auto entries = readMap(e.value, e.path, kDiscoveryKeys);
  if (const Entry* i = find(entries, "interval"))
    if (auto v = readDurationAtLeast(*i, kMinDiscoveryInterval)) d.interval = *v;
  if (const Entry* l = find(entries, "containers_log_dir")) {
    if (!requireScalar(*l, "an absolute directory path")) return;
    const std::string& v = l->value.Scalar();
    if (v.empty() || v[0] != '/')
      error(valuePos(*l), l->path, "must be an absolute path, got " + describe(l->value));
    else
      d.containers_log_dir = v;
  }
}

}  // namespace oomsentinel::config_internal
