#include "ledger_service/ledger_grpc_service.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/event_log.h"
#include "common/status_macros.h"
#include "ledger_service/grpc_status.h"
#include "ledger_service/stream_outbox.h"

namespace ccbatch::ledger {

using ::ccbatch::v1::WatchRequest;
using ::ccbatch::v1::WatchResponse;
namespace v1 = ::ccbatch::v1;

using WatchReactorBase = grpc::ServerWriteReactor<WatchResponse>;

std::string ResumeToken(uint64_t seq) { return absl::StrCat(seq); }

absl::StatusOr<uint64_t> ParseResumeToken(absl::string_view token) {
  uint64_t seq = 0;
  const bool digits_only =
      !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
        return c >= '0' && c <= '9';
      });
  if (!digits_only || !absl::SimpleAtoi(token, &seq)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_token \"", absl::CHexEscape(token),
        "\" is not a token this ledger issued (decimal event number); pass "
        "the resume_token of the last WatchResponse received, or none to "
        "start over"));
  }
  return seq;
}

namespace {

absl::Status RequireName(absl::string_view value, absl::string_view field,
                         absl::string_view hint) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " is empty; ", hint));
}

absl::Status RequireNonEmptyKeys(
    const google::protobuf::RepeatedPtrField<std::string>& keys,
    absl::string_view field) {
  for (int i = 0; i < keys.size(); ++i) {
    if (keys[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "[", i, "] is empty; job keys look like \"batch/basename\""));
    }
  }
  return absl::OkStatus();
}

// Exactly one of `keys` and `name` must be given.
absl::Status RequireKeysOrName(
    const google::protobuf::RepeatedPtrField<std::string>& keys,
    absl::string_view keys_field, absl::string_view name,
    absl::string_view name_field) {
  if (keys.empty() && name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "neither ", keys_field, " nor ", name_field, " is set; give one"));
  }
  if (!keys.empty() && !name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "both ", keys_field, " and ", name_field, " are set; give only one"));
  }
  return RequireNonEmptyKeys(keys, keys_field);
}

absl::Status CheckListJobs(const v1::ListJobsRequest& request) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size ", request.page_size(),
        " is negative; use 1 to 1000, or 0 for the default (100)"));
  }
  for (const int status : request.statuses()) {
    if (!v1::JobStatus_IsValid(status) ||
        status == v1::JOB_STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "statuses contains ", status,
          ", which is not a job status; use JOB_STATUS_WAITING (1) to "
          "JOB_STATUS_UNKNOWN (12)"));
    }
  }
  return absl::OkStatus();
}

// The keys a call names, shortened for the log.
std::string KeysForLog(
    const google::protobuf::RepeatedPtrField<std::string>& keys) {
  constexpr int kShown = 5;
  if (keys.size() <= kShown) return absl::StrJoin(keys, ",");
  return absl::StrCat(absl::StrJoin(keys.begin(), keys.begin() + kShown, ","),
                      ",... (", keys.size(), " jobs)");
}

// Keeps its call counted as in flight until gRPC is done with it (the
// answer sent or the call cancelled), so draining waits for answers too.
class CountedUnaryReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CountedUnaryReactor(std::function<void()> on_done)
      : on_done_(std::move(on_done)) {}
  void OnDone() override {
    on_done_();
    delete this;
  }

 private:
  const std::function<void()> on_done_;
};

