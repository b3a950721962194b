#include "ledger_service/status_computer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ccbatch/v1/job.pb.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT macro
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_service/dependency_graph.h"
#include "ledger_service/derive.h"
#include "ledger_service/job_facts.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr auto kWaiting = ccbatch::v1::JOB_STATUS_WAITING;
constexpr auto kReady = ccbatch::v1::JOB_STATUS_READY;
constexpr auto kSubmitting = ccbatch::v1::JOB_STATUS_SUBMITTING;
constexpr auto kSubmitted = ccbatch::v1::JOB_STATUS_SUBMITTED;
constexpr auto kRunning = ccbatch::v1::JOB_STATUS_RUNNING;
constexpr auto kCompleting = ccbatch::v1::JOB_STATUS_COMPLETING;
constexpr auto kSucceeded = ccbatch::v1::JOB_STATUS_SUCCEEDED;
constexpr auto kFailed = ccbatch::v1::JOB_STATUS_FAILED;
constexpr auto kBroken = ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY;
constexpr auto kUnknown = ccbatch::v1::JOB_STATUS_UNKNOWN;

const absl::Duration kLimit = absl::Minutes(5);

absl::Time At(int hour, int minute, int second) {
  return absl::FromCivil(absl::CivilSecond(2026, 12, 4, hour, minute, second),
                         absl::UTCTimeZone());
}

JobFacts Job(const std::string& key) {
  JobFacts job;
  job.key = key;
  return job;
}

AttemptFacts Attempt(int number, const std::string& slurm_job_id,
                     absl::Time submitted_at) {
  AttemptFacts attempt;
  attempt.number = number;
  attempt.cluster = "hpc1";
  attempt.order_id = "o-" + std::to_string(number);
  attempt.slurm_job_id = slurm_job_id;
  attempt.submitted_at = submitted_at;
  return attempt;
}

ClusterFacts Snapshot(absl::Time taken_at, absl::Time received_at) {
  ClusterFacts cluster;
  cluster.name = "hpc1";
  cluster.has_snapshot = true;
  cluster.snapshot_taken_at = taken_at;
  cluster.snapshot_received_at = received_at;
  return cluster;
}

VerdictFacts Failed(const std::string& slurm_job_id) {
  VerdictFacts verdict;
  verdict.slurm_job_id = slurm_job_id;
  verdict.attempt = 1;
  verdict.outcome = ccbatch::v1::Verdict::OUTCOME_FAILED;
  verdict.cause = "scf_fail";
  return verdict;
}

// opt <- freq <- nmr, and an unrelated job "solo".
StatusComputer Chain() {
  auto graph = DependencyGraph::Build({{}, {0}, {1}, {}});
  EXPECT_TRUE(graph.ok());
  auto computer = StatusComputer::Create(
      *std::move(graph),
      {Job("m/opt"), Job("m/freq"), Job("m/nmr"), Job("m/solo")});
  EXPECT_TRUE(computer.ok());
  return *std::move(computer);
}

std::vector<ccbatch::v1::JobStatus> Statuses(const StatusComputer& computer) {
  std::vector<ccbatch::v1::JobStatus> statuses;
  for (int job = 0; job < computer.job_count(); ++job) {
    statuses.push_back(computer.status(job).status);
  }
  return statuses;
}

TEST(StatusComputerTest, RefusesFactsNotMatchingTheGraph) {
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           DependencyGraph::Build({{}, {}}));
  EXPECT_THAT(StatusComputer::Create(std::move(graph), {Job("a")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("facts for 1 jobs but the dependency graph "
                                 "has 2")));
}

TEST(StatusComputerTest, DeriveAllFeedsUpstreamStatusesDownstream) {
  StatusComputer computer = Chain();
  EXPECT_EQ(computer.status(0).status, ccbatch::v1::JOB_STATUS_UNSPECIFIED);
  EXPECT_THAT(computer.DeriveAll(At(12, 0, 0), kLimit),
              ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Statuses(computer),
              ElementsAre(kReady, kWaiting, kWaiting, kReady));
  EXPECT_EQ(computer.status(2).reason, "WAITING: upstream m/freq is WAITING");
  // Nothing changed: nothing to report.
  EXPECT_THAT(computer.DeriveAll(At(12, 0, 0), kLimit), IsEmpty());
}

