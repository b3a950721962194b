// The agent side of the ledger: streams, snapshots, probe failures, order
// results, and the time-driven work of Tick.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/batch_validator.h"
#include "ledger_service/derive.h"
#include "ledger_service/ledger_impl.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::Verdict;

LedgerCoreMetrics::Order MetricsKind(OrderKind kind) {
  switch (kind) {
    case OrderKind::kSubmit:
      return LedgerCoreMetrics::Order::kSubmit;
    case OrderKind::kCheck:
      return LedgerCoreMetrics::Order::kCheckOutput;
    case OrderKind::kCancel:
      return LedgerCoreMetrics::Order::kCancel;
  }
  return LedgerCoreMetrics::Order::kSubmit;
}

// Whether an entry in this state counts against the cluster's cap. An
// unknown state is taken as still in the queue (as derive.h does).
bool InQueue(absl::string_view state) {
  return !ClassifySlurmState(state).terminal;
}

ccbatch::v1::QueueEntry StoredEntry(const ccbatch::v1::QueueEntry& entry) {
  ccbatch::v1::QueueEntry stored;
  stored.set_slurm_job_id(entry.slurm_job_id());
  stored.set_state(entry.state());
  stored.set_reason(entry.reason());
  stored.set_nodes(entry.nodes());
  return stored;
}

bool IsFinalOutcome(Verdict::Outcome outcome) {
  return outcome == Verdict::OUTCOME_SUCCEEDED ||
         outcome == Verdict::OUTCOME_FAILED;
}

absl::Time TimeOrInfinitePast(bool present,
                              const google::protobuf::Timestamp& timestamp) {
  return present ? TimeFromProto(timestamp) : absl::InfinitePast();
}

}  // namespace

int Ledger::Impl::ClusterIndex(absl::string_view name) {
  auto it = cluster_by_name_.find(name);
  if (it != cluster_by_name_.end()) return it->second;
  const int index = static_cast<int>(clusters_.size());
  ClusterState& cluster = clusters_.emplace_back();
  cluster.name = std::string(name);
  cluster_by_name_.emplace(cluster.name, index);
  PushClusterFacts(index);
  return index;
}

const ClusterState* Ledger::Impl::FindCluster(absl::string_view name) const {
  auto it = cluster_by_name_.find(name);
  return it == cluster_by_name_.end() ? nullptr : &clusters_[it->second];
}

void Ledger::Impl::PushClusterFacts(int index) {
  if (!computer_.has_value()) return;
  const ClusterState& cluster = clusters_[index];
  const records::ClusterRecord& record = cluster.record;
  ClusterFacts facts;
  facts.name = cluster.name;
  facts.has_snapshot = record.has_snapshot();
  facts.snapshot_taken_at = TimeOrInfinitePast(record.has_snapshot_taken_at(),
                                               record.snapshot_taken_at());
  facts.snapshot_received_at = TimeOrInfinitePast(
      record.has_snapshot_received_at(), record.snapshot_received_at());
  facts.last_probe_error = record.last_probe_error();
  facts.last_probe_error_at = TimeOrInfinitePast(
      record.has_last_probe_error_at(), record.last_probe_error_at());
  computer_->SetCluster(std::move(facts));
}

// ---- Streams ----------------------------------------------------------------

absl::StatusOr<ccbatch::v1::HelloAck> Ledger::Impl::AgentConnected(
    const ccbatch::v1::Hello& hello, uint64_t stream_id) {
  if (absl::Status valid = common::CheckClusterName(hello.cluster());
      !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hello.cluster: ", valid.message()));
  }
  ccbatch::v1::HelloAck ack;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    Change change(clock_->Now());
    const int index = ClusterIndex(hello.cluster());
    ClusterState& cluster = clusters_[index];
    if (cluster.connected && cluster.stream != stream_id) {
      Log(common::LogLevel::kInfo, "stream_replaced",
          {{"cluster", cluster.name},
           {"old_stream", cluster.stream},
           {"new_stream", stream_id}});
    }
    cluster.connected = true;
    cluster.stream = stream_id;
    cluster.connection_changed_at = change.now;
    cluster.due = cluster.orders;
    if (cluster.record.user() != hello.user() ||
        cluster.record.agent_version() != hello.agent_version()) {
      cluster.record.set_user(hello.user());
      cluster.record.set_agent_version(hello.agent_version());
      change.dirty_clusters.insert(index);
    }
    ack.set_applied_snapshot_seq(cluster.record.snapshot_seq());
    status = Commit(change);
  }
  Notify();
  if (!status.ok()) return status;
  return ack;
}

