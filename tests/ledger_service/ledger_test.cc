// The ledger core over a MemoryStore and a FakeClock: imports, the agent
// protocol (snapshots, orders, results), the scheduler's limits, user
// intents, restarts, and the query side.
#include "ledger_service/ledger.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_service/store.h"
#include "tests/ledger_service/ledger_harness.h"
#include "tests/ledger_service/random_history.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::ledger::testing::Cancels;
using ::ccbatch::ledger::testing::Checks;
using ::ccbatch::ledger::testing::Entry;
using ::ccbatch::ledger::testing::JobSpec;
using ::ccbatch::ledger::testing::LedgerHarness;
using ::ccbatch::ledger::testing::MakeBatch;
using ::ccbatch::ledger::testing::Submits;
using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::ccbatch::v1::Verdict;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr auto kWaiting = ccbatch::v1::JOB_STATUS_WAITING;
constexpr auto kReady = ccbatch::v1::JOB_STATUS_READY;
constexpr auto kSubmitting = ccbatch::v1::JOB_STATUS_SUBMITTING;
constexpr auto kSubmitted = ccbatch::v1::JOB_STATUS_SUBMITTED;
constexpr auto kPending = ccbatch::v1::JOB_STATUS_PENDING;
constexpr auto kRunning = ccbatch::v1::JOB_STATUS_RUNNING;
constexpr auto kCompleting = ccbatch::v1::JOB_STATUS_COMPLETING;
constexpr auto kSucceeded = ccbatch::v1::JOB_STATUS_SUCCEEDED;
constexpr auto kFailed = ccbatch::v1::JOB_STATUS_FAILED;
constexpr auto kBroken = ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY;
constexpr auto kCancelled = ccbatch::v1::JOB_STATUS_CANCELLED;
constexpr auto kUnknown = ccbatch::v1::JOB_STATUS_UNKNOWN;

std::vector<std::string> OrderIds(
    const std::vector<ccbatch::v1::LedgerDirective>& directives) {
  std::vector<std::string> ids;
  for (const auto& d : directives) {
    if (d.has_submit()) ids.push_back(d.submit().order_id());
    if (d.has_check_output()) ids.push_back(d.check_output().order_id());
    if (d.has_cancel()) ids.push_back(d.cancel().order_id());
  }
  return ids;
}

std::vector<std::string> SubmittedKeys(
    const std::vector<ccbatch::v1::LedgerDirective>& directives) {
  std::vector<std::string> keys;
  for (const auto& submit : Submits(directives))
    keys.push_back(submit.job_key());
  return keys;
}

uint64_t CountKeys(const Store& store, Column column) {
  uint64_t count = 0;
  EXPECT_THAT(store.Scan(column, "",
                         [&](absl::string_view, absl::string_view) {
                           ++count;
                           return true;
                         }),
              IsOk());
  return count;
}

// A harness with one batch imported, the agent connected, and every
// adoption check answered "nothing to adopt". Returns the directives that
// followed (submissions).
std::vector<ccbatch::v1::LedgerDirective> ImportAndAdoptNothing(
    LedgerHarness& h, const ccbatch::v1::BatchDefinition& batch) {
  EXPECT_THAT(h.Import(batch), IsOk());
  h.Connect();
  std::vector<ccbatch::v1::LedgerDirective> adoptions = h.Take();
  h.AnswerAdoptionsWithNothing(adoptions);
  return h.Take();
}

// Submits `key`'s order from `directives` as slurm job `id`, then advances
// the clock so later snapshots are taken after the submission.
void Submit(LedgerHarness& h,
            const std::vector<ccbatch::v1::LedgerDirective>& directives,
            const std::string& key, const std::string& id) {
  for (const auto& submit : Submits(directives)) {
    if (submit.job_key() != key) continue;
    ASSERT_THAT(h.SubmitOk(submit.order_id(), id), IsOk());
    h.clock().Advance(absl::Seconds(1));
    return;
  }
  FAIL() << "no SubmitOrder for " << key;
}

// ---- Import -----------------------------------------------------------------