TEST(StatusComputerTest, BrokenDependencySpreadsAndRecedesOnRetry) {
  StatusComputer computer = Chain();
  computer.SetCluster(Snapshot(At(12, 0, 3), At(12, 0, 5)));
  computer.mutable_facts(0).attempt = Attempt(1, "4812", At(11, 0, 0));
  computer.mutable_facts(0).verdict = Failed("4812");
  computer.DeriveAll(At(12, 1, 0), kLimit);
  EXPECT_THAT(Statuses(computer),
              ElementsAre(kFailed, kBroken, kBroken, kReady));
  EXPECT_EQ(computer.status(2).reason,
            "BROKEN_DEPENDENCY: upstream m/freq BROKEN_DEPENDENCY");

  // Retry: a new attempt, no job id yet. The stale verdict stays in the
  // facts on purpose: it names another SLURM job and must not count.
  computer.mutable_facts(0).attempt = Attempt(2, "", absl::InfinitePast());
  EXPECT_THAT(computer.Rederive({0}, At(12, 1, 0), kLimit),
              ElementsAre(0, 1, 2));
  EXPECT_THAT(Statuses(computer),
              ElementsAre(kSubmitting, kWaiting, kWaiting, kReady));
  EXPECT_EQ(computer.status(1).reason, "WAITING: upstream m/opt is SUBMITTING");
}

TEST(StatusComputerTest, OnlyStatusChangesPropagate) {
  StatusComputer computer = Chain();
  computer.SetCluster(Snapshot(At(12, 0, 3), At(12, 0, 5)));
  computer.mutable_facts(0).attempt = Attempt(1, "4812", At(11, 0, 0));
  computer.mutable_facts(0).attempt->queue_entry =
      QueueEntryFacts{"PENDING", "Priority", ""};
  computer.DeriveAll(At(12, 1, 0), kLimit);
  // Same status, new reason: only job 0 changes; its dependants only read
  // its status.
  computer.mutable_facts(0).attempt->queue_entry->reason = "Resources";
  EXPECT_THAT(computer.Rederive({0, 0}, At(12, 1, 0), kLimit), ElementsAre(0));
  // Naming a job whose facts did not change reports nothing.
  EXPECT_THAT(computer.Rederive({0, 1, 2, 3}, At(12, 1, 0), kLimit), IsEmpty());
}

TEST(StatusComputerTest, StalenessFollowsTimeWithoutNamingJobs) {
  StatusComputer computer = Chain();
  computer.SetCluster(Snapshot(At(12, 0, 3), At(12, 0, 5)));
  computer.mutable_facts(0).attempt = Attempt(1, "4812", At(11, 0, 0));
  computer.mutable_facts(0).attempt->queue_entry =
      QueueEntryFacts{"RUNNING", "None", "c041"};
  computer.DeriveAll(At(12, 1, 0), kLimit);
  EXPECT_EQ(computer.status(0).status, kRunning);
  EXPECT_EQ(computer.NextStalenessChange(At(12, 1, 0), kLimit), At(12, 5, 5));

  EXPECT_THAT(computer.Rederive({}, At(12, 5, 5), kLimit), IsEmpty());
  EXPECT_THAT(computer.Rederive({}, At(12, 5, 6), kLimit), ElementsAre(0, 1));
  EXPECT_EQ(computer.status(0).status, kUnknown);
  // m/freq's reason names its upstream's status; m/nmr's does not change.
  EXPECT_EQ(computer.status(1).reason, "WAITING: upstream m/opt is UNKNOWN");
  EXPECT_EQ(computer.NextStalenessChange(At(12, 5, 6), kLimit), std::nullopt);

  // A probe failure changes UNKNOWN's reason.
  ClusterFacts failing = *computer.cluster("hpc1");
  failing.last_probe_error = "squeue: error: timeout";
  failing.last_probe_error_at = At(12, 6, 0);
  computer.SetCluster(failing);
  EXPECT_THAT(computer.Rederive({}, At(12, 6, 0), kLimit), ElementsAre(0));
  EXPECT_THAT(computer.status(0).reason, HasSubstr("squeue: error: timeout"));

  // A fresh snapshot brings it back (the job's line did not change).
  computer.SetCluster(Snapshot(At(12, 7, 0), At(12, 7, 1)));
  EXPECT_THAT(computer.Rederive({}, At(12, 7, 1), kLimit), ElementsAre(0, 1));
  EXPECT_EQ(computer.status(0).status, kRunning);
}

