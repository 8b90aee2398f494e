#include "dumpers/dump_throttle.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/units.h"
#include "dumpers/artifact.h"

namespace oomsentinel {

const char* throttleResultName(ThrottleResult r) {
  switch (r) {
    case ThrottleResult::kThrottled:
      return "throttled";
    case ThrottleResult::kRestored:
      return "restored";
    case ThrottleResult::kExpired:
      return "expired";
    case ThrottleResult::kReleased:
      return "released";
    case ThrottleResult::kRecovered:
      return "recovered";
    case ThrottleResult::kSkipped:
      return "skipped";
    case ThrottleResult::kFailed:
      return "failed";
  }
  return "failed";
}

const char* throttleResultMessage(ThrottleResult r) {
  switch (r) {
    case ThrottleResult::kThrottled:
      return "throttling the target while it is dumped";
    case ThrottleResult::kRestored:
      return "throttle ended: the dump is done";
    case ThrottleResult::kExpired:
      return "throttle ended: throttle_during_dump.max_duration";
    case ThrottleResult::kReleased:
      return "throttle ended: oomsentinel is stopping";
    case ThrottleResult::kRecovered:
      return "throttle ended: put back what a stopped run left";
    case ThrottleResult::kSkipped:
      return "throttle not applied or not put back";
    case ThrottleResult::kFailed:
      return "throttle failed";
  }
  return "throttle failed";
}

namespace {

constexpr std::uint64_t kMinHeadroom = std::uint64_t{4} << 20;
constexpr const char* kRecordSuffix = ".json";

Result<std::string> readTrimmed(const std::string& path) {
  auto text = readFileUpTo(path, 64 * 1024);
  if (!text) return text;
  while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
  return text;
}

// Control files take one write(2) of the whole value; a short write is an error.
Status writeMemoryHigh(const std::string& path, const std::string& value) {
  // O_TRUNC as a shell redirection does: kernfs ignores it, a plain-file tree needs it.
  OwnedFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (fd.get() < 0) return makeError("cannot open for writing", path, errno);
  ssize_t n;
  do n = ::write(fd.get(), value.data(), value.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return makeError("cannot write '" + value + "'", path, errno);
  if (static_cast<std::size_t>(n) != value.size())
    return makeError("short write of '" + value + "'", path);
  return Ok{};
}

// "max" -> nullopt; a byte count -> it; anything else -> an error naming the text.
Result<std::optional<std::uint64_t>> parseLimit(const std::string& text, const std::string& path) {
  if (text == "max") return std::optional<std::uint64_t>{};
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    return makeError("expected 'max' or a byte count, got '" + text.substr(0, 40) + "'", path);
  return std::optional<std::uint64_t>{v};
}

std::string limitText(const std::optional<std::uint64_t>& v) {
  return v ? formatBytes(static_cast<double>(*v)) : "max";
}

std::uint64_t pageSize() {
  long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<std::uint64_t>(p) : 4096;
}

Result<std::uint64_t> inodeOf(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return makeError("cannot stat the cgroup", dir, errno);
  return static_cast<std::uint64_t>(st.st_ino);
}

std::string hintFor(const Error& e) {
  if (e.errnum == EROFS)
    return " (the cgroup file system is read-only here: systemd's ProtectControlGroups=yes, or a "
           "container without a writable /sys/fs/cgroup; see docs/design/throttle.md)";
  if (e.errnum == EACCES || e.errnum == EPERM)
    return " (oomsentinel needs to own or have write access to the target's memory.high)";
  return "";
}

double wallSeconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Puts `previous` back when memory.high still holds `set`; what happened, as (result, detail).
std::pair<ThrottleResult, std::string> putBack(const ThrottleRecord& r, ThrottleResult done,
                                               const std::string& after) {
  std::string high_path = joinPath(r.cgroup_dir, "memory.high");
  auto now = readTrimmed(high_path);
  if (!now) {
    if (now.error().isGone())
      return {ThrottleResult::kSkipped, "the cgroup is gone; nothing to put back"};
    return {ThrottleResult::kFailed,
            "cannot read memory.high to put it back: " + now.error().describe()};
  }
  auto parsed = parseLimit(*now, high_path);
  if (!parsed || *parsed != std::optional<std::uint64_t>{r.set})
    return {ThrottleResult::kSkipped, "memory.high was changed to '" + now->substr(0, 40) +
                                          "' by someone else since it was set to " +
                                          formatBytes(static_cast<double>(r.set)) +
                                          "; left as it is"};
  if (auto st = writeMemoryHigh(high_path, r.previous); !st)
    return {ThrottleResult::kFailed, "cannot put memory.high back to " + r.previous + ": " +
                                         st.error().describe() + hintFor(st.error())};
  std::string prev = r.previous == "max" ? "max" : r.previous + " bytes";
  return {done, "memory.high " + formatBytes(static_cast<double>(r.set)) + " -> " + prev + after};
}

}  // namespace

std::optional<std::uint64_t> throttleLevel(std::uint64_t usage, std::optional<std::uint64_t> max,
                                           std::optional<std::uint64_t> previous,
                                           std::uint64_t headroom, std::uint64_t page,
                                           std::string* why) {
  auto up = [page](std::uint64_t v) { return (v + page - 1) / page * page; };
  if (max && usage >= *max) {
    *why = "usage " + formatBytes(static_cast<double>(usage)) + " is already at memory.max";
    return std::nullopt;
  }
  std::uint64_t h = headroom;
  if (h == 0) h = std::max(kMinHeadroom, (max ? *max : usage) / 100);
  std::uint64_t level = up(usage + h);
  if (max && level >= *max) {
    // Too close to the limit for the whole headroom: half of what is left, so the kernel still
    // throttles before the OOM killer has to act.
    level = up(usage + (*max - usage) / 2);
    if (level >= *max || level <= usage) {
      *why = "usage " + formatBytes(static_cast<double>(usage)) + " is within a page of memory.max";
      return std::nullopt;
    }
  }
  if (previous && *previous <= level) {
    *why = "memory.high is already " + formatBytes(static_cast<double>(*previous)) +
           ", at or below what throttling would set (" + formatBytes(static_cast<double>(level)) +
           ")";
    return std::nullopt;
  }
  return level;
}

Status ThrottleRecords::prepare() const {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return makeError("cannot make the throttle records directory", dir_, errno);
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) return makeError("cannot stat", dir_, errno);
  if (!S_ISDIR(st.st_mode)) return makeError("is not a directory", dir_);
  if (::access(dir_.c_str(), W_OK) != 0) return makeError("cannot write into", dir_, errno);
  return Ok{};
}

std::string ThrottleRecords::pathFor(const std::string& cgroup_dir) const {
  // One file per cgroup, named by a hash: a cgroup path can be longer than a file name may be.
  return joinPath(dir_, sha256Hex(cgroup_dir).substr(0, 32) + kRecordSuffix);
}

Status ThrottleRecords::write(const ThrottleRecord& r) const {
  if (auto st = prepare(); !st) return st;
  nlohmann::ordered_json j;
  j["target"] = r.target;
  j["cgroup_dir"] = r.cgroup_dir;
  j["inode"] = r.inode;
  j["previous"] = r.previous;
  j["set"] = r.set;
  j["usage"] = r.usage;
  j["at"] = wallSeconds(r.at);
  std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::string path = pathFor(r.cgroup_dir);
  std::string tmp = path + ".tmp";
  {
    OwnedFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) return makeError("cannot create", tmp, errno);
    std::size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Error e = makeError("cannot write", tmp, errno);
        ::unlink(tmp.c_str());
        return e;
      }
      off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      Error e = makeError("cannot fsync", tmp, errno);
      ::unlink(tmp.c_str());
      return e;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = makeError("cannot rename into place", path, errno);
    ::unlink(tmp.c_str());
    return e;
  }
  OwnedFd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() >= 0) ::fsync(d.get());
  return Ok{};
}

