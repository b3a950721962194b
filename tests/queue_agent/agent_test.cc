// The agent runtime against a real in-process gRPC server playing the
// ledger (ScriptedAgentLedger), with squeue played by a settable fake.
#include "queue_agent/agent.h"

#include <memory>
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
#include "common/metrics_http_server.h"
#include "common/process_runner.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "queue_agent/order_executor.h"
#include "queue_agent/order_journal.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/rule_sets.h"
#include "queue_agent/squeue_probe.h"
#include "queue_agent/submitter.h"
#include "tests/common/metrics_scrape.h"
#include "tests/queue_agent/scripted_agent_ledger.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::common::ExitedWith;
using ::ccbatch::common::ProcessRequest;
using ::ccbatch::common::ProcessResult;
using ::ccbatch::testing::CompleteSnapshotSeqs;
using ::ccbatch::testing::ReceivedMessage;
using ::ccbatch::testing::SampleValue;
using ::ccbatch::testing::ScrapeMetrics;
using ::ccbatch::testing::ScriptedAgentLedger;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::SizeIs;

constexpr absl::Duration kWait = absl::Seconds(20);

// squeue whose answer the test sets; counts its calls.
class SettableSqueue final : public common::ProcessRunner {
 public:
  void Set(ProcessResult result) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(result);
  }
  absl::StatusOr<ProcessResult> Run(const ProcessRequest&) override {
    absl::MutexLock lock(&mu_);
    return result_;
  }

 private:
  absl::Mutex mu_;
  ProcessResult result_ ABSL_GUARDED_BY(mu_) = ExitedWith(0);
};

// An OrderExecutor that answers at once, or holds Submit until released.
class ScriptedExecutor final : public OrderExecutor {
 public:
  void HoldSubmits(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  bool AwaitSubmitsStarted(int n) {
    absl::MutexLock lock(&mu_);
    auto started = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return static_cast<int>(submits_.size()) >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&started), kWait);
  }
  std::vector<std::string> submits() const {
    absl::MutexLock lock(&mu_);
    return submits_;
  }

  v1::SubmitResult Submit(const v1::SubmitOrder& order) override {
    absl::MutexLock lock(&mu_);
    submits_.push_back(order.order_id());
    mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    v1::SubmitResult result;
    result.set_order_id(order.order_id());
    result.set_slurm_job_id(absl::StrCat(5000 + submits_.size()));
    return result;
  }
  v1::CancelResult Cancel(const v1::CancelOrder& order) override {
    v1::CancelResult result;
    result.set_order_id(order.order_id());
    result.set_ok(true);
    return result;
  }
  v1::CheckOutputResult CheckOutput(const v1::CheckOutput& order) override {
    v1::CheckOutputResult result;
    result.set_order_id(order.order_id());
    result.mutable_verdict()->set_job_key(order.job_key());
    result.mutable_verdict()->set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
    return result;
  }

 private:
  mutable absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> submits_ ABSL_GUARDED_BY(mu_);
};

// `n` squeue lines in the agent's format, ids from `first_id`.
std::string SqueueLines(int n, int first_id = 4800) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&text, first_id + i,
                    "\x1fRUNNING\x1fNone\x1fnode01\x1f"
                    "ccb:order-",
                    i, "\x1fjob ", i, " | with spaces\n");
  }
  return text;
}

bool HasSnapshotEntries(const std::vector<ReceivedMessage>& received,
                        int stream) {
  for (const ReceivedMessage& r : received) {
    if (r.stream == stream && r.message.has_snapshot_chunk() &&
        r.message.snapshot_chunk().last()) {
      return true;
    }
  }
  return false;
}

class AgentTest : public ::testing::Test {
 protected:
  explicit AgentTest(ScriptedAgentLedger::Options ledger_options = {})
      : ledger_(ledger_options),
        log_(&clock_,
             [this](const std::string& line) {
               absl::MutexLock lock(&log_mu_);
               log_lines_.push_back(line);
             },
             {{"cluster", "hpc1"}}) {}

  void SetUp() override {
    ledger_.Start();
    SqueueProbeOptions probe_options;
    probe_options.user = "chemist";
    auto probe = SqueueProbe::Create(probe_options, &squeue_, &clock_);
    ASSERT_TRUE(probe.ok()) << probe.status();
    probe_ = *std::move(probe);
  }

  void TearDown() override {
    if (agent_ != nullptr) agent_->Stop();
  }

