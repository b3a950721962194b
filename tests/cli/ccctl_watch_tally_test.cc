// WatchTally: folding the Watch stream into live counts.
#include <string>

#include "cli/watch_tally.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/ledger_fixture.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::cli::testing::At;

v1::WatchResponse Current(const std::string& key, v1::JobStatus status) {
  v1::WatchResponse response;
  response.mutable_current()->set_key(key);
  response.mutable_current()->set_batch(key.substr(0, key.find('/')));
  response.mutable_current()->set_status(status);
  return response;
}

v1::WatchResponse Done() {
  v1::WatchResponse response;
  response.set_initial_state_done(true);
  return response;
}

v1::WatchResponse Change(const std::string& key, v1::JobStatus from,
                         v1::JobStatus to) {
  v1::WatchResponse response;
  response.mutable_change()->set_job_key(key);
  response.mutable_change()->set_from_status(from);
  response.mutable_change()->set_to_status(to);
  *response.mutable_change()->mutable_at() = At(12, 0, 0);
  return response;
}

v1::SummaryResponse OneBatch() {
  v1::SummaryResponse summary;
  v1::BatchSummary& batch = *summary.add_batches();
  batch.mutable_batch()->set_name("b");
  batch.mutable_batch()->set_max_parallel(2);
  // Stale counts: the stream's state replaces them.
  batch.set_total(99);
  return summary;
}

TEST(WatchTallyTest, NotFinalBeforeTheInitialStateIsComplete) {
  WatchTally tally(OneBatch());
  tally.Apply(Current("b/x", v1::JOB_STATUS_SUCCEEDED));
  EXPECT_FALSE(tally.AllFinal());
  tally.Apply(Done());
  EXPECT_TRUE(tally.AllFinal());
}

TEST(WatchTallyTest, CountsFollowChanges) {
  WatchTally tally(OneBatch());
  tally.Apply(Current("b/x", v1::JOB_STATUS_RUNNING));
  tally.Apply(Current("b/y", v1::JOB_STATUS_WAITING));
  tally.Apply(Done());
  EXPECT_FALSE(tally.AllFinal());
  tally.Apply(Change("b/x", v1::JOB_STATUS_RUNNING, v1::JOB_STATUS_FAILED));
  tally.Apply(
      Change("b/y", v1::JOB_STATUS_WAITING, v1::JOB_STATUS_BROKEN_DEPENDENCY));
  EXPECT_TRUE(tally.AllFinal());
  const v1::SummaryResponse summary = tally.Summary();
  ASSERT_EQ(summary.batches_size(), 1);
  const v1::BatchSummary& batch = summary.batches(0);
  EXPECT_EQ(batch.batch().max_parallel(), 2);  // settings kept
  EXPECT_EQ(batch.total(), 2);
  EXPECT_EQ(batch.final(), 2);
  ASSERT_EQ(batch.counts_size(), 2);
  EXPECT_EQ(batch.counts(0).status(), v1::JOB_STATUS_FAILED);  // enum order
  EXPECT_EQ(batch.counts(1).status(), v1::JOB_STATUS_BROKEN_DEPENDENCY);
  EXPECT_EQ(tally.recent_changes().size(), 2u);
}

TEST(WatchTallyTest, ARetryMakesTheBatchLiveAgain) {
  WatchTally tally(OneBatch());
  tally.Apply(Current("b/x", v1::JOB_STATUS_FAILED));
  tally.Apply(Done());
  EXPECT_TRUE(tally.AllFinal());
  tally.Apply(Change("b/x", v1::JOB_STATUS_FAILED, v1::JOB_STATUS_READY));
  EXPECT_FALSE(tally.AllFinal());
}

TEST(WatchTallyTest, JobsOfNewBatchesAppear) {
  WatchTally tally(OneBatch());
  tally.Apply(Done());
  tally.Apply(
      Change("late/z", v1::JOB_STATUS_UNSPECIFIED, v1::JOB_STATUS_WAITING));
  const v1::SummaryResponse summary = tally.Summary();
  ASSERT_EQ(summary.batches_size(), 2);
  EXPECT_EQ(summary.batches(1).batch().name(), "late");
  EXPECT_EQ(summary.batches(1).total(), 1);
  EXPECT_EQ(summary.batches(0).total(), 0);
}

TEST(WatchTallyTest, NothingToWatchIsFinal) {
  WatchTally tally(OneBatch());
  tally.Apply(Done());
  EXPECT_TRUE(tally.AllFinal());
}

TEST(WatchTallyTest, KeepsOnlyTheLastChanges) {
  WatchTally tally(OneBatch());
  tally.Apply(Done());
  for (int i = 0; i < 20; ++i) {
    tally.Apply(Change("b/j" + std::to_string(i), v1::JOB_STATUS_READY,
                       v1::JOB_STATUS_SUBMITTING));
  }
  ASSERT_EQ(tally.recent_changes().size(), 8u);
  EXPECT_EQ(tally.recent_changes().back().job_key(), "b/j19");
  EXPECT_EQ(tally.recent_changes().front().job_key(), "b/j12");
}

TEST(WatchTallyTest, ChangeLine) {
  RenderOptions options;
  v1::WatchResponse change =
      Change("b/x", v1::JOB_STATUS_RUNNING, v1::JOB_STATUS_SUCCEEDED);
  change.mutable_change()->set_reason("SUCCEEDED: verdict on slurm job 7");
  EXPECT_EQ(RenderChangeLine(change.change(), options),
            "2026-01-01 12:00:00 UTC  b/x  running -> succeeded  verdict on "
            "slurm job 7\n");
}

}  // namespace
}  // namespace ccbatch::cli
