#include "ledger_service/derive.h"

#include <array>
#include <cstddef>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::JobStatus;
using ::ccbatch::v1::Verdict;

struct SlurmStateRow {
  absl::string_view long_name;
  absl::string_view short_name;
  JobStatus status;
  bool terminal;
};

constexpr std::array<SlurmStateRow, 24> kSlurmStates = {{
    {"PENDING", "PD", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"CONFIGURING", "CF", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"REQUEUED", "RQ", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"REQUEUE_FED", "RF", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"REQUEUE_HOLD", "RH", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"RESV_DEL_HOLD", "RD", ccbatch::v1::JOB_STATUS_PENDING, false},
    {"RUNNING", "R", ccbatch::v1::JOB_STATUS_RUNNING, false},
    {"RESIZING", "RS", ccbatch::v1::JOB_STATUS_RUNNING, false},
    {"SUSPENDED", "S", ccbatch::v1::JOB_STATUS_RUNNING, false},
    {"STOPPED", "ST", ccbatch::v1::JOB_STATUS_RUNNING, false},
    {"COMPLETING", "CG", ccbatch::v1::JOB_STATUS_COMPLETING, false},
    {"SIGNALING", "SI", ccbatch::v1::JOB_STATUS_COMPLETING, false},
    {"STAGE_OUT", "SO", ccbatch::v1::JOB_STATUS_COMPLETING, false},
    {"COMPLETED", "CD", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"FAILED", "F", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"TIMEOUT", "TO", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"OUT_OF_MEMORY", "OOM", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"NODE_FAIL", "NF", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"CANCELLED", "CA", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"PREEMPTED", "PR", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"BOOT_FAIL", "BF", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"DEADLINE", "DL", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"SPECIAL_EXIT", "SE", ccbatch::v1::JOB_STATUS_COMPLETING, true},
    {"REVOKED", "RV", ccbatch::v1::JOB_STATUS_COMPLETING, true},
}};

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", time, absl::UTCTimeZone());
}

// Starts `out` as "<STATUS>: ".
void Begin(JobStatus status, DerivedStatus* out) {
  out->status = status;
  absl::StrAppend(&out->reason, JobStatusName(status), ": ");
}

void AppendVerdictText(const VerdictFacts& verdict, std::string* reason) {
  if (!verdict.cause.empty() && !verdict.summary.empty()) {
    absl::StrAppend(reason, verdict.cause, ": ", verdict.summary);
  } else if (!verdict.cause.empty() || !verdict.summary.empty()) {
    absl::StrAppend(reason, verdict.cause, verdict.summary);
  } else {
    absl::StrAppend(reason, "no details given");
  }
}

JobStatus VerdictStatus(const VerdictFacts& verdict) {
  return verdict.outcome == Verdict::OUTCOME_SUCCEEDED
             ? ccbatch::v1::JOB_STATUS_SUCCEEDED
             : ccbatch::v1::JOB_STATUS_FAILED;
}

bool IsBrokenUpstream(JobStatus status) {
  return status == ccbatch::v1::JOB_STATUS_FAILED ||
         status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY ||
         status == ccbatch::v1::JOB_STATUS_CANCELLED;
}

