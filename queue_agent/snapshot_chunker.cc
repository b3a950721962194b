#include "queue_agent/snapshot_chunker.h"

#include <utility>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"

namespace ccbatch::agent {
namespace {

// Bytes `entry` adds to a chunk: its tag, length prefix and body.
size_t WireSize(const v1::QueueEntry& entry) {
  const size_t body = entry.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

v1::SnapshotChunk NewChunk(const QueueSnapshot& snapshot, uint64_t seq,
                           uint32_t index) {
  v1::SnapshotChunk chunk;
  chunk.set_snapshot_seq(seq);
  *chunk.mutable_taken_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(snapshot.taken_at));
  chunk.set_chunk_index(index);
  chunk.set_total_entries(snapshot.entries.size());
  return chunk;
}

// `take(entry, chunk)` adds one entry to a chunk, by copy or by move.
template <typename Take>
std::vector<v1::SnapshotChunk> Chunk(const QueueSnapshot& snapshot,
                                     uint64_t seq, const ChunkLimits& limits,
                                     Take take) {
  std::vector<v1::SnapshotChunk> chunks;
  chunks.push_back(NewChunk(snapshot, seq, 0));
  size_t bytes = 0;
  for (size_t i = 0; i < snapshot.entries.size(); ++i) {
    const size_t size = WireSize(snapshot.entries[i]);
    v1::SnapshotChunk* current = &chunks.back();
    const bool full = current->entries_size() >= limits.max_entries ||
                      bytes + size > limits.max_entry_bytes;
    if (current->entries_size() > 0 && full) {
      chunks.push_back(NewChunk(snapshot, seq, chunks.size()));
      current = &chunks.back();
      bytes = 0;
    }
    take(i, *current);
    bytes += size;
  }
  chunks.back().set_last(true);
  *chunks.back().mutable_diagnostics() = snapshot.diagnostics;
  return chunks;
}

}  // namespace

std::vector<v1::SnapshotChunk> ChunkSnapshot(const QueueSnapshot& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits) {
  return Chunk(snapshot, snapshot_seq, limits,
               [&snapshot](size_t i, v1::SnapshotChunk& chunk) {
                 *chunk.add_entries() = snapshot.entries[i];
               });
}

std::vector<v1::SnapshotChunk> ChunkSnapshot(QueueSnapshot&& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits) {
  return Chunk(snapshot, snapshot_seq, limits,
               [&snapshot](size_t i, v1::SnapshotChunk& chunk) {
                 *chunk.add_entries() = std::move(snapshot.entries[i]);
               });
}

}  // namespace ccbatch::agent
