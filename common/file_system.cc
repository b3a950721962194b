#include "common/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ccbatch::common {
namespace {

// "open /x/y: No such file or directory", with the code errno implies.
absl::Status ErrnoError(int error_number, absl::string_view what,
                        const std::string& path) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, " ", path));
}

// Closes a descriptor on every path out of a function.
class FdCloser final {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string TemporaryPathBeside(const std::string& path) {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrCat(path, ".ccbatch-tmp-", absl::Uniform<uint64_t>(*gen));
}

}  // namespace

absl::StatusOr<FileInfo> PosixFileSystem::Stat(const std::string& path) const {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
  FileInfo info;
  info.size = static_cast<int64_t>(st.st_size);
  info.mtime = absl::TimeFromTimespec(st.st_mtim);
  info.is_directory = S_ISDIR(st.st_mode);
  return info;
}

absl::StatusOr<std::string> PosixFileSystem::ReadFile(
    const std::string& path) const {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "fstat", path);
  if (S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("read ", path, ": is a directory"));
  }
  std::string contents;
  // The size is a hint: the file may grow or shrink while it is read.
  contents.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  while (true) {
    if (used == contents.size()) contents.resize(contents.size() * 2 + 4096);
    const ssize_t n = ::read(fd, &contents[used], contents.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "read", path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  contents.resize(used);
  return contents;
}

absl::StatusOr<std::vector<std::string>> PosixFileSystem::ListDirectory(
    const std::string& path) const {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return ErrnoError(errno, "opendir", path);
  std::vector<std::string> names;
  errno = 0;
  while (const struct dirent* entry = ::readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int read_errno = errno;
  ::closedir(dir);
  if (read_errno != 0) return ErrnoError(read_errno, "readdir", path);
  std::sort(names.begin(), names.end());
  return names;
}

absl::Status PosixFileSystem::CreateDirectories(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("create directories: empty path");
  }
  std::string prefix = absl::StartsWith(path, "/") ? "/" : "";
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, part, "/");
    if (::mkdir(prefix.c_str(), 0777) == 0 || errno == EEXIST) continue;
    return ErrnoError(errno, "mkdir", prefix);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "create directories ", path, ": exists and is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status PosixFileSystem::WriteFile(const std::string& path,
                                        absl::string_view contents) {
  const std::string temporary = TemporaryPathBeside(path);
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoError(errno, "create", temporary);
  absl::Status status;
  {
    FdCloser closer(fd);
    status = WriteAll(fd, contents, temporary);
    if (status.ok() && ::fsync(fd) != 0) {
      status = ErrnoError(errno, "fsync", temporary);
    }
  }
  if (status.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = ErrnoError(errno, "rename to", path);
  }
  if (!status.ok()) ::unlink(temporary.c_str());
  return status;
}

absl::Status PosixFileSystem::CopyFile(const std::string& source,
                                       const std::string& destination) {
  absl::StatusOr<std::string> contents = ReadFile(source);
  if (!contents.ok()) return contents.status();
  return WriteFile(destination, *contents);
}

absl::Status PosixFileSystem::Rename(const std::string& from,
                                     const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

PosixFileSystem* PosixFileSystem::Default() {
  static PosixFileSystem* instance = new PosixFileSystem();
  return instance;
}

}  // namespace ccbatch::common
