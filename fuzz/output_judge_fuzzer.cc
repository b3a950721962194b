// Fuzzes the verdict engine (queue_agent/output_judge.h) with its rules
// fixed, the built-in rule files (queue_agent/builtin_rules.h), as the agent
// uses them without a rules directory, and the output file fuzzed.
//
// Input: the first byte picks the program (kAllPrograms[byte % 5]); the rest
// is the output text. Checks the verdict's shape: an outcome, a cause exactly
// when it failed, a summary, at most kMaxEvidence evidence lines that point
// into the file, and that the verdict survives the wire to the ledger. And,
// for a text without '\r', that its CRLF twin gets the same verdict (the
// rule engine folds line ends, so CRLF files behave as LF files).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "fuzz/fuzz_check.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {
namespace {

// OutputJudge keeps these private; the fuzzer holds the verdict to them.
constexpr int kMaxEvidence = 24;
constexpr size_t kMaxEvidenceText = 300;
constexpr size_t kPrograms = std::size(kAllPrograms);

// One judge per program, built once from the built-in rule sets.
const OutputJudge& JudgeFor(size_t program_index) {
  static const std::unique_ptr<OutputJudge>* const judges = [] {
    auto* built = new std::unique_ptr<OutputJudge>[kPrograms];
    for (size_t i = 0; i < kPrograms; ++i) {
      const v1::Program program = kAllPrograms[i];
      absl::StatusOr<RuleSet> rules =
          ParseRuleFile(BuiltinRuleText(program), RuleFileName(program));
      CCB_FUZZ_CHECK(rules.ok(), rules.status().ToString());
      absl::StatusOr<std::unique_ptr<OutputJudge>> judge =
          OutputJudge::Create(program, *std::move(rules));
      CCB_FUZZ_CHECK(judge.ok(), judge.status().ToString());
      built[i] = *std::move(judge);
    }
    return built;
  }();
  return *judges[program_index];
}

int64_t LineCount(absl::string_view text) {
  const int64_t newlines = std::count(text.begin(), text.end(), '\n');
  return newlines + (text.empty() || text.back() == '\n' ? 0 : 1);
}

void CheckVerdict(const v1::Verdict& verdict, absl::string_view text) {
  const bool failed = verdict.outcome() == v1::Verdict::OUTCOME_FAILED;
  CCB_FUZZ_CHECK(failed || verdict.outcome() == v1::Verdict::OUTCOME_SUCCEEDED,
                 v1::Verdict::Outcome_Name(verdict.outcome()));
  CCB_FUZZ_CHECK(failed == !verdict.cause().empty(),
                 absl::StrCat("outcome ", verdict.outcome(), " cause \"",
                              verdict.cause(), "\""));
  CCB_FUZZ_CHECK(!verdict.summary().empty(), "no summary");
  CCB_FUZZ_CHECK(verdict.evidence_size() <= kMaxEvidence,
                 absl::StrCat(verdict.evidence_size(), " evidence lines"));
  const int64_t lines = LineCount(text);
  for (const v1::EvidenceLine& line : verdict.evidence()) {
    CCB_FUZZ_CHECK(
        line.line_number() >= 1 && line.line_number() <= lines,
        absl::StrCat("evidence line ", line.line_number(), " of ", lines));
    CCB_FUZZ_CHECK(line.text().size() <= kMaxEvidenceText,
                   absl::StrCat(line.text().size(), " bytes of evidence"));
    CCB_FUZZ_CHECK(line.file() == "output", line.file());
    CCB_FUZZ_CHECK(!line.rule().empty(), "evidence without a rule");
  }
  CCB_FUZZ_CHECK(fuzz::SurvivesWire(verdict),
                 "the verdict does not survive serialization");
}

// `text` with every "\n" turned into "\r\n".
std::string WithCrLf(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"\n", "\r\n"}});
}

void CheckCrLfTwin(const OutputJudge& judge, const v1::Verdict& verdict,
                   absl::string_view text) {
  if (text.find('\r') != absl::string_view::npos) return;
  const v1::Verdict twin = judge.Judge(WithCrLf(text));
  CCB_FUZZ_CHECK(twin.SerializeAsString() == verdict.SerializeAsString(),
                 absl::StrCat("LF: ", verdict.ShortDebugString(),
                              "\n  CRLF: ", twin.ShortDebugString()));
}

}  // namespace
}  // namespace ccbatch::agent

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t program = data[0] % ccbatch::agent::kPrograms;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  const ccbatch::agent::OutputJudge& judge = ccbatch::agent::JudgeFor(program);
  const ccbatch::v1::Verdict verdict = judge.Judge(text);
  ccbatch::agent::CheckVerdict(verdict, text);
  ccbatch::agent::CheckCrLfTwin(judge, verdict, text);
  return 0;
}
