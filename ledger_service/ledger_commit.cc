// The change pipeline (ledger_impl.h): derive, publish, follow up, schedule,
// write; and the orders and attempts it creates.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ledger_service/derive.h"
#include "ledger_service/ledger_impl.h"
#include "ledger_service/scheduler.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::JobStatus;

// A runaway loop would mean a bug in the follow-ups; stop rather than spin.
constexpr int kMaxRounds = 64;
// Events kept in memory for watchers that keep up.
constexpr size_t kRecentEvents = 8192;

std::string JoinPath(absl::string_view directory, absl::string_view file) {
  if (!file.empty() && file.front() == '/') return std::string(file);
  return absl::StrCat(directory, "/", file);
}

void AddTransfer(const ccbatch::v1::PipeSource& pipe,
                 const ccbatch::v1::JobDefinition& job,
                 ccbatch::v1::SubmitOrder* order) {
  if (pipe.upstream_key().empty()) return;
  ccbatch::v1::FileTransfer* transfer = order->add_transfers();
  transfer->set_source(JoinPath(pipe.resolved_directory(), pipe.filename()));
  transfer->set_destination(JoinPath(job.directory(), pipe.filename()));
}

}  // namespace

absl::Status Ledger::Impl::Commit(Change& change) {
  if (!change.error.ok()) {
    if (loading_) return change.error;
    ReloadAfterFailedWrite(change.error);
    change.notify = true;
    return change.error;
  }
  for (int round = 0;; ++round) {
    if (round == kMaxRounds) {
      Log(common::LogLevel::kError, "commit_rounds_exceeded",
          {{"rounds", kMaxRounds}, {"pending", change.dirty.size()}});
      break;
    }
    std::vector<int> changed =
        computer_->Rederive(change.dirty, change.now, options_.staleness);
    change.dirty.clear();
    Publish(changed, change);
    FollowUps(change);
    if (!change.error.ok()) break;
    if (!change.dirty.empty()) continue;
    Schedule(change);
    if (change.dirty.empty() || !change.error.ok()) break;
  }
  if (!change.error.ok()) {
    if (loading_) return change.error;
    ReloadAfterFailedWrite(change.error);
    change.notify = true;
    return change.error;
  }
  FlushOverlays(change);
  if (change.batch.empty()) return absl::OkStatus();
  absl::Status written =
      store_->Write(change.batch, WriteOptions{/*sync=*/change.sync});
  if (!written.ok()) {
    if (loading_) return written;
    ReloadAfterFailedWrite(written);
    change.notify = true;  // streams and watchers re-read the reloaded state
    return written;
  }
  return absl::OkStatus();
}

void Ledger::Impl::Publish(absl::Span<const int> changed, Change& change) {
  for (int job : changed) {
    const DerivedStatus& derived = computer_->status(job);
    JobRecord& record = jobs_[job];
    const JobStatus old = record.status;
    if (derived.status != old) {
      CountStatus(job, old, -1);
      CountStatus(job, derived.status, +1);
      record.status = derived.status;
      record.status_since_us = MicrosOf(change.now);
      std::string reason = derived.reason;
      if (auto note = change.event_notes.find(job);
          note != change.event_notes.end()) {
        absl::StrAppend(&reason, " (", note->second, ")");
        change.event_notes.erase(note);
      }
      AppendEvent(job, old, derived.status, std::move(reason), change);
      const absl::string_view key = KeyOf(job);
      if (old != ccbatch::v1::JOB_STATUS_UNSPECIFIED) {
        change.batch.Delete(Column::kStatusIndex, StatusIndexKey(old, key));
      }
      change.batch.Put(Column::kStatusIndex,
                       StatusIndexKey(derived.status, key), "");
      if (derived.status == ccbatch::v1::JOB_STATUS_COMPLETING) {
        change.became_completing.push_back(job);
      } else if (derived.status == ccbatch::v1::JOB_STATUS_FAILED) {
        change.became_failed.push_back(job);
      }
      UpdateSubmittable(job);
      if (change.collect_changed) change.changed_jobs.push_back(job);
    }
    PutStatusCache(job, change);
  }
}

void Ledger::Impl::FollowUps(Change& change) {
  std::vector<int> completing;
  completing.swap(change.became_completing);
  for (int job : completing) {
    if (jobs_[job].status != ccbatch::v1::JOB_STATUS_COMPLETING ||
        jobs_[job].check_order != 0) {
      continue;
    }
    absl::Status created = CreateCheck(job, change);
    if (!created.ok() && change.error.ok()) change.error = created;
  }
  std::vector<int> failed;
  failed.swap(change.became_failed);
  for (int job : failed) MaybeRetryAutomatically(job, change);
}