TEST(LedgerImportTest, BadBatchIsRefusedWholeAndStoresNothing) {
  LedgerHarness h;
  ccbatch::v1::BatchDefinition batch =
      MakeBatch("b", {{"opt", {}}, {"freq", {"opt"}}});
  batch.mutable_jobs(1)->set_basename("opt");  // duplicate basename, bad key
  EXPECT_THAT(h.Import(batch),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b/")));
  for (Column column : {Column::kBatches, Column::kJobs, Column::kOrders,
                        Column::kStatus, Column::kEvents}) {
    EXPECT_EQ(CountKeys(h.store(), column), 0u) << ColumnName(column);
  }
  EXPECT_THAT(h.AllStatuses(), IsEmpty());
}

TEST(LedgerImportTest, MissingClusterUsesTheDefaultOrIsRefused) {
  LedgerHarness refusing;
  ccbatch::v1::BatchDefinition batch = MakeBatch("b", {{"opt", {}}}, "");
  EXPECT_THAT(refusing.Import(batch),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("names no cluster")));

  LedgerOptions options;
  options.default_cluster = "hpc9";
  LedgerHarness defaulting(options);
  CCB_ASSERT_OK_AND_ASSIGN(auto response, defaulting.Import(batch));
  EXPECT_EQ(response.batch().cluster(), "hpc9");
  EXPECT_EQ(defaulting.View("b/opt").cluster(), "hpc9");
}

TEST(LedgerImportTest, StatusesBeforeAnyAgentSpeaks) {
  LedgerHarness h;
  CCB_ASSERT_OK_AND_ASSIGN(
      auto response,
      h.Import(MakeBatch("b", {{"opt", {}}, {"freq", {"opt"}}}, "hpc1", 4)));
  EXPECT_EQ(response.jobs_added(), 2);
  EXPECT_EQ(response.batch().job_count(), 2);
  EXPECT_EQ(response.batch().max_parallel(), 4);
  EXPECT_EQ(h.StatusOf("b/opt"), kReady);
  EXPECT_EQ(h.StatusOf("b/freq"), kWaiting);
  EXPECT_THAT(h.View("b/freq").reason(), HasSubstr("upstream b/opt is READY"));
}

TEST(LedgerImportTest, ReimportAddsUpdatesAndKeepsSubmittedDefinitions) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"opt", {}}, {"sp", {}}, {"freq", {"opt"}}}));
  Submit(h, submits, "b/opt", "100");

  ccbatch::v1::BatchDefinition again =
      MakeBatch("b", {{"new", {}}, {"opt", {}}, {"sp", {}}, {"freq", {"sp"}}});
  again.mutable_jobs(1)->set_program(ccbatch::v1::PROGRAM_ORCA);  // submitted
  CCB_ASSERT_OK_AND_ASSIGN(auto response, h.Import(again));
  EXPECT_EQ(response.jobs_added(), 1);
  EXPECT_EQ(response.jobs_updated(), 1);  // freq: now from sp
  EXPECT_EQ(response.jobs_unchanged(), 1);
  EXPECT_THAT(response.jobs_kept(), ElementsAre("b/opt"));
  EXPECT_EQ(response.batch().job_count(), 4);

  ccbatch::v1::GetJobRequest get;
  get.set_key("b/opt");
  CCB_ASSERT_OK_AND_ASSIGN(auto opt, h.ledger().GetJob(get));
  EXPECT_EQ(opt.definition().program(), ccbatch::v1::PROGRAM_XTB);
  EXPECT_EQ(opt.view().status(), kSubmitted);  // statuses are never reset
  get.set_key("b/freq");
  CCB_ASSERT_OK_AND_ASSIGN(auto freq, h.ledger().GetJob(get));
  EXPECT_THAT(freq.definition().upstream_keys(), ElementsAre("b/sp"));
  // Listing follows the new batchfile order.
  std::vector<std::string> keys;
  for (const auto& [key, status] : h.AllStatuses()) keys.push_back(key);
  EXPECT_THAT(keys, ElementsAre("b/new", "b/opt", "b/sp", "b/freq"));
}

