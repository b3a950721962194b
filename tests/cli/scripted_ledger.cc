#include "tests/cli/scripted_ledger.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/status_names.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"

namespace ccbatch::cli::testing {
namespace {

namespace v1 = ::ccbatch::v1;

grpc::Status NoJob(const std::string& key) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no job \"", key, "\" in the ledger"));
}

grpc::Status NoBatch(const std::string& batch) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no batch \"", batch, "\" in the ledger"));
}

bool Retryable(v1::JobStatus status) {
  return status == v1::JOB_STATUS_FAILED ||
         status == v1::JOB_STATUS_CANCELLED ||
         status == v1::JOB_STATUS_BROKEN_DEPENDENCY;
}

}  // namespace

ScriptedLedger::ScriptedLedger(LedgerFixture fixture)
    : fixture_(std::move(fixture)) {}

void ScriptedLedger::Fail(const std::string& rpc, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  failures_[rpc] = std::move(status);
}

void ScriptedLedger::SetMaxPageSize(int size) {
  absl::MutexLock lock(&mu_);
  max_page_size_ = size;
}

void ScriptedLedger::SetWatchScript(std::vector<v1::WatchResponse> script,
                                    bool hold_open) {
  absl::MutexLock lock(&mu_);
  watch_script_ = std::move(script);
  watch_hold_open_ = hold_open;
}

std::vector<RecordedCall> ScriptedLedger::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<std::string> ScriptedLedger::rpc_names() const {
  std::vector<std::string> names;
  for (const RecordedCall& call : calls()) names.push_back(call.rpc);
  return names;
}

std::optional<v1::ImportBatchRequest> ScriptedLedger::last_import() const {
  absl::MutexLock lock(&mu_);
  return last_import_;
}

std::optional<grpc::Status> ScriptedLedger::Record(
    const std::string& rpc, grpc::ServerContext* context,
    const google::protobuf::Message& request) {
  RecordedCall call;
  call.rpc = rpc;
  auto auth = context->client_metadata().find("authorization");
  if (auth != context->client_metadata().end()) {
    call.authorization = std::string(auth->second.data(), auth->second.size());
  }
  call.had_deadline = context->deadline() < std::chrono::system_clock::now() +
                                                std::chrono::hours(24 * 365);
  google::protobuf::TextFormat::PrintToString(request, &call.request);
  absl::MutexLock lock(&mu_);
  calls_.push_back(std::move(call));
  for (const std::string& key : {rpc, std::string("*")}) {
    auto it = failures_.find(key);
    if (it != failures_.end()) return it->second;
  }
  return std::nullopt;
}

