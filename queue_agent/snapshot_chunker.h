// Splits a snapshot into SnapshotChunk messages for the Connect stream, each
// far below gRPC's 4 MiB default message limit whatever the queue size.
// Pure: no I/O, no clock.
#ifndef CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_
#define CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ccbatch/v1/agent.pb.h"
#include "queue_agent/queue_snapshot.h"

namespace ccbatch::agent {

struct ChunkLimits {
  // Serialized entries per chunk, at most (one larger entry travels alone).
  size_t max_entry_bytes = size_t{1} << 20;
  // Entries per chunk, at most. REQUIRES: > 0.
  int max_entries = 20000;
};

// Chunks of `snapshot` numbered `snapshot_seq`, in order: chunk_index
// 0, 1, ...; every chunk carries snapshot_seq, taken_at and total_entries;
// only the final one has last = true and the diagnostics. A snapshot with no
// entries is one chunk with last = true. Entries keep their order, so
// concatenating the chunks' entries gives back the snapshot's.
//
// A chunk's serialized size is at most max_entry_bytes plus a few hundred
// bytes of header and diagnostics, unless a single entry is itself larger
// than max_entry_bytes (SLURM caps names and comments far below 1 MiB).
std::vector<v1::SnapshotChunk> ChunkSnapshot(const QueueSnapshot& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits = {});

// As above, but moves the entries out of `snapshot` instead of copying them.
std::vector<v1::SnapshotChunk> ChunkSnapshot(QueueSnapshot&& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits = {});

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_SNAPSHOT_CHUNKER_H_