void Ledger::Impl::AgentDisconnected(absl::string_view name,
                                     uint64_t stream_id) {
  absl::MutexLock lock(&mu_);
  auto it = cluster_by_name_.find(name);
  if (it == cluster_by_name_.end()) return;
  ClusterState& cluster = clusters_[it->second];
  if (!cluster.connected || cluster.stream != stream_id) return;
  cluster.connected = false;
  cluster.stream = 0;
  cluster.due.clear();
  cluster.connection_changed_at = clock_->Now();
}

std::vector<ccbatch::v1::LedgerDirective> Ledger::Impl::TakeDirectives(
    absl::string_view name, uint64_t stream_id) {
  std::vector<ccbatch::v1::LedgerDirective> directives;
  absl::MutexLock lock(&mu_);
  if (!broken_.ok()) return directives;
  auto it = cluster_by_name_.find(name);
  if (it == cluster_by_name_.end()) return directives;
  ClusterState& cluster = clusters_[it->second];
  if (!cluster.connected || cluster.stream != stream_id) return directives;
  const absl::Time now = clock_->Now();
  std::set<uint64_t> kept;
  directives.reserve(cluster.due.size());
  for (uint64_t number : cluster.due) {
    const std::string id = FormatOrderId(number);
    absl::StatusOr<std::optional<records::StoredOrder>> stored =
        GetMessage<records::StoredOrder>(*store_, Column::kOrders, id);
    if (!stored.ok() || !stored->has_value()) {
      Log(common::LogLevel::kError, "order_unreadable",
          {{"cluster", cluster.name},
           {"order", id},
           {"error", stored.ok() ? absl::string_view("missing")
                                 : stored.status().message()}});
      if (!stored.ok()) kept.insert(number);
      continue;
    }
    OrderRecord& record = orders_[number];
    metrics_.OrderHanded(MetricsKind(record.kind), record.maybe_handed);
    record.maybe_handed = true;
    record.handed_stream = stream_id;
    record.handed_at = now;
    directives.push_back(std::move(*(*stored)->mutable_directive()));
  }
  cluster.due.swap(kept);
  return directives;
}

// ---- Snapshots
// ----------------------------------------------------------------

absl::Status Ledger::Impl::ApplySnapshot(absl::string_view name,
                                         const AssembledSnapshot& snapshot) {
  if (name.empty()) {
    return absl::InvalidArgumentError("snapshot without a cluster name");
  }
  bool notify = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    const int index = ClusterIndex(name);
    ClusterState& cluster = clusters_[index];
    if (cluster.record.has_snapshot() &&
        snapshot.seq <= cluster.record.snapshot_seq()) {
      return absl::OkStatus();
    }
    Change change(clock_->Now());
    if (++epoch_ == 0) {  // wrapped after 2^32 snapshots: forget old marks
      for (ClusterState& other : clusters_) {
        for (auto& [id, slot] : other.slots) slot.seen_epoch = 0;
      }
      epoch_ = 1;
    }
    const int64_t present_before = cluster.present;
    int64_t listed_before = 0;
    for (const ccbatch::v1::QueueEntry& entry : snapshot.entries) {
      if (entry.slurm_job_id().empty()) continue;
      ApplyLine(entry, snapshot.taken_at, cluster, &listed_before, change);
    }
    if (listed_before < present_before) {
      SweepMissingLines(snapshot.taken_at, cluster, change);
    }
    SweepUnseen(snapshot.taken_at, cluster, change);
    records::ClusterRecord& record = cluster.record;
    record.set_has_snapshot(true);
    record.set_snapshot_seq(snapshot.seq);
    *record.mutable_snapshot_taken_at() = TimestampOf(snapshot.taken_at);
    *record.mutable_snapshot_received_at() = TimestampOf(change.now);
    record.set_snapshot_entries(snapshot.entries.size());
    *record.mutable_diagnostics() = snapshot.diagnostics;
    record.clear_last_probe_error();
    record.clear_last_probe_error_at();
    change.dirty_clusters.insert(index);
    PushClusterFacts(index);
    status = Commit(change);
    if (status.ok()) {
      metrics_.SnapshotApplied(name, snapshot.entries.size(),
                               clock_->Now() - change.now);
    }
    notify = change.notify;
  }
  if (notify) Notify();
  return status;
}

