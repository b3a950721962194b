#include "queue_agent/rule_sets.h"

#include <string>

#include "absl/time/time.h"
#include "common/fake_file_system.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/builtin_rules.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(BuiltinRulesTest, EveryProgramHasAParsableRuleFile) {
  for (v1::Program program : kAllPrograms) {
    const absl::string_view text = BuiltinRuleText(program);
    EXPECT_THAT(text, HasSubstr("normal_exit")) << ProgramKey(program);
    CCB_ASSERT_OK_AND_ASSIGN(RuleSet set, ParseRuleFile(text, "built-in"));
    EXPECT_FALSE(set.rules.empty());
    EXPECT_EQ(ProgramFromKey(ProgramKey(program)), program);
  }
  EXPECT_EQ(BuiltinRuleText(v1::PROGRAM_UNSPECIFIED), "");
  EXPECT_EQ(RuleFileName(v1::PROGRAM_ORCA), "orca_rules.dat");
  EXPECT_EQ(ProgramFromKey("Gaussian"), v1::PROGRAM_GAUSSIAN);
  EXPECT_EQ(ProgramFromKey("gausian"), std::nullopt);
}

TEST(BuiltinRulesTest, TheOrcaRulesKeepTheirScopes) {
  CCB_ASSERT_OK_AND_ASSIGN(
      RuleSet set, ParseRuleFile(BuiltinRuleText(v1::PROGRAM_ORCA), "b"));
  EXPECT_EQ(set.scopes.size(), 5u);
}

TEST(LoadRuleSetsTest, WithoutADirectoryAllAreBuiltIn) {
  common::FakeFileSystem fs;
  CCB_ASSERT_OK_AND_ASSIGN(ProgramRuleSets sets, LoadRuleSets("", &fs));
  for (v1::Program program : kAllPrograms) {
    EXPECT_EQ(sets.For(program).source,
              absl::StrCat("built-in ", RuleFileName(program)));
  }
}

TEST(LoadRuleSetsTest, AFileInTheDirectoryReplacesOneProgramsRules) {
  common::FakeFileSystem fs;
  fs.SetFile("/etc/ccb/rules/orca_rules.dat",
             "E ; FINAL SINGLE POINT ENERGY ; last ; float\n",
             absl::UnixEpoch());
  fs.SetFile("/etc/ccb/rules/README", "notes", absl::UnixEpoch());
  CCB_ASSERT_OK_AND_ASSIGN(ProgramRuleSets sets,
                           LoadRuleSets("/etc/ccb/rules", &fs));
  EXPECT_EQ(sets.For(v1::PROGRAM_ORCA).source, "/etc/ccb/rules/orca_rules.dat");
  ASSERT_EQ(sets.For(v1::PROGRAM_ORCA).rules.size(), 1u);
  EXPECT_EQ(sets.For(v1::PROGRAM_GAUSSIAN).source,
            "built-in gaussian_rules.dat");
}

TEST(LoadRuleSetsTest, ProblemsAreReportedWithTheirFile) {
  common::FakeFileSystem fs;
  EXPECT_THAT(
      LoadRuleSets("/nowhere", &fs),
      StatusIs(absl::StatusCode::kNotFound,
               AllOf(HasSubstr("rules directory"), HasSubstr("/nowhere"))));

  fs.SetFile("/r/xtb_rules.dat", "ok ; x ; found\nbad ; (x ; found\n",
             absl::UnixEpoch());
  EXPECT_THAT(LoadRuleSets("/r", &fs),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("/r/xtb_rules.dat:2:")));

  fs.SetFile("/s/gausian_rules.dat", "ok ; x ; found\n", absl::UnixEpoch());
  EXPECT_THAT(LoadRuleSets("/s", &fs),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("/s/gausian_rules.dat"),
                             HasSubstr("gaussian_rules.dat"))));
}

}  // namespace
}  // namespace ccbatch::agent
