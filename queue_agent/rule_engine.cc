#include "queue_agent/rule_engine.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "re2/re2.h"
#include "re2/set.h"

namespace ccbatch::agent {
namespace {

constexpr absl::string_view kFloatPattern = R"((-?\d+\.\d+))";
constexpr absl::string_view kIntPattern = R"((-?\d+))";
constexpr int64_t kDfaMemoryBytes = int64_t{64} << 20;

re2::StringPiece Piece(absl::string_view text) {
  return re2::StringPiece(text.data(), text.size());
}

RE2::Options MatchOptions() {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kDfaMemoryBytes);
  return options;
}

// What a pattern of the combined set stands for.
struct PatternTarget {
  enum class Kind { kRule, kScopeAfter, kScopeBefore };
  Kind kind;
  // Index into CompiledRules::rules, or a scope's global index.
  int index;
};

// A number read from a value, kept exact for ints.
struct Number {
  bool is_int = false;
  int64_t int_value = 0;
  double float_value = 0;

  double AsDouble() const {
    return is_int ? static_cast<double>(int_value) : float_value;
  }
};

std::optional<Number> ParseNumber(absl::string_view text, ValueType type) {
  Number number;
  if (type == ValueType::kInt) {
    number.is_int = true;
    if (!absl::SimpleAtoi(text, &number.int_value)) return std::nullopt;
    return number;
  }
  if (!absl::SimpleAtod(text, &number.float_value)) return std::nullopt;
  return number;
}

bool Less(const Number& a, const Number& b) {
  if (a.is_int && b.is_int) return a.int_value < b.int_value;
  return a.AsDouble() < b.AsDouble();
}

}  // namespace

namespace rule_engine_internal {

struct CompiledRules {
  struct CompiledRule {
    const Rule* rule = nullptr;
    int set = 0;
    int position = 0;
    // Global scope index, or -1.
    int scope = -1;
    // Owned by `value_regexes`; nullptr for a rule without a type.
    const RE2* value_regex = nullptr;
  };

  std::unique_ptr<RE2::Set> set;
  // The same patterns one by one, for lines the set's DFA runs out of
  // memory on (RE2 then falls back to nothing; we must not miss a match).
  std::vector<std::unique_ptr<RE2>> singles;
  std::vector<PatternTarget> targets;
  std::vector<CompiledRule> rules;
  std::vector<std::unique_ptr<RE2>> value_regexes;
  // Per global scope: whether it has a __before__ (else it never closes).
  std::vector<bool> scope_closes;

  absl::Status AddPattern(const std::string& pattern, PatternTarget target,
                          absl::string_view source, int line) {
    std::string error;
    if (set->Add(pattern, &error) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line, ": regex `", pattern,
                       "` is not a valid RE2 regex (", error, ")"));
    }
    singles.push_back(std::make_unique<RE2>(pattern, MatchOptions()));
    targets.push_back(target);
    return absl::OkStatus();
  }

  absl::Status AddRuleSet(const RuleSet& rule_set, int set_index) {
    const int scope_base = static_cast<int>(scope_closes.size());
    for (size_t s = 0; s < rule_set.scopes.size(); ++s) {
      const Scope& scope = rule_set.scopes[s];
      const int global = scope_base + static_cast<int>(s);
      auto status = AddPattern(scope.after_pattern,
                               {PatternTarget::Kind::kScopeAfter, global},
                               rule_set.source, scope.after_line);
      if (!status.ok()) return status;
      scope_closes.push_back(!scope.before_pattern.empty());
      if (scope.before_pattern.empty()) continue;
      status = AddPattern(scope.before_pattern,
                          {PatternTarget::Kind::kScopeBefore, global},
                          rule_set.source, scope.before_line);
      if (!status.ok()) return status;
    }
    for (size_t r = 0; r < rule_set.rules.size(); ++r) {
      const Rule& rule = rule_set.rules[r];
      CompiledRule compiled;
      compiled.rule = &rule;
      compiled.set = set_index;
      compiled.position = static_cast<int>(r);
      compiled.scope = rule.scope < 0 ? -1 : scope_base + rule.scope;
      if (rule.type != ValueType::kNone) {
        absl::string_view pattern = rule.value_pattern;
        if (pattern.empty()) {
          pattern = rule.type == ValueType::kInt ? kIntPattern : kFloatPattern;
        }
        auto regex = std::make_unique<RE2>(Piece(pattern), MatchOptions());
        if (!regex->ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              rule_set.source, ":", rule.line, ": value regex `", pattern,
              "` is not a valid RE2 regex (", regex->error(), ")"));
        }
        compiled.value_regex = regex.get();
        value_regexes.push_back(std::move(regex));
      }
      const int index = static_cast<int>(rules.size());
      rules.push_back(compiled);
      auto status =
          AddPattern(rule.pattern, {PatternTarget::Kind::kRule, index},
                     rule_set.source, rule.line);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }
};

}  // namespace rule_engine_internal

