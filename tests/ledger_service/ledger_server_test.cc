// The real LedgerServer over a real socket (127.0.0.1, port 0), backed by a
// real Ledger over a MemoryStore and a FakeClock, driven by a scripted agent
// (AgentService.Connect) and clients (LedgerService). Nothing sleeps: every
// wait is for a condition (a directive or watch message read by a
// background reader, a log line, the ledger's state) with a deadline.
#include "ledger_service/ledger_server.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger_service/ledger.h"
#include "ledger_service/store_memory.h"

namespace ccbatch::ledger {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Generous: only a broken server makes a test wait this long.
constexpr absl::Duration kWait = absl::Seconds(20);

// ---- Waiting without sleeping ----------------------------------------------

// Reads a stream on its own thread into a queue, so a test can wait for the
// next message with a deadline (the synchronous API has none per read).
template <typename Message>
class BackgroundReader final {
 public:
  using ReadFn = std::function<bool(Message*)>;

  explicit BackgroundReader(ReadFn read)
      : thread_([this, read = std::move(read)]() {
          Message message;
          while (read(&message)) {
            absl::MutexLock lock(&mu_);
            queue_.push_back(std::move(message));
            message = Message();
          }
          absl::MutexLock lock(&mu_);
          ended_ = true;
        }) {}
  ~BackgroundReader() { Join(); }

  // The next message, or nullopt if the stream ended or `timeout` passed.
  std::optional<Message> Next(absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !queue_.empty() || ended_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (queue_.empty()) return std::nullopt;
    Message message = std::move(queue_.front());
    queue_.erase(queue_.begin());
    return message;
  }

  // Waits until the stream ended; false if `timeout` passed first.
  bool WaitEnded(absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
  }

