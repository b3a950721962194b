// The client-side mutations: import, pause/resume, retry, cancel.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/batch_validator.h"
#include "google/protobuf/util/message_differencer.h"
#include "ledger_service/ledger_impl.h"
#include "ledger_service/scheduler.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::JobDefinition;
using ::ccbatch::v1::JobStatus;

enum class ImportAction { kAdded, kUpdated, kUnchanged, kKept };

// What the import does with one job of the batchfile.
struct PlannedJob {
  int index = -1;
  ImportAction action = ImportAction::kAdded;
  // The stored record of an existing job.
  records::StoredJob stored;
};

// Definitions equal up to where the job sits in the batchfile.
bool SameDefinition(const JobDefinition& a, const JobDefinition& b) {
  JobDefinition left = a;
  JobDefinition right = b;
  left.clear_order();
  left.clear_source_line();
  right.clear_order();
  right.clear_source_line();
  return google::protobuf::util::MessageDifferencer::Equals(left, right);
}

// Keeps the first occurrence of each job.
std::vector<int> Unique(const std::vector<int>& jobs) {
  absl::flat_hash_set<int> seen;
  std::vector<int> out;
  for (int job : jobs) {
    if (seen.insert(job).second) out.push_back(job);
  }
  return out;
}

}  // namespace

absl::StatusOr<int> Ledger::Impl::JobIndex(absl::string_view key) const {
  const int job = job_by_key_.Find(key);
  if (job < 0) {
    return absl::NotFoundError(absl::StrCat(
        "no job \"", key, "\" in the ledger (keys are <batch>/<basename>)"));
  }
  return job;
}

absl::StatusOr<int> Ledger::Impl::BatchIndex(absl::string_view name) const {
  auto it = batch_by_name_.find(name);
  if (it == batch_by_name_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no batch \"", name, "\" in the ledger"));
  }
  return it->second;
}

// ---- Import
// -------------------------------------------------------------------

