#include "ledger_service/derive.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ccbatch/v1/job.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_service/job_facts.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::v1::JobStatus;
using ::ccbatch::v1::Verdict;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr JobStatus kWaiting = ccbatch::v1::JOB_STATUS_WAITING;
constexpr JobStatus kReady = ccbatch::v1::JOB_STATUS_READY;
constexpr JobStatus kSubmitting = ccbatch::v1::JOB_STATUS_SUBMITTING;
constexpr JobStatus kSubmitted = ccbatch::v1::JOB_STATUS_SUBMITTED;
constexpr JobStatus kPending = ccbatch::v1::JOB_STATUS_PENDING;
constexpr JobStatus kRunning = ccbatch::v1::JOB_STATUS_RUNNING;
constexpr JobStatus kCompleting = ccbatch::v1::JOB_STATUS_COMPLETING;
constexpr JobStatus kSucceeded = ccbatch::v1::JOB_STATUS_SUCCEEDED;
constexpr JobStatus kFailed = ccbatch::v1::JOB_STATUS_FAILED;
constexpr JobStatus kBroken = ccbatch::v1::JOB_STATUS_BROKEN_DEPENDENCY;
constexpr JobStatus kCancelled = ccbatch::v1::JOB_STATUS_CANCELLED;
constexpr JobStatus kUnknown = ccbatch::v1::JOB_STATUS_UNKNOWN;

const absl::Duration kLimit = absl::Minutes(5);

absl::Time At(int hour, int minute, int second) {
  return absl::FromCivil(absl::CivilSecond(2026, 12, 4, hour, minute, second),
                         absl::UTCTimeZone());
}

// The cluster took a snapshot at 12:00:03 and the ledger applied it at
// 12:00:05; "now" is 12:01:00 unless a case says otherwise.
ClusterFacts FreshCluster() {
  ClusterFacts cluster;
  cluster.name = "hpc1";
  cluster.has_snapshot = true;
  cluster.snapshot_taken_at = At(12, 0, 3);
  cluster.snapshot_received_at = At(12, 0, 5);
  return cluster;
}
const absl::Time kNow = At(12, 1, 0);
const ClusterFacts& Fresh() {
  static const ClusterFacts* const kFresh = new ClusterFacts(FreshCluster());
  return *kFresh;
}

JobFacts Unsubmitted() {
  JobFacts job;
  job.key = "mol1/freq";
  return job;
}

// Attempt 1, sbatch answered 4812 at 11:59:00.
JobFacts Submitted() {
  JobFacts job = Unsubmitted();
  AttemptFacts attempt;
  attempt.number = 1;
  attempt.cluster = "hpc1";
  attempt.order_id = "o-17";
  attempt.slurm_job_id = "4812";
  attempt.submitted_at = At(11, 59, 0);
  job.attempt = attempt;
  return job;
}

JobFacts InQueue(const std::string& state, const std::string& nodes = "",
                 const std::string& reason = "None") {
  JobFacts job = Submitted();
  job.attempt->queue_entry = QueueEntryFacts{state, reason, nodes};
  job.attempt->last_queue_state = state;
  return job;
}

JobFacts Ordered() {
  JobFacts job = Submitted();
  job.attempt->slurm_job_id.clear();
  job.attempt->submitted_at = absl::InfinitePast();
  return job;
}

VerdictFacts MakeVerdict(const std::string& slurm_job_id,
                         Verdict::Outcome outcome, const std::string& cause,
                         const std::string& summary, int attempt = 1) {
  VerdictFacts verdict;
  verdict.slurm_job_id = slurm_job_id;
  verdict.attempt = attempt;
  verdict.outcome = outcome;
  verdict.cause = cause;
  verdict.summary = summary;
  return verdict;
}

template <typename Mutate>
JobFacts With(JobFacts job, Mutate mutate) {
  mutate(job);
  return job;
}

