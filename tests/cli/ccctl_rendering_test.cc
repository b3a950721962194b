// Golden outputs of ccctl's renderers (table, JSON, CSV) on a fixed ledger
// state with a fixed "now". These files are what docs/CLI.md shows.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "cli/batchfile_reader.h"
#include "cli/explanation.h"
#include "cli/import_rendering.h"
#include "cli/job_rendering.h"
#include "cli/summary_rendering.h"
#include "cli/watch_tally.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/golden.h"
#include "tests/cli/ledger_fixture.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::cli::testing::At;
using ::ccbatch::cli::testing::ExpectGolden;
using ::ccbatch::cli::testing::FixtureNow;
using ::ccbatch::cli::testing::LedgerFixture;
using ::ccbatch::cli::testing::MakeLedgerFixture;
using ::testing::HasSubstr;
using ::testing::Not;

RenderOptions Plain() {
  RenderOptions options;
  options.now = FixtureNow();
  options.time_zone = absl::UTCTimeZone();
  options.color = false;
  return options;
}

class RenderingTest : public ::testing::Test {
 protected:
  v1::ListJobsResponse AllJobs() const {
    v1::ListJobsResponse response;
    for (const std::string& key : fixture_.keys) {
      *response.add_jobs() = fixture_.jobs.at(key).view();
    }
    response.set_total_size(response.jobs_size());
    return response;
  }

  std::string ExplainText(const std::string& key, OutputFormat format) const {
    ExplainInputs inputs;
    inputs.jobs = fixture_.jobs;
    for (const auto& cluster : fixture_.clusters.clusters()) {
      inputs.clusters[cluster.name()] = cluster;
    }
    for (const auto& batch : fixture_.summary.batches()) {
      inputs.batches[batch.batch().name()] = batch;
    }
    return RenderExplanation(key, Explain(key, inputs, Plain()), format,
                             Plain());
  }

  const LedgerFixture fixture_ = MakeLedgerFixture();
};

