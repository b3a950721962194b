// The ledger core over a MemoryStore and a FakeClock: imports, the agent
// protocol (snapshots, orders, results), the scheduler's limits, user
// intents, restarts, and the query side.
#include "ledger_service/ledger.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
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
using ::testing::Not;
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

TEST(LedgerLifecycleTest, TaggedLineOfAJobStillSubmittingSurvivesARestart) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  const ccbatch::v1::SubmitOrder order = Submits(submits)[0];
  const absl::Time submitted = h.clock().Now();
  h.clock().Advance(absl::Seconds(10));
  // The job failed at once; squeue shows it (tagged) before sbatch's answer
  // reaches the ledger, and the ledger restarts in between.
  ccbatch::v1::QueueEntry line = Entry("66", "FAILED");
  line.set_comment(absl::StrCat("ccb:", order.order_id()));
  ASSERT_THAT(h.Snapshot({line, Entry("67", "COMPLETED")}), IsOk());
  ASSERT_THAT(h.Reopen(), IsOk());
  h.Connect();
  EXPECT_THAT(OrderIds(h.Take()), ElementsAre(order.order_id()));
  ccbatch::v1::SubmitResult result;
  result.set_order_id(order.order_id());
  result.set_slurm_job_id("66");
  result.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(submitted));
  ASSERT_THAT(h.ledger().ApplySubmitResult("hpc1", result), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kCompleting);
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  EXPECT_EQ(checks[0].scheduler_state(), "FAILED");
  EXPECT_TRUE(checks[0].has_finished_seen_at());
}

TEST(LedgerLifecycleTest, LinesOfJudgedJobsChangeNothing) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"opt", {}}}));
  Submit(h, submits, "b/opt", "5");
  ASSERT_THAT(h.Snapshot({}), IsOk());
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_SUCCEEDED), IsOk());
  const uint64_t events = h.ledger().LastEventSeq();
  const std::string reason = h.View("b/opt").reason();
  // squeue -t all shows the finished job for a while, then drops it.
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("5", "COMPLETED")}), IsOk());
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("5", "COMPLETED"), Entry("6", "RUNNING")}),
              IsOk());
  h.clock().Advance(absl::Seconds(30));
  ASSERT_THAT(h.Snapshot({Entry("6", "RUNNING")}), IsOk());
  EXPECT_EQ(h.StatusOf("b/opt"), kSucceeded);
  EXPECT_EQ(h.View("b/opt").reason(), reason);
  EXPECT_EQ(h.ledger().LastEventSeq(), events);
  EXPECT_THAT(h.Take(), IsEmpty());
  EXPECT_EQ(h.ledger().ListClusters().clusters(0).last_snapshot_entries(), 1u);
}

TEST(LedgerLifecycleTest, RepeatedLineInOneSnapshotCountsOnce) {
  LedgerOptions options;
  options.cluster_caps["hpc1"] = 2;
  LedgerHarness h(options);
  h.Connect();
  ASSERT_THAT(h.Snapshot({Entry("900", "PENDING"), Entry("900", "PENDING")}),
              IsOk());
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"j0", {}}, {"j1", {}}, {"j2", {}}}));
  EXPECT_THAT(SubmittedKeys(submits), ElementsAre("b/j0"));
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

// ---- Retry ------------------------------------------------------------------

// a <- b <- c, with a failed (scf_fail): b and c BROKEN_DEPENDENCY.
struct FailedChain {
  explicit FailedChain(LedgerHarness& h) {
    auto submits = ImportAndAdoptNothing(
        h, MakeBatch("b", {{"a", {}}, {"b", {"a"}}, {"c", {"b"}}}));
    Submit(h, submits, "b/a", "10");
    EXPECT_THAT(h.Snapshot({}), IsOk());
    auto checks = Checks(h.Take());
    EXPECT_THAT(checks, SizeIs(1));
    if (!checks.empty()) {
      EXPECT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "scf_fail"),
                  IsOk());
    }
  }
};