namespace {

using rule_engine_internal::CompiledRules;
using CompiledRule = CompiledRules::CompiledRule;

// The value of `rule` on a folded line, validated against its type.
std::optional<std::string> ValueOn(const CompiledRule& rule,
                                   absl::string_view folded) {
  const RE2& regex = *rule.value_regex;
  const int groups = regex.NumberOfCapturingGroups() > 0 ? 2 : 1;
  re2::StringPiece found[2];
  const ValueIndex& index = rule.rule->index;
  std::optional<absl::string_view> chosen;
  int seen = 0;
  size_t pos = 0;
  while (pos <= folded.size() && regex.Match(Piece(folded), pos, folded.size(),
                                             RE2::UNANCHORED, found, groups)) {
    const re2::StringPiece value = found[groups - 1];
    chosen = absl::string_view(value.data() == nullptr ? "" : value.data(),
                               value.size());
    if (index.kind == ValueIndex::Kind::kFirst) break;
    if (index.kind == ValueIndex::Kind::kNth && seen == index.nth) break;
    ++seen;
    const size_t end =
        static_cast<size_t>(found[0].data() - folded.data()) + found[0].size();
    pos = found[0].empty() ? end + 1 : end;
    if (index.kind == ValueIndex::Kind::kNth) chosen.reset();
  }
  if (!chosen.has_value()) return std::nullopt;
  if (rule.rule->type != ValueType::kString &&
      !ParseNumber(*chosen, rule.rule->type).has_value()) {
    return std::nullopt;
  }
  return std::string(*chosen);
}

// The running state of one scan.
class Scan final {
 public:
  Scan(const CompiledRules& compiled, const std::vector<RuleSet>& sets)
      : compiled_(compiled),
        open_(compiled.scope_closes.size(), 0),
        after_hit_(compiled.scope_closes.size(), 0),
        before_hit_(compiled.scope_closes.size(), 0),
        numbers_(compiled.rules.size()),
        pending_last_(compiled.rules.size()) {
    result_.sets.resize(sets.size());
    for (size_t s = 0; s < sets.size(); ++s) {
      result_.sets[s].resize(sets[s].rules.size());
    }
    for (const CompiledRule& rule : compiled.rules) {
      Variable(rule).rule = rule.rule;
    }
  }

  void Line(int64_t line_number, absl::string_view content,
            absl::string_view folded) {
    if (!MatchLine(folded)) return;
    for (int id : hits_) {
      const PatternTarget& target = compiled_.targets[id];
      if (target.kind == PatternTarget::Kind::kScopeAfter) {
        after_hit_[target.index] = 1;
      } else if (target.kind == PatternTarget::Kind::kScopeBefore) {
        before_hit_[target.index] = 1;
      }
    }
    for (int id : hits_) {
      const PatternTarget& target = compiled_.targets[id];
      if (target.kind != PatternTarget::Kind::kRule) continue;
      const CompiledRule& rule = compiled_.rules[target.index];
      if (rule.scope >= 0 && (!open_[rule.scope] || before_hit_[rule.scope])) {
        continue;
      }
      Apply(target.index, rule, RuleMatch{line_number, content, {}}, folded);
    }
    for (int id : hits_) {
      const PatternTarget& target = compiled_.targets[id];
      if (target.kind == PatternTarget::Kind::kRule) continue;
      const int scope = target.index;
      if (before_hit_[scope]) open_[scope] = 0;
      if (after_hit_[scope]) open_[scope] = 1;
    }
    for (int id : hits_) {
      const PatternTarget& target = compiled_.targets[id];
      if (target.kind == PatternTarget::Kind::kRule) continue;
      after_hit_[target.index] = 0;
      before_hit_[target.index] = 0;
    }
  }

