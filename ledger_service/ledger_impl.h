// Private to //ledger_service:ledger: the state behind ledger.h and the
// change pipeline every mutation goes through. Split over ledger_*.cc by
// concern (loading, committing, agent side, client side, queries).
//
// The in-memory model, rebuilt from the store by Load():
//  - jobs are dense indices (StatusComputer's), assigned in (batch name,
//    batchfile order) at load and appended by later imports; each has a
//    compact JobRecord beside its JobFacts (definitions stay in the store);
//  - per batch: its jobs in batchfile order, counts per published status,
//    and the READY jobs free to submit (ordered by position);
//  - per cluster: the health and snapshot header; one slot per SLURM job id
//    that is in the latest snapshot or belongs to an unsettled current
//    attempt (the `slurm job id -> job` index, with a hash of the id's queue
//    line, so an unchanged line is recognised without touching the job);
//    the submitted jobs no snapshot has shown yet; outstanding orders (all,
//    and those due on the current stream).
//
// A mutation builds a Change: it edits facts and names the jobs, then
// Commit() re-derives them (incrementally), publishes status changes
// (counts, cache, index, events), runs follow-ups (CheckOutput for jobs that
// became COMPLETING, automatic retries, the scheduler) until nothing moves,
// and writes everything in one WriteBatch (synced when it holds orders,
// attempts or user intents). If that write fails, memory is rebuilt from the
// store, so memory never runs ahead of what is stored.
#ifndef CCBATCH_LEDGER_SERVICE_LEDGER_IMPL_H_
#define CCBATCH_LEDGER_SERVICE_LEDGER_IMPL_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/metrics.h"
#include "google/protobuf/timestamp.pb.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_metrics.h"
#include "ledger_service/ledger_records.pb.h"
#include "ledger_service/status_computer.h"
#include "ledger_service/store.h"

