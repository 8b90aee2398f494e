// The PSI trigger (collectors/kernel_events.h) on this machine's /proc/pressure/memory, with its
// 2 s fallback.
#include "collectors/kernel_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

namespace oomsentinel {
namespace {

bool hasCapSysResource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("CapEff:", 0) == 0)
      return (std::stoull(line.substr(7), nullptr, 16) >> CAP_SYS_RESOURCE) & 1;
  return false;
}

// A real trigger on this machine: a 1 s window needs CAP_SYS_RESOURCE; without it the window is
// widened to 2 s and the stall scaled with it.
TEST(PsiTrigger, OnTheHostWithTheTwoSecondFallbackWithoutCapSysResource) {
  if (::access("/proc/pressure/memory", W_OK) != 0)
    GTEST_SKIP() << "/proc/pressure/memory is not writable here (no PSI, or not root)";
  auto t = PsiTrigger::open("/proc/pressure/memory", std::chrono::milliseconds(100),
                            std::chrono::seconds(1));
  ASSERT_TRUE(t.ok()) << t.error().describe();
  EXPECT_GE(t->fd(), 0);
  if (hasCapSysResource()) {
    EXPECT_FALSE(t->widened());
    EXPECT_EQ(t->window(), std::chrono::seconds(1));
  } else {
    EXPECT_TRUE(t->widened());
    EXPECT_EQ(t->window(), std::chrono::seconds(2));
    EXPECT_EQ(t->stall(), std::chrono::milliseconds(200));
  }
  // A 2 s window is taken as it is by anyone.
  auto even = PsiTrigger::open("/proc/pressure/memory", std::chrono::milliseconds(150),
                               std::chrono::seconds(2));
  ASSERT_TRUE(even.ok()) << even.error().describe();
  EXPECT_FALSE(even->widened());
  // What the kernel refuses whatever the privilege is an error that says what was written.
  auto bad =
      PsiTrigger::open("/proc/pressure/memory", std::chrono::seconds(3), std::chrono::seconds(2));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().describe(), ::testing::HasSubstr("some 3000000 2000000"));
  auto missing = PsiTrigger::open("/nonexistent/pressure", std::chrono::milliseconds(100),
                                  std::chrono::seconds(1));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().describe(), ::testing::HasSubstr("/nonexistent/pressure"));
}

}  // namespace
}  // namespace oomsentinel