TEST(LedgerRetryTest, RetryOfTheFailedRootUnbreaksDependants) {
  LedgerHarness h;
  FailedChain chain(h);
  EXPECT_EQ(h.StatusOf("b/a"), kFailed);
  EXPECT_EQ(h.StatusOf("b/b"), kBroken);
  EXPECT_EQ(h.StatusOf("b/c"), kBroken);
  EXPECT_THAT(h.View("b/c").reason(), HasSubstr("upstream b/b"));

  ccbatch::v1::RetryRequest request;
  request.add_job_keys("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto response, h.ledger().Retry(request, "alice"));
  std::vector<std::pair<std::string, ccbatch::v1::JobStatus>> changed;
  for (const auto& view : response.changed()) {
    changed.emplace_back(view.key(), view.status());
  }
  EXPECT_THAT(changed, ElementsAre(std::make_pair("b/a", kSubmitting),
                                   std::make_pair("b/b", kWaiting),
                                   std::make_pair("b/c", kWaiting)));
  auto submits = Submits(h.Take());
  ASSERT_THAT(submits, SizeIs(1));
  EXPECT_EQ(submits[0].job_key(), "b/a");
  EXPECT_EQ(submits[0].attempt(), 2);
  EXPECT_TRUE(submits[0].is_retry());
  ccbatch::v1::GetJobRequest get;
  get.set_key("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto job, h.ledger().GetJob(get));
  ASSERT_THAT(job.attempts(), SizeIs(2));
  EXPECT_EQ(job.attempts(1).started_because(), "retry by alice");
  EXPECT_EQ(job.events(job.events_size() - 1).reason().find("retry by alice") !=
                std::string::npos,
            true);
}

TEST(LedgerRetryTest, RetryOfABrokenJobRetriesItsFailedRoots) {
  LedgerHarness h;
  FailedChain chain(h);
  ccbatch::v1::RetryRequest request;
  request.add_job_keys("b/c");
  CCB_ASSERT_OK_AND_ASSIGN(auto response, h.ledger().Retry(request, "bob"));
  EXPECT_EQ(h.StatusOf("b/a"), kSubmitting);
  EXPECT_EQ(h.StatusOf("b/c"), kWaiting);
}

TEST(LedgerRetryTest, OnlyFailedCancelledOrBrokenJobsAndWholeOrNothing) {
  LedgerHarness h;
  FailedChain chain(h);
  ASSERT_THAT(h.Import(MakeBatch("other", {{"x", {}}})), IsOk());
  ccbatch::v1::RetryRequest request;
  request.add_job_keys("b/a");
  request.add_job_keys("other/x");  // READY
  EXPECT_THAT(h.ledger().Retry(request, "alice"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("other/x"), HasSubstr("READY"))));
  EXPECT_EQ(h.StatusOf("b/a"), kFailed);  // nothing happened

  request.Clear();
  request.add_job_keys("b/none");
  EXPECT_THAT(h.ledger().Retry(request, "alice"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("b/none")));
  request.set_failed_in_batch("b");
  EXPECT_THAT(
      h.ledger().Retry(request, "alice"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("either")));
}

TEST(LedgerRetryTest, FailedInBatchRetriesEveryFailedJob) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"x", {}}, {"y", {}}, {"z", {}}}));
  Submit(h, submits, "b/x", "1");
  Submit(h, submits, "b/y", "2");
  ASSERT_THAT(h.SubmitFailed(Submits(submits)[2].order_id(),
                             "sbatch: error: invalid partition"),
              IsOk());
  ASSERT_THAT(h.Snapshot({Entry("2", "RUNNING")}), IsOk());
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "opt_fail"),
              IsOk());
  EXPECT_EQ(h.StatusOf("b/x"), kFailed);
  EXPECT_EQ(h.StatusOf("b/z"), kFailed);
  EXPECT_THAT(h.View("b/z").reason(), HasSubstr("invalid partition"));
  ccbatch::v1::RetryRequest request;
  request.set_failed_in_batch("b");
  CCB_ASSERT_OK_AND_ASSIGN(auto response, h.ledger().Retry(request, ""));
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/x", "b/z"));
  EXPECT_EQ(h.StatusOf("b/y"), kRunning);
}

// ---- Automatic retry ------------------------------------------------------

TEST(LedgerRetryTest, AutomaticRetryFollowsThePolicy) {
  LedgerHarness h;
  ccbatch::v1::BatchDefinition batch = MakeBatch("b", {{"x", {}}, {"y", {}}});
  batch.mutable_retry_policy()->add_retry_on("NODE_FAIL");
  batch.mutable_retry_policy()->set_max_attempts(2);
  auto submits = ImportAndAdoptNothing(h, batch);
  Submit(h, submits, "b/x", "1");
  Submit(h, submits, "b/y", "2");
  ASSERT_THAT(h.Snapshot({Entry("1", "NODE_FAIL"), Entry("2", "COMPLETED")}),
              IsOk());
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(2));
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "NODE_FAIL"),
              IsOk());
  ASSERT_THAT(h.Verdict(checks[1], Verdict::OUTCOME_FAILED, "scf_fail"),
              IsOk());
  EXPECT_EQ(h.StatusOf("b/x"), kSubmitting);  // retried at once
  EXPECT_EQ(h.StatusOf("b/y"), kFailed);      // chemistry is not retried
  auto retried = Submits(h.Take());
  ASSERT_THAT(retried, SizeIs(1));
  EXPECT_EQ(retried[0].attempt(), 2);
  EXPECT_TRUE(retried[0].is_retry());

  ccbatch::v1::GetJobRequest get;
  get.set_key("b/x");
  CCB_ASSERT_OK_AND_ASSIGN(auto job, h.ledger().GetJob(get));
  std::vector<std::string> reasons;
  for (const auto& event : job.events()) reasons.push_back(event.reason());
  ASSERT_GE(reasons.size(), 2u);
  EXPECT_THAT(reasons[reasons.size() - 2], HasSubstr("FAILED: verdict"));
  EXPECT_THAT(reasons.back(), HasSubstr("automatic retry after NODE_FAIL"));

  // The second NODE_FAIL reaches max_attempts: FAILED for good.
  ASSERT_THAT(h.SubmitOk(retried[0].order_id(), "3"), IsOk());
  h.clock().Advance(absl::Seconds(1));
  ASSERT_THAT(h.Snapshot({}), IsOk());
  checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "NODE_FAIL"),
              IsOk());
  EXPECT_EQ(h.StatusOf("b/x"), kFailed);
  EXPECT_THAT(h.Take(), IsEmpty());
}