void Ledger::Impl::MaybeRetryAutomatically(int job, Change& change) {
  const JobFacts& facts = FactsOf(job);
  if (jobs_[job].status != ccbatch::v1::JOB_STATUS_FAILED ||
      !facts.attempt.has_value() || facts.attempt->slurm_job_id.empty() ||
      facts.attempt->cancel_requested) {
    return;
  }
  const VerdictFacts* verdict = FinalVerdict(facts);
  if (verdict == nullptr ||
      verdict->outcome != ccbatch::v1::Verdict::OUTCOME_FAILED) {
    return;
  }
  const BatchState& batch = batches_[jobs_[job].batch];
  if (!ShouldRetryAutomatically(batch.record.definition().retry_policy(),
                                facts.attempt->number, verdict->cause)) {
    return;
  }
  const std::string because =
      absl::StrCat("automatic retry after ", verdict->cause);
  absl::Status created = CreateAttempt(job, because, change);
  if (!created.ok() && change.error.ok()) change.error = created;
}

void Ledger::Impl::Schedule(Change& change) {
  std::vector<ClusterLoad> cluster_loads;
  cluster_loads.reserve(clusters_.size());
  for (const ClusterState& cluster : clusters_) {
    ClusterLoad load;
    auto cap = options_.cluster_caps.find(cluster.name);
    load.cap = cap == options_.cluster_caps.end() ? 0 : cap->second;
    load.queued = cluster.queued +
                  cluster.counts[ccbatch::v1::JOB_STATUS_SUBMITTING] +
                  cluster.counts[ccbatch::v1::JOB_STATUS_SUBMITTED];
    cluster_loads.push_back(load);
  }
  std::vector<BatchLoad> batch_loads;
  std::vector<std::vector<int>> ready;
  for (const auto& [name, index] : batch_by_name_) {
    const BatchState& batch = batches_[index];
    if (batch.record.paused() || batch.submittable.empty()) continue;
    BatchLoad load;
    load.max_parallel = batch.record.definition().max_parallel();
    for (int s = 0; s < kStatusSlots; ++s) {
      if (OccupiesSlot(static_cast<JobStatus>(s)))
        load.active += batch.counts[s];
    }
    load.cluster = batch.cluster;
    size_t limit = batch.submittable.size();
    if (auto room = BatchRoom(load)) limit = std::min<size_t>(limit, *room);
    if (auto room = ClusterRoom(cluster_loads[batch.cluster])) {
      limit = std::min<size_t>(limit, *room);
    }
    if (limit == 0) continue;
    std::vector<int>& jobs = ready.emplace_back();
    for (int32_t position : batch.submittable) {
      if (jobs.size() == limit) break;
      jobs.push_back(batch.jobs[position]);
    }
    batch_loads.push_back(load);
  }
  for (size_t i = 0; i < batch_loads.size(); ++i) {
    batch_loads[i].ready = ready[i];
  }
  for (int job : PlanSubmissions(batch_loads, cluster_loads)) {
    absl::Status created = CreateAttempt(job, "first", change);
    if (!created.ok() && change.error.ok()) change.error = created;
  }
}

void Ledger::Impl::FlushOverlays(Change& change) {
  for (auto& [job, attempt] : change.attempts) {
    change.batch.PutMessage(Column::kAttempts,
                            JobAttemptKey(KeyOf(job), attempt.number()),
                            attempt);
  }
  change.attempts.clear();
  for (int cluster : change.dirty_clusters) {
    const ClusterState& state = clusters_[cluster];
    change.batch.PutMessage(Column::kClusters,
                            ClusterKey(state.name, kClusterStatePart),
                            state.record);
  }
  change.dirty_clusters.clear();
  if (change.meta_dirty) {
    change.batch.Put(Column::kMeta, kNextOrderKey, absl::StrCat(next_order_));
    change.batch.Put(Column::kMeta, kLastEventSeqKey,
                     absl::StrCat(last_event_seq_));
    change.meta_dirty = false;
  }
}

