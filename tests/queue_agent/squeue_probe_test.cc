#include "queue_agent/squeue_probe.h"

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/fake_process_runner.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::common::ExitedWith;
using ::ccbatch::common::FakeClock;
using ::ccbatch::common::FakeProcessRunner;
using ::ccbatch::common::ProcessRequest;
using ::ccbatch::common::ProcessResult;
using ::ccbatch::common::TimedOutWith;
using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1796414150);

class SqueueProbeTest : public ::testing::Test {
 protected:
  SqueueProbeTest() : clock_(kStart), runner_(&clock_) {}

  std::unique_ptr<SqueueProbe> MakeProbe() {
    SqueueProbeOptions options;
    options.squeue_path = "/usr/bin/squeue";
    options.user = "chemist";
    options.timeout = absl::Seconds(45);
    absl::StatusOr<std::unique_ptr<SqueueProbe>> probe =
        SqueueProbe::Create(options, &runner_, &clock_);
    EXPECT_TRUE(probe.ok()) << probe.status();
    return *std::move(probe);
  }

  // Plays `result` as squeue's, taking `runs_for`, and probes once.
  ProbeOutcome ProbeWith(absl::StatusOr<ProcessResult> result,
                         absl::Duration runs_for = absl::Milliseconds(7)) {
    runner_.OnProgram("squeue", std::move(result), runs_for);
    return MakeProbe()->Probe();
  }

  FakeClock clock_;
  FakeProcessRunner runner_;
};

v1::ProbeFailure AsFailure(const ProbeOutcome& outcome) {
  const auto* failure = std::get_if<v1::ProbeFailure>(&outcome);
  EXPECT_NE(failure, nullptr) << "expected a ProbeFailure, got a snapshot";
  return failure != nullptr ? *failure : v1::ProbeFailure();
}

QueueSnapshot AsSnapshot(const ProbeOutcome& outcome) {
  const auto* snapshot = std::get_if<QueueSnapshot>(&outcome);
  EXPECT_NE(snapshot, nullptr)
      << "expected a snapshot, got failure: "
      << (snapshot == nullptr ? std::get<v1::ProbeFailure>(outcome).error()
                              : "");
  return snapshot != nullptr ? *snapshot : QueueSnapshot();
}

std::string AgentLine(absl::string_view id, absl::string_view state,
                      absl::string_view name) {
  return absl::StrCat(id, "\x1f", state,
                      "\x1fNone\x1f"
                      "c1\x1f(null)\x1f",
                      name, "\n");
}

TEST_F(SqueueProbeTest, RunsOneQueryForAllOfTheUsersJobs) {
  ProbeWith(ExitedWith(0));
  ASSERT_EQ(runner_.CallCount(), 1);
  const ProcessRequest request = runner_.Calls()[0];
  EXPECT_THAT(request.argv,
              ElementsAre("/usr/bin/squeue", "--noheader", "--array",
                          "--states=all", "--user=chemist",
                          absl::StrCat("--format=", kAgentSqueueFormat)));
  for (const std::string& arg : request.argv) {
    EXPECT_THAT(arg, Not(HasSubstr("--partition")));
  }
  EXPECT_EQ(request.timeout, absl::Seconds(45));
  EXPECT_THAT(request.env_unset,
              IsSupersetOf({"SQUEUE_FORMAT", "SQUEUE_FORMAT2", "SQUEUE_STATES",
                            "SQUEUE_SORT", "SQUEUE_USERS", "SQUEUE_PARTITION",
                            "SLURM_CLUSTERS"}));
  EXPECT_THAT(request.env_unset, Not(Contains("SLURM_CONF")));
  EXPECT_FALSE(request.stdin_data.has_value());
}

TEST_F(SqueueProbeTest, HealthyQueueIsASnapshotTakenWhenSqueueStarted) {
  const ProbeOutcome outcome =
      ProbeWith(ExitedWith(0, AgentLine("4812", "RUNNING", "water opt") +
                                  AgentLine("4813_2", "PD", "a|b")),
                absl::Milliseconds(250));
  const QueueSnapshot snapshot = AsSnapshot(outcome);
  EXPECT_EQ(snapshot.taken_at, kStart);
  EXPECT_EQ(snapshot.probe_duration, absl::Milliseconds(250));
  EXPECT_EQ(snapshot.diagnostics.probe_millis(), 250);
  ASSERT_THAT(snapshot.entries, SizeIs(2));
  EXPECT_EQ(snapshot.entries[0].slurm_job_id(), "4812");
  EXPECT_EQ(snapshot.entries[0].name(), "water opt");
  EXPECT_EQ(snapshot.entries[1].state(), "PENDING");
  EXPECT_EQ(snapshot.entries[1].name(), "a|b");
}