  AgentOptions Options() {
    AgentOptions options;
    options.cluster = "hpc1";
    options.user = "chemist";
    // Probes run at start and on ProbeNow only.
    options.interval = absl::Hours(1);
    options.reconnect.initial = absl::Milliseconds(10);
    options.reconnect.max = absl::Milliseconds(50);
    options.bearer_token = "agent-secret";
    options.metrics = &metrics_;
    return options;
  }

  void StartAgent(AgentOptions options) {
    auto agent =
        Agent::Create(std::move(options),
                      grpc::CreateChannel(ledger_.address(),
                                          grpc::InsecureChannelCredentials()),
                      probe_.get(), &clock_, &log_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    agent_->Start(&executor_);
  }

  // Probes once more and waits until that probe is published.
  void ProbeAgain() {
    const int64_t before = agent_->counters().probes;
    agent_->ProbeNow();
    ASSERT_TRUE(agent_->AwaitCounters(
        [before](const AgentCounters& c) { return c.probes > before; }, kWait));
  }

  std::vector<std::string> LogLines() {
    absl::MutexLock lock(&log_mu_);
    return log_lines_;
  }

  common::FakeClock clock_;
  common::MetricsRegistry metrics_;
  SettableSqueue squeue_;
  ScriptedAgentLedger ledger_;
  absl::Mutex log_mu_;
  std::vector<std::string> log_lines_ ABSL_GUARDED_BY(log_mu_);
  common::EventLog log_;
  std::unique_ptr<SqueueProbe> probe_;
  ScriptedExecutor executor_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, HelloFirstThenTheSnapshotInChunks) {
  squeue_.Set(ExitedWith(0, SqueueLines(5)));
  AgentOptions options = Options();
  options.chunk_limits.max_entries = 2;
  StartAgent(options);

  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return HasSnapshotEntries(r, 1);
  }));
  const std::vector<ReceivedMessage> received = ledger_.received();
  ASSERT_THAT(received, SizeIs(4));
  ASSERT_TRUE(received[0].message.has_hello());
  const v1::Hello& hello = received[0].message.hello();
  EXPECT_EQ(hello.cluster(), "hpc1");
  EXPECT_EQ(hello.user(), "chemist");
  EXPECT_EQ(hello.agent_version(), kAgentVersion);

  std::vector<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(received[i].message.has_snapshot_chunk());
    const v1::SnapshotChunk& chunk = received[i].message.snapshot_chunk();
    EXPECT_EQ(chunk.chunk_index(), static_cast<uint32_t>(i - 1));
    EXPECT_EQ(chunk.last(), i == 3);
    EXPECT_EQ(chunk.total_entries(), 5u);
    EXPECT_EQ(chunk.snapshot_seq(),
              received[1].message.snapshot_chunk().snapshot_seq());
    for (const v1::QueueEntry& entry : chunk.entries()) {
      ids.push_back(entry.slurm_job_id());
    }
  }
  EXPECT_THAT(ids, ElementsAre("4800", "4801", "4802", "4803", "4804"));
  EXPECT_EQ(received[3].message.snapshot_chunk().entries(0).name(),
            "job 4 | with spaces");
  EXPECT_THAT(ledger_.authorizations(), ElementsAre("Bearer agent-secret"));
}

TEST_F(AgentTest, ProbeFailureIsSentAndNeverAnEmptySnapshot) {
  squeue_.Set(ExitedWith(
      1, "", "slurm_load_jobs error: Unable to contact slurm controller\n"));
  StartAgent(Options());
  ASSERT_TRUE(ledger_.WaitFor(
      [](const std::vector<ReceivedMessage>& r) { return r.size() >= 2; }));
  // squeue exits 0 with nothing but an error on stderr (unknown user):
  // also a failure.
  squeue_.Set(ExitedWith(0, "", "squeue: error: Invalid user: chemist\n"));
  ProbeAgain();
  ASSERT_TRUE(ledger_.WaitFor(
      [](const std::vector<ReceivedMessage>& r) { return r.size() >= 3; }));
  // Then a healthy probe, so that anything sent in between would show.
  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  ProbeAgain();
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return HasSnapshotEntries(r, 1);
  }));

  const std::vector<ReceivedMessage> received = ledger_.received();
  ASSERT_THAT(received, SizeIs(4));
  EXPECT_TRUE(received[0].message.has_hello());
  ASSERT_TRUE(received[1].message.has_probe_failure());
  EXPECT_EQ(received[1].message.probe_failure().exit_code(), 1);
  EXPECT_THAT(received[1].message.probe_failure().error(),
              HasSubstr("Unable to contact slurm controller"));
  ASSERT_TRUE(received[2].message.has_probe_failure());
  EXPECT_THAT(received[2].message.probe_failure().error(),
              HasSubstr("Invalid user"));
  ASSERT_TRUE(received[3].message.has_snapshot_chunk());
  EXPECT_EQ(received[3].message.snapshot_chunk().total_entries(), 1u);

  std::vector<std::string> failure_lines;
  for (const std::string& line : LogLines()) {
    if (absl::StrContains(line, "event=probe_failed")) {
      failure_lines.push_back(line);
    }
  }
  ASSERT_THAT(failure_lines, SizeIs(2));
  EXPECT_THAT(failure_lines[0], HasSubstr("cluster=hpc1"));
  EXPECT_THAT(failure_lines[0], HasSubstr("exit_code=1"));
  EXPECT_THAT(failure_lines[1], HasSubstr("Invalid user"));
}