struct Case {
  std::string name;
  JobFacts job;
  std::optional<ClusterFacts> cluster = FreshCluster();
  std::vector<UpstreamStatus> upstream = {};
  absl::Time now = kNow;
  JobStatus status;
  // Checked when not empty.
  std::string reason = "";
  std::string scheduler_state = "";
};

DerivedStatus DeriveCase(const Case& c) {
  return DeriveStatus(c.job, c.cluster ? &*c.cluster : nullptr, c.upstream,
                      c.now, kLimit);
}

std::vector<Case> RuleCases() {
  const Verdict::Outcome kOk = Verdict::OUTCOME_SUCCEEDED;
  const Verdict::Outcome kBad = Verdict::OUTCOME_FAILED;
  const Verdict::Outcome kInconclusive = Verdict::OUTCOME_INCONCLUSIVE;
  const Verdict::Outcome kNothing = Verdict::OUTCOME_UNSPECIFIED;
  auto verdict = [](VerdictFacts v) {
    return [v](JobFacts& job) { job.verdict = v; };
  };
  auto cancel = [](bool acknowledged) {
    return [acknowledged](JobFacts& job) {
      job.attempt->cancel_requested = true;
      job.attempt->cancel_acknowledged = acknowledged;
    };
  };
  ClusterFacts never = FreshCluster();
  never.has_snapshot = false;
  never.snapshot_taken_at = never.snapshot_received_at = absl::InfinitePast();
  ClusterFacts probe_failed = FreshCluster();
  probe_failed.last_probe_error = "squeue: error: slurm_load_jobs: timeout";
  probe_failed.last_probe_error_at = At(12, 4, 30);

  return {
      // Rule 1: cancel.
      {.name = "cancel_without_attempt",
       .job =
           With(Unsubmitted(), [](JobFacts& j) { j.cancel_requested = true; }),
       .upstream = {{"mol1/opt", kFailed}},
       .status = kCancelled,
       .reason = "CANCELLED: cancelled before any submission"},
      {.name = "cancel_without_attempt_beats_adoption",
       .job = With(
           With(Unsubmitted(), [](JobFacts& j) { j.cancel_requested = true; }),
           verdict(MakeVerdict("", kOk, "", "found", 0))),
       .status = kCancelled},
      {.name = "cancel_acknowledged",
       .job = With(InQueue("RUNNING", "c041"), cancel(true)),
       .status = kCancelled,
       .reason = "CANCELLED: cancel of attempt 1 (slurm job 4812) "
                 "acknowledged by cluster hpc1"},
      {.name = "cancel_acknowledged_beats_verdict",
       .job = With(With(Submitted(), cancel(true)),
                   verdict(MakeVerdict("4812", kOk, "", "fine"))),
       .status = kCancelled},
      {.name = "cancel_acknowledged_before_job_id",
       .job = With(Ordered(), cancel(true)),
       .status = kCancelled,
       .reason = "CANCELLED: cancel of attempt 1 acknowledged by cluster hpc1"},
      {.name = "cancel_pending_derives_normally",
       .job = With(InQueue("RUNNING", "c041"), cancel(false)),
       .status = kRunning,
       .reason = "RUNNING: slurm job 4812 on cluster hpc1 is RUNNING on c041; "
                 "cancel requested, not yet acknowledged",
       .scheduler_state = "RUNNING"},
      {.name = "cancel_pending_while_submitting",
       .job = With(Ordered(), cancel(false)),
       .status = kSubmitting},
      {.name = "cancel_acknowledged_without_request_is_not_a_cancel",
       .job = With(InQueue("PENDING"),
                   [](JobFacts& j) { j.attempt->cancel_acknowledged = true; }),
       .status = kPending},
      {.name = "job_level_cancel_ignored_once_attempt_exists",
       .job = With(InQueue("RUNNING"),
                   [](JobFacts& j) { j.cancel_requested = true; }),
       .status = kRunning},

      // Rule 2: no attempt.
      {.name = "adoption_succeeded",
       .job = With(Unsubmitted(),
                   verdict(MakeVerdict("", kOk, "", "normal termination", 0))),
       .upstream = {{"mol1/opt", kFailed}},
       .status = kSucceeded,
       .reason = "SUCCEEDED: existing output adopted before any attempt: "
                 "normal termination"},
      {.name = "adoption_failed",
       .job =
           With(Unsubmitted(), verdict(MakeVerdict("", kBad, "scf_fail",
                                                   "SCF did not converge", 0))),
       .status = kFailed,
       .reason = "FAILED: existing output adopted before any attempt: "
                 "scf_fail: SCF did not converge"},
      {.name = "adoption_nothing_to_adopt",
       .job =
           With(Unsubmitted(), verdict(MakeVerdict("", kNothing, "", "", 0))),
       .status = kReady,
       .reason = "READY: no upstream jobs"},
      {.name = "adoption_inconclusive_is_nothing",
       .job = With(Unsubmitted(),
                   verdict(MakeVerdict("", kInconclusive, "", "partial", 0))),
       .upstream = {{"mol1/opt", kRunning}},
       .status = kWaiting},
      {.name = "verdict_naming_a_slurm_job_is_no_adoption",
       .job = With(Unsubmitted(), verdict(MakeVerdict("4812", kOk, "", "", 1))),
       .status = kReady},
      {.name = "upstream_failed",
       .job = Unsubmitted(),
       .upstream = {{"mol1/opt", kFailed}},
       .status = kBroken,
       .reason = "BROKEN_DEPENDENCY: upstream mol1/opt FAILED"},
      {.name = "upstream_broken_propagates",
       .job = Unsubmitted(),
       .upstream = {{"mol1/sp", kBroken}},
       .status = kBroken,
       .reason = "BROKEN_DEPENDENCY: upstream mol1/sp BROKEN_DEPENDENCY"},
      {.name = "upstream_cancelled",
       .job = Unsubmitted(),
       .upstream = {{"mol1/opt", kCancelled}},
       .status = kBroken},
      {.name = "broken_beats_unfinished_and_counts_more",
       .job = Unsubmitted(),
       .upstream = {{"a/1", kRunning},
                    {"a/2", kCancelled},
                    {"a/3", kSucceeded},
                    {"a/4", kFailed}},
       .status = kBroken,
       .reason = "BROKEN_DEPENDENCY: upstream a/2 CANCELLED and 1 more"},
      {.name = "upstream_running",
       .job = Unsubmitted(),
       .upstream = {{"mol1/opt", kRunning}},
       .status = kWaiting,
       .reason = "WAITING: upstream mol1/opt is RUNNING"},
      {.name = "upstream_unknown_waits",
       .job = Unsubmitted(),
       .upstream = {{"a/1", kSucceeded}, {"a/2", kUnknown}, {"a/3", kReady}},
       .status = kWaiting,
       .reason = "WAITING: upstream a/2 is UNKNOWN and 1 more"},
      {.name = "all_upstream_succeeded",
       .job = Unsubmitted(),
       .upstream = {{"a/1", kSucceeded}, {"a/2", kSucceeded}},
       .status = kReady,
       .reason = "READY: all 2 upstream jobs SUCCEEDED"},
      {.name = "one_upstream_succeeded",
       .job = Unsubmitted(),
       .upstream = {{"mol1/opt", kSucceeded}},
       .status = kReady,
       .reason = "READY: upstream mol1/opt SUCCEEDED"},

      // Rule 3: attempt without job id.
      {.name = "submit_error",
       .job = With(Ordered(),
                   [](JobFacts& j) {
                     j.attempt->submit_error =
                         "sbatch: error: invalid partition specified: gpu";
                   }),
       .status = kFailed,
       .reason = "FAILED: sbatch refused attempt 1 on cluster hpc1: sbatch: "
                 "error: invalid partition specified: gpu"},
      {.name = "submitting",
       .job = Ordered(),
       .upstream = {{"mol1/opt", kFailed}},  // an attempt ignores upstream
       .status = kSubmitting,
       .reason = "SUBMITTING: order o-17 of attempt 1 sent to cluster hpc1; "
                 "no SLURM job id yet"},
      {.name = "adopted_at_submission",
       .job = With(Ordered(), verdict(MakeVerdict("", kOk, "", "found", 1))),
       .status = kSucceeded,
       .reason = "SUCCEEDED: existing output adopted at submission of attempt "
                 "1: found"},
      {.name = "adoption_of_earlier_attempt_does_not_judge_this_one",
       .job = With(With(Ordered(), [](JobFacts& j) { j.attempt->number = 2; }),
                   verdict(MakeVerdict("", kOk, "", "found", 1))),
       .status = kSubmitting},

      // Rule 4a: verdicts.
      {.name = "verdict_succeeded",
       .job = With(Submitted(),
                   verdict(MakeVerdict("4812", kOk, "", "normal termination"))),
       .status = kSucceeded,
       .reason = "SUCCEEDED: verdict on slurm job 4812: normal termination"},
      {.name = "verdict_failed",
       .job = With(InQueue("TIMEOUT"),
                   verdict(MakeVerdict("4812", kBad, "TIMEOUT", ""))),
       .status = kFailed,
       .reason = "FAILED: verdict on slurm job 4812: TIMEOUT"},
      {.name = "verdict_without_details",
       .job = With(Submitted(), verdict(MakeVerdict("4812", kBad, "", ""))),
       .status = kFailed,
       .reason = "FAILED: verdict on slurm job 4812: no details given"},
      {.name = "verdict_beats_staleness",
       .job = With(Submitted(), verdict(MakeVerdict("4812", kOk, "", "ok"))),
       .now = At(13, 0, 0),
       .status = kSucceeded},
      {.name = "verdict_on_previous_slurm_job_ignored",
       .job = With(InQueue("RUNNING"),
                   verdict(MakeVerdict("4700", kBad, "NODE_FAIL", ""))),
       .status = kRunning},
      {.name = "inconclusive_is_no_verdict",
       .job = With(Submitted(), verdict(MakeVerdict("4812", kInconclusive,
                                                    "incomplete_output",
                                                    "no final energy"))),
       .status = kCompleting,
       .reason = "COMPLETING: slurm job 4812 is not in the queue of cluster "
                 "hpc1; verdict awaited (last check inconclusive: "
                 "incomplete_output: no final energy)"},

      // Rule 4b: staleness, on the ledger's receive time.
      {.name = "stale_just_over_limit",
       .job = InQueue("RUNNING"),
       .cluster = probe_failed,
       .now = At(12, 5, 5) + absl::Nanoseconds(1),
       .status = kUnknown,
       .reason = "UNKNOWN: no snapshot from cluster hpc1 received since "
                 "2026-12-04 12:00:05 UTC (staleness limit 5m); last probe "
                 "error at 2026-12-04 12:04:30 UTC: squeue: error: "
                 "slurm_load_jobs: timeout"},
      {.name = "stale_exactly_at_limit_is_fresh",
       .job = InQueue("RUNNING"),
       .now = At(12, 5, 5),
       .status = kRunning},
      {.name = "stale_just_under_limit_is_fresh",
       .job = InQueue("RUNNING"),
       .cluster = probe_failed,
       .now = At(12, 5, 4),
       .status = kRunning},
      {.name = "stale_without_probe_error",
       .job = Submitted(),
       .now = At(12, 30, 0),
       .status = kUnknown,
       .reason = "UNKNOWN: no snapshot from cluster hpc1 received since "
                 "2026-12-04 12:00:05 UTC (staleness limit 5m)"},
      {.name = "stale_beats_submitted",
       .job = With(Submitted(),
                   [](JobFacts& j) { j.attempt->submitted_at = At(12, 0, 4); }),
       .now = At(12, 10, 0),
       .status = kUnknown},
      {.name = "stale_cluster_does_not_touch_jobs_without_job_id",
       .job = Ordered(),
       .now = At(13, 0, 0),
       .status = kSubmitting},

      // Rule 4c: SUBMITTED.
      {.name = "no_snapshot_ever",
       .job = Submitted(),
       .cluster = never,
       .now = At(23, 0, 0),
       .status = kSubmitted,
       .reason = "SUBMITTED: slurm job 4812 on cluster hpc1; no snapshot from "
                 "the cluster yet"},
      {.name = "cluster_unheard_of",
       .job = Submitted(),
       .cluster = std::nullopt,
       .status = kSubmitted},
      {.name = "snapshot_taken_before_submission",
       .job = With(Submitted(),
                   [](JobFacts& j) { j.attempt->submitted_at = At(12, 0, 4); }),
       .status = kSubmitted,
       .reason = "SUBMITTED: slurm job 4812 submitted at 2026-12-04 12:00:04 "
                 "UTC; no snapshot of cluster hpc1 taken since"},
      {.name = "snapshot_taken_at_submission_counts_as_before",
       .job = With(InQueue("PENDING"),
                   [](JobFacts& j) { j.attempt->submitted_at = At(12, 0, 3); }),
       .status = kSubmitted},
      {.name = "snapshot_taken_just_after_submission",
       .job = With(InQueue("PENDING"),
                   [](JobFacts& j) {
                     j.attempt->submitted_at =
                         At(12, 0, 3) - absl::Nanoseconds(1);
                   }),
       .status = kPending},
      {.name = "unknown_submission_time_trusts_any_snapshot",
       .job = With(
           Submitted(),
           [](JobFacts& j) { j.attempt->submitted_at = absl::InfinitePast(); }),
       .status = kCompleting},

      // Rule 4d/e: in the snapshot, or not.
      {.name = "running_reason",
       .job = InQueue("RUNNING", "c041"),
       .status = kRunning,
       .reason = "RUNNING: slurm job 4812 on cluster hpc1 is RUNNING on c041",
       .scheduler_state = "RUNNING"},
      {.name = "pending_reason_names_slurm_reason",
       .job = InQueue("PD", "", "Priority"),
       .status = kPending,
       .reason =
           "PENDING: slurm job 4812 on cluster hpc1 is PENDING (Priority)",
       .scheduler_state = "PENDING"},
      {.name = "terminal_reason",
       .job = InQueue("TIMEOUT", "c041", "TimeLimit"),
       .status = kCompleting,
       .reason = "COMPLETING: slurm job 4812 on cluster hpc1 ended TIMEOUT on "
                 "c041 (TimeLimit); verdict awaited",
       .scheduler_state = "TIMEOUT"},
      {.name = "unknown_state_reason",
       .job = InQueue("WARPING", "c041"),
       .status = kRunning,
       .reason = "RUNNING: slurm job 4812 on cluster hpc1 is in state "
                 "\"WARPING\", unknown to ccbatch; taken as still in the queue",
       .scheduler_state = "WARPING"},
      {.name = "absent_never_seen",
       .job = Submitted(),
       .status = kCompleting,
       .reason = "COMPLETING: slurm job 4812 is not in the queue of cluster "
                 "hpc1; verdict awaited",
       .scheduler_state = ""},
      {.name = "absent_after_terminal_state_keeps_cause",
       .job = With(Submitted(),
                   [](JobFacts& j) { j.attempt->last_queue_state = "OOM"; }),
       .status = kCompleting,
       .reason = "COMPLETING: slurm job 4812 has left the queue of cluster "
                 "hpc1 (last seen OUT_OF_MEMORY); verdict awaited",
       .scheduler_state = "OUT_OF_MEMORY"},
      {.name = "absent_after_running_has_no_cause",
       .job =
           With(Submitted(),
                [](JobFacts& j) { j.attempt->last_queue_state = "RUNNING"; }),
       .status = kCompleting,
       .reason = "COMPLETING: slurm job 4812 has left the queue of cluster "
                 "hpc1 (last seen RUNNING); verdict awaited",
       .scheduler_state = ""},
      {.name = "probe_error_while_fresh_changes_nothing",
       .job = InQueue("RUNNING", "c041"),
       .cluster = probe_failed,
       .status = kRunning,
       .reason = "RUNNING: slurm job 4812 on cluster hpc1 is RUNNING on c041"},
  };
}

