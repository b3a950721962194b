#include "queue_agent/rule_engine.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

// Line numbers and values of a result's evidence.
std::vector<std::pair<int64_t, std::string>> Evidence(
    const VariableResult& variable) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const RuleMatch& match : variable.matches) {
    out.emplace_back(match.line_number, match.value);
  }
  return out;
}

using Pair = std::pair<int64_t, std::string>;

class RuleEngineTest : public ::testing::Test {
 protected:
  // Compiles one rule file and scans `text` with it.
  void Scan(absl::string_view rules, absl::string_view text) {
    auto set = ParseRuleFile(rules, "test.dat");
    ASSERT_TRUE(set.ok()) << set.status();
    std::vector<RuleSet> sets;
    sets.push_back(*std::move(set));
    auto engine = RuleEngine::Create(std::move(sets));
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    text_ = std::string(text);
    result_ = engine_->Extract(text_);
  }

  const VariableResult& Var(absl::string_view name) {
    const VariableResult* variable = result_.Find(0, name);
    EXPECT_NE(variable, nullptr) << name;
    static const VariableResult* const kEmpty = new VariableResult();
    return variable != nullptr ? *variable : *kEmpty;
  }

  std::unique_ptr<RuleEngine> engine_;
  std::string text_;
  Extraction result_;
};

constexpr absl::string_view kEnergies =
    "start\n"
    " SCF Done:  E(RB3LYP) =  -76.25  A.U. after 9 cycles\n"
    "noise -1.0\n"
    " SCF Done:  E(RB3LYP) =  -76.75  A.U. after 5 cycles\n"
    " SCF Done:  E(RB3LYP) =  -76.50  A.U. after 4 cycles\n"
    "end\n";

TEST_F(RuleEngineTest, NumericFlagsPickTheirLine) {
  Scan(
      "first ; SCF Done ; first ; float\n"
      "last ; SCF Done ; last ; float\n"
      "low ; SCF Done ; smallest ; float\n"
      "high ; SCF Done ; largest ; float\n"
      "sum ; SCF Done ; sum_all ; float\n"
      "cycles ; SCF Done ; sum_all ; int ; last\n",
      kEnergies);
  EXPECT_THAT(Var("first").value, Optional(std::string("-76.25")));
  EXPECT_THAT(Evidence(Var("first")), ElementsAre(Pair(2, "-76.25")));
  EXPECT_THAT(Var("last").value, Optional(std::string("-76.50")));
  EXPECT_THAT(Evidence(Var("last")), ElementsAre(Pair(5, "-76.50")));
  EXPECT_THAT(Var("low").value, Optional(std::string("-76.75")));
  EXPECT_THAT(Evidence(Var("low")), ElementsAre(Pair(4, "-76.75")));
  EXPECT_THAT(Var("high").value, Optional(std::string("-76.25")));
  EXPECT_THAT(Var("sum").value, Optional(std::string("-229.5")));
  EXPECT_EQ(Var("sum").matches.size(), 3u);
  EXPECT_THAT(Var("cycles").value, Optional(std::string("18")));
  EXPECT_EQ(Var("last").match_count, 3);
  EXPECT_EQ(Var("last").matches[0].line,
            " SCF Done:  E(RB3LYP) =  -76.50  A.U. after 4 cycles");
  EXPECT_EQ(result_.line_count, 6);
}

TEST_F(RuleEngineTest, IndexAndValueRegexChooseTheOccurrence) {
  Scan(
      "second ; SCF Done ; first ; float ; 1 ; (\\d+\\.?\\d*)\n"
      "text ; SCF Done ; last ; string ; 0 ; E\\((\\w+)\\)\n"
      "third ; SCF Done ; first ; int ; 2\n"
      "missing ; SCF Done ; first ; int ; 7\n",
      kEnergies);
  EXPECT_THAT(Var("second").value, Optional(std::string("76.25")));
  EXPECT_THAT(Var("text").value, Optional(std::string("RB3LYP")));
  // Digits of "3LYP", "-76" and "25": the third is 25.
  EXPECT_THAT(Var("third").value, Optional(std::string("25")));
  EXPECT_EQ(Var("missing").value, std::nullopt);
  EXPECT_EQ(Var("missing").lines_without_value, 1);
  EXPECT_EQ(Var("missing").first_line_without_value, 2);
}

