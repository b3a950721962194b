// LedgerService (DESIGN §4) over gRPC's callback API: each RPC is admitted
// by the AuthGate (auth_gate.h: UNAUTHENTICATED or PERMISSION_DENIED
// otherwise), checks its request against the InputLimits (input_limits.h)
// and its shape, calls the Ledger, and maps the absl::Status to a
// grpc::Status with the same canonical code and message (grpc_status.h).
// A Watch is admitted when it starts, and finished with the refusal when
// the token file is reloaded without its token or with another role for it.
//
// Watch (a ServerWriteReactor per call):
//  - without resume_token: the current views of the matching jobs
//    (`current`, no token), then `initial_state_done`, then every matching
//    status change (`change`) in event order;
//  - with resume_token: no initial state; every matching change after the
//    token, then on as above.
//  The resume token is the decimal text of a ledger event seq (JobEvent.seq):
//  on `change` it is that event's seq, on `initial_state_done` the seq the
//  initial state reflects. `current` messages carry none: a client cut off
//  before `initial_state_done` starts over without a token. A token past the
//  ledger's newest event (its history was reset) is OUT_OF_RANGE; a token
//  that is not a decimal number is INVALID_ARGUMENT.
//  A watcher never holds more than one batch of events in memory: events are
//  read from the ledger's history (Ledger::EventsAfter) only when the
//  previous batch has been written, so a slow watcher lags behind in the
//  history instead of growing a queue.
#ifndef CCBATCH_LEDGER_SERVICE_LEDGER_GRPC_SERVICE_H_
#define CCBATCH_LEDGER_SERVICE_LEDGER_GRPC_SERVICE_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/event_log.h"
#include "grpcpp/grpcpp.h"
#include "ledger_service/auth_gate.h"
#include "ledger_service/auth_policy.h"
#include "ledger_service/input_limits.h"
#include "ledger_service/ledger.h"
#include "ledger_service/stream_registry.h"

namespace ccbatch::ledger {

struct LedgerGrpcServiceOptions {
  // Events read from the history per batch, per watcher.
  int watch_batch_events = 256;
};

// Thread-safe.
class LedgerGrpcService final
    : public ccbatch::v1::LedgerService::CallbackService {
 public:
  // REQUIRES: `ledger`, `log` and `auth` outlive the service (not owned);
  // the service outlives the grpc::Server it is registered with, and that
  // server's Shutdown has returned before the service is destroyed.
  LedgerGrpcService(Ledger* ledger, common::EventLog* log, AuthGate* auth,
                    LedgerGrpcServiceOptions options = {},
                    InputLimits input_limits = {});
  ~LedgerGrpcService() override;

  grpc::ServerUnaryReactor* ImportBatch(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::ImportBatchRequest* request,
      ccbatch::v1::ImportBatchResponse* response) override;
  grpc::ServerUnaryReactor* PauseBatch(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::PauseBatchRequest* request,
      ccbatch::v1::BatchInfo* response) override;
  grpc::ServerUnaryReactor* ResumeBatch(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::ResumeBatchRequest* request,
      ccbatch::v1::BatchInfo* response) override;
  grpc::ServerUnaryReactor* ListJobs(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::ListJobsRequest* request,
      ccbatch::v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::GetJobRequest* request,
      ccbatch::v1::GetJobResponse* response) override;
  grpc::ServerWriteReactor<ccbatch::v1::WatchResponse>* Watch(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* Summary(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::SummaryRequest* request,
      ccbatch::v1::SummaryResponse* response) override;
  grpc::ServerUnaryReactor* Retry(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::RetryRequest* request,
      ccbatch::v1::RetryResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::CancelRequest* request,
      ccbatch::v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* ListClusters(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::ListClustersRequest* request,
      ccbatch::v1::ListClustersResponse* response) override;
  grpc::ServerUnaryReactor* ExportLedger(
      grpc::CallbackServerContext* context,
      const ccbatch::v1::ExportLedgerRequest* request,
      ccbatch::v1::ExportLedgerResponse* response) override;

  // Finishes every open Watch with UNAVAILABLE and refuses new ones.
  void CloseAllStreams();
  // Answers every later unary call UNAVAILABLE and waits (up to `timeout`)
  // until the calls in progress have finished. Returns whether they have.
  bool DrainCalls(absl::Duration timeout);
  // Waits until every Watch reactor is gone (or `timeout`).
  bool WaitUntilNoStreams(absl::Duration timeout);
  size_t open_streams() const { return registry_.size(); }

 private:
  // Unless draining: admits the caller, checks the request's strings, runs
  // `call(caller)` and answers with its result, logging it with `subject`
  // (batch=... or job=...).
  template <typename Response, typename Call>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context,
                                  RpcMethod method,
                                  const google::protobuf::Message& request,
                                  common::LogField subject, bool mutation,
                                  Response* response, Call call);
  // False once draining; otherwise counts the call as in flight until
  // ExitCall (from the call's reactor OnDone).
  bool EnterCall();
  void ExitCall();
  // Logs a mutation, or any failed call, as one line.
  void LogCall(absl::string_view method, grpc::CallbackServerContext* context,
               const absl::Status& status, const common::LogField& subject,
               bool mutation);

  Ledger* const ledger_;
  common::EventLog* const log_;
  AuthGate* const auth_;
  const LedgerGrpcServiceOptions options_;
  const InputLimits input_limits_;
  StreamRegistry registry_;

  absl::Mutex calls_mu_;
  bool draining_ ABSL_GUARDED_BY(calls_mu_) = false;
  int calls_in_flight_ ABSL_GUARDED_BY(calls_mu_) = 0;
};

// The resume token naming event `seq`, and back. ParseResumeToken returns
// INVALID_ARGUMENT for anything but decimal digits fitting in 64 bits.
std::string ResumeToken(uint64_t seq);
absl::StatusOr<uint64_t> ParseResumeToken(absl::string_view token);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_LEDGER_GRPC_SERVICE_H_