// The state of one Watch call, shared by its reactor, the ledger's change
// callback (weakly) and the registry.
class WatchStream final : public StreamRegistry::Stream,
                          public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(Ledger* ledger, StreamRegistry* registry, common::EventLog* log,
              AuthGate* auth, int batch_events, std::string peer)
      : ledger_(ledger),
        registry_(registry),
        log_(log),
        auth_(auth),
        batch_events_(std::max(1, batch_events)),
        peer_(std::move(peer)) {}

  void Close(const grpc::Status& status) override { FinishWith(status); }

  // ---- From the reactor. ----
  void Attach(WatchReactorBase* reactor) { outbox_.Attach(reactor); }
  // Queues the initial state (or checks the token), then follows changes;
  // re-checks `caller` whenever the ledger's tokens change.
  void Begin(Caller caller, const WatchRequest& request);
  void OnWriteDone(bool ok) {
    if (outbox_.WriteDone(ok)) {
      Pump();
    } else if (!ok) {
      FinishWith(grpc::Status(grpc::StatusCode::CANCELLED,
                              "writing to the watcher failed"));
    }
  }
  void OnCancel() {
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled"));
  }
  void OnDone();

 private:
  absl::Status Start(const WatchRequest& request);
  // Reads the next batch of events from the history when everything before
  // it has been written.
  void Pump();
  void FinishWith(const grpc::Status& status);

  Ledger* const ledger_;
  StreamRegistry* const registry_;
  common::EventLog* const log_;
  AuthGate* const auth_;
  const int batch_events_;
  const std::string peer_;
  StreamOutbox<WatchReactorBase, WatchResponse> outbox_;

  absl::Mutex fetch_mu_;
  WatchFilter filter_ ABSL_GUARDED_BY(fetch_mu_);
  // Every matching event at or below it has been queued.
  uint64_t cursor_ ABSL_GUARDED_BY(fetch_mu_) = 0;
  // False until a first EventsAfter call checked the filter.
  bool filter_checked_ ABSL_GUARDED_BY(fetch_mu_) = false;

  absl::Mutex mu_;
  Caller caller_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> subscription_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> auth_listener_ ABSL_GUARDED_BY(mu_);
};

class WatchReactor final : public WatchReactorBase {
 public:
  explicit WatchReactor(std::shared_ptr<WatchStream> stream)
      : stream_(std::move(stream)) {
    stream_->Attach(this);
  }
  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override { stream_->OnCancel(); }
  void OnDone() override {
    stream_->OnDone();
    delete this;
  }

 private:
  const std::shared_ptr<WatchStream> stream_;
};

void WatchStream::Begin(Caller caller, const WatchRequest& request) {
  const absl::Status started = Start(request);
  if (!started.ok()) {
    FinishWith(ToGrpcStatus(started));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    caller_ = std::move(caller);
  }
  std::weak_ptr<WatchStream> weak = weak_from_this();
  const uint64_t subscription = ledger_->Subscribe([weak]() {
    if (std::shared_ptr<WatchStream> stream = weak.lock()) stream->Pump();
  });
  const uint64_t auth_listener = auth_->AddListener([weak]() {
    std::shared_ptr<WatchStream> stream = weak.lock();
    if (stream == nullptr) return;
    Caller caller;
    {
      absl::MutexLock lock(&stream->mu_);
      caller = stream->caller_;
    }
    const absl::Status still =
        stream->auth_->Recheck(caller, RpcMethod::kWatch);
    if (!still.ok()) stream->FinishWith(ToGrpcStatus(still));
  });
  {
    absl::MutexLock lock(&mu_);
    subscription_ = subscription;
    auth_listener_ = auth_listener;
  }
  // Changes between the start and the subscription.
  Pump();
}

absl::Status WatchStream::Start(const WatchRequest& request) {
  CCB_RETURN_IF_ERROR(RequireNonEmptyKeys(request.job_keys(), "job_keys"));
  WatchFilter filter;
  filter.batch = request.batch();
  filter.job_keys.assign(request.job_keys().begin(), request.job_keys().end());
  std::vector<WatchResponse> initial;
  uint64_t cursor = 0;
  if (request.resume_token().empty()) {
    CCB_ASSIGN_OR_RETURN(WatchStart start, ledger_->StartWatch(filter));
    initial.reserve(start.current.size() + 1);
    for (v1::JobView& view : start.current) {
      WatchResponse& response = initial.emplace_back();
      *response.mutable_current() = std::move(view);
    }
    WatchResponse& done = initial.emplace_back();
    done.set_initial_state_done(true);
    done.set_resume_token(ResumeToken(start.after_seq));
    cursor = start.after_seq;
  } else {
    CCB_ASSIGN_OR_RETURN(cursor, ParseResumeToken(request.resume_token()));
    const uint64_t newest = ledger_->LastEventSeq();
    if (cursor > newest) {
      return absl::OutOfRangeError(absl::StrCat(
          "resume_token ", cursor, " is past the ledger's newest event ",
          newest,
          " (was the ledger's database replaced?); watch again without a "
          "token"));
    }
  }
  log_->Info("watch_started",
             {{"peer", peer_},
              {"batch", filter.batch},
              {"jobs", filter.job_keys.size()},
              {"resume_token", request.resume_token()},
              {"initial_views", initial.empty() ? 0 : initial.size() - 1}});
  {
    absl::MutexLock lock(&fetch_mu_);
    filter_ = std::move(filter);
    cursor_ = cursor;
  }
  outbox_.Push(std::move(initial));
  return absl::OkStatus();
}

