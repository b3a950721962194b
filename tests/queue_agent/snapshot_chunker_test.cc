#include "queue_agent/snapshot_chunker.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::SizeIs;

constexpr size_t kGrpcDefaultLimit = size_t{4} << 20;

// A queue of `n` jobs shaped like real ones, with every field set and some
// long names and comments so byte limits, not only entry counts, bite.
std::vector<v1::QueueEntry> MakeEntries(int n) {
  std::vector<v1::QueueEntry> entries(n);
  for (int i = 0; i < n; ++i) {
    v1::QueueEntry& entry = entries[i];
    entry.set_slurm_job_id(i % 5 == 0
                               ? absl::StrCat(480000 + i / 50, "_", i % 50)
                               : absl::StrCat(4900000 + i));
    entry.set_state(i % 3 == 0 ? "PENDING" : "RUNNING");
    entry.set_reason(i % 3 == 0 ? "Priority" : "None");
    if (i % 3 != 0) entry.set_nodes(absl::StrCat("c", i % 400));
    entry.set_comment(absl::StrCat("ccb:order-", i));
    entry.set_name(i % 97 == 0 ? std::string(300, 'n')
                               : absl::StrCat("mol ", i, " | opt"));
  }
  return entries;
}

QueueSnapshot MakeSnapshot(const std::vector<v1::QueueEntry>& entries) {
  QueueSnapshot snapshot = SnapshotOfEntries(entries);
  snapshot.taken_at = absl::FromUnixMicros(1796414150123456);
  snapshot.probe_duration = absl::Milliseconds(830);
  snapshot.diagnostics.set_malformed_lines(2);
  snapshot.diagnostics.add_malformed_samples("line 9: too few fields: \"x\"");
  snapshot.diagnostics.set_unknown_states(1);
  snapshot.diagnostics.set_probe_millis(830);
  return snapshot;
}

QueueSnapshot MakeSnapshot(int n) { return MakeSnapshot(MakeEntries(n)); }

std::vector<v1::QueueEntry> Reassemble(
    const std::vector<v1::SnapshotChunk>& chunks) {
  std::vector<v1::QueueEntry> entries;
  for (const v1::SnapshotChunk& chunk : chunks) {
    entries.insert(entries.end(), chunk.entries().begin(),
                   chunk.entries().end());
  }
  return entries;
}

void ExpectSameEntries(const std::vector<v1::QueueEntry>& actual,
                       const std::vector<v1::QueueEntry>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_TRUE(MessageDifferencer::Equals(actual[i], expected[i]))
        << "entry " << i << ": " << actual[i].ShortDebugString() << " vs "
        << expected[i].ShortDebugString();
  }
}

void ExpectWellFormed(const std::vector<v1::SnapshotChunk>& chunks,
                      uint64_t seq, const QueueSnapshot& snapshot) {
  ASSERT_FALSE(chunks.empty());
  for (size_t i = 0; i < chunks.size(); ++i) {
    const v1::SnapshotChunk& chunk = chunks[i];
    EXPECT_EQ(chunk.snapshot_seq(), seq);
    EXPECT_EQ(chunk.chunk_index(), i);
    EXPECT_EQ(chunk.last(), i + 1 == chunks.size());
    EXPECT_EQ(chunk.total_entries(), snapshot.entries.size());
    EXPECT_EQ(chunk.taken_at().seconds(), 1796414150);
    EXPECT_EQ(chunk.taken_at().nanos(), 123456000);
    EXPECT_EQ(chunk.has_diagnostics(), chunk.last()) << "chunk " << i;
    EXPECT_LT(chunk.ByteSizeLong(), kGrpcDefaultLimit) << "chunk " << i;
  }
  EXPECT_TRUE(MessageDifferencer::Equals(chunks.back().diagnostics(),
                                         snapshot.diagnostics));
}

TEST(SnapshotChunkerTest, HundredThousandEntriesStayUnderFourMebibytes) {
  const QueueSnapshot snapshot = MakeSnapshot(100000);
  const std::vector<v1::SnapshotChunk> chunks =
      ChunkSnapshot(snapshot, /*snapshot_seq=*/77);
  EXPECT_GT(chunks.size(), 1u);
  ExpectWellFormed(chunks, 77, snapshot);
  for (const v1::SnapshotChunk& chunk : chunks) {
    // Default limit: about 1 MiB of entries per chunk.
    EXPECT_LE(chunk.ByteSizeLong(), (size_t{1} << 20) + 1024);
  }
  ExpectSameEntries(Reassemble(chunks), MakeEntries(100000));
}

