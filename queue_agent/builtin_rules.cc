#include "queue_agent/builtin_rules.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

// Defined in the generated builtin_rules_data.cc (see BUILD.bazel).
namespace ccbatch::agent::builtin_rules_data {
extern const char k_gaussian[];
extern const char k_orca[];
extern const char k_xtb[];
extern const char k_crest[];
extern const char k_pyaroma[];
}  // namespace ccbatch::agent::builtin_rules_data

namespace ccbatch::agent {

absl::string_view BuiltinRuleText(v1::Program program) {
  namespace data = builtin_rules_data;
  switch (program) {
    case v1::PROGRAM_GAUSSIAN:
      return data::k_gaussian;
    case v1::PROGRAM_ORCA:
      return data::k_orca;
    case v1::PROGRAM_XTB:
      return data::k_xtb;
    case v1::PROGRAM_CREST:
      return data::k_crest;
    case v1::PROGRAM_PYAROMA:
      return data::k_pyaroma;
    default:
      return "";
  }
}

std::string RuleFileName(v1::Program program) {
  const absl::string_view key = ProgramKey(program);
  return key.empty() ? "" : absl::StrCat(key, "_rules.dat");
}

}  // namespace ccbatch::agent
