#include "tests/ledger_service/random_history.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ledger_service/derive.h"
#include "tests/ledger_service/ledger_harness.h"

namespace ccbatch::ledger::testing {
namespace {

constexpr char kCluster[] = "hpc1";

std::string KindOf(const ccbatch::v1::LedgerDirective& directive) {
  if (directive.has_submit()) return "submit";
  if (directive.has_check_output()) return "check";
  return "cancel";
}

}  // namespace

RandomHistory::RandomHistory(uint64_t seed, common::FakeClock* clock)
    : random_(seed), clock_(clock) {
  // Distinct ids and streams per seed, so a history continued after a
  // restart never reuses what an earlier one used.
  next_slurm_id_ = 1000 + (seed % 997) * 100000;
  next_stream_base_ = (seed % 997) * 1000 + 1;
}

int RandomHistory::Uniform(int below) {
  return static_cast<int>(random_() % static_cast<uint64_t>(below));
}

ccbatch::v1::BatchDefinition RandomHistory::Batch(int jobs) const {
  std::mt19937_64 shape(1234);
  std::vector<JobSpec> specs;
  for (int i = 0; i < jobs; ++i) {
    JobSpec spec{absl::StrCat("j", i), {}};
    if (i > 0 && shape() % 2 == 0) {
      spec.upstream.push_back(absl::StrCat("j", shape() % i));
    }
    if (i > 2 && shape() % 4 == 0) {
      const std::string extra = absl::StrCat("j", shape() % i);
      if (spec.upstream.empty() || spec.upstream[0] != extra) {
        spec.upstream.push_back(extra);
      }
    }
    specs.push_back(std::move(spec));
  }
  ccbatch::v1::BatchDefinition batch = MakeBatch("rand", specs, kCluster, 4);
  batch.mutable_retry_policy()->add_retry_on("NODE_FAIL");
  batch.mutable_retry_policy()->set_max_attempts(3);
  return batch;
}

absl::Status RandomHistory::Start(Ledger& ledger) {
  ccbatch::v1::ImportBatchRequest request;
  *request.mutable_batch() = Batch();
  absl::StatusOr<ccbatch::v1::ImportBatchResponse> imported =
      ledger.ImportBatch(request);
  if (!imported.ok()) return imported.status();
  return Reconnect(ledger);
}

absl::Status RandomHistory::Reconnect(Ledger& ledger) {
  stream_ = next_stream_base_++;
  pending_.clear();
  ccbatch::v1::Hello hello;
  hello.set_cluster(kCluster);
  hello.set_user("chem");
  absl::StatusOr<ccbatch::v1::HelloAck> ack =
      ledger.AgentConnected(hello, stream_);
  if (!ack.ok()) return ack.status();
  snapshot_seq_ = std::max(snapshot_seq_, ack->applied_snapshot_seq());
  return absl::OkStatus();
}

absl::Status RandomHistory::Step(Ledger& ledger,
                                 std::vector<HandedOrder>* handed) {
  clock_->Advance(absl::Seconds(1));
  const int roll = Uniform(100);
  if (roll < 25) {
    last_step_ = "take";
    return Take(ledger, handed);
  }
  if (roll < 55) {
    last_step_ = "answer";
    return AnswerOne(ledger);
  }
  if (roll < 70) {
    last_step_ = "snapshot";
    return SendSnapshot(ledger);
  }
  if (roll < 73) {
    last_step_ = "probe failure";
    ccbatch::v1::ProbeFailure failure;
    failure.set_error("slurm_load_jobs error: Socket timed out");
    failure.set_exit_code(1);
    return ledger.ApplyProbeFailure(kCluster, failure);
  }
  if (roll < 77) {
    last_step_ = "reconnect";
    ledger.AgentDisconnected(kCluster, stream_);
    return Reconnect(ledger);
  }
  if (roll < 86) {
    last_step_ = "tick";
    clock_->Advance(absl::Seconds(Uniform(20)));
    ledger.Tick();
    return absl::OkStatus();
  }
  if (roll < 93) {
    last_step_ = "retry";
    return RetrySome(ledger);
  }
  last_step_ = "cancel";
  return CancelSome(ledger);
}

absl::Status RandomHistory::Take(Ledger& ledger,
                                 std::vector<HandedOrder>* handed) {
  for (ccbatch::v1::LedgerDirective& directive :
       ledger.TakeDirectives(kCluster, stream_)) {
    HandedOrder order;
    order.kind = KindOf(directive);
    if (directive.has_submit()) {
      order.order_id = directive.submit().order_id();
      order.job_key = directive.submit().job_key();
      order.attempt = directive.submit().attempt();
    } else if (directive.has_check_output()) {
      order.order_id = directive.check_output().order_id();
      order.job_key = directive.check_output().job_key();
      order.attempt = directive.check_output().attempt();
    } else {
      order.order_id = directive.cancel().order_id();
      order.job_key = directive.cancel().job_key();
    }
    handed->push_back(order);
    pending_.push_back(std::move(directive));
  }
  return absl::OkStatus();
}

absl::Status RandomHistory::AnswerOne(Ledger& ledger) {
  if (pending_.empty()) return absl::OkStatus();
  const int index = Uniform(static_cast<int>(pending_.size()));
  ccbatch::v1::LedgerDirective directive = pending_[index];
  pending_.erase(pending_.begin() + index);
  absl::Status answered = Answer(ledger, directive);
  if (!answered.ok() || Uniform(10) != 0) return answered;
  last_step_ = "answer twice";
  return Answer(ledger, directive);  // a repeated answer changes nothing
}

absl::Status RandomHistory::Answer(
    Ledger& ledger, const ccbatch::v1::LedgerDirective& directive) {
  if (directive.has_submit()) {
    ccbatch::v1::SubmitResult result;
    result.set_order_id(directive.submit().order_id());
    if (Uniform(100) < 85) {
      const std::string id = absl::StrCat(next_slurm_id_++);
      result.set_slurm_job_id(id);
      result.mutable_submitted_at()->set_seconds(
          absl::ToUnixSeconds(clock_->Now()));
      queue_[id] = SimJob{"PENDING"};
    } else {
      result.set_error("sbatch: error: Batch job submission failed");
    }
    return ledger.ApplySubmitResult(kCluster, result);
  }
  if (directive.has_check_output()) {
    const ccbatch::v1::CheckOutput& check = directive.check_output();
    ccbatch::v1::CheckOutputResult result;
    result.set_order_id(check.order_id());
    ccbatch::v1::Verdict& verdict = *result.mutable_verdict();
    verdict.set_job_key(check.job_key());
    verdict.set_slurm_job_id(check.slurm_job_id());
    verdict.set_attempt(check.attempt());
    const int roll = Uniform(100);
    if (check.attempt() == 0) {
      if (roll < 25)
        verdict.set_outcome(ccbatch::v1::Verdict::OUTCOME_SUCCEEDED);
    } else if (roll < 55) {
      verdict.set_outcome(ccbatch::v1::Verdict::OUTCOME_SUCCEEDED);
    } else if (roll < 70) {
      verdict.set_outcome(ccbatch::v1::Verdict::OUTCOME_FAILED);
      verdict.set_cause("NODE_FAIL");
    } else if (roll < 85) {
      verdict.set_outcome(ccbatch::v1::Verdict::OUTCOME_FAILED);
      verdict.set_cause("scf_fail");
    } else {
      verdict.set_outcome(ccbatch::v1::Verdict::OUTCOME_INCONCLUSIVE);
      verdict.set_cause("incomplete_output");
    }
    return ledger.ApplyCheckOutputResult(kCluster, result);
  }
  ccbatch::v1::CancelResult result;
  result.set_order_id(directive.cancel().order_id());
  result.set_ok(Uniform(10) != 0);
  if (result.ok()) {
    queue_.erase(directive.cancel().slurm_job_id());
  } else {
    result.set_error("scancel: error: Access/permission denied");
  }
  return ledger.ApplyCancelResult(kCluster, result);
}

absl::Status RandomHistory::SendSnapshot(Ledger& ledger) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    std::string& state = it->second.state;
    const int roll = Uniform(100);
    if (state == "PENDING" && roll < 50) {
      state = "RUNNING";
    } else if (state == "RUNNING" && roll < 25) {
      it = queue_.erase(it);
      continue;
    } else if (state == "RUNNING" && roll < 35) {
      state = Uniform(2) == 0 ? "COMPLETED" : "NODE_FAIL";
    } else if (state == "RUNNING" && roll < 40) {
      state = "PENDING";  // requeued
    } else if ((state == "COMPLETED" || state == "NODE_FAIL") && roll < 50) {
      it = queue_.erase(it);
      continue;
    }
    ++it;
  }
  AssembledSnapshot snapshot;
  snapshot.seq = ++snapshot_seq_;
  snapshot.taken_at = clock_->Now();
  for (const auto& [id, job] : queue_) {
    snapshot.entries.push_back(Entry(id, job.state, "c01"));
  }
  if (Uniform(3) == 0) snapshot.entries.push_back(Entry("77_1", "PENDING"));
  return ledger.ApplySnapshot(kCluster, snapshot);
}

