// Bearer-token authentication and role-based authorisation of the real
// LedgerServer over a socket: every role (and no token, and an unknown one)
// against every RPC, Hello for another cluster, token reloads closing the
// streams of revoked tokens, refusals logged with the peer, tokens never
// logged, and Retry recorded under the caller's role.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "cli/ledger_client.h"
#include "common/metrics.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger_service/auth_policy.h"
#include "ledger_service/token_file.h"
#include "tests/ledger_service/served_ledger.h"

namespace ccbatch::ledger {
namespace {

namespace v1 = ::ccbatch::v1;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kAgentToken[] = "agent-hpc1-7f3a9c1e5b2d4a6f8e0c";
constexpr char kGpuAgentToken[] = "agent-gpu-1b2c3d4e5f60718293a4";
constexpr char kReaderToken[] = "reader-4d5e6f708192a3b4c5d6e7f8";
constexpr char kAdminToken[] = "admin-9a8b7c6d5e4f30211a2b3c4d";
constexpr char kUnknownToken[] = "not-in-the-file-0123456789abcdef";

std::string TokenFileText(bool with_reader = true) {
  std::string text =
      absl::StrCat("# test tokens\n", Sha256Hex(kAgentToken), " agent:hpc1\n",
                   Sha256Hex(kGpuAgentToken), " agent:gpu\n",
                   Sha256Hex(kAdminToken), " admin\n");
  if (with_reader) absl::StrAppend(&text, Sha256Hex(kReaderToken), " reader\n");
  return text;
}

TokenTable Tokens(bool with_reader = true) {
  absl::StatusOr<TokenTable> table =
      ParseTokenFile(TokenFileText(with_reader), "tokens");
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : TokenTable();
}

class LedgerAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CCB_ASSERT_OK_AND_ASSIGN(
        served_, ServedLedger::Start(LedgerServerOptions(), Tokens()));
    channel_ = served_->Channel();
    client_ = v1::LedgerService::NewStub(channel_);
    agents_ = v1::AgentService::NewStub(channel_);
    // A batch for the calls below to find.
    v1::ImportBatchRequest import;
    *import.mutable_batch() = SimpleBatch("b", {"m1", "m2"});
    import.set_paused(true);
    v1::ImportBatchResponse imported;
    const grpc::Status status = client_->ImportBatch(
        ContextWithToken(kAdminToken).get(), import, &imported);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Opens Connect with `token`, says Hello for `cluster` and returns OK if
  // a HelloAck came back, else the status the server finished with.
  grpc::Status Connect(const std::string& token,
                       const std::string& cluster = "hpc1") {
    std::unique_ptr<grpc::ClientContext> context = ContextWithToken(token);
    auto stream = agents_->Connect(context.get());
    v1::AgentMessage hello;
    hello.mutable_hello()->set_cluster(cluster);
    hello.mutable_hello()->set_user("chemist");
    stream->Write(hello);
    v1::LedgerDirective directive;
    if (stream->Read(&directive) && directive.has_hello_ack()) {
      context->TryCancel();
      stream->Finish();
      return grpc::Status::OK;
    }
    return stream->Finish();
  }

  // Starts Watch with `token`: OK once its first message arrived, else the
  // status the server finished with.
  grpc::Status Watch(const std::string& token) {
    std::unique_ptr<grpc::ClientContext> context = ContextWithToken(token);
    v1::WatchRequest request;
    request.set_batch("b");
    auto reader = client_->Watch(context.get(), request);
    v1::WatchResponse response;
    if (reader->Read(&response)) {
      context->TryCancel();
      reader->Finish();
      return grpc::Status::OK;
    }
    return reader->Finish();
  }