// ---- Cancel -----------------------------------------------------------------

TEST(LedgerCancelTest, UnsubmittedJobIsCancelledAtOnceAndBreaksDependants) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}, {"b", {"a"}}})), IsOk());
  ccbatch::v1::CancelRequest request;
  request.add_job_keys("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto response, h.ledger().Cancel(request));
  ASSERT_THAT(response.changed(), SizeIs(2));
  EXPECT_EQ(h.StatusOf("b/a"), kCancelled);
  EXPECT_EQ(h.StatusOf("b/b"), kBroken);
  h.Connect();
  h.AnswerAdoptionsWithNothing(h.Take());
  EXPECT_THAT(h.Take(), IsEmpty());  // never submitted
  // A cancelled job may be retried: the intent is lifted.
  ccbatch::v1::RetryRequest retry;
  retry.add_job_keys("b/a");
  ASSERT_THAT(h.ledger().Retry(retry, "alice"), IsOk());
  EXPECT_THAT(SubmittedKeys(h.Take()), ElementsAre("b/a"));
}

TEST(LedgerCancelTest, QueuedJobIsCancelledThroughTheAgent) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  Submit(h, submits, "b/a", "42");
  ASSERT_THAT(h.Snapshot({Entry("42", "RUNNING")}), IsOk());
  ccbatch::v1::CancelRequest request;
  request.add_job_keys("b/a");
  ASSERT_THAT(h.ledger().Cancel(request), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kRunning);
  EXPECT_THAT(h.View("b/a").reason(), HasSubstr("cancel requested"));
  auto cancels = Cancels(h.Take());
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].slurm_job_id(), "42");
  ccbatch::v1::CancelResult result;
  result.set_order_id(cancels[0].order_id());
  result.set_ok(true);
  ASSERT_THAT(h.ledger().ApplyCancelResult("hpc1", result), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kCancelled);
  // Final now: cancelling again is refused.
  EXPECT_THAT(
      h.ledger().Cancel(request),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CANCELLED")));
}

TEST(LedgerCancelTest, SubmittingJobIsCancelledOnceItsJobIdArrives) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  ccbatch::v1::CancelRequest request;
  request.add_job_keys("b/a");
  ASSERT_THAT(h.ledger().Cancel(request), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kSubmitting);
  EXPECT_THAT(h.Take(), IsEmpty());
  ASSERT_THAT(h.SubmitOk(Submits(submits)[0].order_id(), "77"), IsOk());
  auto cancels = Cancels(h.Take());
  ASSERT_THAT(cancels, SizeIs(1));
  EXPECT_EQ(cancels[0].slurm_job_id(), "77");
}

TEST(LedgerCancelTest, OrderNoAgentHasSeenIsWithdrawn) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}})), IsOk());
  h.Connect();
  h.AnswerAdoptionsWithNothing(h.Take());  // the SubmitOrder is now due
  EXPECT_EQ(h.StatusOf("b/a"), kSubmitting);
  ccbatch::v1::CancelRequest request;
  request.add_job_keys("b/a");
  ASSERT_THAT(h.ledger().Cancel(request), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kCancelled);
  EXPECT_THAT(h.Take(), IsEmpty());
  EXPECT_EQ(CountKeys(h.store(), Column::kOrders), 0u);
}

