// Carries out the ledger's orders on the cluster (DESIGN §4, §6): submits
// jobs with sbatch, cancels them with scancel, judges outputs.
//
// A SubmitOrder is run at most once, however often the ledger sends it:
//  1. An order in the journal with an answer gets that answer again.
//  2. An order journaled as started but unanswered (the agent stopped in
//     between) is looked up by its tag `ccb:<order id>` in a snapshot taken
//     after the order arrived again: found, its job id is the answer; else an
//     output written since the order started means its job ran and left the
//     queue, and that output is adopted; else nothing was submitted and the
//     order runs from step 4.
//  3. A job with the order's tag in the latest snapshot (submitted before a
//     journal was lost) is the answer.
//  4. Unless the order is a retry, an existing output is judged first
//     (adoption): a SUCCEEDED or FAILED verdict is the answer and nothing is
//     submitted.
//  5. The order is journaled as started; for a retry the previous attempt's
//     output and the directory's slurm-*.out move to
//     `<directory>/.ccbatch/attempt-<N-1>/` (so an old file is never judged
//     as the new attempt's); the transfers are copied; then
//       sbatch --parsable --comment=ccb:<order id> --chdir=<dir>
//       <dir>/<basename>.sh
//     If sbatch's outcome is uncertain (it timed out, or exited 0 without a
//     job id) the tag in a fresh snapshot settles it.
//  6. The answer is journaled, then returned.
// submitted_at is the clock reading just before sbatch started: a lower
// bound of the real submission, so an output written by the job is never
// taken for one that predates it.
#ifndef CCBATCH_QUEUE_AGENT_SUBMITTER_H_
#define CCBATCH_QUEUE_AGENT_SUBMITTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/process_runner.h"
#include "queue_agent/order_executor.h"
#include "queue_agent/order_journal.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/queue_snapshot.h"
#include "queue_agent/queue_view.h"

namespace ccbatch::agent {

struct SubmitterOptions {
  // Programs: a path, or a name looked up in PATH.
  std::string sbatch_path = "sbatch";
  std::string scancel_path = "scancel";
  // sbatch and scancel are killed after this long (a busy slurmctld can
  // take many seconds to answer).
  absl::Duration command_timeout = absl::Seconds(60);
  // How long an uncertain submission waits for a fresh snapshot (an early
  // probe is asked for; squeue itself may take up to its timeout).
  absl::Duration fresh_snapshot_wait = absl::Seconds(150);
  // Where ccbatch_agent_verdict_parse_seconds is recorded. Null: nowhere
  // exported. Not owned; REQUIRES: outlives the submitter.
  common::MetricsRegistry* metrics = nullptr;
};

// The tag sbatch gets as --comment: "ccb:<order id>".
std::string OrderTag(absl::string_view order_id);

// The job id sbatch --parsable printed: its last non-blank stdout line is
// "<id>" or "<id>;<cluster>". kInvalidArgument quoting the output if there
// is no such line. Pure.
absl::StatusOr<std::string> ParseSbatchJobId(absl::string_view stdout_text);

// The SLURM job id of the entry tagged `tag` in `snapshot` (an array task
// "4812_7" or het component "4812+1" gives "4812"); nullopt if none. Pure.
std::optional<std::string> FindTaggedJob(const QueueSnapshot& snapshot,
                                         absl::string_view tag);

// Thread-safe if its collaborators are (all of the given ones are); the
// agent calls it from one worker thread.
class Submitter final : public OrderExecutor {
 public:
  // REQUIRES: every pointer outlives the submitter; none is owned.
  Submitter(SubmitterOptions options, OrderJournal* journal,
            OutputChecker* checker, common::ProcessRunner* runner,
            common::FileSystem* fs, QueueView* queue,
            const common::Clock* clock, const common::EventLog* log);

  v1::SubmitResult Submit(const v1::SubmitOrder& order) override;
  // scancel <id>; a job already gone counts as cancelled.
  v1::CancelResult Cancel(const v1::CancelOrder& order) override;
  // The OutputChecker's verdict; an order it refuses gets an unspecified
  // outcome with the reason as summary.
  v1::CheckOutputResult CheckOutput(const v1::CheckOutput& order) override;

 private:
  // Steps 2-6 for an order the journal has not answered; `started_at` is
  // set when it was journaled as started without an answer.
  v1::SubmitResult Run(const v1::SubmitOrder& order,
                       std::optional<absl::Time> started_at);
  // Step 2: the answer for an order found started but unanswered, nullopt
  // if it is to run again, or kUnavailable if no fresh snapshot came.
  absl::StatusOr<std::optional<v1::SubmitResult>> SettleInFlight(
      const v1::SubmitOrder& order, absl::Time started_at);
  // An adoption verdict, if an output is there to adopt.
  std::optional<v1::Verdict> Adoptable(const v1::SubmitOrder& order);
  absl::Status ArchivePreviousAttempt(const v1::SubmitOrder& order);
  absl::Status CopyTransfers(const v1::SubmitOrder& order);
  v1::SubmitResult RunSbatch(const v1::SubmitOrder& order);
  // The id of the order's job in a snapshot taken from now on, if any.
  absl::StatusOr<std::optional<std::string>> FindInFreshSnapshot(
      const v1::SubmitOrder& order);
  // Journals `result` (a failure is logged: the answer is still sent, and
  // the order's tag covers a re-send) and returns it.
  v1::SubmitResult Answer(const v1::SubmitOrder& order,
                          v1::SubmitResult result);
  // The OutputChecker's verdict on `check`, timed into the parse histogram.
  absl::StatusOr<v1::Verdict> Judge(const v1::CheckOutput& check);
  void LogOrder(common::LogLevel level, absl::string_view event,
                const v1::SubmitOrder& order,
                std::initializer_list<common::LogField> more = {}) const;

  const SubmitterOptions options_;
  OrderJournal* const journal_;
  OutputChecker* const checker_;
  common::ProcessRunner* const runner_;
  common::FileSystem* const fs_;
  QueueView* const queue_;
  const common::Clock* const clock_;
  const common::EventLog* const log_;
  // Used when options_.metrics is null.
  std::unique_ptr<common::MetricsRegistry> own_metrics_;
  common::Histogram* const verdict_parse_seconds_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SUBMITTER_H_
