#include "ledger_service/job_facts.h"

namespace ccbatch::ledger {

absl::Time TimeFromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

QueueEntryFacts QueueEntryFactsFromProto(const ccbatch::v1::QueueEntry& entry) {
  return QueueEntryFacts{entry.state(), entry.reason(), entry.nodes()};
}

VerdictFacts VerdictFactsFromProto(const ccbatch::v1::Verdict& verdict) {
  VerdictFacts facts;
  facts.slurm_job_id = verdict.slurm_job_id();
  facts.attempt = verdict.attempt();
  facts.outcome = verdict.outcome();
  facts.cause = verdict.cause();
  facts.summary = verdict.summary();
  return facts;
}

AttemptFacts AttemptFactsFromProto(const ccbatch::v1::Attempt& attempt) {
  AttemptFacts facts;
  facts.number = attempt.number();
  facts.cluster = attempt.cluster();
  facts.order_id = attempt.order_id();
  facts.slurm_job_id = attempt.slurm_job_id();
  if (attempt.has_submitted_at()) {
    facts.submitted_at = TimeFromProto(attempt.submitted_at());
  }
  facts.submit_error = attempt.submit_error();
  facts.cancel_requested = attempt.has_cancel_requested_at();
  facts.cancel_acknowledged = attempt.cancel_acknowledged();
  facts.last_queue_state = attempt.last_queue_state();
  return facts;
}

}  // namespace ccbatch::ledger