void Ledger::Impl::ApplyLine(const ccbatch::v1::QueueEntry& entry,
                             absl::Time taken_at, ClusterState& cluster,
                             int64_t* listed_before, Change& change) {
  QueueSlot& slot = cluster.slots[entry.slurm_job_id()];
  if (slot.seen_epoch == epoch_) return;  // a repeated line: the first wins
  slot.seen_epoch = epoch_;
  if (slot.line_hash != 0) ++*listed_before;
  const uint64_t hash = LineHash(entry.state(), entry.reason(), entry.nodes());
  if (slot.line_hash == hash) return;  // the common case: nothing to do
  if (slot.line_hash == 0) {
    ++cluster.present;
  } else if (slot.queued) {
    --cluster.queued;
  }
  slot.line_hash = hash;
  slot.queued = InQueue(entry.state());
  if (slot.queued) ++cluster.queued;
  if (slot.stored || slot.job >= 0 || slot.queued ||
      TagsOutstandingSubmit(entry.comment())) {
    change.batch.PutMessage(Column::kClusters,
                            EntryKey(cluster.name, entry.slurm_job_id()),
                            StoredEntry(entry));
    slot.stored = true;
  }
  if (slot.job >= 0) LineChanged(slot.job, entry, taken_at, change);
}

bool Ledger::Impl::TagsOutstandingSubmit(absl::string_view comment) const {
  if (!absl::ConsumePrefix(&comment, "ccb:")) return false;
  auto order = orders_.find(ParseOrderId(comment.substr(0, 13)));
  return order != orders_.end() && order->second.kind == OrderKind::kSubmit;
}

void Ledger::Impl::LineChanged(int job, const ccbatch::v1::QueueEntry& entry,
                               absl::Time taken_at, Change& change) {
  AttemptFacts& attempt = *computer_->mutable_facts(job).attempt;
  JobRecord& record = jobs_[job];
  attempt.queue_entry = QueueEntryFactsFromProto(entry);
  if (attempt.last_queue_state != entry.state()) {
    attempt.last_queue_state = entry.state();
    record.queue_state_unsaved = true;
  }
  if (record.in_unseen) record.in_unseen = false;
  change.dirty.push_back(job);
  if (!InQueue(entry.state()) && record.finished_seen_us == 0) {
    MarkFinishedSeen(job, taken_at, change);
  }
}

void Ledger::Impl::SweepMissingLines(absl::Time taken_at, ClusterState& cluster,
                                     Change& change) {
  for (auto it = cluster.slots.begin(); it != cluster.slots.end();) {
    QueueSlot& slot = it->second;
    if (slot.line_hash == 0 || slot.seen_epoch == epoch_) {
      ++it;
      continue;
    }
    --cluster.present;
    if (slot.queued) --cluster.queued;
    slot.line_hash = 0;
    slot.queued = false;
    if (slot.stored) {
      change.batch.Delete(Column::kClusters, EntryKey(cluster.name, it->first));
      slot.stored = false;
    }
    if (slot.job >= 0) {
      LineLeft(slot.job, taken_at, change);
      if (!Settled(slot.job)) {
        ++it;
        continue;
      }
    }
    cluster.slots.erase(it++);
  }
}

