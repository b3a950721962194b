#include "cli/check_output.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/job_rendering.h"
#include "common/status_macros.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_sets.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

absl::StatusOr<v1::Program> ParseProgramFlag(const std::string& text) {
  std::optional<v1::Program> program = agent::ProgramFromKey(text);
  if (program.has_value()) return *program;
  std::vector<std::string> keys;
  for (v1::Program p : agent::kAllPrograms) {
    keys.emplace_back(agent::ProgramKey(p));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--program \"", text, "\": expected one of ", absl::StrJoin(keys, ", ")));
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp.set_seconds(nanos / 1000000000);
  timestamp.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return timestamp;
}

// Why a local check of an unfinished file says "failed".
constexpr char kIncompleteNote[] =
    "note: incomplete_output is what a file still being written looks like; "
    "the agent waits a grace period before it calls that final.\n";

}  // namespace

absl::StatusOr<v1::Verdict> JudgeLocalOutput(const CheckOutputFlags& flags,
                                             const CommandEnv& env) {
  CCB_ASSIGN_OR_RETURN(const v1::Program program,
                       ParseProgramFlag(flags.program));
  absl::StatusOr<agent::ProgramRuleSets> rules =
      agent::LoadRuleSets(flags.rules_dir, env.fs);
  if (!rules.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rules-dir: ", rules.status().message()));
  }
  CCB_ASSIGN_OR_RETURN(
      std::unique_ptr<agent::OutputJudge> judge,
      agent::OutputJudge::Create(program, rules->For(program)));
  absl::StatusOr<common::FileInfo> info = env.fs->Stat(flags.file);
  absl::StatusOr<std::string> text =
      info.ok() ? env.fs->ReadFile(flags.file) : info.status();
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the output file: ", text.status().message()));
  }
  v1::Verdict verdict = judge->Judge(*text);
  verdict.set_output_path(flags.file);
  verdict.set_output_size(info->size);
  *verdict.mutable_output_mtime() = ToTimestamp(info->mtime);
  *verdict.mutable_judged_at() = ToTimestamp(env.clock->Now());
  return verdict;
}

absl::Status RunCheckOutput(const CheckOutputFlags& flags,
                            const CommandEnv& env) {
  CCB_ASSIGN_OR_RETURN(v1::Verdict verdict, JudgeLocalOutput(flags, env));
  *env.out << RenderVerdict(verdict, flags.format, env.Render());
  if (flags.format == OutputFormat::kTable &&
      verdict.cause() == "incomplete_output") {
    *env.out << kIncompleteNote;
  }
  env.out->flush();
  return absl::OkStatus();
}

}  // namespace ccbatch::cli
