#include "ledger_service/snapshot_assembler.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::ccbatch::v1::SnapshotChunk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kTakenAt = 1767225600;  // 2026-01-01T00:00:00Z

// A chunk of snapshot `seq` holding entries named by `ids`.
SnapshotChunk Chunk(uint64_t seq, uint32_t index, bool last,
                    std::vector<std::string> ids, uint64_t total,
                    int64_t taken_at = kTakenAt) {
  SnapshotChunk chunk;
  chunk.set_snapshot_seq(seq);
  chunk.mutable_taken_at()->set_seconds(taken_at);
  chunk.set_chunk_index(index);
  chunk.set_last(last);
  chunk.set_total_entries(total);
  for (const std::string& id : ids) {
    ccbatch::v1::QueueEntry* entry = chunk.add_entries();
    entry->set_slurm_job_id(id);
    entry->set_state("RUNNING");
  }
  return chunk;
}

std::vector<std::string> Ids(const AssembledSnapshot& snapshot) {
  std::vector<std::string> ids;
  for (const auto& entry : snapshot.entries)
    ids.push_back(entry.slurm_job_id());
  return ids;
}

// Feeds chunks that must all be accepted; returns what the last one gave.
std::optional<AssembledSnapshot> FeedAll(SnapshotAssembler& assembler,
                                         std::vector<SnapshotChunk> chunks) {
  std::optional<AssembledSnapshot> result;
  for (SnapshotChunk& chunk : chunks) {
    auto added = assembler.Add(chunk);
    EXPECT_THAT(added, IsOk());
    if (!added.ok()) return std::nullopt;
    result = *std::move(added);
  }
  return result;
}

TEST(SnapshotAssemblerTest, SingleChunkSnapshotCompletesAtOnce) {
  SnapshotAssembler assembler;
  SnapshotChunk chunk = Chunk(7, 0, true, {"1", "2"}, 2);
  chunk.mutable_diagnostics()->set_malformed_lines(3);
  CCB_ASSERT_OK_AND_ASSIGN(std::optional<AssembledSnapshot> snapshot,
                           assembler.Add(chunk));
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->seq, 7u);
  EXPECT_EQ(snapshot->taken_at, absl::FromUnixSeconds(kTakenAt));
  EXPECT_THAT(Ids(*snapshot), ElementsAre("1", "2"));
  EXPECT_EQ(snapshot->diagnostics.malformed_lines(), 3);
  EXPECT_FALSE(assembler.in_progress());
}

TEST(SnapshotAssemblerTest, EmptySnapshotIsOneLastChunk) {
  SnapshotAssembler assembler;
  std::optional<AssembledSnapshot> snapshot =
      FeedAll(assembler, {Chunk(1, 0, true, {}, 0)});
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_TRUE(snapshot->entries.empty());
}

TEST(SnapshotAssemblerTest, ChunksConcatenateInOrderAndCompleteOnLast) {
  SnapshotAssembler assembler;
  SnapshotChunk first = Chunk(5, 0, false, {"10", "11"}, 5);
  CCB_ASSERT_OK_AND_ASSIGN(auto after_first, assembler.Add(first));
  EXPECT_FALSE(after_first.has_value());
  EXPECT_TRUE(assembler.in_progress());
  EXPECT_EQ(assembler.in_progress_seq(), 5u);

  SnapshotChunk second = Chunk(5, 1, false, {"12"}, 5);
  CCB_ASSERT_OK_AND_ASSIGN(auto after_second, assembler.Add(second));
  EXPECT_FALSE(after_second.has_value());

  SnapshotChunk third = Chunk(5, 2, true, {"13", "14_2"}, 5);
  third.mutable_diagnostics()->set_unknown_states(1);
  CCB_ASSERT_OK_AND_ASSIGN(auto done, assembler.Add(third));
  ASSERT_TRUE(done.has_value());
  EXPECT_THAT(Ids(*done), ElementsAre("10", "11", "12", "13", "14_2"));
  EXPECT_EQ(done->diagnostics.unknown_states(), 1);
  EXPECT_FALSE(assembler.in_progress());
  EXPECT_EQ(assembler.in_progress_seq(), 0u);
}

