// Explain() as a table: for each status, the facts that say why.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/explanation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/ledger_fixture.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::cli::testing::At;
using ::ccbatch::cli::testing::FixtureNow;
using ::ccbatch::cli::testing::LedgerFixture;
using ::ccbatch::cli::testing::MakeLedgerFixture;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ExplanationTest : public ::testing::Test {
 protected:
  ExplanationTest() {
    inputs_.jobs = fixture_.jobs;
    for (const auto& cluster : fixture_.clusters.clusters()) {
      inputs_.clusters[cluster.name()] = cluster;
    }
    for (const auto& batch : fixture_.summary.batches()) {
      inputs_.batches[batch.batch().name()] = batch;
    }
  }

  // The facts' texts joined by newlines.
  std::string Text(const std::string& key) const {
    RenderOptions options;
    options.now = FixtureNow();
    std::vector<std::string> lines;
    for (const Fact& fact : Explain(key, inputs_, options)) {
      lines.push_back(fact.text);
    }
    return absl::StrJoin(lines, "\n");
  }

  v1::GetJobResponse& Job(const std::string& key) { return inputs_.jobs[key]; }

  // A READY job of chem-1 (the fixture has none).
  void MakeReady(const std::string& key) {
    v1::JobView& view = *Job(key).mutable_view();
    view.set_status(v1::JOB_STATUS_READY);
    view.set_reason("READY: every upstream job succeeded");
    view.clear_slurm_job_id();
    view.set_attempt(0);
  }

  const LedgerFixture fixture_ = MakeLedgerFixture();
  ExplainInputs inputs_;
};

TEST_F(ExplanationTest, WaitingFollowsTheChainToTheJobThatHoldsIt) {
  RenderOptions options;
  options.now = FixtureNow();
  const std::vector<Fact> facts =
      Explain("chem-1/toluene_freq", inputs_, options);
  std::vector<std::string> jobs;
  for (const Fact& fact : facts) {
    if (fact.is_job)
      jobs.push_back(fact.job_key + "@" + std::to_string(fact.depth));
  }
  EXPECT_THAT(jobs, ElementsAre("chem-1/toluene_freq@0", "chem-1/toluene_sp@1",
                                "chem-1/toluene_opt@2"));
  EXPECT_THAT(Text("chem-1/toluene_freq"),
              HasSubstr("cluster hpc1: agent connected"));
}

TEST_F(ExplanationTest, WaitingNamesUpstreamThatAlreadySucceeded) {
  // benzene_sp waits on a finished opt and on a running job.
  v1::GetJobResponse& job = Job("chem-1/benzene_sp");
  job.mutable_view()->set_status(v1::JOB_STATUS_WAITING);
  *job.add_upstream() = Job("chem-1/toluene_opt").view();
  EXPECT_THAT(Text("chem-1/benzene_sp"),
              HasSubstr("already succeeded upstream: chem-1/benzene_opt\n"
                        "waits on chem-1/toluene_opt:"));
}

TEST_F(ExplanationTest, BrokenEndsAtTheFailedJobWithItsEvidenceAndTheFix) {
  const std::string text = Text("chem-1/pyridine_sp");
  EXPECT_THAT(text, HasSubstr("broken by upstream chem-1/pyridine_opt:"));
  EXPECT_THAT(text, HasSubstr("failed (scf_fail): the SCF did not converge"));
  EXPECT_THAT(text, HasSubstr("output:388 [scf_fail]"));
  EXPECT_THAT(text, HasSubstr("ccctl retry chem-1/pyridine_opt"));
}

TEST_F(ExplanationTest, BrokenFollowsOnlyTheUpstreamThatBrokeIt) {
  // pyridine_sp also depends on a job still running: that one did not
  // break it and is not part of the chain.
  v1::GetJobResponse& job = Job("chem-1/pyridine_sp");
  *job.add_upstream() = Job("chem-1/benzene_sp").view();
  EXPECT_THAT(JobsToFollow(job), ElementsAre("chem-1/pyridine_opt"));
  const std::string text = Text("chem-1/pyridine_sp");
  EXPECT_THAT(text, HasSubstr("broken by upstream chem-1/pyridine_opt:"));
  EXPECT_THAT(text, Not(HasSubstr("benzene_sp")));
}

TEST_F(ExplanationTest, UpstreamNotFetchedIsDescribedFromItsView) {
  inputs_.jobs.erase("chem-1/toluene_opt");
  const std::string text = Text("chem-1/toluene_sp");
  EXPECT_THAT(text, HasSubstr("chem-1/toluene_opt is pending since"));
  EXPECT_THAT(text, HasSubstr("slurm job 48120"));
}

TEST_F(ExplanationTest, WaitingWithoutUpstreamStatusesSaysSo) {
  Job("chem-1/toluene_sp").clear_upstream();
  EXPECT_THAT(Text("chem-1/toluene_sp"),
              HasSubstr("depends on chem-1/toluene_opt; the ledger did not "
                        "report their statuses"));
}

