// The ledger's submission decisions (DESIGN §6), as pure functions over
// counts: which READY jobs to submit now, which jobs may be retried or
// cancelled, and when a failure is retried automatically. No I/O, no clock,
// no state; the ledger gathers the counts and applies the answers.
#ifndef CCBATCH_LEDGER_SERVICE_SCHEDULER_H_
#define CCBATCH_LEDGER_SERVICE_SCHEDULER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ccbatch/v1/job.pb.h"
#include "ledger_service/derive.h"

namespace ccbatch::ledger {

// A job that occupies one of its batch's `max_parallel` slots: ordered and
// not yet judged (SUBMITTING, SUBMITTED, PENDING, RUNNING, COMPLETING), or
// UNKNOWN (it has a SLURM job id and may well still be running).
bool OccupiesSlot(ccbatch::v1::JobStatus status);

// SUCCEEDED, FAILED, BROKEN_DEPENDENCY or CANCELLED (the Summary's "final";
// nothing more happens to such a job unless the user retries it).
bool IsFinal(ccbatch::v1::JobStatus status);

// One cluster's queue as the cap sees it.
struct ClusterLoad {
  // 0: no cap.
  int64_t cap = 0;
  // The user's jobs in the latest snapshot that are not in a terminal state
  // (ccbatch's and any others) plus ccbatch's SUBMITTING and SUBMITTED jobs.
  int64_t queued = 0;
};

// One batch's candidates for submission.
struct BatchLoad {
  bool paused = false;
  // 0: no limit beyond the cluster's cap.
  int64_t max_parallel = 0;
  // Jobs of the batch for which OccupiesSlot holds.
  int64_t active = 0;
  // Index into the ClusterLoad span given with it.
  int cluster = 0;
  // Jobs that may be submitted (READY, no adoption check outstanding), in
  // batchfile order. A prefix of at least min(BatchRoom, ClusterRoom) of them
  // is enough to decide.
  absl::Span<const int> ready;
};

// How many more jobs the batch may start: nullopt when unlimited, 0 when
// paused or full.
std::optional<int64_t> BatchRoom(const BatchLoad& batch);
// How many more jobs the cluster's cap allows; nullopt when uncapped.
std::optional<int64_t> ClusterRoom(const ClusterLoad& cluster);

// The jobs to submit now: batches in the order given (the ledger passes them
// by name), each batch's ready jobs in order, until the batch's room or its
// cluster's room (shared by the batches on it) is used up.
// REQUIRES: every batch's `cluster` indexes `clusters`.
std::vector<int> PlanSubmissions(absl::Span<const BatchLoad> batches,
                                 absl::Span<const ClusterLoad> clusters);

// True when a FAILED verdict with `cause` on attempt `attempt_number`
// (1-based) is retried automatically under `policy`: the cause is listed in
// retry_on (exact match) and another attempt stays within max_attempts.
bool ShouldRetryAutomatically(const ccbatch::v1::RetryPolicy& policy,
                              int attempt_number, absl::string_view cause);

// OK if the user may retry a job with status `status`: FAILED or CANCELLED
// (retried itself) or BROKEN_DEPENDENCY (its failed upstream jobs are);
// FAILED_PRECONDITION naming `job_key` and the status otherwise.
absl::Status CheckRetryable(absl::string_view job_key,
                            ccbatch::v1::JobStatus status);

// OK if the user may cancel a job with status `status` (any that is not
// final); FAILED_PRECONDITION naming `job_key` and the status otherwise.
absl::Status CheckCancellable(absl::string_view job_key,
                              ccbatch::v1::JobStatus status);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_SCHEDULER_H_
