// Each limit on what a peer may send (input_limits.h, snapshot_assembler.h,
// the message size), over a real socket with small limits: the peer over
// the limit gets RESOURCE_EXHAUSTED or INVALID_ARGUMENT naming it, nothing
// already stored changes, and another agent and client keep being served.
// Also the import rules for job directories (absolute, normalised, inside
// the run root) through the RPC.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/ledger_service/served_ledger.h"

namespace ccbatch::ledger {
namespace {

namespace v1 = ::ccbatch::v1;
using ::testing::HasSubstr;

google::protobuf::Timestamp ProtoTime(absl::Time time) {
  google::protobuf::Timestamp t;
  t.set_seconds(absl::ToUnixSeconds(time));
  return t;
}

// One agent stream, driven step by step from the test thread.
class Agent final {
 public:
  Agent(v1::AgentService::Stub& stub, const std::string& cluster)
      : context_(ContextWithToken("")), stream_(stub.Connect(context_.get())) {
    v1::AgentMessage hello;
    hello.mutable_hello()->set_cluster(cluster);
    hello.mutable_hello()->set_user("chemist");
    stream_->Write(hello);
    v1::LedgerDirective ack;
    hello_acked_ = stream_->Read(&ack) && ack.has_hello_ack();
  }
  ~Agent() {
    context_->TryCancel();
    if (!finished_) {
      while (Next().has_value()) {
      }
      stream_->Finish();
    }
  }

  bool hello_acked() const { return hello_acked_; }
  bool Send(const v1::AgentMessage& message) { return stream_->Write(message); }
  // The next directive, or nullopt once the server ended the stream.
  std::optional<v1::LedgerDirective> Next() {
    v1::LedgerDirective directive;
    if (!stream_->Read(&directive)) return std::nullopt;
    return directive;
  }
  // Reads until the server ends the stream; returns its status.
  grpc::Status Finished() {
    while (Next().has_value()) {
    }
    finished_ = true;
    return stream_->Finish();
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::AgentMessage, v1::LedgerDirective>>
      stream_;
  bool hello_acked_ = false;
  bool finished_ = false;
};

class LedgerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LedgerServerOptions options;
    options.max_receive_message_bytes = 64 << 10;
    options.snapshot_limits.max_entries = 5;
    options.snapshot_limits.max_chunks = 3;
    options.input_limits.max_string_bytes = 100;
    options.input_limits.max_jobs_per_request = 3;
    options.input_limits.max_evidence_lines = 3;
    options.input_limits.max_evidence_bytes = 1000;
    CCB_ASSERT_OK_AND_ASSIGN(served_, ServedLedger::Start(std::move(options)));
    channel_ = served_->Channel();
    client_ = v1::LedgerService::NewStub(channel_);
    agents_ = v1::AgentService::NewStub(channel_);
  }

  // A snapshot of `entries` "PENDING" jobs, `per_chunk` per chunk.
  std::vector<v1::AgentMessage> Snapshot(uint64_t seq, int entries,
                                         int per_chunk) {
    std::vector<v1::AgentMessage> messages;
    int next = 0;
    uint32_t index = 0;
    do {
      v1::SnapshotChunk* chunk =
          messages.emplace_back().mutable_snapshot_chunk();
      chunk->set_snapshot_seq(seq);
      *chunk->mutable_taken_at() = ProtoTime(served_->clock().Now());
      chunk->set_chunk_index(index++);
      chunk->set_total_entries(entries);
      for (int i = 0; i < per_chunk && next < entries; ++i, ++next) {
        v1::QueueEntry* entry = chunk->add_entries();
        entry->set_slurm_job_id(absl::StrCat(5000 + next));
        entry->set_state("PENDING");
        entry->set_reason("Priority");
        entry->set_name(absl::StrCat("job", next));
      }
      chunk->set_last(next == entries);
    } while (next < entries);
    return messages;
  }

  v1::ClusterInfo Cluster(const std::string& name) {
    const v1::ListClustersResponse all = served_->ledger().ListClusters();
    for (const v1::ClusterInfo& cluster : all.clusters()) {
      if (cluster.name() == name) return cluster;
    }
    return v1::ClusterInfo();
  }

  // Sends a whole snapshot and waits until the ledger applied it.
  void Apply(Agent& agent, const std::string& cluster, uint64_t seq,
             int entries) {
    for (const v1::AgentMessage& m : Snapshot(seq, entries, 2)) {
      ASSERT_TRUE(agent.Send(m));
    }
    ASSERT_TRUE(served_->WaitUntil([&]() {
      return Cluster(cluster).last_snapshot_seq() == seq;
    })) << "snapshot "
        << seq << " was not applied";
  }

  // What every test ends with: the ledger still serves others, and the
  // clusters' stored snapshots are what they were.
  void ExpectStillServing(uint64_t hpc1_seq) {
    Agent gpu(*agents_, "gpu");
    ASSERT_TRUE(gpu.hello_acked());
    Apply(gpu, "gpu", 77, 3);
    v1::ListClustersResponse clusters;
    const grpc::Status status = client_->ListClusters(
        ContextWithToken("").get(), v1::ListClustersRequest(), &clusters);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(Cluster("hpc1").last_snapshot_seq(), hpc1_seq);
  }

