// Judges one program's output file the way a careful chemist would
// (DESIGN §7). Pure: the file's text is passed in; no I/O, no clock.
//
// Two layers. The program's rule set (BatchRunner's file, built-in or the
// user's) extracts the fields that travel with the verdict (energies,
// <S**2>, ...). The judgement reads the output's structure with ccbatch's
// own patterns, scanned in the same single pass: job steps, route or input
// keywords, termination lines, frequency sections. A user's rule file
// therefore changes what is extracted, never what counts as success.
// Nothing is inferred from file names.
//
// Gaussian  Job steps are delimited by `Link1:  Proceeding to internal job
//           step` (and by a new `Initial command:` after a step ended, as in
//           concatenated runs); every step must end in `Normal termination`.
//           A step ending in `Error termination` fails the job: in a
//           one-step job the cause is the last marker before it (scf_fail,
//           opt_fail, bad_internals, syntax_error), else error_termination;
//           when an earlier step succeeded the cause is error_termination
//           and the summary names the step and its marker. A step whose
//           route has both opt and freq needs the next (frequency) step to
//           say `Stationary point found` (else not_stationary). Imaginary
//           frequencies (`****** N imaginary frequencies`) must number 0,
//           or exactly 1 after an `opt=(ts...)`/QST2/QST3 step (else
//           imaginary_frequencies, checked before stationarity). A step
//           without a termination line: incomplete_output.
// ORCA      `****ORCA TERMINATED NORMALLY****` required (else scf_fail,
//           error_termination or incomplete_output from the markers). An
//           optimisation keyword in an input block (Opt, TightOpt, COpt,
//           LooseOpt, OptTS, ...) needs `*** OPTIMIZATION RUN DONE ***`
//           (else opt_fail). Negative modes in the last VIBRATIONAL
//           FREQUENCIES section must number 0, or exactly 1 for OptTS.
// xTB       `* finished run on` required (else opt_fail, error_termination
//           or incomplete_output); `found N significant imaginary
//           frequencies` with N > 0 fails (imaginary_frequencies); smaller
//           imaginary modes are a warning.
// CREST     `CREST terminated normally` required (else opt_fail,
//           error_termination or incomplete_output).
// pyAroma   `pyAroma terminated normally` required (else error_termination
//           or incomplete_output).
//
// Findings that do not fail a job (scan points that hit MaxCycle, an SCF
// that recovered, rules that matched lines without a value) are warnings.
#ifndef CCBATCH_QUEUE_AGENT_OUTPUT_JUDGE_H_
#define CCBATCH_QUEUE_AGENT_OUTPUT_JUDGE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ccbatch/v1/job.pb.h"
#include "queue_agent/rule_engine.h"
#include "queue_agent/rule_file.h"

namespace ccbatch::agent {

// Immutable after Create; Judge is thread-safe.
class OutputJudge final {
 public:
  // `rules` is the program's rule set; its variables become the verdict's
  // fields. kInvalidArgument if `program` is unspecified or the rules do not
  // compile (naming the rule file and line).
  static absl::StatusOr<std::unique_ptr<OutputJudge>> Create(
      v1::Program program, RuleSet rules);

  // Judges the complete text of an output file. Sets outcome (SUCCEEDED or
  // FAILED), cause, summary, evidence (file "output"), fields and warnings;
  // the caller fills the job, attempt and file metadata and judged_at. A
  // file that simply stops (no termination line, no error marker) is FAILED
  // with cause "incomplete_output": the caller decides whether that is final
  // (the grace period of DESIGN §7).
  v1::Verdict Judge(absl::string_view text) const;

  v1::Program program() const { return program_; }

 private:
  OutputJudge(v1::Program program, std::unique_ptr<RuleEngine> engine)
      : program_(program), engine_(std::move(engine)) {}

  v1::Program program_;
  // Set 0: the program's rule set (fields); set 1: ccbatch's structure
  // patterns for the program.
  std::unique_ptr<RuleEngine> engine_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_OUTPUT_JUDGE_H_