// Rule 2 after adoption: the upstream jobs decide.
void DeriveFromUpstream(absl::Span<const UpstreamStatus> upstream,
                        DerivedStatus* out) {
  const UpstreamStatus* first_broken = nullptr;
  const UpstreamStatus* first_unfinished = nullptr;
  size_t broken = 0;
  size_t unfinished = 0;
  for (const UpstreamStatus& up : upstream) {
    if (IsBrokenUpstream(up.status)) {
      if (broken++ == 0) first_broken = &up;
    } else if (up.status != ccbatch::v1::JOB_STATUS_SUCCEEDED) {
      if (unfinished++ == 0) first_unfinished = &up;
    }
  }
  if (first_broken != nullptr) {
    Begin(ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY, out);
    absl::StrAppend(&out->reason, "upstream ", first_broken->key, " ",
                    JobStatusName(first_broken->status));
    if (broken > 1) absl::StrAppend(&out->reason, " and ", broken - 1, " more");
  } else if (first_unfinished != nullptr) {
    Begin(ccbatch::v1::JOB_STATUS_WAITING, out);
    absl::StrAppend(&out->reason, "upstream ", first_unfinished->key, " is ",
                    JobStatusName(first_unfinished->status));
    if (unfinished > 1) {
      absl::StrAppend(&out->reason, " and ", unfinished - 1, " more");
    }
  } else {
    Begin(ccbatch::v1::JOB_STATUS_READY, out);
    if (upstream.empty()) {
      absl::StrAppend(&out->reason, "no upstream jobs");
    } else if (upstream.size() == 1) {
      absl::StrAppend(&out->reason, "upstream ", upstream[0].key, " SUCCEEDED");
    } else {
      absl::StrAppend(&out->reason, "all ", upstream.size(),
                      " upstream jobs SUCCEEDED");
    }
  }
}

void DeriveWithoutAttempt(const JobFacts& job,
                          absl::Span<const UpstreamStatus> upstream,
                          DerivedStatus* out) {
  if (job.cancel_requested) {
    Begin(ccbatch::v1::JOB_STATUS_CANCELLED, out);
    absl::StrAppend(&out->reason, "cancelled before any submission");
  } else if (const VerdictFacts* verdict = FinalVerdict(job)) {
    Begin(VerdictStatus(*verdict), out);
    absl::StrAppend(&out->reason,
                    "existing output adopted before any attempt: ");
    AppendVerdictText(*verdict, &out->reason);
  } else {
    DeriveFromUpstream(upstream, out);
  }
}

// Rule 3: sbatch has not given a job id.
void DeriveWithoutJobId(const JobFacts& job, const AttemptFacts& attempt,
                        DerivedStatus* out) {
  if (!attempt.submit_error.empty()) {
    Begin(ccbatch::v1::JOB_STATUS_FAILED, out);
    absl::StrAppend(&out->reason, "sbatch refused attempt ", attempt.number,
                    " on cluster ", attempt.cluster, ": ",
                    attempt.submit_error);
  } else if (const VerdictFacts* verdict = FinalVerdict(job)) {
    Begin(VerdictStatus(*verdict), out);
    absl::StrAppend(&out->reason,
                    "existing output adopted at submission of attempt ",
                    attempt.number, ": ");
    AppendVerdictText(*verdict, &out->reason);
  } else {
    Begin(ccbatch::v1::JOB_STATUS_SUBMITTING, out);
    absl::StrAppend(&out->reason, "order ", attempt.order_id, " of attempt ",
                    attempt.number, " sent to cluster ", attempt.cluster,
                    "; no SLURM job id yet");
  }
}

// Rule 4d: the job's line in the snapshot.
void DeriveFromQueueEntry(const AttemptFacts& attempt,
                          const QueueEntryFacts& entry, DerivedStatus* out) {
  const SlurmState state = ClassifySlurmState(entry.state);
  Begin(state.status, out);
  out->scheduler_state.assign(state.name.data(), state.name.size());
  absl::StrAppend(&out->reason, "slurm job ", attempt.slurm_job_id,
                  " on cluster ", attempt.cluster);
  if (!state.known) {
    absl::StrAppend(&out->reason, " is in state \"", entry.state,
                    "\", unknown to ccbatch; taken as still in the queue");
    return;
  }
  absl::StrAppend(&out->reason, state.terminal ? " ended " : " is ",
                  state.name);
  if (!entry.nodes.empty()) absl::StrAppend(&out->reason, " on ", entry.nodes);
  if (!entry.reason.empty() && entry.reason != "None") {
    absl::StrAppend(&out->reason, " (", entry.reason, ")");
  }
}

