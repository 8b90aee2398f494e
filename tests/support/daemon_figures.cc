#include "tests/support/daemon_figures.h"

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "tests/support/test_support.h"

namespace oomsentinel::testing {

std::optional<double> sampleValue(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string l; std::getline(in, l);)
    if (l.size() > series.size() && l.compare(0, series.size(), series) == 0 &&
        l[series.size()] == ' ')
      return std::strtod(l.c_str() + series.size() + 1, nullptr);
  return std::nullopt;
}

Histogram histogramOf(const std::string& metrics, const std::string& name) {
  Histogram h;
  const std::string bucket = name + "_bucket{le=\"";
  std::istringstream in(metrics);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(bucket, 0) == 0) {
      std::size_t end = l.find('"', bucket.size());
      std::string le = l.substr(bucket.size(), end - bucket.size());
      double bound =
          le == "+Inf" ? std::numeric_limits<double>::infinity() : std::strtod(le.c_str(), nullptr);
      h.buckets.emplace_back(bound, std::strtod(l.c_str() + l.find(' ', end) + 1, nullptr));
    }
  }
  h.count = sampleValue(metrics, name + "_count").value_or(0);
  h.sum = sampleValue(metrics, name + "_sum").value_or(0);
  return h;
}

Histogram Histogram::since(const Histogram& earlier) const {
  Histogram d = *this;
  for (std::size_t i = 0; i < d.buckets.size() && i < earlier.buckets.size(); ++i)
    d.buckets[i].second -= earlier.buckets[i].second;
  d.count -= earlier.count;
  d.sum -= earlier.sum;
  return d;
}

double Histogram::quantileBound(double q) const {
  if (count <= 0) return 0;
  for (const auto& [bound, n] : buckets)
    if (n >= q * count) return bound;
  return std::numeric_limits<double>::infinity();
}

std::set<std::string> targetLabels(const std::string& metrics, std::size_t* lines) {
  std::set<std::string> names;
  std::size_t n = 0;
  std::istringstream in(metrics);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] == '#') continue;
    std::size_t at = l.find("target=\"");
    if (at == std::string::npos || at > l.find(' ')) continue;
    at += 8;
    names.insert(l.substr(at, l.find('"', at) - at));
    ++n;
  }
  if (lines) *lines = n;
  return names;
}

long openFds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  long n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

std::multiset<std::string> openFdLinks(pid_t pid) {
  std::multiset<std::string> links;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return links;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char buf[4096];
    ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf);
    if (n > 0) links.insert(std::string(buf, static_cast<std::size_t>(n)));
  }
  ::closedir(d);
  return links;
}

long long residentBytes(pid_t pid) {
  std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
  std::size_t at = status.find("\nVmRSS:");
  if (at == std::string::npos) return -1;
  return std::atoll(status.c_str() + at + 7) * 1024;
}

double cpuSeconds(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  // The fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && in >> field; ++i)
    if (i >= 12) ticks += std::strtod(field.c_str(), nullptr);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace oomsentinel::testing
