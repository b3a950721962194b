// ccctl against the real thing (issue 5): RunCcctl talks over a socket to a
// LedgerServer serving a real Ledger over a MemoryStore, in this process.
// The agent's side is played by calling the Ledger's agent methods directly
// (connect, answer adoption checks, report submissions, snapshots and
// verdicts), which is synchronous: nothing here waits on another thread.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "cli/ccctl_app.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/file_system.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_server.h"
#include "ledger_service/store_memory.h"
#include "tests/cli/scripted_ledger.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::cli::testing::UnusedLocalAddress;
using ::ccbatch::ledger::AssembledSnapshot;
using ::ccbatch::ledger::Ledger;
using ::ccbatch::ledger::LedgerOptions;
using ::ccbatch::ledger::LedgerServer;
using ::ccbatch::ledger::LedgerServerOptions;
using ::ccbatch::ledger::MemoryStore;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Two molecules, each optimised with xTB and then given an ORCA single
// point from the optimised geometry.
constexpr char kBatchfile[] =
    "run_root_directory=/home/chem/runs/duo\n"
    "batch=duo\n"
    "cluster=hpc1\n"
    "max_parallel=2\n"
    "job_basename|job_directory|program|pipe\n"
    "water_opt|water|xTB|\n"
    "water_sp|water/sp|ORCA|coords{..,xtbopt.xyz}\n"
    "ethanol_opt|ethanol|xTB|\n"
    "ethanol_sp|ethanol/sp|ORCA|coords{..,xtbopt.xyz}\n";

// Misspelt program, upstream directory that is no job.
constexpr char kBadBatchfile[] =
    "run_root_directory=/home/chem/runs/bad\n"
    "job_basename|job_directory|program|pipe\n"
    "water_opt|water|gausian|\n"
    "water_sp|water/sp|ORCA|coords{../nowhere,}\n";

