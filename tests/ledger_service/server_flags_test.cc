#include "ledger_service/server_flags.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/fake_file_system.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ParseClusterCapsTest, ValidValues) {
  CCB_ASSERT_OK_AND_ASSIGN(auto caps, ParseClusterCaps({"hpc1=200", "gpu=0"}));
  EXPECT_THAT(caps, UnorderedElementsAre(Pair("hpc1", 200), Pair("gpu", 0)));
  CCB_ASSERT_OK_AND_ASSIGN(auto none, ParseClusterCaps({}));
  EXPECT_THAT(none, IsEmpty());
}

class BadClusterCapTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadClusterCapTest, NamesTheValueAndTheExpectedForm) {
  EXPECT_THAT(ParseClusterCaps({GetParam()}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr(GetParam()),
                                        HasSubstr("expected NAME=N"))));
}

INSTANTIATE_TEST_SUITE_P(Values, BadClusterCapTest,
                         ::testing::Values("hpc1", "=5", "hpc1=", "hpc1=-1",
                                           "hpc1=ten", "hpc1=1.5", "a=b=3",
                                           "hpc1=99999999999"));

TEST(ParseClusterCapsTest, ClusterNamedTwice) {
  EXPECT_THAT(ParseClusterCaps({"hpc1=1", "hpc1=2"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("names cluster \"hpc1\" twice")));
}

TEST(IsLoopbackListenAddressTest, Loopback) {
  for (const char* address :
       {"127.0.0.1:50051", "127.0.0.1:0", "127.1.2.3:80", "localhost:50051",
        "LOCALHOST:1", "[::1]:50051", "[::ffff:127.0.0.1]:5",
        "unix:/tmp/l.sock", "unix-abstract:ledger"}) {
    EXPECT_TRUE(IsLoopbackListenAddress(address)) << address;
  }
}

TEST(IsLoopbackListenAddressTest, NotLoopback) {
  for (const char* address :
       {"0.0.0.0:50051", "[::]:50051", ":50051", "10.0.0.5:50051",
        "128.0.0.1:1", "example.org:50051", "localhost.evil.org:1", "[::2]:1",
        "::1:50051", "[::1:50051", "dns:///127.0.0.1:1", ""}) {
    EXPECT_FALSE(IsLoopbackListenAddress(address)) << address;
  }
}

TEST(MergeRepeatedFlagTest, JoinsEveryFormAtTheFirstPlace) {
  EXPECT_THAT(
      MergeRepeatedFlag({"prog", "--db=/d", "--cluster_cap=a=1", "--listen=x",
                         "-cluster_cap=b=2", "--cluster_cap", "c=3"},
                        "cluster_cap"),
      ElementsAre("prog", "--db=/d", "--cluster_cap=a=1,b=2,c=3",
                  "--listen=x"));
}

TEST(MergeRepeatedFlagTest, LeavesOtherFlagsAndArgsAfterDoubleDashAlone) {
  EXPECT_THAT(
      MergeRepeatedFlag({"prog", "--cluster_capx=1", "--", "--cluster_cap=z=9"},
                        "cluster_cap"),
      ElementsAre("prog", "--cluster_capx=1", "--", "--cluster_cap=z=9"));
  EXPECT_THAT(MergeRepeatedFlag({"prog"}, "cluster_cap"), ElementsAre("prog"));
}

TEST(ServerCredentialsFromFilesTest, NoFilesMeansPlaintext) {
  common::FakeFileSystem files;
  CCB_ASSERT_OK_AND_ASSIGN(auto credentials,
                           ServerCredentialsFromFiles({}, files, absl::Now()));
  EXPECT_EQ(credentials, nullptr);
}

TEST(ServerCredentialsFromFilesTest, CertWithoutKeyIsRefused) {
  common::FakeFileSystem files;
  EXPECT_THAT(
      ServerCredentialsFromFiles({"/c.pem", "", ""}, files, absl::Now()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("both --tls_cert and --tls_key")));
  EXPECT_THAT(
      ServerCredentialsFromFiles({"", "", "/ca.pem"}, files, absl::Now()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("both --tls_cert and --tls_key")));
}

TEST(ServerCredentialsFromFilesTest, UnreadableFileIsNamed) {
  common::FakeFileSystem files;
  files.SetFile("/c.pem", "CERT", absl::UnixEpoch());
  EXPECT_THAT(ServerCredentialsFromFiles({"/c.pem", "/missing.key", ""}, files,
                                         absl::Now()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/missing.key")));
}

// Real certificates: ledger_tls_test.
TEST(ServerCredentialsFromFilesTest, ReadsEveryFileAndRefusesWhatIsNotPem) {
  common::FakeFileSystem files;
  files.SetFile("/c.pem", "CERT", absl::UnixEpoch());
  files.SetFile("/k.pem", "KEY", absl::UnixEpoch());
  files.SetFile("/ca.pem", "CA", absl::UnixEpoch());
  EXPECT_THAT(
      ServerCredentialsFromFiles({"/c.pem", "/k.pem", "/ca.pem"}, files,
                                 absl::Now()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--tls_cert=/c.pem holds no PEM certificate")));
  EXPECT_EQ(files.ReadCount("/c.pem"), 1);
  EXPECT_EQ(files.ReadCount("/k.pem"), 1);
  EXPECT_EQ(files.ReadCount("/ca.pem"), 1);
}

}  // namespace
}  // namespace ccbatch::ledger
