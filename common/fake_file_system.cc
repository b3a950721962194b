#include "common/fake_file_system.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::common {
namespace {

std::string DirectoryPrefix(const std::string& path) {
  return absl::EndsWith(path, "/") ? path : path + "/";
}

}  // namespace

void FakeFileSystem::SetFile(const std::string& path,
                             absl::string_view contents, absl::Time mtime) {
  absl::MutexLock lock(&mu_);
  files_[path] = File{std::string(contents), mtime};
}

void FakeFileSystem::AppendToFile(const std::string& path,
                                  absl::string_view text, absl::Time mtime) {
  absl::MutexLock lock(&mu_);
  File& file = files_[path];
  file.contents.append(text.data(), text.size());
  file.mtime = mtime;
}

void FakeFileSystem::RemoveFile(const std::string& path) {
  absl::MutexLock lock(&mu_);
  files_.erase(path);
}

void FakeFileSystem::SetError(const std::string& path, absl::Status error) {
  absl::MutexLock lock(&mu_);
  if (error.ok()) {
    errors_.erase(path);
  } else {
    errors_[path] = std::move(error);
  }
}

void FakeFileSystem::SetWriteTime(absl::Time time) {
  absl::MutexLock lock(&mu_);
  write_time_ = time;
}

int FakeFileSystem::ReadCount(const std::string& path) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = read_counts_.find(path);
  return it == read_counts_.end() ? 0 : it->second;
}

std::optional<std::string> FakeFileSystem::Contents(
    const std::string& path) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.contents;
}

absl::Status FakeFileSystem::InjectedError(const std::string& path) const {
  auto it = errors_.find(path);
  return it == errors_.end() ? absl::OkStatus() : it->second;
}

bool FakeFileSystem::IsDirectory(const std::string& path) const {
  if (directories_.count(path) > 0) return true;
  const std::string prefix = DirectoryPrefix(path);
  auto it = files_.lower_bound(prefix);
  if (it != files_.end() && absl::StartsWith(it->first, prefix)) return true;
  auto dir = directories_.lower_bound(prefix);
  return dir != directories_.end() && absl::StartsWith(dir->first, prefix);
}

absl::StatusOr<FileInfo> FakeFileSystem::Stat(const std::string& path) const {
  absl::ReaderMutexLock lock(&mu_);
  if (absl::Status error = InjectedError(path); !error.ok()) return error;
  if (auto it = files_.find(path); it != files_.end()) {
    FileInfo info;
    info.size = static_cast<int64_t>(it->second.contents.size());
    info.mtime = it->second.mtime;
    return info;
  }
  if (IsDirectory(path)) {
    FileInfo info;
    info.is_directory = true;
    auto dir = directories_.find(path);
    if (dir != directories_.end()) info.mtime = dir->second;
    return info;
  }
  return absl::NotFoundError(
      absl::StrCat("stat ", path, ": No such file or directory"));
}

absl::StatusOr<std::string> FakeFileSystem::ReadFile(
    const std::string& path) const {
  absl::MutexLock lock(&mu_);
  if (absl::Status error = InjectedError(path); !error.ok()) return error;
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (IsDirectory(path)) {
      return absl::FailedPreconditionError(
          absl::StrCat("read ", path, ": is a directory"));
    }
    return absl::NotFoundError(
        absl::StrCat("open ", path, ": No such file or directory"));
  }
  ++read_counts_[path];
  return it->second.contents;
}

absl::StatusOr<std::vector<std::string>> FakeFileSystem::ListDirectory(
    const std::string& path) const {
  absl::ReaderMutexLock lock(&mu_);
  if (absl::Status error = InjectedError(path); !error.ok()) return error;
  if (!IsDirectory(path)) {
    return absl::NotFoundError(
        absl::StrCat("opendir ", path, ": No such file or directory"));
  }
  const std::string prefix = DirectoryPrefix(path);
  std::vector<std::string> names;
  auto add_child = [&](const std::string& entry) {
    if (!absl::StartsWith(entry, prefix) || entry.size() == prefix.size()) {
      return;
    }
    const std::string rest = entry.substr(prefix.size());
    const std::string name = rest.substr(0, rest.find('/'));
    if (names.empty() || names.back() != name) names.push_back(name);
  };
  for (auto it = files_.lower_bound(prefix); it != files_.end(); ++it) {
    if (!absl::StartsWith(it->first, prefix)) break;
    add_child(it->first);
  }
  for (auto it = directories_.lower_bound(prefix); it != directories_.end();
       ++it) {
    if (!absl::StartsWith(it->first, prefix)) break;
    add_child(it->first);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

absl::Status FakeFileSystem::CreateDirectories(const std::string& path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status error = InjectedError(path); !error.ok()) return error;
  if (files_.count(path) > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "create directories ", path, ": exists and is not a directory"));
  }
  std::string trimmed = path;
  while (trimmed.size() > 1 && absl::EndsWith(trimmed, "/")) trimmed.pop_back();
  directories_.emplace(trimmed, write_time_);
  return absl::OkStatus();
}

absl::Status FakeFileSystem::WriteFile(const std::string& path,
                                       absl::string_view contents) {
  absl::MutexLock lock(&mu_);
  if (absl::Status error = InjectedError(path); !error.ok()) return error;
  files_[path] = File{std::string(contents), write_time_};
  return absl::OkStatus();
}

absl::Status FakeFileSystem::CopyFile(const std::string& source,
                                      const std::string& destination) {
  absl::MutexLock lock(&mu_);
  if (absl::Status error = InjectedError(source); !error.ok()) return error;
  if (absl::Status error = InjectedError(destination); !error.ok()) {
    return error;
  }
  auto it = files_.find(source);
  if (it == files_.end()) {
    return absl::NotFoundError(
        absl::StrCat("open ", source, ": No such file or directory"));
  }
  files_[destination] = File{it->second.contents, write_time_};
  return absl::OkStatus();
}

absl::Status FakeFileSystem::Rename(const std::string& from,
                                    const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (absl::Status error = InjectedError(from); !error.ok()) return error;
  if (absl::Status error = InjectedError(to); !error.ok()) return error;
  auto it = files_.find(from);
  if (it == files_.end()) {
    return absl::NotFoundError(absl::StrCat("rename ", from, " to ", to,
                                            ": No such file or directory"));
  }
  File file = std::move(it->second);
  files_.erase(it);
  files_[to] = std::move(file);
  return absl::OkStatus();
}

}  // namespace ccbatch::common