void Ledger::Impl::LineLeft(int job, absl::Time taken_at, Change& change) {
  AttemptFacts& attempt = *computer_->mutable_facts(job).attempt;
  JobRecord& record = jobs_[job];
  attempt.queue_entry.reset();
  change.dirty.push_back(job);
  if (record.finished_seen_us == 0 && taken_at > attempt.submitted_at) {
    MarkFinishedSeen(job, taken_at, change);
  } else if (record.queue_state_unsaved) {
    absl::StatusOr<ccbatch::v1::Attempt*> stored = MutableAttempt(job, change);
    if (stored.ok()) {
      (*stored)->set_last_queue_state(attempt.last_queue_state);
      record.queue_state_unsaved = false;
    } else if (change.error.ok()) {
      change.error = stored.status();
    }
  }
}

void Ledger::Impl::SweepUnseen(absl::Time taken_at, ClusterState& cluster,
                               Change& change) {
  std::vector<int32_t> kept;
  for (int32_t job : cluster.unseen) {
    JobRecord& record = jobs_[job];
    if (!record.in_unseen) continue;
    const JobFacts& facts = FactsOf(job);
    if (!facts.attempt.has_value() || facts.attempt->slurm_job_id.empty() ||
        facts.attempt->cluster != cluster.name ||
        record.finished_seen_us != 0 ||
        facts.attempt->queue_entry.has_value()) {
      record.in_unseen = false;
      continue;
    }
    if (taken_at > facts.attempt->submitted_at) {
      record.in_unseen = false;
      MarkFinishedSeen(job, taken_at, change);
      continue;
    }
    kept.push_back(job);
  }
  cluster.unseen.swap(kept);
}

bool Ledger::Impl::Settled(int job) const {
  const JobFacts& facts = FactsOf(job);
  if (!facts.attempt.has_value()) return true;
  return FinalVerdict(facts) != nullptr || (facts.attempt->cancel_requested &&
                                            facts.attempt->cancel_acknowledged);
}

void Ledger::Impl::ReleaseSlotIfSettled(int job) {
  const JobFacts& facts = FactsOf(job);
  if (!facts.attempt.has_value() || facts.attempt->slurm_job_id.empty() ||
      !Settled(job)) {
    return;
  }
  ClusterState& cluster = clusters_[ClusterIndex(facts.attempt->cluster)];
  auto slot = cluster.slots.find(facts.attempt->slurm_job_id);
  if (slot == cluster.slots.end() || slot->second.job != job) return;
  if (slot->second.line_hash == 0) {
    cluster.slots.erase(slot);
  }
}

void Ledger::Impl::MarkFinishedSeen(int job, absl::Time at, Change& change) {
  absl::StatusOr<ccbatch::v1::Attempt*> stored = MutableAttempt(job, change);
  if (!stored.ok()) {
    if (change.error.ok()) change.error = stored.status();
    return;
  }
  JobRecord& record = jobs_[job];
  record.finished_seen_us = MicrosOf(at);
  *(*stored)->mutable_finished_seen_at() = TimestampOf(at);
  (*stored)->set_last_queue_state(FactsOf(job).attempt->last_queue_state);
  record.queue_state_unsaved = false;
  change.dirty.push_back(job);
}