TEST(SnapshotAssemblerTest, NextSnapshotStartsCleanAfterOneCompleted) {
  SnapshotAssembler assembler;
  FeedAll(assembler,
          {Chunk(1, 0, false, {"a"}, 2), Chunk(1, 1, true, {"b"}, 2)});
  std::optional<AssembledSnapshot> second =
      FeedAll(assembler, {Chunk(2, 0, true, {"c"}, 1)});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->seq, 2u);
  EXPECT_THAT(Ids(*second), ElementsAre("c"));
}

TEST(SnapshotAssemblerTest, NewSeqAtChunkZeroDropsTheHalfAssembledOne) {
  SnapshotAssembler assembler;
  FeedAll(assembler, {Chunk(3, 0, false, {"old1"}, 3)});
  std::optional<AssembledSnapshot> snapshot = FeedAll(
      assembler,
      {Chunk(4, 0, false, {"new1"}, 2), Chunk(4, 1, true, {"new2"}, 2)});
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->seq, 4u);
  EXPECT_THAT(Ids(*snapshot), ElementsAre("new1", "new2"));
  EXPECT_EQ(assembler.superseded_count(), 1u);
}

TEST(SnapshotAssemblerTest, ResetDropsTheHalfAssembledSnapshot) {
  SnapshotAssembler assembler;
  FeedAll(assembler, {Chunk(3, 0, false, {"x"}, 2)});
  assembler.Reset();
  EXPECT_FALSE(assembler.in_progress());
  // The rest of the dropped snapshot is now out of order.
  SnapshotChunk rest = Chunk(3, 1, true, {"y"}, 2);
  EXPECT_THAT(assembler.Add(rest),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("chunk 0 of a new snapshot")));
}

struct BadSequenceCase {
  std::string name;
  std::vector<SnapshotChunk> accepted;
  SnapshotChunk rejected;
  absl::StatusCode code;
  std::string message;
};

class SnapshotAssemblerBadSequenceTest
    : public ::testing::TestWithParam<BadSequenceCase> {};

TEST_P(SnapshotAssemblerBadSequenceTest, RejectsAndDropsTheSnapshot) {
  const BadSequenceCase& test = GetParam();
  SnapshotAssembler assembler(
      SnapshotAssemblerLimits{/*max_entries=*/10, /*max_chunks=*/3});
  FeedAll(assembler, test.accepted);
  SnapshotChunk rejected = test.rejected;
  EXPECT_THAT(assembler.Add(rejected),
              StatusIs(test.code, HasSubstr(test.message)));
  EXPECT_FALSE(assembler.in_progress());
  // A fresh snapshot is accepted after the error.
  std::optional<AssembledSnapshot> next =
      FeedAll(assembler, {Chunk(99, 0, true, {"ok"}, 1)});
  ASSERT_TRUE(next.has_value());
  EXPECT_THAT(Ids(*next), ElementsAre("ok"));
}

