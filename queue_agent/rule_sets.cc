#include "queue_agent/rule_sets.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "queue_agent/builtin_rules.h"

namespace ccbatch::agent {
namespace {

constexpr absl::string_view kSuffix = "_rules.dat";

// Refuses `*_rules.dat` files that would be silently ignored.
absl::Status CheckNoStrayRuleFiles(const std::string& dir,
                                   const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, kSuffix)) continue;
    const absl::string_view key =
        absl::string_view(name).substr(0, name.size() - kSuffix.size());
    if (key == absl::AsciiStrToLower(key) && ProgramFromKey(key).has_value()) {
      continue;
    }
    std::vector<std::string> expected;
    for (v1::Program program : kAllPrograms) {
      expected.push_back(RuleFileName(program));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        dir, "/", name, ": not the rule file of any program; expected ",
        absl::StrJoin(expected, ", "), " (rename or remove it)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RuleSet> BuiltinSet(v1::Program program) {
  return ParseRuleFile(BuiltinRuleText(program),
                       absl::StrCat("built-in ", RuleFileName(program)));
}

}  // namespace

const RuleSet& ProgramRuleSets::For(v1::Program program) const {
  return sets_.at(program);
}

absl::StatusOr<ProgramRuleSets> LoadRuleSets(absl::string_view rules_dir,
                                             const common::FileSystem* fs) {
  ProgramRuleSets result;
  std::vector<std::string> names;
  const std::string dir(rules_dir);
  if (!dir.empty()) {
    absl::StatusOr<std::vector<std::string>> listed = fs->ListDirectory(dir);
    if (!listed.ok()) {
      return absl::Status(
          listed.status().code(),
          absl::StrCat("rules directory: ", listed.status().message()));
    }
    names = *std::move(listed);
    CCB_RETURN_IF_ERROR(CheckNoStrayRuleFiles(dir, names));
  }
  for (v1::Program program : kAllPrograms) {
    const std::string file = RuleFileName(program);
    const bool overridden =
        std::find(names.begin(), names.end(), file) != names.end();
    if (!overridden) {
      CCB_ASSIGN_OR_RETURN(result.sets_[program], BuiltinSet(program));
      continue;
    }
    const std::string path = absl::StrCat(dir, "/", file);
    CCB_ASSIGN_OR_RETURN(const std::string text, fs->ReadFile(path));
    CCB_ASSIGN_OR_RETURN(result.sets_[program], ParseRuleFile(text, path));
  }
  return result;
}

}  // namespace ccbatch::agent