  Extraction Finish(int64_t line_count) && {
    for (size_t i = 0; i < compiled_.rules.size(); ++i) {
      const CompiledRule& rule = compiled_.rules[i];
      VariableResult& variable = Variable(rule);
      switch (rule.rule->flag) {
        case RuleFlag::kFound:
          variable.value = variable.match_count > 0 ? "true" : "false";
          break;
        case RuleFlag::kNotFound:
          variable.value = variable.match_count == 0 ? "true" : "false";
          break;
        case RuleFlag::kAtLeast2:
          variable.value = variable.match_count >= 2 ? "true" : "false";
          break;
        case RuleFlag::kLast:
          FinishLast(rule, pending_last_[i], variable);
          break;
        case RuleFlag::kSumAll:
          if (numbers_[i].has_value()) variable.value = Format(*numbers_[i]);
          break;
        default:
          break;
      }
    }
    result_.line_count = line_count;
    return std::move(result_);
  }

 private:
  // Fills hits_ with the patterns matching the line; false if none.
  bool MatchLine(absl::string_view folded) {
    hits_.clear();
    if (compiled_.targets.empty()) return false;
    RE2::Set::ErrorInfo error;
    if (compiled_.set->Match(Piece(folded), &hits_, &error)) return true;
    if (error.kind != RE2::Set::kOutOfMemory) return false;
    hits_.clear();
    for (size_t id = 0; id < compiled_.singles.size(); ++id) {
      if (RE2::PartialMatch(Piece(folded), *compiled_.singles[id])) {
        hits_.push_back(static_cast<int>(id));
      }
    }
    return !hits_.empty();
  }

  VariableResult& Variable(const CompiledRule& rule) {
    return result_.sets[rule.set][rule.position];
  }

  void NoValue(VariableResult& variable, int64_t line_number) {
    if (variable.lines_without_value == 0) {
      variable.first_line_without_value = line_number;
    }
    ++variable.lines_without_value;
  }

  void Apply(int index, const CompiledRule& rule, RuleMatch match,
             absl::string_view folded) {
    VariableResult& variable = Variable(rule);
    ++variable.match_count;
    const RuleFlag flag = rule.rule->flag;
    if (IsTruthFlag(flag)) {
      const int64_t keep = flag == RuleFlag::kAtLeast2 ? 2 : 1;
      if (variable.match_count <= keep) variable.matches.push_back(match);
      return;
    }
    if (flag == RuleFlag::kLast) {
      // The value is read once, at the end, from the last matching line.
      pending_last_[index] = match;
      return;
    }
    if (flag == RuleFlag::kFirst && variable.match_count > 1) return;
    if (rule.value_regex == nullptr) {  // list without a type
      variable.matches.push_back(match);
      return;
    }
    std::optional<std::string> value = ValueOn(rule, folded);
    if (!value.has_value()) {
      NoValue(variable, match.line_number);
      return;
    }
    match.value = std::move(*value);
    Accumulate(index, rule, std::move(match), variable);
  }

  void Accumulate(int index, const CompiledRule& rule, RuleMatch match,
                  VariableResult& variable) {
    const RuleFlag flag = rule.rule->flag;
    if (flag == RuleFlag::kFirst) {
      variable.value = match.value;
      variable.matches.push_back(std::move(match));
      return;
    }
    if (flag == RuleFlag::kList) {
      variable.matches.push_back(std::move(match));
      return;
    }
    const Number number = *ParseNumber(match.value, rule.rule->type);
    std::optional<Number>& state = numbers_[index];
    if (flag == RuleFlag::kSumAll) {
      state = state.has_value() ? Add(*state, number) : number;
      variable.matches.push_back(std::move(match));
      return;
    }
    const bool better = !state.has_value() ||
                        (flag == RuleFlag::kLargest ? Less(*state, number)
                                                    : Less(number, *state));
    if (!better) return;
    state = number;
    variable.value = match.value;
    variable.matches.assign(1, std::move(match));
  }

