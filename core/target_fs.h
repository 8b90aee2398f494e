// core/: the shared vocabulary of oomsentinel.
// TargetFs: the one door into a watched process's file system. Everything read from a target's
// root or cwd (heap profiles, hsperfdata, a JVM's /tmp) is opened through it, never by a path
// under <proc>/<pid>/root: the target owns those files and may have put anything there.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/host_paths.h"
#include "core/owned_fd.h"
#include "core/result.h"

namespace oomsentinel {

// What a file opened from a target must be. A file that is anything else is refused with an
// Error that says why, and its bytes are never read.
struct TargetFileRules {
  std::uint64_t max_bytes = 0;  // larger files (by st_size, holes included) are refused; 0: none
  std::optional<uid_t> owner;   // the file must belong to this uid (the target's, usually)
};

// One entry of a target's directory, as lstat sees it (a symlink is a symlink, never followed).
struct TargetDirEntry {
  std::string name;
  struct stat st {};
};

enum class TargetAnchor { kRoot, kCwd };

// How many entries listDir looks at: a target can fill its /tmp with a million files, and a scan
// runs on a read thread or a dump slot.
inline constexpr std::size_t kMaxDirEntries = 4096;

class TargetFs {
 public:
  // A descriptor on <proc>/<pid>/root (or cwd), taken after `pidfd` (when >= 0) was opened and
  // checked to still hold a live process afterwards, so the number cannot have been reused by
  // another process in between. The owner is the uid that owns <proc>/<pid>.
  static Result<TargetFs> open(const HostPaths& paths, pid_t pid, int pidfd, TargetAnchor anchor);
  // The door on an already-open directory (tests, and a target's root held across its exit).
  TargetFs(OwnedFd dir, uid_t owner, std::string where);

  int fd() const { return dir_.get(); }
  uid_t owner() const { return owner_; }
  // For messages: "pid 123's root".
  const std::string& where() const { return where_; }

  // A directory, resolved as the target would resolve it: absolute symlinks and ".." stay inside
  // the root (RESOLVE_IN_ROOT), /proc magic links are refused, the open never blocks.
  Result<OwnedFd> openDir(std::string_view path) const;
  // A file, resolved the same way; the last component must not be a symlink, and the file must
  // be a regular file that keeps `rules`. Opened without following, checked, then reopened for
  // reading: a FIFO, socket or device node is never opened for I/O, and a file under a lease
  // answers EWOULDBLOCK at once instead of holding the caller for the lease-break time.
  Result<OwnedFd> openFile(std::string_view path, const TargetFileRules& rules) const;

 private:
  OwnedFd dir_;
  uid_t owner_ = 0;
  std::string where_;
};

// A file named `name` (one component, no '/') in a directory already opened through the door,
// with the same checks as TargetFs::openFile.
Result<OwnedFd> openTargetFileAt(int dir_fd, std::string_view name, const TargetFileRules& rules,
                                 std::string_view where);
// A directory named `name` (one component) in such a directory; not followed if a symlink.
Result<OwnedFd> openTargetDirAt(int dir_fd, std::string_view name, std::string_view where);
// The entries of a directory opened through the door (not "." or ".."), at most kMaxDirEntries,
// each lstat'ed relative to the directory descriptor.
Result<std::vector<TargetDirEntry>> listTargetDir(int dir_fd, std::string_view where);

}  // namespace oomsentinel
