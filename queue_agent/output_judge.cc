#include "queue_agent/output_judge.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
#include "queue_agent/builtin_rules.h"

namespace ccbatch::agent {
namespace {

// ccbatch's own structure patterns, in rule-file syntax (queue_agent/
// rule_file.h), one set per program. `list` keeps every matching line with
// its line number, which is what the judgement works from.
constexpr absl::string_view kGaussianStructure = R"(
normal_termination ; ^\s*Normal termination of Gaussian ; list
error_termination ; ^\s*Error termination ; list
link1 ; ^\s*Link1:\s+Proceeding to internal job step ; list
initial_command ; ^\s*Initial command:\s*$ ; list
route ; ^\s*# ; list
stationary ; Stationary point found ; list
imaginary ; ^\s*\*{4,}\s+\d+\s+imaginary frequencies ; list ; int
frequencies ; ^\s*Frequencies -- ; list
scf_fail ; Convergence failure -- run terminated|SCF has not converged ; list
opt_fail ; ^\s*Optimization stopped ; list
bad_internals ; FormBX had a problem|Bend failed for angle|Linear angle in ; list
syntax_error ; QPErr --- A syntax error ; list
)";

constexpr absl::string_view kOrcaStructure = R"(
normal_termination ; \*+ORCA TERMINATED NORMALLY\*+ ; list
opt_done ; \*\*\* OPTIMIZATION RUN DONE \*\*\* ; list
opt_not_converged ; The optimization did not converge ; list
scf_not_converged ; SCF NOT CONVERGED ; list
error_termination ; error termination|aborting the run|FATAL ERROR ENCOUNTERED ; list
__after__ ; ^\s*INPUT FILE\s*$
  keywords ; ^\|\s*\d+>\s*! ; list
__before__ ; \*\*\*\*END OF INPUT\*\*\*\*
frequency_section ; ^\s*VIBRATIONAL FREQUENCIES\s*$ ; list
__after__ ; ^\s*VIBRATIONAL FREQUENCIES\s*$
  frequency ; ^\s*\d+:\s+-?\d+\.\d+\s+cm\*\*-1 ; list ; float ; 0 ; (-?\d+\.\d+)\s+cm
__before__ ; ^\s*NORMAL MODES\s*$
)";

constexpr absl::string_view kXtbStructure = R"(
finished ; ^\s*\*\s+finished\s+run\s+on ; list
abnormal ; abnormal termination of xtb ; list
error ; ^\s*\[ERROR\]|ERROR STOP|Program received signal ; list
opt_fail ; Geometry optimization failed|Geometry optimization did not converge ; list
significant_imaginary ; found\s+\d+\s+significant\s+imaginary\s+frequenc ; list ; int
imaginary_count ; #\s+imaginary\s+freq\. ; list ; int
scc_not_converged ; convergence criteria cannot be satisfied|Self consistent charge iterator did not converge ; list
)";

constexpr absl::string_view kCrestStructure = R"(
normal_termination ; CREST\s+terminated\s+normally ; list
opt_fail ; Initial geometry optimization failed ; list
crash ; ERROR STOP|Error termination|terminated by signal|forrtl: severe|malloc\(\)|Segmentation fault|Program received signal|exited with non-zero status ; list
)";

constexpr absl::string_view kPyaromaStructure = R"(
normal_termination ; pyAroma\s+terminated\s+normally ; list
crash ; Traceback \(most recent call last\)|^\s*\w*Error: ; list
)";

absl::string_view StructureText(v1::Program program) {
  switch (program) {
    case v1::PROGRAM_GAUSSIAN:
      return kGaussianStructure;
    case v1::PROGRAM_ORCA:
      return kOrcaStructure;
    case v1::PROGRAM_XTB:
      return kXtbStructure;
    case v1::PROGRAM_CREST:
      return kCrestStructure;
    case v1::PROGRAM_PYAROMA:
      return kPyaromaStructure;
    default:
      return "";
  }
}

