// ccctl's side of LedgerService: every call gets a deadline and the bearer
// token, and every gRPC error becomes an absl::Status whose message says
// what to do ("cannot reach the ledger at 127.0.0.1:50051 ... is
// ledger_service running? set --ledger or CCBATCH_LEDGER"), marked with
// MarkFromLedger() so ExitCodeFor() maps it to 1 or 3.
//
// Thread-safety: LedgerClient is thread-compatible (one command uses it);
// CallCanceller is thread-safe (a signal-handling thread calls Cancel()).
#ifndef CCBATCH_CLI_LEDGER_CLIENT_H_
#define CCBATCH_CLI_LEDGER_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"

namespace ccbatch::cli {

// How to reach the ledger, resolved from flags and the environment.
struct ConnectionSettings {
  // "host:port" as given (shown in messages).
  std::string address;
  // Sent as "authorization: Bearer <token>"; empty sends no header.
  std::string bearer_token;
  // Per unary call. Watch has no deadline.
  absl::Duration deadline = absl::Seconds(10);
};

// PEM texts for TLS; all empty means a plaintext channel.
struct TlsMaterial {
  bool enabled = false;
  // Trusted roots; empty uses gRPC's default roots.
  std::string root_certificates;
  // Client certificate chain and key for mTLS; both or neither.
  std::string certificate_chain;
  std::string private_key;
};

// Insecure credentials when !tls.enabled, else SslCredentials.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsMaterial& tls);

// Converts a gRPC error of `rpc` (e.g. "GetJob") into a marked absl::Status
// with the same canonical code and a message naming `address` and what to
// do. OK stays OK.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view rpc,
                            absl::string_view address);

// Lets another thread (Ctrl-C) end a long call such as Watch.
class CallCanceller final {
 public:
  // Cancels the bound call, if any, and returns whether there was one; a
  // call bound later is cancelled at once.
  bool Cancel();
  bool cancelled() const;

  // REQUIRES: `context` outlives the binding; at most one bound at a time.
  void Bind(grpc::ClientContext* context);
  void Unbind();

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// How a Watch ended without an error.
enum class WatchEnd {
  // The callback returned false.
  kStoppedByCaller,
  // CallCanceller::Cancel() was called.
  kInterrupted,
  // The ledger closed the stream with OK (it is shutting down).
  kClosedByLedger,
};

class LedgerClient final {
 public:
  // Does not take ownership. REQUIRES: `stub` outlives this.
  LedgerClient(ccbatch::v1::LedgerService::StubInterface* stub,
               ConnectionSettings settings);

  const ConnectionSettings& settings() const { return settings_; }

  absl::StatusOr<ccbatch::v1::ImportBatchResponse> ImportBatch(
      const ccbatch::v1::ImportBatchRequest& request);
  absl::StatusOr<ccbatch::v1::BatchInfo> PauseBatch(
      const ccbatch::v1::PauseBatchRequest& request);
  absl::StatusOr<ccbatch::v1::BatchInfo> ResumeBatch(
      const ccbatch::v1::ResumeBatchRequest& request);
  absl::StatusOr<ccbatch::v1::ListJobsResponse> ListJobs(
      const ccbatch::v1::ListJobsRequest& request);
  absl::StatusOr<ccbatch::v1::GetJobResponse> GetJob(
      const ccbatch::v1::GetJobRequest& request);
  absl::StatusOr<ccbatch::v1::SummaryResponse> Summary(
      const ccbatch::v1::SummaryRequest& request);
  absl::StatusOr<ccbatch::v1::RetryResponse> Retry(
      const ccbatch::v1::RetryRequest& request);
  absl::StatusOr<ccbatch::v1::CancelResponse> Cancel(
      const ccbatch::v1::CancelRequest& request);
  absl::StatusOr<ccbatch::v1::ListClustersResponse> ListClusters(
      const ccbatch::v1::ListClustersRequest& request);
  absl::StatusOr<ccbatch::v1::ExportLedgerResponse> ExportLedger(
      const ccbatch::v1::ExportLedgerRequest& request);

  // Streams Watch responses to `on_response` until it returns false, the
  // canceller fires, or the stream ends. `canceller` may be null.
  absl::StatusOr<WatchEnd> Watch(
      const ccbatch::v1::WatchRequest& request, CallCanceller* canceller,
      const std::function<bool(const ccbatch::v1::WatchResponse&)>&
          on_response);

 private:
  // A context carrying the token and, if `with_deadline`, the deadline.
  std::unique_ptr<grpc::ClientContext> NewContext(bool with_deadline) const;

  template <typename Request, typename Response, typename Method>
  absl::StatusOr<Response> Unary(absl::string_view rpc, Method method,
                                 const Request& request);

  ccbatch::v1::LedgerService::StubInterface* const stub_;
  const ConnectionSettings settings_;
};

}  // namespace ccbatch::cli

#endif  // CCBATCH_CLI_LEDGER_CLIENT_H_