void ThrottleRecords::remove(const std::string& cgroup_dir) const {
  ::unlink(pathFor(cgroup_dir).c_str());
}

std::vector<std::pair<std::string, Result<ThrottleRecord>>> ThrottleRecords::list() const {
  std::vector<std::pair<std::string, Result<ThrottleRecord>>> out;
  DIR* d = ::opendir(dir_.c_str());
  if (!d) return out;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, kRecordSuffix) == 0)
      names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    std::string path = joinPath(dir_, name);
    auto text = readTrimmed(path);
    if (!text) {
      out.emplace_back(path, text.error());
      continue;
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    ThrottleRecord r;
    bool ok = j.is_object() && j.contains("cgroup_dir") && j["cgroup_dir"].is_string() &&
              j.contains("previous") && j["previous"].is_string() && j.contains("set") &&
              j["set"].is_number_unsigned() && j.contains("inode") &&
              j["inode"].is_number_unsigned();
    if (ok) {
      r.cgroup_dir = j["cgroup_dir"].get<std::string>();
      r.previous = j["previous"].get<std::string>();
      r.set = j["set"].get<std::uint64_t>();
      r.inode = j["inode"].get<std::uint64_t>();
      if (j.contains("target") && j["target"].is_string())
        r.target = j["target"].get<std::string>();
      if (j.contains("usage") && j["usage"].is_number_unsigned())
        r.usage = j["usage"].get<std::uint64_t>();
      // Only "max" or digits are ever written back into a control file.
      ok = r.previous == "max" ||
           (!r.previous.empty() && std::all_of(r.previous.begin(), r.previous.end(),
                                               [](char c) { return c >= '0' && c <= '9'; }));
    }
    if (!ok)
      out.emplace_back(path, makeError("not a throttle record (cgroup_dir, inode, previous and "
                                       "set expected)",
                                       path));
    else
      out.emplace_back(path, std::move(r));
  }
  return out;
}