constexpr int kUserSet = 0;
constexpr int kStructureSet = 1;
constexpr int kMaxEvidence = 24;
constexpr size_t kMaxEvidenceText = 300;

using Lines = std::vector<const RuleMatch*>;

// Read access to the structure facts of one scan.
class Facts final {
 public:
  Facts(const Extraction& extraction, absl::string_view text)
      : extraction_(extraction), text_(text) {}

  // Every line the structure rule `name` matched, in file order.
  const std::vector<RuleMatch>& All(absl::string_view name) const {
    static const std::vector<RuleMatch>* const kNone =
        new std::vector<RuleMatch>();
    const VariableResult* variable = extraction_.Find(kStructureSet, name);
    return variable != nullptr ? variable->matches : *kNone;
  }

  // The lines of `name` with first <= line number <= last.
  Lines Between(absl::string_view name, int64_t first, int64_t last) const {
    Lines lines;
    for (const RuleMatch& match : All(name)) {
      if (match.line_number >= first && match.line_number <= last) {
        lines.push_back(&match);
      }
    }
    return lines;
  }

  const RuleMatch* Last(absl::string_view name) const {
    const std::vector<RuleMatch>& all = All(name);
    return all.empty() ? nullptr : &all.back();
  }

  bool Any(absl::string_view name) const { return !All(name).empty(); }

  int64_t line_count() const { return extraction_.line_count; }
  absl::string_view text() const { return text_; }

 private:
  const Extraction& extraction_;
  absl::string_view text_;
};

// Builds the program-dependent part of a verdict.
class Judgement final {
 public:
  explicit Judgement(v1::Verdict* verdict) : verdict_(verdict) {}

  void Evidence(const RuleMatch* match, absl::string_view rule) {
    if (match == nullptr || verdict_->evidence_size() >= kMaxEvidence) return;
    v1::EvidenceLine* line = verdict_->add_evidence();
    line->set_line_number(match->line_number);
    // Cut between characters, so that a valid line stays valid UTF-8.
    line->set_text(std::string(absl::StripTrailingAsciiWhitespace(
        common::Utf8Prefix(match->line, kMaxEvidenceText))));
    line->set_rule(std::string(rule));
    line->set_file("output");
  }

  void Evidence(const Lines& lines, absl::string_view rule) {
    for (const RuleMatch* match : lines) Evidence(match, rule);
  }

  void Succeed(std::string summary) {
    verdict_->set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
    verdict_->clear_cause();
    verdict_->set_summary(std::move(summary));
  }

  void Fail(absl::string_view cause, std::string summary) {
    verdict_->set_outcome(v1::Verdict::OUTCOME_FAILED);
    verdict_->set_cause(std::string(cause));
    verdict_->set_summary(std::move(summary));
  }

  void Warn(std::string warning) { verdict_->add_warnings(std::move(warning)); }

 private:
  v1::Verdict* verdict_;
};

// "line 12" or "lines 12, 40 and 77" (at most a few listed).
std::string LineList(const Lines& lines) {
  std::vector<std::string> numbers;
  for (size_t i = 0; i < lines.size() && i < 5; ++i) {
    numbers.push_back(absl::StrCat(lines[i]->line_number));
  }
  if (lines.size() > 5) numbers.push_back("...");
  return absl::StrCat(lines.size() == 1 ? "line " : "lines ",
                      absl::StrJoin(numbers, ", "));
}

// The line before / after `line` (a view into `text`), terminator removed.
std::optional<absl::string_view> PreviousLine(absl::string_view text,
                                              absl::string_view line) {
  size_t start = static_cast<size_t>(line.data() - text.data());
  if (start == 0) return std::nullopt;
  size_t end = start - 1;  // the '\n' ending the previous line
  if (end > 0 && text[end - 1] == '\r') --end;
  const size_t newline =
      end == 0 ? absl::string_view::npos : text.rfind('\n', end - 1);
  const size_t begin = newline == absl::string_view::npos ? 0 : newline + 1;
  return text.substr(begin, end - begin);
}

