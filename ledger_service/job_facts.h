// The facts a job's status is derived from (DESIGN §3), as plain values.
//
// These are copies of what the ledger stores (attempts, verdicts, the latest
// snapshot of each cluster), trimmed to what the status function reads, so the
// status core holds a million jobs without carrying whole protos around.
// Times are absl::Time; an unset time is absl::InfinitePast().
//
// Clocks: `submitted_at` and `snapshot_taken_at` come from the cluster's agent
// and are only compared with each other; `snapshot_received_at` and
// `last_probe_error_at` are the ledger's clock, as is the `now` passed to
// derivation (staleness is a ledger-side judgement).
#ifndef CCBATCH_LEDGER_SERVICE_JOB_FACTS_H_
#define CCBATCH_LEDGER_SERVICE_JOB_FACTS_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"

namespace ccbatch::ledger {

// The fields of a job's line in a snapshot that its status and reason use.
struct QueueEntryFacts {
  // SLURM state, long ("RUNNING") or short ("R") form, verbatim if unknown.
  std::string state;
  // SLURM's reason ("Priority", "None"); shown when not "None".
  std::string reason;
  // Nodes the job runs on, empty while pending.
  std::string nodes;

  friend bool operator==(const QueueEntryFacts& a, const QueueEntryFacts& b) {
    return a.state == b.state && a.reason == b.reason && a.nodes == b.nodes;
  }
  friend bool operator!=(const QueueEntryFacts& a, const QueueEntryFacts& b) {
    return !(a == b);
  }
};

// A verdict the agent reported (DESIGN §7), trimmed to what reasons name.
struct VerdictFacts {
  // The SLURM job whose output was judged; empty for adoption (output found
  // before submitting).
  std::string slurm_job_id;
  // The attempt the verdict is for; 0 for adoption before any attempt.
  int attempt = 0;
  // SUCCEEDED and FAILED are final. INCONCLUSIVE is not a verdict (the
  // job stays COMPLETING); UNSPECIFIED on an adoption means "nothing to
  // adopt".
  ccbatch::v1::Verdict::Outcome outcome =
      ccbatch::v1::Verdict::OUTCOME_UNSPECIFIED;
  std::string cause;
  std::string summary;
};

// One submission of a job.
struct AttemptFacts {
  // 1-based.
  int number = 0;
  // Cluster the attempt was ordered on.
  std::string cluster;
  std::string order_id;
  // Empty until sbatch answered with a job id.
  std::string slurm_job_id;
  // When sbatch answered (agent clock); InfinitePast when not known, in
  // which case every snapshot counts as taken after the submission.
  absl::Time submitted_at = absl::InfinitePast();
  // sbatch's message when it refused the job (or the transfer that failed).
  std::string submit_error;
  // The user asked to cancel this attempt; the agent acknowledged it.
  bool cancel_requested = false;
  bool cancel_acknowledged = false;
  // This attempt's line in the latest applied snapshot of `cluster`;
  // nullopt when that snapshot does not list `slurm_job_id`.
  // CONTRACT: whoever applies a snapshot of `cluster` updates this for every
  // attempt on it that has a job id, and re-derives the jobs where it changed.
  std::optional<QueueEntryFacts> queue_entry;
  // The state in the last snapshot that listed the job (e.g. "TIMEOUT"),
  // kept after the job left the queue: the cause a verdict will carry.
  std::string last_queue_state;
};

// Everything about one job that its status depends on, except its upstream
// jobs' statuses (the status computer supplies those).
struct JobFacts {
  // "<batch>/<basename>"; named in downstream jobs' reasons.
  std::string key;
  // The user cancelled the job while it had no attempt: it is CANCELLED at
  // once (there is nothing to scancel). Ignored once an attempt exists; the
  // attempt's own cancel facts count then.
  bool cancel_requested = false;
  // The current (latest) attempt; nullopt before the first submission.
  std::optional<AttemptFacts> attempt;
  // The verdict for the current attempt, or, with no attempt, the adoption
  // verdict. A verdict naming another SLURM job than the attempt's is
  // ignored, so a stale verdict never judges a newer attempt.
  std::optional<VerdictFacts> verdict;
};

// What the ledger knows about one cluster's queue and agent.
struct ClusterFacts {
  std::string name;
  // At least one successful snapshot was applied. Until then jobs with a
  // SLURM job id are SUBMITTED (never UNKNOWN: the cluster has not spoken).
  bool has_snapshot = false;
  // The latest successful snapshot: when squeue started (agent clock) and
  // when the ledger applied it (ledger clock; staleness runs from here).
  absl::Time snapshot_taken_at = absl::InfinitePast();
  absl::Time snapshot_received_at = absl::InfinitePast();
  // The last failed probe since that snapshot; empty when none.
  std::string last_probe_error;
  absl::Time last_probe_error_at = absl::InfinitePast();
};

// Conversions from the stored protos. Unset Timestamp fields become
// InfinitePast. AttemptFactsFromProto leaves queue_entry unset (it is not
// part of the Attempt record; it comes from the cluster's snapshot).
absl::Time TimeFromProto(const google::protobuf::Timestamp& timestamp);
QueueEntryFacts QueueEntryFactsFromProto(const ccbatch::v1::QueueEntry& entry);
VerdictFacts VerdictFactsFromProto(const ccbatch::v1::Verdict& verdict);
AttemptFacts AttemptFactsFromProto(const ccbatch::v1::Attempt& attempt);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_JOB_FACTS_H_