// The scripted agent's stream id: far above the ids the server hands its own
// Connect streams (none are opened here), so the two never collide.
constexpr uint64_t kAgentStream = 1u << 30;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class CcctlRealLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    LedgerOptions ledger_options;
    ledger_options.default_cluster = "hpc1";
    ledger_options.log = &log_;
    absl::StatusOr<std::unique_ptr<Ledger>> ledger =
        Ledger::Open(store_.get(), &clock_, std::move(ledger_options));
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = *std::move(ledger);
    LedgerServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    // Time moves only when the test says: no ticks, no staleness flips.
    server_options.tick_interval = absl::InfiniteDuration();
    server_options.shutdown_grace = absl::Seconds(2);
    absl::StatusOr<std::unique_ptr<LedgerServer>> server =
        LedgerServer::Start(ledger_.get(), &log_, std::move(server_options));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    const char* tmp = std::getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    dir_ = absl::StrCat(
        tmp, "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(fs_.CreateDirectories(dir_).ok());
    batchfile_ = dir_ + "/duo.batch";
    ASSERT_TRUE(fs_.WriteFile(batchfile_, kBatchfile).ok());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  Result Run(std::vector<std::string> args) {
    return RunAt(std::move(args), absl::StrCat("127.0.0.1:", server_->port()));
  }

  Result RunAt(std::vector<std::string> args, const std::string& ledger) {
    args.insert(args.begin(), "ccctl");
    args.push_back("--ledger=" + ledger);
    std::ostringstream out;
    std::ostringstream err;
    CcctlEnvironment env;
    env.out = &out;
    env.err = &err;
    env.clock = &clock_;
    env.time_zone = absl::UTCTimeZone();
    env.get_env = [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    };
    env.fs = &fs_;
    Result result;
    result.code = RunCcctl(args, env);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  void Import() {
    const Result result = Run({"import", batchfile_});
    ASSERT_EQ(result.code, 0) << result.err;
  }

  // key -> status of every job, read with `ccctl jobs -o json`.
  std::map<std::string, v1::JobStatus> Statuses() {
    const Result result = Run({"jobs", "-o", "json"});
    EXPECT_EQ(result.code, 0) << result.err;
    v1::ListJobsResponse parsed;
    EXPECT_TRUE(
        google::protobuf::util::JsonStringToMessage(result.out, &parsed).ok())
        << result.out;
    std::map<std::string, v1::JobStatus> statuses;
    for (const v1::JobView& job : parsed.jobs()) {
      statuses[job.key()] = job.status();
    }
    return statuses;
  }

  // Directives due for the scripted agent.
  std::vector<v1::LedgerDirective> Take() {
    return ledger_->TakeDirectives("hpc1", kAgentStream);
  }

  void Snapshot(const std::vector<std::pair<std::string, std::string>>& jobs) {
    AssembledSnapshot snapshot;
    snapshot.seq = ++snapshot_seq_;
    snapshot.taken_at = clock_.Now();
    for (const auto& [id, state] : jobs) {
      v1::QueueEntry& entry = snapshot.entries.emplace_back();
      entry.set_slurm_job_id(id);
      entry.set_state(state);
      entry.set_reason("None");
      entry.set_name("job");
    }
    ASSERT_TRUE(ledger_->ApplySnapshot("hpc1", snapshot).ok());
  }

  // Plays the agent until duo/water_opt has SUCCEEDED and duo/ethanol_opt
  // has FAILED (scf_fail): connect, find nothing to adopt, submit both opt
  // jobs, see them run and leave the queue, judge their outputs.
  void SucceedWaterFailEthanol() {
    v1::Hello hello;
    hello.set_cluster("hpc1");
    hello.set_user("chem");
    hello.set_agent_version("test");
    ASSERT_TRUE(ledger_->AgentConnected(hello, kAgentStream).ok());
    for (const v1::LedgerDirective& directive : Take()) {
      if (!directive.has_check_output()) continue;
      v1::CheckOutputResult nothing;
      nothing.set_order_id(directive.check_output().order_id());
      nothing.mutable_verdict()->set_job_key(
          directive.check_output().job_key());
      ASSERT_TRUE(ledger_->ApplyCheckOutputResult("hpc1", nothing).ok());
    }
    const std::map<std::string, std::string> slurm_ids = {
        {"duo/water_opt", "101"}, {"duo/ethanol_opt", "102"}};
    int submitted = 0;
    for (const v1::LedgerDirective& directive : Take()) {
      if (!directive.has_submit()) continue;
      v1::SubmitResult result;
      result.set_order_id(directive.submit().order_id());
      result.set_slurm_job_id(slurm_ids.at(directive.submit().job_key()));
      result.mutable_submitted_at()->set_seconds(
          absl::ToUnixSeconds(clock_.Now()));
      ASSERT_TRUE(ledger_->ApplySubmitResult("hpc1", result).ok());
      ++submitted;
    }
    ASSERT_EQ(submitted, 2);
    clock_.Advance(absl::Seconds(30));
    Snapshot({{"101", "RUNNING"}, {"102", "RUNNING"}});
    clock_.Advance(absl::Seconds(30));
    Snapshot({});
    int judged = 0;
    for (const v1::LedgerDirective& directive : Take()) {
      if (!directive.has_check_output()) continue;
      const v1::CheckOutput& check = directive.check_output();
      const bool water = check.job_key() == "duo/water_opt";
      v1::CheckOutputResult result;
      result.set_order_id(check.order_id());
      v1::Verdict& verdict = *result.mutable_verdict();
      verdict.set_job_key(check.job_key());
      verdict.set_slurm_job_id(check.slurm_job_id());
      verdict.set_attempt(check.attempt());
      verdict.set_outcome(water ? v1::Verdict::OUTCOME_SUCCEEDED
                                : v1::Verdict::OUTCOME_FAILED);
      verdict.set_cause(water ? "" : "scf_fail");
      verdict.set_summary(water ? "normal termination"
                                : "the SCF did not converge");
      ASSERT_TRUE(ledger_->ApplyCheckOutputResult("hpc1", result).ok());
      ++judged;
    }
    ASSERT_EQ(judged, 2);
  }

  common::FakeClock clock_;
  common::EventLog log_{&clock_, common::EventLog::DiscardSink()};
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerServer> server_;
  common::PosixFileSystem fs_;
  std::string dir_;
  std::string batchfile_;
  uint64_t snapshot_seq_ = 0;
};

TEST_F(CcctlRealLedgerTest, ImportThenStatusCountsTheJobs) {
  const Result imported = Run({"import", batchfile_});
  ASSERT_EQ(imported.code, 0) << imported.err;
  EXPECT_THAT(imported.out, HasSubstr("duo"));

  Result result = Run({"status"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("duo"));
  EXPECT_THAT(result.out, HasSubstr("0/4 final"));
  EXPECT_THAT(result.out, HasSubstr("waiting 2  ready 2"));

  result = Run({"status", "-o", "json"});
  ASSERT_EQ(result.code, 0) << result.err;
  v1::SummaryResponse summary;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &summary).ok())
      << result.out;
  ASSERT_EQ(summary.batches_size(), 1);
  const v1::BatchSummary& batch = summary.batches(0);
  EXPECT_EQ(batch.batch().name(), "duo");
  EXPECT_EQ(batch.batch().max_parallel(), 2);
  EXPECT_EQ(batch.total(), 4);
  EXPECT_EQ(batch.final(), 0);
  std::map<v1::JobStatus, int> counts;
  for (const v1::StatusCount& count : batch.counts()) {
    counts[count.status()] = count.count();
  }
  EXPECT_EQ(counts[v1::JOB_STATUS_WAITING], 2);
  EXPECT_EQ(counts[v1::JOB_STATUS_READY], 2);
  int sum = 0;
  for (const auto& [status, count] : counts) sum += count;
  EXPECT_EQ(sum, 4);
}