TEST_F(ExplanationTest, CyclesAndRepeatsTerminate) {
  // A broken ledger answer: two jobs waiting on each other.
  v1::GetJobResponse& a = Job("chem-1/toluene_sp");
  v1::GetJobResponse& b = Job("chem-1/toluene_opt");
  b.mutable_view()->set_status(v1::JOB_STATUS_WAITING);
  *b.add_upstream() = a.view();
  a.clear_upstream();
  *a.add_upstream() = b.view();
  const std::string text = Text("chem-1/toluene_sp");
  EXPECT_THAT(text, HasSubstr("chem-1/toluene_sp is waiting (see above)"));
}

TEST_F(ExplanationTest, ReadyInPausedBatch) {
  MakeReady("chem-1/toluene_sp");
  inputs_.batches["chem-1"].mutable_batch()->set_paused(true);
  const std::string text = Text("chem-1/toluene_sp");
  EXPECT_THAT(text, HasSubstr("batch chem-1 is paused: nothing is submitted "
                              "until `ccctl resume chem-1`"));
  EXPECT_THAT(text, Not(HasSubstr("next pass")));
}

TEST_F(ExplanationTest, ReadyAtTheParallelLimit) {
  MakeReady("chem-1/toluene_sp");
  inputs_.batches["chem-1"].mutable_batch()->set_max_parallel(2);
  // The fixture's chem-1 has one pending and one running job.
  EXPECT_THAT(Text("chem-1/toluene_sp"),
              HasSubstr("batch chem-1 has 2 jobs submitted or in the queue, "
                        "its max parallel is 2: the job is submitted when "
                        "one finishes"));
}

TEST_F(ExplanationTest, ReadyWithRoomWaitsForTheNextPass) {
  MakeReady("chem-1/toluene_sp");
  const std::string text = Text("chem-1/toluene_sp");
  EXPECT_THAT(text, HasSubstr("has 2 of at most 4 jobs"));
  EXPECT_THAT(text, HasSubstr("on its next pass"));
}

TEST_F(ExplanationTest, ReadyOnADisconnectedCluster) {
  MakeReady("chem-1/toluene_sp");
  Job("chem-1/toluene_sp").mutable_view()->set_cluster("hpc2");
  const std::string text = Text("chem-1/toluene_sp");
  EXPECT_THAT(text, HasSubstr("cluster hpc2: agent disconnected for 1h45m"));
  EXPECT_THAT(text, HasSubstr("last squeue failed 1h45m ago: squeue: error"));
  EXPECT_THAT(text, Not(HasSubstr("next pass")));
}

TEST_F(ExplanationTest, ClusterNeverSeen) {
  MakeReady("chem-1/toluene_sp");
  Job("chem-1/toluene_sp").mutable_view()->set_cluster("hpc9");
  EXPECT_THAT(Text("chem-1/toluene_sp"),
              HasSubstr("cluster hpc9: no agent has connected for it; start "
                        "queue_agent on its login node"));
}

TEST_F(ExplanationTest, UnknownNamesTheSilentCluster) {
  v1::JobView& view = *Job("chem-1/benzene_sp").mutable_view();
  view.set_status(v1::JOB_STATUS_UNKNOWN);
  view.set_cluster("hpc2");
  const std::string text = Text("chem-1/benzene_sp");
  EXPECT_THAT(text, HasSubstr("no fresh facts from cluster hpc2"));
  EXPECT_THAT(text, HasSubstr("last snapshot 977 taken 1h45m ago"));
}

TEST_F(ExplanationTest, SubmittingSaysSbatchHasNotAnswered) {
  v1::GetJobResponse& job = Job("chem-1/toluene_opt");
  job.mutable_view()->set_status(v1::JOB_STATUS_SUBMITTING);
  job.mutable_attempts(0)->clear_slurm_job_id();
  EXPECT_THAT(Text("chem-1/toluene_opt"),
              HasSubstr("attempt 1 ordered at 2026-01-01 11:57:58 UTC (order "
                        "o-48120); sbatch has not answered yet"));
}

TEST_F(ExplanationTest, SubmittedAfterTheLatestSnapshot) {
  v1::GetJobResponse& job = Job("chem-1/toluene_opt");
  job.mutable_view()->set_status(v1::JOB_STATUS_SUBMITTED);
  *job.mutable_attempts(0)->mutable_submitted_at() = At(11, 59, 40);
  EXPECT_THAT(Text("chem-1/toluene_opt"),
              HasSubstr("the latest snapshot of hpc1 (4812) was taken before "
                        "the submission; the next one will show the job"));
}