grpc::Status ScriptedLedger::ImportBatch(grpc::ServerContext* context,
                                         const v1::ImportBatchRequest* request,
                                         v1::ImportBatchResponse* response) {
  if (auto failure = Record("ImportBatch", context, *request)) return *failure;
  {
    absl::MutexLock lock(&mu_);
    last_import_ = *request;
  }
  const v1::BatchDefinition& batch = request->batch();
  v1::BatchInfo& info = *response->mutable_batch();
  info.set_name(batch.name());
  info.set_paused(request->paused());
  info.set_cluster(batch.cluster().empty() ? "hpc1" : batch.cluster());
  info.set_max_parallel(batch.max_parallel());
  info.set_job_count(batch.jobs_size());
  *info.mutable_retry_policy() = batch.retry_policy();
  *info.mutable_imported_at() = At(12, 0, 0);
  response->set_jobs_added(batch.jobs_size());
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::PauseOrResume(const std::string& batch,
                                           bool paused,
                                           v1::BatchInfo* response) {
  for (const v1::BatchSummary& summary : fixture_.summary.batches()) {
    if (summary.batch().name() == batch) {
      *response = summary.batch();
      response->set_paused(paused);
      return grpc::Status::OK;
    }
  }
  return NoBatch(batch);
}

grpc::Status ScriptedLedger::PauseBatch(grpc::ServerContext* context,
                                        const v1::PauseBatchRequest* request,
                                        v1::BatchInfo* response) {
  if (auto failure = Record("PauseBatch", context, *request)) return *failure;
  return PauseOrResume(request->batch(), true, response);
}

grpc::Status ScriptedLedger::ResumeBatch(grpc::ServerContext* context,
                                         const v1::ResumeBatchRequest* request,
                                         v1::BatchInfo* response) {
  if (auto failure = Record("ResumeBatch", context, *request)) return *failure;
  return PauseOrResume(request->batch(), false, response);
}

grpc::Status ScriptedLedger::ListJobs(grpc::ServerContext* context,
                                      const v1::ListJobsRequest* request,
                                      v1::ListJobsResponse* response) {
  if (auto failure = Record("ListJobs", context, *request)) return *failure;
  const std::vector<v1::JobView> matching = FilterJobs(fixture_, *request);
  int offset = 0;
  if (!request->page_token().empty() &&
      !absl::SimpleAtoi(request->page_token(), &offset)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
  }
  int page = request->page_size() > 0 ? request->page_size() : 100;
  {
    absl::MutexLock lock(&mu_);
    page = std::min(page, max_page_size_);
  }
  const int end = std::min<int>(offset + page, matching.size());
  for (int i = offset; i < end; ++i) *response->add_jobs() = matching[i];
  if (end < static_cast<int>(matching.size())) {
    response->set_next_page_token(absl::StrCat(end));
  }
  response->set_total_size(matching.size());
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::GetJob(grpc::ServerContext* context,
                                    const v1::GetJobRequest* request,
                                    v1::GetJobResponse* response) {
  if (auto failure = Record("GetJob", context, *request)) return *failure;
  auto it = fixture_.jobs.find(request->key());
  if (it == fixture_.jobs.end()) return NoJob(request->key());
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::Watch(
    grpc::ServerContext* context, const v1::WatchRequest* request,
    grpc::ServerWriter<v1::WatchResponse>* writer) {
  if (auto failure = Record("Watch", context, *request)) return *failure;
  std::vector<v1::WatchResponse> script;
  bool hold_open;
  {
    absl::MutexLock lock(&mu_);
    script = watch_script_;
    hold_open = watch_hold_open_;
  }
  for (const v1::WatchResponse& response : script) {
    if (!writer->Write(response)) break;
  }
  if (!watch_written_.HasBeenNotified()) watch_written_.Notify();
  if (hold_open) {
    // Until the client goes away; bounded so a broken test cannot hang.
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (!context->IsCancelled() && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(2));
    }
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::Summary(grpc::ServerContext* context,
                                     const v1::SummaryRequest* request,
                                     v1::SummaryResponse* response) {
  if (auto failure = Record("Summary", context, *request)) return *failure;
  *response = fixture_.summary;
  if (request->batch().empty()) return grpc::Status::OK;
  response->clear_batches();
  for (const v1::BatchSummary& summary : fixture_.summary.batches()) {
    if (summary.batch().name() == request->batch()) {
      *response->add_batches() = summary;
    }
  }
  if (response->batches().empty()) return NoBatch(request->batch());
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::Retry(grpc::ServerContext* context,
                                   const v1::RetryRequest* request,
                                   v1::RetryResponse* response) {
  if (auto failure = Record("Retry", context, *request)) return *failure;
  std::vector<std::string> keys(request->job_keys().begin(),
                                request->job_keys().end());
  if (!request->failed_in_batch().empty()) {
    for (const std::string& key : fixture_.keys) {
      const v1::JobView& view = fixture_.jobs.at(key).view();
      if (view.batch() == request->failed_in_batch() &&
          view.status() == v1::JOB_STATUS_FAILED) {
        keys.push_back(key);
      }
    }
  }
  for (const std::string& key : keys) {
    auto it = fixture_.jobs.find(key);
    if (it == fixture_.jobs.end()) return NoJob(key);
    if (!Retryable(it->second.view().status())) continue;
    v1::JobView retried = it->second.view();
    retried.set_status(v1::JOB_STATUS_READY);
    retried.set_reason("READY: retry requested; every upstream job succeeded");
    *retried.mutable_status_since() = At(12, 0, 0);
    *response->add_changed() = retried;
    // Its broken dependants wait again.
    for (const std::string& other : fixture_.keys) {
      v1::JobView dependant = fixture_.jobs.at(other).view();
      if (dependant.status() != v1::JOB_STATUS_BROKEN_DEPENDENCY) continue;
      for (const std::string& up : dependant.upstream_keys()) {
        if (up != key) continue;
        dependant.set_status(v1::JOB_STATUS_WAITING);
        dependant.set_reason(
            absl::StrCat("WAITING: upstream ", key, " is READY"));
        *dependant.mutable_status_since() = At(12, 0, 0);
        *response->add_changed() = dependant;
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::Cancel(grpc::ServerContext* context,
                                    const v1::CancelRequest* request,
                                    v1::CancelResponse* response) {
  if (auto failure = Record("Cancel", context, *request)) return *failure;
  std::vector<std::string> keys(request->job_keys().begin(),
                                request->job_keys().end());
  if (!request->batch().empty()) {
    for (const std::string& key : fixture_.keys) {
      if (fixture_.jobs.at(key).view().batch() == request->batch()) {
        keys.push_back(key);
      }
    }
  }
  for (const std::string& key : keys) {
    auto it = fixture_.jobs.find(key);
    if (it == fixture_.jobs.end()) return NoJob(key);
    if (IsFinal(it->second.view().status())) continue;
    v1::JobView cancelled = it->second.view();
    cancelled.set_status(v1::JOB_STATUS_CANCELLED);
    cancelled.set_reason(cancelled.slurm_job_id().empty()
                             ? "CANCELLED: cancelled before submission"
                             : absl::StrCat("CANCELLED: scancel ",
                                            cancelled.slurm_job_id(),
                                            " acknowledged by agent hpc1"));
    *cancelled.mutable_status_since() = At(12, 0, 0);
    *response->add_changed() = cancelled;
  }
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::ListClusters(
    grpc::ServerContext* context, const v1::ListClustersRequest* request,
    v1::ListClustersResponse* response) {
  if (auto failure = Record("ListClusters", context, *request)) {
    return *failure;
  }
  *response = fixture_.clusters;
  return grpc::Status::OK;
}

grpc::Status ScriptedLedger::ExportLedger(
    grpc::ServerContext* context, const v1::ExportLedgerRequest* request,
    v1::ExportLedgerResponse* response) {
  if (auto failure = Record("ExportLedger", context, *request)) {
    return *failure;
  }
  response->set_csv(fixture_.export_csv);
  return grpc::Status::OK;
}

InProcessServer::InProcessServer(grpc::Service* service) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(service);
  server_ = builder.BuildAndStart();
}

InProcessServer::~InProcessServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

std::string InProcessServer::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

std::string UnusedLocalAddress() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  close(fd);
  return absl::StrCat("127.0.0.1:", port);
}

}  // namespace ccbatch::cli::testing