std::optional<absl::string_view> NextLine(absl::string_view text,
                                          absl::string_view line) {
  size_t pos = static_cast<size_t>(line.data() - text.data()) + line.size();
  if (pos < text.size() && text[pos] == '\r') ++pos;
  if (pos >= text.size()) return std::nullopt;
  ++pos;  // the '\n'
  if (pos >= text.size()) return std::nullopt;
  size_t end = text.find('\n', pos);
  if (end == absl::string_view::npos) end = text.size();
  absl::string_view next = text.substr(pos, end - pos);
  absl::ConsumeSuffix(&next, "\r");
  return next;
}

bool IsDashes(absl::string_view line) {
  line = absl::StripAsciiWhitespace(line);
  return line.size() >= 5 &&
         line.find_first_not_of('-') == absl::string_view::npos;
}

// ---------------------------------------------------------------------------
// Gaussian

struct GaussianRoute {
  const RuleMatch* line = nullptr;
  std::string text;
  bool opt = false;
  bool freq = false;
  bool ts = false;
};

// Splits a route on blanks and commas outside parentheses.
std::vector<std::string> RouteTokens(absl::string_view route) {
  std::vector<std::string> tokens;
  std::string current;
  int depth = 0;
  for (char c : route) {
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
    if (depth == 0 && (absl::ascii_isspace(c) || c == ',')) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

void ClassifyRoute(GaussianRoute& route) {
  absl::string_view body = absl::StripLeadingAsciiWhitespace(route.text);
  absl::ConsumePrefix(&body, "#");
  // "#p", "#n", "#t": print levels, not keywords.
  if (!body.empty() && absl::StrContains("pPnNtT", body[0]) &&
      (body.size() == 1 || absl::ascii_isspace(body[1]))) {
    body.remove_prefix(1);
  }
  for (const std::string& token : RouteTokens(body)) {
    const std::string lower = absl::AsciiStrToLower(token);
    const size_t cut = lower.find_first_of("=(/");
    const std::string keyword = lower.substr(0, cut);
    if (keyword == "opt" || keyword == "optimize" ||
        keyword == "optimization") {
      route.opt = true;
      const std::string options =
          cut == std::string::npos ? "" : lower.substr(cut);
      for (absl::string_view option : absl::StrSplit(
               options, absl::ByAnyChar("=(), "), absl::SkipEmpty())) {
        if (option == "ts" || option == "qst2" || option == "qst3") {
          route.ts = true;
        }
      }
    }
    if (keyword == "freq" || keyword == "frequency" ||
        keyword == "frequencies") {
      route.freq = true;
    }
  }
}

// The route section starting at `line`: the `#` line after a dashed rule,
// with its continuation lines (Gaussian wraps routes at 70 columns and
// indents the rest by one blank) up to the closing dashed rule.
std::optional<GaussianRoute> ReadRoute(const Facts& facts,
                                       const RuleMatch& line) {
  const std::optional<absl::string_view> before =
      PreviousLine(facts.text(), line.line);
  if (!before.has_value() || !IsDashes(*before)) return std::nullopt;
  GaussianRoute route;
  route.line = &line;
  absl::string_view current = line.line;
  route.text = std::string(absl::StripLeadingAsciiWhitespace(current));
  for (int i = 0; i < 20; ++i) {
    std::optional<absl::string_view> next = NextLine(facts.text(), current);
    if (!next.has_value() || IsDashes(*next)) break;
    current = *next;
    absl::string_view continuation = current;
    absl::ConsumePrefix(&continuation, " ");
    absl::StrAppend(&route.text, continuation);
  }
  ClassifyRoute(route);
  return route;
}

struct GaussianStep {
  enum class End { kNone, kNormal, kError };
  int64_t first_line = 1;
  int64_t last_line = 0;  // inclusive
  End end = End::kNone;
  const RuleMatch* end_line = nullptr;
  std::optional<GaussianRoute> route;
};

// Job steps from the termination lines and step starts, in file order.
std::vector<GaussianStep> GaussianSteps(const Facts& facts) {
  enum class Kind { kLink1, kInitialCommand, kNormal, kError };
  std::vector<std::pair<const RuleMatch*, Kind>> events;
  for (const RuleMatch& m : facts.All("link1"))
    events.push_back({&m, Kind::kLink1});
  for (const RuleMatch& m : facts.All("initial_command")) {
    events.push_back({&m, Kind::kInitialCommand});
  }
  for (const RuleMatch& m : facts.All("normal_termination")) {
    events.push_back({&m, Kind::kNormal});
  }
  for (const RuleMatch& m : facts.All("error_termination")) {
    events.push_back({&m, Kind::kError});
  }
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    return a.first->line_number < b.first->line_number;
  });
  std::vector<GaussianStep> steps(1);
  auto start_step = [&](int64_t line) {
    steps.back().last_line = line - 1;
    steps.emplace_back();
    steps.back().first_line = line;
  };
  for (const auto& [match, kind] : events) {
    GaussianStep& step = steps.back();
    const bool ended = step.end != GaussianStep::End::kNone;
    switch (kind) {
      case Kind::kLink1:
        start_step(match->line_number);
        break;
      case Kind::kInitialCommand:
        if (ended) start_step(match->line_number);
        break;
      case Kind::kNormal:
      case Kind::kError: {
        const auto end = kind == Kind::kNormal ? GaussianStep::End::kNormal
                                               : GaussianStep::End::kError;
        // Gaussian prints two Error termination lines for one failure.
        if (ended && (end == GaussianStep::End::kNormal ||
                      step.end == GaussianStep::End::kNormal)) {
          start_step(match->line_number);
        }
        if (steps.back().end != GaussianStep::End::kError) {
          steps.back().end = end;
          steps.back().end_line = match;
        }
        break;
      }
    }
  }
  steps.back().last_line = facts.line_count();
  for (GaussianStep& step : steps) {
    for (const RuleMatch* line :
         facts.Between("route", step.first_line, step.last_line)) {
      step.route = ReadRoute(facts, *line);
      if (step.route.has_value()) break;
    }
  }
  return steps;
}

