// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// The incident manifest readers (dumpers/incident_store.h IncidentStore::list, which `oomsentinel
// incidents` and retention use, and IncidentStore::detail, the walk over the whole manifest that
// `oomsentinel incidents show` prints): a bundle's manifest.json sits in the dump directory, where
// a damaged disk, a copied-in bundle or a dumper's bytes may put anything. The reader is private
// to dumpers/incident_manifest.cc and takes a directory, so each input is written as the
// manifest of the one bundle of a directory.
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dumpers/incident_store.h"
#include "fuzz/scratch.h"

using namespace oomsentinel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string manifest = [] {
    std::string bundle = fuzz::scratchDir() + "/20261129T093512.123Z-oom-target";
    if (::mkdir(bundle.c_str(), 0700) != 0) std::abort();
    return bundle + "/manifest.json";
  }();
  fuzz::writeInput(manifest, data, size);
  auto list = IncidentStore::list(fuzz::scratchDir());
  // The bundle is listed whatever its manifest says (with `problem` set when it is damaged).
  if (!list || list->size() != 1) std::abort();
  for (const auto& s : *list) (void)s.problem.size();
  // The walk: bounded whatever the manifest holds (its caps, dumpers/incident_read.cc), and a file
  // it names is looked at only inside the bundle (the names here are the manifest's).
  auto detail = IncidentStore::detail(fuzz::scratchDir(), "20261129T093512.123Z-oom-target");
  if (detail) {
    if (detail->labels.size() > 512 || detail->values.size() > 512 ||
        detail->history.size() > 10000 || detail->files.size() > 10000 ||
        detail->dumps.size() > 10000 || detail->expr.size() > (64u << 10))
      std::abort();
    for (const auto& f : detail->files)
      if (f.present && f.file.find("manifest.json") == std::string::npos)
        std::abort();  // the bundle holds nothing else
  }
  return 0;
}