void Ledger::Impl::BindSlurmId(int job, Change& change) {
  AttemptFacts& attempt = *computer_->mutable_facts(job).attempt;
  ClusterState& cluster = clusters_[ClusterIndex(attempt.cluster)];
  QueueSlot& slot = cluster.slots[attempt.slurm_job_id];
  if (slot.job >= 0 && slot.job != job) {
    Log(common::LogLevel::kWarning, "slurm_id_rebound",
        {{"cluster", cluster.name},
         {"slurm_job_id", attempt.slurm_job_id},
         {"job", KeyOf(job)},
         {"previous_job", KeyOf(slot.job)}});
  }
  slot.job = job;
  JobRecord& record = jobs_[job];
  const absl::Time taken_at =
      TimeOrInfinitePast(cluster.record.has_snapshot_taken_at(),
                         cluster.record.snapshot_taken_at());
  if (slot.line_hash != 0 && !slot.stored) {
    // Listed, untagged and finished: all that is known is that it ended.
    Log(common::LogLevel::kInfo, "untagged_line_bound",
        {{"cluster", cluster.name},
         {"slurm_job_id", attempt.slurm_job_id},
         {"job", KeyOf(job)}});
    if (record.finished_seen_us == 0) MarkFinishedSeen(job, taken_at, change);
  } else if (slot.line_hash != 0) {
    // The latest snapshot already lists the job (the agent found it by its
    // tag before its answer arrived): its line is stored beside it.
    absl::StatusOr<std::optional<ccbatch::v1::QueueEntry>> line =
        GetMessage<ccbatch::v1::QueueEntry>(
            *store_, Column::kClusters,
            EntryKey(cluster.name, attempt.slurm_job_id));
    if (!line.ok() || !line->has_value()) {
      if (change.error.ok()) {
        change.error = line.ok() ? absl::DataLossError(absl::StrCat(
                                       "queue line of slurm job ",
                                       attempt.slurm_job_id, " is missing"))
                                 : line.status();
      }
      return;
    }
    LineChanged(job, **line, taken_at, change);
  } else if (cluster.record.has_snapshot() && taken_at > attempt.submitted_at) {
    MarkFinishedSeen(job, taken_at, change);
  } else if (record.finished_seen_us == 0 && !record.in_unseen) {
    record.in_unseen = true;
    cluster.unseen.push_back(job);
  }
}

absl::Status Ledger::Impl::ApplyProbeFailure(
    absl::string_view name, const ccbatch::v1::ProbeFailure& failure) {
  if (name.empty()) {
    return absl::InvalidArgumentError("probe failure without a cluster name");
  }
  bool notify = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    Change change(clock_->Now());
    const int index = ClusterIndex(name);
    records::ClusterRecord& record = clusters_[index].record;
    record.set_last_probe_error(
        failure.error().empty()
            ? absl::StrCat("squeue failed with exit code ", failure.exit_code())
            : failure.error());
    *record.mutable_last_probe_error_at() = TimestampOf(change.now);
    change.dirty_clusters.insert(index);
    PushClusterFacts(index);
    status = Commit(change);
    notify = change.notify;
  }
  if (notify) Notify();
  return status;
}

// ---- Order results ----------------------------------------------------------

const OrderRecord* Ledger::Impl::FindAnsweredOrder(absl::string_view cluster,
                                                   absl::string_view order_id,
                                                   OrderKind kind,
                                                   uint64_t* number) {
  *number = ParseOrderId(order_id);
  auto it = orders_.find(*number);
  absl::string_view problem;
  if (it == orders_.end()) {
    problem = "unknown or already answered order";
  } else if (it->second.kind != kind) {
    problem = "result of the wrong kind for the order";
  } else if (clusters_[it->second.cluster].name != cluster) {
    problem = "order belongs to another cluster";
  } else {
    return &it->second;
  }
  Log(common::LogLevel::kInfo, "result_ignored",
      {{"cluster", cluster}, {"order", order_id}, {"why", problem}});
  return nullptr;
}

