// An in-memory FileSystem for tests: files with chosen contents and mtimes,
// injected errors, and counters that show whether a file was read.
#ifndef CCBATCH_COMMON_FAKE_FILE_SYSTEM_H_
#define CCBATCH_COMMON_FAKE_FILE_SYSTEM_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/file_system.h"

namespace ccbatch::common {

// Paths are compared as strings (no normalisation): use the same spelling
// when setting and reading. A directory exists if it was created or if a
// file lies below it. Thread-safe.
class FakeFileSystem final : public FileSystem {
 public:
  FakeFileSystem() = default;

  // Creates or replaces a file. Its size is `contents.size()`.
  void SetFile(const std::string& path, absl::string_view contents,
               absl::Time mtime);
  // Appends to a file (created empty if absent) and sets its mtime.
  void AppendToFile(const std::string& path, absl::string_view text,
                    absl::Time mtime);
  // Removes a file; no effect if absent.
  void RemoveFile(const std::string& path);
  // Makes every operation on `path` fail with `error` until cleared with
  // an OK status.
  void SetError(const std::string& path, absl::Status error);
  // The mtime WriteFile, CopyFile and CreateDirectories give what they
  // create (Rename keeps a file's mtime, as rename(2) does).
  void SetWriteTime(absl::Time time);

  // How many times ReadFile returned the content of `path`.
  int ReadCount(const std::string& path) const;
  // The content of a file; nullopt if there is none.
  std::optional<std::string> Contents(const std::string& path) const;

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

 private:
  struct File {
    std::string contents;
    absl::Time mtime;
  };

  absl::Status InjectedError(const std::string& path) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool IsDirectory(const std::string& path) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Ordered so that the files below a directory are a contiguous range.
  std::map<std::string, File> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> directories_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, int> read_counts_
      ABSL_GUARDED_BY(mu_);
  absl::Time write_time_ ABSL_GUARDED_BY(mu_) = absl::UnixEpoch();
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_FAKE_FILE_SYSTEM_H_
