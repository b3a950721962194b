// The scheduler's pure decisions as tables.
#include "ledger_service/scheduler.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ccbatch/v1/job.pb.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::ccbatch::v1::JobStatus;
using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

TEST(SchedulerTest, SlotsAndFinalStatuses) {
  struct Row {
    JobStatus status;
    bool occupies;
    bool final;
  };
  const Row rows[] = {
      {ccbatch::v1::JOB_STATUS_WAITING, false, false},
      {ccbatch::v1::JOB_STATUS_READY, false, false},
      {ccbatch::v1::JOB_STATUS_SUBMITTING, true, false},
      {ccbatch::v1::JOB_STATUS_SUBMITTED, true, false},
      {ccbatch::v1::JOB_STATUS_PENDING, true, false},
      {ccbatch::v1::JOB_STATUS_RUNNING, true, false},
      {ccbatch::v1::JOB_STATUS_COMPLETING, true, false},
      {ccbatch::v1::JOB_STATUS_SUCCEEDED, false, true},
      {ccbatch::v1::JOB_STATUS_FAILED, false, true},
      {ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY, false, true},
      {ccbatch::v1::JOB_STATUS_CANCELLED, false, true},
      {ccbatch::v1::JOB_STATUS_UNKNOWN, true, false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(OccupiesSlot(row.status), row.occupies)
        << JobStatusName(row.status);
    EXPECT_EQ(IsFinal(row.status), row.final) << JobStatusName(row.status);
  }
}

TEST(SchedulerTest, Rooms) {
  struct Row {
    bool paused;
    int64_t max_parallel;
    int64_t active;
    std::optional<int64_t> room;
  };
  const Row rows[] = {
      {false, 0, 7, std::nullopt},  // no limit
      {false, 4, 1, 3},
      {false, 4, 4, 0},
      {false, 4, 6, 0},  // over (e.g. after a retry): never negative
      {true, 0, 0, 0},   // paused
      {true, 4, 0, 0},
  };
  for (const Row& row : rows) {
    BatchLoad load;
    load.paused = row.paused;
    load.max_parallel = row.max_parallel;
    load.active = row.active;
    EXPECT_EQ(BatchRoom(load), row.room)
        << row.paused << " " << row.max_parallel << " " << row.active;
  }
  EXPECT_EQ(ClusterRoom(ClusterLoad{0, 99}), std::nullopt);
  EXPECT_EQ(ClusterRoom(ClusterLoad{10, 3}), 7);
  EXPECT_EQ(ClusterRoom(ClusterLoad{10, 12}), 0);
}

struct PlanRow {
  std::string name;
  std::vector<BatchLoad> batches;
  std::vector<ClusterLoad> clusters;
  std::vector<int> expected;
};

TEST(SchedulerTest, PlanSubmissions) {
  const std::vector<int> a = {1, 2, 3, 4};
  const std::vector<int> b = {10, 11, 12};
  const std::vector<int> none;
  const std::vector<PlanRow> rows = {
      {"unlimited takes all, batches in order",
       {{false, 0, 0, 0, a}, {false, 0, 0, 0, b}},
       {{0, 0}},
       {1, 2, 3, 4, 10, 11, 12}},
      {"max_parallel counts active jobs",
       {{false, 3, 1, 0, a}},
       {{0, 0}},
       {1, 2}},
      {"a full batch submits nothing",
       {{false, 2, 2, 0, a}, {false, 1, 0, 0, b}},
       {{0, 0}},
       {10}},
      {"paused batch submits nothing",
       {{true, 0, 0, 0, a}, {false, 0, 0, 0, b}},
       {{0, 0}},
       {10, 11, 12}},
      {"the cap is shared by the batches on a cluster",
       {{false, 0, 0, 0, a}, {false, 0, 0, 0, b}},
       {{5, 2}},
       {1, 2, 3}},
      {"a capped cluster does not limit another",
       {{false, 0, 0, 0, a}, {false, 2, 0, 1, b}},
       {{2, 0}, {0, 40}},
       {1, 2, 10, 11}},
      {"a full cluster submits nothing", {{false, 0, 0, 0, a}}, {{3, 3}}, {}},
      {"batch room and cluster room: the smaller wins",
       {{false, 3, 0, 0, a}},
       {{2, 0}},
       {1, 2}},
      {"no ready jobs", {{false, 0, 0, 0, none}}, {{0, 0}}, {}},
  };
  for (const PlanRow& row : rows) {
    EXPECT_THAT(PlanSubmissions(row.batches, row.clusters),
                ElementsAreArray(row.expected))
        << row.name;
  }
}

TEST(SchedulerTest, AutomaticRetryPolicy) {
  ccbatch::v1::RetryPolicy policy;
  policy.add_retry_on("NODE_FAIL");
  policy.add_retry_on("PREEMPTED");
  policy.set_max_attempts(3);
  struct Row {
    int attempt;
    std::string cause;
    bool retry;
  };
  const Row rows[] = {
      {1, "NODE_FAIL", true},  {2, "PREEMPTED", true},
      {3, "NODE_FAIL", false},  // the third attempt was the last
      {1, "scf_fail", false},   // chemistry: not listed
      {1, "node_fail", false},  // exact match only
      {1, "", false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(ShouldRetryAutomatically(policy, row.attempt, row.cause),
              row.retry)
        << row.attempt << " " << row.cause;
  }
  EXPECT_FALSE(
      ShouldRetryAutomatically(ccbatch::v1::RetryPolicy(), 1, "NODE_FAIL"));
}

TEST(SchedulerTest, RetryableAndCancellable) {
  EXPECT_THAT(CheckRetryable("b/a", ccbatch::v1::JOB_STATUS_FAILED), IsOk());
  EXPECT_THAT(CheckRetryable("b/a", ccbatch::v1::JOB_STATUS_CANCELLED), IsOk());
  EXPECT_THAT(CheckRetryable("b/a", ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY),
              IsOk());
  EXPECT_THAT(CheckRetryable("b/a", ccbatch::v1::JOB_STATUS_RUNNING),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("b/a"), HasSubstr("RUNNING"))));
  EXPECT_THAT(
      CheckRetryable("b/a", ccbatch::v1::JOB_STATUS_SUCCEEDED),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("SUCCEEDED")));
  EXPECT_THAT(CheckCancellable("b/a", ccbatch::v1::JOB_STATUS_WAITING), IsOk());
  EXPECT_THAT(CheckCancellable("b/a", ccbatch::v1::JOB_STATUS_UNKNOWN), IsOk());
  EXPECT_THAT(CheckCancellable("b/a", ccbatch::v1::JOB_STATUS_FAILED),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("b/a"), HasSubstr("FAILED"))));
}

}  // namespace
}  // namespace ccbatch::ledger
