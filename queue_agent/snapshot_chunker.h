// Splits a snapshot into SnapshotChunk messages for the Connect stream, each
// far below gRPC's 4 MiB default message limit whatever the queue size.
// Pure: no I/O, no clock.
//
// The chunks are where a snapshot's QueueEntry messages are built, once,
// from its rows (queue_snapshot.h). SnapshotChunker builds one chunk at a
// time into a message the caller provides, so the agent can build each
// straight into the AgentMessage it sends, on a google::protobuf::Arena:
// protobuf 3.21 then bump-allocates the entries and their strings instead
// of calling malloc for each, and frees the chunk at once (almost 4 times
// faster for 100,000 entries; docs/PERFORMANCE.md).
#ifndef CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_
#define CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ccbatch/v1/agent.pb.h"
#include "google/protobuf/arena.h"
#include "queue_agent/queue_snapshot.h"

namespace ccbatch::agent {

struct ChunkLimits {
  // Serialized entries per chunk, at most (one larger entry travels alone).
  size_t max_entry_bytes = size_t{1} << 20;
  // Entries per chunk, at most. REQUIRES: > 0.
  int max_entries = 20000;
};

// The chunks of one snapshot numbered `snapshot_seq`, in order: chunk_index
// 0, 1, ...; every chunk carries snapshot_seq, taken_at and total_entries;
// only the final one has last = true and the diagnostics. A snapshot with no
// entries is one chunk with last = true. Entries keep their order, so
// concatenating the chunks' entries gives back the snapshot's.
//
// A chunk's serialized size is at most max_entry_bytes plus a few hundred
// bytes of header and diagnostics, unless a single entry is itself larger
// than max_entry_bytes (SLURM caps names and comments far below 1 MiB).
//
// Thread-compatible. REQUIRES: `snapshot` outlives the chunker and does not
// change meanwhile.
class SnapshotChunker final {
 public:
  SnapshotChunker(const QueueSnapshot& snapshot, uint64_t snapshot_seq,
                  const ChunkLimits& limits = {});

  SnapshotChunker(const SnapshotChunker&) = delete;
  SnapshotChunker& operator=(const SnapshotChunker&) = delete;

  // True once the last chunk has been built.
  bool done() const { return done_; }

  // Builds the next chunk into `chunk`, which may live on an arena (the
  // entries are then allocated there too). REQUIRES: !done(); `chunk` is
  // empty.
  void Next(v1::SnapshotChunk* chunk);

 private:
  const QueueSnapshot& snapshot_;
  const uint64_t snapshot_seq_;
  const ChunkLimits limits_;
  size_t next_entry_ = 0;
  uint32_t next_index_ = 0;
  bool done_ = false;
};

// Options for an arena that holds one chunk: blocks up to 64 KiB instead of
// protobuf's 8 KiB, as a chunk of the default size takes megabytes (fewer
// mallocs; chunking measured about a tenth faster).
google::protobuf::ArenaOptions ChunkArenaOptions();

// All chunks of `snapshot` at once, as heap messages (see SnapshotChunker
// for what they hold). Convenient for small snapshots and tests; for large
// ones SnapshotChunker on an arena is much faster.
std::vector<v1::SnapshotChunk> ChunkSnapshot(const QueueSnapshot& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits = {});

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_