TEST_F(RuleEngineTest, LinesWithoutAValueAreCountedNotHidden) {
  Scan(
      "e ; Energy ; list ; float\n"
      "top ; Energy ; largest ; float\n"
      "final ; Energy ; last ; float\n",
      "Energy 1.5\nEnergy n/a\nEnergy 2.5\nEnergy unknown\n");
  EXPECT_THAT(Evidence(Var("e")), ElementsAre(Pair(1, "1.5"), Pair(3, "2.5")));
  EXPECT_EQ(Var("e").lines_without_value, 2);
  EXPECT_EQ(Var("e").first_line_without_value, 2);
  EXPECT_THAT(Var("top").value, Optional(std::string("2.5")));
  // `last` reads the last matching line, which has no number.
  EXPECT_EQ(Var("final").value, std::nullopt);
  EXPECT_EQ(Var("final").first_line_without_value, 4);
  EXPECT_EQ(Var("final").match_count, 4);
}

TEST_F(RuleEngineTest, TruthFlagsFollowTheDocumentedMeaning) {
  const std::string rules =
      "found ; hit ; found\n"
      "absent ; hit ; not_found\n"
      "twice ; hit ; at_least_2\n";
  for (int count : {0, 1, 2, 3, 4, 5, 6}) {
    std::string text = "other line\n";
    for (int i = 0; i < count; ++i) absl::StrAppend(&text, "a hit here\n");
    Scan(rules, text);
    EXPECT_EQ(Var("found").truth(), count >= 1) << count;
    EXPECT_EQ(Var("absent").truth(), count == 0) << count;
    // BatchRunner's at_least_2 was true only for 2, 5, 8, ... matches.
    EXPECT_EQ(Var("twice").truth(), count >= 2) << count;
    EXPECT_EQ(Var("twice").match_count, count);
    EXPECT_EQ(Var("twice").matches.size(), std::min(count, 2)) << count;
    EXPECT_EQ(Var("found").matches.size(), std::min(count, 1)) << count;
  }
}

TEST_F(RuleEngineTest, UntypedListKeepsEveryMatchingLine) {
  Scan("warn ; WARNING ; list\n", "a\nWARNING one\nb\nWARNING two\n");
  EXPECT_THAT(Evidence(Var("warn")), ElementsAre(Pair(2, ""), Pair(4, "")));
  EXPECT_EQ(Var("warn").matches[1].line, "WARNING two");
  EXPECT_EQ(Var("warn").value, std::nullopt);
}

TEST_F(RuleEngineTest, TheTerminatorIsFoldedToNewline) {
  const std::string rules =
      "opt ; (?i)(^|\\s+)(opt|tightopt)\\s+ ; found\n"
      "end ; finished\\s+run\\s+on\\s+ ; found\n"
      "anchored ; ^done\\s*$ ; found\n";
  for (absl::string_view text :
       {"! B3LYP Opt\n * finished run on\ndone\n",
        "! B3LYP Opt\r\n * finished run on\r\ndone\r\n",
        "! B3LYP Opt\n * finished run on\ndone"}) {
    Scan(rules, text);
    EXPECT_TRUE(Var("opt").truth()) << text;
    EXPECT_TRUE(Var("end").truth()) << text;
    EXPECT_TRUE(Var("anchored").truth()) << text;
    EXPECT_EQ(result_.line_count, 3);
    EXPECT_EQ(Var("end").matches[0].line, " * finished run on") << text;
  }
}

TEST_F(RuleEngineTest, CrlfAndLfFilesGiveTheSameResults) {
  const std::string rules =
      "e ; SCF Done ; list ; float\n"
      "tail ; cycles\\s+$ ; list\n";
  const std::string lf(kEnergies);
  Scan(rules, lf);
  const auto lf_values = Evidence(Var("e"));
  const auto lf_tail = Evidence(Var("tail"));
  Scan(rules, absl::StrReplaceAll(lf, {{"\n", "\r\n"}}));
  EXPECT_EQ(Evidence(Var("e")), lf_values);
  EXPECT_EQ(Evidence(Var("tail")), lf_tail);
  EXPECT_EQ(lf_tail.size(), 3u);
}

