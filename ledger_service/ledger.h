// The ledger: owns every fact about jobs in a Store and serves statuses that
// are always derived from those facts (DESIGN §3, §5, §6). This is the core
// the gRPC services (ledger_service/*_service.h) are thin wrappers around;
// it knows nothing of gRPC streams.
//
// Facts flow in through the agent-side methods (snapshots, probe failures,
// verdicts, submit/cancel results) and the client-side mutations (import,
// pause, retry, cancel). After every change the ledger persists the facts in
// one atomic Store write, re-derives the affected jobs (incrementally), runs
// the scheduler, appends status-change events and queues orders for agents.
//
// Orders are durable: an order is stored (sync) before it is handed to a
// stream and stays "outstanding" until its result arrives; every
// outstanding order of a cluster is handed out again on each new stream of
// that cluster (TakeDirectives with a new stream id), so none is lost when an
// agent or the ledger restarts. Results are idempotent: a second result for
// an order already answered is ignored.
//
// Thread-safety: all methods are safe to call concurrently; mutations are
// serialised internally. Subscribers are called without internal locks held.
#ifndef CCBATCH_LEDGER_SERVICE_LEDGER_H_
#define CCBATCH_LEDGER_SERVICE_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/metrics.h"
#include "ledger_service/store.h"

namespace ccbatch::ledger {

struct LedgerOptions {
  // A cluster whose last successful snapshot is older than this makes its
  // jobs UNKNOWN (DESIGN §3).
  absl::Duration staleness = absl::Minutes(5);
  // Per-cluster cap on the user's jobs in the queue (every job of the
  // agent's user in the latest snapshot that is not in a terminal state,
  // including jobs submitted outside ccbatch, plus ccbatch's SUBMITTING and
  // SUBMITTED jobs). Absent or 0: no cap.
  absl::flat_hash_map<std::string, int> cluster_caps;
  // How long to wait before asking again for a verdict the agent answered
  // "inconclusive", or for a CheckOutput that got no answer.
  absl::Duration recheck_interval = absl::Seconds(15);
  // The cluster used for a batch imported without one. Empty: such an
  // import is refused with INVALID_ARGUMENT.
  std::string default_cluster;
  // The ledger's operational log ("result_ignored", "unmatched_verdict",
  // "stream_replaced", ...). Written with internal locks held: its sink must
  // not call back into the ledger. Null: lines go to stderr. Not owned;
  // REQUIRES: outlives the ledger.
  common::EventLog* log = nullptr;
  // Where the ledger's metrics (ledger_metrics.h) are recorded. Null:
  // nowhere exported. Not owned; REQUIRES: outlives the ledger.
  common::MetricsRegistry* metrics = nullptr;
};

// A parsed, fully assembled snapshot of one cluster (the gRPC layer
// assembles chunks).
struct AssembledSnapshot {
  uint64_t seq = 0;
  absl::Time taken_at;
  std::vector<ccbatch::v1::QueueEntry> entries;
  ccbatch::v1::SnapshotDiagnostics diagnostics;
};

// The start of a Watch: the current views of the matching jobs and the
// event sequence number they reflect (changes after it follow).
struct WatchStart {
  std::vector<ccbatch::v1::JobView> current;
  uint64_t after_seq = 0;
};

// Which jobs a watcher wants.
struct WatchFilter {
  std::string batch;                  // empty: all
  std::vector<std::string> job_keys;  // empty: all of the batch
};

class Ledger final {
 public:
  // Opens the ledger over `store`: rebuilds batches, jobs, the dependency
  // graph, attempts, verdicts, cluster snapshots and the per-cluster
  // `slurm job id -> job` index, and derives every status from the facts
  // (never from the stored status cache). REQUIRES: `store` and `clock`
  // outlive the ledger (not owned).
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(Store* store,
                                                      common::Clock* clock,
                                                      LedgerOptions options);
  ~Ledger();

  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // ---- Client side (LedgerService). Errors are canonical absl codes with
  // messages a person can act on (INVALID_ARGUMENT, NOT_FOUND,
  // FAILED_PRECONDITION, ...). ----

