// Answers the ledger's CheckOutput orders (DESIGN §4, §6, §7): finds a job's
// output file, judges it with the program's OutputJudge, and adds what only
// the agent can see: whether the file was written by this attempt, the
// scheduler's markers in `slurm-<id>.out`, and the grace period for outputs
// that a network file system shows late.
//
// The order's output is `<directory>/<basename><ext>`, ext ".log" for
// Gaussian and ".out" for the others. Outcomes:
// - adoption (no SLURM job id) and no output: OUTCOME_UNSPECIFIED, "nothing
//   to adopt". An adoption is otherwise judged at once, without grace: there
//   is no job that just finished.
// - output missing, not modified since the attempt was submitted (beyond a
//   small tolerance for clock skew and coarse mtimes), unreadable, or
//   incomplete (no termination line): OUTCOME_INCONCLUSIVE until
//   `finished_seen_at + grace_period`, then FAILED with the scheduler's cause
//   if there is one (a marker in slurm-<id>.out, else a terminal state such
//   as TIMEOUT in the order), else no_output / output_predates_attempt /
//   incomplete_output. An order without finished_seen_at has no grace left.
// - otherwise the program's judgement: SUCCEEDED (a scheduler cause becomes
//   a warning) or FAILED with the program's cause.
// A file whose size and mtime are unchanged since it was last judged is not
// read again (a cache keyed by path, bounded in size).
#ifndef CCBATCH_QUEUE_AGENT_OUTPUT_CHECKER_H_
#define CCBATCH_QUEUE_AGENT_OUTPUT_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "common/file_system.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_engine.h"
#include "queue_agent/rule_sets.h"

namespace ccbatch::agent {

struct OutputCheckerOptions {
  // How long after a job was first seen finished a missing or incomplete
  // output is still waited for (DESIGN §7).
  absl::Duration grace_period = absl::Seconds(120);
  // An output whose mtime is at most this much before the attempt's
  // submission still counts as written by the attempt.
  absl::Duration mtime_tolerance = absl::Seconds(2);
  // Judged files remembered (oldest forgotten first).
  size_t max_cached_files = 10000;
};

// Thread-safe: Check may be called from several threads at once (judging is
// done outside the cache lock; two concurrent checks of one changed file may
// both parse it).
class OutputChecker final {
 public:
  // `fs` is not owned and must outlive the checker. Errors: a rule set does
  // not compile (naming its file and line).
  static absl::StatusOr<std::unique_ptr<OutputChecker>> Create(
      const ProgramRuleSets& rules, const common::FileSystem* fs,
      OutputCheckerOptions options = {});

  // Answers one order at time `now`. kInvalidArgument for an order that
  // names no program, directory or basename, a basename with '/', or a SLURM
  // job id that is not of the form 123, 123_4 or 123+1. File problems are
  // never errors: they are part of the verdict.
  absl::StatusOr<v1::Verdict> Check(const v1::CheckOutput& order,
                                    absl::Time now);

  // How many times an output file was read and judged (cache misses).
  int64_t parse_count() const;

 private:
  struct CachedJudgement {
    v1::Program program = v1::PROGRAM_UNSPECIFIED;
    common::FileInfo info;
    v1::Verdict verdict;
  };

  OutputChecker(const common::FileSystem* fs, OutputCheckerOptions options)
      : fs_(fs), options_(options) {}

  // The program's judgement of the file, from the cache when unchanged.
  absl::StatusOr<v1::Verdict> JudgeFile(const std::string& path,
                                        v1::Program program,
                                        const common::FileInfo& info);
  // Markers in slurm-<id>.out, as a verdict fragment (cause, evidence,
  // summary); from the cache when unchanged.
  v1::Verdict SlurmMarkers(const std::string& path);

  bool Lookup(const std::string& path, v1::Program program,
              const common::FileInfo& info, v1::Verdict* verdict) const;
  void Remember(const std::string& path, CachedJudgement entry);

  const common::FileSystem* fs_;
  const OutputCheckerOptions options_;
  absl::flat_hash_map<v1::Program, std::unique_ptr<OutputJudge>> judges_;
  std::unique_ptr<RuleEngine> slurm_markers_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, CachedJudgement> cache_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> cache_order_ ABSL_GUARDED_BY(mu_);
  int64_t parse_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// `<basename>.log` for Gaussian, `<basename>.out` otherwise.
std::string OutputFileName(v1::Program program, absl::string_view basename);

// For `queue_agent check-output --program=<p> FILE`: judges FILE as it is
// now (no attempt, no grace, no scheduler facts) and fills output_path,
// size, mtime and judged_at. Errors: the file cannot be stat'ed or read.
absl::StatusOr<v1::Verdict> CheckOutputFile(const std::string& path,
                                            const OutputJudge& judge,
                                            const common::FileSystem& fs,
                                            absl::Time now);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_OUTPUT_CHECKER_H_
