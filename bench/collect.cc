// bench/: benchmarks and their recorded results.
// bench_collect: what one TargetCollector::collect of a cgroup target costs, against the floor
// of re-reading the same files with one pread each on held descriptors, measured in the same run
// with the rounds interleaved so that drift and noise hit both alike. README.md has the figures.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/alloc_count.h"
#include "bench/fixture.h"
#include "bench/v1_cgroup.h"
#include "collectors/control_file.h"
#include "collectors/layout.h"
#include "collectors/target_collector.h"
#include "core/clock.h"
#include "core/host_paths.h"

namespace oomsentinel::bench {
namespace {

constexpr double kTargetRatio = 1.5;

constexpr const char* kUsage =
    "usage: bench_collect [--rounds N] [--iterations N] [--json] [--breakdown]\n"
    "                     [--cgroup-root DIR --proc-root DIR --cgroup PATH | --fixture]\n"
    "Measures TargetCollector::collect of one cgroup target against re-reading the same files\n"
    "with one pread each on held descriptors. The target is, by default, a cgroup v1 child made\n"
    "here (root and a v1 memory hierarchy needed); --cgroup PATH takes one in the given tree\n"
    "(default roots /sys/fs/cgroup and /proc); --fixture writes a small cgroup v2 tree into a\n"
    "temporary directory ($TMPDIR or /tmp). --breakdown also times the collector's reads without\n"
    "its parsing, to split the difference.\n";

struct Options {
  int rounds = 21;
  int iterations = 2000;
  bool json = false;
  bool fixture = false;
  bool breakdown = false;
  std::optional<std::string> cgroup_root, proc_root, cgroup;
};

// nullopt (exit status 2, as the daemon's usage errors) for a bad command line.
std::optional<Options> parseArgs(int argc, char** argv) {
  Options o;
  auto bad = [](const std::string& why) {
    std::fprintf(stderr, "bench_collect: %s\n%s", why.c_str(), kUsage);
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    std::optional<std::string>* path = a == "--cgroup-root" ? &o.cgroup_root
                                       : a == "--proc-root" ? &o.proc_root
                                       : a == "--cgroup"    ? &o.cgroup
                                                            : nullptr;
    int* count = a == "--rounds" ? &o.rounds : a == "--iterations" ? &o.iterations : nullptr;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--fixture") {
      o.fixture = true;
    } else if (a == "--breakdown") {
      o.breakdown = true;
    } else if ((path || count) && value) {
      ++i;
      if (path) *path = value;
      if (count && (*count = std::atoi(value)) <= 0) return bad(a + " needs a positive number");
    } else {
      return bad("bad argument " + a);
    }
  }
  if (o.fixture && (o.cgroup || o.cgroup_root || o.proc_root))
    return bad("--fixture makes its own tree");
  if (!o.cgroup && (o.cgroup_root || o.proc_root)) return bad("a tree needs --cgroup PATH");
  return o;
}

// One of the collector's held files, opened again by us: a raw descriptor for the baseline, a
// ControlFile for the breakdown.
struct HeldFile {
  std::string path;
  int fd = -1;
  ControlFile file;
};

// The collector keeps a descriptor on every file it reads each tick, so the descriptors that
// appeared across its creation and first collection are exactly its file set; taking them from
// /proc/self/fd keeps the baseline honest if a collector starts reading another file.
std::vector<int> openDescriptors() {
  std::vector<int> fds;
  std::string dir_path = HostPaths().proc(0, "fd");
  DIR* dir = ::opendir(dir_path.c_str());
  if (!dir) return fds;
  while (dirent* e = ::readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (e->d_name[0] != '.' && fd != ::dirfd(dir)) fds.push_back(fd);
  }
  ::closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

Result<std::vector<HeldFile>> heldFiles(const std::vector<int>& before,
                                        const std::vector<int>& after) {
  std::vector<HeldFile> files;
  for (int fd : after) {
    if (std::binary_search(before.begin(), before.end(), fd)) continue;
    std::error_code ec;
    auto link = std::filesystem::read_symlink(HostPaths().proc(0, "fd/" + std::to_string(fd)), ec);
    if (ec) return makeError("cannot read the link of descriptor " + std::to_string(fd));
    HeldFile f;
    f.path = link.string();
    f.fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) return makeError("cannot open", f.path, errno);
    f.file = ControlFile(f.path);
    if (auto st = f.file.open(); !st) return st.error();
    files.push_back(std::move(f));
  }
  return files;
}

struct Spread {
  double median = 0, min = 0, max = 0;
};

Spread spreadOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::size_t n = v.size();
  double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {median, v.front(), v.back()};
}