  // Validates (common/batch_validator) and stores the batch whole or not at
  // all; queues a CheckOutput (adoption) for every job without an attempt.
  // Nothing of a job is submitted while its adoption check is outstanding;
  // an answer without a final outcome means "nothing to adopt". A
  // re-import adds jobs, updates definitions of jobs without an attempt,
  // keeps (and lists) those already submitted, sets `paused` as requested,
  // and keeps jobs the new batchfile no longer lists (after its jobs).
  // INVALID_ARGUMENT also when kept definitions would close a cycle.
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
  // `requested_by` names the caller in the attempt's started_because.
  // Whole or nothing. A FAILED or CANCELLED job gets a new attempt at once
  // (not bound by max_parallel or the cap: the user asked); a job cancelled
  // before any attempt just has its cancel lifted; a BROKEN_DEPENDENCY job
  // retries the FAILED/CANCELLED jobs upstream that break it. Every job
  // retried must have all its upstream jobs SUCCEEDED (else
  // FAILED_PRECONDITION naming the one that is not). The response lists
  // every job whose status changed, dependants included.
  absl::StatusOr<ccbatch::v1::RetryResponse> Retry(
      const ccbatch::v1::RetryRequest& request, absl::string_view requested_by);
  // A job without an attempt is CANCELLED at once; a queued one gets a
  // CancelOrder (CANCELLED once acknowledged); a SUBMITTING one is withdrawn
  // if no agent has seen its order, else cancelled when its job id arrives.
  // Final jobs (SUCCEEDED, FAILED, BROKEN_DEPENDENCY, CANCELLED):
  // FAILED_PRECONDITION.
  absl::StatusOr<ccbatch::v1::CancelResponse> Cancel(
      const ccbatch::v1::CancelRequest& request);
  ccbatch::v1::ListClustersResponse ListClusters() const;
  absl::StatusOr<ccbatch::v1::ExportLedgerResponse> ExportLedger(
      const ccbatch::v1::ExportLedgerRequest& request) const;

  // Watch support. StartWatch returns the current state; EventsAfter returns
  // up to `max_events` stored events with seq > `after_seq` that match
  // `filter`, in order (from memory or the store's events family, so a
  // client resuming from an old token misses nothing that is stored).
  // An event is a change of status, with the new reason; a reason that
  // changes alone (a pending job's SLURM reason) shows in the views only.
  // A filtered watcher far behind a busy ledger is served from the store:
  // advance `after_seq` to LastEventSeq() read before a call that returned
  // fewer than `max_events`, so nothing is scanned twice.
  // INVALID_ARGUMENT for an unknown batch.
  absl::StatusOr<WatchStart> StartWatch(const WatchFilter& filter) const;
  absl::StatusOr<std::vector<ccbatch::v1::JobEvent>> EventsAfter(
      const WatchFilter& filter, uint64_t after_seq, int max_events) const;
  // The seq of the newest event (0 when none).
  uint64_t LastEventSeq() const;

  // ---- Agent side (AgentService.Connect). `stream_id` is unique per
  // stream; the gRPC layer allocates it. ----

  // Binds a new stream to `hello.cluster()`, replacing (and logging) any
  // previous stream of that cluster. All outstanding orders of the cluster
  // become due again on this stream.
  absl::StatusOr<ccbatch::v1::HelloAck> AgentConnected(
      const ccbatch::v1::Hello& hello, uint64_t stream_id);
  // Marks the cluster disconnected if `stream_id` is still its stream.
  void AgentDisconnected(absl::string_view cluster, uint64_t stream_id);
  // Applies a complete snapshot atomically. A seq at or below the last
  // applied one is ignored (OK). Re-derives only the jobs whose facts
  // changed and their dependants.
  absl::Status ApplySnapshot(absl::string_view cluster,
                             const AssembledSnapshot& snapshot);
  absl::Status ApplyProbeFailure(absl::string_view cluster,
                                 const ccbatch::v1::ProbeFailure& failure);
  // A verdict for an id or order the ledger does not know is kept and
  // reported (log + ListClusters), not dropped and not an error.
  absl::Status ApplyCheckOutputResult(
      absl::string_view cluster, const ccbatch::v1::CheckOutputResult& result);
  absl::Status ApplySubmitResult(absl::string_view cluster,
                                 const ccbatch::v1::SubmitResult& result);
  absl::Status ApplyCancelResult(absl::string_view cluster,
                                 const ccbatch::v1::CancelResult& result);

  // Directives due for the cluster's stream `stream_id`: outstanding orders
  // not yet handed to this stream, in creation order. Empty when
  // `stream_id` is not the cluster's current stream.
  std::vector<ccbatch::v1::LedgerDirective> TakeDirectives(
      absl::string_view cluster, uint64_t stream_id);

  // Time-driven work: staleness flips (UNKNOWN and back), re-asking
  // inconclusive or unanswered CheckOutputs after recheck_interval. The
  // server calls it periodically (e.g. every second); tests call it after
  // advancing a FakeClock.
  void Tick();

  // `on_change` is called (without internal locks) after any change that
  // produced events or directives; watchers and agent streams then pull.
  // Returns an id for Unsubscribe.
  uint64_t Subscribe(std::function<void()> on_change);
  void Unsubscribe(uint64_t subscription);

 private:
  class Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_LEDGER_H_
