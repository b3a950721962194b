// ccctl end to end in one process: RunCcctl parses the arguments, connects
// over a real gRPC channel to a scripted LedgerService on 127.0.0.1, and
// prints. Checks outputs (against the same golden files as the renderers),
// the requests sent, the token and deadlines, and the exit codes.
//
// When ledger_service is ready, the tests marked REAL-LEDGER below should
// also run against it (import a batch, then read it back).
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "cli/ccctl_app.h"
#include "cli/ledger_client.h"
#include "common/clock.h"
#include "common/fake_file_system.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/cli/golden.h"
#include "tests/cli/ledger_fixture.h"
#include "tests/cli/scripted_ledger.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::cli::testing::At;
using ::ccbatch::cli::testing::ExpectGolden;
using ::ccbatch::cli::testing::FixtureNow;
using ::ccbatch::cli::testing::InProcessServer;
using ::ccbatch::cli::testing::LedgerFixture;
using ::ccbatch::cli::testing::MakeLedgerFixture;
using ::ccbatch::cli::testing::ReadGolden;
using ::ccbatch::cli::testing::ScriptedLedger;
using ::ccbatch::cli::testing::UnusedLocalAddress;
using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadTestdata(const std::string& name) {
  std::ifstream in("tests/cli/testdata/" + name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class CcctlTest : public ::testing::Test {
 protected:
  CcctlTest()
      : ledger_(MakeLedgerFixture()), server_(&ledger_), clock_(FixtureNow()) {
    fs_.SetFile("chem-3.batch", ReadTestdata("chem-3.batch"), FixtureNow());
    fs_.SetFile("bad.batch", ReadTestdata("bad.batch"), FixtureNow());
    fs_.SetFile("token", "s3cret-token\n", FixtureNow());
    for (const char* output : {"water_opt.out", "water_opt_truncated.out"}) {
      fs_.SetFile(output, ReadTestdata(output),
                  FixtureNow() - absl::Seconds(58));
    }
  }

  // Runs ccctl with `args` (without the program name), pointed at the
  // scripted ledger unless `ledger` says otherwise ("" for no --ledger).
  Result Run(std::vector<std::string> args) {
    return RunWithLedger(std::move(args), server_.address());
  }

  Result RunWithLedger(std::vector<std::string> args,
                       const std::string& ledger) {
    args.insert(args.begin(), "ccctl");
    if (!ledger.empty()) {
      args.push_back("--ledger");
      args.push_back(ledger);
    }
    std::ostringstream out;
    std::ostringstream err;
    CcctlEnvironment env;
    env.out = &out;
    env.err = &err;
    env.out_is_tty = tty_;
    env.clock = &clock_;
    env.time_zone = absl::UTCTimeZone();
    env.get_env =
        [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    env.fs = &fs_;
    env.canceller = &canceller_;
    Result result;
    result.code = RunCcctl(args, env);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  std::vector<v1::WatchResponse> InitialState(
      const std::vector<std::string>& keys) const {
    std::vector<v1::WatchResponse> script;
    for (const std::string& key : keys) {
      v1::WatchResponse current;
      *current.mutable_current() = fixture_.jobs.at(key).view();
      script.push_back(current);
    }
    v1::WatchResponse done;
    done.set_initial_state_done(true);
    script.push_back(done);
    return script;
  }

  static v1::WatchResponse Change(uint64_t seq, const std::string& key,
                                  v1::JobStatus from, v1::JobStatus to,
                                  const std::string& reason) {
    v1::WatchResponse response;
    v1::JobEvent& event = *response.mutable_change();
    event.set_seq(seq);
    *event.mutable_at() = At(12, 0, static_cast<int>(seq % 60));
    event.set_job_key(key);
    event.set_from_status(from);
    event.set_to_status(to);
    event.set_reason(reason);
    response.set_resume_token(std::to_string(seq));
    return response;
  }

  const LedgerFixture fixture_ = MakeLedgerFixture();
  ScriptedLedger ledger_;
  InProcessServer server_;
  common::FakeClock clock_;
  CallCanceller canceller_;
  bool tty_ = false;
  std::map<std::string, std::string> env_;
  common::FakeFileSystem fs_;
};

// --- read commands --------------------------------------------------------

TEST_F(CcctlTest, JobsTable) {  // REAL-LEDGER
  const Result result = Run({"jobs", "chem-1"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("jobs.txt", result.out);
  EXPECT_EQ(result.err, "");
  ASSERT_EQ(ledger_.calls().size(), 1u);
  EXPECT_THAT(ledger_.calls()[0].request, HasSubstr("batch: \"chem-1\""));
}

TEST_F(CcctlTest, JobsJsonIsOneMergedListJobsResponse) {  // REAL-LEDGER
  ledger_.SetMaxPageSize(3);
  const Result result = Run({"jobs", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("jobs.json", result.out);
  v1::ListJobsResponse parsed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &parsed).ok());
  EXPECT_EQ(parsed.jobs_size(), 7);
}

TEST_F(CcctlTest, JobsCsv) {
  const Result result = Run({"jobs", "-o", "csv"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("jobs.csv", result.out);
}

TEST_F(CcctlTest, JobsFollowsPageTokensToTheEnd) {
  ledger_.SetMaxPageSize(2);
  const Result result = Run({"jobs"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("jobs.txt", result.out);
  const auto calls = ledger_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_THAT(calls[0].request, Not(HasSubstr("page_token")));
  EXPECT_THAT(calls[1].request, HasSubstr("page_token: \"2\""));
  EXPECT_THAT(calls[3].request, HasSubstr("page_token: \"6\""));
}

TEST_F(CcctlTest, JobsLimitStopsEarly) {
  ledger_.SetMaxPageSize(2);
  const Result result = Run({"jobs", "--limit", "3"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              HasSubstr("\n3 of 7 jobs (raise --limit to see more)\n"));
  EXPECT_EQ(ledger_.calls().size(), 2u);
  EXPECT_THAT(ledger_.calls()[1].request, HasSubstr("page_size: 1"));
}

TEST_F(CcctlTest, JobsFiltersGoIntoTheRequest) {
  const Result result = Run({"jobs", "chem-1", "--status", "failed,broken",
                             "--cluster", "hpc1", "--name", "pyr"});
  EXPECT_EQ(result.code, 0) << result.err;
  const std::string request = ledger_.calls().at(0).request;
  EXPECT_THAT(request, HasSubstr("statuses: JOB_STATUS_FAILED"));
  EXPECT_THAT(request, HasSubstr("statuses: JOB_STATUS_BROKEN_DEPENDENCY"));
  EXPECT_THAT(request, HasSubstr("cluster: \"hpc1\""));
  EXPECT_THAT(request, HasSubstr("name_prefix: \"pyr\""));
  EXPECT_THAT(result.out, HasSubstr("chem-1/pyridine_opt"));
  EXPECT_THAT(result.out, HasSubstr("chem-1/pyridine_sp"));
  EXPECT_THAT(result.out, Not(HasSubstr("benzene")));
  EXPECT_THAT(result.out, HasSubstr("\n2 jobs\n"));
}

TEST_F(CcctlTest, JobsWithAnUnknownStatusIsBadUsage) {
  const Result result = Run({"jobs", "--status", "done"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("ccctl jobs: unknown status \"done\""));
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, ColoursOnATerminalUnlessNoColor) {
  tty_ = true;
  EXPECT_THAT(Run({"jobs"}).out, HasSubstr("\x1b[31mfailed\x1b[0m"));
  env_["NO_COLOR"] = "1";
  EXPECT_THAT(Run({"jobs"}).out, Not(HasSubstr("\x1b[")));
  tty_ = false;
  env_.clear();
  EXPECT_THAT(Run({"jobs"}).out, Not(HasSubstr("\x1b[")));
}

TEST_F(CcctlTest, StatusTable) {  // REAL-LEDGER
  const Result result = Run({"status"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("status.txt", result.out);
}

TEST_F(CcctlTest, StatusJsonAndCsv) {
  Result result = Run({"status", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("status.json", result.out);
  result = Run({"status", "-o", "csv"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("status.csv", result.out);
}

TEST_F(CcctlTest, StatusOfAnUnknownBatchIsRefused) {
  const Result result = Run({"status", "chem-9"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err,
              HasSubstr("ccctl status: not found: no batch \"chem-9\""));
}

TEST_F(CcctlTest, ShowTableAndJson) {  // REAL-LEDGER
  Result result = Run({"show", "chem-1/pyridine_opt"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("show_failed.txt", result.out);
  result = Run({"show", "chem-1/pyridine_opt", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("show_failed.json", result.out);
}

TEST_F(CcctlTest, ShowUnknownJobIsRefusedWithAHint) {
  const Result result = Run({"show", "chem-1/nope"});
  EXPECT_EQ(result.code, 1);
  EXPECT_EQ(result.out, "");
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("ccctl show: not found: no job \"chem-1/nope\""),
                    HasSubstr("ccctl jobs")));
}

TEST_F(CcctlTest, ExplainFollowsUpstreamThroughGetJob) {  // REAL-LEDGER
  const Result result = Run({"explain", "chem-1/toluene_freq"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("explain_waiting.txt", result.out);
  EXPECT_THAT(ledger_.rpc_names(),
              ElementsAre("GetJob", "GetJob", "GetJob", "ListClusters"));
}

TEST_F(CcctlTest, ExplainBrokenAndJson) {
  Result result = Run({"explain", "chem-1/pyridine_sp"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("explain_broken.txt", result.out);
  // No cluster facts needed for a failure chain.
  EXPECT_THAT(ledger_.rpc_names(), ElementsAre("GetJob", "GetJob"));
  result = Run({"explain", "chem-1/toluene_freq", "-o", "json"});
  ExpectGolden("explain_waiting.json", result.out);
}

TEST_F(CcctlTest, ClustersTable) {  // REAL-LEDGER
  const Result result = Run({"clusters"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("clusters.txt", result.out);
  EXPECT_EQ(Run({"clusters", "-o", "json"}).out, ReadGolden("clusters.json"));
}

// --- status --watch --------------------------------------------------------

TEST_F(CcctlTest, WatchPipedPrintsSummaryThenChangesUntilAllFinal) {
  std::vector<v1::WatchResponse> script =
      InitialState({"chem-1/benzene_opt", "chem-1/benzene_sp",
                    "chem-1/pyridine_opt", "chem-1/pyridine_sp"});
  script.push_back(Change(52, "chem-1/benzene_sp", v1::JOB_STATUS_RUNNING,
                          v1::JOB_STATUS_COMPLETING,
                          "COMPLETING: absent from snapshot 4814 of cluster "
                          "hpc1; verdict awaited"));
  script.push_back(Change(53, "chem-1/benzene_sp", v1::JOB_STATUS_COMPLETING,
                          v1::JOB_STATUS_SUCCEEDED,
                          "SUCCEEDED: verdict on slurm job 48117: ORCA "
                          "terminated normally"));
  // Never read: ccctl stops when every job is final.
  script.push_back(Change(54, "chem-1/benzene_sp", v1::JOB_STATUS_SUCCEEDED,
                          v1::JOB_STATUS_READY, "READY: should not be seen"));
  ledger_.SetWatchScript(script, /*hold_open=*/true);
  const Result result = Run({"status", "chem-1", "--watch"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("watch.txt", result.out);
  EXPECT_THAT(result.out, Not(HasSubstr("should not be seen")));
  // The closing summary shows the clusters as they are at the end.
  EXPECT_THAT(ledger_.rpc_names(),
              ElementsAre("Summary", "Watch", "ListClusters"));
  const auto calls = ledger_.calls();
  EXPECT_TRUE(calls[0].had_deadline);
  EXPECT_FALSE(calls[1].had_deadline) << "Watch must not have a deadline";
  EXPECT_THAT(calls[1].request, HasSubstr("batch: \"chem-1\""));
}

TEST_F(CcctlTest, WatchOnATerminalRedraws) {
  tty_ = true;
  env_["NO_COLOR"] = "1";
  std::vector<v1::WatchResponse> script = InitialState({"chem-1/benzene_sp"});
  script.push_back(Change(52, "chem-1/benzene_sp", v1::JOB_STATUS_RUNNING,
                          v1::JOB_STATUS_SUCCEEDED, "SUCCEEDED: verdict"));
  ledger_.SetWatchScript(script, /*hold_open=*/true);
  const Result result = Run({"status", "--watch"});
  EXPECT_EQ(result.code, 0) << result.err;
  const std::vector<std::string> frames =
      absl::StrSplit(result.out, "\x1b[H\x1b[2J", absl::SkipEmpty());
  ASSERT_EQ(frames.size(), 2u) << result.out;
  EXPECT_THAT(frames[0], HasSubstr("running 1"));
  EXPECT_THAT(frames[1], HasSubstr("succeeded 1"));
  EXPECT_THAT(frames[1],
              HasSubstr("recent changes\n  2026-01-01 12:00:52 UTC"
                        "  chem-1/benzene_sp  running -> succeeded"));
  EXPECT_THAT(frames[1], HasSubstr("Every job is final.\n"));
}

TEST_F(CcctlTest, WatchRefreshesClustersOnlyAsTheClockMoves) {
  tty_ = true;
  std::vector<v1::WatchResponse> script = InitialState({"chem-1/benzene_sp"});
  script.push_back(Change(52, "chem-1/benzene_sp", v1::JOB_STATUS_RUNNING,
                          v1::JOB_STATUS_SUCCEEDED, "SUCCEEDED: verdict"));
  ledger_.SetWatchScript(script, /*hold_open=*/true);
  EXPECT_EQ(Run({"status", "--watch"}).code, 0);
  EXPECT_THAT(ledger_.rpc_names(), ElementsAre("Summary", "Watch"));
}

TEST_F(CcctlTest, WatchJsonPrintsOneResponsePerLine) {
  std::vector<v1::WatchResponse> script = InitialState({"chem-1/benzene_sp"});
  script.push_back(Change(52, "chem-1/benzene_sp", v1::JOB_STATUS_RUNNING,
                          v1::JOB_STATUS_SUCCEEDED, "SUCCEEDED: verdict"));
  ledger_.SetWatchScript(script, /*hold_open=*/true);
  const Result result = Run({"status", "--watch", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  const std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << result.out;
  for (const std::string& line : lines) {
    v1::WatchResponse parsed;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok())
        << line;
  }
  EXPECT_THAT(lines[2], HasSubstr("\"resumeToken\":\"52\""));
}

TEST_F(CcctlTest, WatchStopsOnCtrlC) {
  ledger_.SetWatchScript(InitialState({"chem-1/benzene_sp"}),
                         /*hold_open=*/true);
  std::thread interrupt([this] {
    ledger_.watch_script_written().WaitForNotificationWithTimeout(
        absl::Seconds(30));
    canceller_.Cancel();
  });
  const Result result = Run({"status", "--watch"});
  interrupt.join();
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.err, HasSubstr("Stopped watching."));
}

TEST_F(CcctlTest, WatchEndedByTheLedgerTooEarlyIsUnreachable) {
  ledger_.SetWatchScript(InitialState({"chem-1/benzene_sp"}),
                         /*hold_open=*/false);
  const Result result = Run({"status", "--watch"});
  EXPECT_EQ(result.code, 3);
  EXPECT_THAT(result.err,
              HasSubstr("closed the watch stream before every job was final"));
}

TEST_F(CcctlTest, WatchWithCsvIsBadUsage) {
  const Result result = Run({"status", "--watch", "-o", "csv"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("use -o table or -o json"));
}

// --- changing commands ------------------------------------------------------

TEST_F(CcctlTest, ImportSendsTheBatchWithTheFlagsApplied) {  // REAL-LEDGER
  const Result result =
      Run({"import", "chem-3.batch", "--cluster", "hpc2", "--max-parallel", "3",
           "--retry-on", "NODE_FAIL,PREEMPTED", "--paused"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              StartsWith("Imported batch chem-3 from chem-3.batch: 4 added, "
                         "0 updated, 0 unchanged (4 jobs in the batch).\n"
                         "  cluster hpc2, max parallel 3, retry on "
                         "NODE_FAIL,PREEMPTED up to 3 attempts, paused"));
  const auto request = ledger_.last_import();
  ASSERT_TRUE(request.has_value());
  EXPECT_TRUE(request->paused());
  EXPECT_EQ(request->batch().name(), "chem-3");
  EXPECT_EQ(request->batch().cluster(), "hpc2");
  EXPECT_EQ(request->batch().max_parallel(), 3);
  EXPECT_THAT(request->batch().retry_policy().retry_on(),
              ElementsAre("NODE_FAIL", "PREEMPTED"));
  EXPECT_EQ(request->batch().retry_policy().max_attempts(), 3);
  EXPECT_EQ(request->batch().jobs_size(), 4);
  EXPECT_THAT(request->batch().jobs(1).upstream_keys(),
              ElementsAre("chem-3/benzene_opt"));
}

TEST_F(CcctlTest, ImportOutputMatchesGolden) {
  const Result result = Run({"import", "chem-3.batch"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("import.txt", result.out);
}

TEST_F(CcctlTest, ImportDryRunNeedsNoLedger) {
  const Result result =
      RunWithLedger({"import", "chem-3.batch", "--paused", "--dry-run"},
                    UnusedLocalAddress());
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("import_dry_run.txt", result.out);
}

TEST_F(CcctlTest, ImportOfABadBatchfileListsItsLinesAndSendsNothing) {
  const Result result = Run({"import", "bad.batch"});
  EXPECT_EQ(result.code, 2);
  EXPECT_EQ(result.out, "");
  ExpectGolden("import_bad.err", result.err);
  EXPECT_THAT(result.err, HasSubstr("bad.batch:3: "));
  EXPECT_THAT(result.err, HasSubstr("Nothing was imported"));
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, ImportOfAMissingFileIsBadInput) {
  const Result result = Run({"import", "missing.batch"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err,
              HasSubstr("cannot read the batchfile: open missing.batch"));
}

TEST_F(CcctlTest, ImportRetryFlagsAreChecked) {
  Result result = Run({"import", "chem-3.batch", "--max-attempts", "2"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--max-attempts needs causes"));
  result = Run({"import", "chem-3.batch", "--retry-on", "NODEFAIL"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--retry-on: "));
  result = Run({"import", "chem-3.batch", "--retry-on", "TIMEOUT",
                "--max-attempts", "500"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--max-attempts 500: must be 1 to"));
  result = Run({"import", "chem-3.batch", "--max-parallel", "-1"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, ImportRefusedByTheLedgerIsExitOne) {
  ledger_.Fail("ImportBatch",
               grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "batch chem-3: cluster \"hpc2\" is not known"));
  const Result result = Run({"import", "chem-3.batch"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err,
              HasSubstr("ccctl import: the ledger refused ImportBatch: batch "
                        "chem-3: cluster \"hpc2\" is not known"));
}

TEST_F(CcctlTest, PauseAndResume) {
  Result result = Run({"pause", "chem-1"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("Paused batch chem-1 (7 jobs)"));
  result = Run({"resume", "chem-1", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"paused\": false"));
  EXPECT_THAT(ledger_.rpc_names(), ElementsAre("PauseBatch", "ResumeBatch"));
  EXPECT_EQ(Run({"pause", "nope"}).code, 1);
  EXPECT_EQ(Run({"pause"}).code, 2);
}

TEST_F(CcctlTest, RetryKeysPrintsWhatChanged) {  // REAL-LEDGER
  const Result result = Run({"retry", "chem-1/pyridine_opt"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("retry.txt", result.out);
}

TEST_F(CcctlTest, RetryFailedOfOneBatch) {
  const Result result = Run({"retry", "--failed", "chem-1"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(ledger_.calls().at(0).request,
              HasSubstr("failed_in_batch: \"chem-1\""));
  ExpectGolden("retry.txt", result.out);
}

TEST_F(CcctlTest, RetryFailedOfEveryBatchAsksOnlyBatchesWithFailures) {
  const Result result = Run({"retry", "--failed"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(ledger_.rpc_names(), ElementsAre("Summary", "Retry"));
  EXPECT_THAT(ledger_.calls()[1].request,
              HasSubstr("failed_in_batch: \"chem-1\""));
}

TEST_F(CcctlTest, RetryOfAJobThatIsNotFailedChangesNothing) {
  const Result result = Run({"retry", "chem-1/benzene_sp"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("Nothing to retry"));
}

TEST_F(CcctlTest, RetryUsageErrors) {
  EXPECT_EQ(Run({"retry"}).code, 2);
  EXPECT_EQ(Run({"retry", "--failed", "chem-1/x"}).code, 2);
  EXPECT_EQ(Run({"retry", "--failed", "a", "b"}).code, 2);
  const Result result = Run({"retry", "pyridine_opt"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("keys are BATCH/BASENAME"));
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, CancelKeysAndBatch) {
  Result result = Run({"cancel", "chem-1/toluene_opt", "chem-1/benzene_opt"});
  EXPECT_EQ(result.code, 0) << result.err;
  // benzene_opt already succeeded: only toluene_opt changes.
  ExpectGolden("cancel.txt", result.out);
  EXPECT_THAT(result.out, StartsWith("Cancel changed 1 job:\n"));
  EXPECT_THAT(result.out, HasSubstr("scancel 48120 acknowledged"));
  result = Run({"cancel", "--batch", "chem-1", "-o", "csv"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("chem-1/toluene_freq,chem-1,cancelled"));
  EXPECT_THAT(ledger_.calls()[1].request, HasSubstr("batch: \"chem-1\""));
}

TEST_F(CcctlTest, CancelNeedsKeysOrBatchButNotBoth) {
  EXPECT_EQ(Run({"cancel"}).code, 2);
  EXPECT_EQ(Run({"cancel", "chem-1/a", "--batch", "chem-1"}).code, 2);
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, ExportToStdoutAndToAFile) {  // REAL-LEDGER
  Result result = Run({"export", "chem-1"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, fixture_.export_csv);
  result = Run({"export", "--out", "__ledger__.csv"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out, "Wrote 2 jobs to __ledger__.csv\n");
  EXPECT_EQ(fs_.Contents("__ledger__.csv"), fixture_.export_csv);
}

// --- check-output (local) ---------------------------------------------------

TEST_F(CcctlTest, CheckOutputJudgesLocallyWithTheAgentsLibrary) {
  // No ledger anywhere: the command must not try to reach one.
  const Result result =
      RunWithLedger({"check-output", "--program", "xtb", "water_opt.out"},
                    UnusedLocalAddress());
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("check_output.txt", result.out);
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, CheckOutputJson) {
  const Result result =
      Run({"check-output", "-p", "XTB", "water_opt.out", "-o", "json"});
  EXPECT_EQ(result.code, 0) << result.err;
  ExpectGolden("check_output.json", result.out);
  v1::Verdict verdict;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &verdict).ok());
  EXPECT_EQ(verdict.outcome(), v1::Verdict::OUTCOME_SUCCEEDED);
}

TEST_F(CcctlTest, CheckOutputOfAnUnfinishedFileSaysWhatThatMeans) {
  const Result result =
      Run({"check-output", "-p", "xtb", "water_opt_truncated.out"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("failed (incomplete_output)"));
  EXPECT_THAT(result.out, HasSubstr("note: incomplete_output is what a file "
                                    "still being written looks like"));
}

TEST_F(CcctlTest, CheckOutputUsesTheUsersRuleFiles) {
  fs_.SetFile("rules/xtb_rules.dat",
              "my_energy ; TOTAL\\s+ENERGY ; last ; float\n", FixtureNow());
  const Result result = Run({"check-output", "-p", "xtb", "--rules-dir",
                             "rules", "water_opt.out", "-o", "csv"});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_EQ(result.out,
            "outcome,cause,file,line,rule,text\n"
            "succeeded,,output,22,normal_termination, * finished run on "
            "2026/01/01 at 11:59:02.312\n");
  const Result json = Run({"check-output", "-p", "xtb", "--rules-dir", "rules",
                           "water_opt.out", "-o", "json"});
  EXPECT_THAT(json.out, HasSubstr("\"name\": \"my_energy\""));
  EXPECT_THAT(json.out, Not(HasSubstr("E_el_au")));
}

TEST_F(CcctlTest, CheckOutputBadInputIsExitTwo) {
  Result result = Run({"check-output", "-p", "gausian", "water_opt.out"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err,
              HasSubstr("--program \"gausian\": expected one of gaussian, "
                        "orca, xtb, crest, pyaroma"));
  result = Run({"check-output", "-p", "xtb", "absent.out"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("cannot read the output file"));
  fs_.SetFile("bad-rules/xtb_rules.dat", "nonsense without separators\n",
              FixtureNow());
  result = Run({"check-output", "-p", "xtb", "--rules-dir", "bad-rules",
                "water_opt.out"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("xtb_rules.dat:1"));
  EXPECT_EQ(Run({"check-output", "water_opt.out"}).code, 2);  // no --program
}

// --- connection, token, deadlines, exit codes --------------------------------

TEST_F(CcctlTest, TokenGoesInTheAuthorizationHeader) {
  EXPECT_EQ(Run({"--token-file", "token", "jobs"}).code, 0);
  EXPECT_EQ(Run({"clusters", "--token-file", "token"}).code, 0);
  EXPECT_EQ(Run({"clusters"}).code, 0);
  const auto calls = ledger_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].authorization, "Bearer s3cret-token");
  EXPECT_EQ(calls[1].authorization, "Bearer s3cret-token");
  EXPECT_EQ(calls[2].authorization, "");
}

TEST_F(CcctlTest, BadTokenFilesAreBadInput) {
  Result result = Run({"--token-file", "absent", "jobs"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--token-file: open absent"));
  fs_.SetFile("empty", " \n", FixtureNow());
  result = Run({"--token-file", "empty", "jobs"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("expected one token on one line"));
  fs_.SetFile("two", "a b\n", FixtureNow());
  EXPECT_EQ(Run({"--token-file", "two", "jobs"}).code, 2);
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, EveryUnaryCallHasADeadline) {
  Run({"jobs"});
  Run({"status"});
  Run({"explain", "chem-1/toluene_freq"});
  Run({"export"});
  EXPECT_THAT(ledger_.calls(),
              Each(Field(&testing::RecordedCall::had_deadline, true)));
}

TEST_F(CcctlTest, UnreachableLedgerIsExitThreeWithAddressAndHint) {
  const std::string nowhere = UnusedLocalAddress();
  const Result result = RunWithLedger({"jobs"}, nowhere);
  EXPECT_EQ(result.code, 3);
  EXPECT_THAT(
      result.err,
      AllOf(HasSubstr("ccctl jobs: cannot reach the ledger at " + nowhere),
            HasSubstr("Is ledger_service running there? Set --ledger "
                      "or CCBATCH_LEDGER")));
}

TEST_F(CcctlTest, LedgerAddressComesFromTheEnvironmentUnlessGiven) {
  env_["CCBATCH_LEDGER"] = server_.address();
  EXPECT_EQ(RunWithLedger({"clusters"}, "").code, 0);
  env_["CCBATCH_LEDGER"] = UnusedLocalAddress();
  const Result result = RunWithLedger({"clusters"}, "");
  EXPECT_EQ(result.code, 3);
  EXPECT_THAT(result.err, HasSubstr(env_["CCBATCH_LEDGER"]));
  // --ledger wins over the environment.
  EXPECT_EQ(Run({"clusters"}).code, 0);
}

TEST_F(CcctlTest, LedgerSideUnavailableIsExitThree) {
  ledger_.Fail("*",
               grpc::Status(grpc::StatusCode::UNAVAILABLE, "store is closing"));
  EXPECT_EQ(Run({"clusters"}).code, 3);
}

TEST_F(CcctlTest, PermissionDeniedIsExitOneAndSaysWhichToken) {
  ledger_.Fail("Retry", grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                     "token \"reader\" may only read"));
  const Result result =
      Run({"--token-file", "token", "retry", "chem-1/pyridine_opt"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err,
              AllOf(HasSubstr("not allowed: token \"reader\" may only read"),
                    HasSubstr("admin token")));
}

TEST_F(CcctlTest, ConnectionFlagsAreChecked) {
  EXPECT_EQ(Run({"--timeout", "0", "jobs"}).code, 2);
  Result result = Run({"--tls-cert", "token", "jobs"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--tls-cert and --tls-key go together"));
  result = Run({"--tls-ca", "absent.pem", "jobs"});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("--tls-ca: open absent.pem"));
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

// --- usage -------------------------------------------------------------------

TEST_F(CcctlTest, UsageErrorsAreExitTwoWithAPointerToHelp) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"jobs", "a", "b"},
      {"jobs", "-o", "xml"},
      {"show"},
      {"import"},
      {"jobs", "--limit", "many"},
  };
  for (const auto& args : bad) {
    const Result result = Run(args);
    EXPECT_EQ(result.code, 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(result.err, HasSubstr("--help` for usage"))
        << absl::StrJoin(args, " ");
  }
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

TEST_F(CcctlTest, EveryCommandHasHelpWithAnExample) {
  for (const std::string command :
       {"import", "pause", "resume", "status", "jobs", "show", "explain",
        "retry", "cancel", "clusters", "export", "check-output"}) {
    const Result result = Run({command, "--help"});
    EXPECT_EQ(result.code, 0) << command;
    EXPECT_THAT(result.out, HasSubstr("Usage: ccctl " + command)) << command;
    EXPECT_THAT(result.out, HasSubstr("Example:\n  ccctl " + command))
        << command;
  }
  const Result top = Run({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_THAT(top.out, HasSubstr("Exit codes: 0 ok, 1 the ledger refused"));
  EXPECT_THAT(ledger_.calls(), IsEmpty());
}

}  // namespace
}  // namespace ccbatch::cli
