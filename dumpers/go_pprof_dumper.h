// dumpers/: capturing evidence while the process is still alive.
// GoPprofDumper: the Go runtime's own profiles over HTTP (net/http/pprof), fetched concurrently,
// each bounded by the dump's deadline and the size cap.
#pragma once

#include <string>
#include <vector>

#include "core/http_client.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

class GoPprofDumper final : public Dumper {
 public:
  // `base`: the pprof address (go.pprof_url); `profiles`: paths under /debug/pprof/, such as
  // "heap", "allocs", "goroutine?debug=2".
  GoPprofDumper(Url base, std::vector<std::string> profiles)
      : base_(std::move(base)), profiles_(std::move(profiles)) {}
  const char* name() const override { return "go_pprof"; }
  DumpOutcome run(const DumpRequest& req) override;

  // "heap" -> "go-heap.pb.gz"; "goroutine?debug=2" -> "go-goroutine-debug2.txt" (debug=N>0 is
  // text, the rest is gzipped protobuf).
  static std::string fileFor(const std::string& profile);

 private:
  Url base_;
  std::vector<std::string> profiles_;
};

}  // namespace oomsentinel