std::optional<ThrottleEvent> ThrottleHold::release(ThrottleResult result, const Clock& clock) {
  std::lock_guard lock(mu_);
  if (released_) return std::nullopt;
  released_ = true;
  std::string after = " after " + formatDuration(clock.steadyNow() - started_);
  auto [res, detail] = putBack(record_, result, after);
  ThrottleEvent ev{record_.target, record_.cgroup_dir, res,
                   detail,         clock.wallNow(),    res == ThrottleResult::kFailed};
  // A failed write keeps the record: the next start tries again.
  if (res != ThrottleResult::kFailed) records_.remove(record_.cgroup_dir);
  return ev;
}

ThrottleStart startThrottle(const std::string& target, const std::string& cgroup_dir,
                            const ThrottleSpec& spec, const ThrottleRecords& records,
                            const Clock& clock) {
  ThrottleStart out;
  out.event.target = target;
  out.event.cgroup_dir = cgroup_dir;
  auto fail = [&](ThrottleResult result, const std::string& detail) {
    out.event.result = result;
    out.event.detail = detail;
    out.event.at = clock.wallNow();
    return std::move(out);
  };
  if (cgroup_dir.empty()) return fail(ThrottleResult::kSkipped, "the target has no cgroup");
  auto inode = inodeOf(cgroup_dir);
  if (!inode) return fail(ThrottleResult::kFailed, inode.error().describe());
  std::string high_path = joinPath(cgroup_dir, "memory.high");
  auto high = readTrimmed(high_path);
  if (!high) {
    if (high.error().errnum == ENOENT)
      return fail(ThrottleResult::kSkipped,
                  "no memory.high in " + cgroup_dir +
                      ": throttling needs cgroup v2 with the memory controller "
                      "enabled for this cgroup");
    return fail(ThrottleResult::kFailed, high.error().describe());
  }
  auto previous = parseLimit(*high, high_path);
  if (!previous) return fail(ThrottleResult::kFailed, previous.error().describe());
  std::string current_path = joinPath(cgroup_dir, "memory.current");
  auto current = readTrimmed(current_path);
  if (!current) return fail(ThrottleResult::kFailed, current.error().describe());
  auto usage = parseLimit(*current, current_path);
  if (!usage || !*usage)
    return fail(ThrottleResult::kFailed, "memory.current is not a byte count: " + *current);
  std::optional<std::uint64_t> max;
  if (auto m = readTrimmed(joinPath(cgroup_dir, "memory.max"))) {
    auto parsed = parseLimit(*m, joinPath(cgroup_dir, "memory.max"));
    if (parsed) max = *parsed;
  }
  std::string why;
  auto level = throttleLevel(**usage, max, *previous, spec.headroom, pageSize(), &why);
  if (!level) return fail(ThrottleResult::kSkipped, why);

  ThrottleRecord r;
  r.target = target;
  r.cgroup_dir = cgroup_dir;
  r.inode = *inode;
  r.previous = *previous ? std::to_string(**previous) : "max";
  r.set = *level;
  r.usage = **usage;
  r.at = clock.wallNow();
  if (auto st = records.write(r); !st)
    return fail(ThrottleResult::kFailed,
                "cannot record the change, so memory.high is left alone: " + st.error().describe());
  SteadyTime started = clock.steadyNow();
  if (auto st = writeMemoryHigh(high_path, std::to_string(*level)); !st) {
    records.remove(cgroup_dir);
    return fail(ThrottleResult::kFailed, st.error().describe() + hintFor(st.error()));
  }
  out.event.result = ThrottleResult::kThrottled;
  out.event.held = true;
  out.event.detail = "memory.high " + limitText(*previous) + " -> " +
                     formatBytes(static_cast<double>(*level)) + " (usage " +
                     formatBytes(static_cast<double>(**usage)) + ", memory.max " + limitText(max) +
                     ", for at most " + formatDuration(spec.max_duration) + ")";
  out.event.at = r.at;
  out.hold = std::make_unique<ThrottleHold>(std::move(r), records, started);
  return out;
}