TEST_F(CcctlRealLedgerTest, JobsListsEveryKeyWithItsStatus) {
  Import();
  const std::map<std::string, v1::JobStatus> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_EQ(statuses.at("duo/water_sp"), v1::JOB_STATUS_WAITING);
  EXPECT_EQ(statuses.at("duo/ethanol_sp"), v1::JOB_STATUS_WAITING);
  EXPECT_EQ(statuses.at("duo/water_opt"), v1::JOB_STATUS_READY);
  EXPECT_EQ(statuses.at("duo/ethanol_opt"), v1::JOB_STATUS_READY);

  // Batchfile order; ages are 0s because the FakeClock has not moved.
  const Result table = Run({"jobs"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out,
            "KEY              STATUS   CLUSTER  SLURM ID  AGE  REASON\n"
            "duo/water_opt    ready    hpc1     -         0s   no upstream "
            "jobs\n"
            "duo/water_sp     waiting  hpc1     -         0s   upstream "
            "duo/water_opt is READY\n"
            "duo/ethanol_opt  ready    hpc1     -         0s   no upstream "
            "jobs\n"
            "duo/ethanol_sp   waiting  hpc1     -         0s   upstream "
            "duo/ethanol_opt is READY\n"
            "4 jobs\n");
}

TEST_F(CcctlRealLedgerTest, VerdictsShowInJobsShowAndExplain) {
  Import();
  SucceedWaterFailEthanol();
  const std::map<std::string, v1::JobStatus> statuses = Statuses();
  EXPECT_EQ(statuses.at("duo/water_opt"), v1::JOB_STATUS_SUCCEEDED);
  EXPECT_EQ(statuses.at("duo/ethanol_opt"), v1::JOB_STATUS_FAILED);
  EXPECT_EQ(statuses.at("duo/ethanol_sp"), v1::JOB_STATUS_BROKEN_DEPENDENCY);
  EXPECT_NE(statuses.at("duo/water_sp"), v1::JOB_STATUS_WAITING);

  Result result = Run({"jobs", "--status", "failed,broken"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("duo/ethanol_opt"), HasSubstr("duo/ethanol_sp"),
                    Not(HasSubstr("water"))));

  result = Run({"show", "duo/ethanol_opt"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, AllOf(HasSubstr("status     failed"),
                                HasSubstr("outcome  failed (scf_fail)"),
                                HasSubstr("summary  the SCF did not converge"),
                                HasSubstr("attempt    1, slurm job 102")));

  result = Run({"explain", "duo/ethanol_sp"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              AllOf(StartsWith("duo/ethanol_sp is broken_dependency"),
                    HasSubstr("broken by upstream duo/ethanol_opt"),
                    HasSubstr("failed (scf_fail)"),
                    HasSubstr("ccctl retry duo/ethanol_opt")));
}

TEST_F(CcctlRealLedgerTest, RetryMakesTheBrokenDependantWaitAgain) {
  Import();
  SucceedWaterFailEthanol();
  const Result result = Run({"retry", "duo/ethanol_opt"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("duo/ethanol_opt"), HasSubstr("duo/ethanol_sp")));
  const std::map<std::string, v1::JobStatus> statuses = Statuses();
  EXPECT_EQ(statuses.at("duo/ethanol_sp"), v1::JOB_STATUS_WAITING);
  // The agent is connected, so the new attempt is ordered at once.
  EXPECT_EQ(statuses.at("duo/ethanol_opt"), v1::JOB_STATUS_SUBMITTING);
  EXPECT_EQ(statuses.at("duo/water_opt"), v1::JOB_STATUS_SUCCEEDED);
  std::vector<std::string> ordered;
  for (const v1::LedgerDirective& directive : Take()) {
    if (directive.has_submit()) ordered.push_back(directive.submit().job_key());
  }
  EXPECT_THAT(ordered, ::testing::Contains("duo/ethanol_opt"));
}

TEST_F(CcctlRealLedgerTest, CancelOfAWaitingJobCancelsIt) {
  Import();
  const Result result = Run({"cancel", "duo/ethanol_sp"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, AllOf(HasSubstr("Cancel changed 1 job"),
                                HasSubstr("duo/ethanol_sp  cancelled"),
                                HasSubstr("cancelled before any submission")));
  const std::map<std::string, v1::JobStatus> statuses = Statuses();
  EXPECT_EQ(statuses.at("duo/ethanol_sp"), v1::JOB_STATUS_CANCELLED);
  EXPECT_EQ(statuses.at("duo/water_sp"), v1::JOB_STATUS_WAITING);
}

TEST_F(CcctlRealLedgerTest, PauseAndResumeReachTheLedger) {
  Import();
  Result result = Run({"pause", "duo"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Paused batch duo"));
  v1::SummaryResponse summary;
  result = Run({"status", "-o", "json"});
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &summary).ok());
  ASSERT_EQ(summary.batches_size(), 1);
  EXPECT_TRUE(summary.batches(0).batch().paused());

  result = Run({"resume", "duo", "-o", "json"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("\"paused\": false"));
  result = Run({"status", "-o", "json"});
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(result.out, &summary).ok());
  EXPECT_FALSE(summary.batches(0).batch().paused());
}

TEST_F(CcctlRealLedgerTest, ClustersShowsTheConnectedAgent) {
  Import();
  SucceedWaterFailEthanol();
  const Result result = Run({"clusters"});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_THAT(result.out,
              AllOf(HasSubstr("\nhpc1     connected "), HasSubstr(" chem "),
                    Not(HasSubstr("disconnected"))));
}

TEST_F(CcctlRealLedgerTest, ExportWritesBatchRunnerStatuses) {
  Import();
  SucceedWaterFailEthanol();
  const Result result = Run({"export", "duo"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::vector<std::string> lines =
      absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u) << result.out;
  EXPECT_EQ(lines[0],
            "job_id|job_basename|job_directory|job_status|program|coords_from|"
            "xyz_filename|orbitals_from|gbw_filename");
  std::map<std::string, std::string> status_of;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> fields = absl::StrSplit(lines[i], '|');
    ASSERT_GE(fields.size(), 4u) << lines[i];
    status_of[fields[1]] = fields[3];
  }
  EXPECT_EQ(status_of["water_opt"], "succeeded");
  EXPECT_EQ(status_of["ethanol_opt"], "failed");
  EXPECT_EQ(status_of["ethanol_sp"], "broken_dependency");
  EXPECT_EQ(status_of["water_sp"], "pending");  // ordered, no SLURM id yet
  EXPECT_THAT(lines[1], StartsWith("101|water_opt|water|"));
  EXPECT_THAT(lines[2], HasSubstr("|ORCA|..|xtbopt.xyz|"));
}

TEST_F(CcctlRealLedgerTest, UnknownJobIsRefused) {
  Import();
  const Result result = Run({"show", "duo/nope"});
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("duo/nope"));
}

TEST_F(CcctlRealLedgerTest, BadBatchfileIsBadInputAndImportsNothing) {
  const std::string bad = dir_ + "/bad.batch";
  ASSERT_TRUE(fs_.WriteFile(bad, kBadBatchfile).ok());
  const Result result = Run({"import", bad});
  EXPECT_EQ(result.code, 2);
  EXPECT_THAT(result.err, HasSubstr("bad.batch:3: "));
  const Result status = Run({"status", "-o", "json"});
  ASSERT_EQ(status.code, 0) << status.err;
  v1::SummaryResponse summary;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(status.out, &summary).ok());
  EXPECT_EQ(summary.batches_size(), 0);
}

TEST_F(CcctlRealLedgerTest, LedgerNobodyListensOnIsUnreachable) {
  const std::string nowhere = UnusedLocalAddress();
  const Result result = RunAt({"status"}, nowhere);
  EXPECT_EQ(result.code, 3);
  EXPECT_THAT(result.err, HasSubstr(nowhere));
}

}  // namespace
}  // namespace ccbatch::cli
