// The queue_agent runtime (DESIGN §4, §8): probes the queue every interval,
// keeps one AgentService.Connect stream to the ledger, streams snapshots and
// probe failures over it, and carries out the orders that come back.
//
// Threads (all owned, started by Start and joined by Stop):
// - probe loop: one SqueueProbe::Probe per interval; each snapshot is
//   numbered (SnapshotSequencer) and put in the outbox, where it replaces an
//   unsent older one, so a slow or absent ledger never delays probing. A
//   failed probe becomes a ProbeFailure, never an (empty) snapshot. The
//   interval is measured in real time (a timed wait that Stop and ProbeNow
//   cut short); timestamps come from the injected Clock.
// - stream: opens Connect with the bearer token as `authorization` metadata,
//   sends Hello (cluster, user, version, last snapshot seq) first, then the
//   outbox: order answers, the newest snapshot (chunked by ChunkSnapshot),
//   probe failures. After a stream ends it waits (capped exponential backoff
//   with jitter, reset once a stream was acknowledged) and reconnects; every
//   new stream re-sends the latest snapshot.
// - reader (one per stream): HelloAck advances the sequencer past what the
//   ledger applied; orders go to the worker's queue.
// - worker: runs orders one at a time through the OrderExecutor and queues
//   the answers. An order re-sent while the same order id is still queued or
//   running is not queued twice. An answer is kept until written (across
//   reconnects, up to max_waiting_results); one whose write fails with the
//   stream is not written again: the ledger re-sends orders it has not seen
//   answered, and the journal answers a re-sent SubmitOrder without running
//   it twice.
#ifndef CCBATCH_QUEUE_AGENT_AGENT_H_
#define CCBATCH_QUEUE_AGENT_AGENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/metrics.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "queue_agent/agent_outbox.h"
#include "queue_agent/order_executor.h"
#include "queue_agent/queue_view.h"
#include "queue_agent/reconnect_backoff.h"
#include "queue_agent/snapshot_chunker.h"
#include "queue_agent/snapshot_sequencer.h"
#include "queue_agent/squeue_probe.h"

namespace ccbatch::agent {

// Hello.agent_version.
inline constexpr char kAgentVersion[] = "ccbatch-queue_agent/0.1.0";

struct AgentOptions {
  // The cluster the agent speaks for. REQUIRES: non-empty.
  std::string cluster;
  // The Unix user whose jobs it probes. REQUIRES: non-empty.
  std::string user;
  std::string agent_version = kAgentVersion;
  // Time between the end of one probe and the start of the next.
  // REQUIRES: > 0 (main refuses less than 5 s: SLURM sites rate-limit).
  absl::Duration interval = absl::Seconds(30);
  BackoffPolicy reconnect;
  ChunkLimits chunk_limits;
  // Order answers kept while the ledger is unreachable.
  size_t max_waiting_results = 10000;
  // Sent as `authorization: Bearer <token>`; empty sends none.
  std::string bearer_token;
  // Where the agent's metrics (ccbatch_agent_*) are recorded. Null: nowhere
  // exported. Not owned; REQUIRES: outlives the agent.
  common::MetricsRegistry* metrics = nullptr;
};

// What the agent has done, for logs and tests.
struct AgentCounters {
  int64_t probes = 0;
  int64_t probe_failures = 0;
  int64_t snapshots_sent = 0;
  int64_t probe_failures_sent = 0;
  int64_t results_sent = 0;
  int64_t streams_opened = 0;
  int64_t hello_acks = 0;
  int64_t orders_received = 0;
  // Re-sent orders not queued again (same id still queued or running).
  int64_t orders_deduplicated = 0;
  int64_t orders_done = 0;
  // A snapshot is waiting in the outbox (not yet taken by the writer).
  bool snapshot_waiting = false;
  OutboxCounters outbox;
};

// The agent's gRPC channel to `target` ("host:port") with reconnection and
// keepalive settings suited to one long-lived stream.
std::shared_ptr<grpc::Channel> CreateLedgerChannel(
    const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials);

// Thread-safe.
class Agent final : public QueueView {
 public:
  // kInvalidArgument for missing cluster or user, or a non-positive
  // interval. REQUIRES: `probe`, `clock` and `log` outlive the agent; none
  // is owned.
  static absl::StatusOr<std::unique_ptr<Agent>> Create(
      AgentOptions options, std::shared_ptr<grpc::ChannelInterface> channel,
      const SqueueProbe* probe, const common::Clock* clock,
      const common::EventLog* log);

