#include "queue_agent/submitter.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/fake_file_system.h"
#include "common/fake_process_runner.h"
#include "common/metrics.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/order_journal.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/rule_sets.h"
#include "tests/common/metrics_scrape.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::common::ExitedWith;
using ::ccbatch::common::TimedOutWith;
using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::SampleValue;
using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

constexpr char kStateDir[] = "/var/lib/ccbatch";
constexpr char kDir[] = "/runs/b1/water";
constexpr char kScript[] = "/runs/b1/water/water.sh";
constexpr char kLog[] = "/runs/b1/water/water.log";

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

constexpr absl::string_view kGaussianDone =
    " Entering Gaussian System, Link 0=g16\n"
    " ------------\n"
    " #p b3lyp/6-31g(d) sp\n"
    " ------------\n"
    " SCF Done:  E(RB3LYP) =  -76.4089533     A.U. after    9 cycles\n"
    " Normal termination of Gaussian 16 at Thu Jan  1 00:10:00 2026.\n";
constexpr absl::string_view kGaussianScfFail =
    " Entering Gaussian System, Link 0=g16\n"
    " Convergence failure -- run terminated.\n"
    " Error termination via Lnk1e in /g16/l502.exe at Thu Jan  1.\n";

// A QueueView whose snapshots the test sets.
class FakeQueueView final : public QueueView {
 public:
  void SetLatest(QueueSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    latest_ = std::make_shared<const QueueSnapshot>(std::move(snapshot));
  }
  // What SnapshotAfter answers; unset: nothing came in time.
  void SetFresh(QueueSnapshot snapshot) {
    absl::MutexLock lock(&mu_);
    fresh_ = std::make_shared<const QueueSnapshot>(std::move(snapshot));
  }
  std::vector<absl::Time> fresh_requests() const {
    absl::MutexLock lock(&mu_);
    return fresh_requests_;
  }

  std::shared_ptr<const QueueSnapshot> Latest() const override {
    absl::MutexLock lock(&mu_);
    return latest_;
  }
  std::shared_ptr<const QueueSnapshot> SnapshotAfter(absl::Time not_before,
                                                     absl::Duration) override {
    absl::MutexLock lock(&mu_);
    fresh_requests_.push_back(not_before);
    return fresh_;
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const QueueSnapshot> latest_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const QueueSnapshot> fresh_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> fresh_requests_ ABSL_GUARDED_BY(mu_);
};

QueueSnapshot SnapshotWith(
    std::vector<std::pair<std::string, std::string>> id_and_comment,
    absl::Time taken_at = kNow) {
  std::vector<v1::QueueEntry> entries;
  for (const auto& [id, comment] : id_and_comment) {
    v1::QueueEntry entry;
    entry.set_slurm_job_id(id);
    entry.set_state("RUNNING");
    entry.set_comment(comment);
    entries.push_back(entry);
  }
  QueueSnapshot snapshot = SnapshotOfEntries(entries);
  snapshot.taken_at = taken_at;
  return snapshot;
}

v1::SubmitOrder Order(const std::string& order_id = "o-1") {
  v1::SubmitOrder order;
  order.set_order_id(order_id);
  order.set_job_key("b1/water");
  order.set_directory(kDir);
  order.set_basename("water");
  order.set_program(v1::PROGRAM_GAUSSIAN);
  order.set_attempt(1);
  return order;
}

absl::Time FromProto(const google::protobuf::Timestamp& stamp) {
  return absl::FromUnixSeconds(stamp.seconds()) +
         absl::Nanoseconds(stamp.nanos());
}

class SubmitterTest : public ::testing::Test {
 protected:
  SubmitterTest()
      : clock_(kNow),
        runner_(&clock_),
        log_(&clock_,
             [this](const std::string& line) { log_lines_.push_back(line); },
             {{"cluster", "hpc1"}}) {}

  void SetUp() override {
    ASSERT_THAT(fs_.CreateDirectories(kStateDir), IsOk());
    fs_.SetFile(kScript, "#!/bin/bash\n#SBATCH -t 1:00:00\ng16 water.gjf\n",
                kNow - absl::Hours(1));
    auto rules = LoadRuleSets("", &fs_);
    ASSERT_TRUE(rules.ok()) << rules.status();
    auto checker = OutputChecker::Create(*rules, &fs_);
    ASSERT_TRUE(checker.ok()) << checker.status();
    checker_ = *std::move(checker);
    Restart();
  }