absl::Status Ledger::Impl::ApplySubmitResult(
    absl::string_view cluster, const ccbatch::v1::SubmitResult& result) {
  if (result.result_case() == ccbatch::v1::SubmitResult::RESULT_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SubmitResult for order ", result.order_id(),
        " carries neither a SLURM job id, an error nor an adopted verdict"));
  }
  if (result.result_case() == ccbatch::v1::SubmitResult::kSlurmJobId &&
      result.slurm_job_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SubmitResult for order ", result.order_id(), " has an empty job id"));
  }
  bool notify = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    uint64_t number = 0;
    const OrderRecord* order = FindAnsweredOrder(cluster, result.order_id(),
                                                 OrderKind::kSubmit, &number);
    if (order == nullptr) return absl::OkStatus();
    Change change(clock_->Now());
    const int job = order->job;
    const int attempt_number = order->attempt;
    metrics_.OrderAnswered(LedgerCoreMetrics::Order::kSubmit);
    RemoveOrder(number, change);
    if (jobs_[job].submit_order == number) jobs_[job].submit_order = 0;
    JobFacts& facts = computer_->mutable_facts(job);
    if (!facts.attempt.has_value() || facts.attempt->number != attempt_number) {
      Log(common::LogLevel::kInfo, "result_ignored",
          {{"cluster", cluster},
           {"job", facts.key},
           {"order", result.order_id()},
           {"why", "attempt superseded"}});
    } else if (absl::StatusOr<ccbatch::v1::Attempt*> attempt =
                   MutableAttempt(job, change);
               !attempt.ok()) {
      change.error = attempt.status();
    } else {
      AttemptFacts& facts_attempt = *facts.attempt;
      switch (result.result_case()) {
        case ccbatch::v1::SubmitResult::kSlurmJobId: {
          const absl::Time submitted_at =
              result.has_submitted_at() ? TimeFromProto(result.submitted_at())
                                        : change.now;
          (*attempt)->set_slurm_job_id(result.slurm_job_id());
          *(*attempt)->mutable_submitted_at() = TimestampOf(submitted_at);
          facts_attempt.slurm_job_id = result.slurm_job_id();
          facts_attempt.submitted_at = submitted_at;
          BindSlurmId(job, change);
          if (facts_attempt.cancel_requested && jobs_[job].cancel_order == 0) {
            if (absl::Status created = CreateCancel(job, change);
                !created.ok()) {
              change.error = created;
            }
          }
          break;
        }
        case ccbatch::v1::SubmitResult::kError: {
          const std::string error = result.error().empty()
                                        ? "sbatch failed without a message"
                                        : result.error();
          (*attempt)->set_submit_error(error);
          facts_attempt.submit_error = error;
          break;
        }
        default: {  // kAdopted
          ccbatch::v1::Verdict verdict = result.adopted();
          if (!IsFinalOutcome(verdict.outcome())) {
            const std::string error = absl::StrCat(
                "the agent adopted an existing output without a final "
                "verdict (outcome ",
                Verdict::Outcome_Name(verdict.outcome()), ")");
            (*attempt)->set_submit_error(error);
            facts_attempt.submit_error = error;
            break;
          }
          verdict.set_job_key(facts.key);
          verdict.set_attempt(attempt_number);
          verdict.clear_slurm_job_id();
          change.batch.PutMessage(Column::kVerdicts,
                                  JobAttemptKey(facts.key, attempt_number),
                                  verdict);
          facts.verdict = VerdictFactsFromProto(verdict);
          break;
        }
      }
      change.dirty.push_back(job);
    }
    status = Commit(change);
    notify = change.notify;
  }
  if (notify) Notify();
  return status;
}

absl::Status Ledger::Impl::ApplyCheckOutputResult(
    absl::string_view cluster, const ccbatch::v1::CheckOutputResult& result) {
  bool notify = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    Change change(clock_->Now());
    const uint64_t number = ParseOrderId(result.order_id());
    auto order = orders_.find(number);
    if (order != orders_.end() && order->second.kind == OrderKind::kCheck &&
        clusters_[order->second.cluster].name == cluster) {
      const int job = order->second.job;
      const int attempt = order->second.attempt;
      metrics_.OrderAnswered(LedgerCoreMetrics::Order::kCheckOutput);
      RemoveOrder(number, change);
      if (jobs_[job].check_order == number) jobs_[job].check_order = 0;
      if (attempt == 0) {
        AcceptAdoptionAnswer(job, result.verdict(), change);
      } else {
        change.error = AcceptVerdict(job, attempt, result.verdict(), change);
      }
    } else {
      // Not an outstanding order: a repeated answer, or one from before the
      // order was forgotten. Attach it only where it judges the current
      // attempt and nothing has yet; keep it in any case.
      const Verdict& verdict = result.verdict();
      const int job = job_by_key_.Find(verdict.job_key());
      const JobFacts* facts = job < 0 ? nullptr : &FactsOf(job);
      if (facts != nullptr && facts->attempt.has_value() &&
          !verdict.slurm_job_id().empty() &&
          facts->attempt->slurm_job_id == verdict.slurm_job_id()) {
        if (IsFinalOutcome(verdict.outcome()) &&
            FinalVerdict(*facts) == nullptr) {
          change.error =
              AcceptVerdict(job, facts->attempt->number, verdict, change);
        } else {
          Log(common::LogLevel::kInfo, "result_ignored",
              {{"cluster", cluster},
               {"job", facts->key},
               {"order", result.order_id()},
               {"why", "repeated verdict"}});
        }
      } else if (facts != nullptr && verdict.slurm_job_id().empty()) {
        Log(common::LogLevel::kInfo, "result_ignored",
            {{"cluster", cluster},
             {"job", facts->key},
             {"order", result.order_id()},
             {"why", "repeated adoption answer"}});
      } else {
        KeepUnmatchedVerdict(ClusterIndex(cluster), result.order_id(), verdict,
                             change);
      }
    }
    status = Commit(change);
    notify = change.notify;
  }
  if (notify) Notify();
  return status;
}

