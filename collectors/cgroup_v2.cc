#include "collectors/cgroup_v2.h"

#include <algorithm>
#include <utility>

namespace oomsentinel {

void setPressure(const Psi& psi, Snapshot& out) {
  out.set(Sig::kPsiSomeAvg10, psi.some.avg10);
  out.set(Sig::kPsiSomeAvg60, psi.some.avg60);
  out.set(Sig::kPsiSomeAvg300, psi.some.avg300);
  out.set(Sig::kPsiSomeTotalSeconds, static_cast<double>(psi.some.total_us) / 1e6);
  if (psi.full) {
    out.set(Sig::kPsiFullAvg10, psi.full->avg10);
    out.set(Sig::kPsiFullAvg60, psi.full->avg60);
    out.set(Sig::kPsiFullAvg300, psi.full->avg300);
    out.set(Sig::kPsiFullTotalSeconds, static_cast<double>(psi.full->total_us) / 1e6);
  }
}

CgroupV2Collector::CgroupV2Collector(std::string dir, std::vector<std::string> ancestors)
    : dir_(std::move(dir)) {
  auto file = [&](const char* name) { return ControlFile(joinPath(dir_, name)); };
  current_ = file("memory.current");
  stat_ = file("memory.stat");
  max_.file = file("memory.max");
  high_.file = file("memory.high");
  low_.file = file("memory.low");
  min_.file = file("memory.min");
  peak_.file = file("memory.peak");
  events_.file = file("memory.events");
  events_local_.file = file("memory.events.local");
  pressure_.file = file("memory.pressure");
  swap_current_.file = file("memory.swap.current");
  swap_max_.file = file("memory.swap.max");
  for (auto& a : ancestors) {
    ancestor_max_.emplace_back();
    ancestor_max_.back().file = ControlFile(joinPath(a, "memory.max"));
  }
}

// An optional file that does not exist (an old kernel, no swap accounting, PSI disabled) is
// absent for good; one that exists but fails to read is an error.
Result<std::string_view> CgroupV2Collector::readOptional(Optional& f) {
  if (!f.present) return std::string_view();
  auto r = f.file.read();
  if (!r && r.error().errnum == ENOENT && !fileExists(dir_)) return r.error();
  if (!r && (r.error().errnum == ENOENT || r.error().errnum == EOPNOTSUPP)) {
    f.present = false;
    return std::string_view();
  }
  return r;
}

namespace {

// memory.stat: every key as stat_<key>, and the signals rules know by name.
Status setStatSignals(std::string_view stat, KeyedSignals& keys, Snapshot& out) {
  std::size_t i = 0;
  double refault = 0;
  bool have_refault = false;
  Status st = forEachKeyValue(stat, [&](std::string_view key, std::uint64_t v) {
    double d = static_cast<double>(v);
    out.set(keys.idFor(i++, key), d);
    if (key == "anon")
      out.set(Sig::kAnonBytes, d);
    else if (key == "file")
      out.set(Sig::kFileBytes, d);
    else if (key == "shmem")
      out.set(Sig::kShmemBytes, d);
    else if (key == "inactive_file")
      out.set(Sig::kInactiveFileBytes, d);
    else if (key == "pgfault")
      out.set(Sig::kPgfault, d);
    else if (key == "pgmajfault")
      out.set(Sig::kPgmajfault, d);
    else if (key == "pgscan")
      out.set(Sig::kPgscan, d);
    else if (key == "pgsteal")
      out.set(Sig::kPgsteal, d);
    else if (key == "workingset_refault" || key == "workingset_refault_anon" ||
             key == "workingset_refault_file") {
      refault += d;
      have_refault = true;
    }
  });
  if (!st) return st;
  if (have_refault) out.set(Sig::kWorkingsetRefault, refault);
  return Ok{};
}

}  // namespace

Status CgroupV2Collector::collect(Snapshot& out) {
  auto fail = [](const ControlFile& f, const Error& e) {
    return makeError(e.message, f.path(), 0);
  };

  if (auto s = readCurrent(out); !s) return s;

  auto stat = stat_.read();
  if (!stat) return stat.error();
  Status st = setStatSignals(*stat, stat_keys_, out);
  if (!st) return fail(stat_, st.error());

  // Limits: absent when "max". The effective limit is the smallest on the path to the root.
  std::optional<std::uint64_t> own_limit, effective;
  auto limitFile = [&](Optional& f, std::optional<std::uint64_t>& dst) -> Status {
    auto text = readOptional(f);
    if (!text) return text.error();
    if (text->empty()) return Ok{};
    auto v = parseV2Limit(*text);
    if (!v) return fail(f.file, v.error());
    dst = *v;
    return Ok{};
  };
  if (auto s = limitFile(max_, own_limit); !s) return s;
  effective = own_limit;
  for (auto& a : ancestor_max_) {
    std::optional<std::uint64_t> l;
    if (auto s = limitFile(a, l); !s) return s;
    if (l && (!effective || *l < *effective)) effective = l;
  }
  if (effective) out.set(Sig::kLimitBytes, static_cast<double>(*effective));
  last_limit_ = out.get(Sig::kLimitBytes);

  struct Level {
    Optional* file;
    Sig sig;
  };
  for (Level lv : {Level{&high_, Sig::kHighBytes}, Level{&swap_max_, Sig::kSwapLimitBytes}}) {
    std::optional<std::uint64_t> v;
    if (auto s = limitFile(*lv.file, v); !s) return s;
    if (v) out.set(lv.sig, static_cast<double>(*v));
  }
  for (Level lv : {Level{&low_, Sig::kLowBytes}, Level{&min_, Sig::kMinBytes},
                   Level{&peak_, Sig::kPeakBytes}, Level{&swap_current_, Sig::kSwapBytes}}) {
    auto text = readOptional(*lv.file);
    if (!text) return text.error();
    if (text->empty()) continue;
    auto v = parseU64(*text);
    if (!v) return fail(lv.file->file, v.error());
    out.set(lv.sig, static_cast<double>(*v));
  }

  if (auto s = readEvents(out); !s) return s;

  auto local = readOptional(events_local_);
  if (!local) return local.error();
  std::size_t i = 0;
  st = forEachKeyValue(*local, [&](std::string_view key, std::uint64_t v) {
    out.set(events_local_keys_.idFor(i++, key), static_cast<double>(v));
  });
  if (!st) return fail(events_local_.file, st.error());

  return readPressure(out);
}

Status CgroupV2Collector::readCurrent(Snapshot& out) {
  auto cur = current_.read();
  if (!cur) return cur.error();
  auto usage = parseU64(*cur);
  if (!usage) return makeError(usage.error().message, current_.path(), 0);
  out.set(Sig::kUsageBytes, static_cast<double>(*usage));
  return Ok{};
}

Status CgroupV2Collector::readEvents(Snapshot& out) {
  auto events = readOptional(events_);
  if (!events) return events.error();
  std::size_t i = 0;
  Status st = forEachKeyValue(*events, [&](std::string_view key, std::uint64_t v) {
    out.set(events_keys_.idFor(i++, key), static_cast<double>(v));
  });
  if (!st) return makeError(st.error().message, events_.file.path(), 0);
  return Ok{};
}

Status CgroupV2Collector::readPressure(Snapshot& out) {
  auto pressure = readOptional(pressure_);
  if (!pressure) return pressure.error();
  if (!pressure->empty()) {
    auto psi = parsePressure(*pressure);
    if (!psi) return makeError(psi.error().message, pressure_.file.path(), 0);
    setPressure(*psi, out);
  }
  return Ok{};
}

Status CgroupV2Collector::skim(Snapshot& out) {
  if (auto s = readCurrent(out); !s) return s;
  if (last_limit_) out.set(Sig::kLimitBytes, *last_limit_);
  return readPressure(out);
}

}  // namespace oomsentinel