  // A new journal and submitter over the same files, as after an agent
  // restart.
  void Restart() {
    submitter_.reset();
    auto journal = OrderJournal::Open(&fs_, kStateDir);
    ASSERT_TRUE(journal.ok()) << journal.status();
    journal_ = *std::move(journal);
    SubmitterOptions options;
    options.sbatch_path = "/usr/bin/sbatch";
    options.scancel_path = "/usr/bin/scancel";
    options.command_timeout = absl::Seconds(45);
    options.metrics = &metrics_;
    submitter_ =
        std::make_unique<Submitter>(options, journal_.get(), checker_.get(),
                                    &runner_, &fs_, &queue_, &clock_, &log_);
  }

  int SbatchCalls() const {
    int calls = 0;
    for (const common::ProcessRequest& request : runner_.Calls()) {
      calls += request.argv[0] == "/usr/bin/sbatch";
    }
    return calls;
  }

  bool Logged(absl::string_view event) const {
    for (const std::string& line : log_lines_) {
      if (absl::StrContains(line, absl::StrCat("event=", event, " "))) {
        return true;
      }
    }
    return false;
  }

  common::FakeClock clock_;
  common::FakeFileSystem fs_;
  common::FakeProcessRunner runner_;
  FakeQueueView queue_;
  std::vector<std::string> log_lines_;
  common::EventLog log_;
  common::MetricsRegistry metrics_;
  std::unique_ptr<OutputChecker> checker_;
  std::unique_ptr<OrderJournal> journal_;
  std::unique_ptr<Submitter> submitter_;
};

TEST(ParseSbatchJobIdTest, ParsableOutputs) {
  EXPECT_EQ(ParseSbatchJobId("4812\n").value_or(""), "4812");
  EXPECT_EQ(ParseSbatchJobId("4812;hpc1\n").value_or(""), "4812");
  EXPECT_EQ(ParseSbatchJobId("\n  4813 \n\n").value_or(""), "4813");
  EXPECT_EQ(
      ParseSbatchJobId("sbatch: note: something\n4814;hpc1\n").value_or(""),
      "4814");
  EXPECT_THAT(ParseSbatchJobId(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("printed no job id")));
  EXPECT_THAT(ParseSbatchJobId("Submitted batch job 4812\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Submitted batch job 4812")));
  EXPECT_FALSE(ParseSbatchJobId("-5\n").ok());
  EXPECT_FALSE(ParseSbatchJobId("+5\n").ok());
}

TEST(FindTaggedJobTest, FindsTheTagAndGivesTheJobId) {
  QueueSnapshot snapshot = SnapshotWith(
      {{"100", "ccb:o-10"}, {"200_3", "ccb:o-2"}, {"300", "user comment"}});
  EXPECT_EQ(FindTaggedJob(snapshot, "ccb:o-2"), "200");
  EXPECT_EQ(FindTaggedJob(snapshot, "ccb:o-1"), std::nullopt);
  EXPECT_EQ(FindTaggedJob(snapshot, "ccb:o-10"), "100");
}

TEST_F(SubmitterTest, SubmitsWithSbatchAndAnswersTheId) {
  runner_.OnProgram("sbatch", ExitedWith(0, "4812;hpc1\n"),
                    absl::Milliseconds(300));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.order_id(), "o-1");
  EXPECT_EQ(result.slurm_job_id(), "4812");
  // The time sbatch started: a lower bound of the submission.
  EXPECT_EQ(FromProto(result.submitted_at()), kNow);

  ASSERT_EQ(runner_.CallCount(), 1);
  const common::ProcessRequest request = runner_.Calls()[0];
  EXPECT_THAT(request.argv,
              ElementsAre("/usr/bin/sbatch", "--parsable", "--comment=ccb:o-1",
                          "--chdir=/runs/b1/water", kScript));
  EXPECT_EQ(request.timeout, absl::Seconds(45));
  EXPECT_EQ(request.working_directory, kDir);

  std::optional<JournalEntry> journaled = journal_->Find("o-1");
  ASSERT_TRUE(journaled.has_value() && journaled->result.has_value());
  EXPECT_EQ(journaled->result->slurm_job_id(), "4812");
  EXPECT_TRUE(Logged("sbatch_submitted"));
  for (const std::string& line : log_lines_) {
    if (absl::StrContains(line, "event=sbatch_submitted")) {
      EXPECT_THAT(line, HasSubstr("cluster=hpc1"));
      EXPECT_THAT(line, HasSubstr("job=b1/water"));
      EXPECT_THAT(line, HasSubstr("slurm_job_id=4812"));
    }
  }
}