// Rule 4e: the job is not in a snapshot taken after its submission.
void DeriveAbsent(const AttemptFacts& attempt, DerivedStatus* out) {
  Begin(ccbatch::v1::JOB_STATUS_COMPLETING, out);
  absl::StrAppend(&out->reason, "slurm job ", attempt.slurm_job_id);
  if (attempt.last_queue_state.empty()) {
    absl::StrAppend(&out->reason, " is not in the queue of cluster ",
                    attempt.cluster);
    return;
  }
  const SlurmState last = ClassifySlurmState(attempt.last_queue_state);
  absl::StrAppend(&out->reason, " has left the queue of cluster ",
                  attempt.cluster, " (last seen ", last.name, ")");
  if (last.terminal)
    out->scheduler_state.assign(last.name.data(), last.name.size());
}

void DeriveUnknown(const ClusterFacts& cluster, absl::Duration staleness_limit,
                   DerivedStatus* out) {
  Begin(ccbatch::v1::JOB_STATUS_UNKNOWN, out);
  absl::StrAppend(&out->reason, "no snapshot from cluster ", cluster.name,
                  " received since ", FormatUtc(cluster.snapshot_received_at),
                  " (staleness limit ", absl::FormatDuration(staleness_limit),
                  ")");
  if (!cluster.last_probe_error.empty()) {
    absl::StrAppend(&out->reason, "; last probe error at ",
                    FormatUtc(cluster.last_probe_error_at), ": ",
                    cluster.last_probe_error);
  }
}

// Rule 4: the attempt has SLURM job id J.
void DeriveWithJobId(const JobFacts& job, const AttemptFacts& attempt,
                     const ClusterFacts* cluster, absl::Time now,
                     absl::Duration staleness_limit, DerivedStatus* out) {
  if (const VerdictFacts* verdict = FinalVerdict(job)) {
    Begin(VerdictStatus(*verdict), out);
    absl::StrAppend(&out->reason, "verdict on slurm job ", attempt.slurm_job_id,
                    ": ");
    AppendVerdictText(*verdict, &out->reason);
    return;
  }
  if (cluster != nullptr && IsClusterStale(*cluster, now, staleness_limit)) {
    DeriveUnknown(*cluster, staleness_limit, out);
    return;
  }
  if (cluster == nullptr || !cluster->has_snapshot) {
    Begin(ccbatch::v1::JOB_STATUS_SUBMITTED, out);
    absl::StrAppend(&out->reason, "slurm job ", attempt.slurm_job_id,
                    " on cluster ", attempt.cluster,
                    "; no snapshot from the cluster yet");
    return;
  }
  if (cluster->snapshot_taken_at <= attempt.submitted_at) {
    Begin(ccbatch::v1::JOB_STATUS_SUBMITTED, out);
    absl::StrAppend(&out->reason, "slurm job ", attempt.slurm_job_id,
                    " submitted at ", FormatUtc(attempt.submitted_at),
                    "; no snapshot of cluster ", attempt.cluster,
                    " taken since");
    return;
  }
  if (attempt.queue_entry.has_value()) {
    DeriveFromQueueEntry(attempt, *attempt.queue_entry, out);
  } else {
    DeriveAbsent(attempt, out);
  }
  if (out->status != ccbatch::v1::JOB_STATUS_COMPLETING) return;
  absl::StrAppend(&out->reason, "; verdict awaited");
  if (job.verdict.has_value() &&
      job.verdict->outcome == Verdict::OUTCOME_INCONCLUSIVE &&
      job.verdict->slurm_job_id == attempt.slurm_job_id) {
    absl::StrAppend(&out->reason, " (last check inconclusive: ");
    AppendVerdictText(*job.verdict, &out->reason);
    absl::StrAppend(&out->reason, ")");
  }
}

