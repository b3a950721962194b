// Applies rule sets (queue_agent/rule_file.h) to the text of an output file
// in one pass: every line is matched against all rules of all sets at once
// (an RE2::Set), so the cost is one scan of the file whatever the number of
// rules. Pure: no I/O, no clock.
//
// Semantics (DESIGN §7, where ccbatch departs from BatchRunner on purpose):
// - A line is matched with its terminator folded to "\n" ("\r\n" and a
//   missing final newline included), so a regex ending in `\s+` matches a
//   keyword at the end of a line and CRLF files behave as LF files. `$`
//   therefore matches after that "\n"; write `\s*$` to anchor at a line end.
// - first / last: the value on the first / last matching line. largest /
//   smallest: the extreme value (numeric comparison; the first of equal
//   values). sum_all: the sum of the values. list: every value (or every
//   matching line when the rule has no type), in order.
// - found: true iff some line matched; not_found: true iff none did;
//   at_least_2: true iff two or more did. Never-matched defaults follow:
//   found/at_least_2 false, not_found true.
// - A scoped rule sees only the lines strictly between a line matching its
//   scope's __after__ regex and the next line matching its __before__ regex;
//   the scope may open and close any number of times.
// - A matching line on which the value regex finds nothing (or finds text
//   that is not a number of the rule's type) gives no value; such lines are
//   counted, never silently dropped.
#ifndef CCBATCH_QUEUE_AGENT_RULE_ENGINE_H_
#define CCBATCH_QUEUE_AGENT_RULE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {

namespace rule_engine_internal {
struct CompiledRules;
}  // namespace rule_engine_internal

// A line of the scanned text that a rule matched.
struct RuleMatch {
  // 1-based.
  int64_t line_number = 0;
  // The line without its terminator. Points into the text passed to
  // RuleEngine::Extract: valid only while that text is.
  absl::string_view line;
  // The value found on the line; empty for a rule without a type.
  std::string value;
};

// What one rule extracted.
struct VariableResult {
  // The rule (owned by the engine; valid while it lives).
  const Rule* rule = nullptr;
  // Lines (inside the rule's scope) that its regex matched.
  int64_t match_count = 0;
  // The result as text: "true"/"false" for found, not_found and at_least_2;
  // the value for first, last, largest, smallest and sum_all (unset when no
  // line gave one). Unset for list (see `matches`).
  std::optional<std::string> value;
  // The evidence: for list every matching line that gave a value (every
  // matching line if the rule has no type); for sum_all every line added;
  // for first, last, largest and smallest the line that gave the value; for
  // found and not_found the first matching line, for at_least_2 the first
  // two.
  std::vector<RuleMatch> matches;
  // Matching lines that gave no value, and the first of them (0 if none).
  int64_t lines_without_value = 0;
  int64_t first_line_without_value = 0;

  // For the truth flags: the value is "true".
  bool truth() const { return value.has_value() && *value == "true"; }
};

// The results of one scan: per rule set, per rule, in the order given.
struct Extraction {
  std::vector<std::vector<VariableResult>> sets;
  // Lines in the text (a final line without a newline counts).
  int64_t line_count = 0;

  // The result of the variable `name` of set `set_index`; nullptr if the
  // set has no such variable.
  const VariableResult* Find(size_t set_index, absl::string_view name) const;
};

// Compiled rule sets. Immutable after Create; Extract is thread-safe.
class RuleEngine final {
 public:
  // Compiles the sets (each keeps its own variable names). Errors
  // (kInvalidArgument) name the set's source and the rule's line.
  static absl::StatusOr<std::unique_ptr<RuleEngine>> Create(
      std::vector<RuleSet> sets);

  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Scans `text` once. The result's RuleMatch::line views point into
  // `text`.
  Extraction Extract(absl::string_view text) const;

  const std::vector<RuleSet>& sets() const { return sets_; }

 private:
  using CompiledRules = rule_engine_internal::CompiledRules;

  RuleEngine(std::vector<RuleSet> sets,
             std::unique_ptr<CompiledRules> compiled);

  std::vector<RuleSet> sets_;
  std::unique_ptr<CompiledRules> compiled_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_RULE_ENGINE_H_