std::vector<std::string> RandomHistory::JobsWith(
    Ledger& ledger, const std::vector<ccbatch::v1::JobStatus>& statuses) {
  ccbatch::v1::ListJobsRequest request;
  request.set_page_size(1000);
  for (ccbatch::v1::JobStatus status : statuses) request.add_statuses(status);
  std::vector<std::string> keys;
  absl::StatusOr<ccbatch::v1::ListJobsResponse> listed =
      ledger.ListJobs(request);
  if (!listed.ok()) return keys;
  for (const auto& job : listed->jobs()) keys.push_back(job.key());
  return keys;
}

absl::Status RandomHistory::RetrySome(Ledger& ledger) {
  std::vector<std::string> keys =
      JobsWith(ledger, {ccbatch::v1::JOB_STATUS_FAILED,
                        ccbatch::v1::JOB_STATUS_CANCELLED,
                        ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY});
  if (keys.empty()) return absl::OkStatus();
  ccbatch::v1::RetryRequest request;
  request.add_job_keys(keys[Uniform(static_cast<int>(keys.size()))]);
  absl::StatusOr<ccbatch::v1::RetryResponse> retried =
      ledger.Retry(request, "tester");
  // A job whose upstream is not done yet is refused: a fine answer.
  if (!retried.ok() &&
      retried.status().code() != absl::StatusCode::kFailedPrecondition) {
    return retried.status();
  }
  return absl::OkStatus();
}

absl::Status RandomHistory::CancelSome(Ledger& ledger) {
  std::vector<std::string> keys = JobsWith(
      ledger,
      {ccbatch::v1::JOB_STATUS_WAITING, ccbatch::v1::JOB_STATUS_READY,
       ccbatch::v1::JOB_STATUS_SUBMITTING, ccbatch::v1::JOB_STATUS_SUBMITTED,
       ccbatch::v1::JOB_STATUS_PENDING, ccbatch::v1::JOB_STATUS_RUNNING,
       ccbatch::v1::JOB_STATUS_COMPLETING});
  if (keys.empty() || Uniform(2) == 0) return absl::OkStatus();
  ccbatch::v1::CancelRequest request;
  request.add_job_keys(keys[Uniform(static_cast<int>(keys.size()))]);
  absl::StatusOr<ccbatch::v1::CancelResponse> cancelled =
      ledger.Cancel(request);
  return cancelled.ok() ? absl::OkStatus() : cancelled.status();
}

}  // namespace ccbatch::ledger::testing
