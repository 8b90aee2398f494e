// tests/: an LD_PRELOAD library that steps the wall clock of one process, for the fault matrix's
// row 8 (docs/reliability.md). A time namespace cannot offset CLOCK_REALTIME, and stepping the
// host's clock would disturb everything else on the machine, so the daemon under test is given
// this instead: clock_gettime (CLOCK_REALTIME and its coarse and TAI variants), gettimeofday and
// time add an offset read at every call from the file named by OOMSENTINEL_WALL_OFFSET_FILE (its
// first 8 bytes, a signed count of nanoseconds, mapped shared: the test rewrites it while the
// process runs). Every other clock, CLOCK_MONOTONIC above all, is passed straight through.
// Built for the tests only; never linked into oomsentinel.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace {

using ClockGettime = int (*)(clockid_t, struct timespec*);

ClockGettime real_clock_gettime = nullptr;
const std::int64_t* offset_ns = nullptr;  // in the shared mapping; null: no offset

// At load, before main: the real function and the mapping. Without the variable, or with a file
// that cannot be mapped, the clock is left as it is.
__attribute__((constructor)) void setUp() {
  real_clock_gettime = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  const char* path = std::getenv("OOMSENTINEL_WALL_OFFSET_FILE");
  if (path == nullptr) return;
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  void* p = ::mmap(nullptr, sizeof(std::int64_t), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) offset_ns = static_cast<const std::int64_t*>(p);
}

bool isWall(clockid_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

std::int64_t offset() { return offset_ns ? __atomic_load_n(offset_ns, __ATOMIC_RELAXED) : 0; }

int realGettime(clockid_t id, struct timespec* ts) {
  if (real_clock_gettime == nullptr)  // called before the constructor ran (another one's)
    real_clock_gettime = reinterpret_cast<ClockGettime>(dlsym(RTLD_NEXT, "clock_gettime"));
  return real_clock_gettime(id, ts);
}

}  // namespace

extern "C" {

int clock_gettime(clockid_t id, struct timespec* ts) {
  int r = realGettime(id, ts);
  if (r != 0 || !isWall(id)) return r;
  std::int64_t ns = static_cast<std::int64_t>(ts->tv_sec) * 1'000'000'000 + ts->tv_nsec + offset();
  ts->tv_sec = ns / 1'000'000'000;
  ts->tv_nsec = ns % 1'000'000'000;
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1'000'000'000;
    ts->tv_sec -= 1;
  }
  return 0;
}

// glibc declares `tv` non-null, but the kernel's call takes a null one: so does this one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull-compare"
int gettimeofday(struct timeval* tv, void* /*tz*/) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  if (tv != nullptr) {
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
  }
  return 0;
}
#pragma GCC diagnostic pop

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return static_cast<time_t>(-1);
  if (out != nullptr) *out = ts.tv_sec;
  return ts.tv_sec;
}

}  // extern "C"