TEST(LedgerCancelTest, BatchFormCancelsEveryJobThatIsNotFinal) {
  LedgerHarness h;
  auto submits =
      ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}, {"b", {"a"}}}));
  Submit(h, submits, "b/a", "5");
  ccbatch::v1::CancelRequest request;
  request.set_batch("b");
  ASSERT_THAT(h.ledger().Cancel(request), IsOk());
  EXPECT_EQ(h.StatusOf("b/b"), kCancelled);
  EXPECT_THAT(Cancels(h.Take()), SizeIs(1));
  request.set_batch("nope");
  EXPECT_THAT(h.ledger().Cancel(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

// ---- Orders: idempotence, re-sending, rechecks ------------------------------

TEST(LedgerOrdersTest, RepeatedOrUnknownResultsAreIgnored) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  const std::string order = Submits(submits)[0].order_id();
  ASSERT_THAT(h.SubmitOk(order, "100"), IsOk());
  ASSERT_THAT(h.SubmitOk(order, "200"), IsOk());  // repeated: ignored
  ASSERT_THAT(h.SubmitOk("o999999999999", "300"), IsOk());
  ASSERT_THAT(h.SubmitOk("not-an-order", "300"), IsOk());
  EXPECT_EQ(h.View("b/a").slurm_job_id(), "100");
  EXPECT_EQ(h.View("b/a").attempt(), 1);
  EXPECT_THAT(h.Take(), IsEmpty());

  h.clock().Advance(absl::Seconds(1));
  ASSERT_THAT(h.Snapshot({}), IsOk());
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_SUCCEEDED), IsOk());
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_FAILED, "no_output"),
              IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kSucceeded);
  ccbatch::v1::CancelResult cancel;
  cancel.set_order_id(order);
  cancel.set_ok(true);
  ASSERT_THAT(h.ledger().ApplyCancelResult("hpc1", cancel), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kSucceeded);
}

TEST(LedgerOrdersTest, OutstandingOrdersAreHandedAgainOnANewStream) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}, {"b", {}}})), IsOk());
  const uint64_t first = h.Connect();
  auto handed = OrderIds(h.Take());
  ASSERT_THAT(handed, SizeIs(2));
  EXPECT_LT(handed[0], handed[1]);   // creation order
  EXPECT_THAT(h.Take(), IsEmpty());  // handed once per stream
  h.Connect();
  EXPECT_EQ(OrderIds(h.Take()), handed);
  EXPECT_THAT(h.ledger().TakeDirectives("hpc1", first), IsEmpty());
  h.ledger().AgentDisconnected("hpc1", first);  // stale: no effect
  EXPECT_TRUE(h.ledger().ListClusters().clusters(0).connected());
}

TEST(LedgerOrdersTest, InconclusiveCheckIsAskedAgainAfterTheInterval) {
  LedgerOptions options;
  options.recheck_interval = absl::Seconds(15);
  LedgerHarness h(options);
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  Submit(h, submits, "b/a", "1");
  ASSERT_THAT(h.Snapshot({}), IsOk());
  auto checks = Checks(h.Take());
  ASSERT_THAT(checks, SizeIs(1));
  ASSERT_THAT(
      h.Verdict(checks[0], Verdict::OUTCOME_INCONCLUSIVE, "incomplete_output"),
      IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kCompleting);
  EXPECT_THAT(h.View("b/a").reason(), HasSubstr("last check inconclusive"));
  h.clock().Advance(absl::Seconds(14));
  h.ledger().Tick();
  EXPECT_THAT(h.Take(), IsEmpty());
  h.clock().Advance(absl::Seconds(1));
  h.ledger().Tick();
  auto again = Checks(h.Take());
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_NE(again[0].order_id(), checks[0].order_id());
  EXPECT_EQ(again[0].slurm_job_id(), "1");
}

TEST(LedgerOrdersTest, UnansweredCheckIsHandedAgainWithBackoff) {
  LedgerOptions options;
  options.recheck_interval = absl::Seconds(10);
  LedgerHarness h(options);
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}})), IsOk());
  h.Connect();
  auto first = OrderIds(h.Take());
  ASSERT_THAT(first, SizeIs(1));
  h.clock().Advance(absl::Seconds(10));
  h.ledger().Tick();
  EXPECT_EQ(OrderIds(h.Take()), first);  // the same order again
  h.clock().Advance(absl::Seconds(10));
  h.ledger().Tick();
  EXPECT_THAT(h.Take(), IsEmpty());  // next after 20 s
  h.clock().Advance(absl::Seconds(10));
  h.ledger().Tick();
  EXPECT_EQ(OrderIds(h.Take()), first);
}

TEST(LedgerOrdersTest, VerdictForNoKnownJobIsKept) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}})), IsOk());
  ccbatch::v1::CheckOutputResult result;
  result.set_order_id("o000000000777");
  result.mutable_verdict()->set_job_key("gone/job");
  result.mutable_verdict()->set_slurm_job_id("31337");
  result.mutable_verdict()->set_outcome(Verdict::OUTCOME_SUCCEEDED);
  ASSERT_THAT(h.ledger().ApplyCheckOutputResult("hpc1", result), IsOk());
  CCB_ASSERT_OK_AND_ASSIGN(
      auto kept, h.store().Get(Column::kVerdicts, "~unmatched/hpc1/31337"));
  EXPECT_TRUE(kept.has_value());
  ASSERT_THAT(h.Reopen(), IsOk());  // and it does not disturb a restart
  EXPECT_EQ(h.StatusOf("b/a"), kReady);
}

