// Fuzzes ParseRuleFile (queue_agent/rule_file.h) and what a parsed rule file
// feeds: the RuleEngine and an OutputJudge whose fields it defines.
//
// Input: a rule file, optionally followed by a NUL byte and an output text to
// scan (else a fixed sample output is scanned). Checks: a refusal is
// InvalidArgument naming the source and a line; an accepted set is
// consistent (unique names, scopes in range, types where the flag needs one),
// compiles, and yields a verdict that survives the wire.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "fuzz/fuzz_check.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_engine.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {
namespace {

constexpr absl::string_view kSource = "fuzz_rules.dat";

constexpr absl::string_view kSampleOutput =
    " Entering Gaussian System, Link 0=g16\n"
    " ------------------\n"
    " #p opt freq b3lyp/6-31g(d)\n"
    " ------------------\n"
    " SCF Done:  E(RB3LYP) =  -76.4089533     A.U. after   10 cycles\n"
    " SCF Done:  E(RB3LYP) =  -76.4101212     A.U. after    8 cycles\n"
    " Optimization completed.\n"
    "    -- Stationary point found.\n"
    " Frequencies --   1634.1   3805.7   3912.2\n"
    " Sum of electronic and zero-point Energies=   -76.386891\n"
    " <S**2>=   0.0000\n"
    " Normal termination of Gaussian 16 at Mon Jan  1 00:00:00 2024.\n"
    "FINAL SINGLE POINT ENERGY       -76.323456789\r\n"
    "****ORCA TERMINATED NORMALLY****\r\n"
    "          | TOTAL ENERGY              -5.070544 Eh   |\n"
    "* finished run on 2024/01/01 at 00:00:00.000\n"
    "  CREST terminated normally.";

void CheckRefusal(const absl::Status& status) {
  CCB_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument,
                 status.ToString());
  CCB_FUZZ_CHECK(absl::StartsWith(status.message(), absl::StrCat(kSource, ":")),
                 status.ToString());
}

bool NeedsType(RuleFlag flag) {
  return flag == RuleFlag::kFirst || flag == RuleFlag::kLast ||
         flag == RuleFlag::kLargest || flag == RuleFlag::kSmallest ||
         flag == RuleFlag::kSumAll;
}

void CheckSet(const RuleSet& set) {
  CCB_FUZZ_CHECK(set.source == kSource, set.source);
  std::set<std::string> names;
  int previous_line = 0;
  for (const Rule& rule : set.rules) {
    CCB_FUZZ_CHECK(!rule.name.empty() && !rule.pattern.empty(), rule.name);
    CCB_FUZZ_CHECK(names.insert(rule.name).second, rule.name);
    CCB_FUZZ_CHECK(
        rule.scope >= -1 && rule.scope < static_cast<int>(set.scopes.size()),
        absl::StrCat(rule.scope));
    CCB_FUZZ_CHECK(rule.line > previous_line, absl::StrCat(rule.line));
    previous_line = rule.line;
    CCB_FUZZ_CHECK(!NeedsType(rule.flag) || rule.type != ValueType::kNone,
                   rule.name);
  }
  for (const Scope& scope : set.scopes) {
    CCB_FUZZ_CHECK(!scope.after_pattern.empty(), "scope without __after__");
    CCB_FUZZ_CHECK(scope.before_pattern.empty() == (scope.before_line == 0),
                   "__before__ pattern and line disagree");
  }
}

void CheckExtraction(const RuleSet& set, const Extraction& extraction,
                     absl::string_view text) {
  CCB_FUZZ_CHECK(extraction.sets.size() == 1, "one set in, one set out");
  CCB_FUZZ_CHECK(extraction.sets[0].size() == set.rules.size(),
                 "one result per rule");
  for (const VariableResult& variable : extraction.sets[0]) {
    CCB_FUZZ_CHECK(variable.rule != nullptr, "a result without its rule");
    CCB_FUZZ_CHECK(
        variable.lines_without_value <= variable.match_count,
        absl::StrCat(variable.rule->name, ": more lines without value (",
                     variable.lines_without_value, ") than matches (",
                     variable.match_count, ")"));
    if (IsTruthFlag(variable.rule->flag)) {
      CCB_FUZZ_CHECK(variable.value == "true" || variable.value == "false",
                     variable.rule->name);
    }
    for (const RuleMatch& match : variable.matches) {
      CCB_FUZZ_CHECK(
          match.line_number >= 1 && match.line_number <= extraction.line_count,
          absl::StrCat(match.line_number));
      CCB_FUZZ_CHECK(match.line.data() >= text.data() &&
                         match.line.data() + match.line.size() <=
                             text.data() + text.size(),
                     "a match outside the text");
    }
  }
}

void CheckAccepted(const RuleSet& set, absl::string_view text) {
  CheckSet(set);
  absl::StatusOr<std::unique_ptr<RuleEngine>> engine =
      RuleEngine::Create({set});
  if (!engine.ok()) {
    // Regexes that parse one by one may still be too large together.
    CCB_FUZZ_CHECK(
        engine.status().code() == absl::StatusCode::kResourceExhausted,
        engine.status().ToString());
    return;
  }
  CheckExtraction(set, (*engine)->Extract(text), text);
  absl::StatusOr<std::unique_ptr<OutputJudge>> judge =
      OutputJudge::Create(v1::PROGRAM_GAUSSIAN, set);
  if (!judge.ok()) {
    CCB_FUZZ_CHECK(
        judge.status().code() == absl::StatusCode::kResourceExhausted,
        judge.status().ToString());
    return;
  }
  const v1::Verdict verdict = (*judge)->Judge(text);
  CCB_FUZZ_CHECK(fuzz::SurvivesWire(verdict),
                 "the verdict does not survive serialization");
}

}  // namespace
}  // namespace ccbatch::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view rules(reinterpret_cast<const char*>(data), size);
  absl::string_view text = ccbatch::agent::kSampleOutput;
  const size_t nul = rules.find('\0');
  if (nul != absl::string_view::npos) {
    text = rules.substr(nul + 1);
    rules = rules.substr(0, nul);
  }
  const absl::StatusOr<ccbatch::agent::RuleSet> set =
      ccbatch::agent::ParseRuleFile(rules, ccbatch::agent::kSource);
  if (!set.ok()) {
    ccbatch::agent::CheckRefusal(set.status());
    return 0;
  }
  ccbatch::agent::CheckAccepted(*set, text);
  return 0;
}