TEST(LedgerImportTest, ReimportThatWouldCycleThroughAKeptJobIsRefused) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}, {"c", {"a"}}})), IsOk());
  h.Connect();
  auto adoptions = h.Take();
  ASSERT_THAT(Checks(adoptions), SizeIs(2));
  ASSERT_THAT(h.Verdict(Checks(adoptions)[0], Verdict::OUTCOME_SUCCEEDED),
              IsOk());
  h.AnswerAdoptionsWithNothing({adoptions[1]});
  Submit(h, h.Take(), "b/c", "100");
  // c was submitted depending on a and keeps that definition; a would now
  // depend on c.
  EXPECT_THAT(h.Import(MakeBatch("b", {{"c", {}}, {"a", {"c"}}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dependency cycle"), HasSubstr("b/a"),
                             HasSubstr("b/c"))));
  ccbatch::v1::GetJobRequest get;
  get.set_key("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto a, h.ledger().GetJob(get));
  EXPECT_THAT(a.definition().upstream_keys(), IsEmpty());
}

// ---- Adoption ---------------------------------------------------------------

TEST(LedgerAdoptionTest, ExistingOutputIsAdoptedBeforeAnythingIsSubmitted) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"opt", {}}, {"freq", {"opt"}}})),
              IsOk());
  h.Connect();
  auto directives = h.Take();
  ASSERT_THAT(Checks(directives), SizeIs(2));
  EXPECT_THAT(Submits(directives), IsEmpty());
  for (const auto& check : Checks(directives)) {
    EXPECT_EQ(check.attempt(), 0);
    EXPECT_EQ(check.slurm_job_id(), "");
    EXPECT_EQ(check.directory(), absl::StrCat("/scratch/", check.job_key()));
  }
  // opt is READY but its adoption check is outstanding: nothing submitted.
  EXPECT_EQ(h.StatusOf("b/opt"), kReady);
  EXPECT_THAT(h.Take(), IsEmpty());

  ASSERT_THAT(h.Verdict(Checks(directives)[0], Verdict::OUTCOME_SUCCEEDED),
              IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kSucceeded);
  EXPECT_THAT(h.View("b/opt").reason(), HasSubstr("existing output adopted"));
  EXPECT_EQ(h.StatusOf("b/freq"), kReady);
  EXPECT_THAT(h.Take(), IsEmpty());  // freq's adoption still outstanding

  h.AnswerAdoptionsWithNothing({directives[1]});
  auto submits = h.Take();
  ASSERT_THAT(Submits(submits), SizeIs(1));
  const ccbatch::v1::SubmitOrder submit = Submits(submits)[0];
  EXPECT_EQ(submit.job_key(), "b/freq");
  EXPECT_EQ(submit.attempt(), 1);
  EXPECT_FALSE(submit.is_retry());
  ASSERT_EQ(submit.transfers_size(), 1);
  EXPECT_EQ(submit.transfers(0).source(), "/scratch/b/opt/opt.xyz");
  EXPECT_EQ(submit.transfers(0).destination(), "/scratch/b/freq/opt.xyz");
  EXPECT_EQ(h.StatusOf("b/freq"), kSubmitting);
}

TEST(LedgerAdoptionTest, AdoptedAtSubmissionCountsAsTheAttemptsOutcome) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  ccbatch::v1::SubmitResult result;
  result.set_order_id(Submits(submits)[0].order_id());
  result.mutable_adopted()->set_outcome(Verdict::OUTCOME_SUCCEEDED);
  result.mutable_adopted()->set_summary("normal termination");
  ASSERT_THAT(h.ledger().ApplySubmitResult("hpc1", result), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kSucceeded);
  EXPECT_THAT(h.View("b/opt").reason(), HasSubstr("adopted at submission"));
}

// ---- The life of a job ------------------------------------------------------

