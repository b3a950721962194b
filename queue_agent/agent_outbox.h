// What waits to be sent to the ledger on the Connect stream. Bounded, and
// built so that probing never waits for a slow or absent ledger: an unsent
// snapshot is replaced by a newer one (an old snapshot is worth nothing once
// a newer exists), an unsent probe failure by a newer probe outcome, and
// order answers are capped (the ledger re-sends orders it has not seen
// answered, and the journal answers those without running them twice).
#ifndef CCBATCH_QUEUE_AGENT_AGENT_OUTBOX_H_
#define CCBATCH_QUEUE_AGENT_AGENT_OUTBOX_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <variant>

#include "ccbatch/v1/agent.pb.h"
#include "queue_agent/queue_snapshot.h"

namespace ccbatch::agent {

// A snapshot and the sequence number it was given when probed.
struct NumberedSnapshot {
  std::shared_ptr<const QueueSnapshot> snapshot;
  uint64_t seq = 0;
};

// One thing to send: a whole snapshot (chunked when written), a probe
// failure, or an order's answer (an AgentMessage holding a result).
using OutboxItem =
    std::variant<NumberedSnapshot, v1::ProbeFailure, v1::AgentMessage>;

struct OutboxCounters {
  // Unsent snapshots replaced by a newer one.
  int64_t snapshots_superseded = 0;
  // Unsent probe failures replaced by a newer probe outcome.
  int64_t failures_superseded = 0;
  // Answers dropped because `max_results` were waiting.
  int64_t results_dropped = 0;
};

// Thread-compatible: the agent guards it with its own mutex (so its writer
// can wait for "something to send or the stream broke" on one condition).
class AgentOutbox final {
 public:
  // REQUIRES: max_results > 0.
  explicit AgentOutbox(size_t max_results = 10000);

  // Queues a snapshot unless one with a higher or equal seq is already
  // waiting; replaces an older waiting snapshot and drops a waiting probe
  // failure (the snapshot is newer news).
  void PutSnapshot(NumberedSnapshot snapshot);
  // Queues a probe failure, replacing a waiting one. A waiting snapshot
  // stays: it is still the newest view of the queue, and is sent first.
  void PutProbeFailure(v1::ProbeFailure failure);
  // Queues an order's answer; past `max_results` the oldest is dropped.
  void PutResult(v1::AgentMessage result);

  // The next item: answers first (oldest first, they unblock the ledger's
  // scheduling), then the snapshot, then the probe failure. nullopt when
  // nothing waits.
  std::optional<OutboxItem> Take();

  bool empty() const;
  // True if a snapshot is waiting.
  bool has_snapshot() const { return snapshot_.has_value(); }
  size_t results_waiting() const { return results_.size(); }
  const OutboxCounters& counters() const { return counters_; }

 private:
  const size_t max_results_;
  std::deque<v1::AgentMessage> results_;
  std::optional<NumberedSnapshot> snapshot_;
  std::optional<v1::ProbeFailure> failure_;
  OutboxCounters counters_;
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_AGENT_OUTBOX_H_
