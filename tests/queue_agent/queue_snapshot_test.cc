#include "queue_agent/queue_snapshot.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::SizeIs;

v1::QueueEntry Entry(std::string id, std::string state, std::string reason,
                     std::string name, std::string comment, std::string nodes) {
  v1::QueueEntry entry;
  entry.set_slurm_job_id(std::move(id));
  entry.set_state(std::move(state));
  entry.set_reason(std::move(reason));
  entry.set_name(std::move(name));
  entry.set_comment(std::move(comment));
  entry.set_nodes(std::move(nodes));
  return entry;
}

std::vector<v1::QueueEntry> Examples() {
  return {
      Entry("4812", "RUNNING", "None", "water opt", "ccb:o-17", "c041"),
      Entry("4813_7", "PENDING", "Priority", "a|b\tc", "", ""),
      Entry("4814+1", "", "", "", "", ""),
      // Fields of 128 bytes and more take a two-byte length prefix.
      Entry("4815", "COMPLETED", std::string(127, 'r'), std::string(128, 'n'),
            std::string(300, 'c'), std::string(20000, 'x')),
  };
}

TEST(QueueRowTest, EmptyRowIsAnEmptyEntry) {
  const QueueRow row;
  EXPECT_EQ(row.EntryByteSize(), 0u);
  EXPECT_EQ(row.ToEntry().ByteSizeLong(), 0u);
}

TEST(QueueRowTest, RowsRoundTripThroughASnapshot) {
  const std::vector<v1::QueueEntry> entries = Examples();
  const QueueSnapshot snapshot = SnapshotOfEntries(entries);
  ASSERT_THAT(snapshot.entries, SizeIs(entries.size()));
  for (size_t i = 0; i < entries.size(); ++i) {
    const QueueRow& row = snapshot.entries[i];
    EXPECT_EQ(row.slurm_job_id(), entries[i].slurm_job_id());
    EXPECT_EQ(row.state(), entries[i].state());
    EXPECT_EQ(row.reason(), entries[i].reason());
    EXPECT_EQ(row.name(), entries[i].name());
    EXPECT_EQ(row.comment(), entries[i].comment());
    EXPECT_EQ(row.nodes(), entries[i].nodes());
    EXPECT_TRUE(MessageDifferencer::Equals(row.ToEntry(), entries[i])) << i;
  }
}

TEST(QueueRowTest, EntryByteSizeIsTheSerializedSize) {
  for (const QueueRow& row : SnapshotOfEntries(Examples()).entries) {
    EXPECT_EQ(row.EntryByteSize(), row.ToEntry().ByteSizeLong())
        << row.slurm_job_id();
  }
}

TEST(QueueRowTest, FillEntryOnAnArenaLeavesEmptyFieldsUnset) {
  const QueueSnapshot snapshot = SnapshotOfEntries(Examples());
  google::protobuf::Arena arena;
  auto* entry = google::protobuf::Arena::CreateMessage<v1::QueueEntry>(&arena);
  snapshot.entries[2].FillEntry(entry);
  EXPECT_EQ(entry->slurm_job_id(), "4814+1");
  EXPECT_EQ(entry->ByteSizeLong(), snapshot.entries[2].EntryByteSize());
  EXPECT_EQ(entry->GetArena(), &arena);
}

TEST(QueueRowTest, FillEntryFromUtf8GivesTheSameEntryForValidText) {
  const QueueSnapshot snapshot = SnapshotOfEntries(Examples());
  ASSERT_TRUE(snapshot.entries_are_utf8);
  for (const QueueRow& row : snapshot.entries) {
    v1::QueueEntry unchecked;
    row.FillEntryFromUtf8(&unchecked);
    EXPECT_TRUE(MessageDifferencer::Equals(unchecked, row.ToEntry()))
        << row.slurm_job_id();
  }
}

TEST(QueueSnapshotTest, SnapshotOfEntriesKnowsWhetherTheyAreUtf8) {
  std::vector<v1::QueueEntry> entries = Examples();
  EXPECT_TRUE(SnapshotOfEntries(entries).entries_are_utf8);
  // set_name does not check; the wire would refuse this entry.
  entries[1].set_name("caf\xe9");
  const QueueSnapshot snapshot = SnapshotOfEntries(entries);
  EXPECT_FALSE(snapshot.entries_are_utf8);
  EXPECT_EQ(snapshot.entries[1].name(), "caf\xe9");
  EXPECT_EQ(snapshot.entries[1].ToEntry().name(), "caf?");
}

TEST(QueueSnapshotTest, ACopyOutlivesTheOriginal) {
  auto original =
      std::make_unique<QueueSnapshot>(SnapshotOfEntries(Examples()));
  const QueueSnapshot copy = *original;
  original.reset();
  ASSERT_THAT(copy.entries, SizeIs(4));
  EXPECT_EQ(copy.entries[0].name(), "water opt");
  EXPECT_EQ(copy.entries[3].nodes(), std::string(20000, 'x'));
}

TEST(QueueSnapshotTest, SnapshotOfNoEntriesIsEmpty) {
  const QueueSnapshot snapshot = SnapshotOfEntries({});
  EXPECT_THAT(snapshot.entries, SizeIs(0));
  EXPECT_EQ(snapshot.diagnostics.malformed_lines(), 0);
}

// Found by fuzz/squeue_parser_fuzzer: squeue passes users' bytes through,
// and a QueueEntry whose strings are not UTF-8 made the ledger refuse the
// whole snapshot chunk.
TEST(QueueRowTest, FillEntryMakesTextValidUtf8AndKeepsItsSize) {
  const std::string output =
      "4812_[1-2]|R\xff|N\xc3|caf\xe9 run|ccb:o-1 \xe9|c\x80";
  const absl::string_view text = output;
  const QueueRow row(text.substr(0, 10), text.substr(11, 2), text.substr(14, 2),
                     text.substr(17, 8), text.substr(26, 9),
                     text.substr(36, 2));
  const v1::QueueEntry entry = row.ToEntry();
  EXPECT_EQ(entry.state(), "R?");
  EXPECT_EQ(entry.reason(), "N?");
  EXPECT_EQ(entry.name(), "caf? run");
  EXPECT_EQ(entry.comment(), "ccb:o-1 ?");
  EXPECT_EQ(entry.nodes(), "c?");
  EXPECT_EQ(row.name(), "caf\xe9 run");  // the row keeps squeue's bytes
  EXPECT_EQ(row.EntryByteSize(), entry.ByteSizeLong());
  v1::QueueEntry parsed;
  EXPECT_TRUE(parsed.ParseFromString(entry.SerializeAsString()));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, entry));
}

}  // namespace
}  // namespace ccbatch::agent