namespace ccbatch::ledger {

// JobStatus values are 0..12.
inline constexpr int kStatusSlots = 13;
using StatusCounts = std::array<int32_t, kStatusSlots>;

// Order ids are "o" + 12 zero-padded digits of a persisted counter, so key
// order in the orders family is creation order, across restarts.
std::string FormatOrderId(uint64_t number);
// 0 when `id` is not one of ours.
uint64_t ParseOrderId(absl::string_view id);

// Timestamps in records; an infinite time gives the empty Timestamp.
google::protobuf::Timestamp TimestampOf(absl::Time time);
// Unix microseconds, 0 for an infinite past (the "unset" of JobRecord).
int64_t MicrosOf(absl::Time time);
absl::Time TimeOfMicros(int64_t micros);

// The key of a line of a cluster's latest snapshot.
std::string EntryKey(absl::string_view cluster, absl::string_view slurm_job_id);
// What QueueSlot::line_hash holds for a line; never 0.
uint64_t LineHash(absl::string_view state, absl::string_view reason,
                  absl::string_view nodes);

// The key of a verdict that matched no job or order, kept for inspection.
std::string UnmatchedVerdictKey(absl::string_view cluster,
                                absl::string_view id);
inline constexpr absl::string_view kUnmatchedVerdictPrefix = "~unmatched/";
// Meta keys owned by the ledger.
inline constexpr absl::string_view kNextOrderKey = "next_order";
// A new database's first order number is drawn from [1, kOrderIdSpace), so
// ids keep their 12 digits for 900 billion orders after it.
inline constexpr uint64_t kOrderIdSpace = 100'000'000'000;
inline constexpr absl::string_view kLastEventSeqKey = "last_event_seq";
// Parts of a cluster's keys (ClusterKey(cluster, part)).
inline constexpr absl::string_view kClusterStatePart = "state";
inline constexpr absl::string_view kClusterEntryPart = "entry/";

enum class OrderKind : uint8_t { kSubmit, kCheck, kCancel };

struct OrderRecord {
  OrderKind kind = OrderKind::kSubmit;
  int32_t job = -1;
  int32_t cluster = -1;
  // The attempt the order is about; 0 for an adoption check.
  int32_t attempt = 0;
  // False only for an order created in this process and never handed to
  // any stream: such an order can still be withdrawn.
  bool maybe_handed = false;
  uint64_t handed_stream = 0;
  absl::Time handed_at = absl::InfinitePast();
  int32_t rehands = 0;
};

struct JobRecord {
  int32_t batch = -1;
  // Index in the batch's job list (batchfile order).
  int32_t position = 0;
  // The cluster whose counts include the job: its attempt's, else its
  // batch's.
  int32_t cluster = -1;
  ccbatch::v1::JobStatus status = ccbatch::v1::JOB_STATUS_UNSPECIFIED;
  // An adoption CheckOutput is outstanding: the job must not be submitted.
  bool adoption_pending = false;
  // Listed in its cluster's `unseen` (see ClusterState).
  bool in_unseen = false;
  // The queue entry's state differs from the stored attempt's
  // last_queue_state (written when the job leaves the queue).
  bool queue_state_unsaved = false;
  bool in_submittable = false;
  // Unix microseconds; 0 when unset.
  int64_t status_since_us = 0;
  int64_t finished_seen_us = 0;
  int64_t recheck_at_us = 0;
  uint64_t last_event_seq = 0;
  // Outstanding orders of the current attempt (or adoption); 0: none.
  uint64_t submit_order = 0;
  uint64_t check_order = 0;
  uint64_t cancel_order = 0;
};

struct BatchState {
  records::StoredBatch record;
  std::vector<int32_t> jobs;
  StatusCounts counts{};
  int32_t cluster = -1;
  // Positions of READY jobs without an outstanding adoption check.
  absl::btree_set<int32_t> submittable;
};

// A SLURM job id a cluster's latest snapshot lists, or that an unsettled
// current attempt holds.
struct QueueSlot {
  // The job whose current attempt has this id; -1 for none (a job outside
  // ccbatch, an earlier attempt, or a job already judged).
  int32_t job = -1;
  // The snapshot (epoch) that last listed the id.
  uint32_t seen_epoch = 0;
  // Hash of (state, reason, nodes) of the id's line in the latest snapshot;
  // 0 when it is not in it. Equal hashes are taken as equal lines (64 bits:
  // a false match is not a practical concern).
  uint64_t line_hash = 0;
  // That line's state is not terminal (it counts against the cap).
  bool queued = false;
  // The line is in the store (EntryKey). Lines that can matter after a
  // restart are stored: ccbatch's unsettled jobs', lines counting against
  // the cap, and lines tagged with an outstanding SubmitOrder (a job id not
  // known yet). The rest (finished jobs of others, jobs already judged)
  // change no status and no count; a restart forgets them until the next
  // snapshot, which saves a write per line per appearance.
  bool stored = false;
};

struct ClusterState {
  std::string name;
  records::ClusterRecord record;
  bool connected = false;
  uint64_t stream = 0;
  absl::Time connection_changed_at = absl::InfinitePast();
  absl::flat_hash_map<std::string, QueueSlot> slots;
  // Slots with a line in the latest snapshot.
  int64_t present = 0;
  // Of those, lines in a non-terminal state.
  int64_t queued = 0;
  // Jobs with a SLURM id that no snapshot taken after their submission has
  // shown yet (JobRecord::in_unseen is the truth; may hold stale entries).
  std::vector<int32_t> unseen;
  StatusCounts counts{};
  std::set<uint64_t> orders;
  // Outstanding orders not yet handed to `stream`.
  std::set<uint64_t> due;
  int64_t unmatched_verdicts = 0;
};

// Job key -> job index: a set of indices hashed by the keys they name in
// the status computer (4 bytes a job rather than a string_view and an int).
// Rebuild after the computer is replaced or its keys move.
class JobKeyIndex {
 public:
  JobKeyIndex();
  JobKeyIndex(const JobKeyIndex&) = delete;
  JobKeyIndex& operator=(const JobKeyIndex&) = delete;

  // The job named `key`; -1 when there is none.
  int Find(absl::string_view key) const;
  bool Contains(absl::string_view key) const { return Find(key) >= 0; }
  void Rebuild(const StatusComputer* computer);
  void Clear();

