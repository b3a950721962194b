#include "queue_agent/snapshot_chunker.h"

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/util/time_util.h"

namespace ccbatch::agent {
namespace {

// Bytes `row` adds to a chunk as an entry: its tag, length prefix and body.
size_t WireSize(const QueueRow& row) {
  const size_t body = row.EntryByteSize();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

}  // namespace

SnapshotChunker::SnapshotChunker(const QueueSnapshot& snapshot,
                                 uint64_t snapshot_seq,
                                 const ChunkLimits& limits)
    : snapshot_(snapshot), snapshot_seq_(snapshot_seq), limits_(limits) {}

void SnapshotChunker::Next(v1::SnapshotChunk* chunk) {
  const std::vector<QueueRow>& rows = snapshot_.entries;
  chunk->set_snapshot_seq(snapshot_seq_);
  *chunk->mutable_taken_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(snapshot_.taken_at));
  chunk->set_chunk_index(next_index_++);
  chunk->set_total_entries(rows.size());
  size_t bytes = 0;
  int count = 0;
  for (; next_entry_ < rows.size(); ++next_entry_) {
    const QueueRow& row = rows[next_entry_];
    const size_t size = WireSize(row);
    const bool full =
        count >= limits_.max_entries || bytes + size > limits_.max_entry_bytes;
    if (count > 0 && full) break;
    if (snapshot_.entries_are_utf8) {
      row.FillEntryFromUtf8(chunk->add_entries());
    } else {
      row.FillEntry(chunk->add_entries());
    }
    bytes += size;
    ++count;
  }
  if (next_entry_ == rows.size()) {
    chunk->set_last(true);
    *chunk->mutable_diagnostics() = snapshot_.diagnostics;
    done_ = true;
  }
}

google::protobuf::ArenaOptions ChunkArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = size_t{8} << 10;
  options.max_block_size = size_t{64} << 10;
  return options;
}

std::vector<v1::SnapshotChunk> ChunkSnapshot(const QueueSnapshot& snapshot,
                                             uint64_t snapshot_seq,
                                             const ChunkLimits& limits) {
  std::vector<v1::SnapshotChunk> chunks;
  SnapshotChunker chunker(snapshot, snapshot_seq, limits);
  while (!chunker.done()) chunker.Next(&chunks.emplace_back());
  return chunks;
}

}  // namespace ccbatch::agent