std::vector<ThrottleEvent> recoverThrottles(const ThrottleRecords& records, const Clock& clock) {
  std::vector<ThrottleEvent> out;
  for (auto& [path, rec] : records.list()) {
    if (!rec) {
      // Kept: nothing can be put back from it, but it is evidence of what was changed.
      out.push_back({"", "", ThrottleResult::kFailed,
                     rec.error().describe() + "; not acted on, remove it by hand", clock.wallNow(),
                     false});
      continue;
    }
    const ThrottleRecord& r = *rec;
    ThrottleEvent ev{r.target, r.cgroup_dir, ThrottleResult::kSkipped, "",
                     clock.wallNow()};  // result set below
    auto inode = inodeOf(r.cgroup_dir);
    if (!inode) {
      ev.result = ThrottleResult::kSkipped;
      ev.detail = inode.error().isGone() ? "the cgroup is gone; nothing to put back"
                                         : inode.error().describe();
    } else if (*inode != r.inode) {
      ev.result = ThrottleResult::kSkipped;
      ev.detail = "the cgroup was made again since the change; its memory.high is not ours";
    } else {
      std::tie(ev.result, ev.detail) =
          putBack(r, ThrottleResult::kRecovered, " (left by a run that stopped while throttling)");
    }
    ev.held = ev.result == ThrottleResult::kFailed;
    if (ev.result != ThrottleResult::kFailed) ::unlink(path.c_str());
    out.push_back(std::move(ev));
  }
  return out;
}

}  // namespace oomsentinel
