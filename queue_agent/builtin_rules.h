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

namespace ccbatch::agent {

// The text of the built-in rule file for `program`; empty for
// PROGRAM_UNSPECIFIED or an unknown value. Static storage.
absl::string_view BuiltinRuleText(v1::Program program);

// The program's lower-case key as used in rule file names and on the agent's
// command line: "gaussian", "orca", "xtb", "crest", "pyaroma"; empty if
// unspecified.
absl::string_view ProgramKey(v1::Program program);

// The program whose key is `key`, compared case-insensitively; nullopt if
// none.
std::optional<v1::Program> ProgramFromKey(absl::string_view key);

// The rule file's name for `program`, as BatchRunner names them:
// "gaussian_rules.dat", "orca_rules.dat", ...; empty if unspecified.
std::string RuleFileName(v1::Program program);

// The five programs, in enum order.
inline constexpr v1::Program kAllPrograms[] = {
    v1::PROGRAM_GAUSSIAN, v1::PROGRAM_ORCA, v1::PROGRAM_XTB, v1::PROGRAM_CREST,
    v1::PROGRAM_PYAROMA};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_BUILTIN_RULES_H_