TEST_F(AgentTest, TheMetricsEndpointShowsProbesAndStreams) {
  CCB_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<common::MetricsHttpServer> server,
      common::MetricsHttpServer::Start("127.0.0.1:0", &metrics_));
  squeue_.Set(ExitedWith(
      1, "", "slurm_load_jobs error: Unable to contact slurm controller\n"));
  StartAgent(Options());
  ASSERT_TRUE(ledger_.WaitFor(
      [](const std::vector<ReceivedMessage>& r) { return r.size() >= 2; }));
  squeue_.Set(ExitedWith(0, SqueueLines(3)));
  ProbeAgain();
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return HasSnapshotEntries(r, 1);
  }));

  CCB_ASSERT_OK_AND_ASSIGN(const std::string text,
                           ScrapeMetrics(server->port()));
  EXPECT_THAT(SampleValue(text, "ccbatch_agent_squeue_seconds_count"),
              Optional(2.0))
      << text;
  EXPECT_THAT(SampleValue(text, "ccbatch_agent_squeue_failures_total"),
              Optional(1.0));
  EXPECT_THAT(SampleValue(text, "ccbatch_agent_snapshot_entries"),
              Optional(3.0));
  EXPECT_THAT(SampleValue(text, "ccbatch_agent_stream_connects_total"),
              Optional(1.0));
}

TEST_F(AgentTest, OrdersAreExecutedAndAnswered) {
  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  StartAgent(Options());
  v1::LedgerDirective submit;
  submit.mutable_submit()->set_order_id("o-submit");
  submit.mutable_submit()->set_job_key("b/mol1");
  v1::LedgerDirective check;
  check.mutable_check_output()->set_order_id("o-check");
  check.mutable_check_output()->set_job_key("b/mol2");
  v1::LedgerDirective cancel;
  cancel.mutable_cancel()->set_order_id("o-cancel");
  cancel.mutable_cancel()->set_slurm_job_id("4800");
  ledger_.Send(submit);
  ledger_.Send(check);
  ledger_.Send(cancel);

  auto answered = [](const std::vector<ReceivedMessage>& r) {
    int answers = 0;
    for (const ReceivedMessage& m : r) {
      answers += m.message.has_submit_result() ||
                 m.message.has_check_output_result() ||
                 m.message.has_cancel_result();
    }
    return answers >= 3;
  };
  ASSERT_TRUE(ledger_.WaitFor(answered));
  std::vector<std::string> answers;
  for (const ReceivedMessage& m : ledger_.received()) {
    if (m.message.has_submit_result()) {
      answers.push_back(absl::StrCat(m.message.submit_result().order_id(), "=",
                                     m.message.submit_result().slurm_job_id()));
    } else if (m.message.has_check_output_result()) {
      const v1::CheckOutputResult& r = m.message.check_output_result();
      answers.push_back(
          absl::StrCat(r.order_id(), "=", r.verdict().job_key(), ":",
                       v1::Verdict::Outcome_Name(r.verdict().outcome())));
    } else if (m.message.has_cancel_result()) {
      answers.push_back(absl::StrCat(m.message.cancel_result().order_id(), "=",
                                     m.message.cancel_result().ok()));
    }
  }
  EXPECT_THAT(answers,
              ElementsAre("o-submit=5001", "o-check=b/mol2:OUTCOME_SUCCEEDED",
                          "o-cancel=1"));
}