void Ledger::Impl::AppendEvent(int job, JobStatus from, JobStatus to,
                               std::string reason, Change& change) {
  records::StoredEvent stored;
  ccbatch::v1::JobEvent& event = *stored.mutable_event();
  event.set_seq(++last_event_seq_);
  *event.mutable_at() = TimestampOf(change.now);
  event.set_job_key(std::string(KeyOf(job)));
  event.set_from_status(from);
  event.set_to_status(to);
  event.set_reason(std::move(reason));
  stored.set_previous_event_seq(jobs_[job].last_event_seq);
  jobs_[job].last_event_seq = event.seq();
  change.batch.PutMessage(Column::kEvents, EventKey(event.seq()), stored);
  change.meta_dirty = true;
  change.notify = true;
  recent_events_.push_back(std::move(event));
  if (recent_events_.size() > kRecentEvents) recent_events_.pop_front();
}

void Ledger::Impl::PutStatusCache(int job, Change& change) {
  const JobFacts& facts = FactsOf(job);
  const JobRecord& record = jobs_[job];
  records::StoredStatus stored;
  ccbatch::v1::JobView& view = *stored.mutable_view();
  view.set_key(facts.key);
  view.set_status(record.status);
  view.set_reason(computer_->status(job).reason);
  *view.mutable_status_since() =
      TimestampOf(TimeOfMicros(record.status_since_us));
  view.set_cluster(clusters_[record.cluster].name);
  if (facts.attempt.has_value()) {
    view.set_slurm_job_id(facts.attempt->slurm_job_id);
    view.set_attempt(facts.attempt->number);
  }
  stored.set_last_event_seq(record.last_event_seq);
  change.batch.PutMessage(Column::kStatus, facts.key, stored);
}

void Ledger::Impl::CountStatus(int job, JobStatus status, int delta) {
  if (status == ccbatch::v1::JOB_STATUS_UNSPECIFIED) return;
  const JobRecord& record = jobs_[job];
  batches_[record.batch].counts[status] += delta;
  clusters_[record.cluster].counts[status] += delta;
}

void Ledger::Impl::SetJobCluster(int job, int cluster) {
  JobRecord& record = jobs_[job];
  if (record.cluster == cluster) return;
  if (record.cluster >= 0 &&
      record.status != ccbatch::v1::JOB_STATUS_UNSPECIFIED) {
    clusters_[record.cluster].counts[record.status] -= 1;
    clusters_[cluster].counts[record.status] += 1;
  }
  record.cluster = cluster;
}

void Ledger::Impl::UpdateSubmittable(int job) {
  JobRecord& record = jobs_[job];
  const bool submittable = record.status == ccbatch::v1::JOB_STATUS_READY &&
                           !record.adoption_pending;
  if (submittable == record.in_submittable) return;
  BatchState& batch = batches_[record.batch];
  if (submittable) {
    batch.submittable.insert(record.position);
  } else {
    batch.submittable.erase(record.position);
  }
  record.in_submittable = submittable;
}

void Ledger::Impl::SetRecheck(int job, int64_t at_us) {
  JobRecord& record = jobs_[job];
  if (record.recheck_at_us != 0) {
    rechecks_.erase({record.recheck_at_us, job});
  }
  record.recheck_at_us = at_us;
  if (at_us != 0) rechecks_.insert({at_us, job});
}

absl::StatusOr<ccbatch::v1::Attempt*> Ledger::Impl::MutableAttempt(
    int job, Change& change) {
  const JobFacts& facts = FactsOf(job);
  if (!facts.attempt.has_value()) {
    return absl::InternalError(
        absl::StrCat("job ", facts.key, " has no attempt to update"));
  }
  auto it = change.attempts.find(job);
  if (it != change.attempts.end()) {
    if (it->second.number() == facts.attempt->number) return &it->second;
    FlushAttempt(job, change);
  }
  const std::string key = JobAttemptKey(facts.key, facts.attempt->number);
  absl::StatusOr<std::optional<ccbatch::v1::Attempt>> stored =
      GetMessage<ccbatch::v1::Attempt>(*store_, Column::kAttempts, key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::DataLossError(absl::StrCat("attempt ", facts.attempt->number,
                                            " of job ", facts.key,
                                            " is missing from the store"));
  }
  ccbatch::v1::Attempt& slot = change.attempts[job];
  slot = std::move(**stored);
  return &slot;
}

void Ledger::Impl::FlushAttempt(int job, Change& change) {
  auto it = change.attempts.find(job);
  if (it == change.attempts.end()) return;
  change.batch.PutMessage(Column::kAttempts,
                          JobAttemptKey(KeyOf(job), it->second.number()),
                          it->second);
  change.attempts.erase(it);
}