absl::StatusOr<ccbatch::v1::ImportBatchResponse> Ledger::Impl::ImportBatch(
    const ccbatch::v1::ImportBatchRequest& request) {
  ccbatch::v1::BatchDefinition batch = request.batch();
  if (batch.cluster().empty()) {
    if (options_.default_cluster.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "batch \"", batch.name(),
          "\" names no cluster and this ledger has no default cluster; add "
          "`cluster=NAME` to the batchfile"));
    }
    batch.set_cluster(options_.default_cluster);
  }
  if (absl::Status valid = common::ValidateBatch(batch); !valid.ok()) {
    return valid;
  }
  ccbatch::v1::ImportBatchResponse response;
  absl::Status status;
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    // Plan: nothing changes until the whole batch is known to fit.
    std::vector<PlannedJob> plan(batch.jobs_size());
    absl::flat_hash_map<absl::string_view, int> new_index;
    const int old_count = static_cast<int>(jobs_.size());
    int next_index = old_count;
    for (int i = 0; i < batch.jobs_size(); ++i) {
      const JobDefinition& job = batch.jobs(i);
      PlannedJob& planned = plan[i];
      const int found = job_by_key_.Find(job.key());
      if (found < 0) {
        planned.index = next_index++;
        new_index[job.key()] = planned.index;
        response.set_jobs_added(response.jobs_added() + 1);
        continue;
      }
      planned.index = found;
      absl::StatusOr<records::StoredJob> stored = LoadStoredJob(planned.index);
      if (!stored.ok()) return stored.status();
      planned.stored = std::move(*stored);
      if (SameDefinition(planned.stored.definition(), job)) {
        planned.action = ImportAction::kUnchanged;
        response.set_jobs_unchanged(response.jobs_unchanged() + 1);
      } else if (FactsOf(planned.index).attempt.has_value()) {
        planned.action = ImportAction::kKept;
        response.add_jobs_kept(job.key());
      } else {
        planned.action = ImportAction::kUpdated;
        response.set_jobs_updated(response.jobs_updated() + 1);
      }
    }
    const int new_count = next_index;
    std::vector<std::vector<int>> upstream(new_count);
    for (int job = 0; job < old_count; ++job) {
      absl::Span<const int> up = computer_->graph().upstream(job);
      upstream[job].assign(up.begin(), up.end());
    }
    auto index_of = [&](const std::string& key) {
      auto it = new_index.find(key);
      return it != new_index.end() ? it->second : job_by_key_.Find(key);
    };
    for (int i = 0; i < batch.jobs_size(); ++i) {
      if (plan[i].action != ImportAction::kAdded &&
          plan[i].action != ImportAction::kUpdated) {
        continue;
      }
      std::vector<int>& up = upstream[plan[i].index];
      up.clear();
      for (const std::string& key : batch.jobs(i).upstream_keys()) {
        up.push_back(index_of(key));
      }
    }
    absl::StatusOr<DependencyGraph> graph = DependencyGraph::Build(upstream);
    if (!graph.ok()) {
      // Rebuilt with names only to say which jobs form the cycle.
      std::vector<std::string> names(new_count);
      for (int job = 0; job < old_count; ++job)
        names[job] = std::string(KeyOf(job));
      for (const auto& [key, index] : new_index)
        names[index] = std::string(key);
      absl::StatusOr<DependencyGraph> named =
          DependencyGraph::Build(upstream, names);
      return absl::InvalidArgumentError(absl::StrCat(
          "batch \"", batch.name(), "\": importing it would create a ",
          named.ok() ? graph.status().message() : named.status().message(),
          " (jobs already submitted keep their earlier definitions; rename "
          "the job or retry it under a new basename)"));
    }

    // Apply.
    Change change(clock_->Now());
    change.sync = true;
    int batch_index;
    if (auto it = batch_by_name_.find(batch.name());
        it != batch_by_name_.end()) {
      batch_index = it->second;
    } else {
      batch_index = static_cast<int>(batches_.size());
      batches_.emplace_back();
      batch_by_name_.emplace(batch.name(), batch_index);
    }
    BatchState& state = batches_[batch_index];
    const int cluster = ClusterIndex(batch.cluster());
    state.cluster = cluster;
    records::StoredBatch& record = state.record;
    *record.mutable_definition() = batch;
    record.mutable_definition()->clear_jobs();
    record.set_paused(request.paused());
    *record.mutable_imported_at() = TimestampOf(change.now);
    change.batch.PutMessage(Column::kBatches, batch.name(), record);

    // The batch's job order: the batchfile's, then earlier jobs it no
    // longer lists, in their old order.
    absl::flat_hash_set<int> in_file;
    std::vector<int32_t> order;
    order.reserve(batch.jobs_size() + state.jobs.size());
    for (const PlannedJob& planned : plan) {
      order.push_back(planned.index);
      in_file.insert(planned.index);
    }
    for (int32_t job : state.jobs) {
      if (!in_file.contains(job)) order.push_back(job);
    }

    jobs_.resize(new_count);
    std::vector<JobFacts> facts(new_count);
    for (int job = 0; job < old_count; ++job) {
      facts[job] = std::move(computer_->mutable_facts(job));
    }
    for (const auto& [key, index] : new_index)
      facts[index].key = std::string(key);

    for (int i = 0; i < batch.jobs_size(); ++i) {
      const PlannedJob& planned = plan[i];
      JobDefinition definition = batch.jobs(i);
      records::StoredJob stored = planned.stored;
      JobRecord& job = jobs_[planned.index];
      if (planned.action == ImportAction::kKept) {
        // Keeps what was submitted; only its place in the batch moves.
        definition = stored.definition();
        definition.set_order(i);
        definition.set_source_line(batch.jobs(i).source_line());
      }
      if (planned.action != ImportAction::kUnchanged ||
          stored.definition().order() != i ||
          stored.definition().source_line() != definition.source_line()) {
        *stored.mutable_definition() = definition;
        change.batch.PutMessage(Column::kJobs, definition.key(), stored);
      }
      if (planned.action == ImportAction::kUpdated &&
          !facts[planned.index].attempt.has_value()) {
        if (facts[planned.index].verdict.has_value()) {
          facts[planned.index].verdict.reset();
          change.batch.Delete(Column::kVerdicts,
                              JobAttemptKey(definition.key(), 0));
        }
        if (job.check_order != 0) {
          RemoveOrder(job.check_order, change);
          job.check_order = 0;
          job.adoption_pending = false;
        }
      }
      change.definitions[planned.index] = std::move(definition);
    }
    for (size_t position = 0; position < order.size(); ++position) {
      const int index = order[position];
      JobRecord& job = jobs_[index];
      if (job.batch == batch_index &&
          job.position != static_cast<int>(position) &&
          !in_file.contains(index)) {
        absl::StatusOr<records::StoredJob> stored = LoadStoredJob(index);
        if (!stored.ok()) {
          change.error = stored.status();
          break;
        }
        stored->mutable_definition()->set_order(static_cast<int>(position));
        change.batch.PutMessage(Column::kJobs, KeyOf(index), *stored);
      }
      if (job.in_submittable) {
        state.submittable.erase(job.position);
        job.in_submittable = false;
      }
      job.batch = batch_index;
      job.position = static_cast<int>(position);
    }
    state.jobs = std::move(order);

    absl::StatusOr<StatusComputer> created =
        StatusComputer::Create(std::move(*graph), std::move(facts));
    if (!created.ok()) return created.status();  // sizes always agree
    StatusComputer old = std::move(*computer_);
    computer_.emplace(std::move(*created));
    IndexJobKeys();
    for (int i = 0; i < static_cast<int>(clusters_.size()); ++i) {
      PushClusterFacts(i);
    }
    computer_->DeriveAll(change.now, options_.staleness);

    for (int32_t index : state.jobs) {
      if (!FactsOf(index).attempt.has_value()) SetJobCluster(index, cluster);
      UpdateSubmittable(index);
    }
    std::vector<int> changed;
    for (int job : computer_->graph().topological_order()) {
      if (job >= old_count || old.status(job) != computer_->status(job)) {
        changed.push_back(job);
      }
    }
    Publish(changed, change);
    for (int i = 0; i < batch.jobs_size() && change.error.ok(); ++i) {
      const int index = plan[i].index;
      const JobRecord& job = jobs_[index];
      if (FactsOf(index).attempt.has_value() ||
          FactsOf(index).cancel_requested || job.check_order != 0) {
        continue;
      }
      change.error =
          CreateAdoptionCheck(index, change.definitions[index], change);
    }
    status = Commit(change);
    notify = change.notify;
    if (status.ok()) *response.mutable_batch() = InfoOf(batch_index);
  }
  if (notify) Notify();
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<ccbatch::v1::BatchInfo> Ledger::Impl::SetPaused(
    absl::string_view name, bool paused) {
  ccbatch::v1::BatchInfo info;
  absl::Status status;
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    absl::StatusOr<int> index = BatchIndex(name);
    if (!index.ok()) return index.status();
    BatchState& batch = batches_[*index];
    Change change(clock_->Now());
    if (batch.record.paused() != paused) {
      batch.record.set_paused(paused);
      change.batch.PutMessage(Column::kBatches, name, batch.record);
      change.sync = true;
    }
    status = Commit(change);
    notify = change.notify;
    info = InfoOf(*index);
  }
  if (notify) Notify();
  if (!status.ok()) return status;
  return info;
}