  // Calls `method` with `token` (none when empty) and a request that the
  // ledger answers OK for a caller allowed to make it.
  grpc::Status Call(RpcMethod method, const std::string& token) {
    switch (method) {
      case RpcMethod::kConnect:
        return Connect(token);
      case RpcMethod::kWatch:
        return Watch(token);
      case RpcMethod::kImportBatch: {
        v1::ImportBatchRequest request;
        *request.mutable_batch() = SimpleBatch("b", {"m1", "m2"});
        request.set_paused(true);
        v1::ImportBatchResponse response;
        return client_->ImportBatch(ContextWithToken(token).get(), request,
                                    &response);
      }
      case RpcMethod::kPauseBatch: {
        v1::PauseBatchRequest request;
        request.set_batch("b");
        v1::BatchInfo response;
        return client_->PauseBatch(ContextWithToken(token).get(), request,
                                   &response);
      }
      case RpcMethod::kResumeBatch: {
        // Resuming would send orders to no agent; pausing again is as good.
        v1::ResumeBatchRequest request;
        request.set_batch("b");
        v1::BatchInfo response;
        grpc::Status status = client_->ResumeBatch(
            ContextWithToken(token).get(), request, &response);
        if (status.ok()) Call(RpcMethod::kPauseBatch, kAdminToken);
        return status;
      }
      case RpcMethod::kListJobs: {
        v1::ListJobsRequest request;
        request.set_batch("b");
        v1::ListJobsResponse response;
        return client_->ListJobs(ContextWithToken(token).get(), request,
                                 &response);
      }
      case RpcMethod::kGetJob: {
        v1::GetJobRequest request;
        request.set_key("b/m1");
        v1::GetJobResponse response;
        return client_->GetJob(ContextWithToken(token).get(), request,
                               &response);
      }
      case RpcMethod::kSummary: {
        v1::SummaryResponse response;
        return client_->Summary(ContextWithToken(token).get(),
                                v1::SummaryRequest(), &response);
      }
      case RpcMethod::kRetry: {
        // A waiting job is not retried: the ledger says so (not OK) but
        // only after admitting the caller.
        v1::RetryRequest request;
        request.add_job_keys("b/m1");
        v1::RetryResponse response;
        return client_->Retry(ContextWithToken(token).get(), request,
                              &response);
      }
      case RpcMethod::kCancel: {
        v1::CancelRequest request;
        request.add_job_keys("b/no-such-job");
        v1::CancelResponse response;
        return client_->Cancel(ContextWithToken(token).get(), request,
                               &response);
      }
      case RpcMethod::kListClusters: {
        v1::ListClustersResponse response;
        return client_->ListClusters(ContextWithToken(token).get(),
                                     v1::ListClustersRequest(), &response);
      }
      case RpcMethod::kExportLedger: {
        v1::ExportLedgerRequest request;
        request.set_batch("b");
        v1::ExportLedgerResponse response;
        return client_->ExportLedger(ContextWithToken(token).get(), request,
                                     &response);
      }
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, "unknown method");
  }

  std::unique_ptr<ServedLedger> served_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LedgerService::Stub> client_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
};

// The code an allowed call gets with the requests of Call (the ledger's own
// answer, after admission).
grpc::StatusCode AllowedCode(RpcMethod method) {
  switch (method) {
    case RpcMethod::kRetry:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case RpcMethod::kCancel:
      return grpc::StatusCode::NOT_FOUND;
    default:
      return grpc::StatusCode::OK;
  }
}

TEST_F(LedgerAuthTest, EveryRoleAgainstEveryRpc) {
  // Written out independently of auth_policy.cc.
  const std::map<std::string, std::vector<RpcMethod>> allowed = {
      {kAgentToken, {RpcMethod::kConnect}},
      {kReaderToken,
       {RpcMethod::kListJobs, RpcMethod::kGetJob, RpcMethod::kWatch,
        RpcMethod::kSummary, RpcMethod::kListClusters,
        RpcMethod::kExportLedger}},
      {kAdminToken,
       {RpcMethod::kImportBatch, RpcMethod::kPauseBatch,
        RpcMethod::kResumeBatch, RpcMethod::kListJobs, RpcMethod::kGetJob,
        RpcMethod::kWatch, RpcMethod::kSummary, RpcMethod::kRetry,
        RpcMethod::kCancel, RpcMethod::kListClusters,
        RpcMethod::kExportLedger}},
  };
  const std::map<std::string, std::string> role_of = {
      {kAgentToken, "agent:hpc1"},
      {kReaderToken, "reader"},
      {kAdminToken, "admin"}};
  for (const auto& [token, methods] : allowed) {
    for (const RpcMethod method : kAllRpcMethods) {
      SCOPED_TRACE(
          absl::StrCat(role_of.at(token), " × ", RpcMethodName(method)));
      const grpc::Status status = Call(method, token);
      const bool expected =
          std::find(methods.begin(), methods.end(), method) != methods.end();
      if (expected) {
        EXPECT_EQ(status.error_code(), AllowedCode(method))
            << status.error_message();
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << status.error_message();
        EXPECT_THAT(
            status.error_message(),
            HasSubstr(absl::StrCat("role ", role_of.at(token), " may not call ",
                                   RpcMethodName(method))));
      }
    }
  }
}

TEST_F(LedgerAuthTest, NoTokenOrAnUnknownOneIsUnauthenticatedEverywhere) {
  for (const RpcMethod method : kAllRpcMethods) {
    SCOPED_TRACE(RpcMethodName(method));
    const grpc::Status none = Call(method, "");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(none.error_message(),
                HasSubstr("no authorization metadata: this ledger requires a "
                          "token"));
    const grpc::Status unknown = Call(method, kUnknownToken);
    EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(unknown.error_message(),
                HasSubstr("the bearer token is not one this ledger accepts"));
  }
}

TEST_F(LedgerAuthTest, OtherSchemesAndEmptyTokensAreUnauthenticated) {
  for (const std::string& value :
       {std::string("Basic YWRtaW46YWRtaW4="), std::string("Bearer "),
        std::string(kAdminToken)}) {
    SCOPED_TRACE(value);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(kServedWait));
    context.AddMetadata("authorization", value);
    v1::ListClustersResponse response;
    const grpc::Status status =
        client_->ListClusters(&context, v1::ListClustersRequest(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  // The scheme is case-insensitive (RFC 7235).
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("bearer ", kReaderToken));
  v1::ListClustersResponse response;
  EXPECT_TRUE(
      client_->ListClusters(&context, v1::ListClustersRequest(), &response)
          .ok());
}

TEST_F(LedgerAuthTest, AnAgentMaySpeakOnlyForItsOwnCluster) {
  EXPECT_TRUE(Connect(kAgentToken, "hpc1").ok());
  const grpc::Status other = Connect(kAgentToken, "gpu");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_message(),
            "role agent:hpc1 may not speak for cluster \"gpu\"; Hello for it "
            "needs an agent:gpu token");
  const grpc::Status stolen = Connect(kGpuAgentToken, "hpc1");
  EXPECT_EQ(stolen.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Connect(kGpuAgentToken, "gpu").ok());
  // The refused Hello bound nothing: gpu's stream ended with the call
  // above, and hpc1 was never claimed by the gpu token.
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=auth_refused", "method=AgentService.Connect", "role=agent:gpu",
       "code=PERMISSION_DENIED"},
      1, kServedWait));
  EXPECT_THAT(served_->log().LinesWith(
                  {"event=agent_connected", "cluster=hpc1", "peer="}),
              ::testing::SizeIs(1));
}