  // Messages received and not taken yet.
  size_t pending() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<Message> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// The server's log, kept for assertions and waits.
class LogLines final {
 public:
  common::EventLog::Sink Sink() {
    return [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
  }

  // Waits until `count` lines contain every one of `parts`.
  bool WaitFor(std::vector<std::string> parts, int count = 1,
               absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return CountLocked(parts) >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

  int Count(const std::vector<std::string>& parts) {
    absl::MutexLock lock(&mu_);
    return CountLocked(parts);
  }

  std::string All() {
    absl::MutexLock lock(&mu_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  int CountLocked(const std::vector<std::string>& parts) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int n = 0;
    for (const std::string& line : lines_) {
      bool all = true;
      for (const std::string& part : parts) {
        all = all && absl::StrContains(line, part);
      }
      n += all ? 1 : 0;
    }
    return n;
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// Calls `on_change` whenever the ledger signals a change, so waits on the
// ledger's state wake up at once instead of polling on a timer.
class ChangeSignal final {
 public:
  explicit ChangeSignal(Ledger* ledger) : ledger_(ledger) {
    subscription_ = ledger_->Subscribe([this]() {
      absl::MutexLock lock(&mu_);
      ++changes_;
    });
  }
  ~ChangeSignal() { ledger_->Unsubscribe(subscription_); }

  // Re-evaluates `condition` after every ledger change (and every 50 ms, for
  // state the ledger changes without signalling, like connection health)
  // until it holds or `timeout` passes.
  bool WaitUntil(const std::function<bool()>& condition,
                 absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!condition()) {
      if (absl::Now() >= deadline) return false;
      absl::MutexLock lock(&mu_);
      const uint64_t seen = changes_;
      auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return changes_ != seen;
      };
      mu_.AwaitWithTimeout(absl::Condition(&changed), absl::Milliseconds(50));
    }
    return true;
  }

 private:
  Ledger* const ledger_;
  uint64_t subscription_ = 0;
  absl::Mutex mu_;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---- A scripted agent -------------------------------------------------------

class ScriptedAgent final {
 public:
  explicit ScriptedAgent(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::AgentService::NewStub(channel)),
        context_(std::make_unique<grpc::ClientContext>()),
        stream_(stub_->Connect(context_.get())),
        reader_([this](v1::LedgerDirective* d) { return stream_->Read(d); }) {}

  ~ScriptedAgent() {
    context_->TryCancel();
    reader_.Join();
    if (!finished_) stream_->Finish();
  }

  bool Send(const v1::AgentMessage& message) { return stream_->Write(message); }

  // Sends Hello and returns the HelloAck.
  std::optional<v1::HelloAck> Hello(const std::string& cluster,
                                    uint64_t last_seq = 0) {
    v1::AgentMessage message;
    message.mutable_hello()->set_cluster(cluster);
    message.mutable_hello()->set_user("chemist");
    message.mutable_hello()->set_agent_version("test");
    message.mutable_hello()->set_last_snapshot_seq(last_seq);
    if (!Send(message)) return std::nullopt;
    std::optional<v1::LedgerDirective> ack = Next();
    if (!ack.has_value() || !ack->has_hello_ack()) return std::nullopt;
    return ack->hello_ack();
  }

  std::optional<v1::LedgerDirective> Next(absl::Duration timeout = kWait) {
    return reader_.Next(timeout);
  }

  // Simulates a broken connection.
  void Break() { context_->TryCancel(); }

  // The status the server finished the stream with (waits for it).
  grpc::Status Finish() {
    EXPECT_TRUE(reader_.WaitEnded()) << "the server never ended the stream";
    reader_.Join();
    if (!finished_) {
      status_ = stream_->Finish();
      finished_ = true;
    }
    return status_;
  }

  size_t pending() { return reader_.pending(); }

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::LedgerDirective>>
      stream_;
  BackgroundReader<v1::LedgerDirective> reader_;
  bool finished_ = false;
  grpc::Status status_;
};

// ---- Messages ---------------------------------------------------------------

google::protobuf::Timestamp ProtoTime(absl::Time time) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(time));
  return t;
}

struct Entry {
  std::string slurm_job_id;
  std::string state;
};

// A snapshot split into chunks of `per_chunk` entries.
std::vector<v1::AgentMessage> SnapshotMessages(uint64_t seq, absl::Time taken,
                                               std::vector<Entry> entries,
                                               size_t per_chunk = 2) {
  std::vector<v1::AgentMessage> messages;
  size_t next = 0;
  uint32_t index = 0;
  do {
    v1::AgentMessage& message = messages.emplace_back();
    v1::SnapshotChunk* chunk = message.mutable_snapshot_chunk();
    chunk->set_snapshot_seq(seq);
    *chunk->mutable_taken_at() = ProtoTime(taken);
    chunk->set_chunk_index(index++);
    chunk->set_total_entries(entries.size());
    for (size_t i = 0; i < per_chunk && next < entries.size(); ++i, ++next) {
      v1::QueueEntry* entry = chunk->add_entries();
      entry->set_slurm_job_id(entries[next].slurm_job_id);
      entry->set_state(entries[next].state);
      entry->set_reason("None");
      entry->set_name(absl::StrCat("job", entries[next].slurm_job_id));
      entry->set_nodes(entries[next].state == "RUNNING" ? "c041" : "");
    }
    chunk->set_last(next == entries.size());
  } while (next < entries.size());
  return messages;
}

v1::AgentMessage ProbeFailure(const std::string& error, absl::Time at) {
  v1::AgentMessage message;
  *message.mutable_probe_failure()->mutable_at() = ProtoTime(at);
  message.mutable_probe_failure()->set_error(error);
  message.mutable_probe_failure()->set_exit_code(1);
  return message;
}

// No output found: nothing to adopt.
v1::AgentMessage NothingToAdopt(const v1::CheckOutput& check) {
  v1::AgentMessage message;
  v1::CheckOutputResult* result = message.mutable_check_output_result();
  result->set_order_id(check.order_id());
  result->mutable_verdict()->set_job_key(check.job_key());
  return message;
}

v1::AgentMessage Succeeded(const v1::CheckOutput& check, absl::Time at) {
  v1::AgentMessage message;
  v1::CheckOutputResult* result = message.mutable_check_output_result();
  result->set_order_id(check.order_id());
  v1::Verdict* verdict = result->mutable_verdict();
  verdict->set_job_key(check.job_key());
  verdict->set_slurm_job_id(check.slurm_job_id());
  verdict->set_attempt(check.attempt());
  verdict->set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
  verdict->set_summary("normal termination");
  *verdict->mutable_judged_at() = ProtoTime(at);
  return message;
}

v1::AgentMessage Submitted(const v1::SubmitOrder& order,
                           const std::string& slurm_job_id, absl::Time at) {
  v1::AgentMessage message;
  v1::SubmitResult* result = message.mutable_submit_result();
  result->set_order_id(order.order_id());
  result->set_slurm_job_id(slurm_job_id);
  *result->mutable_submitted_at() = ProtoTime(at);
  return message;
}

// A batch of xTB jobs under /runs/<name>; `upstream[i]` is the index of job
// i's coords source, or -1.
v1::BatchDefinition Batch(const std::string& name,
                          const std::vector<std::string>& basenames,
                          const std::vector<int>& upstream) {
  v1::BatchDefinition batch;
  batch.set_name(name);
  batch.set_run_root_directory(absl::StrCat("/runs/", name));
  batch.set_cluster("hpc1");
  for (size_t i = 0; i < basenames.size(); ++i) {
    v1::JobDefinition* job = batch.add_jobs();
    job->set_key(absl::StrCat(name, "/", basenames[i]));
    job->set_basename(basenames[i]);
    job->set_directory(absl::StrCat("/runs/", name, "/", basenames[i]));
    job->set_relative_directory(basenames[i]);
    job->set_program(v1::PROGRAM_XTB);
    job->set_order(static_cast<int>(i));
    job->set_source_line(static_cast<int>(i) + 2);
    if (upstream[i] >= 0) {
      const v1::JobDefinition& up = batch.jobs(upstream[i]);
      v1::PipeSource* coords = job->mutable_coords();
      coords->set_directory(absl::StrCat("../", up.basename()));
      coords->set_filename(absl::StrCat(up.basename(), ".xyz"));
      coords->set_resolved_directory(up.directory());
      coords->set_upstream_key(up.key());
      job->add_upstream_keys(up.key());
    }
  }
  return batch;
}

// ---- The fixture ------------------------------------------------------------

class LedgerServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CCB_ASSERT_OK_AND_ASSIGN(store_, MemoryStore::Open());
    log_ = std::make_unique<common::EventLog>(&clock_, lines_.Sink());
    LedgerOptions options;
    options.default_cluster = "hpc1";
    options.log = log_.get();
    CCB_ASSERT_OK_AND_ASSIGN(ledger_,
                             Ledger::Open(store_.get(), &clock_, options));
    changes_ = std::make_unique<ChangeSignal>(ledger_.get());
    LedgerServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.tick_interval = absl::InfiniteDuration();
    server_options.shutdown_grace = absl::Seconds(2);
    CCB_ASSERT_OK_AND_ASSIGN(
        server_,
        LedgerServer::Start(ledger_.get(), log_.get(), server_options));
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    client_ = v1::LedgerService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    changes_.reset();
    ledger_.reset();
  }

