// Rebuilding the ledger from its store: at Open, and after a failed write.
// Statuses come from a full derivation over the stored facts; the stored
// status cache only supplies "since" times and is corrected (with an event)
// where it disagrees.
#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#ifdef __GLIBC__  // defined by the headers above
#include <malloc.h>
#endif

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "ledger_service/derive.h"
#include "ledger_service/ledger_impl.h"

namespace ccbatch::ledger {
namespace {

// The jobs family as scanned (key order), before jobs get their indices.
struct ScannedJobs {
  std::vector<std::string> keys;
  std::vector<int32_t> batch;
  std::vector<int32_t> order;
  std::vector<bool> cancelled;
  // Upstream keys of job i: upstream_keys[upstream_begin[i] ..
  // upstream_begin[i + 1]), kept flat so a million jobs cost little.
  std::vector<std::string> upstream_keys;
  std::vector<uint32_t> upstream_begin{0};
};

absl::StatusOr<uint64_t> ReadMetaNumber(const Store& store,
                                        absl::string_view key) {
  absl::StatusOr<std::optional<std::string>> value =
      store.Get(Column::kMeta, key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return 0;
  uint64_t number = 0;
  if (!absl::SimpleAtoi(**value, &number)) {
    return absl::DataLossError(absl::StrCat("store ", store.location(),
                                            ": meta \"", key,
                                            "\" is not a number: ", **value));
  }
  return number;
}

absl::Status DataLoss(const Store& store, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("store ", store.location(), ": ", what));
}

}  // namespace

absl::Status Ledger::Impl::Open() {
  absl::MutexLock lock(&mu_);
  return Load();
}

void Ledger::Impl::ResetState() {
  batches_.clear();
  batch_by_name_.clear();
  jobs_.clear();
  job_by_key_.Clear();
  computer_.emplace(*StatusComputer::Create(DependencyGraph(), {}));
  clusters_.clear();
  cluster_by_name_.clear();
  orders_.clear();
  next_order_ = 1;
  last_event_seq_ = 0;
  epoch_ = 0;
  rechecks_.clear();
  recent_events_.clear();
}

absl::Status Ledger::Impl::Load() {
  ResetState();
  loading_ = true;
  absl::Status loaded;
  {
    Change change(clock_->Now());
    loaded = LoadSteps(change);
    if (loaded.ok()) loaded = Commit(change);
  }
  loading_ = false;
  if (!loaded.ok()) ResetState();
#ifdef __GLIBC__
  // Loading a large store leaves freed scratch (scan buffers, the upstream
  // lists, write batches) in the heap; give it back so the resident size
  // reflects what the ledger holds.
  malloc_trim(0);
#endif
  return loaded;
}

absl::Status Ledger::Impl::EnsureUsable() {
  if (broken_.ok()) return absl::OkStatus();
  absl::Status reloaded = Load();
  if (reloaded.ok()) {
    Log(common::LogLevel::kInfo, "store_recovered",
        {{"note", "state rebuilt from the store"}});
    broken_ = absl::OkStatus();
    return reloaded;
  }
  return absl::UnavailableError(absl::StrCat(
      "the ledger stopped accepting changes after its store failed (",
      broken_.message(), ") and still cannot rebuild from it (",
      reloaded.message(), "); check the disk and restart the ledger"));
}

void Ledger::Impl::ReloadAfterFailedWrite(const absl::Status& cause) {
  Log(common::LogLevel::kError, "write_failed",
      {{"error", cause.message()}, {"action", "rebuilding from the store"}});
  struct Binding {
    bool connected;
    uint64_t stream;
    absl::Time changed_at;
  };
  std::map<std::string, Binding> bindings;
  for (const ClusterState& cluster : clusters_) {
    bindings[cluster.name] = {cluster.connected, cluster.stream,
                              cluster.connection_changed_at};
  }
  absl::Status reloaded = Load();
  if (!reloaded.ok()) {
    Log(common::LogLevel::kError, "reload_failed",
        {{"error", reloaded.message()}});
    broken_ = cause;
    return;
  }
  for (const auto& [name, binding] : bindings) {
    ClusterState& cluster = clusters_[ClusterIndex(name)];
    cluster.connected = binding.connected;
    cluster.stream = binding.stream;
    cluster.connection_changed_at = binding.changed_at;
    if (cluster.connected) cluster.due = cluster.orders;
  }
}

void Ledger::Impl::IndexJobKeys() { job_by_key_.Rebuild(&*computer_); }

absl::Status Ledger::Impl::LoadSteps(Change& change) {
  CCB_ASSIGN_OR_RETURN(next_order_, ReadMetaNumber(*store_, kNextOrderKey));
  if (next_order_ == 0) {
    // A new database. Order ids become `ccb:<id>` tags on SLURM jobs that
    // stay visible in squeue after this ledger is gone; an agent settles a
    // re-sent order by finding its tag. Starting each database's counter at
    // a random point of a 10^11 range keeps a new ledger from reusing the
    // tags of an earlier one (which would make the agent answer with an old
    // job's id).
    absl::BitGen bits;
    next_order_ = absl::Uniform<uint64_t>(bits, 1, kOrderIdSpace);
  }
  CCB_ASSIGN_OR_RETURN(last_event_seq_,
                       ReadMetaNumber(*store_, kLastEventSeqKey));

  // Batches, in name order (key order).
  CCB_RETURN_IF_ERROR(ScanMessages<records::StoredBatch>(
      *store_, Column::kBatches, "",
      [&](absl::string_view key, const records::StoredBatch& record) {
        const int index = static_cast<int>(batches_.size());
        BatchState& batch = batches_.emplace_back();
        batch.record = record;
        batch_by_name_.emplace(std::string(key), index);
        batch.cluster = ClusterIndex(record.definition().cluster());
        return true;
      }));

  // Jobs: scanned in key order, then numbered by (batch name, order).
  ScannedJobs scanned;
  absl::Status orphan;
  CCB_RETURN_IF_ERROR(ScanMessages<records::StoredJob>(
      *store_, Column::kJobs, "",
      [&](absl::string_view key, const records::StoredJob& stored) {
        const absl::string_view batch = key.substr(0, key.find('/'));
        auto it = batch_by_name_.find(batch);
        if (it == batch_by_name_.end()) {
          orphan = DataLoss(
              *store_,
              absl::StrCat("job ", key, " belongs to no stored batch"));
          return false;
        }
        scanned.keys.emplace_back(key);
        scanned.batch.push_back(it->second);
        scanned.order.push_back(stored.definition().order());
        scanned.cancelled.push_back(stored.has_cancel_requested_at());
        for (const std::string& up : stored.definition().upstream_keys()) {
          scanned.upstream_keys.push_back(up);
        }
        scanned.upstream_begin.push_back(
            static_cast<uint32_t>(scanned.upstream_keys.size()));
        return true;
      }));
  CCB_RETURN_IF_ERROR(orphan);
  const int count = static_cast<int>(scanned.keys.size());
  std::vector<int32_t> rank(batches_.size());
  {
    int32_t next = 0;
    for (const auto& [name, index] : batch_by_name_) rank[index] = next++;
  }
  std::vector<int32_t> by_position(count);  // final index -> scan index
  std::iota(by_position.begin(), by_position.end(), 0);
  std::sort(by_position.begin(), by_position.end(), [&](int32_t a, int32_t b) {
    if (scanned.batch[a] != scanned.batch[b]) {
      return rank[scanned.batch[a]] < rank[scanned.batch[b]];
    }
    return scanned.order[a] != scanned.order[b]
               ? scanned.order[a] < scanned.order[b]
               : a < b;
  });
  std::vector<int32_t> index_of_scanned(count);
  std::vector<JobFacts> facts(count);
  jobs_.resize(count);
  for (int job = 0; job < count; ++job) {
    const int32_t from = by_position[job];
    index_of_scanned[from] = job;
    facts[job].key = std::move(scanned.keys[from]);
    facts[job].cancel_requested = scanned.cancelled[from];
    JobRecord& record = jobs_[job];
    record.batch = scanned.batch[from];
    BatchState& batch = batches_[record.batch];
    record.position = static_cast<int32_t>(batch.jobs.size());
    record.cluster = batch.cluster;
    batch.jobs.push_back(job);
  }
  absl::flat_hash_map<absl::string_view, int32_t> index_by_key;
  index_by_key.reserve(count);
  for (int job = 0; job < count; ++job)
    index_by_key.emplace(facts[job].key, job);
  std::vector<std::vector<int>> upstream(count);
  for (int from = 0; from < count; ++from) {
    std::vector<int>& up = upstream[index_of_scanned[from]];
    for (uint32_t k = scanned.upstream_begin[from];
         k < scanned.upstream_begin[from + 1]; ++k) {
      auto it = index_by_key.find(scanned.upstream_keys[k]);
      if (it == index_by_key.end()) {
        return DataLoss(*store_,
                        absl::StrCat("job ", facts[index_of_scanned[from]].key,
                                     " depends on ", scanned.upstream_keys[k],
                                     ", which is not stored"));
      }
      up.push_back(it->second);
    }
  }
  scanned = ScannedJobs();

  // Attempts: the last one of each job is its current attempt.
  absl::Status bad_key;
  CCB_RETURN_IF_ERROR(ScanMessages<ccbatch::v1::Attempt>(
      *store_, Column::kAttempts, "",
      [&](absl::string_view key, const ccbatch::v1::Attempt& attempt) {
        absl::StatusOr<JobAttempt> parsed = ParseJobAttemptKey(key);
        auto it = parsed.ok() ? index_by_key.find(parsed->job_key)
                              : index_by_key.end();
        if (it == index_by_key.end()) {
          bad_key = DataLoss(*store_, "an attempt belongs to no stored job");
          return false;
        }
        JobFacts& job = facts[it->second];
        job.attempt = AttemptFactsFromProto(attempt);
        JobRecord& record = jobs_[it->second];
        record.finished_seen_us =
            attempt.has_finished_seen_at()
                ? MicrosOf(TimeFromProto(attempt.finished_seen_at()))
                : 0;
        record.cluster = ClusterIndex(attempt.cluster());
        return true;
      }));
  CCB_RETURN_IF_ERROR(bad_key);
  // Verdicts of current attempts (or adoption); others stay in the store.
  CCB_RETURN_IF_ERROR(ScanMessages<ccbatch::v1::Verdict>(
      *store_, Column::kVerdicts, "",
      [&](absl::string_view key, const ccbatch::v1::Verdict& verdict) {
        if (absl::StartsWith(key, kUnmatchedVerdictPrefix)) {
          absl::string_view rest = key.substr(kUnmatchedVerdictPrefix.size());
          ++clusters_[ClusterIndex(rest.substr(0, rest.find('/')))]
                .unmatched_verdicts;
          return true;
        }
        absl::StatusOr<JobAttempt> parsed = ParseJobAttemptKey(key);
        auto it = parsed.ok() ? index_by_key.find(parsed->job_key)
                              : index_by_key.end();
        if (it == index_by_key.end()) return true;  // history of nothing
        JobFacts& job = facts[it->second];
        const int current = job.attempt.has_value() ? job.attempt->number : 0;
        if (parsed->attempt == current)
          job.verdict = VerdictFactsFromProto(verdict);
        return true;
      }));

  // The `slurm job id -> job` index: current attempts not yet settled.
  for (int job = 0; job < count; ++job) {
    const std::optional<AttemptFacts>& attempt = facts[job].attempt;
    if (!attempt.has_value() || attempt->slurm_job_id.empty() ||
        FinalVerdict(facts[job]) != nullptr ||
        (attempt->cancel_requested && attempt->cancel_acknowledged)) {
      continue;
    }
    clusters_[jobs_[job].cluster].slots[attempt->slurm_job_id].job = job;
  }

  // Clusters: health records and the latest snapshot's lines.
  absl::Status cluster_error;
  CCB_RETURN_IF_ERROR(store_->Scan(
      Column::kClusters, "",
      [&](absl::string_view key, absl::string_view value) {
        const size_t separator = key.find('\0');
        if (separator == absl::string_view::npos) return true;
        ClusterState& cluster =
            clusters_[ClusterIndex(key.substr(0, separator))];
        absl::string_view part = key.substr(separator + 1);
        if (part == kClusterStatePart) {
          cluster_error = ParseStoredMessage(*store_, Column::kClusters, key,
                                             value, &cluster.record);
          return cluster_error.ok();
        }
        if (!absl::ConsumePrefix(&part, kClusterEntryPart)) return true;
        ccbatch::v1::QueueEntry entry;
        cluster_error =
            ParseStoredMessage(*store_, Column::kClusters, key, value, &entry);
        if (!cluster_error.ok()) return false;
        QueueSlot& slot = cluster.slots[part];
        slot.line_hash = LineHash(entry.state(), entry.reason(), entry.nodes());
        slot.queued = !ClassifySlurmState(entry.state()).terminal;
        slot.stored = true;
        ++cluster.present;
        if (slot.queued) ++cluster.queued;
        if (slot.job < 0) return true;
        AttemptFacts& attempt = *facts[slot.job].attempt;
        if (attempt.last_queue_state != entry.state()) {
          attempt.last_queue_state = entry.state();
          jobs_[slot.job].queue_state_unsaved = true;
        }
        attempt.queue_entry = QueueEntryFactsFromProto(entry);
        return true;
      }));
  CCB_RETURN_IF_ERROR(cluster_error);

  // Outstanding orders.
  CCB_RETURN_IF_ERROR(ScanMessages<records::StoredOrder>(
      *store_, Column::kOrders, "",
      [&](absl::string_view key, const records::StoredOrder& stored) {
        const uint64_t number = ParseOrderId(key);
        const ccbatch::v1::LedgerDirective& directive = stored.directive();
        OrderRecord order;
        order.maybe_handed = true;
        order.cluster = ClusterIndex(stored.cluster());
        std::string job_key;
        switch (directive.directive_case()) {
          case ccbatch::v1::LedgerDirective::kSubmit:
            order.kind = OrderKind::kSubmit;
            job_key = directive.submit().job_key();
            order.attempt = directive.submit().attempt();
            break;
          case ccbatch::v1::LedgerDirective::kCheckOutput:
            order.kind = OrderKind::kCheck;
            job_key = directive.check_output().job_key();
            order.attempt = directive.check_output().attempt();
            break;
          case ccbatch::v1::LedgerDirective::kCancel:
            order.kind = OrderKind::kCancel;
            job_key = directive.cancel().job_key();
            break;
          default:
            break;
        }
        auto it = index_by_key.find(job_key);
        if (number == 0 || it == index_by_key.end()) {
          Log(common::LogLevel::kWarning, "order_dropped",
              {{"order", key}, {"why", "names no stored job"}});
          return true;
        }
        order.job = it->second;
        const std::optional<AttemptFacts>& attempt = facts[order.job].attempt;
        const int current = attempt.has_value() ? attempt->number : 0;
        if (order.kind == OrderKind::kCancel) order.attempt = current;
        JobRecord& record = jobs_[order.job];
        if (order.attempt == current) {
          if (order.kind == OrderKind::kSubmit) record.submit_order = number;
          if (order.kind == OrderKind::kCancel) record.cancel_order = number;
          if (order.kind == OrderKind::kCheck) {
            record.check_order = number;
            record.adoption_pending = current == 0;
          }
        }
        orders_[number] = order;
        clusters_[order.cluster].orders.insert(number);
        next_order_ = std::max(next_order_, number + 1);
        return true;
      }));

  // Derive everything from the facts.
  CCB_ASSIGN_OR_RETURN(DependencyGraph graph, DependencyGraph::Build(upstream));
  upstream = {};
  index_by_key.clear();
  CCB_ASSIGN_OR_RETURN(
      StatusComputer computer,
      StatusComputer::Create(std::move(graph), std::move(facts)));
  computer_.emplace(std::move(computer));
  IndexJobKeys();
  for (int cluster = 0; cluster < static_cast<int>(clusters_.size());
       ++cluster) {
    PushClusterFacts(cluster);
  }
  computer_->DeriveAll(change.now, options_.staleness);

  // Compare with the cache: it supplies "since" times and event chains, and
  // is corrected where it disagrees.
  std::vector<uint8_t> cache_differs(count, 1);
  absl::Status cache_error;
  CCB_RETURN_IF_ERROR(ScanMessages<records::StoredStatus>(
      *store_, Column::kStatus, "",
      [&](absl::string_view key, const records::StoredStatus& stored) {
        const int job = job_by_key_.Find(key);
        if (job < 0) return true;
        JobRecord& record = jobs_[job];
        record.status = stored.view().status();
        record.status_since_us =
            stored.view().has_status_since()
                ? MicrosOf(TimeFromProto(stored.view().status_since()))
                : 0;
        record.last_event_seq = stored.last_event_seq();
        const DerivedStatus& derived = computer_->status(job);
        cache_differs[job] = derived.status != record.status ||
                             derived.reason != stored.view().reason();
        return true;
      }));
  std::vector<int> differs;
  for (int job : computer_->graph().topological_order()) {
    CountStatus(job, jobs_[job].status, +1);
    if (cache_differs[job]) {
      differs.push_back(job);
      if (jobs_[job].status != computer_->status(job).status) {
        change.event_notes[job] = "re-derived at start";
      }
    }
    if (jobs_[job].status == ccbatch::v1::JOB_STATUS_COMPLETING &&
        !cache_differs[job]) {
      change.became_completing.push_back(job);
    }
  }
  // Corrections are written in chunks: the cache is never an input, so a
  // crash between chunks only leaves corrections for the next start, and a
  // million-job correction does not build one giant batch in memory.
  constexpr size_t kCorrectionChunk = 20000;
  const absl::Span<const int> all_differs(differs);
  for (size_t begin = 0; begin < all_differs.size();
       begin += kCorrectionChunk) {
    Publish(all_differs.subspan(begin, kCorrectionChunk), change);
    if (begin + kCorrectionChunk >= all_differs.size()) break;
    FlushOverlays(change);
    CCB_RETURN_IF_ERROR(
        store_->Write(change.batch, WriteOptions{/*sync=*/false}));
    change.batch.Clear();
  }
  change.event_notes.clear();

  for (int job = 0; job < count; ++job) {
    JobRecord& record = jobs_[job];
    const JobFacts& job_facts = computer_->facts(job);
    UpdateSubmittable(job);
    if (!job_facts.attempt.has_value() ||
        job_facts.attempt->slurm_job_id.empty()) {
      continue;
    }
    if (!job_facts.attempt->queue_entry.has_value() &&
        record.finished_seen_us == 0 && !Settled(job)) {
      record.in_unseen = true;
      clusters_[record.cluster].unseen.push_back(job);
    }
  }
  if (!differs.empty()) {
    Log(common::LogLevel::kWarning, "rederived_at_start",
        {{"jobs", differs.size()},
         {"why", "stored status cache disagreed with the facts"}});
  }
  return absl::OkStatus();
}

}  // namespace ccbatch::ledger