TEST(SnapshotChunkerTest, MovingGivesTheSameChunksAsCopying) {
  QueueSnapshot snapshot = MakeSnapshot(30000);
  const std::vector<v1::SnapshotChunk> copied = ChunkSnapshot(snapshot, 5);
  const std::vector<v1::SnapshotChunk> moved =
      ChunkSnapshot(std::move(snapshot), 5);
  ASSERT_EQ(copied.size(), moved.size());
  for (size_t i = 0; i < copied.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(copied[i], moved[i])) << i;
  }
}

TEST(SnapshotChunkerTest, EmptySnapshotIsOneLastChunk) {
  QueueSnapshot snapshot;
  snapshot.taken_at = absl::FromUnixMicros(1796414150123456);
  snapshot.diagnostics.set_probe_millis(7);
  const std::vector<v1::SnapshotChunk> chunks = ChunkSnapshot(snapshot, 9);
  ASSERT_THAT(chunks, SizeIs(1));
  EXPECT_TRUE(chunks[0].last());
  EXPECT_EQ(chunks[0].chunk_index(), 0u);
  EXPECT_EQ(chunks[0].total_entries(), 0u);
  EXPECT_EQ(chunks[0].entries_size(), 0);
  EXPECT_EQ(chunks[0].diagnostics().probe_millis(), 7);
  ExpectWellFormed(chunks, 9, snapshot);
}

TEST(SnapshotChunkerTest, EntryCountLimit) {
  const QueueSnapshot snapshot = MakeSnapshot(25);
  ChunkLimits limits;
  limits.max_entries = 10;
  const std::vector<v1::SnapshotChunk> chunks =
      ChunkSnapshot(snapshot, 1, limits);
  ASSERT_THAT(chunks, SizeIs(3));
  EXPECT_EQ(chunks[0].entries_size(), 10);
  EXPECT_EQ(chunks[1].entries_size(), 10);
  EXPECT_EQ(chunks[2].entries_size(), 5);
  ExpectWellFormed(chunks, 1, snapshot);
  ExpectSameEntries(Reassemble(chunks), MakeEntries(25));
}

TEST(SnapshotChunkerTest, ByteLimitAndOversizedEntryTravelsAlone) {
  std::vector<v1::QueueEntry> entries = MakeEntries(40);
  entries[17].set_name(std::string(5000, 'x'));
  const QueueSnapshot snapshot = MakeSnapshot(entries);
  ChunkLimits limits;
  limits.max_entry_bytes = 1000;
  const std::vector<v1::SnapshotChunk> chunks =
      ChunkSnapshot(snapshot, 2, limits);
  bool alone = false;
  for (const v1::SnapshotChunk& chunk : chunks) {
    size_t entry_bytes = 0;
    for (const auto& entry : chunk.entries()) {
      entry_bytes += entry.ByteSizeLong() + 3;
    }
    if (chunk.entries_size() == 1 && chunk.entries(0).name().size() == 5000) {
      alone = true;
    } else {
      EXPECT_LE(entry_bytes, 1000u);
    }
    EXPECT_GT(chunk.entries_size(), 0);
  }
  EXPECT_TRUE(alone);
  ExpectWellFormed(chunks, 2, snapshot);
  ExpectSameEntries(Reassemble(chunks), entries);
}

// What the agent does: one chunk at a time, each on its own arena.
TEST(SnapshotChunkerTest, ChunksBuiltOnArenasEqualTheHeapOnes) {
  const QueueSnapshot snapshot = MakeSnapshot(30000);
  ChunkLimits limits;
  limits.max_entry_bytes = 200000;
  const std::vector<v1::SnapshotChunk> on_heap =
      ChunkSnapshot(snapshot, 3, limits);
  ASSERT_GT(on_heap.size(), 2u);
  SnapshotChunker chunker(snapshot, 3, limits);
  size_t built = 0;
  while (!chunker.done()) {
    ASSERT_LT(built, on_heap.size());
    google::protobuf::Arena arena;
    auto* message =
        google::protobuf::Arena::CreateMessage<v1::AgentMessage>(&arena);
    chunker.Next(message->mutable_snapshot_chunk());
    const v1::SnapshotChunk& chunk = message->snapshot_chunk();
    EXPECT_EQ(chunk.GetArena(), &arena);
    EXPECT_TRUE(MessageDifferencer::Equals(chunk, on_heap[built]))
        << "chunk " << built;
    // What goes on the wire is the same too.
    EXPECT_EQ(chunk.SerializeAsString(), on_heap[built].SerializeAsString());
    ++built;
  }
  EXPECT_EQ(built, on_heap.size());
}