constexpr absl::string_view kGaussianMarkers[] = {
    "scf_fail", "opt_fail", "bad_internals", "syntax_error"};

// The last failure marker of a step before `before_line`, and its name.
std::pair<const RuleMatch*, absl::string_view> LastMarker(
    const Facts& facts, const GaussianStep& step, int64_t before_line) {
  std::pair<const RuleMatch*, absl::string_view> last = {nullptr, ""};
  for (absl::string_view marker : kGaussianMarkers) {
    for (const RuleMatch* line :
         facts.Between(marker, step.first_line, before_line)) {
      if (last.first == nullptr ||
          line->line_number > last.first->line_number) {
        last = {line, marker};
      }
    }
  }
  return last;
}

std::string StepName(size_t index, size_t count) {
  return count == 1 ? std::string("the job")
                    : absl::StrCat("job step ", index + 1, " of ", count);
}

// A failed step; returns true if `step` failed the job.
bool JudgeGaussianEnd(const Facts& facts,
                      const std::vector<GaussianStep>& steps, size_t k,
                      Judgement& judgement) {
  const GaussianStep& step = steps[k];
  const std::string name = StepName(k, steps.size());
  if (step.end == GaussianStep::End::kNone) {
    judgement.Fail("incomplete_output",
                   absl::StrCat("Gaussian: ", name,
                                " has no termination line; the output stops "
                                "at line ",
                                step.last_line));
    return true;
  }
  if (step.end == GaussianStep::End::kNormal) return false;
  judgement.Evidence(step.end_line, "error_termination");
  const auto [marker, marker_name] =
      LastMarker(facts, step, step.end_line->line_number);
  judgement.Evidence(marker, marker_name);
  const std::string after =
      marker == nullptr
          ? ""
          : absl::StrCat(" after \"", absl::StripAsciiWhitespace(marker->line),
                         "\" (line ", marker->line_number, ")");
  const absl::string_view cause = marker != nullptr && steps.size() == 1
                                      ? marker_name
                                      : "error_termination";
  judgement.Fail(cause, absl::StrCat("Gaussian: ", name,
                                     " ended in Error termination at line ",
                                     step.end_line->line_number, after));
  return true;
}

