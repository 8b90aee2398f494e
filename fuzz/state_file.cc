// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The state file reader of `oomsentinel status` (daemon/state_file.h daemonSummary): the file is
// the daemon's, but `status` runs as whoever asks and must not trip on a damaged or forged one.
// daemonSummary takes a path, so each input is written to a file first.
#include "daemon/state_file.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.h"
#include "fuzz/scratch.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = fuzz::scratchDir() + "/state.json";
  fuzz::writeInput(path, data, size);
  FakeClock clock;
  (void)daemonSummary(path, clock, std::chrono::seconds(5));
  return 0;
}