  // Stops the agent.
  ~Agent() override;

  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the threads; the first probe runs at once. REQUIRES: called at
  // most once; `executor` outlives Stop().
  void Start(OrderExecutor* executor);

  // Ends the stream, abandons queued orders (the ledger re-sends orders it
  // has not seen answered) and joins the threads. Returns once an order
  // being run has finished (its processes have timeouts). Idempotent.
  void Stop();

  // Runs the next probe now instead of at the end of the interval.
  void ProbeNow();

  // QueueView.
  std::shared_ptr<const QueueSnapshot> Latest() const override;
  std::shared_ptr<const QueueSnapshot> SnapshotAfter(
      absl::Time not_before, absl::Duration timeout) override;

  AgentCounters counters() const;

  // Waits until `condition` holds for the counters or `timeout` (real time)
  // passes; returns whether it holds.
  bool AwaitCounters(std::function<bool(const AgentCounters&)> condition,
                     absl::Duration timeout) const;

 private:
  using Stream =
      grpc::ClientReaderWriterInterface<v1::AgentMessage, v1::LedgerDirective>;

  Agent(AgentOptions options, std::shared_ptr<grpc::ChannelInterface> channel,
        const SqueueProbe* probe, const common::Clock* clock,
        const common::EventLog* log);

  void ProbeLoop();
  // Runs one squeue probe, timed into the latency histogram.
  ProbeOutcome TimedProbe();
  void Publish(ProbeOutcome outcome);

  void StreamLoop();
  // Runs one stream until it breaks or the agent stops and returns how it
  // ended; `acknowledged` tells whether the ledger answered its Hello (the
  // stream worked, so the backoff restarts).
  grpc::Status RunStream(bool* acknowledged);
  void ReadLoop(Stream* stream);
  bool WriteLoop(Stream* stream);
  bool WriteItem(Stream* stream, OutboxItem item);
  v1::AgentMessage Hello() const;

  void WorkLoop();
  void EnqueueOrder(v1::LedgerDirective directive);
  v1::AgentMessage Execute(const v1::LedgerDirective& directive);

  bool stopping() const;
  AgentCounters CountersLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AgentOptions options_;
  const std::unique_ptr<v1::AgentService::StubInterface> stub_;
  const SqueueProbe* const probe_;
  const common::Clock* const clock_;
  const common::EventLog* const log_;
  // Used when options_.metrics is null.
  std::unique_ptr<common::MetricsRegistry> own_metrics_;
  common::Histogram* const squeue_seconds_;
  common::Counter* const squeue_failures_;
  common::Gauge* const snapshot_entries_;
  common::Counter* const stream_connects_;
  SnapshotSequencer sequencer_;

  // Set by Start; read only by the worker thread afterwards.
  OrderExecutor* executor_ = nullptr;
  std::thread probe_thread_;
  std::thread stream_thread_;
  std::thread worker_thread_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool probe_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const QueueSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  uint64_t latest_seq_ ABSL_GUARDED_BY(mu_) = 0;
  AgentOutbox outbox_ ABSL_GUARDED_BY(mu_);
  // The current stream's context (to cancel it on Stop); nullptr between
  // streams.
  grpc::ClientContext* stream_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool hello_acked_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::LedgerDirective> orders_ ABSL_GUARDED_BY(mu_);
  // Ids of the orders queued or running.
  absl::flat_hash_set<std::string> orders_in_work_ ABSL_GUARDED_BY(mu_);
  AgentCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_AGENT_H_
