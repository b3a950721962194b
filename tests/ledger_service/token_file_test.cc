#include "ledger_service/token_file.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/fake_file_system.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenFileTest, Sha256MatchesKnownDigests) {
  // FIPS 180-2 test vectors, as `printf %s abc | sha256sum` prints them.
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenFileTest, FindsEachTokensRole) {
  const std::string text = absl::StrCat(
      "# ccbatch tokens\n"
      "\n",
      Sha256Hex("agent-secret"), " agent:hpc1\n", "   ",
      Sha256Hex("reader-secret"), "\treader   # alice's laptop\n",
      absl::AsciiStrToUpper(Sha256Hex("admin-secret")), " admin\r\n");
  CCB_ASSERT_OK_AND_ASSIGN(const TokenTable table,
                           ParseTokenFile(text, "tokens"));
  EXPECT_EQ(table.size(), 3u);

  std::optional<TokenMatch> agent = table.Find("agent-secret");
  ASSERT_TRUE(agent.has_value());
  EXPECT_EQ(agent->role, Role::Agent("hpc1"));
  EXPECT_EQ(agent->fingerprint, Sha256Hex("agent-secret").substr(0, 8));
  std::optional<TokenMatch> reader = table.Find("reader-secret");
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(reader->role, Role::Reader());
  std::optional<TokenMatch> admin = table.Find("admin-secret");
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->role, Role::Admin());
  EXPECT_EQ(admin->fingerprint, Sha256Hex("admin-secret").substr(0, 8));

  EXPECT_FALSE(table.Find("admin-secre").has_value());
  EXPECT_FALSE(table.Find("admin-secret ").has_value());
  EXPECT_FALSE(table.Find("").has_value());
  // The digest itself is not a token.
  EXPECT_FALSE(table.Find(Sha256Hex("admin-secret")).has_value());
}

TEST(TokenFileTest, AnEmptyTableKnowsNoToken) {
  CCB_ASSERT_OK_AND_ASSIGN(const TokenTable table,
                           ParseTokenFile("# nobody\n\n", "tokens"));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_FALSE(table.Find("anything").has_value());
  EXPECT_FALSE(TokenTable().Find("anything").has_value());
}

TEST(TokenFileTest, BadLinesNameFileAndLine) {
  const std::string good = absl::StrCat(Sha256Hex("a"), " reader\n");
  struct Case {
    std::string line;
    std::string expected;
  };
  const Case cases[] = {
      {Sha256Hex("b"),
       "expected \"<sha256 of the token, 64 hex digits> "
       "<role>\", found 1 field"},
      {absl::StrCat(Sha256Hex("b"), " admin extra"), "found 3 fields"},
      {"hunter2 admin", "the first field (7 characters) is not a SHA-256"},
      {absl::StrCat(Sha256Hex("b").substr(1), "g admin"),
       "is not a SHA-256 digest of 64 hex digits"},
      {absl::StrCat(Sha256Hex("b"), " superuser"),
       "unknown role \"superuser\""},
      {absl::StrCat(Sha256Hex("b"), " agent:"), "cluster name is empty"},
      {absl::StrCat(Sha256Hex("a"), " admin"),
       "this digest is already listed with role reader"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_THAT(ParseTokenFile(absl::StrCat("# header\n", good, c.line, "\n"),
                               "/etc/ccbatch/tokens"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("/etc/ccbatch/tokens:3: "),
                               HasSubstr(c.expected))));
  }
}

TEST(TokenFileTest, ErrorsNeverQuoteWhatMayBeAToken) {
  // A token pasted instead of its digest must not reach the log.
  const std::string pasted = "s3cr3t-t0ken-pasted-by-mistake-0123456789abcdef";
  const absl::StatusOr<TokenTable> table =
      ParseTokenFile(absl::StrCat(pasted, " admin\n"), "tokens");
  EXPECT_THAT(table, StatusIs(absl::StatusCode::kInvalidArgument,
                              Not(HasSubstr(pasted))));
  const std::string hex_like(64, 'z');
  EXPECT_THAT(
      ParseTokenFile(absl::StrCat(hex_like, " admin\n"), "tokens"),
      StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr(hex_like))));
}

TEST(TokenFileTest, ReadsThroughTheFileSystem) {
  common::FakeFileSystem fs;
  ASSERT_THAT(
      fs.WriteFile("/etc/tokens", absl::StrCat(Sha256Hex("t"), " admin\n")),
      ::ccbatch::testing::IsOk());
  CCB_ASSERT_OK_AND_ASSIGN(const TokenTable table,
                           ReadTokenFile("/etc/tokens", fs));
  EXPECT_TRUE(table.Find("t").has_value());
  EXPECT_THAT(ReadTokenFile("/etc/missing", fs),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/etc/missing")));
}

}  // namespace
}  // namespace ccbatch::ledger
