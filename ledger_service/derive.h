// The status function (DESIGN §3): a job's facts in, its status and a
// one-line reason out. Pure and deterministic: no I/O, no clock (`now` is
// passed in), the same facts always give the same result.
//
// Rules, first match wins:
//  1. Cancel requested and acknowledged (or, with no attempt, requested) →
//     CANCELLED.
//  2. No attempt: adoption verdict SUCCEEDED/FAILED → that; any upstream
//     FAILED, BROKEN_DEPENDENCY or CANCELLED → BROKEN_DEPENDENCY; every
//     upstream SUCCEEDED (or none) → READY; else WAITING.
//  3. Attempt without SLURM job id: submit error → FAILED; output adopted at
//     submission (a verdict with no job id for this attempt number) → its
//     outcome; else SUBMITTING.
//  4. Attempt with SLURM job id J on cluster C:
//     a. verdict on J SUCCEEDED/FAILED → that (INCONCLUSIVE is no verdict);
//     b. C's last successful snapshot was received more than the staleness
//        limit before `now` (strictly more) → UNKNOWN;
//     c. no snapshot of C yet, or the latest was taken at or before the
//        submission (agent clock; equal counts as before, since squeue may
//        have started before sbatch's job existed) → SUBMITTED;
//     d. J in that snapshot → mapped from its SLURM state (ClassifySlurmState);
//     e. J absent → COMPLETING (a verdict is awaited).
//  An attempt whose cancel is requested but not yet acknowledged derives by
//  rules 3-4 and its reason says the cancel is pending.
//
// Reasons name only facts that change when the status's inputs change: the
// SLURM state, nodes and reason of the job's line, the cluster's last
// receive time and probe error while stale, never `now` or the latest
// snapshot's sequence number. So a job whose line did not change keeps its
// exact reason across snapshots and as time passes, which is what lets the
// ledger re-derive only the jobs whose facts changed (StatusComputer) and
// keep the history free of noise. Times are printed as UTC.
#ifndef CCBATCH_LEDGER_SERVICE_DERIVE_H_
#define CCBATCH_LEDGER_SERVICE_DERIVE_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ccbatch/v1/job.pb.h"
#include "ledger_service/job_facts.h"

namespace ccbatch::ledger {

struct DerivedStatus {
  ccbatch::v1::JobStatus status = ccbatch::v1::JOB_STATUS_UNSPECIFIED;
  // One line, starting with the status name, e.g.
  // "WAITING: upstream mol1/opt is RUNNING".
  std::string reason;
  // The SLURM state behind the status, in long form ("TIMEOUT"): the job's
  // state in the snapshot while it is listed, then its last state seen if
  // that was a terminal one (the failure cause a verdict will carry). Empty
  // otherwise. An unknown state is kept verbatim.
  std::string scheduler_state;

  friend bool operator==(const DerivedStatus& a, const DerivedStatus& b) {
    return a.status == b.status && a.reason == b.reason &&
           a.scheduler_state == b.scheduler_state;
  }
  friend bool operator!=(const DerivedStatus& a, const DerivedStatus& b) {
    return !(a == b);
  }
};

// An upstream job as its dependants see it.
struct UpstreamStatus {
  absl::string_view key;
  ccbatch::v1::JobStatus status;
};

// How ccbatch reads one SLURM job state.
struct SlurmState {
  // Long form ("TIMEOUT"); for an unknown state, the input verbatim (the
  // view then points into the caller's string).
  absl::string_view name;
  // PENDING, RUNNING or COMPLETING; an unknown state maps to RUNNING.
  ccbatch::v1::JobStatus status;
  bool known;
  // The job has ended (COMPLETED, FAILED, TIMEOUT, ...); COMPLETING,
  // SIGNALING and STAGE_OUT are ending but not ended.
  bool terminal;
};

// Classifies a state in long ("PENDING") or short ("PD") form, any case,
// ignoring surrounding spaces, anything after the first word ("CANCELLED by
// 1000") and sacct's trailing '+'.
//   PENDING, CONFIGURING, REQUEUED, REQUEUE_FED, REQUEUE_HOLD, RESV_DEL_HOLD
//     → PENDING (a requeued job is the same attempt, not a failure);
//   RUNNING, RESIZING, SUSPENDED, STOPPED → RUNNING;
//   COMPLETING, SIGNALING, STAGE_OUT → COMPLETING;
//   COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED,
//     PREEMPTED, BOOT_FAIL, DEADLINE, SPECIAL_EXIT, REVOKED → COMPLETING,
//     terminal.
// An unknown state is RUNNING: the job is in the queue (it is never taken as
// finished or failed) and, unlike PENDING, RUNNING does not claim that it
// has not started writing output.
SlurmState ClassifySlurmState(absl::string_view state);

// "RUNNING" for JOB_STATUS_RUNNING: the name reasons and messages use.
absl::string_view JobStatusName(ccbatch::v1::JobStatus status);

// True when `cluster` has had a successful snapshot and the last one was
// received strictly more than `staleness_limit` before `now`.
bool IsClusterStale(const ClusterFacts& cluster, absl::Time now,
                    absl::Duration staleness_limit);

// The verdict that decides the job's status (SUCCEEDED or FAILED outcome,
// for the current attempt, or adoption with no attempt), or nullptr.
const VerdictFacts* FinalVerdict(const JobFacts& job);

// The cluster whose facts (snapshot, staleness, probe error) the job's
// status depends on: its attempt's cluster when rule 4 b-e applies (a job
// id, no acknowledged cancel, no final verdict); nullopt otherwise.
std::optional<absl::string_view> ClusterConsulted(const JobFacts& job);

// Derives the status of `job`. `cluster` is the facts of the attempt's
// cluster, nullptr when the ledger knows nothing of it (treated as "no
// snapshot yet"). `upstream` lists the job's upstream jobs (any order;
// reasons name the first one that decides the status).
DerivedStatus DeriveStatus(const JobFacts& job, const ClusterFacts* cluster,
                           absl::Span<const UpstreamStatus> upstream,
                           absl::Time now, absl::Duration staleness_limit);

// As DeriveStatus, into `*out`, reusing its strings' capacity.
// REQUIRES: out != nullptr.
void DeriveStatusInto(const JobFacts& job, const ClusterFacts* cluster,
                      absl::Span<const UpstreamStatus> upstream, absl::Time now,
                      absl::Duration staleness_limit, DerivedStatus* out);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_DERIVE_H_