absl::Status Ledger::Impl::AcceptVerdict(int job, int attempt,
                                         ccbatch::v1::Verdict verdict,
                                         Change& change) {
  JobFacts& facts = computer_->mutable_facts(job);
  verdict.set_job_key(facts.key);
  verdict.set_attempt(attempt);
  const bool current =
      facts.attempt.has_value() && facts.attempt->number == attempt;
  if (!current) {
    if (IsFinalOutcome(verdict.outcome())) {
      change.batch.PutMessage(Column::kVerdicts,
                              JobAttemptKey(facts.key, attempt), verdict);
      change.sync = true;
    }
    Log(common::LogLevel::kInfo, "verdict_for_old_attempt",
        {{"cluster", ClusterNameOf(job)},
         {"job", facts.key},
         {"attempt", attempt}});
    return absl::OkStatus();
  }
  verdict.set_slurm_job_id(facts.attempt->slurm_job_id);
  if (FinalVerdict(facts) != nullptr) {
    Log(common::LogLevel::kInfo, "result_ignored",
        {{"cluster", ClusterNameOf(job)},
         {"job", facts.key},
         {"attempt", attempt},
         {"why", "already judged"}});
    return absl::OkStatus();
  }
  change.batch.PutMessage(Column::kVerdicts, JobAttemptKey(facts.key, attempt),
                          verdict);
  change.sync = true;
  facts.verdict = VerdictFactsFromProto(verdict);
  if (IsFinalOutcome(verdict.outcome())) {
    SetRecheck(job, 0);
    ReleaseSlotIfSettled(job);
  } else {
    SetRecheck(job, MicrosOf(change.now + options_.recheck_interval));
  }
  change.dirty.push_back(job);
  return absl::OkStatus();
}

void Ledger::Impl::AcceptAdoptionAnswer(int job, ccbatch::v1::Verdict verdict,
                                        Change& change) {
  JobFacts& facts = computer_->mutable_facts(job);
  JobRecord& record = jobs_[job];
  record.adoption_pending = false;
  change.sync = true;
  if (!facts.attempt.has_value()) {
    const std::string key = JobAttemptKey(facts.key, 0);
    if (IsFinalOutcome(verdict.outcome())) {
      verdict.set_job_key(facts.key);
      verdict.set_attempt(0);
      verdict.clear_slurm_job_id();
      change.batch.PutMessage(Column::kVerdicts, key, verdict);
      facts.verdict = VerdictFactsFromProto(verdict);
    } else if (facts.verdict.has_value()) {
      // The output adopted earlier is gone (or no longer complete).
      change.batch.Delete(Column::kVerdicts, key);
      facts.verdict.reset();
    }
    change.dirty.push_back(job);
  }
  UpdateSubmittable(job);
}