TEST_F(RenderingTest, JobsTable) {
  ExpectGolden("jobs.txt",
               RenderJobList(AllJobs(), OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, JobsJson) {
  ExpectGolden("jobs.json",
               RenderJobList(AllJobs(), OutputFormat::kJson, Plain()));
}

TEST_F(RenderingTest, JobsCsv) {
  ExpectGolden("jobs.csv",
               RenderJobList(AllJobs(), OutputFormat::kCsv, Plain()));
}

TEST_F(RenderingTest, JobsCutByLimitSaysHowManyMatched) {
  v1::ListJobsResponse response = AllJobs();
  response.mutable_jobs()->DeleteSubrange(2, 5);
  const std::string text =
      RenderJobList(response, OutputFormat::kTable, Plain());
  EXPECT_THAT(text, HasSubstr("\n2 of 7 jobs (raise --limit to see more)\n"));
}

TEST_F(RenderingTest, NoJobsSaysSo) {
  EXPECT_EQ(
      RenderJobList(v1::ListJobsResponse(), OutputFormat::kTable, Plain()),
      "No jobs match.\n");
}

TEST_F(RenderingTest, JobsInColourOnlyWhenAsked) {
  RenderOptions colour = Plain();
  colour.color = true;
  const std::string text =
      RenderJobList(AllJobs(), OutputFormat::kTable, colour);
  EXPECT_THAT(text, HasSubstr("\x1b[31mfailed\x1b[0m"));
  EXPECT_THAT(text, HasSubstr("\x1b[32msucceeded\x1b[0m"));
  EXPECT_THAT(RenderJobList(AllJobs(), OutputFormat::kTable, Plain()),
              Not(HasSubstr("\x1b[")));
  // CSV and JSON never carry escapes.
  EXPECT_THAT(RenderJobList(AllJobs(), OutputFormat::kCsv, colour),
              Not(HasSubstr("\x1b[")));
  // Colour does not shift the columns: without escapes it is the same text.
  std::string stripped = text;
  for (const char* code :
       {"\x1b[0m", "\x1b[1m", "\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[36m"}) {
    size_t at;
    while ((at = stripped.find(code)) != std::string::npos) {
      stripped.erase(at, std::string(code).size());
    }
  }
  EXPECT_EQ(stripped, RenderJobList(AllJobs(), OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, ShowFailedJob) {
  ExpectGolden("show_failed.txt",
               RenderJobDetail(fixture_.jobs.at("chem-1/pyridine_opt"),
                               OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, ShowSucceededJobWithEnergies) {
  ExpectGolden("show_succeeded.txt",
               RenderJobDetail(fixture_.jobs.at("chem-1/benzene_opt"),
                               OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, ShowWaitingJobListsUpstream) {
  ExpectGolden("show_waiting.txt",
               RenderJobDetail(fixture_.jobs.at("chem-1/toluene_sp"),
                               OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, ShowJson) {
  ExpectGolden("show_failed.json",
               RenderJobDetail(fixture_.jobs.at("chem-1/pyridine_opt"),
                               OutputFormat::kJson, Plain()));
}

TEST_F(RenderingTest, ShowCsvIsTheJobsRow) {
  EXPECT_EQ(RenderJobDetail(fixture_.jobs.at("chem-1/pyridine_opt"),
                            OutputFormat::kCsv, Plain()),
            "key,batch,status,cluster,slurm_job_id,attempt,status_since,"
            "age_seconds,reason\n"
            "chem-1/pyridine_opt,chem-1,failed,hpc1,48102,1,"
            "2026-01-01T11:31:10Z,1730,"
            "FAILED: verdict on slurm job 48102: scf_fail\n");
}

TEST_F(RenderingTest, StatusTable) {
  ExpectGolden("status.txt",
               RenderSummary(fixture_.summary, OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, StatusJson) {
  ExpectGolden("status.json",
               RenderSummary(fixture_.summary, OutputFormat::kJson, Plain()));
}

TEST_F(RenderingTest, StatusCsv) {
  ExpectGolden("status.csv",
               RenderSummary(fixture_.summary, OutputFormat::kCsv, Plain()));
}

TEST_F(RenderingTest, StatusOfAnEmptyLedger) {
  EXPECT_EQ(RenderSummary(v1::SummaryResponse(), OutputFormat::kTable, Plain()),
            "No batches. Import one with: ccctl import BATCHFILE\n"
            "No cluster agent has connected yet.\n");
}

TEST_F(RenderingTest, ClustersTable) {
  ExpectGolden("clusters.txt", RenderClusters(fixture_.clusters,
                                              OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, ClustersJson) {
  ExpectGolden("clusters.json",
               RenderClusters(fixture_.clusters, OutputFormat::kJson, Plain()));
}

TEST_F(RenderingTest, ClustersCsv) {
  ExpectGolden("clusters.csv",
               RenderClusters(fixture_.clusters, OutputFormat::kCsv, Plain()));
}

TEST_F(RenderingTest, ExplainChainOfWaits) {
  ExpectGolden("explain_waiting.txt",
               ExplainText("chem-1/toluene_freq", OutputFormat::kTable));
}

TEST_F(RenderingTest, ExplainBrokenDependency) {
  ExpectGolden("explain_broken.txt",
               ExplainText("chem-1/pyridine_sp", OutputFormat::kTable));
}

TEST_F(RenderingTest, ExplainRunning) {
  ExpectGolden("explain_running.txt",
               ExplainText("chem-1/benzene_sp", OutputFormat::kTable));
}

TEST_F(RenderingTest, ExplainJson) {
  ExpectGolden("explain_waiting.json",
               ExplainText("chem-1/toluene_freq", OutputFormat::kJson));
}

TEST_F(RenderingTest, ExplainCsv) {
  ExpectGolden("explain_waiting.csv",
               ExplainText("chem-1/toluene_freq", OutputFormat::kCsv));
}

class ImportRenderingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in("tests/cli/testdata/chem-3.batch");
    ASSERT_TRUE(in) << "missing tests/cli/testdata/chem-3.batch";
    std::stringstream text;
    text << in.rdbuf();
    CCB_ASSERT_OK_AND_ASSIGN(
        *request_.mutable_batch(),
        ReadBatchfile("chem-3.batch", text.str(), BatchfileOptions()));
  }

  v1::ImportBatchResponse Response() const {
    v1::ImportBatchResponse response;
    v1::BatchInfo& info = *response.mutable_batch();
    info.set_name("chem-3");
    info.set_cluster("hpc1");
    info.set_max_parallel(2);
    info.set_job_count(4);
    *info.mutable_imported_at() = At(12, 0, 0);
    response.set_jobs_added(4);
    return response;
  }

  v1::ImportBatchRequest request_;
};

TEST_F(ImportRenderingTest, Imported) {
  const v1::ImportBatchResponse response = Response();
  ExpectGolden("import.txt", RenderImport(request_, &response,
                                          OutputFormat::kTable, Plain()));
}

TEST_F(ImportRenderingTest, ImportedJson) {
  const v1::ImportBatchResponse response = Response();
  ExpectGolden("import.json",
               RenderImport(request_, &response, OutputFormat::kJson, Plain()));
}

TEST_F(ImportRenderingTest, DryRunSaysNothingWasSent) {
  request_.set_paused(true);
  ExpectGolden("import_dry_run.txt",
               RenderImport(request_, nullptr, OutputFormat::kTable, Plain()));
}

TEST_F(ImportRenderingTest, KeptJobsAreNamed) {
  v1::ImportBatchResponse response = Response();
  response.set_jobs_added(0);
  response.set_jobs_unchanged(3);
  response.add_jobs_kept("chem-3/benzene_sp");
  EXPECT_THAT(RenderImport(request_, &response, OutputFormat::kTable, Plain()),
              HasSubstr("kept as they were (already submitted; their new "
                        "definition applies on retry): chem-3/benzene_sp\n"));
}

TEST_F(RenderingTest, RetryChanged) {
  v1::RetryResponse response;
  v1::JobView retried = fixture_.jobs.at("chem-1/pyridine_opt").view();
  retried.set_status(v1::JOB_STATUS_READY);
  retried.set_reason("READY: retry requested; every upstream job succeeded");
  *retried.mutable_status_since() = At(12, 0, 0);
  *response.add_changed() = retried;
  v1::JobView waiting = fixture_.jobs.at("chem-1/pyridine_sp").view();
  waiting.set_status(v1::JOB_STATUS_WAITING);
  waiting.set_reason("WAITING: upstream chem-1/pyridine_opt is READY");
  *waiting.mutable_status_since() = At(12, 0, 0);
  *response.add_changed() = waiting;
  ExpectGolden("retry.txt",
               RenderChangedJobs(response, response.changed(), "Retry changed",
                                 "nothing", OutputFormat::kTable, Plain()));
}

TEST_F(RenderingTest, PauseAndResume) {
  v1::BatchInfo info = fixture_.summary.batches(0).batch();
  info.set_paused(true);
  EXPECT_EQ(RenderPauseChange(info, true, OutputFormat::kTable),
            "Paused batch chem-1 (7 jobs): nothing new is submitted; jobs "
            "already in the queue keep running. Resume with: ccctl resume "
            "chem-1\n");
  info.set_paused(false);
  EXPECT_EQ(RenderPauseChange(info, false, OutputFormat::kTable),
            "Resumed batch chem-1 (7 jobs): ready jobs are submitted again.\n");
  EXPECT_THAT(RenderPauseChange(info, false, OutputFormat::kJson),
              HasSubstr("\"paused\": false"));
}

TEST_F(RenderingTest, WatchFrame) {
  WatchTally tally(fixture_.summary);
  for (const std::string& key : fixture_.keys) {
    v1::WatchResponse current;
    *current.mutable_current() = fixture_.jobs.at(key).view();
    tally.Apply(current);
  }
  v1::WatchResponse done;
  done.set_initial_state_done(true);
  tally.Apply(done);
  v1::WatchResponse change;
  v1::JobEvent& event = *change.mutable_change();
  event.set_seq(51);
  *event.mutable_at() = At(12, 0, 0);
  event.set_job_key("chem-1/toluene_opt");
  event.set_from_status(v1::JOB_STATUS_PENDING);
  event.set_to_status(v1::JOB_STATUS_RUNNING);
  event.set_reason(
      "RUNNING: in snapshot 4813 of cluster hpc1 taken 12:00:00 as RUNNING "
      "on node c017");
  tally.Apply(change);
  ExpectGolden("watch_frame.txt", RenderWatchFrame(tally, Plain()));
}

}  // namespace
}  // namespace ccbatch::cli