  // Replaces the server with one using `options` (on a new port).
  void RestartServer(LedgerServerOptions options) {
    server_->Shutdown();
    options.listen_address = "127.0.0.1:0";
    CCB_ASSERT_OK_AND_ASSIGN(
        server_, LedgerServer::Start(ledger_.get(), log_.get(), options));
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    client_ = v1::LedgerService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(kWait));
    return context;
  }

  std::unique_ptr<ScriptedAgent> Agent() {
    return std::make_unique<ScriptedAgent>(channel_);
  }

  v1::ClusterInfo Cluster(const std::string& name) {
    const v1::ListClustersResponse all = ledger_->ListClusters();
    for (const v1::ClusterInfo& cluster : all.clusters()) {
      if (cluster.name() == name) return cluster;
    }
    return v1::ClusterInfo();
  }

  bool WaitUntil(const std::function<bool()>& condition) {
    return changes_->WaitUntil(condition);
  }

  v1::JobStatus Status(const std::string& key) {
    v1::GetJobRequest request;
    request.set_key(key);
    absl::StatusOr<v1::GetJobResponse> job = ledger_->GetJob(request);
    return job.ok() ? job->view().status() : v1::JOB_STATUS_UNSPECIFIED;
  }

  bool WaitForStatus(const std::string& key, v1::JobStatus status) {
    const bool reached = WaitUntil([&]() { return Status(key) == status; });
    EXPECT_TRUE(reached) << key << " never became "
                         << v1::JobStatus_Name(status) << "; it is "
                         << v1::JobStatus_Name(Status(key));
    return reached;
  }

  // Sends every message, then waits until the probe failure `barrier` shows
  // in the cluster's health: everything sent before it was handled.
  void SendAndSync(ScriptedAgent& agent,
                   const std::vector<v1::AgentMessage>& messages,
                   const std::string& cluster = "hpc1") {
    for (const v1::AgentMessage& message : messages) {
      ASSERT_TRUE(agent.Send(message));
    }
    const std::string barrier = absl::StrCat("barrier ", ++barriers_);
    ASSERT_TRUE(agent.Send(ProbeFailure(barrier, clock_.Now())));
    ASSERT_TRUE(WaitUntil([&]() {
      return Cluster(cluster).last_probe_error() == barrier;
    })) << "the agent stream never handled "
        << barrier;
  }