  std::unique_ptr<ServedLedger> served_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LedgerService::Stub> client_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
};

TEST_F(LedgerLimitsTest, AMessageOverTheSizeLimitIsRefused) {
  v1::GetJobRequest request;
  request.set_key(std::string(70 << 10, 'k'));
  v1::GetJobResponse response;
  const grpc::Status status =
      client_->GetJob(ContextWithToken("").get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectStillServing(0);
}

TEST_F(LedgerLimitsTest, TooManyEntriesInASnapshot) {
  Agent agent(*agents_, "hpc1");
  ASSERT_TRUE(agent.hello_acked());
  Apply(agent, "hpc1", 10, 5);
  for (const v1::AgentMessage& m : Snapshot(11, 6, 2)) agent.Send(m);
  const grpc::Status status = agent.Finished();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("total_entries=6 exceeds the ledger's limit of 5"));
  EXPECT_EQ(Cluster("hpc1").last_snapshot_entries(), 5u);
  ExpectStillServing(10);
}

TEST_F(LedgerLimitsTest, TooManyChunksInASnapshot) {
  Agent agent(*agents_, "hpc1");
  ASSERT_TRUE(agent.hello_acked());
  Apply(agent, "hpc1", 10, 2);
  for (const v1::AgentMessage& m : Snapshot(11, 4, 1)) agent.Send(m);
  const grpc::Status status = agent.Finished();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("more than 3 chunks in one snapshot"));
  ExpectStillServing(10);
}

TEST_F(LedgerLimitsTest, OnlyOneSnapshotIsAssembledPerStream) {
  Agent agent(*agents_, "hpc1");
  ASSERT_TRUE(agent.hello_acked());
  const std::vector<v1::AgentMessage> first = Snapshot(20, 4, 2);
  const std::vector<v1::AgentMessage> second = Snapshot(21, 4, 2);
  // Chunk 0 of 20, chunk 0 of 21 (which drops 20), then chunk 1 of 20.
  ASSERT_TRUE(agent.Send(first[0]));
  ASSERT_TRUE(agent.Send(second[0]));
  agent.Send(first[1]);
  const grpc::Status status = agent.Finished();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("snapshot 20 chunk 1 arrived but chunk 1 of snapshot "
                        "21 was expected"));
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=snapshot_dropped", "seq=20", "superseded"}, 1, kServedWait));
  ExpectStillServing(0);
}

TEST_F(LedgerLimitsTest, AnOverlongStringFromAnAgentIsRefusedWhole) {
  Agent agent(*agents_, "hpc1");
  ASSERT_TRUE(agent.hello_acked());
  Apply(agent, "hpc1", 10, 2);
  std::vector<v1::AgentMessage> messages = Snapshot(11, 2, 2);
  messages[0].mutable_snapshot_chunk()->mutable_entries(1)->set_name(
      std::string(101, 'n'));
  agent.Send(messages[0]);
  const grpc::Status status = agent.Finished();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "snapshot_chunk.entries[1].name is 101 bytes long; the ledger "
            "accepts at most 100 bytes in one field");
  ExpectStillServing(10);
}

TEST_F(LedgerLimitsTest, AHelloWithABadClusterNameIsRefused) {
  for (const std::string& cluster :
       {std::string("hpc 1"), std::string("../hpc1"),
        std::string(90, 'c') + "\n"}) {
    Agent agent(*agents_, cluster);
    EXPECT_FALSE(agent.hello_acked());
    const grpc::Status status = agent.Finished();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                HasSubstr("Hello.cluster: cluster name"));
  }
  ExpectStillServing(0);
}

TEST_F(LedgerLimitsTest, AnOverlongStringFromAClientIsRefused) {
  v1::ListJobsRequest request;
  request.set_name_prefix(std::string(101, 'p'));
  v1::ListJobsResponse response;
  const grpc::Status status =
      client_->ListJobs(ContextWithToken("").get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "name_prefix is 101 bytes long; the ledger accepts at most 100 "
            "bytes in one field");

  v1::WatchRequest watch;
  watch.add_job_keys(std::string(101, 'k'));
  std::unique_ptr<grpc::ClientContext> context = ContextWithToken("");
  auto reader = client_->Watch(context.get(), watch);
  v1::WatchResponse first;
  EXPECT_FALSE(reader->Read(&first));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ExpectStillServing(0);
}

