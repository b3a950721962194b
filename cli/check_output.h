// `ccctl check-output --program P FILE`: the verdict the agent would give
// FILE, computed locally with the agent's own verdict library
// (queue_agent/output_judge.h) and rule files (built-in, or the user's
// `<program>_rules.dat` in --rules-dir, as the agent takes them). No ledger,
// no SLURM: a chemist checks an output, or a rule file, before trusting it.
//
// Thread-compatible.
#ifndef CCBATCH_CLI_CHECK_OUTPUT_H_
#define CCBATCH_CLI_CHECK_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ccbatch/v1/job.pb.h"
#include "cli/commands.h"
#include "cli/output_format.h"

namespace ccbatch::cli {

struct CheckOutputFlags {
  // gaussian, orca, xtb, crest or pyaroma (any case).
  std::string program;
  std::string file;
  // Empty: the built-in rule files.
  std::string rules_dir;
  OutputFormat format = OutputFormat::kTable;
};

// The verdict on `flags.file`, with output_path, size, mtime and judged_at
// filled in. Errors are local (exit 2): unknown program, unreadable file,
// a rule file that does not parse.
absl::StatusOr<ccbatch::v1::Verdict> JudgeLocalOutput(
    const CheckOutputFlags& flags, const CommandEnv& env);

// Judges and prints the verdict.
absl::Status RunCheckOutput(const CheckOutputFlags& flags,
                            const CommandEnv& env);

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_CHECK_OUTPUT_H_
