// The ledger's metrics, scraped over a real socket from a real LedgerServer
// while a scripted agent talks to it over gRPC: snapshots, orders, streams
// and jobs per status move as the ledger works.
#include "ledger_service/ledger_metrics.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/metrics.h"
#include "common/metrics_http_server.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_server.h"
#include "ledger_service/store_memory.h"
#include "tests/common/metrics_scrape.h"
#include "tests/ledger_service/served_ledger.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::SampleValue;
using ::ccbatch::testing::ScrapeMetrics;
using ::testing::HasSubstr;
using ::testing::Optional;

using AgentStream =
    grpc::ClientReaderWriter<v1::AgentMessage, v1::LedgerDirective>;

// One agent Connect stream, driven by the test.
class ScriptedAgent final {
 public:
  explicit ScriptedAgent(v1::AgentService::Stub* stub) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + kServedWait));
    stream_ = stub->Connect(&context_);
  }
  ~ScriptedAgent() {
    context_.TryCancel();
    stream_->Finish();
  }

  bool Send(const v1::AgentMessage& message) { return stream_->Write(message); }
  bool SayHello() {
    v1::AgentMessage hello;
    hello.mutable_hello()->set_cluster("hpc1");
    hello.mutable_hello()->set_user("chemist");
    hello.mutable_hello()->set_agent_version("test");
    return Send(hello);
  }
  // Reads directives until one of `kind` arrives (false if the stream ends
  // first).
  bool ReadUntil(v1::LedgerDirective::DirectiveCase kind,
                 v1::LedgerDirective* found) {
    while (stream_->Read(found)) {
      if (found->directive_case() == kind) return true;
    }
    return false;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<AgentStream> stream_;
};

class LedgerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CCB_ASSERT_OK_AND_ASSIGN(store_, MemoryStore::Open());
    LedgerOptions options;
    options.log = &log_;
    options.metrics = &metrics_;
    CCB_ASSERT_OK_AND_ASSIGN(ledger_,
                             Ledger::Open(store_.get(), &clock_, options));
    LedgerServerOptions server_options;
    server_options.listen_address = "127.0.0.1:0";
    server_options.tick_interval = absl::InfiniteDuration();
    server_options.metrics = &metrics_;
    CCB_ASSERT_OK_AND_ASSIGN(
        server_,
        LedgerServer::Start(ledger_.get(), &log_, std::move(server_options)));
    CCB_ASSERT_OK_AND_ASSIGN(
        http_, common::MetricsHttpServer::Start("127.0.0.1:0", &metrics_));
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    agents_ = v1::AgentService::NewStub(channel_);
    clients_ = v1::LedgerService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  void Import(const v1::BatchDefinition& batch) {
    v1::ImportBatchRequest request;
    *request.mutable_batch() = batch;
    v1::ImportBatchResponse response;
    const grpc::Status status =
        clients_->ImportBatch(ContextWithToken("").get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::string Scrape() {
    absl::StatusOr<std::string> text = ScrapeMetrics(http_->port());
    EXPECT_TRUE(text.ok()) << text.status();
    return text.value_or("");
  }

  common::FakeClock clock_;
  common::LogCapture capture_;
  common::EventLog log_{&clock_, capture_.Sink()};
  common::MetricsRegistry metrics_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<LedgerServer> server_;
  std::unique_ptr<common::MetricsHttpServer> http_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
  std::unique_ptr<v1::LedgerService::Stub> clients_;
};

TEST_F(LedgerMetricsTest, SnapshotsOrdersStreamsAndJobsShowOnTheEndpoint) {
  Import(SimpleBatch("b1", {"water", "ethanol"}));
  // Nothing happened yet but the import: both jobs are ready, no order has
  // reached an agent.
  std::string text = Scrape();
  EXPECT_THAT(SampleValue(text, "ccbatch_ledger_jobs{status=\"READY\"}"),
              Optional(2.0))
      << text;
  EXPECT_THAT(SampleValue(text,
                          "ccbatch_ledger_orders_sent_total{kind="
                          "\"check_output\"}"),
              Optional(0.0));

  {
    ScriptedAgent agent(agents_.get());
    ASSERT_TRUE(agent.SayHello());
    // The adoption checks of both jobs come first.
    v1::LedgerDirective check;
    ASSERT_TRUE(agent.ReadUntil(v1::LedgerDirective::kCheckOutput, &check));
    v1::LedgerDirective second_check;
    ASSERT_TRUE(
        agent.ReadUntil(v1::LedgerDirective::kCheckOutput, &second_check));

    v1::AgentMessage snapshot;
    v1::SnapshotChunk* chunk = snapshot.mutable_snapshot_chunk();
    chunk->set_snapshot_seq(1);
    chunk->mutable_taken_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
    chunk->set_last(true);
    chunk->set_total_entries(3);
    for (const char* id : {"900", "901", "902"}) {
      v1::QueueEntry* entry = chunk->add_entries();
      entry->set_slurm_job_id(id);
      entry->set_state("RUNNING");
      entry->set_name("somebody else's job");
    }
    ASSERT_TRUE(agent.Send(snapshot));
    // No output to adopt: the job becomes free to submit, so a SubmitOrder
    // follows once the answer (and the snapshot before it) is applied.
    v1::AgentMessage answer;
    answer.mutable_check_output_result()->set_order_id(
        check.check_output().order_id());
    answer.mutable_check_output_result()->mutable_verdict()->set_job_key(
        check.check_output().job_key());
    ASSERT_TRUE(agent.Send(answer));
    v1::LedgerDirective submit;
    ASSERT_TRUE(agent.ReadUntil(v1::LedgerDirective::kSubmit, &submit));

    text = Scrape();
    EXPECT_THAT(SampleValue(text,
                            "ccbatch_ledger_snapshot_apply_seconds_count"
                            "{cluster=\"hpc1\"}"),
                Optional(1.0))
        << text;
    EXPECT_THAT(
        SampleValue(text, "ccbatch_ledger_snapshot_entries{cluster=\"hpc1\"}"),
        Optional(3.0));
    EXPECT_THAT(
        SampleValue(text,
                    "ccbatch_ledger_agent_connects_total{cluster=\"hpc1\"}"),
        Optional(1.0));
    EXPECT_THAT(SampleValue(text,
                            "ccbatch_ledger_orders_sent_total{kind="
                            "\"check_output\"}"),
                Optional(2.0));
    EXPECT_THAT(SampleValue(text,
                            "ccbatch_ledger_orders_acked_total{kind="
                            "\"check_output\"}"),
                Optional(1.0));
    EXPECT_THAT(
        SampleValue(text, "ccbatch_ledger_orders_sent_total{kind=\"submit\"}"),
        Optional(1.0));
    EXPECT_THAT(SampleValue(text,
                            "ccbatch_ledger_orders_resent_total{kind="
                            "\"submit\"}"),
                Optional(0.0));
    EXPECT_THAT(SampleValue(text, "ccbatch_ledger_jobs{status=\"SUBMITTING\"}"),
                Optional(1.0));
  }

  // A new stream of the cluster gets every unanswered order again.
  ScriptedAgent again(agents_.get());
  ASSERT_TRUE(again.SayHello());
  v1::LedgerDirective submit;
  ASSERT_TRUE(again.ReadUntil(v1::LedgerDirective::kSubmit, &submit));
  text = Scrape();
  EXPECT_THAT(
      SampleValue(text, "ccbatch_ledger_orders_resent_total{kind=\"submit\"}"),
      Optional(1.0))
      << text;
  EXPECT_THAT(SampleValue(text,
                          "ccbatch_ledger_orders_resent_total{kind="
                          "\"check_output\"}"),
              Optional(1.0));
  EXPECT_THAT(
      SampleValue(text,
                  "ccbatch_ledger_agent_connects_total{cluster=\"hpc1\"}"),
      Optional(2.0));
}

TEST(LedgerServiceMetricsTest, AuthRefusalsAreCountedByReason) {
  common::MetricsRegistry registry;
  LedgerServiceMetrics metrics(&registry);
  // A second instance over the same registry (main's, the server's) shares
  // the series.
  LedgerServiceMetrics also(&registry);
  metrics.RecordAuthRefusal("UNAUTHENTICATED");
  also.RecordAuthRefusal("UNAUTHENTICATED");
  metrics.RecordAuthRefusal("PERMISSION_DENIED");
  const std::string text = registry.ExpositionText();
  EXPECT_THAT(SampleValue(text,
                          "ccbatch_ledger_auth_refusals_total{reason="
                          "\"UNAUTHENTICATED\"}"),
              Optional(2.0));
  EXPECT_THAT(SampleValue(text,
                          "ccbatch_ledger_auth_refusals_total{reason="
                          "\"PERMISSION_DENIED\"}"),
              Optional(1.0));
}

TEST(LedgerCoreMetricsTest, WithoutARegistryNothingIsExportedButAllWorks) {
  LedgerCoreMetrics metrics(nullptr);
  metrics.OrderHanded(LedgerCoreMetrics::Order::kCancel, /*again=*/true);
  metrics.OrderAnswered(LedgerCoreMetrics::Order::kCancel);
  metrics.SnapshotApplied("hpc1", 7, absl::Milliseconds(3));
  EXPECT_THAT(metrics.registry()->ExpositionText(),
              HasSubstr("ccbatch_ledger_orders_resent_total{kind=\"cancel\"} "
                        "1\n"));
}

}  // namespace
}  // namespace ccbatch::ledger