// Frequency and stationarity checks of a normally ended step `k`.
bool JudgeGaussianFrequencies(const Facts& facts,
                              const std::vector<GaussianStep>& steps, size_t k,
                              Judgement& judgement) {
  const GaussianStep& step = steps[k];
  const GaussianStep* previous = k > 0 ? &steps[k - 1] : nullptr;
  const GaussianRoute* previous_route =
      previous != nullptr && previous->route.has_value() ? &*previous->route
                                                         : nullptr;
  const std::string name = StepName(k, steps.size());
  const Lines imaginary =
      facts.Between("imaginary", step.first_line, step.last_line);
  const bool has_frequencies =
      !imaginary.empty() ||
      !facts.Between("frequencies", step.first_line, step.last_line).empty();
  if (has_frequencies) {
    const bool ts = previous_route != nullptr && previous_route->ts;
    const int64_t expected = ts ? 1 : 0;
    int64_t count = 0;
    if (!imaginary.empty()) {
      absl::SimpleAtoi(imaginary.back()->value, &count);
      judgement.Evidence(imaginary.back(), "imaginary_frequencies");
    }
    if (count != expected) {
      judgement.Fail("imaginary_frequencies",
                     absl::StrCat("Gaussian: ", name, " found ", count,
                                  count == 1 ? " imaginary frequency; "
                                             : " imaginary frequencies; ",
                                  ts ? "a transition state needs exactly 1"
                                     : "a minimum needs 0"));
      return true;
    }
  }
  if (previous_route != nullptr && previous_route->opt &&
      previous_route->freq) {
    const Lines stationary =
        facts.Between("stationary", step.first_line, step.last_line);
    if (stationary.empty()) {
      judgement.Evidence(previous_route->line, "route");
      judgement.Fail(
          "not_stationary",
          absl::StrCat("Gaussian: the frequency step (", name,
                       ") of the opt+freq job did not find a stationary "
                       "point: its convergence check failed"));
      return true;
    }
    judgement.Evidence(stationary.back(), "stationary_point");
  }
  return false;
}

void WarnGaussianMarkers(const Facts& facts, Judgement& judgement) {
  const Lines stopped = facts.Between("opt_fail", 1, facts.line_count());
  if (!stopped.empty()) {
    judgement.Warn(absl::StrCat(
        stopped.size(), " optimisation(s) stopped before converging (",
        LineList(stopped), ") but Gaussian continued and ended normally"));
  }
  const Lines scf = facts.Between("scf_fail", 1, facts.line_count());
  if (!scf.empty()) {
    judgement.Warn(absl::StrCat("SCF convergence failure reported (",
                                LineList(scf),
                                ") but Gaussian ended normally"));
  }
}

void JudgeGaussian(const Facts& facts, Judgement& judgement) {
  const std::vector<GaussianStep> steps = GaussianSteps(facts);
  for (size_t k = 0; k < steps.size(); ++k) {
    if (JudgeGaussianEnd(facts, steps, k, judgement)) return;
    judgement.Evidence(steps[k].end_line, "normal_termination");
    if (JudgeGaussianFrequencies(facts, steps, k, judgement)) return;
  }
  const GaussianStep& last = steps.back();
  if (last.route.has_value() && last.route->opt && last.route->freq) {
    judgement.Evidence(last.route->line, "route");
    judgement.Fail("incomplete_output",
                   "Gaussian: the route asks for opt and freq but the output "
                   "ends before the frequency step");
    return;
  }
  WarnGaussianMarkers(facts, judgement);
  judgement.Succeed(absl::StrCat(
      "Gaussian: ",
      steps.size() == 1 ? std::string("the job")
                        : absl::StrCat("all ", steps.size(), " job steps"),
      " ended in Normal termination"));
}