 private:
  struct Hash {
    using is_transparent = void;
    const JobKeyIndex* index;
    size_t operator()(int32_t job) const;
    size_t operator()(absl::string_view key) const;
  };
  struct Eq {
    using is_transparent = void;
    const JobKeyIndex* index;
    bool operator()(int32_t a, int32_t b) const { return a == b; }
    bool operator()(int32_t job, absl::string_view key) const;
    bool operator()(absl::string_view key, int32_t job) const {
      return (*this)(job, key);
    }
  };
  absl::string_view KeyOf(int32_t job) const;

  const StatusComputer* computer_ = nullptr;
  absl::flat_hash_set<int32_t, Hash, Eq> jobs_;
};

// One mutation in progress (see the file comment).
struct Change {
  explicit Change(absl::Time now) : now(now) {}
  absl::Time now;
  // The first error met while building the change: Commit then writes
  // nothing and rebuilds memory from the store.
  absl::Status error;
  WriteBatch batch;
  bool sync = false;
  bool notify = false;
  std::vector<int> dirty;
  // Attempts read and modified during this change; written by Commit.
  absl::flat_hash_map<int, ccbatch::v1::Attempt> attempts;
  // Definitions written during this change (an import), by job.
  absl::flat_hash_map<int, ccbatch::v1::JobDefinition> definitions;
  absl::flat_hash_set<int> dirty_clusters;
  bool meta_dirty = false;
  // Published in the current round; consumed by follow-ups.
  std::vector<int> became_completing;
  std::vector<int> became_failed;
  // Appended to the reason of the job's next event ("retry by ...").
  absl::flat_hash_map<int, std::string> event_notes;
  // Jobs whose status changed, when the caller answers with them.
  bool collect_changed = false;
  std::vector<int> changed_jobs;
};

class Ledger::Impl {
 public:
  Impl(Store* store, common::Clock* clock, LedgerOptions options);

  absl::Status Open();

  // Client side.
  absl::StatusOr<ccbatch::v1::ImportBatchResponse> ImportBatch(
      const ccbatch::v1::ImportBatchRequest& request);
  absl::StatusOr<ccbatch::v1::BatchInfo> SetPaused(absl::string_view batch,
                                                   bool paused);
  absl::StatusOr<ccbatch::v1::ListJobsResponse> ListJobs(
      const ccbatch::v1::ListJobsRequest& request) const;
  absl::StatusOr<ccbatch::v1::GetJobResponse> GetJob(
      const ccbatch::v1::GetJobRequest& request) const;
  absl::StatusOr<ccbatch::v1::SummaryResponse> Summary(
      const ccbatch::v1::SummaryRequest& request) const;
  absl::StatusOr<ccbatch::v1::RetryResponse> Retry(
      const ccbatch::v1::RetryRequest& request, absl::string_view requested_by);
  absl::StatusOr<ccbatch::v1::CancelResponse> Cancel(
      const ccbatch::v1::CancelRequest& request);
  ccbatch::v1::ListClustersResponse ListClusters() const;
  absl::StatusOr<ccbatch::v1::ExportLedgerResponse> ExportLedger(
      const ccbatch::v1::ExportLedgerRequest& request) const;
  absl::StatusOr<WatchStart> StartWatch(const WatchFilter& filter) const;
  absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> EventsAfter(
      const WatchFilter& filter, uint64_t after_seq, int max_events) const;
  uint64_t LastEventSeq() const;

  // Agent side.
  absl::StatusOr<ccbatch::v1::HelloAck> AgentConnected(
      const ccbatch::v1::Hello& hello, uint64_t stream_id);
  void AgentDisconnected(absl::string_view cluster, uint64_t stream_id);
  absl::Status ApplySnapshot(absl::string_view cluster,
                             const AssembledSnapshot& snapshot);
  absl::Status ApplyProbeFailure(absl::string_view cluster,
                                 const ccbatch::v1::ProbeFailure& failure);
  absl::Status ApplyCheckOutputResult(
      absl::string_view cluster, const ccbatch::v1::CheckOutputResult& result);
  absl::Status ApplySubmitResult(absl::string_view cluster,
                                 const ccbatch::v1::SubmitResult& result);
  absl::Status ApplyCancelResult(absl::string_view cluster,
                                 const ccbatch::v1::CancelResult& result);
  std::vector<ccbatch::v1::LedgerDirective> TakeDirectives(
      absl::string_view cluster, uint64_t stream_id);
  void Tick();