TEST_F(RuleEngineTest, ScopedRulesSeeOnlyTheLinesStrictlyBetween) {
  Scan(
      "all ; -\\d+\\.\\d+ cm ; list ; float\n"
      "__after__ ; ^VIBRATIONAL FREQUENCIES\n"
      "  freq ; -?\\d+\\.\\d+ cm ; list ; float\n"
      "  header ; VIBRATIONAL|NORMAL ; list\n"
      "__before__ ; ^NORMAL MODES\n",
      "-1.0 cm before\n"                   // 1
      "VIBRATIONAL FREQUENCIES -9.0 cm\n"  // 2 opens (not inside)
      "  -2.0 cm\n"                        // 3
      "  5.0 cm\n"                         // 4
      "NORMAL MODES -8.0 cm\n"             // 5 closes (not inside)
      "-3.0 cm between\n"                  // 6
      "VIBRATIONAL FREQUENCIES\n"          // 7 reopens
      "  -4.0 cm\n");                      // 8 (open to the end)
  EXPECT_THAT(Evidence(Var("freq")),
              ElementsAre(Pair(3, "-2.0"), Pair(4, "5.0"), Pair(8, "-4.0")));
  EXPECT_EQ(Var("header").match_count, 0);
  EXPECT_EQ(Var("all").match_count, 6);
}

TEST_F(RuleEngineTest, AScopeWithoutBeforeRunsToTheEnd) {
  Scan(
      "__after__ ; INPUT\n"
      "  kw ; ^! ; list\n",
      "! not yet\nINPUT\n! Opt\nx\n! Freq\n");
  EXPECT_THAT(Evidence(Var("kw")), ElementsAre(Pair(3, ""), Pair(5, "")));
}

TEST_F(RuleEngineTest, SeveralSetsShareOneScanAndKeepTheirNames) {
  std::vector<RuleSet> sets;
  for (absl::string_view text :
       {"E ; SCF Done ; last ; float\n", "E ; SCF Done ; first ; float\n"}) {
    auto set = ParseRuleFile(text, "s.dat");
    ASSERT_TRUE(set.ok());
    sets.push_back(*std::move(set));
  }
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<RuleEngine> engine,
                           RuleEngine::Create(std::move(sets)));
  const Extraction result = engine->Extract(kEnergies);
  EXPECT_THAT(result.Find(0, "E")->value, Optional(std::string("-76.50")));
  EXPECT_THAT(result.Find(1, "E")->value, Optional(std::string("-76.25")));
  EXPECT_EQ(result.Find(0, "nope"), nullptr);
  EXPECT_EQ(result.Find(2, "E"), nullptr);
}

TEST_F(RuleEngineTest, EmptyTextAndEmptyRulesAreFine) {
  Scan("a ; x ; found\nb ; x ; not_found\nc ; x ; last ; float\n", "");
  EXPECT_EQ(result_.line_count, 0);
  EXPECT_FALSE(Var("a").truth());
  EXPECT_TRUE(Var("b").truth());
  EXPECT_EQ(Var("c").value, std::nullopt);
  Scan("", "some text\n");
  EXPECT_EQ(result_.line_count, 1);
  EXPECT_TRUE(result_.sets[0].empty());
}

TEST_F(RuleEngineTest, RulesCannotHangOnPathologicalInput) {
  // Catastrophic backtracking for a backtracking engine; linear for RE2.
  Scan("bad ; (a+)+$ ; found\n", std::string(100000, 'a') + "b\n");
  EXPECT_FALSE(Var("bad").truth());
}

TEST(RuleEngineCreateTest, RefusesRegexesThatDoNotCompile) {
  RuleSet set;
  set.source = "hand.dat";
  Rule rule;
  rule.name = "x";
  rule.pattern = "(open";
  rule.line = 12;
  set.rules.push_back(rule);
  std::vector<RuleSet> sets;
  sets.push_back(set);
  EXPECT_THAT(
      RuleEngine::Create(std::move(sets)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hand.dat:12:")));
}

}  // namespace
}  // namespace ccbatch::agent
