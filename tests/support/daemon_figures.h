// tests/: what a load test measures of a running daemon: figures read from its /metrics text
// (samples, histogram buckets, the targets its series name) and from its /proc entry (open fds,
// resident memory, CPU time), so the fault-matrix tests (docs/reliability.md) compare a before
// and an after the same way.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace oomsentinel::testing {

// The value of the sample line `series` (the name with its labels, as rendered), or nullopt.
std::optional<double> sampleValue(const std::string& metrics, const std::string& series);

// A histogram without labels: its cumulative buckets (upper bound, count), +Inf last.
struct Histogram {
  std::vector<std::pair<double, double>> buckets;
  double count = 0;
  double sum = 0;
  // The observations between `earlier` and this one (bucket by bucket).
  Histogram since(const Histogram& earlier) const;
  // The upper bound of the first bucket holding at least `q` of the observations: the quantile is
  // at most this (+Inf when it lies past the last finite bound; 0 without observations).
  double quantileBound(double q) const;
};
Histogram histogramOf(const std::string& metrics, const std::string& name);

// Every value of the label `target` in the sample lines, and how many sample lines carry one.
std::set<std::string> targetLabels(const std::string& metrics, std::size_t* lines = nullptr);

// The process's open file descriptors (entries of /proc/PID/fd), VmRSS in bytes, and user +
// system CPU seconds; -1 when it cannot be read.
long openFds(pid_t pid);
// What each open descriptor is (its /proc/PID/fd link: a path, "anon_inode:[eventfd]", ...).
std::multiset<std::string> openFdLinks(pid_t pid);
long long residentBytes(pid_t pid);
double cpuSeconds(pid_t pid);

}  // namespace oomsentinel::testing