TEST_F(LedgerLimitsTest, TooManyJobsInOneRequest) {
  v1::ImportBatchRequest import;
  *import.mutable_batch() = SimpleBatch("big", {"m1", "m2", "m3", "m4"});
  v1::ImportBatchResponse imported;
  grpc::Status status =
      client_->ImportBatch(ContextWithToken("").get(), import, &imported);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(),
            "batch.jobs holds 4 jobs; the ledger accepts at most 3 in one "
            "request (split it)");
  // Nothing of it was stored.
  v1::GetJobRequest get;
  get.set_key("big/m1");
  EXPECT_THAT(
      served_->ledger().GetJob(get),
      ::ccbatch::testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  v1::RetryRequest retry;
  v1::CancelRequest cancel;
  v1::WatchRequest watch;
  for (const char* key : {"b/1", "b/2", "b/3", "b/4"}) {
    retry.add_job_keys(key);
    cancel.add_job_keys(key);
    watch.add_job_keys(key);
  }
  v1::RetryResponse retried;
  status = client_->Retry(ContextWithToken("").get(), retry, &retried);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("job_keys holds 4 jobs"));
  v1::CancelResponse cancelled;
  status = client_->Cancel(ContextWithToken("").get(), cancel, &cancelled);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  std::unique_ptr<grpc::ClientContext> context = ContextWithToken("");
  auto reader = client_->Watch(context.get(), watch);
  v1::WatchResponse first;
  EXPECT_FALSE(reader->Read(&first));
  EXPECT_EQ(reader->Finish().error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Three are fine.
  *import.mutable_batch() = SimpleBatch("small", {"m1", "m2", "m3"});
  import.set_paused(true);
  status = client_->ImportBatch(ContextWithToken("").get(), import, &imported);
  EXPECT_TRUE(status.ok()) << status.error_message();
  ExpectStillServing(0);
}

TEST_F(LedgerLimitsTest, VerdictEvidenceIsTrimmedAndTheVerdictSaysSo) {
  v1::ImportBatchRequest import;
  *import.mutable_batch() = SimpleBatch("v", {"m1"});
  v1::ImportBatchResponse imported;
  ASSERT_TRUE(
      client_->ImportBatch(ContextWithToken("").get(), import, &imported).ok());
  Agent agent(*agents_, "hpc1");
  ASSERT_TRUE(agent.hello_acked());
  std::optional<v1::LedgerDirective> check = agent.Next();
  ASSERT_TRUE(check.has_value() && check->has_check_output());

  // The adoption check finds a finished output with a long evidence list.
  v1::AgentMessage answer;
  v1::CheckOutputResult* result = answer.mutable_check_output_result();
  result->set_order_id(check->check_output().order_id());
  v1::Verdict* verdict = result->mutable_verdict();
  verdict->set_job_key("v/m1");
  verdict->set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
  verdict->set_summary("normal termination");
  *verdict->mutable_judged_at() = ProtoTime(served_->clock().Now());
  for (int i = 0; i < 40; ++i) {
    v1::EvidenceLine* line = verdict->add_evidence();
    line->set_line_number(i + 1);
    line->set_text(absl::StrCat("SCF energy ", -76.0 - i));
    line->set_rule("energies");
    line->set_file("output");
  }
  ASSERT_TRUE(agent.Send(answer));

  v1::GetJobRequest get;
  get.set_key("v/m1");
  absl::StatusOr<v1::GetJobResponse> job;
  ASSERT_TRUE(served_->WaitUntil([&]() {
    job = served_->ledger().GetJob(get);
    return job.ok() && job->view().status() == v1::JOB_STATUS_SUCCEEDED;
  })) << job.status();
  ASSERT_EQ(job->verdict().evidence_size(), 3);
  EXPECT_EQ(job->verdict().evidence(2).line_number(), 3);
  EXPECT_THAT(job->verdict().warnings(),
              ::testing::Contains(HasSubstr("the ledger kept 3 of 40 evidence "
                                            "lines")));
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=verdict_evidence_trimmed", "cluster=hpc1", "job=v/m1",
       "evidence_lines=40", "kept=3"},
      1, kServedWait));
}

// ---- Job directories of an import
// --------------------------------------------

TEST_F(LedgerLimitsTest, JobDirectoriesMustBeNormalisedAndInsideTheRunRoot) {
  struct Case {
    std::string run_root;
    std::string directory;
    std::string expected;
  };
  const Case cases[] = {
      {"/runs/d", "/runs/d/../../etc", "is not in normal form"},
      {"/runs/d", "/runs/d/./m1", "is not in normal form"},
      {"/runs/d", "/runs/d//m1", "is not in normal form"},
      {"/runs/d", "/etc/m1", "is outside run_root_directory"},
      {"/runs/d", "/runs/dx/m1", "is outside run_root_directory"},
      {"/runs/d", "runs/d/m1", "is not absolute"},
      {"runs/d", "/runs/d/m1",
       "run_root_directory: path \"runs/d\" is not "
       "absolute"},
      {"/runs/d/..", "/runs/m1", "run_root_directory: path"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.directory);
    v1::ImportBatchRequest import;
    *import.mutable_batch() = SimpleBatch("d", {"m1"});
    import.mutable_batch()->set_run_root_directory(c.run_root);
    import.mutable_batch()->mutable_jobs(0)->set_directory(c.directory);
    v1::ImportBatchResponse imported;
    const grpc::Status status =
        client_->ImportBatch(ContextWithToken("").get(), import, &imported);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.expected));
  }
  v1::GetJobRequest get;
  get.set_key("d/m1");
  EXPECT_THAT(
      served_->ledger().GetJob(get),
      ::ccbatch::testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

}  // namespace
}  // namespace ccbatch::ledger
