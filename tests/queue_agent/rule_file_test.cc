#include "queue_agent/rule_file.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(RuleFileTest, ReadsEveryFieldOfARule) {
  CCB_ASSERT_OK_AND_ASSIGN(
      RuleSet set,
      ParseRuleFile(
          "  E ; SCF Done: ; last ; float ; 1 ; (\\S+)\\s+A\\.U\\.  \n",
          "mine.dat"));
  EXPECT_EQ(set.source, "mine.dat");
  ASSERT_EQ(set.rules.size(), 1u);
  const Rule& rule = set.rules[0];
  EXPECT_EQ(rule.name, "E");
  EXPECT_EQ(rule.pattern, "SCF Done:");
  EXPECT_EQ(rule.flag, RuleFlag::kLast);
  EXPECT_EQ(rule.type, ValueType::kFloat);
  EXPECT_EQ(rule.index.kind, ValueIndex::Kind::kNth);
  EXPECT_EQ(rule.index.nth, 1);
  EXPECT_EQ(rule.value_pattern, "(\\S+)\\s+A\\.U\\.");
  EXPECT_EQ(rule.scope, -1);
  EXPECT_EQ(rule.line, 1);
}

TEST(RuleFileTest, SkipsCommentsBlankLinesAndAFinalSemicolon) {
  CCB_ASSERT_OK_AND_ASSIGN(RuleSet set, ParseRuleFile("# a comment\r\n"
                                                      "\r\n"
                                                      "   #E ; x ; last\n"
                                                      "ok ; done ; found ;\r\n",
                                                      "f.dat"));
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_EQ(set.rules[0].name, "ok");
  EXPECT_EQ(set.rules[0].flag, RuleFlag::kFound);
  EXPECT_EQ(set.rules[0].line, 4);
}

TEST(RuleFileTest, ScopesCoverTheRulesBetweenTheirMarkers) {
  CCB_ASSERT_OK_AND_ASSIGN(RuleSet set,
                           ParseRuleFile("a ; A ; found\n"
                                         "__after__ ; BEGIN\n"
                                         "  b ; B ; found\n"
                                         "__before__ ; END\n"
                                         "c ; C ; found\n"
                                         "__after__ ; OPEN FOREVER\n"
                                         "  d ; D ; list\n",
                                         "s.dat"));
  ASSERT_EQ(set.scopes.size(), 2u);
  EXPECT_EQ(set.scopes[0].after_pattern, "BEGIN");
  EXPECT_EQ(set.scopes[0].before_pattern, "END");
  EXPECT_EQ(set.scopes[0].after_line, 2);
  EXPECT_EQ(set.scopes[0].before_line, 4);
  EXPECT_EQ(set.scopes[1].before_pattern, "");
  ASSERT_EQ(set.rules.size(), 4u);
  EXPECT_EQ(set.rules[0].scope, -1);
  EXPECT_EQ(set.rules[1].scope, 0);
  EXPECT_EQ(set.rules[2].scope, -1);
  EXPECT_EQ(set.rules[3].scope, 1);
}

TEST(RuleFileTest, AcceptsTheTypeAndIndexSpellings) {
  CCB_ASSERT_OK_AND_ASSIGN(RuleSet set,
                           ParseRuleFile("a ; x ; first ; integer ; last\n"
                                         "b ; x ; first ; int ; first\n"
                                         "c ; x ; list ; string ; 0 ; (\\w+)\n"
                                         "d ; x ; found ; float\n",
                                         "t.dat"));
  EXPECT_EQ(set.rules[0].type, ValueType::kInt);
  EXPECT_EQ(set.rules[0].index.kind, ValueIndex::Kind::kLast);
  EXPECT_EQ(set.rules[1].index.kind, ValueIndex::Kind::kFirst);
  EXPECT_EQ(set.rules[2].type, ValueType::kString);
  EXPECT_EQ(set.rules[2].index.kind, ValueIndex::Kind::kNth);
  EXPECT_EQ(set.rules[2].index.nth, 0);
}

struct BadRule {
  const char* text;
  int line;
  const char* message;
};