// ---------------------------------------------------------------------------
// ORCA

struct OrcaKeywords {
  bool opt = false;
  bool ts = false;
  const RuleMatch* opt_line = nullptr;
};

OrcaKeywords ReadOrcaKeywords(const Facts& facts) {
  static const char* const kOpt[] = {
      "opt",          "looseopt", "normalopt", "tightopt",
      "verytightopt", "copt",     "zopt",      "gdiis-copt",
      "gdiis-zopt",   "opth",     "l-opt",     "l-copt",
      "l-zopt",       "optts",    "scants",    "l-optts"};
  OrcaKeywords keywords;
  for (const RuleMatch& line : facts.All("keywords")) {
    absl::string_view text = line.line;
    text = text.substr(text.find('!') + 1);
    text = text.substr(0, text.find('#'));
    for (absl::string_view word :
         absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      const std::string lower = absl::AsciiStrToLower(word);
      for (const char* opt : kOpt) {
        if (lower != opt) continue;
        keywords.opt = true;
        if (keywords.opt_line == nullptr) keywords.opt_line = &line;
        if (lower == "optts" || lower == "scants" || lower == "l-optts") {
          keywords.ts = true;
          keywords.opt_line = &line;
        }
      }
    }
  }
  return keywords;
}

bool JudgeOrcaFrequencies(const Facts& facts, const OrcaKeywords& keywords,
                          Judgement& judgement) {
  const RuleMatch* section = facts.Last("frequency_section");
  if (section == nullptr) return false;
  Lines negative;
  for (const RuleMatch* mode :
       facts.Between("frequency", section->line_number, facts.line_count())) {
    double value = 0;
    if (absl::SimpleAtod(mode->value, &value) && value < 0) {
      negative.push_back(mode);
    }
  }
  const size_t expected = keywords.ts ? 1 : 0;
  judgement.Evidence(negative, "imaginary_mode");
  if (negative.size() == expected) return false;
  judgement.Fail(
      "imaginary_frequencies",
      absl::StrCat("ORCA: ", negative.size(),
                   " imaginary mode(s) in VIBRATIONAL FREQUENCIES (line ",
                   section->line_number, "); ",
                   keywords.ts ? "a transition state (OptTS) needs exactly 1"
                               : "a minimum needs 0"));
  return true;
}

void JudgeOrcaAbnormal(const Facts& facts, Judgement& judgement) {
  if (const RuleMatch* scf = facts.Last("scf_not_converged")) {
    judgement.Evidence(scf, "scf_fail");
    judgement.Fail("scf_fail",
                   absl::StrCat("ORCA did not terminate normally; SCF not "
                                "converged at line ",
                                scf->line_number));
  } else if (const RuleMatch* error = facts.Last("error_termination")) {
    judgement.Evidence(error, "error_termination");
    judgement.Fail("error_termination",
                   absl::StrCat("ORCA did not terminate normally; error at "
                                "line ",
                                error->line_number));
  } else {
    judgement.Fail("incomplete_output",
                   absl::StrCat("ORCA did not terminate normally; the output "
                                "stops at line ",
                                facts.line_count()));
  }
}