TEST_F(SubmitterTest, ResentOrderIsNeverSubmittedTwiceEvenAfterARestart) {
  runner_.OnProgram("sbatch", ExitedWith(0, "4812\n"));
  const v1::SubmitResult first = submitter_->Submit(Order());
  ASSERT_EQ(first.slurm_job_id(), "4812");
  const v1::SubmitResult again = submitter_->Submit(Order());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  Restart();
  const v1::SubmitResult after_restart = submitter_->Submit(Order());
  EXPECT_EQ(after_restart.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(SbatchCalls(), 1);
  EXPECT_TRUE(Logged("submit_answered_from_journal"));
}

TEST_F(SubmitterTest, SbatchRefusalIsTheAnswerAndIsNotRetriedOnResend) {
  runner_.OnProgram(
      "sbatch",
      ExitedWith(1, "",
                 "sbatch: error: Batch job submission failed: Invalid account "
                 "or account/partition combination specified\n"));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.slurm_job_id(), "");
  EXPECT_THAT(result.error(), HasSubstr("sbatch exited with status 1"));
  EXPECT_THAT(result.error(), HasSubstr("Invalid account"));
  EXPECT_EQ(submitter_->Submit(Order()).error(), result.error());
  EXPECT_EQ(SbatchCalls(), 1);
}

TEST_F(SubmitterTest, SbatchThatCannotStartIsAnError) {
  runner_.OnProgram("sbatch",
                    absl::NotFoundError("/usr/bin/sbatch: No such file"));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("could not run sbatch"));
}

TEST_F(SubmitterTest, MissingJobScriptIsAnErrorWithoutSbatch) {
  fs_.RemoveFile(kScript);
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("job script"));
  EXPECT_THAT(result.error(), HasSubstr(kScript));
  EXPECT_EQ(SbatchCalls(), 0);
}

TEST_F(SubmitterTest, TagInTheLatestSnapshotIsTheAnswer) {
  // Submitted before a crash that also lost the journal entry.
  queue_.SetLatest(SnapshotWith({{"4700", "ccb:o-0"}, {"4701", "ccb:o-1"}}));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.slurm_job_id(), "4701");
  EXPECT_FALSE(result.has_submitted_at());
  EXPECT_EQ(SbatchCalls(), 0);
  ASSERT_TRUE(journal_->Find("o-1").has_value());
  EXPECT_TRUE(journal_->Find("o-1")->result.has_value());
}

TEST_F(SubmitterTest, InFlightOrderIsSettledByItsTagInAFreshSnapshot) {
  const absl::Time started = kNow - absl::Minutes(3);
  ASSERT_THAT(journal_->RecordStarted("o-1", started), IsOk());
  Restart();
  clock_.Advance(absl::Seconds(10));
  queue_.SetFresh(SnapshotWith({{"4801", "ccb:o-1"}}, clock_.Now()));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.slurm_job_id(), "4801");
  EXPECT_EQ(FromProto(result.submitted_at()), started);
  EXPECT_EQ(SbatchCalls(), 0);
  // The snapshot had to be taken after the re-sent order arrived.
  EXPECT_THAT(queue_.fresh_requests(), ElementsAre(clock_.Now()));
}

TEST_F(SubmitterTest, InFlightOrderWithoutTraceIsSubmitted) {
  ASSERT_THAT(journal_->RecordStarted("o-1", kNow - absl::Minutes(3)), IsOk());
  Restart();
  queue_.SetFresh(SnapshotWith({{"4700", "ccb:o-0"}}));
  runner_.OnProgram("sbatch", ExitedWith(0, "4900\n"));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.slurm_job_id(), "4900");
  EXPECT_EQ(SbatchCalls(), 1);
}