absl::StatusOr<records::StoredJob> Ledger::Impl::LoadStoredJob(int job) const {
  const JobFacts& facts = FactsOf(job);
  absl::StatusOr<std::optional<records::StoredJob>> stored =
      GetMessage<records::StoredJob>(*store_, Column::kJobs, facts.key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::DataLossError(
        absl::StrCat("job ", facts.key, " is missing from the store"));
  }
  return std::move(**stored);
}

absl::StatusOr<ccbatch::v1::JobDefinition> Ledger::Impl::LoadDefinition(
    int job, const Change* change) const {
  if (change != nullptr) {
    auto it = change->definitions.find(job);
    if (it != change->definitions.end()) return it->second;
  }
  absl::StatusOr<records::StoredJob> stored = LoadStoredJob(job);
  if (!stored.ok()) return stored.status();
  return std::move(*stored->mutable_definition());
}

absl::Status Ledger::Impl::CreateAttempt(int job,
                                         absl::string_view started_because,
                                         Change& change) {
  absl::StatusOr<ccbatch::v1::JobDefinition> definition =
      LoadDefinition(job, &change);
  if (!definition.ok()) return definition.status();
  JobFacts& facts = computer_->mutable_facts(job);
  const int number = facts.attempt.has_value() ? facts.attempt->number + 1 : 1;
  const bool retry = number > 1 || started_because != "first";
  if (facts.attempt.has_value()) DetachAttempt(job);
  JobRecord& record = jobs_[job];
  const int cluster = batches_[record.batch].cluster;

  const uint64_t order = next_order_;
  ccbatch::v1::Attempt attempt;
  attempt.set_number(number);
  attempt.set_cluster(clusters_[cluster].name);
  attempt.set_order_id(FormatOrderId(order));
  *attempt.mutable_ordered_at() = TimestampOf(change.now);
  attempt.set_started_because(std::string(started_because));
  facts.attempt = AttemptFactsFromProto(attempt);
  facts.verdict.reset();
  FlushAttempt(job, change);
  change.attempts[job] = attempt;

  record.adoption_pending = false;
  record.queue_state_unsaved = false;
  record.finished_seen_us = 0;
  record.check_order = 0;
  record.cancel_order = 0;
  SetRecheck(job, 0);
  SetJobCluster(job, cluster);

  ccbatch::v1::LedgerDirective directive;
  ccbatch::v1::SubmitOrder& submit = *directive.mutable_submit();
  submit.set_order_id(attempt.order_id());
  submit.set_job_key(facts.key);
  submit.set_directory(definition->directory());
  submit.set_basename(definition->basename());
  submit.set_program(definition->program());
  submit.set_attempt(number);
  submit.set_is_retry(retry);
  AddTransfer(definition->coords(), *definition, &submit);
  AddTransfer(definition->orbitals(), *definition, &submit);
  record.submit_order = AddOrder(OrderKind::kSubmit, job, cluster, number,
                                 std::move(directive), change);
  if (retry) change.event_notes[job] = std::string(started_because);
  change.dirty.push_back(job);
  UpdateSubmittable(job);
  return absl::OkStatus();
}

absl::Status Ledger::Impl::CreateCheck(int job, Change& change) {
  const JobFacts& facts = FactsOf(job);
  if (!facts.attempt.has_value() || facts.attempt->slurm_job_id.empty()) {
    return absl::InternalError(absl::StrCat(
        "job ", facts.key, " is COMPLETING without a SLURM job id"));
  }
  absl::StatusOr<ccbatch::v1::JobDefinition> definition =
      LoadDefinition(job, &change);
  if (!definition.ok()) return definition.status();
  absl::StatusOr<ccbatch::v1::Attempt*> attempt = MutableAttempt(job, change);
  if (!attempt.ok()) return attempt.status();
  *(*attempt)->mutable_output_checked_at() = TimestampOf(change.now);

  JobRecord& record = jobs_[job];
  ccbatch::v1::LedgerDirective directive;
  ccbatch::v1::CheckOutput& check = *directive.mutable_check_output();
  check.set_order_id(FormatOrderId(next_order_));
  check.set_job_key(facts.key);
  check.set_directory(definition->directory());
  check.set_basename(definition->basename());
  check.set_program(definition->program());
  check.set_slurm_job_id(facts.attempt->slurm_job_id);
  check.set_attempt(facts.attempt->number);
  if (facts.attempt->submitted_at != absl::InfinitePast()) {
    *check.mutable_attempt_submitted_at() =
        TimestampOf(facts.attempt->submitted_at);
  }
  if (record.finished_seen_us != 0) {
    *check.mutable_finished_seen_at() =
        TimestampOf(TimeOfMicros(record.finished_seen_us));
  }
  const SlurmState last = ClassifySlurmState(facts.attempt->last_queue_state);
  if (last.known && last.terminal) {
    check.set_scheduler_state(std::string(last.name));
  }
  const int cluster = ClusterIndex(facts.attempt->cluster);
  record.check_order =
      AddOrder(OrderKind::kCheck, job, cluster, facts.attempt->number,
               std::move(directive), change);
  SetRecheck(job, 0);
  return absl::OkStatus();
}