void JudgeOrca(const Facts& facts, Judgement& judgement) {
  const RuleMatch* normal = facts.Last("normal_termination");
  if (normal == nullptr) {
    JudgeOrcaAbnormal(facts, judgement);
    return;
  }
  judgement.Evidence(normal, "normal_termination");
  const OrcaKeywords keywords = ReadOrcaKeywords(facts);
  if (keywords.opt) {
    judgement.Evidence(keywords.opt_line, "opt_keyword");
    const RuleMatch* done = facts.Last("opt_done");
    if (done == nullptr) {
      judgement.Evidence(facts.Last("opt_not_converged"), "opt_fail");
      judgement.Fail("opt_fail",
                     "ORCA: the input asks for an optimisation but there is "
                     "no \"*** OPTIMIZATION RUN DONE ***\"");
      return;
    }
    judgement.Evidence(done, "opt_done");
  }
  if (JudgeOrcaFrequencies(facts, keywords, judgement)) return;
  const Lines scf = facts.Between("scf_not_converged", 1, facts.line_count());
  if (!scf.empty()) {
    judgement.Warn(absl::StrCat("SCF NOT CONVERGED reported (", LineList(scf),
                                ") but ORCA terminated normally"));
  }
  judgement.Succeed(keywords.opt ? "ORCA terminated normally; optimisation "
                                   "converged"
                                 : "ORCA terminated normally");
}

// ---------------------------------------------------------------------------
// xTB, CREST, pyAroma

void JudgeXtb(const Facts& facts, Judgement& judgement) {
  const RuleMatch* finished = facts.Last("finished");
  if (finished == nullptr) {
    const RuleMatch* opt = facts.Last("opt_fail");
    const RuleMatch* error = facts.Last("abnormal");
    if (error == nullptr) error = facts.Last("error");
    judgement.Evidence(opt != nullptr ? opt : error,
                       opt != nullptr ? "opt_fail" : "error_termination");
    if (opt != nullptr) {
      judgement.Fail("opt_fail", "xTB: geometry optimisation failed");
    } else if (error != nullptr) {
      judgement.Fail("error_termination",
                     absl::StrCat("xTB stopped with an error at line ",
                                  error->line_number));
    } else {
      judgement.Fail("incomplete_output",
                     absl::StrCat("xTB: no \"finished run\" line; the output "
                                  "stops at line ",
                                  facts.line_count()));
    }
    return;
  }
  judgement.Evidence(finished, "normal_termination");
  int64_t significant = 0;
  if (const RuleMatch* line = facts.Last("significant_imaginary")) {
    absl::SimpleAtoi(line->value, &significant);
    judgement.Evidence(line, "imaginary_frequencies");
  }
  if (significant > 0) {
    judgement.Fail("imaginary_frequencies",
                   absl::StrCat("xTB: the Hessian has ", significant,
                                " significant imaginary frequencies; not a "
                                "minimum"));
    return;
  }
  int64_t count = 0;
  const RuleMatch* counted = facts.Last("imaginary_count");
  if (counted != nullptr && absl::SimpleAtoi(counted->value, &count) &&
      count > 0) {
    judgement.Warn(absl::StrCat(count,
                                " imaginary frequencies below xTB's "
                                "significance cut-off (line ",
                                counted->line_number, ")"));
  }
  const Lines scc = facts.Between("scc_not_converged", 1, facts.line_count());
  if (!scc.empty()) {
    judgement.Warn(absl::StrCat("SCC convergence trouble reported (",
                                LineList(scc), ") but xTB finished"));
  }
  judgement.Succeed(counted != nullptr
                        ? "xTB finished; Hessian without significant "
                          "imaginary frequencies"
                        : "xTB finished normally");
}

// CREST and pyAroma: a normal-termination line, else the markers.
void JudgeByTermination(absl::string_view program, const Facts& facts,
                        Judgement& judgement) {
  if (const RuleMatch* normal = facts.Last("normal_termination")) {
    judgement.Evidence(normal, "normal_termination");
    judgement.Succeed(absl::StrCat(program, " terminated normally"));
    return;
  }
  if (const RuleMatch* opt = facts.Last("opt_fail")) {
    judgement.Evidence(opt, "opt_fail");
    judgement.Fail("opt_fail",
                   absl::StrCat(program, ": geometry optimisation failed"));
  } else if (const RuleMatch* crash = facts.Last("crash")) {
    judgement.Evidence(crash, "error_termination");
    judgement.Fail("error_termination",
                   absl::StrCat(program, " stopped with an error at line ",
                                crash->line_number));
  } else {
    judgement.Fail("incomplete_output",
                   absl::StrCat(program,
                                ": no normal-termination line; the output "
                                "stops at line ",
                                facts.line_count()));
  }
}

