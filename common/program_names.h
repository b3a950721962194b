// The one place programs are named in text: batchfiles, the agent's and
// ccctl's --program flags and rule-file names all parse through here.
// Pure; thread-safe.
#ifndef CCBATCH_COMMON_PROGRAM_NAMES_H_
#define CCBATCH_COMMON_PROGRAM_NAMES_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"

namespace ccbatch::common {

// The five programs, in enum order.
inline constexpr ccbatch::v1::Program kAllPrograms[] = {
    ccbatch::v1::PROGRAM_GAUSSIAN, ccbatch::v1::PROGRAM_ORCA,
    ccbatch::v1::PROGRAM_XTB, ccbatch::v1::PROGRAM_CREST,
    ccbatch::v1::PROGRAM_PYAROMA};

// The program's lower-case key as used in rule file names and on command
// lines: "gaussian", "orca", "xtb", "crest", "pyaroma"; empty if unspecified.
absl::string_view ProgramKey(ccbatch::v1::Program program);

// The program whose key is `name`, compared case-insensitively (so the
// batchfile spellings "Gaussian", "ORCA", "xTB", "pyAroma" match); nullopt
// if none.
std::optional<ccbatch::v1::Program> ProgramFromKey(absl::string_view name);

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_PROGRAM_NAMES_H_