TEST_F(AgentTest, OrderResentWhileRunningIsRunOnce) {
  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  executor_.HoldSubmits(true);
  StartAgent(Options());
  v1::LedgerDirective submit;
  submit.mutable_submit()->set_order_id("o-1");
  ledger_.Send(submit);
  ASSERT_TRUE(executor_.AwaitSubmitsStarted(1));
  ledger_.Send(submit);  // the ledger re-sends it
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.orders_received == 2; }, kWait));
  executor_.HoldSubmits(false);
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    for (const ReceivedMessage& m : r) {
      if (m.message.has_submit_result()) return true;
    }
    return false;
  }));
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.orders_done == 1; }, kWait));
  EXPECT_THAT(executor_.submits(), ElementsAre("o-1"));
  EXPECT_EQ(agent_->counters().orders_deduplicated, 1);
}

TEST_F(AgentTest, ReconnectsAfterTheLedgerDropsTheStreamAndResendsLatest) {
  squeue_.Set(ExitedWith(0, SqueueLines(3)));
  StartAgent(Options());
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return HasSnapshotEntries(r, 1);
  }));
  const uint64_t seq = CompleteSnapshotSeqs(ledger_.received()).front();

  ledger_.DropStream();
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return HasSnapshotEntries(r, 2);
  }));
  std::vector<ReceivedMessage> second;
  for (const ReceivedMessage& r : ledger_.received()) {
    if (r.stream == 2) second.push_back(r);
  }
  ASSERT_THAT(second, SizeIs(2));
  ASSERT_TRUE(second[0].message.has_hello());
  EXPECT_EQ(second[0].message.hello().last_snapshot_seq(), seq);
  ASSERT_TRUE(second[1].message.has_snapshot_chunk());
  EXPECT_EQ(second[1].message.snapshot_chunk().snapshot_seq(), seq);
  EXPECT_EQ(second[1].message.snapshot_chunk().total_entries(), 3u);
  EXPECT_THAT(ledger_.authorizations(),
              ElementsAre("Bearer agent-secret", "Bearer agent-secret"));
}

TEST_F(AgentTest, HelloAckMovesSequenceNumbersPastTheLedgers) {
  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  // The ledger has applied a seq far ahead of this agent's clock (e.g. the
  // agent's clock was set back).
  const uint64_t applied = uint64_t{1} << 60;
  ledger_.SetAppliedSeq(applied);
  StartAgent(Options());
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.hello_acks >= 1; }, kWait));
  // The first snapshot is out (else the next would replace it unsent).
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return CompleteSnapshotSeqs(r).size() == 1;
  }));
  ProbeAgain();
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return CompleteSnapshotSeqs(r).size() >= 2;
  }));
  EXPECT_GT(CompleteSnapshotSeqs(ledger_.received()).back(), applied);
}

TEST_F(AgentTest, SnapshotAfterAsksForAFreshProbe) {
  squeue_.Set(ExitedWith(0, SqueueLines(2)));
  StartAgent(Options());
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.probes >= 1; }, kWait));
  std::shared_ptr<const QueueSnapshot> first = agent_->Latest();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(agent_->SnapshotAfter(first->taken_at - absl::Seconds(1), kWait),
            first);

  clock_.Advance(absl::Seconds(5));
  squeue_.Set(ExitedWith(0, SqueueLines(4)));
  std::shared_ptr<const QueueSnapshot> fresh =
      agent_->SnapshotAfter(first->taken_at, kWait);
  ASSERT_NE(fresh, nullptr);
  EXPECT_GT(fresh->taken_at, first->taken_at);
  EXPECT_THAT(fresh->entries, SizeIs(4));
}

TEST_F(AgentTest, ProbesWhileTheLedgerIsUnreachableAndSendsOnlyTheNewest) {
  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  AgentOptions options = Options();
  // Nothing listens on port 1 of 127.0.0.1.
  auto agent = Agent::Create(
      options,
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
      probe_.get(), &clock_, &log_);
  ASSERT_TRUE(agent.ok());
  agent_ = *std::move(agent);
  agent_->Start(&executor_);
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.streams_opened >= 2; }, kWait));
  for (int i = 0; i < 3; ++i) ProbeAgain();
  const AgentCounters counters = agent_->counters();
  EXPECT_EQ(counters.probes, 4);
  EXPECT_EQ(counters.snapshots_sent, 0);
  EXPECT_EQ(counters.outbox.snapshots_superseded, 3);
  EXPECT_TRUE(counters.snapshot_waiting);
}