// ---------------------------------------------------------------------------
// Fields from the program's rule set

void AddFields(const std::vector<VariableResult>& variables,
               absl::string_view source, v1::Verdict& verdict) {
  for (const VariableResult& variable : variables) {
    v1::ExtractedField field;
    field.set_name(variable.rule->name);
    if (variable.rule->flag == RuleFlag::kList) {
      for (const RuleMatch& match : variable.matches) {
        field.add_values(
            variable.rule->type == ValueType::kNone
                ? std::string(absl::StripAsciiWhitespace(match.line))
                : match.value);
      }
    } else if (variable.value.has_value()) {
      field.add_values(*variable.value);
    }
    if (field.values_size() > 0) *verdict.add_fields() = std::move(field);
    if (variable.lines_without_value > 0) {
      verdict.add_warnings(
          absl::StrCat("rule ", variable.rule->name, " (", source, ":",
                       variable.rule->line, "): ", variable.lines_without_value,
                       " matching line(s) gave no value (first: output line ",
                       variable.first_line_without_value, ")"));
    }
  }
}

// Output files are not always UTF-8 (Latin-1 names in titles and paths, a
// binary tail after a crash), but a verdict's strings must be, or the ledger
// refuses the message that carries it. Replaces what is not by '?'.
void MakeStringsValidUtf8(v1::Verdict& verdict) {
  for (v1::EvidenceLine& line : *verdict.mutable_evidence()) {
    common::MakeValidUtf8(line.mutable_text());
  }
  for (v1::ExtractedField& field : *verdict.mutable_fields()) {
    common::MakeValidUtf8(field.mutable_name());
    for (std::string& value : *field.mutable_values()) {
      common::MakeValidUtf8(&value);
    }
  }
  for (std::string& warning : *verdict.mutable_warnings()) {
    common::MakeValidUtf8(&warning);
  }
  common::MakeValidUtf8(verdict.mutable_summary());
}

}  // namespace

absl::StatusOr<std::unique_ptr<OutputJudge>> OutputJudge::Create(
    v1::Program program, RuleSet rules) {
  const absl::string_view structure = StructureText(program);
  if (structure.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no judgement for program ", v1::Program_Name(program),
                     "; expected gaussian, orca, xtb, crest or pyaroma"));
  }
  CCB_ASSIGN_OR_RETURN(
      RuleSet structure_set,
      ParseRuleFile(structure, absl::StrCat("ccbatch ", ProgramKey(program),
                                            " structure patterns")));
  std::vector<RuleSet> sets;
  sets.push_back(std::move(rules));
  sets.push_back(std::move(structure_set));
  CCB_ASSIGN_OR_RETURN(std::unique_ptr<RuleEngine> engine,
                       RuleEngine::Create(std::move(sets)));
  return std::unique_ptr<OutputJudge>(
      new OutputJudge(program, std::move(engine)));
}

v1::Verdict OutputJudge::Judge(absl::string_view text) const {
  const Extraction extraction = engine_->Extract(text);
  const Facts facts(extraction, text);
  v1::Verdict verdict;
  Judgement judgement(&verdict);
  switch (program_) {
    case v1::PROGRAM_GAUSSIAN:
      JudgeGaussian(facts, judgement);
      break;
    case v1::PROGRAM_ORCA:
      JudgeOrca(facts, judgement);
      break;
    case v1::PROGRAM_XTB:
      JudgeXtb(facts, judgement);
      break;
    case v1::PROGRAM_CREST:
      JudgeByTermination("CREST", facts, judgement);
      break;
    default:
      JudgeByTermination("pyAroma", facts, judgement);
      break;
  }
  AddFields(extraction.sets[kUserSet], engine_->sets()[kUserSet].source,
            verdict);
  MakeStringsValidUtf8(verdict);
  return verdict;
}

}  // namespace ccbatch::agent