TEST_F(SubmitterTest, InFlightOrderWithoutFreshSnapshotIsNotResubmitted) {
  ASSERT_THAT(journal_->RecordStarted("o-1", kNow - absl::Minutes(3)), IsOk());
  Restart();
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("cannot tell whether sbatch ran"));
  EXPECT_THAT(result.error(), HasSubstr("ccb:o-1"));
  EXPECT_EQ(SbatchCalls(), 0);
  // Still unsettled: a later re-send tries again.
  ASSERT_TRUE(journal_->Find("o-1").has_value());
  EXPECT_FALSE(journal_->Find("o-1")->result.has_value());
}

TEST_F(SubmitterTest, InFlightOrderWhoseJobAlreadyLeftTheQueueIsAdopted) {
  const absl::Time started = kNow - absl::Hours(2);
  ASSERT_THAT(journal_->RecordStarted("o-1", started), IsOk());
  Restart();
  fs_.SetFile(kLog, kGaussianDone, started + absl::Hours(1));
  queue_.SetFresh(SnapshotWith({}));
  const v1::SubmitResult result = submitter_->Submit(Order());
  ASSERT_TRUE(result.has_adopted()) << result.DebugString();
  EXPECT_EQ(result.adopted().outcome(), v1::Verdict::OUTCOME_SUCCEEDED);
  EXPECT_EQ(SbatchCalls(), 0);
}

TEST_F(SubmitterTest, ExistingOutputIsAdoptedInsteadOfSubmitting) {
  fs_.SetFile(kLog, kGaussianDone, kNow - absl::Hours(72));
  const v1::SubmitResult result = submitter_->Submit(Order());
  ASSERT_TRUE(result.has_adopted()) << result.DebugString();
  EXPECT_EQ(result.adopted().outcome(), v1::Verdict::OUTCOME_SUCCEEDED);
  EXPECT_EQ(result.adopted().job_key(), "b1/water");
  EXPECT_EQ(result.adopted().output_path(), kLog);
  EXPECT_EQ(SbatchCalls(), 0);
  EXPECT_EQ(submitter_->Submit(Order()).SerializeAsString(),
            result.SerializeAsString());
}

TEST_F(SubmitterTest, ExistingFailedOutputIsAdoptedAsFailed) {
  fs_.SetFile(kLog, kGaussianScfFail, kNow - absl::Hours(72));
  const v1::SubmitResult result = submitter_->Submit(Order());
  ASSERT_TRUE(result.has_adopted());
  EXPECT_EQ(result.adopted().outcome(), v1::Verdict::OUTCOME_FAILED);
  EXPECT_EQ(result.adopted().cause(), "scf_fail");
  EXPECT_EQ(SbatchCalls(), 0);
}

TEST_F(SubmitterTest, RetryArchivesThePreviousAttemptAndDoesNotAdopt) {
  fs_.SetFile(kLog, kGaussianScfFail, kNow - absl::Hours(1));
  fs_.SetFile("/runs/b1/water/slurm-100.out", "old\n", kNow - absl::Hours(1));
  // A live job sharing the directory keeps its slurm file.
  fs_.SetFile("/runs/b1/water/slurm-200.out", "live\n", kNow);
  fs_.SetFile("/runs/b1/water/water.gjf", "input\n", kNow - absl::Hours(2));
  queue_.SetLatest(SnapshotWith({{"200", "someone else"}}));
  runner_.OnProgram("sbatch", ExitedWith(0, "4813\n"));
  v1::SubmitOrder order = Order("o-2");
  order.set_attempt(3);
  order.set_is_retry(true);

  const v1::SubmitResult result = submitter_->Submit(order);
  EXPECT_EQ(result.slurm_job_id(), "4813");
  EXPECT_EQ(fs_.Contents(kLog), std::nullopt);
  EXPECT_EQ(fs_.Contents("/runs/b1/water/.ccbatch/attempt-2/water.log"),
            std::string(kGaussianScfFail));
  EXPECT_EQ(fs_.Contents("/runs/b1/water/.ccbatch/attempt-2/slurm-100.out"),
            "old\n");
  EXPECT_EQ(fs_.Contents("/runs/b1/water/slurm-100.out"), std::nullopt);
  EXPECT_EQ(fs_.Contents("/runs/b1/water/slurm-200.out"), "live\n");
  EXPECT_EQ(fs_.Contents("/runs/b1/water/water.gjf"), "input\n");
  EXPECT_TRUE(Logged("retry_archived"));
}