// ---- Restart
// ------------------------------------------------------------------

TEST(LedgerRestartTest, ReopenGivesTheSameStatusesAndResendsOutstandingOrders) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"a", {}}, {"b", {}}, {"c", {"a"}}, {"d", {}}}));
  Submit(h, submits, "b/a", "1");
  Submit(h, submits, "b/b", "2");
  ASSERT_THAT(h.Snapshot({Entry("2", "RUNNING")}), IsOk());
  auto checks = Checks(h.Take());  // a left the queue
  ASSERT_THAT(checks, SizeIs(1));
  auto before = h.AllStatuses();
  std::vector<std::string> reasons;
  for (const auto& [key, status] : before)
    reasons.push_back(h.View(key).reason());
  const uint64_t events = h.ledger().LastEventSeq();

  ASSERT_THAT(h.Reopen(), IsOk());
  EXPECT_EQ(h.AllStatuses(), before);
  std::vector<std::string> reasons_after;
  for (const auto& [key, status] : before) {
    reasons_after.push_back(h.View(key).reason());
  }
  EXPECT_EQ(reasons_after, reasons);
  EXPECT_EQ(h.ledger().LastEventSeq(), events);  // nothing re-derived

  h.Connect();
  auto resent = h.Take();
  // d's SubmitOrder (never answered) and a's CheckOutput, same ids.
  std::vector<std::string> expected = {Submits(submits)[2].order_id(),
                                       checks[0].order_id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(OrderIds(resent), expected);
  // New orders after the restart get new, larger ids.
  ASSERT_THAT(h.Verdict(checks[0], Verdict::OUTCOME_SUCCEEDED), IsOk());
  auto after = Submits(h.Take());
  ASSERT_THAT(after, SizeIs(1));
  EXPECT_EQ(after[0].job_key(), "b/c");
  EXPECT_GT(after[0].order_id(), expected.back());
}

TEST(LedgerRestartTest, StalenessAcrossARestartIsJudgedByTheClock) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  Submit(h, submits, "b/a", "1");
  ASSERT_THAT(h.Snapshot({Entry("1", "RUNNING")}), IsOk());
  const uint64_t events = h.ledger().LastEventSeq();
  h.clock().Advance(absl::Minutes(10));  // down for longer than the limit
  ASSERT_THAT(h.Reopen(), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kUnknown);
  ccbatch::v1::GetJobRequest get;
  get.set_key("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto job, h.ledger().GetJob(get));
  EXPECT_GT(h.ledger().LastEventSeq(), events);
  EXPECT_THAT(job.events(job.events_size() - 1).reason(),
              HasSubstr("re-derived at start"));
}

TEST(LedgerRestartTest, RandomHistoriesRederiveToTheSameStatusesAfterReopen) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    LedgerHarness h;
    testing::RandomHistory history(seed, &h.clock());
    ASSERT_THAT(history.Start(h.ledger()), IsOk());
    std::vector<testing::HandedOrder> handed;
    for (int step = 0; step < 400; ++step) {
      ASSERT_THAT(history.Step(h.ledger(), &handed), IsOk())
          << "seed " << seed << " step " << step << " " << history.last_step();
      if (step % 20 != 19) continue;
      std::vector<std::string> before;
      for (const auto& [key, status] : h.AllStatuses()) {
        before.push_back(absl::StrCat(key, " ", h.View(key).reason()));
      }
      const uint64_t events = h.ledger().LastEventSeq();
      ASSERT_THAT(h.Reopen(), IsOk());
      std::vector<std::string> after;
      for (const auto& [key, status] : h.AllStatuses()) {
        after.push_back(absl::StrCat(key, " ", h.View(key).reason()));
      }
      ASSERT_EQ(after, before) << "seed " << seed << " step " << step;
      ASSERT_EQ(h.ledger().LastEventSeq(), events);
      ASSERT_THAT(history.Reconnect(h.ledger()), IsOk());
    }
    // Each (job, attempt) was ordered under one order id only.
    std::map<std::pair<std::string, int>, std::set<std::string>> submit_ids;
    for (const auto& order : handed) {
      if (order.kind == "submit") {
        submit_ids[{order.job_key, order.attempt}].insert(order.order_id);
      }
    }
    for (const auto& [attempt, ids] : submit_ids) {
      EXPECT_THAT(ids, SizeIs(1)) << attempt.first << " #" << attempt.second;
    }
  }
}

