// Snapshot sequence numbers that increase across agent restarts without a
// state file: a sequence number is the snapshot's time in microseconds since
// the Unix epoch, bumped past the previous one when the clock stalls or
// steps back. The ledger ignores a sequence number it has already applied,
// so a restarted agent must never reuse or go below one it sent before.
#ifndef CCBATCH_QUEUE_AGENT_SNAPSHOT_SEQUENCER_H_
#define CCBATCH_QUEUE_AGENT_SNAPSHOT_SEQUENCER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ccbatch::agent {

// Thread-safe. Pure apart from its own state: the time is passed in.
class SnapshotSequencer final {
 public:
  // `last_issued`: the highest sequence number known to be used already
  // (0 at a fresh start).
  explicit SnapshotSequencer(uint64_t last_issued = 0);

  // max(last issued + 1, microseconds of `now` since the epoch). Strictly
  // increasing across calls. Across restarts it stays increasing as long
  // as the clock did not step back by more than the restart took; after a
  // larger step AdvancePast() with the ledger's applied sequence restores it.
  uint64_t Next(absl::Time now);

  // Makes every later Next() exceed `seq`, e.g. HelloAck's
  // applied_snapshot_seq after a reconnect. Never lowers the state.
  void AdvancePast(uint64_t seq);

  // The highest number issued or advanced past so far (Hello's
  // last_snapshot_seq).
  uint64_t LastIssued() const;

 private:
  mutable absl::Mutex mu_;
  uint64_t last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SNAPSHOT_SEQUENCER_H_