TEST_F(SubmitterTest, RetryWithNothingToArchiveJustSubmits) {
  runner_.OnProgram("sbatch", ExitedWith(0, "4814\n"));
  v1::SubmitOrder order = Order("o-3");
  order.set_attempt(2);
  order.set_is_retry(true);
  EXPECT_EQ(submitter_->Submit(order).slurm_job_id(), "4814");
  EXPECT_EQ(fs_.Contents("/runs/b1/water/.ccbatch/attempt-1"), std::nullopt);
}

TEST_F(SubmitterTest, TransfersAreCopiedBeforeSbatch) {
  fs_.SetFile("/runs/b1/opt/opt.xyz", "3\nwater\nO 0 0 0\n", kNow);
  runner_.OnProgram("sbatch", ExitedWith(0, "4815\n"));
  v1::SubmitOrder order = Order();
  v1::FileTransfer* transfer = order.add_transfers();
  transfer->set_source("/runs/b1/opt/opt.xyz");
  transfer->set_destination("/runs/b1/water/opt.xyz");
  EXPECT_EQ(submitter_->Submit(order).slurm_job_id(), "4815");
  EXPECT_EQ(fs_.Contents("/runs/b1/water/opt.xyz"), "3\nwater\nO 0 0 0\n");
}

TEST_F(SubmitterTest, MissingTransferSourceIsAnErrorNamingTheFile) {
  v1::SubmitOrder order = Order();
  v1::FileTransfer* transfer = order.add_transfers();
  transfer->set_source("/runs/b1/opt/opt.gbw");
  transfer->set_destination("/runs/b1/water/opt.gbw");
  const v1::SubmitResult result = submitter_->Submit(order);
  EXPECT_THAT(result.error(), HasSubstr("/runs/b1/opt/opt.gbw does not exist"));
  EXPECT_EQ(SbatchCalls(), 0);
  EXPECT_TRUE(Logged("transfer_failed"));
}

TEST_F(SubmitterTest, SbatchTimeoutIsSettledByTheTag) {
  runner_.OnProgram("sbatch", TimedOutWith(""), absl::Seconds(45));
  queue_.SetFresh(SnapshotWith({{"4816", "ccb:o-1"}}, kNow + absl::Minutes(1)));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_EQ(result.slurm_job_id(), "4816");
}

TEST_F(SubmitterTest, SbatchTimeoutWithoutTagSaysNothingWasSubmitted) {
  runner_.OnProgram("sbatch", TimedOutWith(""), absl::Seconds(45));
  queue_.SetFresh(SnapshotWith({}, kNow + absl::Minutes(1)));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("sbatch timed out after 45s"));
  EXPECT_THAT(result.error(), HasSubstr("nothing was submitted"));
}

TEST_F(SubmitterTest, SbatchExitZeroWithoutIdAndNoQueueIsReportedAsUncertain) {
  runner_.OnProgram("sbatch", ExitedWith(0, "garbage\n"));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("printed no job id"));
  EXPECT_THAT(result.error(), HasSubstr("look for comment ccb:o-1"));
}

TEST_F(SubmitterTest, JournalFailureBeforeSbatchSubmitsNothing) {
  fs_.SetError(absl::StrCat(kStateDir, "/orders.journal"),
               absl::ResourceExhaustedError("No space left on device"));
  const v1::SubmitResult result = submitter_->Submit(Order());
  EXPECT_THAT(result.error(), HasSubstr("nothing was submitted"));
  EXPECT_THAT(result.error(), HasSubstr("No space left"));
  EXPECT_EQ(SbatchCalls(), 0);
}

TEST_F(SubmitterTest, InvalidOrderIsRefusedAndNotJournaled) {
  v1::SubmitOrder order = Order();
  order.set_directory("runs/b1/water");
  EXPECT_THAT(submitter_->Submit(order).error(),
              HasSubstr("not an absolute path"));
  order = Order();
  order.set_basename("../water");
  EXPECT_THAT(submitter_->Submit(order).error(), HasSubstr("bad job basename"));
  order = Order();
  order.set_is_retry(true);
  EXPECT_THAT(submitter_->Submit(order).error(), HasSubstr("attempt 1"));
  EXPECT_EQ(journal_->size(), 0u);
  EXPECT_EQ(runner_.CallCount(), 0);
}