TEST(StatusComputerTest, NewerSnapshotEndsSubmittedWithoutNamingJobs) {
  StatusComputer computer = Chain();
  // Job 0 was submitted after the latest snapshot was taken; job 3 before.
  computer.SetCluster(Snapshot(At(12, 0, 3), At(12, 0, 5)));
  computer.mutable_facts(0).attempt = Attempt(1, "4812", At(12, 0, 4));
  computer.mutable_facts(3).attempt = Attempt(1, "4813", At(11, 0, 0));
  computer.mutable_facts(3).attempt->queue_entry =
      QueueEntryFacts{"RUNNING", "None", "c041"};
  computer.DeriveAll(At(12, 0, 5), kLimit);
  EXPECT_THAT(Statuses(computer),
              ElementsAre(kSubmitted, kWaiting, kWaiting, kRunning));

  // The next snapshot does not list 4812 (it finished within seconds): it
  // is absent, although its facts did not change.
  computer.SetCluster(Snapshot(At(12, 0, 33), At(12, 0, 35)));
  EXPECT_THAT(computer.Rederive({}, At(12, 0, 35), kLimit), ElementsAre(0, 1));
  EXPECT_EQ(computer.status(0).status, kCompleting);
}

TEST(StatusComputerTest, ClusterFirstHeardOfLater) {
  StatusComputer computer = Chain();
  computer.mutable_facts(3).attempt = Attempt(1, "77", At(12, 0, 0));
  computer.mutable_facts(3).attempt->cluster = "hpc2";
  computer.DeriveAll(At(12, 0, 1), kLimit);
  EXPECT_EQ(computer.status(3).status, kSubmitted);
  ASSERT_NE(computer.cluster("hpc2"), nullptr);
  EXPECT_FALSE(computer.cluster("hpc2")->has_snapshot);

  ClusterFacts hpc2 = Snapshot(At(12, 0, 30), At(12, 0, 31));
  hpc2.name = "hpc2";
  computer.SetCluster(hpc2);
  EXPECT_THAT(computer.Rederive({}, At(12, 0, 31), kLimit), ElementsAre(3));
  EXPECT_EQ(computer.status(3).status, kCompleting);
  EXPECT_EQ(computer.cluster("hpc3"), nullptr);
}

TEST(StatusComputerTest, NewStalenessLimitRederivesEverything) {
  StatusComputer computer = Chain();
  computer.SetCluster(Snapshot(At(12, 0, 3), At(12, 0, 5)));
  computer.mutable_facts(0).attempt = Attempt(1, "4812", At(11, 0, 0));
  computer.DeriveAll(At(12, 10, 0), kLimit);
  EXPECT_EQ(computer.status(0).status, kUnknown);
  EXPECT_THAT(computer.Rederive({}, At(12, 10, 0), absl::Minutes(15)),
              ElementsAre(0, 1));
  EXPECT_EQ(computer.status(0).status, kCompleting);
}

TEST(StatusComputerTest, RederiveBeforeDeriveAllDerivesEverything) {
  StatusComputer computer = Chain();
  EXPECT_THAT(computer.Rederive({}, At(12, 0, 0), kLimit),
              ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(Statuses(computer),
              ElementsAre(kReady, kWaiting, kWaiting, kReady));
}

TEST(StatusComputerTest, ResultsComeInTopologicalOrder) {
  // 0 depends on 2, which depends on 1: the order is 1, 2, 0.
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           (DependencyGraph::Build({{2}, {}, {1}})));
  CCB_ASSERT_OK_AND_ASSIGN(
      StatusComputer computer,
      StatusComputer::Create(std::move(graph),
                             {Job("b/last"), Job("b/first"), Job("b/mid")}));
  EXPECT_THAT(computer.DeriveAll(At(12, 0, 0), kLimit), ElementsAre(1, 2, 0));
  VerdictFacts adopted;
  adopted.outcome = ccbatch::v1::Verdict::OUTCOME_SUCCEEDED;
  computer.mutable_facts(1).verdict = adopted;
  computer.mutable_facts(2).verdict = adopted;
  EXPECT_THAT(computer.Rederive({2, 1}, At(12, 0, 0), kLimit),
              ElementsAre(1, 2, 0));
  EXPECT_THAT(Statuses(computer), ElementsAre(kReady, kSucceeded, kSucceeded));
}

}  // namespace
}  // namespace ccbatch::ledger