TEST_F(SqueueProbeTest, SnapshotOwnsTheOutputItsEntriesView) {
  const std::string output = AgentLine("4812", "RUNNING", "water opt");
  ProbeOutcome outcome = ProbeWith(ExitedWith(0, output));
  ASSERT_TRUE(std::holds_alternative<QueueSnapshot>(outcome));
  const QueueSnapshot kept = std::get<QueueSnapshot>(std::move(outcome));
  outcome = v1::ProbeFailure();  // nothing else holds the output now
  ASSERT_NE(kept.text, nullptr);
  EXPECT_EQ(*kept.text, output);
  ASSERT_THAT(kept.entries, SizeIs(1));
  const absl::string_view name = kept.entries[0].name();
  EXPECT_EQ(name, "water opt");
  EXPECT_GE(name.data(), kept.text->data());
  EXPECT_LE(name.data() + name.size(), kept.text->data() + kept.text->size());
}

// Checked once over the output, so the chunks need not check each field.
TEST_F(SqueueProbeTest, Utf8OutputGivesEntriesKnownToBeUtf8) {
  const QueueSnapshot snapshot = AsSnapshot(
      ProbeWith(ExitedWith(0, AgentLine("1", "RUNNING", "caf\xc3\xa9"))));
  EXPECT_TRUE(snapshot.entries_are_utf8);
}

TEST_F(SqueueProbeTest, Latin1OutputGivesEntriesNotKnownToBeUtf8) {
  const QueueSnapshot snapshot = AsSnapshot(
      ProbeWith(ExitedWith(0, AgentLine("1", "RUNNING", "caf\xe9"))));
  EXPECT_FALSE(snapshot.entries_are_utf8);
  EXPECT_EQ(snapshot.entries[0].name(), "caf\xe9");  // squeue's bytes
}

TEST_F(SqueueProbeTest, EmptyOutputWithoutErrorIsAHealthyEmptyQueue) {
  // Lab report §5: "empty queue (healthy)": exit 0, 0 bytes.
  const QueueSnapshot snapshot = AsSnapshot(ProbeWith(ExitedWith(0, "", "")));
  EXPECT_THAT(snapshot.entries, SizeIs(0));
  EXPECT_EQ(snapshot.diagnostics.malformed_lines(), 0);
  EXPECT_EQ(snapshot.taken_at, kStart);
}

TEST_F(SqueueProbeTest, ControllerDown) {
  const v1::ProbeFailure failure = AsFailure(ProbeWith(
      ExitedWith(1, "",
                 "slurm_load_jobs error: Unable to contact slurm controller "
                 "(connect failure)\n"),
      absl::Seconds(9)));
  EXPECT_EQ(failure.exit_code(), 1);
  EXPECT_THAT(failure.error(),
              HasSubstr("slurm_load_jobs error: Unable to contact slurm "
                        "controller (connect failure)"));
  EXPECT_EQ(failure.at().seconds(), absl::ToUnixSeconds(kStart));
}

TEST_F(SqueueProbeTest, ControllerHung) {
  const v1::ProbeFailure failure = AsFailure(ProbeWith(
      ExitedWith(1, "",
                 "slurm_load_jobs error: Socket timed out on send/recv "
                 "operation\n"),
      absl::Seconds(10)));
  EXPECT_EQ(failure.exit_code(), 1);
  EXPECT_THAT(failure.error(),
              HasSubstr("Socket timed out on send/recv operation"));
}

TEST_F(SqueueProbeTest, MungedStopped) {
  const v1::ProbeFailure failure = AsFailure(ProbeWith(ExitedWith(
      1, "",
      "squeue: error: Munge encode failed: Failed to access "
      "\"/run/munge/munge.socket.2\": No such file or directory (Did you "
      "start munged?)\n"
      "slurm_load_jobs error: Protocol authentication error\n")));
  EXPECT_EQ(failure.exit_code(), 1);
  EXPECT_THAT(failure.error(),
              AllOf(HasSubstr("Munge encode failed"),
                    HasSubstr("Protocol authentication error")));
}

TEST_F(SqueueProbeTest, MissingSlurmConf) {
  const v1::ProbeFailure failure = AsFailure(ProbeWith(
      ExitedWith(1, "",
                 "squeue: error: s_p_parse_file: cannot stat file "
                 "/nonexistent: No such file or directory, retrying in 1sec "
                 "up to 60sec\n"
                 "squeue: fatal: Unable to process configuration file\n"),
      absl::Seconds(59)));
  EXPECT_EQ(failure.exit_code(), 1);
  EXPECT_THAT(failure.error(),
              HasSubstr("Unable to process configuration file"));
}