TEST(LedgerLifecycleTest, PendingRunningAbsentCompletingVerdictSucceeded) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"opt", {}}, {"freq", {"opt"}}}));
  EXPECT_THAT(SubmittedKeys(submits), ElementsAre("b/opt"));
  Submit(h, submits, "b/opt", "4812");
  EXPECT_EQ(h.StatusOf("b/opt"), kSubmitted);
  EXPECT_EQ(h.View("b/opt").slurm_job_id(), "4812");

  ASSERT_THAT(h.Snapshot({Entry("4812", "PENDING")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kPending);
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("4812", "RUNNING", "c041")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
  EXPECT_THAT(h.View("b/opt").reason(), HasSubstr("on c041"));
  EXPECT_THAT(h.Take(), IsEmpty());

  h.clock().Advance(absl::Seconds(30));
  const absl::Time left_at = h.clock().Now();
  ASSERT_THAT(h.Snapshot({}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kCompleting);
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  EXPECT_EQ(checks[0].job_key(), "b/opt");
  EXPECT_EQ(checks[0].slurm_job_id(), "4812");
  EXPECT_EQ(checks[0].attempt(), 1);
  EXPECT_EQ(checks[0].finished_seen_at().seconds(),
            absl::ToUnixSeconds(left_at));
  EXPECT_TRUE(checks[0].has_attempt_submitted_at());
  EXPECT_EQ(checks[0].scheduler_state(), "");  // left while RUNNING

  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_SUCCEEDED), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kSucceeded);
  EXPECT_EQ(h.StatusOf("b/freq"), kSubmitting);  // READY, then submitted
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/freq"));
}

TEST(LedgerLifecycleTest, TerminalStateIsTheCauseTheCheckCarries) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  Submit(h, submits, "b/opt", "7");
  ASSERT_THAT(h.Snapshot({Entry("7", "TIMEOUT")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kCompleting);
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  EXPECT_EQ(checks[0].scheduler_state(), "TIMEOUT");
  EXPECT_TRUE(checks[0].has_finished_seen_at());
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "TIMEOUT"), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kFailed);
}

TEST(LedgerLifecycleTest, RequeueKeepsTheSameAttempt) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  Submit(h, submits, "b/opt", "7");
  ASSERT_THAT(h.Snapshot({Entry("7", "RUNNING")}), IsOk());
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("7", "PENDING")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kPending);
  EXPECT_EQ(h.View("b/opt").attempt(), 1);
  EXPECT_THAT(h.Take(), IsEmpty());
}

TEST(LedgerLifecycleTest,
     SnapshotTakenBeforeSubmissionDoesNotMakeTheJobAbsent) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  const absl::Time before = h.clock().Now();
  h.clock().Advance(absl::Seconds(5));
  ASSERT_THAT(h.SubmitOk(Submits(submits)[0].order_id(), "9"), IsOk());
  AssembledSnapshot old_snapshot;
  old_snapshot.seq = 1;
  old_snapshot.taken_at = before;  // squeue ran before sbatch answered
  ASSERT_THAT(h.ledger().ApplySnapshot("hpc1", old_snapshot), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kSubmitted);
  EXPECT_THAT(h.Take(), IsEmpty());  // no CheckOutput
}

TEST(LedgerLifecycleTest, OlderOrRepeatedSnapshotSequenceIsIgnored) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  Submit(h, submits, "b/opt", "9");
  AssembledSnapshot snapshot;
  snapshot.seq = 5;
  snapshot.taken_at = h.clock().Now();
  snapshot.entries = {Entry("9", "RUNNING")};
  ASSERT_THAT(h.ledger().ApplySnapshot("hpc1", snapshot), IsOk());
  snapshot.seq = 5;
  snapshot.entries.clear();
  ASSERT_THAT(h.ledger().ApplySnapshot("hpc1", snapshot), IsOk());
  snapshot.seq = 4;
  ASSERT_THAT(h.ledger().ApplySnapshot("hpc1", snapshot), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
  EXPECT_EQ(h.ledger().ListClusters().clusters(0).last_snapshot_seq(), 5u);
}

TEST(LedgerLifecycleTest, JobIdArrivingAfterASnapshotThatListsItUsesItsEntry) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  const absl::Time submitted = h.clock().Now();
  h.clock().Advance(absl::Seconds(10));
  ASSERT_THAT(h.Snapshot({Entry("55", "RUNNING")}), IsOk());  // not yet ours
  ccbatch::v1::SubmitResult result;
  result.set_order_id(Submits(submits)[0].order_id());
  result.set_slurm_job_id("55");
  result.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(submitted));
  ASSERT_THAT(h.ledger().ApplySubmitResult("hpc1", result), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
}

// ---- Probes and staleness ---------------------------------------------------

