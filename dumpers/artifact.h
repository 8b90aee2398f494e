// dumpers/: capturing evidence while the process is still alive.
// Writing an artifact into a bundle: mode 0600 (a heap dump can hold secrets), fsynced, with its
// size and SHA-256, and cut at a size cap.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "dumpers/dumper.h"

namespace oomsentinel {

// Writes `data` (at most max_bytes of it) to dir/name.
Result<Artifact> writeArtifact(const std::string& dir, const std::string& name,
                               std::string_view data, std::uint64_t max_bytes);
// Copies the file at `src` (at most max_bytes of it) to dir/name, reading it with pread; a file
// still being written is copied as far as it is. For kernel files (/proc/PID/maps, a cgroup's
// files): `src` is opened without following a final symlink and without blocking. A file of a
// target is opened through core/target_fs.h and copied with copyArtifactFromFd.
Result<Artifact> copyArtifact(const std::string& dir, const std::string& name,
                              const std::string& src, std::uint64_t max_bytes);
// The SHA-256 of a file already in place (a dumper that wrote dir/name itself, e.g. through a
// child's stdout), as an Artifact; cut at max_bytes when it is larger. Only a plain file with
// one link, owned by us or by `writer` (the uid of the child that wrote there), is taken: a hard
// link to another file (EMLINK) or a file of anyone else (EPERM) is refused before it is touched.
Result<Artifact> finishArtifact(const std::string& dir, const std::string& name,
                                std::uint64_t max_bytes, std::optional<uid_t> writer = {});
// Copies the regular file open at `fd` (at most max_bytes of it, by its size when the copy
// starts) to dir/name. Holes stay holes: a sparse file of a target costs the bundle only its
// data, and the SHA-256 covers the logical content (a hole reads as zeros).
Result<Artifact> copyArtifactFromFd(const std::string& dir, const std::string& name, int fd,
                                    std::uint64_t max_bytes);

// An artifact written as its bytes arrive (a profile streamed off a socket), so that it never
// sits in memory whole: dir/name created as above (0600, never over an existing file), hashed
// as written, cut at max_bytes (0: no cap), fsynced by finish(). Dropped without finish() (the
// capture failed), the file is removed: a bundle holds no half-written artifact.
class ArtifactStream {
 public:
  static Result<ArtifactStream> create(const std::string& dir, const std::string& name,
                                       std::uint64_t max_bytes);
  ArtifactStream(ArtifactStream&&) noexcept;
  ArtifactStream& operator=(ArtifactStream&&) noexcept;
  ~ArtifactStream();

  // Appends `data`; what goes past max_bytes is dropped and marks the artifact truncated.
  Status write(std::string_view data);
  // The source had more than was given (a body cut by the reader at the same cap).
  void markTruncated();
  std::uint64_t bytes() const;
  // fsync; the Artifact with its size, SHA-256 and truncated flag. Once.
  Result<Artifact> finish();

 private:
  struct State;
  explicit ArtifactStream(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

}  // namespace oomsentinel