// ---- Retry
// --------------------------------------------------------------------

std::vector<int> Ledger::Impl::BrokenRoots(int job) const {
  std::vector<int> roots;
  absl::flat_hash_set<int> visited = {job};
  std::vector<int> frontier = {job};
  while (!frontier.empty()) {
    const int current = frontier.back();
    frontier.pop_back();
    for (int up : computer_->graph().upstream(current)) {
      if (!visited.insert(up).second) continue;
      const JobStatus status = jobs_[up].status;
      if (status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY) {
        frontier.push_back(up);
      } else if (status == ccbatch::v1::JOB_STATUS_FAILED ||
                 status == ccbatch::v1::JOB_STATUS_CANCELLED) {
        roots.push_back(up);
      }
    }
  }
  std::sort(roots.begin(), roots.end());
  return roots;
}

absl::Status Ledger::Impl::SetCancelIntent(int job, bool cancelled,
                                           Change& change) {
  absl::StatusOr<records::StoredJob> stored = LoadStoredJob(job);
  if (!stored.ok()) return stored.status();
  if (cancelled) {
    *stored->mutable_cancel_requested_at() = TimestampOf(change.now);
  } else {
    stored->clear_cancel_requested_at();
  }
  change.batch.PutMessage(Column::kJobs, KeyOf(job), *stored);
  change.sync = true;
  computer_->mutable_facts(job).cancel_requested = cancelled;
  change.dirty.push_back(job);
  return absl::OkStatus();
}

