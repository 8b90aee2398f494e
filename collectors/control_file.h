// collectors/: turning kernel text into Snapshots.
// ControlFile: one kernel file held open and re-read with pread at offset 0, so a tick costs a
// read, not an open. A file whose cgroup was removed (ENODEV/ENOENT/ESTALE) is re-opened once,
// which follows a cgroup re-created under the same name, or reported as gone.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace oomsentinel {

class ControlFile {
 public:
  ControlFile() = default;
  explicit ControlFile(std::string path);
  ~ControlFile();
  ControlFile(ControlFile&& other) noexcept;
  ControlFile& operator=(ControlFile&& other) noexcept;
  ControlFile(const ControlFile&) = delete;
  ControlFile& operator=(const ControlFile&) = delete;

  // Opens now; an error for a file that does not exist lets a collector decide that an
  // optional signal is absent.
  Status open();
  // The whole file. The view stays valid until the next read. Re-opens once when the held
  // descriptor went stale.
  Result<std::string_view> read();
  const std::string& path() const { return path_; }
  bool isOpen() const { return fd_ >= 0; }
  // Read until pread returns 0 instead of stopping at the first short read.
  void setReadToEof(bool on) { read_to_eof_ = on; }

 private:
  Result<std::string_view> readOnce();
  void close();

  std::string path_;
  int fd_ = -1;
  bool read_to_eof_ = false;
  std::string buf_;
};

// Reads a whole file once (no descriptor kept): for files read once per resolution, such as
// /proc/PID/cgroup and mountinfo.
Result<std::string> readWholeFile(const std::string& path);
bool fileExists(const std::string& path);
// The kernel's own filesystems, whose held descriptors report a removed cgroup (ENODEV) or an
// exited process (ESRCH) by themselves; fixture trees of plain files need a stat instead.
bool isCgroupfs(const std::string& path);
bool isProcfs(const std::string& path);

}  // namespace oomsentinel
