// daemon/: wiring and lifetime of the oomsentinel executable.
// ReadScheduler: the tick's reads of its targets on a small pool, in rounds with a deadline. A
// read that hangs (smaps_rollup waits for the mmap lock of a thrashing process; a FUSE-backed
// /proc) holds one thread and is left running past its round, logged once as slow; the target is
// not read again until it returns. The quiet reads' judgement (a skim, or a full read) is in
// daemon/quiet_reads.h.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "daemon/logger.h"
#include "daemon/watched.h"

namespace boost::asio {
class thread_pool;  // read_scheduler.cc
}

namespace oomsentinel {

class ReadScheduler {
 public:
  // Threads that read targets: a hung read holds one; the others go on.
  static constexpr std::size_t kReadThreads = 4;

  ReadScheduler(const Clock& clock, Logger& log);
  // Joins the pool, unless a read hangs in the kernel: then the pool is left to the process's
  // exit (a join would hang SIGTERM with it).
  ~ReadScheduler();
  ReadScheduler(const ReadScheduler&) = delete;
  ReadScheduler& operator=(const ReadScheduler&) = delete;

  // A new round: only the reads posted from now on are waited for (a late read of an earlier
  // round comes back unwaited).
  void beginRound();
  // Whether `w` may be read now: not while an earlier read still runs. One that overran and came
  // back is dropped (its snapshot is an interval old), logged.
  bool ready(Watched& w);
  // Reads `w` (a skim, or in full: TargetCollector::skim/collect) on the pool.
  void post(const std::shared_ptr<Watched>& wp, bool skim);
  using Done = std::function<void(const std::shared_ptr<Watched>&)>;
  // Waits at most `wait` for this round's reads, then hands each that is done to `done`, in
  // `round`'s order; one still running is logged once as slower than the tick (`budget`).
  void collect(const std::vector<std::shared_ptr<Watched>>& round, Duration wait, Duration budget,
               const Done& done);

 private:
  const Clock& clock_;
  Logger& log_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;  // the round; a read that finishes late belongs to an older one
  std::size_t pending_ = 0;       // this round's reads not done yet
  std::size_t running_ = 0;       // every round's reads not done yet
};

}  // namespace oomsentinel