TEST_F(SqueueProbeTest, InvalidUserExitsZeroWithOnlyAnError) {
  // Lab report §5: exit 0, stdout empty, message on stderr.
  const v1::ProbeFailure failure = AsFailure(ProbeWith(
      ExitedWith(0, "", "squeue: error: Invalid user: nosuchuser\n")));
  EXPECT_EQ(failure.exit_code(), 0);
  EXPECT_THAT(failure.error(),
              HasSubstr("squeue: error: Invalid user: nosuchuser"));
}

TEST_F(SqueueProbeTest, EatenOptionPrintsOnlyAHeader) {
  // Lab report §5 `$USER` unset: "-h" was taken as the user name, stderr
  // says so, and stdout holds the header. Both the recorded header and the
  // one the agent's format would give are refused.
  for (const std::string& header :
       {std::string("JOBID|STATE\n"),
        std::string("JOBID\x1fSTATE\x1fREASON\x1fNODELIST\x1f"
                    "COMMENT\x1fNAME\n")}) {
    FakeProcessRunner runner(&clock_);
    runner.OnProgram(
        "squeue", ExitedWith(0, header, "squeue: error: Invalid user: -h\n"));
    absl::StatusOr<std::unique_ptr<SqueueProbe>> probe =
        SqueueProbe::Create({"squeue", "chemist"}, &runner, &clock_);
    CCB_ASSERT_OK(probe);
    const ProbeOutcome outcome = (*probe)->Probe();
    const v1::ProbeFailure failure = AsFailure(outcome);
    EXPECT_EQ(failure.exit_code(), 0);
    EXPECT_THAT(failure.error(),
                AllOf(HasSubstr("does not parse"), HasSubstr("1 of 1 lines"),
                      HasSubstr("Invalid user: -h")));
  }
}

TEST_F(SqueueProbeTest, MissingSerializerPlugin) {
  // corpus/squeue/rohanboard__squeue_json_error.txt
  const v1::ProbeFailure failure =
      AsFailure(ProbeWith(ExitedWith(1, "",
                                     "squeue: error: load_plugins: unable to "
                                     "find plugin: serializer/json\n")));
  EXPECT_THAT(failure.error(),
              HasSubstr("unable to find plugin: serializer/json"));
}

TEST_F(SqueueProbeTest, TimeoutIsAFailure) {
  const v1::ProbeFailure failure =
      AsFailure(ProbeWith(TimedOutWith(""), absl::Seconds(45)));
  EXPECT_EQ(failure.exit_code(), -1);
  EXPECT_THAT(failure.error(), HasSubstr("timed out after 45s"));
  EXPECT_EQ(failure.at().seconds(), absl::ToUnixSeconds(kStart));
}

TEST_F(SqueueProbeTest, TimeoutWinsOverPartialOutput) {
  ProcessResult partial = TimedOutWith("");
  partial.stdout_text = AgentLine("1", "RUNNING", "x");
  const v1::ProbeFailure failure = AsFailure(ProbeWith(partial));
  EXPECT_EQ(failure.exit_code(), -1);
}

TEST_F(SqueueProbeTest, CouldNotStart) {
  const v1::ProbeFailure failure = AsFailure(ProbeWith(absl::NotFoundError(
      "could not start /usr/bin/squeue: No such file or directory")));
  EXPECT_EQ(failure.exit_code(), -1);
  EXPECT_THAT(failure.error(),
              HasSubstr("/usr/bin/squeue: No such file or directory"));
}

TEST_F(SqueueProbeTest, KilledBySignal) {
  ProcessResult killed = ExitedWith(-1, AgentLine("1", "RUNNING", "x"));
  killed.term_signal = 11;
  const v1::ProbeFailure failure = AsFailure(ProbeWith(killed));
  EXPECT_EQ(failure.exit_code(), -1);
  EXPECT_THAT(failure.error(), HasSubstr("signal 11"));
}

TEST_F(SqueueProbeTest, NonZeroExitWithOutputIsStillAFailure) {
  const v1::ProbeFailure failure =
      AsFailure(ProbeWith(ExitedWith(2, AgentLine("1", "RUNNING", "x"), "")));
  EXPECT_EQ(failure.exit_code(), 2);
  EXPECT_THAT(failure.error(), HasSubstr("exited with status 2"));
}

TEST_F(SqueueProbeTest, OutputInAnotherFormatIsAFailure) {
  // E.g. a wrapper script that ignores --format, or JSON.
  const v1::ProbeFailure failure = AsFailure(
      ProbeWith(ExitedWith(0, "1|PENDING\n2|RUNNING\n3_[1-4]|PENDING\n")));
  EXPECT_EQ(failure.exit_code(), 0);
  EXPECT_THAT(failure.error(),
              AllOf(HasSubstr("does not parse"), HasSubstr("3 of 3 lines"),
                    HasSubstr("line 1: too few fields")));
}