absl::Status Ledger::Impl::CreateAdoptionCheck(
    int job, const ccbatch::v1::JobDefinition& definition, Change& change) {
  JobRecord& record = jobs_[job];
  ccbatch::v1::LedgerDirective directive;
  ccbatch::v1::CheckOutput& check = *directive.mutable_check_output();
  check.set_order_id(FormatOrderId(next_order_));
  check.set_job_key(definition.key());
  check.set_directory(definition.directory());
  check.set_basename(definition.basename());
  check.set_program(definition.program());
  check.set_attempt(0);
  record.check_order =
      AddOrder(OrderKind::kCheck, job, batches_[record.batch].cluster,
               /*attempt=*/0, std::move(directive), change);
  record.adoption_pending = true;
  UpdateSubmittable(job);
  return absl::OkStatus();
}

absl::Status Ledger::Impl::CreateCancel(int job, Change& change) {
  const JobFacts& facts = FactsOf(job);
  if (!facts.attempt.has_value() || facts.attempt->slurm_job_id.empty()) {
    return absl::InternalError(
        absl::StrCat("job ", facts.key, " has no SLURM job to cancel"));
  }
  ccbatch::v1::LedgerDirective directive;
  ccbatch::v1::CancelOrder& cancel = *directive.mutable_cancel();
  cancel.set_order_id(FormatOrderId(next_order_));
  cancel.set_job_key(facts.key);
  cancel.set_slurm_job_id(facts.attempt->slurm_job_id);
  jobs_[job].cancel_order =
      AddOrder(OrderKind::kCancel, job, ClusterIndex(facts.attempt->cluster),
               facts.attempt->number, std::move(directive), change);
  return absl::OkStatus();
}

uint64_t Ledger::Impl::AddOrder(OrderKind kind, int job, int cluster,
                                int attempt,
                                ccbatch::v1::LedgerDirective directive,
                                Change& change) {
  const uint64_t number = next_order_++;
  records::StoredOrder stored;
  *stored.mutable_directive() = std::move(directive);
  stored.set_cluster(clusters_[cluster].name);
  *stored.mutable_created_at() = TimestampOf(change.now);
  change.batch.PutMessage(Column::kOrders, FormatOrderId(number), stored);
  change.meta_dirty = true;
  change.sync = true;
  change.notify = true;
  OrderRecord& record = orders_[number];
  record.kind = kind;
  record.job = job;
  record.cluster = cluster;
  record.attempt = attempt;
  ClusterState& state = clusters_[cluster];
  state.orders.insert(number);
  state.due.insert(number);
  return number;
}

void Ledger::Impl::RemoveOrder(uint64_t order, Change& change) {
  auto it = orders_.find(order);
  if (it == orders_.end()) return;
  ClusterState& cluster = clusters_[it->second.cluster];
  cluster.orders.erase(order);
  cluster.due.erase(order);
  orders_.erase(it);
  change.batch.Delete(Column::kOrders, FormatOrderId(order));
  change.sync = true;
}

void Ledger::Impl::DetachAttempt(int job) {
  AttemptFacts& attempt = *computer_->mutable_facts(job).attempt;
  jobs_[job].in_unseen = false;
  if (attempt.slurm_job_id.empty()) return;
  ClusterState& cluster = clusters_[ClusterIndex(attempt.cluster)];
  auto slot = cluster.slots.find(attempt.slurm_job_id);
  if (slot != cluster.slots.end() && slot->second.job == job) {
    // A line still in the queue stays as anyone's line: it keeps counting
    // against the cap until it leaves.
    slot->second.job = -1;
    if (slot->second.line_hash == 0) cluster.slots.erase(slot);
  }
  attempt.queue_entry.reset();
}

}  // namespace ccbatch::ledger