void DeriveAttempt(const JobFacts& job, const AttemptFacts& attempt,
                   const ClusterFacts* cluster, absl::Time now,
                   absl::Duration staleness_limit, DerivedStatus* out) {
  if (attempt.cancel_requested && attempt.cancel_acknowledged) {
    Begin(ccbatch::v1::JOB_STATUS_CANCELLED, out);
    absl::StrAppend(&out->reason, "cancel of attempt ", attempt.number);
    if (!attempt.slurm_job_id.empty()) {
      absl::StrAppend(&out->reason, " (slurm job ", attempt.slurm_job_id, ")");
    }
    absl::StrAppend(&out->reason, " acknowledged by cluster ", attempt.cluster);
    return;
  }
  if (attempt.slurm_job_id.empty()) {
    DeriveWithoutJobId(job, attempt, out);
  } else {
    DeriveWithJobId(job, attempt, cluster, now, staleness_limit, out);
  }
  if (attempt.cancel_requested) {
    absl::StrAppend(&out->reason, "; cancel requested, not yet acknowledged");
  }
}

}  // namespace

SlurmState ClassifySlurmState(absl::string_view state) {
  absl::string_view word = absl::StripAsciiWhitespace(state);
  word = word.substr(0, word.find_first_of(" \t"));
  if (!word.empty() && word.back() == '+') word.remove_suffix(1);
  for (const SlurmStateRow& row : kSlurmStates) {
    if (absl::EqualsIgnoreCase(word, row.long_name) ||
        absl::EqualsIgnoreCase(word, row.short_name)) {
      return SlurmState{row.long_name, row.status, /*known=*/true,
                        row.terminal};
    }
  }
  return SlurmState{state, ccbatch::v1::JOB_STATUS_RUNNING, /*known=*/false,
                    /*terminal=*/false};
}

bool IsClusterStale(const ClusterFacts& cluster, absl::Time now,
                    absl::Duration staleness_limit) {
  return cluster.has_snapshot &&
         now - cluster.snapshot_received_at > staleness_limit;
}

const VerdictFacts* FinalVerdict(const JobFacts& job) {
  if (!job.verdict.has_value()) return nullptr;
  const VerdictFacts& verdict = *job.verdict;
  if (verdict.outcome != Verdict::OUTCOME_SUCCEEDED &&
      verdict.outcome != Verdict::OUTCOME_FAILED) {
    return nullptr;
  }
  if (!job.attempt.has_value()) {
    return verdict.slurm_job_id.empty() ? &verdict : nullptr;
  }
  const AttemptFacts& attempt = *job.attempt;
  if (!attempt.slurm_job_id.empty()) {
    return verdict.slurm_job_id == attempt.slurm_job_id ? &verdict : nullptr;
  }
  return verdict.slurm_job_id.empty() && verdict.attempt == attempt.number
             ? &verdict
             : nullptr;
}

std::optional<absl::string_view> ClusterConsulted(const JobFacts& job) {
  if (!job.attempt.has_value()) return std::nullopt;
  const AttemptFacts& attempt = *job.attempt;
  if (attempt.cancel_requested && attempt.cancel_acknowledged) {
    return std::nullopt;
  }
  if (attempt.slurm_job_id.empty() || FinalVerdict(job) != nullptr) {
    return std::nullopt;
  }
  return absl::string_view(attempt.cluster);
}

DerivedStatus DeriveStatus(const JobFacts& job, const ClusterFacts* cluster,
                           absl::Span<const UpstreamStatus> upstream,
                           absl::Time now, absl::Duration staleness_limit) {
  DerivedStatus out;
  DeriveStatusInto(job, cluster, upstream, now, staleness_limit, &out);
  return out;
}

void DeriveStatusInto(const JobFacts& job, const ClusterFacts* cluster,
                      absl::Span<const UpstreamStatus> upstream, absl::Time now,
                      absl::Duration staleness_limit, DerivedStatus* out) {
  out->reason.clear();
  out->scheduler_state.clear();
  if (job.attempt.has_value()) {
    DeriveAttempt(job, *job.attempt, cluster, now, staleness_limit, out);
  } else {
    DeriveWithoutAttempt(job, upstream, out);
  }
}

absl::string_view JobStatusName(JobStatus status) {
  absl::string_view name = ccbatch::v1::JobStatus_Name(status);
  return absl::ConsumePrefix(&name, "JOB_STATUS_") ? name : "UNSPECIFIED";
}

}  // namespace ccbatch::ledger