void WatchStream::Pump() {
  absl::MutexLock lock(&fetch_mu_);
  // While anything is queued or in flight, OnWriteDone pumps again when it
  // is written: at most one batch per watcher is ever held.
  if (!outbox_.Idle()) return;
  const uint64_t newest = ledger_->LastEventSeq();
  if (filter_checked_ && newest <= cursor_) return;
  absl::StatusOr<std::vector<v1::JobEvent>> events =
      ledger_->EventsAfter(filter_, cursor_, batch_events_);
  if (!events.ok()) {
    FinishWith(ToGrpcStatus(events.status()));
    return;
  }
  filter_checked_ = true;
  const bool full = events->size() >= static_cast<size_t>(batch_events_);
  const uint64_t last_sent = events->empty() ? cursor_ : events->back().seq();
  // A short batch holds every matching event up to `newest` (read before
  // the call), so the non-matching ones up to there need no second look.
  cursor_ = full ? last_sent : std::max(last_sent, newest);
  if (events->empty()) return;
  std::vector<WatchResponse> changes;
  changes.reserve(events->size());
  for (v1::JobEvent& event : *events) {
    WatchResponse& response = changes.emplace_back();
    response.set_resume_token(ResumeToken(event.seq()));
    *response.mutable_change() = std::move(event);
  }
  outbox_.Push(std::move(changes));
}

void WatchStream::FinishWith(const grpc::Status& status) {
  if (!outbox_.Finish(status)) return;
  log_->Info("watch_finished",
             {{"peer", peer_},
              {"code", absl::StatusCodeToString(
                           static_cast<absl::StatusCode>(status.error_code()))},
              {"message", status.error_message()}});
}

void WatchStream::OnDone() {
  outbox_.Detach();
  std::optional<uint64_t> subscription;
  std::optional<uint64_t> auth_listener;
  {
    absl::MutexLock lock(&mu_);
    subscription = subscription_;
    auth_listener = auth_listener_;
  }
  if (subscription.has_value()) ledger_->Unsubscribe(*subscription);
  if (auth_listener.has_value()) auth_->RemoveListener(*auth_listener);
  registry_->Remove(this);
}

}  // namespace

LedgerGrpcService::LedgerGrpcService(Ledger* ledger, common::EventLog* log,
                                     AuthGate* auth,
                                     LedgerGrpcServiceOptions options,
                                     InputLimits input_limits)
    : ledger_(ledger),
      log_(log),
      auth_(auth),
      options_(options),
      input_limits_(input_limits) {}

LedgerGrpcService::~LedgerGrpcService() = default;

bool LedgerGrpcService::EnterCall() {
  absl::MutexLock lock(&calls_mu_);
  if (draining_) return false;
  ++calls_in_flight_;
  return true;
}

void LedgerGrpcService::ExitCall() {
  absl::MutexLock lock(&calls_mu_);
  --calls_in_flight_;
}

bool LedgerGrpcService::DrainCalls(absl::Duration timeout) {
  absl::MutexLock lock(&calls_mu_);
  draining_ = true;
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) {
    return calls_in_flight_ == 0;
  };
  return calls_mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

