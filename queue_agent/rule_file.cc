#include "queue_agent/rule_file.h"

#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/utf8_text.h"
#include "re2/re2.h"

namespace ccbatch::agent {
namespace {

constexpr std::pair<absl::string_view, RuleFlag> kFlags[] = {
    {"first", RuleFlag::kFirst},        {"last", RuleFlag::kLast},
    {"largest", RuleFlag::kLargest},    {"smallest", RuleFlag::kSmallest},
    {"sum_all", RuleFlag::kSumAll},     {"found", RuleFlag::kFound},
    {"not_found", RuleFlag::kNotFound}, {"at_least_2", RuleFlag::kAtLeast2},
    {"list", RuleFlag::kList},
};

// Reports problems as "<source>:<line>: ...".
class LineErrors final {
 public:
  LineErrors(absl::string_view source, int line)
      : source_(source), line_(line) {}

  absl::Status operator()(absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", line_, ": ", message));
  }

 private:
  absl::string_view source_;
  int line_;
};

absl::Status CheckRegex(absl::string_view pattern, absl::string_view what,
                        const LineErrors& error) {
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), RE2::Quiet);
  if (re.ok()) return absl::OkStatus();
  return error(absl::StrCat(what, " `", pattern, "` is not a valid RE2 regex (",
                            re.error(),
                            "); RE2 has no lookaround or backreferences"));
}

absl::StatusOr<RuleFlag> ParseFlag(absl::string_view text,
                                   const LineErrors& error) {
  for (const auto& [name, flag] : kFlags) {
    if (text == name) return flag;
  }
  std::vector<absl::string_view> names;
  for (const auto& entry : kFlags) names.push_back(entry.first);
  return error(absl::StrCat("unknown flag \"", text, "\"; expected one of ",
                            absl::StrJoin(names, ", ")));
}

absl::StatusOr<ValueType> ParseType(absl::string_view text,
                                    const LineErrors& error) {
  if (text == "float") return ValueType::kFloat;
  if (text == "int" || text == "integer") return ValueType::kInt;
  if (text == "string") return ValueType::kString;
  return error(absl::StrCat("unknown type \"", text,
                            "\"; expected float, int or string"));
}

absl::StatusOr<ValueIndex> ParseIndex(absl::string_view text,
                                      const LineErrors& error) {
  ValueIndex index;
  if (text == "first") return index;
  if (text == "last") {
    index.kind = ValueIndex::Kind::kLast;
    return index;
  }
  int nth = 0;
  if (absl::SimpleAtoi(text, &nth) && nth >= 0) {
    index.kind = ValueIndex::Kind::kNth;
    index.nth = nth;
    return index;
  }
  return error(absl::StrCat("unknown index \"", text,
                            "\"; expected first, last or a 0-based number"));
}

// The value fields (type, index, value regex) against the flag.
absl::Status CheckValueFields(const Rule& rule, const LineErrors& error) {
  const bool needs_type =
      rule.flag == RuleFlag::kFirst || rule.flag == RuleFlag::kLast ||
      rule.flag == RuleFlag::kLargest || rule.flag == RuleFlag::kSmallest ||
      rule.flag == RuleFlag::kSumAll;
  const bool needs_number = rule.flag == RuleFlag::kLargest ||
                            rule.flag == RuleFlag::kSmallest ||
                            rule.flag == RuleFlag::kSumAll;
  const absl::string_view flag = RuleFlagName(rule.flag);
  if (needs_type && rule.type == ValueType::kNone) {
    return error(absl::StrCat("flag ", flag,
                              " needs a type; add \"; float\", \"; int\" or "
                              "\"; string ; first ; <value regex>\""));
  }
  if (needs_number && rule.type == ValueType::kString) {
    return error(absl::StrCat("flag ", flag,
                              " compares numbers; use type float or int"));
  }
  if (rule.type == ValueType::kString && rule.value_pattern.empty()) {
    return error(
        "type string needs a value regex (6th field) with a capture group");
  }
  return absl::OkStatus();
}

// Fields of one line, trimmed; trailing empty fields (a final ';') dropped.
std::vector<std::string> SplitFields(absl::string_view line) {
  std::vector<std::string> fields;
  for (absl::string_view field : absl::StrSplit(line, ';')) {
    fields.emplace_back(absl::StripAsciiWhitespace(field));
  }
  while (!fields.empty() && fields.back().empty()) fields.pop_back();
  return fields;
}

class Parser final {
 public:
  explicit Parser(absl::string_view source) {
    set_.source = std::string(source);
  }

