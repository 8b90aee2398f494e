// dumpers/: what the pieces of IncidentStore (incident_store.h) share; private to dumpers/.
// incident_store.cc is the store (begin, publish, retention), incident_files.cc the times in names
// and manifests and the durable file operations, incident_manifest.cc the manifest and the scan
// of published bundles, incident_read.cc one published bundle read back whole.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "dumpers/incident_store.h"

namespace oomsentinel::incident_detail {

constexpr std::string_view kPartialPrefix = ".partial-";
// A stopped run's `.partial-*` that could be neither recorded lost nor removed is renamed to
// this prefix (told once, with why): prepare() never looks at it again.
constexpr std::string_view kLostFailedPrefix = ".lost-failed-";
constexpr const char* kManifest = "manifest.json";
// What fired, written into the `.partial-*` directory by begin() for prepare() to read back if
// the daemon stops before publish(), which removes it. A file of its own rather than a first
// manifest.json: it must not give the final manifest its blocks, or a disk that filled up under
// the dumpers would still let the manifest be written beside a half-written artifact.
constexpr const char* kBegunRecord = ".begun.json";
// A manifest is a few KiB; a bigger one is not ours, and reading it whole would cost the memory
// the watchdog exists to save.
constexpr std::size_t kMaxManifestBytes = 16u << 20;
// begin()'s record holds what fired, a few hundred bytes: read no more than this of it.
constexpr std::size_t kMaxBegunBytes = 64u << 10;
// Deeper JSON than this is not a manifest: it is discarded while parsing, before a tree that
// deep is built (nlohmann destroys a tree recursively).
constexpr std::size_t kMaxJsonDepth = 16;
// Past this many "-N" suffixes something is wrong with the directory, not just busy.
constexpr int kMaxCollisions = 10000;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "2026-11-29T09:35:12.123Z", as the manifest writes times.
std::string isoTime(WallTime t);
// "20261129T093512.123Z", as bundle names start: sorts like the time and has no ':' (which
// some tools that copy bundles off the host refuse in file names).
std::string compactTime(WallTime t);
// The manifest's times back ("2026-11-29T09:35:12.123Z"); nullopt when not one.
std::optional<WallTime> parseIsoTime(std::string_view s);
// The time at the start of a bundle's name, when the name has a bundle's shape:
// "<compact time>-<something>".
std::optional<WallTime> nameTime(std::string_view name);

// Target and rule names come from the config, but a name is still not a path: anything beyond
// [A-Za-z0-9._-] becomes '_', and the length is capped so the bundle name stays under NAME_MAX.
std::string namePart(std::string_view s);
// Whether anything is at `path` (a symlink not followed); true when that cannot be told.
bool exists(const std::string& path);
Status fsyncDir(const std::string& path);
Status removeTree(const std::string& path);
// Every file of a bundle made private and durable before the rename makes it visible
// (incident_files.cc says how).
Status makeDurable(const std::string& dir);
// Created 0600 (no symlink followed), written whole and fsynced.
Status writeFileDurably(const std::string& path, std::string_view data);
// At most `max` bytes of a regular file (not a FIFO: no open waits), no symlink followed.
Result<std::string> readSmallFile(const std::string& path, std::size_t max);
// The same operations relative to a directory held open (`shown`: its path, for messages):
// the store's own directory is used by descriptor, so a path swapped for a symlink after it
// was opened is never followed. No symlink is followed below it either.
//
// `name` in `dir_fd` removed with all it holds (at most kRemoveDepth levels deep); gone already
// is fine.
constexpr int kRemoveDepth = 256;
// The names in the directory open at `dir_fd`, but "." and ".." (read from its start, on a
// descriptor of its own: `dir_fd`'s offset is left alone).
Result<std::vector<std::string>> entriesAt(int dir_fd, const std::string& shown);
Status removeTreeAt(int dir_fd, const std::string& name, const std::string& shown);
// Created 0600 (O_TRUNC over one of ours), written whole, fsynced when `sync`.
Status writeFileAt(int dir_fd, const std::string& name, std::string_view data, bool sync,
                   const std::string& shown);
Result<std::string> readSmallFileAt(int dir_fd, const std::string& name, std::size_t max,
                                    const std::string& shown);
Status makeDurableFd(int dir_fd, const std::string& shown);
Status fsyncFd(int dir_fd, const std::string& shown);
// What the bundle's files take, symlinks not followed.
std::uint64_t treeBytesAt(int dir_fd, const std::string& name);
// Whether anything is at `name` in `dir_fd` (a symlink not followed); true when it cannot be told.
bool existsAt(int dir_fd, const std::string& name);

// The manifest.json of a bundle; `outcome` ("in_progress" at begin()), when not empty, is
// written as the manifest's "outcome".
std::string manifestText(const IncidentInfo& info, const std::vector<DumpOutcome>& outcomes,
                         WallTime published_at, std::string_view outcome = {});
// `text` parsed, nested no deeper than kMaxJsonDepth; discarded when not JSON or deeper (told
// apart from invalid JSON nowhere: either way it is not a manifest).
nlohmann::json parseBoundedJson(std::string_view text);
// The record of a lost incident made from the manifest begin() left in its `.partial-*`
// (`in_progress`, which may be empty or cut short: a power cut), else from the bundle's `name`:
// "outcome": "lost", "lost_reason", no artifacts nor dumps. Only the fields begin() writes are
// taken from it, typed and cut to length: nothing else there reaches the record. Fills what it
// says into *lost.
std::string lostManifestText(std::string_view in_progress, const std::string& name, WallTime now,
                             LostIncident* lost);
// The directories in `dir` that look like published bundles: not hidden (so never a
// `.partial-*`), a real directory (not a symlink), and holding a manifest.json or named like one.
// fired_at is the manifest's, else the name's, else the directory's mtime. With `dir_fd` (`dir`
// held open) the listing goes through it, not through the path.
Result<std::vector<IncidentSummary>> scan(const std::string& dir, int dir_fd = -1);

}  // namespace oomsentinel::incident_detail