TEST_F(LedgerAuthTest, RefusalsAreLoggedWithThePeerAndNeverWithTheToken) {
  Call(RpcMethod::kImportBatch, kReaderToken);
  Call(RpcMethod::kListJobs, kUnknownToken);
  Call(RpcMethod::kConnect, "");
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=auth_refused", "method=LedgerService.ImportBatch",
       "peer=ipv4:127.0.0.1:", "code=PERMISSION_DENIED", "role=reader",
       absl::StrCat("fingerprint=", Sha256Hex(kReaderToken).substr(0, 8))},
      1, kServedWait));
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=auth_refused", "method=LedgerService.ListJobs",
       "peer=ipv4:127.0.0.1:", "code=UNAUTHENTICATED", "role=none"},
      1, kServedWait));
  EXPECT_TRUE(served_->log().AwaitLinesWith(
      {"event=auth_refused", "method=AgentService.Connect",
       "peer=ipv4:127.0.0.1:", "code=UNAUTHENTICATED"},
      1, kServedWait));
  EXPECT_EQ(served_->auth().refused_calls(), 3u);
  for (const char* token : {kAgentToken, kGpuAgentToken, kReaderToken,
                            kAdminToken, kUnknownToken}) {
    EXPECT_THAT(served_->log().LinesWith({token}), IsEmpty()) << token;
  }
}