// ---- Store failures
// -------------------------------------------------------------

TEST(LedgerStoreFailureTest, FailedWriteChangesNothingAndTheLedgerRecovers) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  Submit(h, submits, "b/a", "1");
  ASSERT_THAT(h.Snapshot({Entry("1", "RUNNING")}), IsOk());
  h.store().FailWritesWith(absl::UnavailableError("disk on fire"));
  AssembledSnapshot snapshot;
  snapshot.seq = 100;
  snapshot.taken_at = h.clock().Now();
  EXPECT_THAT(
      h.ledger().ApplySnapshot("hpc1", snapshot),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk on fire")));
  EXPECT_EQ(h.StatusOf("b/a"), kRunning);
  EXPECT_THAT(h.Take(), IsEmpty());
  h.store().FailWritesWith(absl::OkStatus());
  ASSERT_THAT(h.ledger().ApplySnapshot("hpc1", snapshot), IsOk());
  EXPECT_EQ(h.StatusOf("b/a"), kCompleting);
  EXPECT_THAT(Checks(h.Take()), SizeIs(1));
}

// ---- Queries
// ------------------------------------------------------------------

TEST(LedgerQueryTest, ListJobsFiltersAndPagesInAStableOrder) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("zeta", {{"opt1", {}}, {"opt2", {}}})),
              IsOk());
  ASSERT_THAT(h.Import(MakeBatch(
                  "alpha", {{"opt1", {}}, {"sp1", {"opt1"}}, {"opt2", {}}})),
              IsOk());
  ccbatch::v1::ListJobsRequest request;
  request.set_page_size(2);
  std::vector<std::string> keys;
  int pages = 0;
  for (;;) {
    CCB_ASSERT_OK_AND_ASSIGN(auto page, h.ledger().ListJobs(request));
    EXPECT_EQ(page.total_size(), 5);
    for (const auto& job : page.jobs()) keys.push_back(job.key());
    ++pages;
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(keys, ElementsAre("alpha/opt1", "alpha/sp1", "alpha/opt2",
                                "zeta/opt1", "zeta/opt2"));

  request.Clear();
  request.add_statuses(kWaiting);
  CCB_ASSERT_OK_AND_ASSIGN(auto waiting, h.ledger().ListJobs(request));
  ASSERT_THAT(waiting.jobs(), SizeIs(1));
  EXPECT_EQ(waiting.jobs(0).key(), "alpha/sp1");
  EXPECT_THAT(waiting.jobs(0).upstream_keys(), ElementsAre("alpha/opt1"));
  EXPECT_EQ(waiting.jobs(0).directory(), "/scratch/alpha/sp1");

  request.Clear();
  request.set_batch("zeta");
  request.set_name_prefix("opt");
  CCB_ASSERT_OK_AND_ASSIGN(auto zeta, h.ledger().ListJobs(request));
  EXPECT_EQ(zeta.total_size(), 2);
  request.set_cluster("elsewhere");
  CCB_ASSERT_OK_AND_ASSIGN(auto none, h.ledger().ListJobs(request));
  EXPECT_EQ(none.total_size(), 0);

  request.Clear();
  request.set_page_token("garbage");
  EXPECT_THAT(
      h.ledger().ListJobs(request),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  request.Clear();
  request.set_batch("nope");
  EXPECT_THAT(h.ledger().ListJobs(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  request.Clear();
  request.set_page_size(-1);
  EXPECT_THAT(
      h.ledger().ListJobs(request),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_size")));
}

TEST(LedgerQueryTest, SummaryCountsPerStatusPerBatch) {
  LedgerHarness h;
  FailedChain chain(h);
  ASSERT_THAT(h.Import(MakeBatch("other", {{"x", {}}})), IsOk());
  ccbatch::v1::SummaryRequest request;
  CCB_ASSERT_OK_AND_ASSIGN(auto summary, h.ledger().Summary(request));
  ASSERT_THAT(summary.batches(), SizeIs(2));
  const auto& b = summary.batches(0);
  EXPECT_EQ(b.batch().name(), "b");
  EXPECT_EQ(b.total(), 3);
  EXPECT_EQ(b.final(), 3);
  ASSERT_THAT(b.counts(), SizeIs(2));
  EXPECT_EQ(b.counts(0).status(), kFailed);
  EXPECT_EQ(b.counts(0).count(), 1);
  EXPECT_EQ(b.counts(1).status(), kBroken);
  EXPECT_EQ(b.counts(1).count(), 2);
  EXPECT_EQ(summary.batches(1).final(), 0);
  ASSERT_THAT(summary.clusters(), SizeIs(1));
  EXPECT_EQ(summary.clusters(0).jobs_tracked(), 4);
  request.set_batch("nope");
  EXPECT_THAT(h.ledger().Summary(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
}

TEST(LedgerQueryTest, GetJobShowsAttemptsVerdictEventsAndUpstream) {
  LedgerHarness h;
  FailedChain chain(h);
  ccbatch::v1::GetJobRequest request;
  request.set_key("b/a");
  CCB_ASSERT_OK_AND_ASSIGN(auto a, h.ledger().GetJob(request));
  EXPECT_EQ(a.definition().key(), "b/a");
  ASSERT_THAT(a.attempts(), SizeIs(1));
  EXPECT_EQ(a.attempts(0).slurm_job_id(), "10");
  EXPECT_EQ(a.attempts(0).started_because(), "first");
  EXPECT_TRUE(a.attempts(0).has_finished_seen_at());
  EXPECT_TRUE(a.attempts(0).has_output_checked_at());
  EXPECT_EQ(a.verdict().cause(), "scf_fail");
  std::vector<ccbatch::v1::JobStatus> path;
  for (const auto& event : a.events()) path.push_back(event.to_status());
  EXPECT_THAT(
      path, ElementsAre(kReady, kSubmitting, kSubmitted, kCompleting, kFailed));
  for (int i = 1; i < a.events_size(); ++i) {
    EXPECT_GT(a.events(i).seq(), a.events(i - 1).seq());
    EXPECT_EQ(a.events(i).from_status(), a.events(i - 1).to_status());
  }
  request.set_key("b/c");
  CCB_ASSERT_OK_AND_ASSIGN(auto c, h.ledger().GetJob(request));
  ASSERT_THAT(c.upstream(), SizeIs(1));
  EXPECT_EQ(c.upstream(0).key(), "b/b");
  EXPECT_EQ(c.upstream(0).status(), kBroken);
  request.set_key("b/zzz");
  EXPECT_THAT(h.ledger().GetJob(request),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("b/zzz")));
}

TEST(LedgerQueryTest, ListClustersReportsHealthAndLoad) {
  LedgerOptions options;
  options.cluster_caps["hpc1"] = 50;
  LedgerHarness h(options);
  auto submits = ImportAndAdoptNothing(h, MakeBatch("b", {{"a", {}}}));
  Submit(h, submits, "b/a", "1");
  ASSERT_THAT(h.Snapshot({Entry("1", "RUNNING"), Entry("2", "PENDING")}),
              IsOk());
  auto clusters = h.ledger().ListClusters();
  ASSERT_THAT(clusters.clusters(), SizeIs(1));
  const auto& hpc1 = clusters.clusters(0);
  EXPECT_EQ(hpc1.name(), "hpc1");
  EXPECT_TRUE(hpc1.connected());
  EXPECT_EQ(hpc1.user(), "chem");
  EXPECT_EQ(hpc1.last_snapshot_seq(), 1u);
  EXPECT_EQ(hpc1.last_snapshot_entries(), 2u);
  EXPECT_EQ(hpc1.jobs_tracked(), 1);
  EXPECT_EQ(hpc1.cap(), 50);
}

TEST(LedgerQueryTest, ExportLedgerMatchesTheGoldenFile) {
  LedgerHarness h;
  FailedChain chain(h);
  ccbatch::v1::BatchDefinition batch =
      MakeBatch("other", {{"opt", {}}, {"sp", {"opt"}}});
  auto& orbitals = *batch.mutable_jobs(1)->mutable_orbitals();
  orbitals = batch.jobs(1).coords();
  orbitals.set_filename("opt.gbw");
  batch.mutable_jobs(1)->set_program(ccbatch::v1::PROGRAM_ORCA);
  ASSERT_THAT(h.Import(batch), IsOk());
  ccbatch::v1::ExportLedgerRequest request;
  CCB_ASSERT_OK_AND_ASSIGN(auto exported, h.ledger().ExportLedger(request));
  std::ifstream golden(
      "tests/ledger_service/testdata/ledger/export_golden.csv");
  ASSERT_TRUE(golden) << "missing golden file";
  std::stringstream expected;
  expected << golden.rdbuf();
  EXPECT_EQ(exported.csv(), expected.str());
  request.set_batch("other");
  CCB_ASSERT_OK_AND_ASSIGN(auto one, h.ledger().ExportLedger(request));
  EXPECT_THAT(one.csv(), Not(HasSubstr("b/")));
}

// ---- Watch
// --------------------------------------------------------------------

TEST(LedgerWatchTest, EventsAfterIsOrderedFilteredAndResumable) {
  LedgerHarness h;
  ASSERT_THAT(h.Import(MakeBatch("w", {{"x", {}}})), IsOk());
  WatchFilter all;
  CCB_ASSERT_OK_AND_ASSIGN(WatchStart start, h.ledger().StartWatch(all));
  EXPECT_THAT(start.current, SizeIs(1));
  FailedChain chain(h);
  CCB_ASSERT_OK_AND_ASSIGN(auto events,
                           h.ledger().EventsAfter(all, start.after_seq, 1000));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().seq(), start.after_seq + 1);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq(), events[i - 1].seq() + 1);
  }
  EXPECT_EQ(events.back().seq(), h.ledger().LastEventSeq());

  // Resume from the middle, a few at a time.
  const uint64_t middle = events[events.size() / 2].seq();
  std::vector<uint64_t> resumed;
  uint64_t after = middle;
  for (;;) {
    CCB_ASSERT_OK_AND_ASSIGN(auto some, h.ledger().EventsAfter(all, after, 2));
    if (some.empty()) break;
    for (const auto& event : some) resumed.push_back(event.seq());
    after = some.back().seq();
  }
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.front(), middle + 1);
  EXPECT_EQ(resumed.back(), events.back().seq());

  WatchFilter only_c;
  only_c.batch = "b";
  only_c.job_keys = {"b/c"};
  CCB_ASSERT_OK_AND_ASSIGN(auto c_events,
                           h.ledger().EventsAfter(only_c, 0, 1000));
  for (const auto& event : c_events) EXPECT_EQ(event.job_key(), "b/c");
  EXPECT_THAT(c_events, SizeIs(2));  // imported WAITING, then BROKEN

  // After a restart the history is read from the store, seq continues.
  ASSERT_THAT(h.Reopen(), IsOk());
  CCB_ASSERT_OK_AND_ASSIGN(auto stored,
                           h.ledger().EventsAfter(all, start.after_seq, 1000));
  ASSERT_EQ(stored.size(), events.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].seq(), events[i].seq());
    EXPECT_EQ(stored[i].reason(), events[i].reason());
  }
  const uint64_t last = h.ledger().LastEventSeq();
  ccbatch::v1::RetryRequest retry;
  retry.add_job_keys("b/a");
  ASSERT_THAT(h.ledger().Retry(retry, "alice"), IsOk());
  CCB_ASSERT_OK_AND_ASSIGN(auto fresh, h.ledger().EventsAfter(all, last, 10));
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(fresh.front().seq(), last + 1);

  WatchFilter unknown;
  unknown.batch = "nope";
  EXPECT_THAT(h.ledger().StartWatch(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nope")));
}

TEST(LedgerWatchTest, SubscribersAreCalledAfterChanges) {
  LedgerHarness h;
  int calls = 0;
  const uint64_t id = h.ledger().Subscribe([&] {
    ++calls;
    // Called without locks held: may read the ledger.
    h.ledger().LastEventSeq();
  });
  ASSERT_THAT(h.Import(MakeBatch("b", {{"a", {}}})), IsOk());
  EXPECT_GE(calls, 1);
  h.ledger().Unsubscribe(id);
  const int before = calls;
  ASSERT_THAT(h.Import(MakeBatch("c", {{"a", {}}})), IsOk());
  EXPECT_EQ(calls, before);
}

// ---- Threads
// ------------------------------------------------------------------

TEST(LedgerConcurrencyTest, QueriesRunAlongsideMutations) {
  LedgerHarness h;
  auto submits = ImportAndAdoptNothing(
      h, MakeBatch("b", {{"a", {}}, {"b", {}}, {"c", {"a"}}}));
  Submit(h, submits, "b/a", "1");
  Submit(h, submits, "b/b", "2");
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    ccbatch::v1::ListJobsRequest list;
    ccbatch::v1::GetJobRequest get;
    get.set_key("b/c");
    while (!stop.load()) {
      EXPECT_THAT(h.ledger().ListJobs(list), IsOk());
      EXPECT_THAT(h.ledger().GetJob(get), IsOk());
      EXPECT_THAT(h.ledger().Summary(ccbatch::v1::SummaryRequest()), IsOk());
      EXPECT_THAT(h.ledger().EventsAfter(WatchFilter(), 0, 100), IsOk());
      reads.fetch_add(1);
    }
  });
  for (int i = 0; i < 300; ++i) {
    h.clock().Advance(absl::Seconds(1));
    const std::string state = i % 2 == 0 ? "RUNNING" : "PENDING";
    ASSERT_THAT(h.Snapshot({Entry("1", state), Entry("2", state)}), IsOk());
    h.ledger().Tick();
  }
  while (reads.load() == 0) std::this_thread::yield();  // it did run
  stop.store(true);
  reader.join();
  EXPECT_EQ(h.StatusOf("b/a"), kPending);
  EXPECT_EQ(h.StatusOf("b/c"), kWaiting);
}

}  // namespace
}  // namespace ccbatch::ledger
