#include "common/file_system.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/fake_file_system.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// EXPECT_THAT(StatusOr, IsOkAndHolds(matcher)).
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// A fresh directory under Bazel's per-test temporary directory.
std::string FreshDirectory(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(base != nullptr ? base : "/tmp", "/fs_test_", name, "_",
                   absl::ToUnixNanos(absl::Now()));
  EXPECT_THAT(PosixFileSystem::Default()->CreateDirectories(dir), IsOk());
  return dir;
}

TEST(PosixFileSystemTest, WriteThenStatAndReadRoundTrips) {
  PosixFileSystem& fs = *PosixFileSystem::Default();
  const std::string dir = FreshDirectory("roundtrip");
  const std::string path = dir + "/a.log";
  const std::string text("line 1\r\nline 2\0binary\n", 23);
  ASSERT_THAT(fs.WriteFile(path, text), IsOk());

  CCB_ASSERT_OK_AND_ASSIGN(FileInfo info, fs.Stat(path));
  EXPECT_EQ(info.size, 23);
  EXPECT_FALSE(info.is_directory);
  EXPECT_GT(info.mtime, absl::Now() - absl::Hours(1));
  EXPECT_THAT(fs.ReadFile(path), IsOkAndHolds(std::string(text)));
}

TEST(PosixFileSystemTest, MissingPathsAreNotFoundAndNamed) {
  PosixFileSystem& fs = *PosixFileSystem::Default();
  const std::string path = FreshDirectory("missing") + "/nothing.out";
  EXPECT_THAT(fs.Stat(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nothing.out")));
  EXPECT_THAT(fs.ReadFile(path),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nothing.out")));
  EXPECT_THAT(fs.ListDirectory(path),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST(PosixFileSystemTest, ReadingADirectoryIsRefused) {
  PosixFileSystem& fs = *PosixFileSystem::Default();
  const std::string dir = FreshDirectory("dir");
  EXPECT_THAT(fs.ReadFile(dir),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  CCB_ASSERT_OK_AND_ASSIGN(FileInfo info, fs.Stat(dir));
  EXPECT_TRUE(info.is_directory);
}

TEST(PosixFileSystemTest, DirectoriesListCopyAndRename) {
  PosixFileSystem& fs = *PosixFileSystem::Default();
  const std::string dir = FreshDirectory("ops");
  ASSERT_THAT(fs.CreateDirectories(dir + "/.ccbatch/attempt-1"), IsOk());
  ASSERT_THAT(fs.CreateDirectories(dir + "/.ccbatch/attempt-1"), IsOk());
  ASSERT_THAT(fs.WriteFile(dir + "/b.out", "bee"), IsOk());
  ASSERT_THAT(fs.CopyFile(dir + "/b.out", dir + "/c.xyz"), IsOk());
  ASSERT_THAT(fs.Rename(dir + "/b.out", dir + "/.ccbatch/attempt-1/b.out"),
              IsOk());

  EXPECT_THAT(fs.ListDirectory(dir),
              IsOkAndHolds(ElementsAre(".ccbatch", "c.xyz")));
  EXPECT_THAT(fs.ReadFile(dir + "/.ccbatch/attempt-1/b.out"),
              IsOkAndHolds(std::string("bee")));
  EXPECT_THAT(fs.ReadFile(dir + "/c.xyz"), IsOkAndHolds(std::string("bee")));
  EXPECT_THAT(fs.CopyFile(dir + "/absent", dir + "/d"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(fs.CreateDirectories(dir + "/c.xyz"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST(PosixFileSystemTest, WriteReplacesAnExistingFile) {
  PosixFileSystem& fs = *PosixFileSystem::Default();
  const std::string path = FreshDirectory("replace") + "/f";
  ASSERT_THAT(fs.WriteFile(path, "a longer first version"), IsOk());
  ASSERT_THAT(fs.WriteFile(path, "short"), IsOk());
  EXPECT_THAT(fs.ReadFile(path), IsOkAndHolds(std::string("short")));
}

TEST(FakeFileSystemTest, FilesHaveTheContentsAndTimesTheyWereGiven) {
  FakeFileSystem fs;
  const absl::Time t = absl::FromUnixSeconds(1767225600);
  fs.SetFile("/jobs/a/a.log", "hello", t);
  CCB_ASSERT_OK_AND_ASSIGN(FileInfo info, fs.Stat("/jobs/a/a.log"));
  EXPECT_EQ(info, (FileInfo{5, t, false}));
  EXPECT_EQ(fs.ReadCount("/jobs/a/a.log"), 0);
  EXPECT_THAT(fs.ReadFile("/jobs/a/a.log"), IsOkAndHolds(std::string("hello")));
  EXPECT_EQ(fs.ReadCount("/jobs/a/a.log"), 1);

  fs.AppendToFile("/jobs/a/a.log", " world", t + absl::Seconds(3));
  CCB_ASSERT_OK_AND_ASSIGN(info, fs.Stat("/jobs/a/a.log"));
  EXPECT_EQ(info.size, 11);
  EXPECT_EQ(info.mtime, t + absl::Seconds(3));

  fs.RemoveFile("/jobs/a/a.log");
  EXPECT_THAT(fs.Stat("/jobs/a/a.log"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST(FakeFileSystemTest, DirectoriesAreImpliedByTheirFiles) {
  FakeFileSystem fs;
  fs.SetFile("/r/j1/x.out", "", absl::UnixEpoch());
  fs.SetFile("/r/j1/sub/y", "", absl::UnixEpoch());
  fs.SetFile("/r/j10/z", "", absl::UnixEpoch());
  ASSERT_THAT(fs.CreateDirectories("/r/j1/.ccbatch/attempt-1"), IsOk());

  CCB_ASSERT_OK_AND_ASSIGN(FileInfo info, fs.Stat("/r/j1"));
  EXPECT_TRUE(info.is_directory);
  EXPECT_THAT(fs.ListDirectory("/r/j1"),
              IsOkAndHolds(ElementsAre(".ccbatch", "sub", "x.out")));
  EXPECT_THAT(fs.ListDirectory("/r"), IsOkAndHolds(ElementsAre("j1", "j10")));
  EXPECT_THAT(fs.ReadFile("/r/j1"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST(FakeFileSystemTest, InjectedErrorsWinUntilCleared) {
  FakeFileSystem fs;
  fs.SetFile("/a", "x", absl::UnixEpoch());
  fs.SetError("/a", absl::PermissionDeniedError("open /a: denied"));
  EXPECT_THAT(fs.Stat("/a"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(fs.ReadFile("/a"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  fs.SetError("/a", absl::OkStatus());
  EXPECT_THAT(fs.ReadFile("/a"), IsOkAndHolds(std::string("x")));
}

TEST(FakeFileSystemTest, WritesCopiesAndRenamesUseTheWriteTime) {
  FakeFileSystem fs;
  const absl::Time old_time = absl::FromUnixSeconds(100);
  const absl::Time write_time = absl::FromUnixSeconds(200);
  fs.SetFile("/d/in.xyz", "3\n", old_time);
  fs.SetWriteTime(write_time);
  ASSERT_THAT(fs.CopyFile("/d/in.xyz", "/e/in.xyz"), IsOk());
  ASSERT_THAT(fs.Rename("/d/in.xyz", "/d/old.xyz"), IsOk());

  CCB_ASSERT_OK_AND_ASSIGN(FileInfo copied, fs.Stat("/e/in.xyz"));
  EXPECT_EQ(copied.mtime, write_time);
  CCB_ASSERT_OK_AND_ASSIGN(FileInfo renamed, fs.Stat("/d/old.xyz"));
  EXPECT_EQ(renamed.mtime, old_time);
  EXPECT_EQ(fs.Contents("/d/in.xyz"), std::nullopt);
  EXPECT_EQ(fs.Contents("/d/old.xyz"), std::optional<std::string>("3\n"));
}

}  // namespace
}  // namespace ccbatch::common