class BadRuleFileTest : public ::testing::TestWithParam<BadRule> {};

TEST_P(BadRuleFileTest, IsRefusedNamingFileLineAndProblem) {
  const BadRule& bad = GetParam();
  EXPECT_THAT(ParseRuleFile(bad.text, "/rules/orca_rules.dat"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(absl::StrCat(
                                 "/rules/orca_rules.dat:", bad.line, ": ")),
                             HasSubstr(bad.message))));
}

INSTANTIATE_TEST_SUITE_P(
    Defects, BadRuleFileTest,
    ::testing::Values(
        BadRule{"ok ; x ; found\nE ; (unclosed ; last ; float\n", 2,
                "not a valid RE2 regex"},
        BadRule{"E ; (?<=look)behind ; found\n", 1, "not a valid RE2 regex"},
        BadRule{"E ; x ; lastest ; float\n", 1, "unknown flag \"lastest\""},
        BadRule{"E ; x\n", 1, "2 fields"},
        BadRule{"E ; x ; list ; float ; 0 ; (\\d) ; extra\n", 1, "7 fields"},
        BadRule{"E ; x ; last\n", 1, "flag last needs a type"},
        BadRule{"E ; x ; sum_all ; string ; 0 ; (x)\n", 1, "compares numbers"},
        BadRule{"E ; x ; first ; string\n", 1, "needs a value regex"},
        BadRule{"E ; x ; first ; double\n", 1, "unknown type \"double\""},
        BadRule{"E ; x ; first ; float ; -1\n", 1, "unknown index"},
        BadRule{"E ; x ; list ; float ; 0 ; ([)\n", 1, "value regex"},
        BadRule{"E ;  ; found\n", 1, "field 2 is empty"},
        BadRule{"E ; a ; found\nE ; b ; found\n", 2,
                "already defined at line 1"},
        BadRule{"__before__ ; END\n", 1, "without an open scope"},
        BadRule{"__after__ ; A\n__after__ ; B\n", 2, "do not nest"},
        BadRule{"__after__ ; A ; B\n", 1, "exactly one regex"},
        BadRule{"__around__ ; A\n", 1, "unknown directive __around__"}));

TEST(RuleFileTest, EmptyFileIsAnEmptyRuleSet) {
  CCB_ASSERT_OK_AND_ASSIGN(RuleSet set, ParseRuleFile("", "empty.dat"));
  EXPECT_TRUE(set.rules.empty());
  EXPECT_TRUE(set.scopes.empty());
}

TEST(RuleFileTest, FlagNamesRoundTrip) {
  for (RuleFlag flag :
       {RuleFlag::kFirst, RuleFlag::kLast, RuleFlag::kLargest,
        RuleFlag::kSmallest, RuleFlag::kSumAll, RuleFlag::kFound,
        RuleFlag::kNotFound, RuleFlag::kAtLeast2, RuleFlag::kList}) {
    const std::string text =
        absl::StrCat("v ; x ; ", RuleFlagName(flag), " ; float\n");
    CCB_ASSERT_OK_AND_ASSIGN(RuleSet set, ParseRuleFile(text, "f.dat"));
    EXPECT_EQ(set.rules[0].flag, flag) << text;
  }
  EXPECT_TRUE(IsTruthFlag(RuleFlag::kNotFound));
  EXPECT_FALSE(IsTruthFlag(RuleFlag::kList));
}

// Found by fuzz/rule_file_fuzzer: a name that is not UTF-8 became a verdict
// field the ledger could not parse.
TEST(RuleFileTest, RefusesALineThatIsNotUtf8ButNotAComment) {
  EXPECT_THAT(
      ParseRuleFile("energy ; SCF Done ; last ; float\n"
                    "\xe9nergie ; SCF Done ; found\n",
                    "mine.dat"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("mine.dat:2:"), HasSubstr("not valid UTF-8"))));
  // Comments may hold anything: they are never read.
  EXPECT_THAT(ParseRuleFile("# r\xe9sultat (Latin-1)\nE ; SCF Done ; found\n",
                            "mine.dat"),
              IsOk());
}

}  // namespace
}  // namespace ccbatch::agent
