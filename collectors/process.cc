#include "collectors/process.h"

#include <algorithm>
#include <cerrno>

#include "collectors/parse.h"

namespace oomsentinel {

ProcessCollector ProcessCollector::forPid(const HostPaths& paths, pid_t pid, bool with_smaps) {
  ProcessCollector c(paths, with_smaps);
  c.pid_ = pid;
  c.pid_dir_ = paths.proc(pid, "");
  // procfs makes the held files of an exited process fail (ESRCH) on their own; a tree of plain
  // files (a fixture, a replay) keeps serving them, so only there is the directory checked.
  c.check_pid_dir_ = !isProcfs(paths.procRoot());
  return c;
}

ProcessCollector ProcessCollector::forCgroup(const HostPaths& paths, std::string cgroup_procs,
                                             bool with_smaps, bool reopen_procs) {
  ProcessCollector c(paths, with_smaps);
  c.procs_.emplace(std::move(cgroup_procs));
  // A pid list comes in chunks of records: read on to the real end.
  c.procs_->setReadToEof(true);
  c.reopen_procs_ = reopen_procs;
  return c;
}

Status ProcessCollector::readOne(pid_t pid, Files& f) {
  if (!f.status.isOpen() && f.status.path().empty()) {
    f.status = ControlFile(paths_.proc(pid, "status"));
    f.stat = ControlFile(paths_.proc(pid, "stat"));
    if (smaps_) f.smaps = ControlFile(paths_.proc(pid, "smaps_rollup"));
  }
  auto status = f.status.read();
  if (!status) return status.error();
  Status st = forEachKbLine(*status, [&](std::string_view key, std::uint64_t v) {
    double d = static_cast<double>(v);
    if (key == "VmRSS")
      rss_ += d;
    else if (key == "RssAnon")
      anon_ += d;
    else if (key == "RssFile")
      file_ += d;
    else if (key == "RssShmem")
      shmem_ += d;
    else if (key == "VmSwap")
      swap_ += d;
    else if (key == "VmData")
      data_ += d;
  });
  if (!st) return makeError(st.error().message, f.status.path());

  auto stat = f.stat.read();
  if (!stat) return stat.error();
  auto ps = parseProcStat(*stat);
  if (!ps) return makeError(ps.error().message, f.stat.path());
  minflt_ += static_cast<double>(ps->minflt);
  majflt_ += static_cast<double>(ps->majflt);

  if (smaps_) {
    auto sm = f.smaps.read();
    // Kernel threads and zombies have an empty smaps_rollup; older kernels (< 4.14) have none.
    if (sm) {
      st = forEachKbLine(*sm, [&](std::string_view key, std::uint64_t v) {
        if (key == "Pss") {
          pss_ += static_cast<double>(v);
          have_pss_ = true;
        }
      });
      if (!st) return makeError(st.error().message, f.smaps.path());
    } else if (sm.error().isGone() && sm.error().errnum != ENOENT) {
      return sm.error();
    }
  }
  return Ok{};
}

Status ProcessCollector::collect(Snapshot& out) {
  rss_ = anon_ = file_ = shmem_ = swap_ = data_ = pss_ = minflt_ = majflt_ = 0;
  have_pss_ = false;
  if (pid_) {
    if (check_pid_dir_ && !fileExists(pid_dir_))
      return makeError("no such process", pid_dir_, ESRCH);
    pids_.assign(1, *pid_);
  } else {
    // cgroup v1 caches a cgroup's pid list per open file: a held descriptor re-read at offset 0
    // keeps answering the list of its first read, and building a fresh one on open costs ~10 us.
    // So v1 re-opens once a second: a process that joins is counted within a second, while its
    // members' counters are still read every tick. cgroup2 restarts the list at offset 0.
    if (reopen_procs_ && (!procs_opened_ || out.steady - *procs_opened_ >= kProcsRefresh ||
                          out.steady < *procs_opened_)) {
      if (auto st = procs_->open(); !st) return st.error();
      procs_opened_ = out.steady;
    }
    auto text = procs_->read();
    if (!text) return text.error();
    if (auto st = parsePidList(*text, pids_); !st)
      return makeError(st.error().message, procs_->path());
  }
  out.set(Sig::kProcessCount, static_cast<double>(pids_.size()));
  if (pids_.size() > kMaxProcesses) {
    files_.clear();
    return Ok{};
  }
  // Forget the processes that left; the map stays small (bounded by kMaxProcesses).
  std::sort(pids_.begin(), pids_.end());
  for (auto it = files_.begin(); it != files_.end();)
    it = std::binary_search(pids_.begin(), pids_.end(), it->first) ? std::next(it)
                                                                   : files_.erase(it);

  std::size_t counted = 0;
  for (int pid : pids_) {
    Status st = readOne(pid, files_[pid]);
    if (!st) {
      // A member that exited between cgroup.procs and its files is not an error; the one
      // process of a pid target is.
      if (pid_ || !(st.error().isGone() || st.error().errnum == ESRCH)) return st;
      files_.erase(pid);
      continue;
    }
    ++counted;
  }
  if (pid_ == std::nullopt) out.set(Sig::kProcessCount, static_cast<double>(counted));
  out.set(Sig::kRssBytes, rss_);
  out.set(Sig::kRssAnonBytes, anon_);
  out.set(Sig::kRssFileBytes, file_);
  out.set(Sig::kRssShmemBytes, shmem_);
  out.set(Sig::kProcSwapBytes, swap_);
  out.set(Sig::kProcDataBytes, data_);
  out.set(Sig::kProcMinflt, minflt_);
  out.set(Sig::kProcMajflt, majflt_);
  if (have_pss_) out.set(Sig::kPssBytes, pss_);
  return Ok{};
}

}  // namespace oomsentinel