TEST_F(SqueueProbeTest, AFewOddLinesAreDiagnosticsNotFailure) {
  const std::string output = AgentLine("1", "RUNNING", "a") + "stray text\n" +
                             AgentLine("2", "NEW_STATE", "b") +
                             AgentLine("3", "PD", "c");
  const QueueSnapshot snapshot = AsSnapshot(ProbeWith(ExitedWith(0, output)));
  EXPECT_THAT(snapshot.entries, SizeIs(3));
  EXPECT_EQ(snapshot.diagnostics.malformed_lines(), 1);
  EXPECT_THAT(snapshot.diagnostics.malformed_samples(),
              ElementsAre(HasSubstr("line 2")));
  EXPECT_EQ(snapshot.diagnostics.unknown_states(), 1);
  EXPECT_EQ(snapshot.entries[1].state(), "NEW_STATE");
}

TEST_F(SqueueProbeTest, MostlyMalformedIsAFailureHalfIsNot) {
  const std::string good = AgentLine("1", "RUNNING", "a");
  EXPECT_TRUE(std::holds_alternative<QueueSnapshot>(
      ProbeWith(ExitedWith(0, good + "bad\n"))));
  FakeProcessRunner second(&clock_);
  second.OnProgram("squeue", ExitedWith(0, good + "bad\nworse\n"));
  absl::StatusOr<std::unique_ptr<SqueueProbe>> probe =
      SqueueProbe::Create({"squeue", "chemist"}, &second, &clock_);
  CCB_ASSERT_OK(probe);
  EXPECT_TRUE(std::holds_alternative<v1::ProbeFailure>((*probe)->Probe()));
}

TEST_F(SqueueProbeTest, WarningsBesideGoodOutputKeepTheSnapshot) {
  const QueueSnapshot snapshot = AsSnapshot(ProbeWith(ExitedWith(
      0, AgentLine("1", "RUNNING", "a"), "squeue: error: some warning\n")));
  EXPECT_THAT(snapshot.entries, SizeIs(1));
}

TEST_F(SqueueProbeTest, TruncatedOutputIsAFailure) {
  ProcessResult huge = ExitedWith(0, AgentLine("1", "RUNNING", "a"));
  huge.stdout_truncated = true;
  const v1::ProbeFailure failure = AsFailure(ProbeWith(huge));
  EXPECT_THAT(failure.error(), HasSubstr("more than"));
}

TEST_F(SqueueProbeTest, ClockGoingBackDuringTheCallGivesZeroDuration) {
  const QueueSnapshot snapshot =
      AsSnapshot(ProbeWith(ExitedWith(0), absl::Seconds(-3)));
  EXPECT_EQ(snapshot.probe_duration, absl::ZeroDuration());
  EXPECT_EQ(snapshot.taken_at, kStart);
}

TEST_F(SqueueProbeTest, ProbesAreIndependent) {
  runner_.OnProgram("squeue", ExitedWith(1, "", "slurm_load_jobs error: x"));
  runner_.OnProgram("squeue", ExitedWith(0, AgentLine("7", "R", "n")));
  std::unique_ptr<SqueueProbe> probe = MakeProbe();
  EXPECT_TRUE(std::holds_alternative<v1::ProbeFailure>(probe->Probe()));
  const ProbeOutcome second = probe->Probe();
  EXPECT_THAT(AsSnapshot(second).entries, SizeIs(1));
  EXPECT_EQ(runner_.CallCount(), 2);
}

TEST(SqueueProbeCreateTest, RejectsUnusableOptions) {
  FakeClock clock;
  FakeProcessRunner runner;
  auto create = [&](std::string user, absl::Duration timeout) {
    SqueueProbeOptions options;
    options.user = std::move(user);
    options.timeout = timeout;
    return SqueueProbe::Create(options, &runner, &clock);
  };
  EXPECT_THAT(create("", absl::Seconds(60)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("user")));
  EXPECT_THAT(create("-h", absl::Seconds(60)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-h")));
  EXPECT_THAT(create("a b", absl::Seconds(60)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a b")));
  EXPECT_THAT(
      create("root,nobody", absl::Seconds(60)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root,nobody")));
  EXPECT_THAT(
      create("chemist", absl::ZeroDuration()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("timeout")));
  CCB_EXPECT_OK(create("annie.oakley", absl::Seconds(60)));
}

TEST(SqueueProbeCreateTest, DefaultsAreSqueueFromPathAndSixtySeconds) {
  SqueueProbeOptions options;
  EXPECT_EQ(options.squeue_path, "squeue");
  EXPECT_EQ(options.timeout, absl::Seconds(60));
}

}  // namespace
}  // namespace ccbatch::agent