TEST_F(ExplanationTest, CompletingAwaitsTheVerdict) {
  v1::GetJobResponse& job = Job("chem-1/benzene_sp");
  job.mutable_view()->set_status(v1::JOB_STATUS_COMPLETING);
  v1::Attempt& attempt = *job.mutable_attempts(0);
  attempt.set_last_queue_state("TIMEOUT");
  *attempt.mutable_finished_seen_at() = At(11, 58, 0);
  *attempt.mutable_output_checked_at() = At(11, 59, 0);
  const std::string text = Text("chem-1/benzene_sp");
  EXPECT_THAT(text, HasSubstr("(last seen as TIMEOUT); first seen finished "
                              "2m00s ago"));
  EXPECT_THAT(text, HasSubstr("asked to judge the output 1m00s ago"));
}

TEST_F(ExplanationTest, SubmitErrorIsNamed) {
  v1::GetJobResponse& job = Job("chem-1/pyridine_opt");
  job.clear_verdict();
  job.mutable_attempts(0)->clear_slurm_job_id();
  job.mutable_attempts(0)->set_submit_error(
      "sbatch: error: Batch job submission failed: Invalid account");
  EXPECT_THAT(Text("chem-1/pyridine_opt"),
              HasSubstr("sbatch refused attempt 1: sbatch: error: Batch job "
                        "submission failed: Invalid account"));
}

TEST_F(ExplanationTest, CancelledSaysWhenAndWhetherAcknowledged) {
  v1::GetJobResponse& job = Job("chem-1/benzene_sp");
  job.mutable_view()->set_status(v1::JOB_STATUS_CANCELLED);
  *job.mutable_attempts(0)->mutable_cancel_requested_at() = At(11, 50, 0);
  job.mutable_attempts(0)->set_cancel_acknowledged(true);
  EXPECT_THAT(Text("chem-1/benzene_sp"),
              HasSubstr("cancel requested at 2026-01-01 11:50:00 UTC, "
                        "acknowledged by the agent"));
}

TEST_F(ExplanationTest, SucceededShowsVerdictAndEnergies) {
  const std::string text = Text("chem-1/benzene_opt");
  EXPECT_THAT(text, HasSubstr("verdict on slurm job 48101: succeeded"));
  EXPECT_THAT(text, HasSubstr("total_energy = -15.873312402563"));
}

TEST_F(ExplanationTest, LongEvidenceIsCutWithAPointerToShow) {
  v1::Verdict& verdict = *Job("chem-1/pyridine_opt").mutable_verdict();
  for (int i = 0; i < 4; ++i) *verdict.add_evidence() = verdict.evidence(0);
  EXPECT_THAT(Text("chem-1/pyridine_opt"),
              HasSubstr("3 more evidence lines: ccctl show "
                        "chem-1/pyridine_opt"));
}

TEST(JobsToFollowTest, OnlyUnfinishedUpstreamOfHeldJobs) {
  const LedgerFixture fixture = MakeLedgerFixture();
  EXPECT_THAT(JobsToFollow(fixture.jobs.at("chem-1/toluene_freq")),
              ElementsAre("chem-1/toluene_sp"));
  EXPECT_THAT(JobsToFollow(fixture.jobs.at("chem-1/pyridine_sp")),
              ElementsAre("chem-1/pyridine_opt"));
  // Running: nothing upstream to explain.
  EXPECT_THAT(JobsToFollow(fixture.jobs.at("chem-1/benzene_sp")), IsEmpty());
}

TEST(ExplanationRenderTest, TableIndentsByDepth) {
  std::vector<Fact> facts = {
      {0, true, "b/x", v1::JOB_STATUS_WAITING, "b/x is waiting"},
      {0, false, "b/x", v1::JOB_STATUS_WAITING, "waits on b/y:"},
      {1, true, "b/y", v1::JOB_STATUS_RUNNING, "b/y is running"},
      {1, false, "b/y", v1::JOB_STATUS_RUNNING, "slurm job 1"},
  };
  EXPECT_EQ(
      RenderExplanation("b/x", facts, OutputFormat::kTable, RenderOptions()),
      "b/x is waiting\n"
      "  - waits on b/y:\n"
      "    b/y is running\n"
      "      - slurm job 1\n");
}

TEST(ExplanationRenderTest, JsonEscapesText) {
  std::vector<Fact> facts = {
      {0, true, "b/x", v1::JOB_STATUS_FAILED, "said \"no\"\tthen\nstopped"}};
  EXPECT_THAT(
      RenderExplanation("b/x", facts, OutputFormat::kJson, RenderOptions()),
      HasSubstr(R"("text": "said \"no\"\tthen\nstopped")"));
  EXPECT_EQ(RenderExplanation("b/x", {}, OutputFormat::kJson, RenderOptions()),
            "{\n \"job\": \"b/x\",\n \"facts\": []\n}\n");
}

}  // namespace
}  // namespace ccbatch::cli