  void Import(const v1::BatchDefinition& batch, bool paused = false) {
    v1::ImportBatchRequest request;
    *request.mutable_batch() = batch;
    request.set_paused(paused);
    v1::ImportBatchResponse response;
    const grpc::Status status =
        client_->ImportBatch(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Reads the next directive and checks its kind.
  v1::LedgerDirective Expect(ScriptedAgent& agent,
                             v1::LedgerDirective::DirectiveCase kind) {
    std::optional<v1::LedgerDirective> directive = agent.Next();
    if (!directive.has_value()) {
      ADD_FAILURE() << "no directive arrived; expected case " << kind;
      return v1::LedgerDirective();
    }
    EXPECT_EQ(directive->directive_case(), kind) << directive->DebugString();
    return *directive;
  }

  // Answers the adoption checks of `count` jobs with "nothing to adopt".
  void AnswerAdoptionChecks(ScriptedAgent& agent, int count) {
    for (int i = 0; i < count; ++i) {
      const v1::LedgerDirective check =
          Expect(agent, v1::LedgerDirective::kCheckOutput);
      EXPECT_EQ(check.check_output().slurm_job_id(), "");
      ASSERT_TRUE(agent.Send(NothingToAdopt(check.check_output())));
    }
  }

  // Takes a submitted job `key` with SLURM id `id` through RUNNING and
  // COMPLETING to SUCCEEDED, answering the orders on the way.
  void RunToSuccess(ScriptedAgent& agent, const v1::SubmitOrder& order,
                    const std::string& id) {
    ASSERT_TRUE(agent.Send(Submitted(order, id, clock_.Now())));
    ASSERT_TRUE(WaitForStatus(order.job_key(), v1::JOB_STATUS_SUBMITTED));
    clock_.Advance(absl::Seconds(30));
    for (const auto& m : SnapshotMessages(
             ++seq_, clock_.Now(), {{id, "RUNNING"}, {"999", "PENDING"}})) {
      ASSERT_TRUE(agent.Send(m));
    }
    ASSERT_TRUE(WaitForStatus(order.job_key(), v1::JOB_STATUS_RUNNING));
    clock_.Advance(absl::Seconds(30));
    for (const auto& m :
         SnapshotMessages(++seq_, clock_.Now(), {{"999", "PENDING"}})) {
      ASSERT_TRUE(agent.Send(m));
    }
    const v1::LedgerDirective check =
        Expect(agent, v1::LedgerDirective::kCheckOutput);
    EXPECT_EQ(check.check_output().job_key(), order.job_key());
    EXPECT_EQ(check.check_output().slurm_job_id(), id);
    EXPECT_EQ(check.check_output().attempt(), 1);
    ASSERT_TRUE(agent.Send(Succeeded(check.check_output(), clock_.Now())));
    ASSERT_TRUE(WaitForStatus(order.job_key(), v1::JOB_STATUS_SUCCEEDED));
  }

  common::FakeClock clock_;
  LogLines lines_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<common::EventLog> log_;
  std::unique_ptr<ChangeSignal> changes_;
  std::unique_ptr<LedgerServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LedgerService::Stub> client_;
  uint64_t seq_ = 100;
  int barriers_ = 0;
};

// ---- Agent side -------------------------------------------------------------

TEST_F(LedgerServerTest, FirstMessageMustBeHello) {
  auto agent = Agent();
  ASSERT_TRUE(agent->Send(SnapshotMessages(1, clock_.Now(), {})[0]));
  const grpc::Status status = agent->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(),
              HasSubstr("first message on a Connect stream must be Hello, got "
                        "snapshot_chunk"));
}

TEST_F(LedgerServerTest, HelloBindsTheStreamToItsCluster) {
  auto agent = Agent();
  std::optional<v1::HelloAck> ack = agent->Hello("hpc1");
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->applied_snapshot_seq(), 0u);
  EXPECT_TRUE(WaitUntil([&]() { return Cluster("hpc1").connected(); }));
  EXPECT_EQ(Cluster("hpc1").user(), "chemist");

  // A second Hello on the same stream is a protocol error.
  v1::AgentMessage again;
  again.mutable_hello()->set_cluster("hpc1");
  ASSERT_TRUE(agent->Send(again));
  const grpc::Status status = agent->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("Hello sent twice"));
  EXPECT_TRUE(WaitUntil([&]() { return !Cluster("hpc1").connected(); }));
}

TEST_F(LedgerServerTest, HelloWithoutClusterIsInvalid) {
  auto agent = Agent();
  v1::AgentMessage hello;
  hello.mutable_hello()->set_user("chemist");
  ASSERT_TRUE(agent->Send(hello));
  const grpc::Status status = agent->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Hello.cluster is empty"));
}

TEST_F(LedgerServerTest, SnapshotInChunksIsAppliedOnlyWhenComplete) {
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  std::vector<v1::AgentMessage> chunks =
      SnapshotMessages(7, clock_.Now(),
                       {{"11", "RUNNING"},
                        {"12", "PENDING"},
                        {"13", "PENDING"},
                        {"14_1", "RUNNING"},
                        {"14_2", "PENDING"}});
  ASSERT_EQ(chunks.size(), 3u);

  SendAndSync(*agent, {chunks[0], chunks[1]});
  EXPECT_EQ(Cluster("hpc1").last_snapshot_seq(), 0u)
      << "applied before its last chunk";

  ASSERT_TRUE(agent->Send(chunks[2]));
  ASSERT_TRUE(
      WaitUntil([&]() { return Cluster("hpc1").last_snapshot_seq() == 7; }));
  EXPECT_EQ(Cluster("hpc1").last_snapshot_entries(), 5u);
  EXPECT_EQ(Cluster("hpc1").last_probe_error(), "");
}