absl::StatusOr<ccbatch::v1::RetryResponse> Ledger::Impl::Retry(
    const ccbatch::v1::RetryRequest& request, absl::string_view requested_by) {
  const bool by_keys = request.job_keys_size() > 0;
  if (by_keys == !request.failed_in_batch().empty()) {
    return absl::InvalidArgumentError(
        "Retry takes either job keys or failed_in_batch (every FAILED job of "
        "one batch), not both and not neither");
  }
  ccbatch::v1::RetryResponse response;
  absl::Status status;
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    std::vector<int> targets;
    if (by_keys) {
      for (const std::string& key : request.job_keys()) {
        absl::StatusOr<int> job = JobIndex(key);
        if (!job.ok()) return job.status();
        const JobStatus job_status = jobs_[*job].status;
        if (absl::Status ok = CheckRetryable(key, job_status); !ok.ok()) {
          return ok;
        }
        if (job_status == ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY) {
          for (int root : BrokenRoots(*job)) targets.push_back(root);
        } else {
          targets.push_back(*job);
        }
      }
    } else {
      absl::StatusOr<int> batch = BatchIndex(request.failed_in_batch());
      if (!batch.ok()) return batch.status();
      for (int32_t job : batches_[*batch].jobs) {
        if (jobs_[job].status == ccbatch::v1::JOB_STATUS_FAILED) {
          targets.push_back(job);
        }
      }
    }
    targets = Unique(targets);
    // Whole or nothing: every job must be retryable now.
    for (int job : targets) {
      const JobFacts& facts = FactsOf(job);
      if (!facts.attempt.has_value() && facts.cancel_requested) continue;
      for (int up : computer_->graph().upstream(job)) {
        if (jobs_[up].status != ccbatch::v1::JOB_STATUS_SUCCEEDED) {
          return absl::FailedPreconditionError(absl::StrCat(
              "job ", facts.key, " cannot be retried yet: its upstream job ",
              KeyOf(up), " is ", JobStatusName(jobs_[up].status),
              "; retry that job first or wait until it succeeds"));
        }
      }
    }
    Change change(clock_->Now());
    change.collect_changed = true;
    const std::string because = requested_by.empty()
                                    ? "retry"
                                    : absl::StrCat("retry by ", requested_by);
    for (int job : targets) {
      const JobFacts& facts = FactsOf(job);
      absl::Status done = !facts.attempt.has_value() && facts.cancel_requested
                              ? SetCancelIntent(job, false, change)
                              : CreateAttempt(job, because, change);
      if (!done.ok()) {
        change.error = done;
        break;
      }
    }
    status = Commit(change);
    notify = change.notify;
    if (status.ok()) {
      for (const ccbatch::v1::JobView& view :
           ViewsOf(Unique(change.changed_jobs))) {
        *response.add_changed() = view;
      }
    }
  }
  if (notify) Notify();
  if (!status.ok()) return status;
  return response;
}

// ---- Cancel
// -------------------------------------------------------------------

absl::Status Ledger::Impl::CancelJob(int job, Change& change) {
  JobFacts& facts = computer_->mutable_facts(job);
  if (!facts.attempt.has_value()) return SetCancelIntent(job, true, change);
  JobRecord& record = jobs_[job];
  absl::StatusOr<ccbatch::v1::Attempt*> attempt = MutableAttempt(job, change);
  if (!attempt.ok()) return attempt.status();
  change.sync = true;
  change.dirty.push_back(job);
  if (!facts.attempt->cancel_requested) {
    *(*attempt)->mutable_cancel_requested_at() = TimestampOf(change.now);
    facts.attempt->cancel_requested = true;
  }
  if (!facts.attempt->slurm_job_id.empty()) {
    return record.cancel_order == 0 ? CreateCancel(job, change)
                                    : absl::OkStatus();
  }
  // Still SUBMITTING. An order no agent has seen is simply withdrawn;
  // otherwise the cancel follows once sbatch's job id arrives.
  auto order = orders_.find(record.submit_order);
  if (order != orders_.end() && !order->second.maybe_handed) {
    RemoveOrder(record.submit_order, change);
    record.submit_order = 0;
    (*attempt)->set_cancel_acknowledged(true);
    facts.attempt->cancel_acknowledged = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<ccbatch::v1::CancelResponse> Ledger::Impl::Cancel(
    const ccbatch::v1::CancelRequest& request) {
  const bool by_keys = request.job_keys_size() > 0;
  if (by_keys == !request.batch().empty()) {
    return absl::InvalidArgumentError(
        "Cancel takes either job keys or a batch (every job of it that is "
        "not final), not both and not neither");
  }
  ccbatch::v1::CancelResponse response;
  absl::Status status;
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    std::vector<int> targets;
    if (by_keys) {
      for (const std::string& key : request.job_keys()) {
        absl::StatusOr<int> job = JobIndex(key);
        if (!job.ok()) return job.status();
        if (absl::Status ok = CheckCancellable(key, jobs_[*job].status);
            !ok.ok()) {
          return ok;
        }
        targets.push_back(*job);
      }
    } else {
      absl::StatusOr<int> batch = BatchIndex(request.batch());
      if (!batch.ok()) return batch.status();
      for (int32_t job : batches_[*batch].jobs) {
        if (!IsFinal(jobs_[job].status)) targets.push_back(job);
      }
    }
    Change change(clock_->Now());
    change.collect_changed = true;
    for (int job : Unique(targets)) {
      if (absl::Status done = CancelJob(job, change); !done.ok()) {
        change.error = done;
        break;
      }
    }
    status = Commit(change);
    notify = change.notify;
    if (status.ok()) {
      for (const ccbatch::v1::JobView& view :
           ViewsOf(Unique(change.changed_jobs))) {
        *response.add_changed() = view;
      }
    }
  }
  if (notify) Notify();
  if (!status.ok()) return status;
  return response;
}

}  // namespace ccbatch::ledger