class DeriveRuleTest : public ::testing::TestWithParam<Case> {};

TEST_P(DeriveRuleTest, StatusAndReason) {
  const Case& c = GetParam();
  const DerivedStatus derived = DeriveCase(c);
  EXPECT_EQ(derived.status, c.status)
      << ccbatch::v1::JobStatus_Name(derived.status) << " / " << derived.reason;
  if (!c.reason.empty()) {
    EXPECT_EQ(derived.reason, c.reason);
  }
  if (!c.scheduler_state.empty() || c.status == kCompleting) {
    EXPECT_EQ(derived.scheduler_state, c.scheduler_state);
  }
  // One line, starting with the status name.
  EXPECT_EQ(derived.reason.find('\n'), std::string::npos);
  EXPECT_THAT(derived.reason,
              StartsWith(ccbatch::v1::JobStatus_Name(derived.status)
                             .substr(std::string("JOB_STATUS_").size()) +
                         ": "));
}

INSTANTIATE_TEST_SUITE_P(Table, DeriveRuleTest,
                         ::testing::ValuesIn(RuleCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

struct StateCase {
  std::string input;
  std::string name;
  JobStatus status;
  bool terminal;
};

std::vector<StateCase> StateCases() {
  return {
      {"PENDING", "PENDING", kPending, false},
      {"CONFIGURING", "CONFIGURING", kPending, false},
      {"REQUEUED", "REQUEUED", kPending, false},
      {"REQUEUE_FED", "REQUEUE_FED", kPending, false},
      {"REQUEUE_HOLD", "REQUEUE_HOLD", kPending, false},
      {"RESV_DEL_HOLD", "RESV_DEL_HOLD", kPending, false},
      {"RUNNING", "RUNNING", kRunning, false},
      {"RESIZING", "RESIZING", kRunning, false},
      {"SUSPENDED", "SUSPENDED", kRunning, false},
      {"STOPPED", "STOPPED", kRunning, false},
      {"COMPLETING", "COMPLETING", kCompleting, false},
      {"SIGNALING", "SIGNALING", kCompleting, false},
      {"STAGE_OUT", "STAGE_OUT", kCompleting, false},
      {"COMPLETED", "COMPLETED", kCompleting, true},
      {"FAILED", "FAILED", kCompleting, true},
      {"TIMEOUT", "TIMEOUT", kCompleting, true},
      {"OUT_OF_MEMORY", "OUT_OF_MEMORY", kCompleting, true},
      {"NODE_FAIL", "NODE_FAIL", kCompleting, true},
      {"CANCELLED", "CANCELLED", kCompleting, true},
      {"PREEMPTED", "PREEMPTED", kCompleting, true},
      {"BOOT_FAIL", "BOOT_FAIL", kCompleting, true},
      {"DEADLINE", "DEADLINE", kCompleting, true},
      {"SPECIAL_EXIT", "SPECIAL_EXIT", kCompleting, true},
      {"REVOKED", "REVOKED", kCompleting, true},
      // Short forms.
      {"PD", "PENDING", kPending, false},
      {"CF", "CONFIGURING", kPending, false},
      {"RQ", "REQUEUED", kPending, false},
      {"RF", "REQUEUE_FED", kPending, false},
      {"RH", "REQUEUE_HOLD", kPending, false},
      {"R", "RUNNING", kRunning, false},
      {"RS", "RESIZING", kRunning, false},
      {"S", "SUSPENDED", kRunning, false},
      {"ST", "STOPPED", kRunning, false},
      {"CG", "COMPLETING", kCompleting, false},
      {"SI", "SIGNALING", kCompleting, false},
      {"SO", "STAGE_OUT", kCompleting, false},
      {"CD", "COMPLETED", kCompleting, true},
      {"F", "FAILED", kCompleting, true},
      {"TO", "TIMEOUT", kCompleting, true},
      {"OOM", "OUT_OF_MEMORY", kCompleting, true},
      {"NF", "NODE_FAIL", kCompleting, true},
      {"CA", "CANCELLED", kCompleting, true},
      {"PR", "PREEMPTED", kCompleting, true},
      {"BF", "BOOT_FAIL", kCompleting, true},
      {"DL", "DEADLINE", kCompleting, true},
      {"SE", "SPECIAL_EXIT", kCompleting, true},
      {"RV", "REVOKED", kCompleting, true},
      // Spelling variations squeue and sacct produce.
      {"running", "RUNNING", kRunning, false},
      {" TIMEOUT \n", "TIMEOUT", kCompleting, true},
      {"CANCELLED by 1000", "CANCELLED", kCompleting, true},
      {"CANCELLED+", "CANCELLED", kCompleting, true},
  };
}

TEST(ClassifySlurmStateTest, EveryKnownStateAndForm) {
  for (const StateCase& c : StateCases()) {
    SCOPED_TRACE(c.input);
    const SlurmState state = ClassifySlurmState(c.input);
    EXPECT_TRUE(state.known);
    EXPECT_EQ(state.name, c.name);
    EXPECT_EQ(state.status, c.status);
    EXPECT_EQ(state.terminal, c.terminal);
  }
}

TEST(ClassifySlurmStateTest, UnknownStateIsRunningNeverFinal) {
  for (const std::string input : {"WARPING", "", "P", "RUNNINGX", "??"}) {
    SCOPED_TRACE(input);
    const SlurmState state = ClassifySlurmState(input);
    EXPECT_FALSE(state.known);
    EXPECT_FALSE(state.terminal);
    EXPECT_EQ(state.status, kRunning);
    EXPECT_EQ(state.name, input);
  }
}

TEST(DeriveStatusTest, EverySlurmStateInTheQueue) {
  for (const StateCase& c : StateCases()) {
    SCOPED_TRACE(c.input);
    const DerivedStatus derived =
        DeriveStatus(InQueue(c.input, "c041"), &Fresh(), {}, kNow, kLimit);
    EXPECT_EQ(derived.status, c.status);
    EXPECT_EQ(derived.scheduler_state, c.name);
    EXPECT_THAT(derived.reason, HasSubstr(c.name));
    if (c.status == kCompleting) {
      EXPECT_THAT(derived.reason, EndsWith("; verdict awaited"));
    }
  }
}

TEST(DeriveStatusTest, RequeuedJobIsTheSameAttemptPending) {
  // Seen RUNNING, then PENDING again under the same id (DESIGN §8).
  JobFacts job = InQueue("RUNNING", "c041");
  EXPECT_EQ(DeriveStatus(job, &Fresh(), {}, kNow, kLimit).status, kRunning);
  job.attempt->queue_entry = QueueEntryFacts{"REQUEUED", "BeginTime", ""};
  const DerivedStatus derived = DeriveStatus(job, &Fresh(), {}, kNow, kLimit);
  EXPECT_EQ(derived.status, kPending);
  EXPECT_EQ(derived.reason,
            "PENDING: slurm job 4812 on cluster hpc1 is REQUEUED (BeginTime)");
}

TEST(DeriveStatusTest, IntoReusesAndOverwrites) {
  DerivedStatus out;
  DeriveStatusInto(InQueue("TIMEOUT"), &Fresh(), {}, kNow, kLimit, &out);
  EXPECT_EQ(out.scheduler_state, "TIMEOUT");
  DeriveStatusInto(Unsubmitted(), nullptr, {}, kNow, kLimit, &out);
  EXPECT_EQ(out, (DerivedStatus{kReady, "READY: no upstream jobs", ""}));
}

TEST(IsClusterStaleTest, StrictlyPastTheLimitAfterTheLastReceive) {
  const ClusterFacts cluster = FreshCluster();
  EXPECT_FALSE(IsClusterStale(cluster, At(12, 5, 5), kLimit));
  EXPECT_TRUE(
      IsClusterStale(cluster, At(12, 5, 5) + absl::Nanoseconds(1), kLimit));
  ClusterFacts silent;
  silent.name = "hpc2";
  EXPECT_FALSE(IsClusterStale(silent, At(23, 0, 0), kLimit));
}

TEST(ClusterConsultedTest, OnlyWhileTheQueueDecides) {
  EXPECT_EQ(ClusterConsulted(Unsubmitted()), std::nullopt);
  EXPECT_EQ(ClusterConsulted(Ordered()), std::nullopt);
  EXPECT_EQ(ClusterConsulted(Submitted()), "hpc1");
  EXPECT_EQ(ClusterConsulted(InQueue("R")), "hpc1");
  JobFacts judged = Submitted();
  judged.verdict = MakeVerdict("4812", Verdict::OUTCOME_FAILED, "x", "");
  EXPECT_EQ(ClusterConsulted(judged), std::nullopt);
  judged.verdict->outcome = Verdict::OUTCOME_INCONCLUSIVE;
  EXPECT_EQ(ClusterConsulted(judged), "hpc1");
  JobFacts cancelled = Submitted();
  cancelled.attempt->cancel_requested = true;
  EXPECT_EQ(ClusterConsulted(cancelled), "hpc1");
  cancelled.attempt->cancel_acknowledged = true;
  EXPECT_EQ(ClusterConsulted(cancelled), std::nullopt);
}

TEST(JobFactsTest, FromProtos) {
  ccbatch::v1::Attempt attempt;
  attempt.set_number(2);
  attempt.set_cluster("hpc1");
  attempt.set_order_id("o-9");
  attempt.set_slurm_job_id("4812_7");
  attempt.mutable_submitted_at()->set_seconds(
      absl::ToUnixSeconds(At(12, 0, 0)));
  attempt.mutable_submitted_at()->set_nanos(5);
  attempt.set_submit_error("");
  attempt.mutable_cancel_requested_at()->set_seconds(1);
  attempt.set_last_queue_state("TIMEOUT");
  const AttemptFacts facts = AttemptFactsFromProto(attempt);
  EXPECT_EQ(facts.number, 2);
  EXPECT_EQ(facts.cluster, "hpc1");
  EXPECT_EQ(facts.order_id, "o-9");
  EXPECT_EQ(facts.slurm_job_id, "4812_7");
  EXPECT_EQ(facts.submitted_at, At(12, 0, 0) + absl::Nanoseconds(5));
  EXPECT_TRUE(facts.cancel_requested);
  EXPECT_FALSE(facts.cancel_acknowledged);
  EXPECT_EQ(facts.last_queue_state, "TIMEOUT");
  EXPECT_FALSE(facts.queue_entry.has_value());
  EXPECT_EQ(AttemptFactsFromProto(ccbatch::v1::Attempt()).submitted_at,
            absl::InfinitePast());

  ccbatch::v1::Verdict verdict;
  verdict.set_slurm_job_id("4812_7");
  verdict.set_attempt(2);
  verdict.set_outcome(Verdict::OUTCOME_FAILED);
  verdict.set_cause("scf_fail");
  verdict.set_summary("SCF did not converge");
  const VerdictFacts v = VerdictFactsFromProto(verdict);
  EXPECT_EQ(v.slurm_job_id, "4812_7");
  EXPECT_EQ(v.attempt, 2);
  EXPECT_EQ(v.outcome, Verdict::OUTCOME_FAILED);
  EXPECT_EQ(v.cause, "scf_fail");
  EXPECT_EQ(v.summary, "SCF did not converge");

  ccbatch::v1::QueueEntry entry;
  entry.set_state("RUNNING");
  entry.set_reason("None");
  entry.set_nodes("c[041-042]");
  entry.set_name("ignored");
  EXPECT_EQ(QueueEntryFactsFromProto(entry),
            (QueueEntryFacts{"RUNNING", "None", "c[041-042]"}));
}

}  // namespace
}  // namespace ccbatch::ledger
