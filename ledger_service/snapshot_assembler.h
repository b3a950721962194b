// Reassembles the SnapshotChunk messages of one agent stream into whole
// snapshots (DESIGN §4): the ledger applies a snapshot only when its last
// chunk has arrived, so a snapshot cut off by a broken stream never
// reaches it. Pure: no I/O, no clock.
//
// The protocol it enforces, per stream:
//  - a snapshot starts with chunk_index 0 and continues with 1, 2, ... in
//    order; every chunk repeats the snapshot's seq, taken_at and
//    total_entries; the chunk with `last` set completes it;
//  - seq is never 0 (agents number snapshots from their clock, DESIGN §4)
//    and taken_at is set and valid;
//  - a chunk 0 with a new seq while another snapshot is half-assembled
//    drops the half one (the agent gave up on it; the new one supersedes it);
//  - the entries received equal total_entries when the last chunk arrives.
// Limits keep one stream from holding unbounded memory: at most
// `max_entries` entries and `max_chunks` chunks per snapshot.
//
// Any violation drops the half-assembled snapshot and returns
// INVALID_ARGUMENT (protocol) or RESOURCE_EXHAUSTED (limits) with the seq,
// chunk index and what was expected; the next snapshot starts clean.
//
// Thread-compatible: one instance per stream, used by one thread at a time.
#ifndef CCBATCH_LEDGER_SERVICE_SNAPSHOT_ASSEMBLER_H_
#define CCBATCH_LEDGER_SERVICE_SNAPSHOT_ASSEMBLER_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ccbatch/v1/agent.pb.h"
#include "ledger_service/ledger.h"

namespace ccbatch::ledger {

struct SnapshotAssemblerLimits {
  // Entries per snapshot, at most. A lab queue is thousands; 2,000,000 is
  // far past any SLURM's MaxJobCount default (10,000) yet bounded.
  uint64_t max_entries = 2'000'000;
  // Chunks per snapshot, at most.
  uint32_t max_chunks = 10'000;
};

class SnapshotAssembler final {
 public:
  explicit SnapshotAssembler(SnapshotAssemblerLimits limits = {});

  SnapshotAssembler(const SnapshotAssembler&) = delete;
  SnapshotAssembler& operator=(const SnapshotAssembler&) = delete;

  // Adds the next chunk (its entries are moved out). Returns the whole
  // snapshot when `chunk` is the last one, nullopt while more are expected,
  // or an error as described above.
  absl::StatusOr<std::optional<AssembledSnapshot>> Add(
      ccbatch::v1::SnapshotChunk& chunk);

  // Drops a half-assembled snapshot, if any (the stream ended).
  void Reset();

  // True while a snapshot has started and its last chunk has not arrived.
  bool in_progress() const { return in_progress_; }
  // The seq of the half-assembled snapshot; 0 when none.
  uint64_t in_progress_seq() const { return in_progress_ ? current_.seq : 0; }
  // Half-assembled snapshots dropped so far because a new one started.
  uint64_t superseded_count() const { return superseded_count_; }

 private:
  absl::Status Start(const ccbatch::v1::SnapshotChunk& chunk);
  absl::Status CheckContinuation(const ccbatch::v1::SnapshotChunk& chunk) const;
  absl::Status Append(ccbatch::v1::SnapshotChunk& chunk);
  // Returns `error` after dropping the half-assembled snapshot.
  absl::Status Fail(absl::Status error);

  const SnapshotAssemblerLimits limits_;
  bool in_progress_ = false;
  AssembledSnapshot current_;
  uint64_t total_entries_ = 0;
  uint32_t next_chunk_index_ = 0;
  uint64_t superseded_count_ = 0;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_SNAPSHOT_ASSEMBLER_H_
