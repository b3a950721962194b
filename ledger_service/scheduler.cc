#include "ledger_service/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ccbatch::ledger {

using ::ccbatch::v1::JobStatus;

bool OccupiesSlot(JobStatus status) {
  switch (status) {
    case ccbatch::v1::JOB_STATUS_SUBMITTING:
    case ccbatch::v1::JOB_STATUS_SUBMITTED:
    case ccbatch::v1::JOB_STATUS_PENDING:
    case ccbatch::v1::JOB_STATUS_RUNNING:
    case ccbatch::v1::JOB_STATUS_COMPLETING:
    case ccbatch::v1::JOB_STATUS_UNKNOWN:
      return true;
    default:
      return false;
  }
}

bool IsFinal(JobStatus status) {
  return status == ccbatch::v1::JOB_STATUS_SUCCEEDED ||
         status == ccbatch::v1::JOB_STATUS_FAILED ||
         status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY ||
         status == ccbatch::v1::JOB_STATUS_CANCELLED;
}

std::optional<int64_t> BatchRoom(const BatchLoad& batch) {
  if (batch.paused) return 0;
  if (batch.max_parallel <= 0) return std::nullopt;
  return std::max<int64_t>(0, batch.max_parallel - batch.active);
}

std::optional<int64_t> ClusterRoom(const ClusterLoad& cluster) {
  if (cluster.cap <= 0) return std::nullopt;
  return std::max<int64_t>(0, cluster.cap - cluster.queued);
}

std::vector<int> PlanSubmissions(absl::Span<const BatchLoad> batches,
                                 absl::Span<const ClusterLoad> clusters) {
  std::vector<std::optional<int64_t>> cluster_room;
  cluster_room.reserve(clusters.size());
  for (const ClusterLoad& cluster : clusters) {
    cluster_room.push_back(ClusterRoom(cluster));
  }
  std::vector<int> chosen;
  for (const BatchLoad& batch : batches) {
    std::optional<int64_t> batch_room = BatchRoom(batch);
    std::optional<int64_t>& shared = cluster_room[batch.cluster];
    for (int job : batch.ready) {
      if ((batch_room && *batch_room == 0) || (shared && *shared == 0)) break;
      chosen.push_back(job);
      if (batch_room) --*batch_room;
      if (shared) --*shared;
    }
  }
  return chosen;
}

bool ShouldRetryAutomatically(const ccbatch::v1::RetryPolicy& policy,
                              int attempt_number, absl::string_view cause) {
  if (cause.empty() || attempt_number >= policy.max_attempts()) return false;
  return std::find(policy.retry_on().begin(), policy.retry_on().end(), cause) !=
         policy.retry_on().end();
}

absl::Status CheckRetryable(absl::string_view job_key, JobStatus status) {
  if (status == ccbatch::v1::JOB_STATUS_FAILED ||
      status == ccbatch::v1::JOB_STATUS_CANCELLED ||
      status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", job_key, " is ", JobStatusName(status),
      "; only FAILED, CANCELLED and BROKEN_DEPENDENCY jobs can be retried"));
}

absl::Status CheckCancellable(absl::string_view job_key, JobStatus status) {
  if (!IsFinal(status)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("job ", job_key, " is already ", JobStatusName(status),
                   "; there is nothing to cancel"));
}

}  // namespace ccbatch::ledger
