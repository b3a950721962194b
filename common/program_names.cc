#include "common/program_names.h"

#include "absl/strings/match.h"

namespace ccbatch::common {

absl::string_view ProgramKey(ccbatch::v1::Program program) {
  switch (program) {
    case ccbatch::v1::PROGRAM_GAUSSIAN:
      return "gaussian";
    case ccbatch::v1::PROGRAM_ORCA:
      return "orca";
    case ccbatch::v1::PROGRAM_XTB:
      return "xtb";
    case ccbatch::v1::PROGRAM_CREST:
      return "crest";
    case ccbatch::v1::PROGRAM_PYAROMA:
      return "pyaroma";
    default:
      return "";
  }
}

std::optional<ccbatch::v1::Program> ProgramFromKey(absl::string_view name) {
  for (ccbatch::v1::Program program : kAllPrograms) {
    if (absl::EqualsIgnoreCase(name, ProgramKey(program))) return program;
  }
  return std::nullopt;
}

}  // namespace ccbatch::common