const char* fsName(const std::string& path) {
  struct statfs s;
  if (::statfs(path.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x27e0ebUL:
      return "cgroupfs v1 (kernel files)";
    case 0x63677270UL:
      return "cgroup2fs (kernel files)";
    case 0x01021994UL:
      return "tmpfs (plain files, not kernel text generation)";
    case 0xef53UL:
      return "ext2/3/4 page cache (plain files, not kernel text generation)";
    default:
      return "another filesystem (plain files?)";
  }
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// One way of reading the target's files, timed as a whole collection.
struct Variant {
  Variant(std::string n, std::function<Status()> f) : name(std::move(n)), once(std::move(f)) {}
  std::string name;
  std::function<Status()> once;
  std::vector<double> ns;  // ns per collection, one entry per round
  Spread spread;
};

struct Measurement {
  std::string where, dir, version, fs;
  std::vector<std::string> files;
  double processes = 0;
  std::vector<Variant> variants;  // the baseline first, the collector last
  double allocs_per_collect = 0;
  std::size_t snapshot_signals = 0;
};

Status measure(const HostPaths& paths, const std::string& cgroup, const Options& opt,
               Measurement& m) {
  auto layout = detectLayout(paths);
  if (!layout) return layout.error();
  std::vector<int> before = openDescriptors();
  auto tc = TargetCollector::create(paths, *layout, Target::cgroupPath("bench", cgroup));
  if (!tc) return tc.error();
  SystemClock clock;
  Snapshot snap;
  if (auto st = (*tc)->collect(clock, snap); !st) return st.error();
  auto held = heldFiles(before, openDescriptors());
  if (!held) return held.error();
  std::vector<HeldFile> files = std::move(*held);
  for (const auto& f : files) m.files.push_back(f.path);
  m.dir = (*tc)->cgroupDir();
  m.version = cgroupVersionName((*tc)->cgroupVersion());
  m.fs = fsName(m.dir);
  m.processes = snap.get(Sig::kProcessCount).value_or(0);
  m.snapshot_signals = snap.size();

  static char buf[64 << 10];  // larger than any control file: one pread reads it all
  std::size_t sink = 0;
  m.variants.emplace_back("baseline: 1 pread per held file", [&]() -> Status {
    for (const auto& f : files) {
      ssize_t n = ::pread(f.fd, buf, sizeof buf, 0);
      // The file set is the one of the first collection: it needs a stable set of processes.
      if (n <= 0) return makeError("cannot read (did a process leave the cgroup?)", f.path, errno);
      sink += static_cast<std::size_t>(n);
    }
    return Ok{};
  });
  if (opt.breakdown) {
    // The same files read through ControlFile (what it adds to a raw pread), so that the rest of
    // the difference is the collector's own work: parsing, the snapshot, the v1 membership
    // refresh (once a second) and, on trees of plain files only, the stat of the directory.
    m.variants.emplace_back("ControlFile::read per file", [&]() -> Status {
      for (auto& f : files)
        if (auto r = f.file.read(); !r) return r.error();
      return Ok{};
    });
  }
  m.variants.emplace_back("TargetCollector::collect",
                          [&]() -> Status { return (*tc)->collect(clock, snap); });

  // Warm-up: caches, branch predictors, and the collectors' first-tick growth (snapshot size,
  // key orders) are out of the way before anything is timed or counted.
  const int warmup = std::max(10, opt.iterations / 10);
  for (auto& v : m.variants)
    for (int i = 0; i < warmup; ++i)
      if (auto st = v.once(); !st) return st;

  for (int r = 0; r < opt.rounds; ++r) {
    // Each round starts with the next variant, so none always runs right after another one's
    // cache effects; a drift of the machine over the run hits every variant alike.
    for (std::size_t k = 0; k < m.variants.size(); ++k) {
      Variant& v = m.variants[(r + k) % m.variants.size()];
      auto t0 = clock.steadyNow();
      for (int i = 0; i < opt.iterations; ++i)
        if (auto st = v.once(); !st) return st;
      v.ns.push_back(static_cast<double>((clock.steadyNow() - t0).count()) / opt.iterations);
    }
  }
  for (auto& v : m.variants) v.spread = spreadOf(v.ns);

  // Counted apart from the timing, where the counter's increments would be timed too.
  std::size_t a0 = allocationCount();
  for (int i = 0; i < opt.iterations; ++i)
    if (auto st = (*tc)->collect(clock, snap); !st) return st;
  m.allocs_per_collect = static_cast<double>(allocationCount() - a0) / opt.iterations;

  for (auto& f : files) ::close(f.fd);
  if (sink == 0) return makeError("the baseline read nothing");
  return Ok{};
}

void printText(const Measurement& m, const Options& opt) {
  const Spread& base = m.variants.front().spread;
  const Spread& coll = m.variants.back().spread;
  double ratio = coll.median / base.median;
  std::printf("bench_collect: %s\n", m.where.c_str());
  std::printf("  cgroup %s %s\n  on %s\n", m.version.c_str(), m.dir.c_str(), m.fs.c_str());
  std::printf("  %zu files held by the collector (%.0f processes in the cgroup):\n", m.files.size(),
              m.processes);
  for (const auto& f : m.files) std::printf("    %s\n", f.c_str());
  std::printf("  ns per collection, median [min .. max] of %d rounds x %d iterations:\n",
              opt.rounds, opt.iterations);
  for (const auto& v : m.variants)
    std::printf("    %-36s %8.0f  [%.0f .. %.0f]\n", v.name.c_str(), v.spread.median, v.spread.min,
                v.spread.max);
  std::printf("  ratio collect / baseline             %8.2fx (target <= %.1fx: %s)\n", ratio,
              kTargetRatio, ratio <= kTargetRatio ? "met" : "NOT met");
  // With --breakdown each step adds one cost to the one before; the last adds the parsing.
  for (std::size_t i = 1; m.variants.size() > 2 && i < m.variants.size(); ++i)
    std::printf("    %+8.0f  %s\n", m.variants[i].spread.median - m.variants[i - 1].spread.median,
                i + 1 == m.variants.size() ? "parsing, snapshot, the rest of collect"
                                           : "what ControlFile::read adds to a raw pread");
  std::printf("  allocations per collection           %8.2f  (steady state; %zu signals)\n",
              m.allocs_per_collect, m.snapshot_signals);
}

void printJson(const Measurement& m, const Options& opt) {
  double ratio = m.variants.back().spread.median / m.variants.front().spread.median;
  std::string files, variants;
  for (const auto& f : m.files) files += (files.empty() ? "" : ", ") + jsonString(f);
  for (const auto& v : m.variants)
    variants += std::string(variants.empty() ? "" : ", ") + "{\"name\": " + jsonString(v.name) +
                ", \"median_ns\": " + std::to_string(v.spread.median) +
                ", \"min_ns\": " + std::to_string(v.spread.min) +
                ", \"max_ns\": " + std::to_string(v.spread.max) + "}";
  std::printf(
      "{\"where\": %s, \"cgroup_version\": %s, \"cgroup_dir\": %s, \"filesystem\": %s, "
      "\"files\": [%s], \"processes\": %.0f, \"rounds\": %d, \"iterations\": %d, "
      "\"variants\": [%s], \"ratio\": %.3f, \"target_ratio\": %.1f, \"target_met\": %s, "
      "\"allocations_per_collection\": %.3f, \"snapshot_signals\": %zu}\n",
      jsonString(m.where).c_str(), jsonString(m.version).c_str(), jsonString(m.dir).c_str(),
      jsonString(m.fs).c_str(), files.c_str(), m.processes, opt.rounds, opt.iterations,
      variants.c_str(), ratio, kTargetRatio, ratio <= kTargetRatio ? "true" : "false",
      m.allocs_per_collect, m.snapshot_signals);
}

int run(const Options& opt) {
  Measurement m;
  Status st = Ok{};
  if (opt.cgroup) {
    HostPaths paths(opt.cgroup_root.value_or(std::string(HostPaths::kDefaultCgroupRoot)),
                    opt.proc_root.value_or(std::string(HostPaths::kDefaultProcRoot)));
    m.where = "cgroup " + *opt.cgroup + " under " + paths.cgroupRoot();
    st = measure(paths, *opt.cgroup, opt, m);
  } else if (opt.fixture) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = joinPath(tmp && *tmp ? tmp : "/tmp", "oomsentinel-bench-XXXXXX");
    if (!::mkdtemp(pattern.data())) {
      std::fprintf(stderr, "bench_collect: mkdtemp %s: %s\n", pattern.c_str(),
                   std::strerror(errno));
      return 1;
    }
    auto tree = writeV2Fixture(pattern);
    if (tree) {
      m.where = "generated cgroup v2 fixture tree, cgroup " + tree->cgroup;
      st = measure(HostPaths(tree->cgroup_root, tree->proc_root), tree->cgroup, opt, m);
    } else {
      st = tree.error();
    }
    std::error_code ec;
    std::filesystem::remove_all(pattern, ec);
  } else {
    std::string why;
    if (!ScopedV1Cgroup::available(&why)) {
      std::fprintf(stderr, "bench_collect: no real cgroup v1 target: %s (use --fixture)\n",
                   why.c_str());
      return 1;
    }
    auto cg = ScopedV1Cgroup::create();
    if (!cg) {
      st = cg.error();
    } else {
      m.where = "real cgroup v1 child with one sleeping process";
      st = measure(HostPaths(), (*cg)->relative(), opt, m);
    }
  }
  if (!st) {
    std::fprintf(stderr, "bench_collect: %s\n", st.error().describe().c_str());
    return 1;
  }
  opt.json ? printJson(m, opt) : printText(m, opt);
  return 0;
}

}  // namespace
}  // namespace oomsentinel::bench

int main(int argc, char** argv) {
  auto opt = oomsentinel::bench::parseArgs(argc, argv);
  if (!opt) return 2;
  return oomsentinel::bench::run(*opt);
}
