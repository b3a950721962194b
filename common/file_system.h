// Files behind an interface, so the verdict engine, the submitter's file
// transfers and everything else above it are tested with FakeFileSystem; only
// main.cc files wire PosixFileSystem.
#ifndef CCBATCH_COMMON_FILE_SYSTEM_H_
#define CCBATCH_COMMON_FILE_SYSTEM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ccbatch::common {

// What stat(2) says about a path (symbolic links followed).
struct FileInfo {
  int64_t size = 0;
  // Last modification, to the nanosecond where the file system keeps it.
  absl::Time mtime = absl::UnixEpoch();
  bool is_directory = false;

  friend bool operator==(const FileInfo& a, const FileInfo& b) {
    return a.size == b.size && a.mtime == b.mtime &&
           a.is_directory == b.is_directory;
  }
};

// Paths are absolute or relative to the process's working directory; nothing
// is expanded. Errors use canonical codes (kNotFound for a missing path,
// kPermissionDenied, kFailedPrecondition for "is a directory", kInternal for
// other I/O errors) and messages name the path and the system's reason.
// Implementations are thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual absl::StatusOr<FileInfo> Stat(const std::string& path) const = 0;

  // The whole content of a regular file.
  virtual absl::StatusOr<std::string> ReadFile(
      const std::string& path) const = 0;

  // Names (not paths) of the entries of a directory, sorted, without "." and
  // "..".
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& path) const = 0;

  // Creates `path` and any missing parents; OK if it exists as a directory.
  virtual absl::Status CreateDirectories(const std::string& path) = 0;

  // Replaces `path` with `contents` atomically: readers see the old or the
  // new content, never a part (written to a temporary file beside it, then
  // renamed).
  virtual absl::Status WriteFile(const std::string& path,
                                 absl::string_view contents) = 0;

  // Copies a regular file's content to `destination` (atomically, as
  // WriteFile), replacing it if present.
  virtual absl::Status CopyFile(const std::string& source,
                                const std::string& destination) = 0;

  // rename(2): atomic within one file system; replaces a file at `to`.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
};

// The operating system's files (POSIX calls). Thread-safe.
class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<FileInfo> Stat(const std::string& path) const override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& path) const override;
  absl::Status CreateDirectories(const std::string& path) override;
  absl::Status WriteFile(const std::string& path,
                         absl::string_view contents) override;
  absl::Status CopyFile(const std::string& source,
                        const std::string& destination) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;

  // A process-wide instance; never destroyed.
  static PosixFileSystem* Default();
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_FILE_SYSTEM_H_