TEST(LedgerHealthTest, FailedProbeNeverFinishesJobsAndStalenessComesBack) {
  LedgerOptions options;
  options.staleness = absl::Minutes(5);
  LedgerHarness h(options);
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  Submit(h, submits, "b/opt", "7");
  ASSERT_THAT(h.Snapshot({Entry("7", "RUNNING")}), IsOk());

  ccbatch::v1::ProbeFailure failure;
  failure.set_error(
      "slurm_load_jobs error: Unable to contact slurm controller");
  failure.set_exit_code(1);
  h.clock().Advance(absl::Minutes(1));
  ASSERT_THAT(h.ledger().ApplyProbeFailure("hpc1", failure), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
  EXPECT_THAT(h.Take(), IsEmpty());
  EXPECT_THAT(h.ledger().ListClusters().clusters(0).last_probe_error(),
              HasSubstr("Unable to contact"));

  h.clock().Advance(absl::Minutes(4));  // exactly at the limit: still fresh
  h.ledger().Tick();
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
  h.clock().Advance(absl::Seconds(1));
  h.ledger().Tick();
  EXPECT_EQ(h.StatusOf("b/opt"), kUnknown);
  EXPECT_THAT(h.View("b/opt").reason(), HasSubstr("Unable to contact"));

  ASSERT_THAT(h.Snapshot({Entry("7", "RUNNING")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kRunning);
  EXPECT_EQ(h.ledger().ListClusters().clusters(0).last_probe_error(), "");
}

// ---- Scheduling limits ------------------------------------------------------

TEST(LedgerSchedulingTest, MaxParallelIsRespectedInBatchfileOrder) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"j0", {}}, {"j1", {}}, {"j2", {}}, {"j3", {}}},
                   "hpc1", 2));
  EXPECT_THAT(SubmittedKeys(submits), ElementsAre("b/j0", "b/j1"));
  Submit(h, submits, "b/j0", "1");
  Submit(h, submits, "b/j1", "2");
  ASSERT_THAT(h.Snapshot({Entry("1", "RUNNING"), Entry("2", "RUNNING")}),
              IsOk());
  EXPECT_THAT(h.Take(), IsEmpty());
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("2", "RUNNING")}), IsOk());
  auto directives = h.Take();  // j0 COMPLETING still occupies its slot
  EXPECT_THAT(Submits(directives), IsEmpty());
  ASSERT_THAT(Checks(directives), SizeIs(1));
  ASSERT_THAT(h.Verdict(Checks(directives)[0], Verdict::OUTCOME_SUCCEEDED),
              IsOk());
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/j2"));
}

TEST(LedgerSchedulingTest, ClusterCapCountsForeignJobsAndSubmitting) {
  LedgerOptions options;
  options.cluster_caps["hpc1"] = 3;
  LedgerHarness h(options);
  h.Connect();
  ASSERT_THAT(h.Snapshot({Entry("900", "PENDING"), Entry("901", "RUNNING"),
                          Entry("902", "COMPLETED")}),
              IsOk());
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"j0", {}}, {"j1", {}}, {"j2", {}}}));
  // 2 foreign jobs in the queue (the COMPLETED one does not count): 1 slot.
  EXPECT_THAT(SubmittedKeys(submits), ElementsAre("b/j0"));
  Submit(h, submits, "b/j0", "1");
  ASSERT_THAT(h.Snapshot({Entry("900", "PENDING"), Entry("1", "RUNNING")}),
              IsOk());
  // 900 left: 901 and the SUBMITTED... now RUNNING job 1 count, one slot.
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/j1"));
}

TEST(LedgerSchedulingTest, PausedBatchDerivesButSubmitsNothingUntilResumed) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"opt", {}}}), /*paused=*/true), IsOk());
  h.Connect();
  h.AnswerAdoptionsWithNothing(h.Take());
  EXPECT_EQ(h.StatusOf("b/opt"), kReady);
  EXPECT_THAT(h.Take(), IsEmpty());
  CCB_ASSERT_OK_AND_ASSIGN(auto info, h.ledger().SetPaused("b", false));
  EXPECT_FALSE(info.paused());
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/opt"));
  EXPECT_THAT(h.ledger().SetPaused("nope", true),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

}  // namespace
}  // namespace ccbatch::ledger