void Ledger::Impl::KeepUnmatchedVerdict(int cluster, absl::string_view order_id,
                                        ccbatch::v1::Verdict verdict,
                                        Change& change) {
  ClusterState& state = clusters_[cluster];
  std::string id = verdict.slurm_job_id();
  if (id.empty()) id = order_id.empty() ? "unnamed" : std::string(order_id);
  change.batch.PutMessage(Column::kVerdicts,
                          UnmatchedVerdictKey(state.name, id), verdict);
  change.sync = true;
  ++state.unmatched_verdicts;
  Log(common::LogLevel::kWarning, "unmatched_verdict",
      {{"cluster", state.name},
       {"job", verdict.job_key()},
       {"order", order_id},
       {"slurm_job_id", verdict.slurm_job_id()},
       {"kept", state.unmatched_verdicts}});
}

absl::Status Ledger::Impl::ApplyCancelResult(
    absl::string_view cluster, const ccbatch::v1::CancelResult& result) {
  bool notify = false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status usable = EnsureUsable(); !usable.ok()) return usable;
    uint64_t number = 0;
    const OrderRecord* order = FindAnsweredOrder(cluster, result.order_id(),
                                                 OrderKind::kCancel, &number);
    if (order == nullptr) return absl::OkStatus();
    Change change(clock_->Now());
    const int job = order->job;
    const int attempt_number = order->attempt;
    metrics_.OrderAnswered(LedgerCoreMetrics::Order::kCancel);
    RemoveOrder(number, change);
    if (jobs_[job].cancel_order == number) jobs_[job].cancel_order = 0;
    JobFacts& facts = computer_->mutable_facts(job);
    if (!result.ok()) {
      Log(common::LogLevel::kWarning, "cancel_failed",
          {{"cluster", cluster},
           {"job", facts.key},
           {"error", result.error()}});
    } else if (facts.attempt.has_value() &&
               facts.attempt->number == attempt_number) {
      absl::StatusOr<ccbatch::v1::Attempt*> attempt =
          MutableAttempt(job, change);
      if (attempt.ok()) {
        (*attempt)->set_cancel_acknowledged(true);
        facts.attempt->cancel_acknowledged = true;
        change.dirty.push_back(job);
        ReleaseSlotIfSettled(job);
      } else {
        change.error = attempt.status();
      }
    }
    status = Commit(change);
    notify = change.notify;
  }
  if (notify) Notify();
  return status;
}

// ---- Time -------------------------------------------------------------------

void Ledger::Impl::Tick() {
  bool notify = false;
  {
    absl::MutexLock lock(&mu_);
    if (!EnsureUsable().ok()) return;
    Change change(clock_->Now());
    const int64_t now_us = MicrosOf(change.now);
    while (!rechecks_.empty() && rechecks_.begin()->first <= now_us) {
      const int job = rechecks_.begin()->second;
      rechecks_.erase(rechecks_.begin());
      jobs_[job].recheck_at_us = 0;
      if (jobs_[job].status == ccbatch::v1::JOB_STATUS_COMPLETING &&
          jobs_[job].check_order == 0) {
        if (absl::Status created = CreateCheck(job, change); !created.ok()) {
          if (change.error.ok()) change.error = created;
        }
      }
    }
    // A CheckOutput handed out and never answered is handed out again,
    // backing off so a slow agent is not flooded with repeats.
    for (ClusterState& cluster : clusters_) {
      if (!cluster.connected) continue;
      for (uint64_t number : cluster.orders) {
        auto found = orders_.find(number);
        if (found == orders_.end()) continue;
        OrderRecord& order = found->second;
        if (order.kind != OrderKind::kCheck ||
            order.handed_stream != cluster.stream) {
          continue;
        }
        const absl::Duration wait = options_.recheck_interval *
                                    (int64_t{1} << std::min(order.rehands, 6));
        if (order.handed_at + wait > change.now) continue;
        ++order.rehands;
        order.handed_stream = 0;
        cluster.due.insert(number);
        change.notify = true;
      }
    }
    absl::Status status = Commit(change);
    if (!status.ok()) {
      Log(common::LogLevel::kError, "tick_failed",
          {{"error", status.message()}});
    }
    notify = change.notify;
  }
  if (notify) Notify();
}

}  // namespace ccbatch::ledger