  uint64_t Subscribe(std::function<void()> on_change);
  void Unsubscribe(uint64_t subscription);

 private:
  struct WatchMatcher;

  // ---- Loading (ledger_load.cc) ----
  // Rebuilds all state from the store; on failure leaves an empty, usable
  // state and returns the error.
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadSteps(Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResetState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK, or (after a write failed and memory could not be rebuilt) a retry
  // of Load(): UNAVAILABLE while the store stays broken.
  absl::Status EnsureUsable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Load() after a failed write, keeping the agents' stream bindings.
  void ReloadAfterFailedWrite(const absl::Status& cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds job_by_key_ over the computer's job keys.
  void IndexJobKeys() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- The change pipeline (ledger_commit.cc) ----
  absl::Status Commit(Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(absl::Span<const int> changed, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FollowUps(Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Schedule(Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeRetryAutomatically(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushOverlays(Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AppendEvent(int job, ccbatch::v1::JobStatus from,
                   ccbatch::v1::JobStatus to, std::string reason,
                   Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PutStatusCache(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the job's published status between count tables.
  void CountStatus(int job, ccbatch::v1::JobStatus status, int delta)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetJobCluster(int job, int cluster) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateSubmittable(int job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetRecheck(int job, int64_t at_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The attempt record of the job's current attempt, read once per change.
  absl::StatusOr<ccbatch::v1::Attempt*> MutableAttempt(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the job's attempt overlay (if any) into the change's batch.
  void FlushAttempt(int job, Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ccbatch::v1::JobDefinition> LoadDefinition(
      int job, const Change* change) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<records::StoredJob> LoadStoredJob(int job) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Orders. Each returns the order number.
  absl::Status CreateAttempt(int job, absl::string_view started_because,
                             Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateCheck(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateAdoptionCheck(int job,
                                   const ccbatch::v1::JobDefinition& definition,
                                   Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateCancel(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t AddOrder(OrderKind kind, int job, int cluster, int attempt,
                    ccbatch::v1::LedgerDirective directive, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveOrder(uint64_t order, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets the current attempt's SLURM id binding before a new attempt.
  void DetachAttempt(int job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Agent side helpers (ledger_agent.cc) ----
  int ClusterIndex(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const ClusterState* FindCluster(absl::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void PushClusterFacts(int cluster) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One line of a snapshot; counts in `*listed_before` the lines whose id
  // the previous snapshot listed too.
  void ApplyLine(const ccbatch::v1::QueueEntry& entry, absl::Time taken_at,
                 ClusterState& cluster, int64_t* listed_before, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's line changed (or appeared).
  void LineChanged(int job, const ccbatch::v1::QueueEntry& entry,
                   absl::Time taken_at, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Lines of the previous snapshot missing from this one.
  void SweepMissingLines(absl::Time taken_at, ClusterState& cluster,
                         Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's line left the queue.
  void LineLeft(int job, absl::Time taken_at, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submitted jobs a snapshot taken after their submission does not show.
  void SweepUnseen(absl::Time taken_at, ClusterState& cluster, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The line tags ("ccb:<order id>") a SubmitOrder still outstanding.
  bool TagsOutstandingSubmit(absl::string_view comment) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Judged, or cancelled and acknowledged: its queue line no longer matters.
  bool Settled(int job) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Drops the slot of the job's current SLURM id once it is settled and
  // out of the queue.
  void ReleaseSlotIfSettled(int job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkFinishedSeen(int job, absl::Time at, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Binds the current attempt's new SLURM id; attaches its entry from the
  // latest snapshot or notices that the snapshot already misses it.
  void BindSlurmId(int job, Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AcceptVerdict(int job, int attempt, ccbatch::v1::Verdict verdict,
                             Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AcceptAdoptionAnswer(int job, ccbatch::v1::Verdict verdict,
                            Change& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void KeepUnmatchedVerdict(int cluster, absl::string_view order_id,
                            ccbatch::v1::Verdict verdict, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finds the order `order_id` of `kind` answered from `cluster`; logs and
  // returns nullptr when it is unknown (already answered) or mismatched.
  const OrderRecord* FindAnsweredOrder(absl::string_view cluster,
                                       absl::string_view order_id,
                                       OrderKind kind, uint64_t* number)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Client side helpers (ledger_client.cc) ----
  absl::StatusOr<int> JobIndex(absl::string_view key) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> BatchIndex(absl::string_view name) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Failed/cancelled upstream roots of a BROKEN_DEPENDENCY job.
  std::vector<int> BrokenRoots(int job) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status SetCancelIntent(int job, bool cancelled, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CancelJob(int job, Change& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- Queries (ledger_queries.cc) ----
  ccbatch::v1::JobView ViewOf(int job) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<ccbatch::v1::JobView> ViewsOf(absl::Span<const int> jobs) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  ccbatch::v1::BatchInfo InfoOf(int batch) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  ccbatch::v1::ClusterInfo ClusterInfoOf(const ClusterState& cluster) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> RecentEventsOf(
      int job, int max_events) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckWatchFilter(const WatchFilter& filter) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  void Log(common::LogLevel level, absl::string_view event,
           std::initializer_list<common::LogField> fields = {}) const;
  void Notify();
  // ccbatch_ledger_jobs: jobs per published status over all batches, from
  // the per-batch counts Summary uses.
  std::vector<common::GaugeSample> JobsPerStatus() const;

  absl::string_view KeyOf(int job) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return computer_->facts(job).key;
  }
  // The cluster whose counts include the job; "" when none.
  absl::string_view ClusterNameOf(int job) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    const int32_t cluster = jobs_[job].cluster;
    return cluster < 0 ? absl::string_view() : clusters_[cluster].name;
  }
  const JobFacts& FactsOf(int job) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return computer_->facts(job);
  }

  Store* const store_;
  common::Clock* const clock_;
  const LedgerOptions options_;
  // The log used when options_.log is null.
  std::unique_ptr<common::EventLog> own_log_;
  LedgerCoreMetrics metrics_;

  mutable absl::Mutex mu_;
  std::vector<BatchState> batches_ ABSL_GUARDED_BY(mu_);
  // Name -> index into batches_, in name order (listing order).
  std::map<std::string, int, std::less<>> batch_by_name_ ABSL_GUARDED_BY(mu_);
  std::vector<JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  // Over the computer's job keys; rebuilt whenever it is.
  JobKeyIndex job_by_key_ ABSL_GUARDED_BY(mu_);
  std::optional<StatusComputer> computer_ ABSL_GUARDED_BY(mu_);
  // A deque: references stay valid while clusters are added.
  std::deque<ClusterState> clusters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> cluster_by_name_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, OrderRecord> orders_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_event_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Numbers the snapshots applied (QueueSlot::seen_epoch).
  uint32_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // (time in Unix microseconds, job) of inconclusive checks to repeat.
  absl::btree_set<std::pair<int64_t, int32_t>> rechecks_ ABSL_GUARDED_BY(mu_);
  // Set while Load() runs (a failed write then does not reload again) and
  // when the last reload failed (see EnsureUsable).
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  // The newest events, for watchers that keep up without reading the store.
  std::deque<ccbatch::v1::JobEvent> recent_events_ ABSL_GUARDED_BY(mu_);

  absl::Mutex subscribers_mu_;
  uint64_t next_subscription_ ABSL_GUARDED_BY(subscribers_mu_) = 1;
  std::map<uint64_t, std::shared_ptr<std::function<void()>>> subscribers_
      ABSL_GUARDED_BY(subscribers_mu_);

  // Last, so the collector is gone before the state it reads.
  common::CollectorRegistration jobs_collector_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_LEDGER_IMPL_H_