TEST_F(LedgerServerTest, AlreadyAppliedOrOlderSeqIsIgnored) {
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  SendAndSync(
      *agent,
      SnapshotMessages(20, clock_.Now(),
                       {{"1", "RUNNING"}, {"2", "RUNNING"}, {"3", "PENDING"}}));
  ASSERT_EQ(Cluster("hpc1").last_snapshot_seq(), 20u);

  // The same seq again, and an older one, with different content.
  std::vector<v1::AgentMessage> stale =
      SnapshotMessages(20, clock_.Now(), {{"9", "RUNNING"}});
  for (auto& m : SnapshotMessages(19, clock_.Now(), {{"8", "RUNNING"}})) {
    stale.push_back(m);
  }
  SendAndSync(*agent, stale);
  EXPECT_EQ(Cluster("hpc1").last_snapshot_seq(), 20u);
  EXPECT_EQ(Cluster("hpc1").last_snapshot_entries(), 3u);

  // A reconnecting agent learns what was applied.
  agent.reset();
  auto again = Agent();
  std::optional<v1::HelloAck> ack = again->Hello("hpc1", 19);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->applied_snapshot_seq(), 20u);
}

TEST_F(LedgerServerTest, HalfSentSnapshotIsDroppedWhenTheStreamBreaks) {
  std::vector<v1::AgentMessage> chunks = SnapshotMessages(
      30, clock_.Now(), {{"1", "RUNNING"}, {"2", "RUNNING"}, {"3", "PENDING"}});
  ASSERT_EQ(chunks.size(), 2u);
  {
    auto agent = Agent();
    ASSERT_TRUE(agent->Hello("hpc1").has_value());
    SendAndSync(*agent, {chunks[0]});
    agent->Break();
    EXPECT_EQ(agent->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  ASSERT_TRUE(lines_.WaitFor({"event=snapshot_dropped", "seq=30",
                              "stream ended before the last chunk"}))
      << lines_.All();
  ASSERT_TRUE(lines_.WaitFor({"event=agent_disconnected", "cluster=hpc1"}));
  EXPECT_FALSE(Cluster("hpc1").connected());

  // The rest of it on a new stream does not complete it.
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  ASSERT_TRUE(agent->Send(chunks[1]));
  const grpc::Status status = agent->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("snapshot 30 chunk 1"));
  EXPECT_EQ(Cluster("hpc1").last_snapshot_seq(), 0u);
}

TEST_F(LedgerServerTest, SecondStreamOfAClusterReplacesTheFirst) {
  auto first = Agent();
  ASSERT_TRUE(first->Hello("hpc1").has_value());
  auto second = Agent();
  ASSERT_TRUE(second->Hello("hpc1").has_value());

  const grpc::Status status = first->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(status.error_message(), HasSubstr("replaced by stream"));
  EXPECT_TRUE(lines_.WaitFor({"event=agent_stream_replaced", "cluster=hpc1"}));

  // The cluster stays connected, and orders go to the new stream.
  ASSERT_TRUE(lines_.WaitFor({"event=agent_disconnected", "cluster=hpc1"}));
  EXPECT_TRUE(Cluster("hpc1").connected());
  Import(Batch("b1", {"m1"}, {-1}));
  const v1::LedgerDirective check =
      Expect(*second, v1::LedgerDirective::kCheckOutput);
  EXPECT_EQ(check.check_output().job_key(), "b1/m1");
}

TEST_F(LedgerServerTest, OrdersAreReceivedAndAnsweredThroughAChain) {
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  Import(Batch("chain", {"opt", "sp"}, {-1, 0}));

  // Adoption first (DESIGN §6): nothing is submitted while it is pending.
  AnswerAdoptionChecks(*agent, 2);
  const v1::LedgerDirective submit_opt =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  EXPECT_EQ(submit_opt.submit().job_key(), "chain/opt");
  EXPECT_EQ(submit_opt.submit().attempt(), 1);
  EXPECT_EQ(submit_opt.submit().directory(), "/runs/chain/opt");
  EXPECT_EQ(Status("chain/sp"), v1::JOB_STATUS_WAITING);

  RunToSuccess(*agent, submit_opt.submit(), "5001");

  // The downstream job becomes READY and is submitted with its coords.
  const v1::LedgerDirective submit_sp =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  EXPECT_EQ(submit_sp.submit().job_key(), "chain/sp");
  ASSERT_EQ(submit_sp.submit().transfers_size(), 1);
  EXPECT_EQ(submit_sp.submit().transfers(0).source(),
            "/runs/chain/opt/opt.xyz");
  RunToSuccess(*agent, submit_sp.submit(), "5002");

  // An answer to an order already answered changes nothing.
  ASSERT_TRUE(agent->Send(Submitted(submit_sp.submit(), "7777", clock_.Now())));
  SendAndSync(*agent, {});
  EXPECT_EQ(Status("chain/sp"), v1::JOB_STATUS_SUCCEEDED);
  EXPECT_EQ(agent->pending(), 0u);
}

TEST_F(LedgerServerTest, UnacknowledgedOrdersAreResentAfterReconnect) {
  Import(Batch("re", {"m1"}, {-1}));
  std::string check_id;
  {
    auto agent = Agent();
    ASSERT_TRUE(agent->Hello("hpc1").has_value());
    const v1::LedgerDirective check =
        Expect(*agent, v1::LedgerDirective::kCheckOutput);
    check_id = check.check_output().order_id();
    agent->Break();  // never answered
  }
  ASSERT_TRUE(lines_.WaitFor({"event=agent_disconnected"}));

  std::string submit_id;
  {
    auto agent = Agent();
    ASSERT_TRUE(agent->Hello("hpc1").has_value());
    const v1::LedgerDirective check =
        Expect(*agent, v1::LedgerDirective::kCheckOutput);
    EXPECT_EQ(check.check_output().order_id(), check_id);
    ASSERT_TRUE(agent->Send(NothingToAdopt(check.check_output())));
    const v1::LedgerDirective submit =
        Expect(*agent, v1::LedgerDirective::kSubmit);
    submit_id = submit.submit().order_id();
    EXPECT_NE(submit_id, check_id);
    // The agent goes away without answering the submit.
  }
  ASSERT_TRUE(lines_.WaitFor({"event=agent_disconnected"}, 2));

  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  const v1::LedgerDirective submit =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  EXPECT_EQ(submit.submit().order_id(), submit_id);
  EXPECT_EQ(submit.submit().job_key(), "re/m1");
  ASSERT_TRUE(agent->Send(Submitted(submit.submit(), "6001", clock_.Now())));
  ASSERT_TRUE(WaitForStatus("re/m1", v1::JOB_STATUS_SUBMITTED));
  // The answered check is not sent again.
  SendAndSync(*agent, {});
  EXPECT_EQ(agent->pending(), 0u);
}

TEST_F(LedgerServerTest, OversizedMessageIsRefused) {
  auto agent = Agent();
  v1::AgentMessage hello;
  hello.mutable_hello()->set_cluster("hpc1");
  hello.mutable_hello()->set_user(std::string(9 << 20, 'x'));
  agent->Send(hello);
  EXPECT_EQ(agent->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(Cluster("hpc1").connected());
}

// ---- Client side ------------------------------------------------------------

TEST_F(LedgerServerTest, ClientImportsABatchAndReadsIt) {
  v1::ImportBatchRequest import;
  *import.mutable_batch() = Batch("study", {"a", "b", "c"}, {-1, 0, 0});
  import.set_paused(true);
  v1::ImportBatchResponse imported;
  grpc::Status status =
      client_->ImportBatch(Context().get(), import, &imported);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(imported.jobs_added(), 3);
  EXPECT_TRUE(imported.batch().paused());

  v1::ListJobsRequest list;
  list.set_batch("study");
  list.set_page_size(2);
  v1::ListJobsResponse page1;
  ASSERT_TRUE(client_->ListJobs(Context().get(), list, &page1).ok());
  EXPECT_EQ(page1.total_size(), 3);
  ASSERT_EQ(page1.jobs_size(), 2);
  EXPECT_EQ(page1.jobs(0).key(), "study/a");
  EXPECT_EQ(page1.jobs(1).key(), "study/b");
  ASSERT_FALSE(page1.next_page_token().empty());
  list.set_page_token(page1.next_page_token());
  v1::ListJobsResponse page2;
  ASSERT_TRUE(client_->ListJobs(Context().get(), list, &page2).ok());
  ASSERT_EQ(page2.jobs_size(), 1);
  EXPECT_EQ(page2.jobs(0).key(), "study/c");
  EXPECT_TRUE(page2.next_page_token().empty());

  v1::GetJobRequest get;
  get.set_key("study/b");
  v1::GetJobResponse job;
  ASSERT_TRUE(client_->GetJob(Context().get(), get, &job).ok());
  EXPECT_EQ(job.definition().directory(), "/runs/study/b");
  EXPECT_EQ(job.view().status(), v1::JOB_STATUS_WAITING);
  EXPECT_THAT(job.view().upstream_keys(), ElementsAre("study/a"));

  v1::SummaryRequest summary_request;
  summary_request.set_batch("study");
  v1::SummaryResponse summary;
  ASSERT_TRUE(
      client_->Summary(Context().get(), summary_request, &summary).ok());
  ASSERT_EQ(summary.batches_size(), 1);
  EXPECT_EQ(summary.batches(0).total(), 3);
  int counted = 0;
  for (const v1::StatusCount& count : summary.batches(0).counts()) {
    counted += count.count();
  }
  EXPECT_EQ(counted, 3);

  // Mutations are logged with the caller.
  EXPECT_TRUE(lines_.WaitFor({"event=rpc", "method=ImportBatch", "code=OK"}));
}

TEST_F(LedgerServerTest, ErrorsKeepTheirCanonicalCodeAndMessage) {
  v1::GetJobRequest get;
  get.set_key("nope/x");
  v1::GetJobResponse job;
  grpc::Status status = client_->GetJob(Context().get(), get, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("nope/x"));

  get.clear_key();
  status = client_->GetJob(Context().get(), get, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("key is empty"));

  v1::ListJobsRequest list;
  list.set_page_size(-3);
  v1::ListJobsResponse jobs;
  status = client_->ListJobs(Context().get(), list, &jobs);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size -3 is negative"));

  v1::RetryRequest retry;
  v1::RetryResponse retried;
  status = client_->Retry(Context().get(), retry, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("neither job_keys nor failed_in_batch"));

  v1::ImportBatchRequest import;
  v1::ImportBatchResponse imported;
  status = client_->ImportBatch(Context().get(), import, &imported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The ledger's own validation comes through unchanged.
  *import.mutable_batch() = Batch("bad", {"a"}, {-1});
  import.mutable_batch()->mutable_jobs(0)->set_program(v1::PROGRAM_UNSPECIFIED);
  status = client_->ImportBatch(Context().get(), import, &imported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("bad/a"));
}

// ---- Watch ------------------------------------------------------------------

class WatchClient final {
 public:
  WatchClient(v1::LedgerService::Stub* stub, const v1::WatchRequest& request)
      : context_(std::make_unique<grpc::ClientContext>()),
        stream_(stub->Watch(context_.get(), request)),
        reader_([this](v1::WatchResponse* r) { return stream_->Read(r); }) {}
  ~WatchClient() {
    context_->TryCancel();
    reader_.Join();
    if (!finished_) stream_->Finish();
  }

  std::optional<v1::WatchResponse> Next() { return reader_.Next(); }

  grpc::Status Finish() {
    EXPECT_TRUE(reader_.WaitEnded());
    reader_.Join();
    if (!finished_) status_ = stream_->Finish();
    finished_ = true;
    return status_;
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> stream_;
  BackgroundReader<v1::WatchResponse> reader_;
  bool finished_ = false;
  grpc::Status status_;
};

TEST_F(LedgerServerTest, WatchResumesFromATokenWithoutMissingEvents) {
  Import(Batch("w", {"opt", "sp"}, {-1, 0}));
  v1::WatchRequest request;
  request.set_batch("w");

  // The first watcher: the current state, then changes.
  auto first = std::make_unique<WatchClient>(client_.get(), request);
  std::vector<std::string> initial_keys;
  std::string start_token;
  while (true) {
    std::optional<v1::WatchResponse> response = first->Next();
    ASSERT_TRUE(response.has_value()) << "initial state never finished";
    if (response->has_current()) {
      EXPECT_EQ(response->resume_token(), "");
      initial_keys.push_back(response->current().key());
      continue;
    }
    ASSERT_TRUE(response->initial_state_done());
    start_token = response->resume_token();
    break;
  }
  EXPECT_THAT(initial_keys, ElementsAre("w/opt", "w/sp"));
  ASSERT_FALSE(start_token.empty());
  uint64_t start = 0;
  ASSERT_TRUE(absl::SimpleAtoi(start_token, &start));

  // Drive the chain: the first watcher sees some changes, then drops.
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  AnswerAdoptionChecks(*agent, 2);
  const v1::LedgerDirective submit_opt =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  ASSERT_TRUE(
      agent->Send(Submitted(submit_opt.submit(), "8001", clock_.Now())));
  ASSERT_TRUE(WaitForStatus("w/opt", v1::JOB_STATUS_SUBMITTED));

  std::vector<uint64_t> seen;
  std::string last_token;
  while (true) {
    std::optional<v1::WatchResponse> response = first->Next();
    ASSERT_TRUE(response.has_value());
    ASSERT_TRUE(response->has_change()) << response->DebugString();
    EXPECT_EQ(response->resume_token(), absl::StrCat(response->change().seq()));
    seen.push_back(response->change().seq());
    last_token = response->resume_token();
    if (response->change().job_key() == "w/opt" &&
        response->change().to_status() == v1::JOB_STATUS_SUBMITTED) {
      break;
    }
  }
  first.reset();

  // While no one watches, the chain runs to its end.
  RunToSuccess(*agent, submit_opt.submit(), "8001");
  const v1::LedgerDirective submit_sp =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  RunToSuccess(*agent, submit_sp.submit(), "8002");

  CCB_ASSERT_OK_AND_ASSIGN(
      std::vector<v1::JobEvent> history,
      ledger_->EventsAfter(WatchFilter{"w", {}}, start, 100000));
  ASSERT_FALSE(history.empty());
  std::vector<uint64_t> expected;
  for (const v1::JobEvent& event : history) expected.push_back(event.seq());

  // The second watcher resumes after the last token seen: no initial state,
  // every later change, in order, none twice.
  request.set_resume_token(last_token);
  WatchClient second(client_.get(), request);
  while (seen.back() != expected.back()) {
    std::optional<v1::WatchResponse> response = second.Next();
    ASSERT_TRUE(response.has_value())
        << "missing changes after seq " << seen.back();
    ASSERT_TRUE(response->has_change()) << response->DebugString();
    seen.push_back(response->change().seq());
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(history.back().job_key(), "w/sp");
  EXPECT_EQ(history.back().to_status(), v1::JOB_STATUS_SUCCEEDED);
}

TEST_F(LedgerServerTest, WatchReadsTheHistoryInSmallBatchesWithoutGaps) {
  // One event per read: the watcher is always behind and catches up from
  // the history, never from a queue of its own.
  LedgerServerOptions options;
  options.tick_interval = absl::InfiniteDuration();
  options.ledger_service.watch_batch_events = 1;
  RestartServer(options);
  Import(Batch("s", {"a", "b", "c"}, {-1, 0, 1}));
  v1::WatchRequest request;
  request.set_batch("s");
  WatchClient watch(client_.get(), request);
  uint64_t start = 0;
  while (true) {
    std::optional<v1::WatchResponse> response = watch.Next();
    ASSERT_TRUE(response.has_value());
    if (response->initial_state_done()) {
      ASSERT_TRUE(absl::SimpleAtoi(response->resume_token(), &start));
      break;
    }
  }

  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  AnswerAdoptionChecks(*agent, 3);
  for (const char* id : {"100", "101", "102"}) {
    const v1::LedgerDirective submit =
        Expect(*agent, v1::LedgerDirective::kSubmit);
    RunToSuccess(*agent, submit.submit(), id);
  }
  CCB_ASSERT_OK_AND_ASSIGN(
      std::vector<v1::JobEvent> history,
      ledger_->EventsAfter(WatchFilter{"s", {}}, start, 100000));
  ASSERT_GE(history.size(), 9u);  // at least 3 steps for each of 3 jobs
  for (const v1::JobEvent& expected : history) {
    std::optional<v1::WatchResponse> response = watch.Next();
    ASSERT_TRUE(response.has_value()) << "no change after seq " << start;
    ASSERT_TRUE(response->has_change());
    EXPECT_EQ(response->change().seq(), expected.seq());
    EXPECT_EQ(response->change().to_status(), expected.to_status());
    start = expected.seq();
  }
}

TEST_F(LedgerServerTest, WatchRefusesTokensItDidNotIssue) {
  v1::WatchRequest request;
  request.set_resume_token("abc");
  WatchClient bad(client_.get(), request);
  grpc::Status status = bad.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("resume_token \"abc\""));

  request.set_resume_token(absl::StrCat(ledger_->LastEventSeq() + 1000));
  WatchClient future(client_.get(), request);
  status = future.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
}

// ---- Lifecycle --------------------------------------------------------------

TEST_F(LedgerServerTest, ShutdownFinishesOpenStreamsWithUnavailable) {
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  v1::WatchRequest request;
  WatchClient watch(client_.get(), request);
  std::optional<v1::WatchResponse> done = watch.Next();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->initial_state_done());

  server_->Shutdown();
  EXPECT_EQ(agent->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(watch.Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(Cluster("hpc1").connected());
  server_->Shutdown();  // idempotent
}

TEST_F(LedgerServerTest, PortInUseIsRefusedWithTheAddress) {
  LedgerServerOptions options;
  options.listen_address = absl::StrCat("127.0.0.1:", server_->port());
  options.tick_interval = absl::InfiniteDuration();
  EXPECT_THAT(
      LedgerServer::Start(ledger_.get(), log_.get(), options),
      ::ccbatch::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr(options.listen_address)));
}

TEST_F(LedgerServerTest, TickThreadDrivesTheLedgerUntilShutdown) {
  // A server with a fast tick: staleness flips without anyone calling Tick.
  LedgerServerOptions options;
  options.tick_interval = absl::Milliseconds(10);
  RestartServer(options);
  Import(Batch("t", {"m1"}, {-1}));
  auto agent = Agent();
  ASSERT_TRUE(agent->Hello("hpc1").has_value());
  AnswerAdoptionChecks(*agent, 1);
  const v1::LedgerDirective submit =
      Expect(*agent, v1::LedgerDirective::kSubmit);
  ASSERT_TRUE(agent->Send(Submitted(submit.submit(), "9001", clock_.Now())));
  clock_.Advance(absl::Seconds(1));
  SendAndSync(*agent,
              SnapshotMessages(500, clock_.Now(), {{"9001", "RUNNING"}}));
  ASSERT_TRUE(WaitForStatus("t/m1", v1::JOB_STATUS_RUNNING));
  clock_.Advance(absl::Minutes(6));  // past the staleness limit
  EXPECT_TRUE(WaitForStatus("t/m1", v1::JOB_STATUS_UNKNOWN));
}

}  // namespace
}  // namespace ccbatch::ledger