  absl::Status ParseLine(absl::string_view line, int line_number) {
    const LineErrors error(set_.source, line_number);
    const std::vector<std::string> fields = SplitFields(line);
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].empty()) {
        return error(absl::StrCat("field ", i + 1,
                                  " is empty; fields are separated by ';'"));
      }
    }
    const std::string& name = fields[0];
    if (name == "__after__") return OpenScope(fields, line_number, error);
    if (name == "__before__") return CloseScope(fields, line_number, error);
    if (absl::StartsWith(name, "__") && absl::EndsWith(name, "__")) {
      return error(absl::StrCat("unknown directive ", name,
                                "; expected __after__ or __before__"));
    }
    return AddRule(fields, line_number, error);
  }

  RuleSet Finish() && { return std::move(set_); }

 private:
  absl::Status OpenScope(const std::vector<std::string>& fields,
                         int line_number, const LineErrors& error) {
    if (fields.size() != 2) {
      return error("__after__ takes exactly one regex: __after__ ; <regex>");
    }
    if (open_scope_.has_value()) {
      return error(absl::StrCat(
          "__after__ inside the scope opened at line ",
          set_.scopes[*open_scope_].after_line,
          "; scopes do not nest: close it with __before__ ; <regex> first"));
    }
    CCB_RETURN_IF_ERROR(CheckRegex(fields[1], "__after__ regex", error));
    Scope scope;
    scope.after_pattern = fields[1];
    scope.after_line = line_number;
    set_.scopes.push_back(std::move(scope));
    open_scope_ = static_cast<int>(set_.scopes.size()) - 1;
    return absl::OkStatus();
  }

  absl::Status CloseScope(const std::vector<std::string>& fields,
                          int line_number, const LineErrors& error) {
    if (fields.size() != 2) {
      return error("__before__ takes exactly one regex: __before__ ; <regex>");
    }
    if (!open_scope_.has_value()) {
      return error(
          "__before__ without an open scope; put __after__ ; <regex> above "
          "the rules it scopes");
    }
    CCB_RETURN_IF_ERROR(CheckRegex(fields[1], "__before__ regex", error));
    Scope& scope = set_.scopes[*open_scope_];
    scope.before_pattern = fields[1];
    scope.before_line = line_number;
    open_scope_.reset();
    return absl::OkStatus();
  }

  absl::Status AddRule(const std::vector<std::string>& fields, int line_number,
                       const LineErrors& error) {
    if (fields.size() < 3 || fields.size() > 6) {
      return error(absl::StrCat(fields.size(),
                                " fields; a rule is varname ; regex ; flag "
                                "[; type [; index [; value regex]]]"));
    }
    Rule rule;
    rule.name = fields[0];
    rule.pattern = fields[1];
    rule.line = line_number;
    rule.scope = open_scope_.value_or(-1);
    CCB_RETURN_IF_ERROR(CheckRegex(rule.pattern, "regex", error));
    CCB_ASSIGN_OR_RETURN(rule.flag, ParseFlag(fields[2], error));
    if (fields.size() > 3) {
      CCB_ASSIGN_OR_RETURN(rule.type, ParseType(fields[3], error));
    }
    if (fields.size() > 4) {
      CCB_ASSIGN_OR_RETURN(rule.index, ParseIndex(fields[4], error));
    }
    if (fields.size() > 5) {
      rule.value_pattern = fields[5];
      CCB_RETURN_IF_ERROR(CheckRegex(rule.value_pattern, "value regex", error));
    }
    CCB_RETURN_IF_ERROR(CheckValueFields(rule, error));
    auto [it, inserted] = first_line_of_.emplace(rule.name, line_number);
    if (!inserted) {
      return error(absl::StrCat("variable ", rule.name,
                                " is already defined at line ", it->second,
                                "; give each rule its own name"));
    }
    set_.rules.push_back(std::move(rule));
    return absl::OkStatus();
  }

  RuleSet set_;
  std::optional<int> open_scope_;
  absl::flat_hash_map<std::string, int> first_line_of_;
};

}  // namespace

absl::StatusOr<RuleSet> ParseRuleFile(absl::string_view text,
                                      absl::string_view source) {
  Parser parser(source);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    const absl::string_view content = absl::StripAsciiWhitespace(line);
    if (content.empty() || absl::StartsWith(content, "#")) continue;
    // Names become the fields of verdicts, which must be UTF-8 on the wire.
    if (!common::IsValidUtf8(content)) {
      return LineErrors(source, line_number)(
          "the line is not valid UTF-8; save the rule file as UTF-8");
    }
    CCB_RETURN_IF_ERROR(parser.ParseLine(content, line_number));
  }
  return std::move(parser).Finish();
}

absl::string_view RuleFlagName(RuleFlag flag) {
  for (const auto& [name, value] : kFlags) {
    if (value == flag) return name;
  }
  return "?";
}

bool IsTruthFlag(RuleFlag flag) {
  return flag == RuleFlag::kFound || flag == RuleFlag::kNotFound ||
         flag == RuleFlag::kAtLeast2;
}

}  // namespace ccbatch::agent