template <typename Response, typename Call>
grpc::ServerUnaryReactor* LedgerGrpcService::Serve(
    grpc::CallbackServerContext* context, RpcMethod method,
    const google::protobuf::Message& request, common::LogField subject,
    bool mutation, Response* response, Call call) {
  absl::StatusOr<Response> result = absl::UnavailableError(
      "the ledger is shutting down; try again when it is back");
  grpc::ServerUnaryReactor* reactor = nullptr;
  if (EnterCall()) {
    absl::StatusOr<Caller> caller = auth_->Admit(*context, method);
    absl::Status fits =
        caller.ok()
            ? CheckStringLengths(request, input_limits_.max_string_bytes)
            : caller.status();
    if (fits.ok()) {
      result = call(*caller);
    } else {
      result = std::move(fits);
    }
    reactor = new CountedUnaryReactor([this]() { ExitCall(); });
  } else {
    reactor = context->DefaultReactor();
  }
  LogCall(absl::StripPrefix(RpcMethodName(method), "LedgerService."), context,
          result.status(), subject, mutation);
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

void LedgerGrpcService::LogCall(absl::string_view method,
                                grpc::CallbackServerContext* context,
                                const absl::Status& status,
                                const common::LogField& subject,
                                bool mutation) {
  if (status.ok() && !mutation) return;
  const std::string code = absl::StatusCodeToString(status.code());
  if (status.ok()) {
    log_->Info("rpc", {{"method", method},
                       {"peer", context->peer()},
                       subject,
                       {"code", code}});
  } else {
    log_->Warning("rpc", {{"method", method},
                          {"peer", context->peer()},
                          subject,
                          {"code", code},
                          {"error", status.message()}});
  }
}

grpc::ServerUnaryReactor* LedgerGrpcService::ImportBatch(
    grpc::CallbackServerContext* context, const v1::ImportBatchRequest* request,
    v1::ImportBatchResponse* response) {
  return Serve(
      context, RpcMethod::kImportBatch, *request,
      {"batch", request->batch().name()}, true, response,
      [&](const Caller&) -> absl::StatusOr<v1::ImportBatchResponse> {
        if (!request->has_batch()) {
          return absl::InvalidArgumentError(
              "ImportBatchRequest.batch is missing; send the batch "
              "read from a batchfile");
        }
        CCB_RETURN_IF_ERROR(CheckJobCount(request->batch().jobs_size(),
                                          "batch.jobs", input_limits_));
        return ledger_->ImportBatch(*request);
      });
}

grpc::ServerUnaryReactor* LedgerGrpcService::PauseBatch(
    grpc::CallbackServerContext* context, const v1::PauseBatchRequest* request,
    v1::BatchInfo* response) {
  return Serve(context, RpcMethod::kPauseBatch, *request,
               {"batch", request->batch()}, true, response,
               [&](const Caller&) -> absl::StatusOr<v1::BatchInfo> {
                 CCB_RETURN_IF_ERROR(RequireName(request->batch(), "batch",
                                                 "name the batch to pause"));
                 return ledger_->SetPaused(request->batch(), true);
               });
}

grpc::ServerUnaryReactor* LedgerGrpcService::ResumeBatch(
    grpc::CallbackServerContext* context, const v1::ResumeBatchRequest* request,
    v1::BatchInfo* response) {
  return Serve(context, RpcMethod::kResumeBatch, *request,
               {"batch", request->batch()}, true, response,
               [&](const Caller&) -> absl::StatusOr<v1::BatchInfo> {
                 CCB_RETURN_IF_ERROR(RequireName(request->batch(), "batch",
                                                 "name the batch to resume"));
                 return ledger_->SetPaused(request->batch(), false);
               });
}

grpc::ServerUnaryReactor* LedgerGrpcService::ListJobs(
    grpc::CallbackServerContext* context, const v1::ListJobsRequest* request,
    v1::ListJobsResponse* response) {
  return Serve(context, RpcMethod::kListJobs, *request,
               {"batch", request->batch()}, false, response,
               [&](const Caller&) -> absl::StatusOr<v1::ListJobsResponse> {
                 CCB_RETURN_IF_ERROR(CheckListJobs(*request));
                 return ledger_->ListJobs(*request);
               });
}

grpc::ServerUnaryReactor* LedgerGrpcService::GetJob(
    grpc::CallbackServerContext* context, const v1::GetJobRequest* request,
    v1::GetJobResponse* response) {
  return Serve(
      context, RpcMethod::kGetJob, *request, {"job", request->key()}, false,
      response, [&](const Caller&) -> absl::StatusOr<v1::GetJobResponse> {
        CCB_RETURN_IF_ERROR(RequireName(
            request->key(), "key", "give the job's key, \"batch/basename\""));
        return ledger_->GetJob(*request);
      });
}

grpc::ServerWriteReactor<WatchResponse>* LedgerGrpcService::Watch(
    grpc::CallbackServerContext* context, const WatchRequest* request) {
  auto stream = std::make_shared<WatchStream>(ledger_, &registry_, log_, auth_,
                                              options_.watch_batch_events,
                                              context->peer());
  absl::StatusOr<Caller> caller = auth_->Admit(*context, RpcMethod::kWatch);
  absl::Status fits = caller.status();
  if (fits.ok()) {
    fits = CheckStringLengths(*request, input_limits_.max_string_bytes);
  }
  if (fits.ok()) {
    fits = CheckJobCount(request->job_keys_size(), "job_keys", input_limits_);
  }
  const bool accepted = registry_.Add(stream);
  auto* reactor = new WatchReactor(stream);
  if (!accepted) {
    stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the ledger is shutting down; watch again "
                               "later with the last resume_token"));
  } else if (!fits.ok()) {
    stream->Close(ToGrpcStatus(fits));
  } else {
    stream->Begin(*std::move(caller), *request);
  }
  return reactor;
}