  static Number Add(const Number& a, const Number& b) {
    Number sum = a;
    if (a.is_int && b.is_int &&
        !__builtin_add_overflow(a.int_value, b.int_value, &sum.int_value)) {
      return sum;
    }
    sum.is_int = false;
    sum.float_value = a.AsDouble() + b.AsDouble();
    return sum;
  }

  static std::string Format(const Number& number) {
    if (number.is_int) return absl::StrCat(number.int_value);
    return absl::StrFormat("%.15g", number.float_value);
  }

  void FinishLast(const CompiledRule& rule, std::optional<RuleMatch>& pending,
                  VariableResult& variable) {
    if (!pending.has_value()) return;
    std::string folded(pending->line);
    folded.push_back('\n');
    std::optional<std::string> value = ValueOn(rule, folded);
    if (!value.has_value()) {
      NoValue(variable, pending->line_number);
      return;
    }
    pending->value = *value;
    variable.value = std::move(*value);
    variable.matches.push_back(std::move(*pending));
  }

  const CompiledRules& compiled_;
  Extraction result_;
  std::vector<int> hits_;
  std::vector<char> open_;
  std::vector<char> after_hit_;
  std::vector<char> before_hit_;
  // Per compiled rule: the running extreme or sum.
  std::vector<std::optional<Number>> numbers_;
  // Per compiled rule with flag last: its latest matching line.
  std::vector<std::optional<RuleMatch>> pending_last_;
};

}  // namespace

const VariableResult* Extraction::Find(size_t set_index,
                                       absl::string_view name) const {
  if (set_index >= sets.size()) return nullptr;
  for (const VariableResult& variable : sets[set_index]) {
    if (variable.rule != nullptr && variable.rule->name == name) {
      return &variable;
    }
  }
  return nullptr;
}

RuleEngine::RuleEngine(std::vector<RuleSet> sets,
                       std::unique_ptr<CompiledRules> compiled)
    : sets_(std::move(sets)), compiled_(std::move(compiled)) {}

RuleEngine::~RuleEngine() = default;

absl::StatusOr<std::unique_ptr<RuleEngine>> RuleEngine::Create(
    std::vector<RuleSet> sets) {
  // The engine owns the sets first, so the compiled rules can point at them.
  std::unique_ptr<RuleEngine> engine(
      new RuleEngine(std::move(sets), std::make_unique<CompiledRules>()));
  CompiledRules& compiled = *engine->compiled_;
  compiled.set = std::make_unique<RE2::Set>(MatchOptions(), RE2::UNANCHORED);
  for (size_t s = 0; s < engine->sets_.size(); ++s) {
    absl::Status status =
        compiled.AddRuleSet(engine->sets_[s], static_cast<int>(s));
    if (!status.ok()) return status;
  }
  if (!compiled.targets.empty() && !compiled.set->Compile()) {
    return absl::ResourceExhaustedError(
        "the rule sets' regexes are too large to compile together; use "
        "fewer or simpler rules");
  }
  return engine;
}

Extraction RuleEngine::Extract(absl::string_view text) const {
  Scan scan(*compiled_, sets_);
  std::string folded_copy;
  int64_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const char* begin = text.data() + pos;
    const char* newline =
        static_cast<const char*>(std::memchr(begin, '\n', text.size() - pos));
    const size_t end = newline != nullptr
                           ? static_cast<size_t>(newline - text.data())
                           : text.size();
    ++line_number;
    absl::string_view content = text.substr(pos, end - pos);
    absl::string_view folded;
    if (newline != nullptr && (content.empty() || content.back() != '\r')) {
      folded = text.substr(pos, end - pos + 1);  // the line and its "\n"
    } else {
      if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
      folded_copy.assign(content.data(), content.size());
      folded_copy.push_back('\n');
      folded = folded_copy;
    }
    scan.Line(line_number, content, folded);
    pos = newline != nullptr ? end + 1 : text.size();
  }
  return std::move(scan).Finish(line_number);
}

}  // namespace ccbatch::agent
