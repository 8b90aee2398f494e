// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// A directory of the fuzzing process's own for the harnesses whose reader takes a path (the state
// file, the incident manifests): made on first use under $TMPDIR (or /tmp), removed at exit.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace oomsentinel::fuzz {

inline const std::string& scratchDir() {
  // Never destroyed, so that the exit handler below can still read it.
  static const std::string* dir = [] {
    const char* base = std::getenv("TMPDIR");
    auto* d =
        new std::string(std::string(base && *base ? base : "/tmp") + "/oomsentinel-fuzz-XXXXXX");
    if (!::mkdtemp(d->data())) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratchDir(), ec);
    });
    return d;
  }();
  return *dir;
}

// Replaces `path` with the input's bytes.
inline void writeInput(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
}

}  // namespace oomsentinel::fuzz