TEST_F(SubmitterTest, CancelRunsScancel) {
  runner_.OnProgram("scancel", ExitedWith(0));
  v1::CancelOrder order;
  order.set_order_id("c-1");
  order.set_job_key("b1/water");
  order.set_slurm_job_id("4812");
  const v1::CancelResult result = submitter_->Cancel(order);
  EXPECT_EQ(result.order_id(), "c-1");
  EXPECT_TRUE(result.ok());
  ASSERT_EQ(runner_.CallCount(), 1);
  EXPECT_THAT(runner_.Calls()[0].argv, ElementsAre("/usr/bin/scancel", "4812"));
}

TEST_F(SubmitterTest, CancelOfAJobAlreadyGoneIsOk) {
  runner_.OnProgram(
      "scancel",
      ExitedWith(1, "",
                 "scancel: error: Kill job error on job id 4812: Invalid job "
                 "id specified\n"));
  v1::CancelOrder order;
  order.set_order_id("c-1");
  order.set_slurm_job_id("4812");
  EXPECT_TRUE(submitter_->Cancel(order).ok());
}

TEST_F(SubmitterTest, CancelFailureCarriesScancelsMessage) {
  runner_.OnProgram(
      "scancel",
      ExitedWith(1, "",
                 "scancel: error: Unable to contact slurm controller\n"));
  v1::CancelOrder order;
  order.set_order_id("c-1");
  order.set_slurm_job_id("4812");
  const v1::CancelResult result = submitter_->Cancel(order);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(result.error(), HasSubstr("Unable to contact slurm controller"));

  order.set_slurm_job_id("--all");
  const v1::CancelResult refused = submitter_->Cancel(order);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.error(), HasSubstr("not a SLURM job id"));
  EXPECT_EQ(runner_.CallCount(), 1);
}

TEST_F(SubmitterTest, CheckOutputAnswersTheCheckersVerdict) {
  fs_.SetFile(kLog, kGaussianDone, kNow - absl::Minutes(1));
  v1::CheckOutput order;
  order.set_order_id("k-1");
  order.set_job_key("b1/water");
  order.set_directory(kDir);
  order.set_basename("water");
  order.set_program(v1::PROGRAM_GAUSSIAN);
  order.set_slurm_job_id("4812");
  order.set_attempt(1);
  const v1::CheckOutputResult result = submitter_->CheckOutput(order);
  EXPECT_EQ(result.order_id(), "k-1");
  EXPECT_EQ(result.verdict().outcome(), v1::Verdict::OUTCOME_SUCCEEDED);
  EXPECT_EQ(result.verdict().slurm_job_id(), "4812");

  order.set_program(v1::PROGRAM_UNSPECIFIED);
  const v1::CheckOutputResult refused = submitter_->CheckOutput(order);
  EXPECT_EQ(refused.verdict().outcome(), v1::Verdict::OUTCOME_UNSPECIFIED);
  EXPECT_FALSE(refused.verdict().summary().empty());
  EXPECT_TRUE(Logged("check_output_refused"));
}

TEST_F(SubmitterTest, EveryJudgedOutputIsTimed) {
  fs_.SetFile(kLog, kGaussianDone, kNow - absl::Minutes(1));
  v1::CheckOutput order;
  order.set_order_id("k-1");
  order.set_job_key("b1/water");
  order.set_directory(kDir);
  order.set_basename("water");
  order.set_program(v1::PROGRAM_GAUSSIAN);
  order.set_slurm_job_id("4812");
  order.set_attempt(1);
  submitter_->CheckOutput(order);
  Restart();  // the histogram survives a new submitter on the registry
  order.set_program(v1::PROGRAM_UNSPECIFIED);
  submitter_->CheckOutput(order);  // refused by the checker: timed too
  EXPECT_THAT(SampleValue(metrics_.ExpositionText(),
                          "ccbatch_agent_verdict_parse_seconds_count"),
              Optional(2.0));
}

}  // namespace
}  // namespace ccbatch::agent