TEST_F(LedgerAuthTest, RetryIsRecordedUnderTheCallersRole) {
  // Take b/m1 to FAILED through the ledger's agent side, in process.
  Ledger& ledger = served_->ledger();
  v1::ResumeBatchRequest resume;
  resume.set_batch("b");
  v1::BatchInfo info;
  ASSERT_TRUE(
      client_->ResumeBatch(ContextWithToken(kAdminToken).get(), resume, &info)
          .ok());
  v1::Hello hello;
  hello.set_cluster("hpc1");
  ASSERT_THAT(ledger.AgentConnected(hello, 1), ::ccbatch::testing::IsOk());
  auto answer_checks = [&](v1::Verdict::Outcome outcome) {
    for (const v1::LedgerDirective& d : ledger.TakeDirectives("hpc1", 1)) {
      if (!d.has_check_output()) continue;
      v1::CheckOutputResult result;
      result.set_order_id(d.check_output().order_id());
      v1::Verdict* verdict = result.mutable_verdict();
      verdict->set_job_key(d.check_output().job_key());
      verdict->set_slurm_job_id(d.check_output().slurm_job_id());
      verdict->set_attempt(d.check_output().attempt());
      verdict->set_outcome(outcome);
      if (outcome == v1::Verdict::OUTCOME_FAILED)
        verdict->set_cause("scf_fail");
      ASSERT_THAT(ledger.ApplyCheckOutputResult("hpc1", result),
                  ::ccbatch::testing::IsOk());
    }
  };
  answer_checks(v1::Verdict::OUTCOME_UNSPECIFIED);  // nothing to adopt
  int submitted = 0;
  for (const v1::LedgerDirective& d : ledger.TakeDirectives("hpc1", 1)) {
    if (!d.has_submit()) continue;
    v1::SubmitResult result;
    result.set_order_id(d.submit().order_id());
    result.set_slurm_job_id(absl::StrCat(100 + submitted++));
    *result.mutable_submitted_at() = google::protobuf::Timestamp();
    result.mutable_submitted_at()->set_seconds(
        absl::ToUnixSeconds(served_->clock().Now()));
    ASSERT_THAT(ledger.ApplySubmitResult("hpc1", result),
                ::ccbatch::testing::IsOk());
  }
  ASSERT_EQ(submitted, 2);
  served_->clock().Advance(absl::Seconds(30));
  AssembledSnapshot gone;
  gone.seq = 1;
  gone.taken_at = served_->clock().Now();
  ASSERT_THAT(ledger.ApplySnapshot("hpc1", gone), ::ccbatch::testing::IsOk());
  answer_checks(v1::Verdict::OUTCOME_FAILED);

  v1::RetryRequest retry;
  retry.add_job_keys("b/m1");
  v1::RetryResponse retried;
  const grpc::Status status =
      client_->Retry(ContextWithToken(kAdminToken).get(), retry, &retried);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::GetJobRequest get;
  get.set_key("b/m1");
  CCB_ASSERT_OK_AND_ASSIGN(const v1::GetJobResponse job, ledger.GetJob(get));
  ASSERT_EQ(job.attempts_size(), 2) << job.DebugString();
  EXPECT_EQ(job.attempts(1).started_because(),
            absl::StrCat("retry by admin (token ",
                         Sha256Hex(kAdminToken).substr(0, 8), ")"));
}

// ---- Reloading the token file ----------------------------------------------

TEST_F(LedgerAuthTest, ReloadAdmitsNewTokensAndRefusesRemovedOnes) {
  ASSERT_TRUE(Call(RpcMethod::kListJobs, kReaderToken).ok());
  const std::string new_reader = "a-brand-new-reader-token-0042";
  CCB_ASSERT_OK_AND_ASSIGN(
      TokenTable rotated,
      ParseTokenFile(absl::StrCat(TokenFileText(/*with_reader=*/false),
                                  Sha256Hex(new_reader), " reader\n"),
                     "tokens"));
  served_->auth().ReplaceTokens(std::move(rotated));
  EXPECT_EQ(Call(RpcMethod::kListJobs, kReaderToken).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Call(RpcMethod::kListJobs, new_reader).ok());
  EXPECT_TRUE(Call(RpcMethod::kImportBatch, kAdminToken).ok());
  EXPECT_TRUE(served_->log().AwaitLinesWith({"event=tokens_loaded", "tokens=4"},
                                            1, kServedWait));
}

