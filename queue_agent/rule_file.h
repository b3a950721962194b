// Reader of BatchRunner rule files (DESIGN §7): the facts a rule set extracts
// from an output file, as data. Pure: no I/O; the text is passed in.
//
// Format, one rule per line (fields separated by ';', each trimmed):
//
//   varname ; regex ; flag [; type [; index [; value regex]]]
//   __after__ ; regex          opens a scope: the rules up to the matching
//     ...                      __before__ apply only to the lines strictly
//   __before__ ; regex         between a line matching the first regex and
//                              the next line matching the second
//
// Blank lines and lines starting with '#' are ignored; every other line must
// be valid UTF-8 (its names become verdict fields). Regexes are RE2
// syntax; a file that RE2 cannot compile is refused naming file and line.
//   flag   first | last | largest | smallest | sum_all | found | not_found |
//          at_least_2 | list
//   type   float | int (or integer) | string. Required by first, last,
//          largest, smallest and sum_all (largest/smallest/sum_all need a
//          number); optional for list; ignored by found/not_found/at_least_2.
//   index  which occurrence of the value on the line: first (default), last,
//          or a 0-based number (BatchRunner's meaning).
//   value regex  where the value is on the line; its first capture group is
//          the value (the whole match if it has none). Defaults:
//          float `(-?\d+\.\d+)`, int `(-?\d+)`; a string needs one.
//
// A scope left open at the end of the file lasts to the end of the output.
// Scopes do not nest, and a variable name is defined once: both are refused
// with the lines involved, rather than guessing which one was meant.
#ifndef CCBATCH_QUEUE_AGENT_RULE_FILE_H_
#define CCBATCH_QUEUE_AGENT_RULE_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccbatch::agent {

enum class RuleFlag {
  kFirst,
  kLast,
  kLargest,
  kSmallest,
  kSumAll,
  kFound,
  kNotFound,
  kAtLeast2,
  kList,
};

enum class ValueType {
  kNone,  // no value: the rule only counts matching lines
  kFloat,
  kInt,
  kString,
};

// Which occurrence of the value regex on a matching line is the value.
struct ValueIndex {
  enum class Kind { kFirst, kLast, kNth };
  Kind kind = Kind::kFirst;
  int nth = 0;  // 0-based; used when kind == kNth
};

struct Rule {
  std::string name;
  std::string pattern;
  RuleFlag flag = RuleFlag::kFound;
  ValueType type = ValueType::kNone;
  ValueIndex index;
  // Empty: the type's default (see above).
  std::string value_pattern;
  // Index into RuleSet::scopes, or -1 for a rule that applies everywhere.
  int scope = -1;
  // 1-based line of the rule file (for messages).
  int line = 0;
};

struct Scope {
  std::string after_pattern;
  // Empty if the file never closed the scope: it lasts to the end.
  std::string before_pattern;
  int after_line = 0;
  int before_line = 0;
};

struct RuleSet {
  // Where the rules came from, e.g. "/home/u/rules/orca_rules.dat" or
  // "built-in orca_rules.dat"; prefixes every message about them.
  std::string source;
  // In file order.
  std::vector<Rule> rules;
  std::vector<Scope> scopes;
};

// Parses a rule file. Errors are kInvalidArgument with
// "<source>:<line>: <what is wrong>; <what to do>". CRLF line endings are
// accepted.
absl::StatusOr<RuleSet> ParseRuleFile(absl::string_view text,
                                      absl::string_view source);

// The flag's name as written in rule files ("sum_all").
absl::string_view RuleFlagName(RuleFlag flag);

// True for the flags whose value is a truth value (found, not_found,
// at_least_2).
bool IsTruthFlag(RuleFlag flag);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_RULE_FILE_H_
