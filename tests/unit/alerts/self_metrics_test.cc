// The self guard's series (alerts/self_metrics.h) in DaemonMetrics' exposition: the gauge at 0
// from the start, the own memory and limit present only while known, the drops counted by what.
#include "alerts/self_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "alerts/metrics.h"

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(SelfMetrics, DegradedOwnMemoryAndWhatWasDropped) {
  DaemonMetrics m(HostPaths{});
  std::string t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded 0\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded_dropped_total{what=\"full_read\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded_dropped_total{what=\"dump\"} 0\n"));
  EXPECT_THAT(t, Not(HasSubstr("oomsentinel_self_memory_bytes ")));

  m.selfMemory(true, 95.0 * 1048576, 100.0 * 1048576);
  m.degradedDropped("full_read");
  m.degradedDropped("full_read");
  m.degradedDropped("dump");
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded 1\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_self_memory_bytes 99614720\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_self_memory_limit_bytes 104857600\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded_dropped_total{what=\"full_read\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded_dropped_total{what=\"dump\"} 1\n"));

  // The limit lifted (and the guard with it): not degraded, and no stale limit scraped.
  m.selfMemory(false, 95.0 * 1048576, std::nullopt);
  t = m.render();
  EXPECT_THAT(t, HasSubstr("oomsentinel_degraded 0\n"));
  EXPECT_THAT(t, HasSubstr("oomsentinel_self_memory_bytes 99614720\n"));
  EXPECT_THAT(t, Not(HasSubstr("oomsentinel_self_memory_limit_bytes ")));
  m.selfMemory(false, std::nullopt, std::nullopt);
  EXPECT_THAT(m.render(), Not(HasSubstr("oomsentinel_self_memory_bytes ")));
}

}  // namespace
}  // namespace oomsentinel