grpc::ServerUnaryReactor* LedgerGrpcService::Summary(
    grpc::CallbackServerContext* context, const v1::SummaryRequest* request,
    v1::SummaryResponse* response) {
  return Serve(context, RpcMethod::kSummary, *request,
               {"batch", request->batch()}, false, response,
               [&](const Caller&) { return ledger_->Summary(*request); });
}

grpc::ServerUnaryReactor* LedgerGrpcService::Retry(
    grpc::CallbackServerContext* context, const v1::RetryRequest* request,
    v1::RetryResponse* response) {
  const common::LogField subject =
      request->failed_in_batch().empty()
          ? common::LogField("job", KeysForLog(request->job_keys()))
          : common::LogField("batch", request->failed_in_batch());
  return Serve(context, RpcMethod::kRetry, *request, subject, true, response,
               [&](const Caller& caller) -> absl::StatusOr<v1::RetryResponse> {
                 CCB_RETURN_IF_ERROR(CheckJobCount(request->job_keys_size(),
                                                   "job_keys", input_limits_));
                 CCB_RETURN_IF_ERROR(RequireKeysOrName(
                     request->job_keys(), "job_keys",
                     request->failed_in_batch(), "failed_in_batch"));
                 // The token's role (or, without tokens, the peer address).
                 return ledger_->Retry(*request, caller.Describe());
               });
}

grpc::ServerUnaryReactor* LedgerGrpcService::Cancel(
    grpc::CallbackServerContext* context, const v1::CancelRequest* request,
    v1::CancelResponse* response) {
  const common::LogField subject =
      request->batch().empty()
          ? common::LogField("job", KeysForLog(request->job_keys()))
          : common::LogField("batch", request->batch());
  return Serve(
      context, RpcMethod::kCancel, *request, subject, true, response,
      [&](const Caller&) -> absl::StatusOr<v1::CancelResponse> {
        CCB_RETURN_IF_ERROR(
            CheckJobCount(request->job_keys_size(), "job_keys", input_limits_));
        CCB_RETURN_IF_ERROR(RequireKeysOrName(request->job_keys(), "job_keys",
                                              request->batch(), "batch"));
        return ledger_->Cancel(*request);
      });
}

grpc::ServerUnaryReactor* LedgerGrpcService::ListClusters(
    grpc::CallbackServerContext* context,
    const v1::ListClustersRequest* request,
    v1::ListClustersResponse* response) {
  return Serve(context, RpcMethod::kListClusters, *request, {"cluster", "all"},
               false, response,
               [&](const Caller&) -> absl::StatusOr<v1::ListClustersResponse> {
                 return ledger_->ListClusters();
               });
}

grpc::ServerUnaryReactor* LedgerGrpcService::ExportLedger(
    grpc::CallbackServerContext* context,
    const v1::ExportLedgerRequest* request,
    v1::ExportLedgerResponse* response) {
  return Serve(context, RpcMethod::kExportLedger, *request,
               {"batch", request->batch()}, false, response,
               [&](const Caller&) { return ledger_->ExportLedger(*request); });
}

void LedgerGrpcService::CloseAllStreams() {
  registry_.CloseAll(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "the ledger is shutting down; watch again "
                                  "later with the last resume_token"));
}

bool LedgerGrpcService::WaitUntilNoStreams(absl::Duration timeout) {
  return registry_.WaitUntilEmpty(timeout);
}

}  // namespace ccbatch::ledger