std::vector<BadSequenceCase> BadSequences() {
  return {
      {"FirstChunkNotZero",
       {},
       Chunk(1, 1, true, {"a"}, 1),
       absl::StatusCode::kInvalidArgument,
       "chunk 0 of a new snapshot"},
      {"SkippedChunk",
       {Chunk(1, 0, false, {"a"}, 3)},
       Chunk(1, 2, true, {"c"}, 3),
       absl::StatusCode::kInvalidArgument,
       "snapshot 1 chunk 2 arrived but chunk 1 was expected"},
      {"RepeatedChunk",
       {Chunk(1, 0, false, {"a"}, 3), Chunk(1, 1, false, {"b"}, 3)},
       Chunk(1, 1, false, {"b"}, 3),
       absl::StatusCode::kInvalidArgument,
       "chunk 1 arrived but chunk 2 was expected"},
      {"NewSeqMidSnapshotNotAtZero",
       {Chunk(1, 0, false, {"a"}, 2)},
       Chunk(2, 1, true, {"b"}, 2),
       absl::StatusCode::kInvalidArgument,
       "chunk 1 of snapshot 1 was expected"},
      {"SeqZero",
       {},
       Chunk(0, 0, true, {}, 0),
       absl::StatusCode::kInvalidArgument,
       "snapshot_seq 0 is reserved"},
      {"TakenAtChanges",
       {Chunk(1, 0, false, {"a"}, 2)},
       Chunk(1, 1, true, {"b"}, 2, kTakenAt + 30),
       absl::StatusCode::kInvalidArgument,
       "differs from chunk 0's"},
      {"TotalChanges",
       {Chunk(1, 0, false, {"a"}, 2)},
       Chunk(1, 1, true, {"b"}, 3),
       absl::StatusCode::kInvalidArgument,
       "total_entries=3 differs"},
      {"FewerEntriesThanAnnounced",
       {Chunk(1, 0, false, {"a"}, 3)},
       Chunk(1, 1, true, {"b"}, 3),
       absl::StatusCode::kInvalidArgument,
       "has 2 entries and announced total_entries=3"},
      {"MoreEntriesThanAnnounced",
       {Chunk(1, 0, false, {"a"}, 2)},
       Chunk(1, 1, false, {"b", "c"}, 2),
       absl::StatusCode::kInvalidArgument,
       "more than its total_entries=2"},
      {"AnnouncedTotalOverLimit",
       {},
       Chunk(1, 0, false, {"a"}, 11),
       absl::StatusCode::kResourceExhausted,
       "exceeds the ledger's limit of 10 entries"},
      {"TooManyChunks",
       {Chunk(1, 0, false, {}, 1), Chunk(1, 1, false, {}, 1),
        Chunk(1, 2, false, {}, 1)},
       Chunk(1, 3, true, {"a"}, 1),
       absl::StatusCode::kResourceExhausted,
       "more than 3 chunks"},
  };
}

INSTANTIATE_TEST_SUITE_P(
    Table, SnapshotAssemblerBadSequenceTest,
    ::testing::ValuesIn(BadSequences()),
    [](const ::testing::TestParamInfo<BadSequenceCase>& info) {
      return info.param.name;
    });

TEST(SnapshotAssemblerTest, MissingTakenAtIsRejected) {
  SnapshotAssembler assembler;
  SnapshotChunk chunk = Chunk(1, 0, true, {}, 0);
  chunk.clear_taken_at();
  EXPECT_THAT(assembler.Add(chunk), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("taken_at is not set")));
}

TEST(SnapshotAssemblerTest, InvalidTakenAtIsRejected) {
  SnapshotAssembler assembler;
  SnapshotChunk chunk = Chunk(1, 0, true, {}, 0);
  chunk.mutable_taken_at()->set_nanos(-5);
  EXPECT_THAT(assembler.Add(chunk),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is not a valid timestamp")));
}

TEST(SnapshotAssemblerTest, EntriesAtExactlyTheLimitAreAccepted) {
  SnapshotAssembler assembler(SnapshotAssemblerLimits{3, 2});
  std::optional<AssembledSnapshot> snapshot =
      FeedAll(assembler,
              {Chunk(1, 0, false, {"a", "b"}, 3), Chunk(1, 1, true, {"c"}, 3)});
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->entries.size(), 3u);
}

TEST(SnapshotAssemblerTest, ManyChunksOfALargeSnapshot) {
  SnapshotAssembler assembler;
  constexpr int kChunks = 50;
  constexpr int kPerChunk = 2000;
  std::optional<AssembledSnapshot> snapshot;
  for (int c = 0; c < kChunks; ++c) {
    std::vector<std::string> ids;
    for (int i = 0; i < kPerChunk; ++i) {
      ids.push_back(absl::StrCat(c * kPerChunk + i));
    }
    SnapshotChunk chunk =
        Chunk(42, c, c == kChunks - 1, ids, kChunks * kPerChunk);
    CCB_ASSERT_OK_AND_ASSIGN(snapshot, assembler.Add(chunk));
    EXPECT_EQ(snapshot.has_value(), c == kChunks - 1);
  }
  ASSERT_TRUE(snapshot.has_value());
  ASSERT_EQ(snapshot->entries.size(), size_t{kChunks * kPerChunk});
  for (int i = 0; i < kChunks * kPerChunk; i += 997) {
    EXPECT_EQ(snapshot->entries[i].slurm_job_id(), absl::StrCat(i));
  }
}

}  // namespace
}  // namespace ccbatch::ledger
