// SLURM job state names as squeue prints them (%T long form, %t short form),
// reduced to one canonical spelling: the long form.
#ifndef CCBATCH_QUEUE_AGENT_SLURM_STATE_H_
#define CCBATCH_QUEUE_AGENT_SLURM_STATE_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace ccbatch::agent {

// The long form of a SLURM job state given in long ("RUNNING") or short
// ("R") form, or nullopt if ccbatch does not know it. Tolerates what other
// SLURM tools append: a reason after a space ("CANCELLED by 1000") and
// sacct's truncation mark ("CANCELLED+"). Case-sensitive, as SLURM prints
// states in upper case. The returned view points at static storage. Pure and
// thread-safe.
std::optional<absl::string_view> CanonicalSlurmState(absl::string_view text);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SLURM_STATE_H_
