// The allocator's figures (alerts/allocator_metrics.h): glibc's follow what this process really
// allocates and frees, and DaemonMetrics exports them (tcmalloc's side, under LD_PRELOAD, is in
// tests/unit/daemon/run_metrics_test.cc).
#include "alerts/allocator_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "alerts/metrics.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

constexpr double kAllocatorMiB = 1024.0 * 1024.0;

// The sanitizers replace malloc: glibc's arenas then hold next to nothing of the process.
bool allocatorIsGlibcs() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#else
  return true;
#endif
}

TEST(AllocatorMetrics, GlibcFiguresFollowWhatIsAllocatedAndFreed) {
  if (!allocatorIsGlibcs())
    GTEST_SKIP() << "this build uses a sanitizer's allocator, not glibc's malloc";
  MallocFigures before = glibcMallocFigures();
  // 8 MiB in 2 KiB blocks (arena chunks, far under the mmap threshold), each written so that
  // nothing is elided, then one 64 MiB block: mapped on its own, being above the 32 MiB that
  // glibc's sliding mmap threshold can reach (an earlier free of a large block raises it).
  std::vector<char*> blocks;
  for (int i = 0; i < 4096; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(2048)));
    std::memset(blocks.back(), i & 0xff, 2048);
  }
  char* big = static_cast<char*>(std::malloc(64 << 20));
  std::memset(big, 1, 64 << 20);
  MallocFigures held = glibcMallocFigures();
  EXPECT_GE(held.in_use - before.in_use, 8 * kAllocatorMiB);
  EXPECT_GE(held.mmapped - before.mmapped, 64 * kAllocatorMiB);
  // Every other block freed: the arena cannot give the holes back, so they are malloc's free.
  for (std::size_t i = 0; i < blocks.size(); i += 2) {
    std::free(blocks[i]);
    blocks[i] = nullptr;
  }
  std::free(big);
  MallocFigures holed = glibcMallocFigures();
  EXPECT_LE(holed.in_use, held.in_use - 3.9 * kAllocatorMiB);
  EXPECT_GE(holed.free - held.free, 3.9 * kAllocatorMiB);
  EXPECT_LE(holed.mmapped, held.mmapped - 64 * kAllocatorMiB);
  for (char* b : blocks) std::free(b);
}

TEST(AllocatorMetrics, TheDaemonsExpositionHasGlibcsFiguresWithoutTcmalloc) {
  if (!allocatorIsGlibcs())
    GTEST_SKIP() << "this build uses a sanitizer's allocator, not glibc's malloc";
  DaemonMetrics m{HostPaths()};
  std::string t = m.render();
  for (const char* kind : {"in_use", "free", "mmapped"})
    EXPECT_THAT(t,
                HasSubstr(std::string("oomsentinel_process_malloc_bytes{kind=\"") + kind + "\"} "));
  std::size_t at = t.find("oomsentinel_process_malloc_bytes{kind=\"in_use\"} ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(std::strtod(t.c_str() + at + 50, nullptr), 0.0) << t.substr(at, 80);
  EXPECT_THAT(t, ::testing::Not(HasSubstr("oomsentinel_process_tcmalloc_bytes{")));
}

}  // namespace
}  // namespace oomsentinel
