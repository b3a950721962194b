// The rule files shipped inside the agent: BatchRunner's own
// (queue_agent/rules/*.dat, copied unchanged from ccbatchman's
// config/file_parser_config/), compiled in as string constants so the agent
// needs no file at run time.
#ifndef CCBATCH_QUEUE_AGENT_BUILTIN_RULES_H_
#define CCBATCH_QUEUE_AGENT_BUILTIN_RULES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "common/program_names.h"

namespace ccbatch::agent {

// The text of the built-in rule file for `program`; empty for
// PROGRAM_UNSPECIFIED or an unknown value. Static storage.
absl::string_view BuiltinRuleText(v1::Program program);

// Program names live in common/program_names.h; re-exported for the agent.
using ::ccbatch::common::kAllPrograms;
using ::ccbatch::common::ProgramFromKey;
using ::ccbatch::common::ProgramKey;

// The rule file's name for `program`, as BatchRunner names them:
// "gaussian_rules.dat", "orca_rules.dat", ...; empty if unspecified.
std::string RuleFileName(v1::Program program);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_BUILTIN_RULES_H_