TEST_F(LedgerAuthTest, ReloadClosesTheStreamsOfRevokedTokens) {
  // An open watch and an agent stream, both admitted.
  std::unique_ptr<grpc::ClientContext> watch_context =
      ContextWithToken(kReaderToken);
  v1::WatchRequest watch;
  watch.set_batch("b");
  auto watcher = client_->Watch(watch_context.get(), watch);
  v1::WatchResponse first;
  ASSERT_TRUE(watcher->Read(&first));

  std::unique_ptr<grpc::ClientContext> agent_context =
      ContextWithToken(kAgentToken);
  auto agent = agents_->Connect(agent_context.get());
  v1::AgentMessage hello;
  hello.mutable_hello()->set_cluster("hpc1");
  ASSERT_TRUE(agent->Write(hello));
  v1::LedgerDirective ack;
  ASSERT_TRUE(agent->Read(&ack));
  ASSERT_TRUE(ack.has_hello_ack());

  // An admin's watch survives: its token stays.
  std::unique_ptr<grpc::ClientContext> admin_context =
      ContextWithToken(kAdminToken);
  auto admin_watcher = client_->Watch(admin_context.get(), watch);
  ASSERT_TRUE(admin_watcher->Read(&first));

  // Without the reader, and with the agent token now a reader's.
  CCB_ASSERT_OK_AND_ASSIGN(
      TokenTable rotated,
      ParseTokenFile(absl::StrCat(Sha256Hex(kAgentToken), " reader\n",
                                  Sha256Hex(kAdminToken), " admin\n"),
                     "tokens"));
  served_->auth().ReplaceTokens(std::move(rotated));

  v1::WatchResponse more;
  while (watcher->Read(&more)) {
  }
  const grpc::Status watch_status = watcher->Finish();
  EXPECT_EQ(watch_status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(watch_status.error_message(), HasSubstr("was revoked"));

  v1::LedgerDirective directive;
  while (agent->Read(&directive)) {
  }
  const grpc::Status agent_status = agent->Finish();
  EXPECT_EQ(agent_status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(agent_status.error_message(),
              HasSubstr("now has role reader instead of agent:hpc1"));

  // The admin's watch is still open: cancelling it is what ends it.
  admin_context->TryCancel();
  while (admin_watcher->Read(&more)) {
  }
  EXPECT_EQ(admin_watcher->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// ---- ccctl's client against the real gate ----------------------------------

TEST_F(LedgerAuthTest, CcctlsClientSendsItsTokenAndExplainsRefusals) {
  auto stub = v1::LedgerService::NewStub(channel_);
  cli::ConnectionSettings settings;
  settings.address = served_->address();
  settings.bearer_token = kReaderToken;
  cli::LedgerClient reader(stub.get(), settings);
  EXPECT_THAT(reader.ListClusters(v1::ListClustersRequest()),
              ::ccbatch::testing::IsOk());
  v1::RetryRequest retry;
  retry.add_job_keys("b/m1");
  EXPECT_THAT(reader.Retry(retry),
              ::ccbatch::testing::StatusIs(
                  absl::StatusCode::kPermissionDenied,
                  HasSubstr("not allowed: role reader may not call "
                            "LedgerService.Retry; it needs an admin token")));

  settings.bearer_token.clear();
  cli::LedgerClient anonymous(stub.get(), settings);
  EXPECT_THAT(anonymous.ListClusters(v1::ListClustersRequest()),
              ::ccbatch::testing::StatusIs(
                  absl::StatusCode::kUnauthenticated,
                  HasSubstr("did not accept the credentials")));
}

TEST(LedgerAuthMetricsTest, RefusalsAreCountedByCode) {
  common::MetricsRegistry registry;  // outlives the server
  LedgerServerOptions options;
  options.metrics = &registry;
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServedLedger> served,
                           ServedLedger::Start(std::move(options), Tokens()));
  auto client = v1::LedgerService::NewStub(served->Channel());
  v1::ListClustersResponse clusters;
  for (const char* token : {"", kUnknownToken, kAgentToken, kReaderToken}) {
    client->ListClusters(ContextWithToken(token).get(),
                         v1::ListClustersRequest(), &clusters);
  }
  const std::string text = registry.ExpositionText();
  EXPECT_THAT(text, HasSubstr("ccbatch_ledger_auth_refusals_total{reason="
                              "\"UNAUTHENTICATED\"} 2"));
  EXPECT_THAT(text, HasSubstr("ccbatch_ledger_auth_refusals_total{reason="
                              "\"PERMISSION_DENIED\"} 1"));
}

// ---- Authentication off
// -------------------------------------------------------

TEST(LedgerWithoutTokensTest, AdmitsEveryCallAndNamesCallersByAddress) {
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ServedLedger> served,
                           ServedLedger::Start(LedgerServerOptions()));
  EXPECT_FALSE(served->auth().enabled());
  auto client = v1::LedgerService::NewStub(served->Channel());
  v1::ImportBatchRequest import;
  *import.mutable_batch() = SimpleBatch("open", {"m1"});
  v1::ImportBatchResponse imported;
  const grpc::Status status =
      client->ImportBatch(ContextWithToken("").get(), import, &imported);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // A token sent anyway is ignored.
  v1::ListClustersResponse clusters;
  EXPECT_TRUE(client
                  ->ListClusters(ContextWithToken("whatever").get(),
                                 v1::ListClustersRequest(), &clusters)
                  .ok());
  EXPECT_TRUE(served->log().AwaitLinesWith({"event=server_started", "auth=off"},
                                           1, kServedWait));
}

}  // namespace
}  // namespace ccbatch::ledger
