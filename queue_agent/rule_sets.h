// The rule set each program's output is read with (DESIGN §7): the built-in
// BatchRunner rules, each replaceable by the user's own `<program>_rules.dat`
// in a rules directory (so users keep the rule files they already have).
#ifndef CCBATCH_QUEUE_AGENT_RULE_SETS_H_
#define CCBATCH_QUEUE_AGENT_RULE_SETS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "common/file_system.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {

// One rule set per program (all five present). Immutable; thread-safe.
class ProgramRuleSets final {
 public:
  // REQUIRES: `program` is one of kAllPrograms.
  const RuleSet& For(v1::Program program) const;

 private:
  friend absl::StatusOr<ProgramRuleSets> LoadRuleSets(
      absl::string_view rules_dir, const common::FileSystem* fs);

  std::map<v1::Program, RuleSet> sets_;
};

// The built-in rule sets; a file `<rules_dir>/<program>_rules.dat` (e.g.
// orca_rules.dat) replaces that program's. `rules_dir` empty: all built-in.
// Errors: the directory does not exist or cannot be listed; an override does
// not parse (file:line); a `*_rules.dat` in the directory that names no
// program (a typo such as gausian_rules.dat would otherwise be ignored).
// `fs` is not owned and is only used during the call.
absl::StatusOr<ProgramRuleSets> LoadRuleSets(absl::string_view rules_dir,
                                             const common::FileSystem* fs);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_RULE_SETS_H_
