#include "cli/ledger_client.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/exit_code.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;

constexpr char kReachHint[] =
    "Is ledger_service running there? Set --ledger or CCBATCH_LEDGER to its "
    "address.";

std::string ServerMessage(const grpc::Status& status) {
  return status.error_message().empty() ? std::string("(no message)")
                                        : status.error_message();
}

// A person's words for the code, then what they can do about it.
std::string DescribeGrpcError(const grpc::Status& status, absl::string_view rpc,
                              absl::string_view address) {
  const std::string message = ServerMessage(status);
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::StrCat("cannot reach the ledger at ", address, " (", message,
                          "). ", kReachHint);
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("the ledger at ", address, " did not answer ", rpc,
                          " in time. ", kReachHint,
                          " If it is busy, raise --timeout.");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat("the ledger at ", address,
                          " did not accept the credentials: ", message,
                          ". Pass --token-file with a token it knows.");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("not allowed: ", message,
                          ". Importing, pausing, retrying and cancelling need "
                          "an admin token (--token-file).");
    case grpc::StatusCode::NOT_FOUND:
      return absl::StrCat("not found: ", message,
                          ". List what exists with `ccctl status` or "
                          "`ccctl jobs`.");
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::StrCat("the ledger refused ", rpc, ": ", message);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::StrCat("the ledger is overloaded or the answer too large (",
                          message, "). Try again, or narrow the request.");
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::StrCat("the ledger at ", address, " does not implement ",
                          rpc, " (", message,
                          "). Is it older than this ccctl?");
    case grpc::StatusCode::CANCELLED:
      return absl::StrCat(rpc, " was cancelled: ", message);
    default:
      return absl::StrCat("the ledger failed on ", rpc, ": ", message,
                          ". See the ledger's log.");
  }
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsMaterial& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls.root_certificates;
  options.pem_cert_chain = tls.certificate_chain;
  options.pem_private_key = tls.private_key;
  return grpc::SslCredentials(options);
}

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view rpc,
                            absl::string_view address) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share the canonical numbering.
  return MarkFromLedger(
      absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                   DescribeGrpcError(status, rpc, address)));
}

bool CallCanceller::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ == nullptr) return false;
  context_->TryCancel();
  return true;
}

bool CallCanceller::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

void CallCanceller::Bind(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  context_ = context;
  if (cancelled_) context_->TryCancel();
}

void CallCanceller::Unbind() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

LedgerClient::LedgerClient(v1::LedgerService::StubInterface* stub,
                           ConnectionSettings settings)
    : stub_(stub), settings_(std::move(settings)) {}

std::unique_ptr<grpc::ClientContext> LedgerClient::NewContext(
    bool with_deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (with_deadline) {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(settings_.deadline));
  }
  if (!settings_.bearer_token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", settings_.bearer_token));
  }
  return context;
}

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> LedgerClient::Unary(absl::string_view rpc,
                                             Method method,
                                             const Request& request) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(true);
  Response response;
  const grpc::Status status =
      (stub_->*method)(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, rpc, settings_.address);
  return response;
}

absl::StatusOr<v1::ImportBatchResponse> LedgerClient::ImportBatch(
    const v1::ImportBatchRequest& request) {
  return Unary<v1::ImportBatchRequest, v1::ImportBatchResponse>(
      "ImportBatch", &v1::LedgerService::StubInterface::ImportBatch, request);
}

absl::StatusOr<v1::BatchInfo> LedgerClient::PauseBatch(
    const v1::PauseBatchRequest& request) {
  return Unary<v1::PauseBatchRequest, v1::BatchInfo>(
      "PauseBatch", &v1::LedgerService::StubInterface::PauseBatch, request);
}

absl::StatusOr<v1::BatchInfo> LedgerClient::ResumeBatch(
    const v1::ResumeBatchRequest& request) {
  return Unary<v1::ResumeBatchRequest, v1::BatchInfo>(
      "ResumeBatch", &v1::LedgerService::StubInterface::ResumeBatch, request);
}

absl::StatusOr<v1::ListJobsResponse> LedgerClient::ListJobs(
    const v1::ListJobsRequest& request) {
  return Unary<v1::ListJobsRequest, v1::ListJobsResponse>(
      "ListJobs", &v1::LedgerService::StubInterface::ListJobs, request);
}

absl::StatusOr<v1::GetJobResponse> LedgerClient::GetJob(
    const v1::GetJobRequest& request) {
  return Unary<v1::GetJobRequest, v1::GetJobResponse>(
      "GetJob", &v1::LedgerService::StubInterface::GetJob, request);
}

absl::StatusOr<v1::SummaryResponse> LedgerClient::Summary(
    const v1::SummaryRequest& request) {
  return Unary<v1::SummaryRequest, v1::SummaryResponse>(
      "Summary", &v1::LedgerService::StubInterface::Summary, request);
}

absl::StatusOr<v1::RetryResponse> LedgerClient::Retry(
    const v1::RetryRequest& request) {
  return Unary<v1::RetryRequest, v1::RetryResponse>(
      "Retry", &v1::LedgerService::StubInterface::Retry, request);
}

absl::StatusOr<v1::CancelResponse> LedgerClient::Cancel(
    const v1::CancelRequest& request) {
  return Unary<v1::CancelRequest, v1::CancelResponse>(
      "Cancel", &v1::LedgerService::StubInterface::Cancel, request);
}

absl::StatusOr<v1::ListClustersResponse> LedgerClient::ListClusters(
    const v1::ListClustersRequest& request) {
  return Unary<v1::ListClustersRequest, v1::ListClustersResponse>(
      "ListClusters", &v1::LedgerService::StubInterface::ListClusters, request);
}

absl::StatusOr<v1::ExportLedgerResponse> LedgerClient::ExportLedger(
    const v1::ExportLedgerRequest& request) {
  return Unary<v1::ExportLedgerRequest, v1::ExportLedgerResponse>(
      "ExportLedger", &v1::LedgerService::StubInterface::ExportLedger, request);
}

absl::StatusOr<WatchEnd> LedgerClient::Watch(
    const v1::WatchRequest& request, CallCanceller* canceller,
    const std::function<bool(const v1::WatchResponse&)>& on_response) {
  // A watch lasts as long as the user wants: no deadline.
  std::unique_ptr<grpc::ClientContext> context = NewContext(false);
  if (canceller != nullptr) canceller->Bind(context.get());
  std::unique_ptr<grpc::ClientReaderInterface<v1::WatchResponse>> reader =
      stub_->Watch(context.get(), request);
  bool stopped = false;
  v1::WatchResponse response;
  while (reader->Read(&response)) {
    if (!on_response(response)) {
      stopped = true;
      context->TryCancel();
      while (reader->Read(&response)) {
      }
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (canceller != nullptr) canceller->Unbind();
  if (stopped) return WatchEnd::kStoppedByCaller;
  if (canceller != nullptr && canceller->cancelled()) {
    return WatchEnd::kInterrupted;
  }
  if (!status.ok()) return FromGrpcStatus(status, "Watch", settings_.address);
  return WatchEnd::kClosedByLedger;
}

}  // namespace ccbatch::cli
