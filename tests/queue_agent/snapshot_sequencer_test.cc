#include "queue_agent/snapshot_sequencer.h"

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

const absl::Time kT = absl::FromUnixSeconds(1796414150);

TEST(SnapshotSequencerTest, SequenceIsTheTimeInMicroseconds) {
  SnapshotSequencer sequencer;
  EXPECT_EQ(sequencer.Next(kT), static_cast<uint64_t>(absl::ToUnixMicros(kT)));
  EXPECT_EQ(sequencer.Next(kT + absl::Seconds(30)),
            static_cast<uint64_t>(absl::ToUnixMicros(kT + absl::Seconds(30))));
}

TEST(SnapshotSequencerTest, IncreasesWhenTheClockStallsOrGoesBack) {
  common::FakeClock clock(kT);
  SnapshotSequencer sequencer;
  std::vector<uint64_t> seqs;
  seqs.push_back(sequencer.Next(clock.Now()));
  seqs.push_back(sequencer.Next(clock.Now()));  // same instant
  clock.Advance(absl::Hours(-1));               // NTP step back
  seqs.push_back(sequencer.Next(clock.Now()));
  clock.Set(absl::UnixEpoch() - absl::Hours(1));  // before the epoch
  seqs.push_back(sequencer.Next(clock.Now()));
  clock.Set(kT + absl::Seconds(5));
  seqs.push_back(sequencer.Next(clock.Now()));
  for (size_t i = 1; i < seqs.size(); ++i) {
    EXPECT_GT(seqs[i], seqs[i - 1]) << i;
  }
  EXPECT_EQ(seqs[1], seqs[0] + 1);
  EXPECT_EQ(seqs[4],
            static_cast<uint64_t>(absl::ToUnixMicros(kT + absl::Seconds(5))));
  EXPECT_EQ(sequencer.LastIssued(), seqs.back());
}

TEST(SnapshotSequencerTest, ARestartedAgentContinuesAbove) {
  SnapshotSequencer before;
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) last = before.Next(kT + absl::Seconds(30 * i));
  // A new process knows nothing but the time, which has moved on.
  SnapshotSequencer after;
  EXPECT_GT(after.Next(kT + absl::Seconds(121)), last);
}

TEST(SnapshotSequencerTest, AdvancePastTheLedgersAppliedSequence) {
  // The clock stepped back by more than the restart took: the ledger's
  // HelloAck restores monotonicity.
  SnapshotSequencer sequencer;
  const uint64_t applied = absl::ToUnixMicros(kT + absl::Hours(2));
  sequencer.AdvancePast(applied);
  EXPECT_EQ(sequencer.LastIssued(), applied);
  EXPECT_GT(sequencer.Next(kT), applied);
  sequencer.AdvancePast(5);  // never lowers
  EXPECT_GT(sequencer.LastIssued(), applied);
}

TEST(SnapshotSequencerTest, StartsAboveAKnownLastIssued) {
  SnapshotSequencer sequencer(/*last_issued=*/absl::ToUnixMicros(kT) + 100);
  EXPECT_EQ(sequencer.Next(kT),
            static_cast<uint64_t>(absl::ToUnixMicros(kT)) + 101);
}

TEST(SnapshotSequencerTest, ConcurrentCallsGetDistinctNumbers) {
  SnapshotSequencer sequencer;
  absl::Mutex mu;
  std::vector<uint64_t> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<uint64_t> mine;
      for (int i = 0; i < 1000; ++i) mine.push_back(sequencer.Next(kT));
      EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
      absl::MutexLock lock(&mu);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), 4000u);
}

}  // namespace
}  // namespace ccbatch::agent