// Chunks must parse on the ledger's side whatever bytes squeue printed.
TEST(SnapshotChunkerTest, ChunksAreValidUtf8WhenTheRowsAreNot) {
  std::vector<v1::QueueEntry> entries = MakeEntries(50);
  entries[7].set_name("caf\xe9 opt");
  entries[8].set_comment("ccb:o-8 \xff");
  const QueueSnapshot snapshot = MakeSnapshot(entries);
  ASSERT_FALSE(snapshot.entries_are_utf8);
  const std::vector<v1::SnapshotChunk> chunks = ChunkSnapshot(snapshot, 1);
  ASSERT_THAT(chunks, SizeIs(1));
  v1::SnapshotChunk parsed;
  ASSERT_TRUE(parsed.ParseFromString(chunks[0].SerializeAsString()));
  EXPECT_EQ(parsed.entries(7).name(), "caf? opt");
  EXPECT_EQ(parsed.entries(8).comment(), "ccb:o-8 ?");
}

// With every field known to be UTF-8 the chunker skips the per-field check;
// the chunks are the same as with it.
TEST(SnapshotChunkerTest, KnownUtf8RowsGiveTheSameChunks) {
  QueueSnapshot snapshot = MakeSnapshot(3000);
  ASSERT_TRUE(snapshot.entries_are_utf8);
  const std::vector<v1::SnapshotChunk> unchecked = ChunkSnapshot(snapshot, 6);
  snapshot.entries_are_utf8 = false;
  const std::vector<v1::SnapshotChunk> checked = ChunkSnapshot(snapshot, 6);
  ASSERT_EQ(unchecked.size(), checked.size());
  for (size_t i = 0; i < checked.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(unchecked[i], checked[i])) << i;
  }
}

TEST(SnapshotChunkerTest, ChunkerOverAnEmptySnapshotBuildsOneChunk) {
  QueueSnapshot snapshot;
  SnapshotChunker chunker(snapshot, 4);
  ASSERT_FALSE(chunker.done());
  v1::SnapshotChunk chunk;
  chunker.Next(&chunk);
  EXPECT_TRUE(chunker.done());
  EXPECT_TRUE(chunk.last());
  EXPECT_EQ(chunk.snapshot_seq(), 4u);
  EXPECT_TRUE(chunk.has_diagnostics());
}

// The byte limit is computed from the rows without building messages; it
// must agree with protobuf's own sizes, including varint length prefixes of
// two bytes and more.
TEST(SnapshotChunkerTest, ByteLimitMatchesSerializedSizes) {
  std::vector<v1::QueueEntry> entries = MakeEntries(200);
  for (int i = 0; i < 200; i += 7) {
    entries[i].set_comment(std::string(100 + i * 3, 'c'));
  }
  entries[50].set_name(std::string(20000, 'n'));
  const QueueSnapshot snapshot = MakeSnapshot(entries);
  for (size_t limit : {size_t{500}, size_t{4096}, size_t{30000}}) {
    ChunkLimits limits;
    limits.max_entry_bytes = limit;
    const std::vector<v1::SnapshotChunk> chunks =
        ChunkSnapshot(snapshot, 1, limits);
    size_t start = 0;
    for (const v1::SnapshotChunk& chunk : chunks) {
      v1::SnapshotChunk entries_only;
      *entries_only.mutable_entries() = chunk.entries();
      const size_t bytes = entries_only.ByteSizeLong();
      if (chunk.entries_size() > 1) {
        EXPECT_LE(bytes, limit);
      }
      // Full: the next entry would not have fitted.
      const size_t next = start + chunk.entries_size();
      if (next < entries.size() && !chunk.last()) {
        v1::SnapshotChunk with_next = entries_only;
        *with_next.add_entries() = entries[next];
        EXPECT_GT(with_next.ByteSizeLong(), limit) << "chunk ends early";
      }
      start = next;
    }
    EXPECT_EQ(start, entries.size());
  }
}

}  // namespace
}  // namespace ccbatch::agent