// The runtime with the real Submitter (journal and checker over a fake file
// system, sbatch played by a FakeProcessRunner).
TEST_F(AgentTest, ResentOrderAfterReconnectIsAnsweredFromTheJournal) {
  common::FakeFileSystem fs;
  ASSERT_TRUE(fs.CreateDirectories("/state").ok());
  fs.SetFile("/runs/b1/water/water.sh", "#!/bin/bash\n", clock_.Now());
  auto rules = LoadRuleSets("", &fs);
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto checker = OutputChecker::Create(*rules, &fs);
  ASSERT_TRUE(checker.ok()) << checker.status();
  auto journal = OrderJournal::Open(&fs, "/state");
  ASSERT_TRUE(journal.ok()) << journal.status();
  common::FakeProcessRunner sbatch(&clock_);
  sbatch.OnProgram("sbatch", ExitedWith(0, "4812\n"));

  squeue_.Set(ExitedWith(0, SqueueLines(1)));
  auto agent =
      Agent::Create(Options(),
                    grpc::CreateChannel(ledger_.address(),
                                        grpc::InsecureChannelCredentials()),
                    probe_.get(), &clock_, &log_);
  ASSERT_TRUE(agent.ok()) << agent.status();
  agent_ = *std::move(agent);
  Submitter submitter(SubmitterOptions(), journal->get(), checker->get(),
                      &sbatch, &fs, agent_.get(), &clock_, &log_);
  agent_->Start(&submitter);

  v1::LedgerDirective submit;
  v1::SubmitOrder* order = submit.mutable_submit();
  order->set_order_id("o-42");
  order->set_job_key("b1/water");
  order->set_directory("/runs/b1/water");
  order->set_basename("water");
  order->set_program(v1::PROGRAM_GAUSSIAN);
  order->set_attempt(1);
  ledger_.Send(submit);
  auto answers_on = [](int stream) {
    return [stream](const std::vector<ReceivedMessage>& r) {
      for (const ReceivedMessage& m : r) {
        if (m.stream == stream && m.message.has_submit_result()) return true;
      }
      return false;
    };
  };
  ASSERT_TRUE(ledger_.WaitFor(answers_on(1)));

  // The ledger restarts before it stored the answer, and re-sends.
  ledger_.DropStream();
  ledger_.Send(submit);
  ASSERT_TRUE(ledger_.WaitFor(answers_on(2)));
  std::vector<std::string> ids;
  for (const ReceivedMessage& m : ledger_.received()) {
    if (m.message.has_submit_result()) {
      ids.push_back(m.message.submit_result().slurm_job_id());
    }
  }
  EXPECT_THAT(ids, ElementsAre("4812", "4812"));
  EXPECT_EQ(sbatch.CallCount(), 1);
  agent_->Stop();  // before the submitter goes
}

class SlowLedgerAgentTest : public AgentTest {
 protected:
  SlowLedgerAgentTest()
      : AgentTest(ScriptedAgentLedger::Options{/*small_receive_window=*/true}) {
  }
};

TEST_F(SlowLedgerAgentTest, NewestSnapshotWinsWhileTheLedgerIsSlow) {
  // About 2.5 MB per snapshot: far more than the ledger's receive window,
  // so the agent's writer blocks inside the first snapshot.
  squeue_.Set(ExitedWith(0, SqueueLines(30000)));
  ledger_.PauseReading(true);
  AgentOptions options = Options();
  options.chunk_limits.max_entries = 1000;
  StartAgent(options);
  // The writer has taken the first snapshot and is stuck writing it.
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) {
        return c.probes == 1 && c.streams_opened == 1 && !c.snapshot_waiting;
      },
      kWait));
  // Probing goes on regardless; each new snapshot replaces the unsent one.
  for (int i = 0; i < 3; ++i) ProbeAgain();
  AgentCounters counters = agent_->counters();
  EXPECT_EQ(counters.probes, 4);
  EXPECT_EQ(counters.snapshots_sent, 0);
  EXPECT_EQ(counters.outbox.snapshots_superseded, 2);

  ledger_.PauseReading(false);
  ASSERT_TRUE(ledger_.WaitFor([](const std::vector<ReceivedMessage>& r) {
    return CompleteSnapshotSeqs(r).size() >= 2;
  }));
  ASSERT_TRUE(agent_->AwaitCounters(
      [](const AgentCounters& c) { return c.snapshots_sent == 2; }, kWait));
  const std::vector<uint64_t> seqs = CompleteSnapshotSeqs(ledger_.received());
  ASSERT_THAT(seqs, SizeIs(2));
  EXPECT_LT(seqs[0], seqs[1]);
  // The one sent second is the newest probe's: the sequencer gave the four
  // probes consecutive numbers (the fake clock stands still).
  EXPECT_EQ(seqs[1], seqs[0] + 3);
}

}  // namespace
}  // namespace ccbatch::agent
