#include "ledger_service/agent_service.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/batch_validator.h"
#include "common/event_log.h"
#include "common/status_macros.h"
#include "ledger_service/grpc_status.h"
#include "ledger_service/stream_outbox.h"

namespace ccbatch::ledger {

using ::ccbatch::v1::AgentMessage;
using ::ccbatch::v1::Hello;
using ::ccbatch::v1::HelloAck;
using ::ccbatch::v1::LedgerDirective;
using ::ccbatch::v1::SnapshotChunk;

using AgentReactor = grpc::ServerBidiReactor<AgentMessage, LedgerDirective>;

namespace {

const char* MessageKind(const AgentMessage& message) {
  switch (message.message_case()) {
    case AgentMessage::kHello:
      return "hello";
    case AgentMessage::kSnapshotChunk:
      return "snapshot_chunk";
    case AgentMessage::kProbeFailure:
      return "probe_failure";
    case AgentMessage::kCheckOutputResult:
      return "check_output_result";
    case AgentMessage::kSubmitResult:
      return "submit_result";
    case AgentMessage::kCancelResult:
      return "cancel_result";
    case AgentMessage::MESSAGE_NOT_SET:
      break;
  }
  return "unknown";
}

struct DirectiveSummary {
  const char* kind;
  std::string order_id;
  std::string job_key;
};

DirectiveSummary Summarize(const LedgerDirective& directive) {
  switch (directive.directive_case()) {
    case LedgerDirective::kSubmit:
      return {"submit", directive.submit().order_id(),
              directive.submit().job_key()};
    case LedgerDirective::kCheckOutput:
      return {"check_output", directive.check_output().order_id(),
              directive.check_output().job_key()};
    case LedgerDirective::kCancel:
      return {"cancel", directive.cancel().order_id(),
              directive.cancel().job_key()};
    case LedgerDirective::kHelloAck:
      return {"hello_ack", "", ""};
    case LedgerDirective::DIRECTIVE_NOT_SET:
      break;
  }
  return {"unknown", "", ""};
}

}  // namespace

// The state of one Connect stream. Shared by its reactor, the ledger's
// change callback (weakly) and the registry, so a late callback finds a live
// object whose outbox refuses to touch the finished reactor.
class AgentStream final : public StreamRegistry::Stream,
                          public std::enable_shared_from_this<AgentStream> {
 public:
  AgentStream(AgentGrpcService* service, uint64_t id, std::string peer)
      : service_(service),
        id_(id),
        peer_(std::move(peer)),
        assembler_(service->snapshot_limits_) {}

  // Who opened the stream; set before Begin.
  void SetCaller(Caller caller) { caller_ = std::move(caller); }

  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }

  void Close(const grpc::Status& status) override { FinishWith(status); }

  // ---- From the reactor. ----
  void Attach(AgentReactor* reactor) { outbox_.Attach(reactor); }
  // Starts reading, and re-checks the caller whenever the tokens change.
  void Begin();
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok) {
    outbox_.WriteDone(ok);
    if (!ok) {
      FinishWith(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "writing to the agent failed"));
    }
  }
  void OnCancel() {
    FinishWith(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }
  void OnDone();

 private:
  void ReadNext() {
    outbox_.IfOpen(
        [this](AgentReactor* reactor) { reactor->StartRead(&incoming_); });
  }
  absl::Status Handle(AgentMessage& message);
  // Trims verdict evidence and checks string lengths (input_limits.h).
  absl::Status ApplyLimits(AgentMessage& message);
  absl::Status HandleHello(const Hello& hello);
  // Finishes the stream if its caller's token was revoked or changed role.
  void RecheckCaller();
  absl::Status HandleChunk(SnapshotChunk& chunk);
  // Pulls the directives due on this stream and queues them for writing.
  void Pump();
  void FinishWith(const grpc::Status& status);

  Ledger& ledger() const { return *service_->ledger_; }
  common::EventLog& log() const { return *service_->log_; }

  AgentGrpcService* const service_;
  const uint64_t id_;
  const std::string peer_;
  Caller caller_;
  StreamOutbox<AgentReactor, LedgerDirective> outbox_;

  // Reader side: touched only by read reactions and OnDone, which gRPC
  // never runs concurrently (one read in flight; OnDone comes last).
  AgentMessage incoming_;
  SnapshotAssembler assembler_;
  std::string reader_cluster_;  // empty until Hello

  // Held across TakeDirectives and Push, so directives are queued in the
  // order the ledger hands them out even when callbacks race.
  absl::Mutex pump_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(pump_mu_);
  // Set once HelloAck is queued: orders may follow it.
  std::string cluster_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint64_t> subscription_ ABSL_GUARDED_BY(mu_);
  std::optional<uint64_t> auth_listener_ ABSL_GUARDED_BY(mu_);
};

namespace {

class ConnectReactor final : public AgentReactor {
 public:
  explicit ConnectReactor(std::shared_ptr<AgentStream> stream)
      : stream_(std::move(stream)) {
    stream_->Attach(this);
  }

  void OnReadDone(bool ok) override { stream_->OnReadDone(ok); }
  void OnWriteDone(bool ok) override { stream_->OnWriteDone(ok); }
  void OnCancel() override { stream_->OnCancel(); }
  void OnDone() override {
    stream_->OnDone();
    delete this;
  }

 private:
  const std::shared_ptr<AgentStream> stream_;
};

}  // namespace

void AgentStream::Begin() {
  std::weak_ptr<AgentStream> weak = weak_from_this();
  const uint64_t listener = service_->auth_->AddListener([weak]() {
    if (std::shared_ptr<AgentStream> stream = weak.lock()) {
      stream->RecheckCaller();
    }
  });
  {
    absl::MutexLock lock(&mu_);
    auth_listener_ = listener;
  }
  ReadNext();
}

void AgentStream::RecheckCaller() {
  const absl::Status still =
      service_->auth_->Recheck(caller_, RpcMethod::kConnect);
  if (!still.ok()) FinishWith(ToGrpcStatus(still));
}

void AgentStream::OnReadDone(bool ok) {
  if (!ok) {
    // The agent closed its side, or the connection broke.
    FinishWith(grpc::Status::OK);
    return;
  }
  const absl::Status handled = Handle(incoming_);
  if (!handled.ok()) {
    log().Warning("agent_stream_error",
                  {{"stream", id_},
                   {"cluster", reader_cluster_},
                   {"peer", peer_},
                   {"message", MessageKind(incoming_)},
                   {"code", absl::StatusCodeToString(handled.code())},
                   {"error", handled.message()}});
    FinishWith(ToGrpcStatus(handled));
    return;
  }
  ReadNext();
}

absl::Status AgentStream::ApplyLimits(AgentMessage& message) {
  const InputLimits& limits = service_->input_limits_;
  ccbatch::v1::Verdict* verdict = nullptr;
  std::string order_id;
  if (message.has_check_output_result()) {
    verdict = message.mutable_check_output_result()->mutable_verdict();
    order_id = message.check_output_result().order_id();
  } else if (message.has_submit_result() &&
             message.submit_result().has_adopted()) {
    verdict = message.mutable_submit_result()->mutable_adopted();
    order_id = message.submit_result().order_id();
  }
  if (verdict != nullptr) {
    const int lines = verdict->evidence_size();
    if (TrimEvidence(*verdict, limits)) {
      log().Warning("verdict_evidence_trimmed",
                    {{"cluster", reader_cluster_},
                     {"job", verdict->job_key()},
                     {"order", order_id},
                     {"evidence_lines", lines},
                     {"kept", verdict->evidence_size()}});
    }
  }
  return CheckStringLengths(message, limits.max_string_bytes);
}

absl::Status AgentStream::Handle(AgentMessage& message) {
  CCB_RETURN_IF_ERROR(ApplyLimits(message));
  if (message.has_hello()) return HandleHello(message.hello());
  if (reader_cluster_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the first message on a Connect stream must be Hello, got ",
        MessageKind(message),
        "; send Hello{cluster, user, agent_version} first"));
  }
  const std::string& cluster = reader_cluster_;
  switch (message.message_case()) {
    case AgentMessage::kSnapshotChunk:
      return HandleChunk(*message.mutable_snapshot_chunk());
    case AgentMessage::kProbeFailure:
      log().Warning("probe_failure",
                    {{"cluster", cluster},
                     {"exit_code", message.probe_failure().exit_code()},
                     {"error", message.probe_failure().error()}});
      return ledger().ApplyProbeFailure(cluster, message.probe_failure());
    case AgentMessage::kCheckOutputResult:
      return ledger().ApplyCheckOutputResult(cluster,
                                             message.check_output_result());
    case AgentMessage::kSubmitResult:
      return ledger().ApplySubmitResult(cluster, message.submit_result());
    case AgentMessage::kCancelResult:
      return ledger().ApplyCancelResult(cluster, message.cancel_result());
    case AgentMessage::kHello:
    case AgentMessage::MESSAGE_NOT_SET:
      break;
  }
  // A field this ledger does not know (a newer agent): not fatal.
  log().Warning("agent_message_ignored", {{"stream", id_},
                                          {"cluster", cluster},
                                          {"reason", "no known field set"}});
  return absl::OkStatus();
}

absl::Status AgentStream::HandleHello(const Hello& hello) {
  if (!reader_cluster_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("Hello sent twice on one stream (bound to cluster \"",
                     reader_cluster_, "\"); open a new stream instead"));
  }
  if (hello.cluster().empty()) {
    return absl::InvalidArgumentError(
        "Hello.cluster is empty; configure the agent with the name of its "
        "cluster");
  }
  if (absl::Status name = common::CheckClusterName(hello.cluster());
      !name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hello.cluster: ", name.message()));
  }
  CCB_RETURN_IF_ERROR(service_->auth_->AdmitHello(caller_, hello.cluster()));
  CCB_ASSIGN_OR_RETURN(const HelloAck ack,
                       service_->BindCluster(hello, shared_from_this()));
  reader_cluster_ = hello.cluster();
  service_->metrics_->RecordStreamConnect(hello.cluster());
  log().Info("agent_connected", {{"cluster", hello.cluster()},
                                 {"stream", id_},
                                 {"user", hello.user()},
                                 {"agent_version", hello.agent_version()},
                                 {"peer", peer_},
                                 {"agent_last_seq", hello.last_snapshot_seq()},
                                 {"applied_seq", ack.applied_snapshot_seq()}});

  std::weak_ptr<AgentStream> weak = weak_from_this();
  const uint64_t subscription = ledger().Subscribe([weak]() {
    if (std::shared_ptr<AgentStream> stream = weak.lock()) stream->Pump();
  });
  LedgerDirective hello_ack;
  *hello_ack.mutable_hello_ack() = ack;
  std::vector<LedgerDirective> first;
  first.push_back(std::move(hello_ack));
  outbox_.Push(std::move(first));
  {
    absl::MutexLock lock(&mu_);
    cluster_ = hello.cluster();
    subscription_ = subscription;
    ready_ = true;
  }
  // Orders already due (e.g. unacknowledged ones of an earlier stream).
  Pump();
  return absl::OkStatus();
}

absl::Status AgentStream::HandleChunk(SnapshotChunk& chunk) {
  const uint64_t superseded_before = assembler_.superseded_count();
  const uint64_t half_seq = assembler_.in_progress_seq();
  const uint32_t chunk_index = chunk.chunk_index();
  CCB_ASSIGN_OR_RETURN(std::optional<AssembledSnapshot> whole,
                       assembler_.Add(chunk));
  if (assembler_.superseded_count() != superseded_before) {
    log().Warning("snapshot_dropped",
                  {{"cluster", reader_cluster_},
                   {"seq", half_seq},
                   {"reason", "superseded by a new snapshot"}});
  }
  if (!whole.has_value()) return absl::OkStatus();
  log().Info("snapshot_received",
             {{"cluster", reader_cluster_},
              {"seq", whole->seq},
              {"entries", whole->entries.size()},
              {"chunks", chunk_index + 1},
              {"malformed_lines", whole->diagnostics.malformed_lines()},
              {"unknown_states", whole->diagnostics.unknown_states()}});
  return ledger().ApplySnapshot(reader_cluster_, *whole);
}

void AgentStream::Pump() {
  absl::MutexLock pump_lock(&pump_mu_);
  std::string cluster;
  {
    absl::MutexLock lock(&mu_);
    if (!ready_) return;
    cluster = cluster_;
  }
  if (outbox_.Finishing()) return;
  std::vector<LedgerDirective> due = ledger().TakeDirectives(cluster, id_);
  if (due.empty()) return;
  std::vector<DirectiveSummary> summaries;
  summaries.reserve(due.size());
  for (const LedgerDirective& directive : due) {
    summaries.push_back(Summarize(directive));
  }
  // If the stream is finishing they are dropped here; the ledger hands them
  // out again on the cluster's next stream.
  const bool queued = outbox_.Push(std::move(due));
  for (const DirectiveSummary& summary : summaries) {
    log().Info(queued ? "order_sent" : "order_deferred",
               {{"cluster", cluster},
                {"stream", id_},
                {"kind", summary.kind},
                {"order", summary.order_id},
                {"job", summary.job_key}});
  }
}

void AgentStream::FinishWith(const grpc::Status& status) {
  if (!outbox_.Finish(status)) return;
  std::string cluster;
  {
    absl::MutexLock lock(&mu_);
    cluster = cluster_;
  }
  log().Info("agent_stream_finished",
             {{"cluster", cluster},
              {"stream", id_},
              {"code", absl::StatusCodeToString(
                           static_cast<absl::StatusCode>(status.error_code()))},
              {"message", status.error_message()}});
}

void AgentStream::OnDone() {
  outbox_.Detach();
  std::optional<uint64_t> subscription;
  std::optional<uint64_t> auth_listener;
  {
    absl::MutexLock lock(&mu_);
    subscription = subscription_;
    auth_listener = auth_listener_;
  }
  if (subscription.has_value()) ledger().Unsubscribe(*subscription);
  if (auth_listener.has_value()) {
    service_->auth_->RemoveListener(*auth_listener);
  }
  if (assembler_.in_progress()) {
    log().Warning("snapshot_dropped",
                  {{"cluster", reader_cluster_},
                   {"seq", assembler_.in_progress_seq()},
                   {"reason", "stream ended before the last chunk"}});
    assembler_.Reset();
  }
  if (!reader_cluster_.empty()) {
    ledger().AgentDisconnected(reader_cluster_, id_);
    service_->UnbindCluster(reader_cluster_, this);
    log().Info("agent_disconnected",
               {{"cluster", reader_cluster_}, {"stream", id_}});
  }
  service_->registry_.Remove(this);
}

AgentGrpcService::AgentGrpcService(Ledger* ledger, common::EventLog* log,
                                   AuthGate* auth,
                                   SnapshotAssemblerLimits snapshot_limits,
                                   InputLimits input_limits,
                                   LedgerServiceMetrics* metrics)
    : ledger_(ledger),
      log_(log),
      auth_(auth),
      snapshot_limits_(snapshot_limits),
      input_limits_(input_limits),
      own_metrics_(metrics == nullptr
                       ? std::make_unique<LedgerServiceMetrics>(nullptr)
                       : nullptr),
      metrics_(metrics != nullptr ? metrics : own_metrics_.get()) {}

AgentGrpcService::~AgentGrpcService() = default;

AgentReactor* AgentGrpcService::Connect(grpc::CallbackServerContext* context) {
  auto stream = std::make_shared<AgentStream>(
      this, next_stream_id_.fetch_add(1), context->peer());
  absl::StatusOr<Caller> caller = auth_->Admit(*context, RpcMethod::kConnect);
  const bool accepted = registry_.Add(stream);
  auto* reactor = new ConnectReactor(stream);
  if (!accepted) {
    stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the ledger is shutting down; reconnect later"));
  } else if (!caller.ok()) {
    stream->Close(ToGrpcStatus(caller.status()));
  } else {
    stream->SetCaller(*std::move(caller));
    stream->Begin();
  }
  return reactor;
}

absl::StatusOr<HelloAck> AgentGrpcService::BindCluster(
    const Hello& hello, std::shared_ptr<AgentStream> stream) {
  absl::MutexLock lock(&bind_mu_);
  CCB_ASSIGN_OR_RETURN(HelloAck ack,
                       ledger_->AgentConnected(hello, stream->id()));
  std::weak_ptr<AgentStream>& slot = by_cluster_[hello.cluster()];
  std::shared_ptr<AgentStream> previous = slot.lock();
  slot = stream;
  if (previous != nullptr && previous != stream) {
    log_->Warning("agent_stream_replaced", {{"cluster", hello.cluster()},
                                            {"old_stream", previous->id()},
                                            {"old_peer", previous->peer()},
                                            {"new_stream", stream->id()},
                                            {"new_peer", stream->peer()}});
    previous->Close(grpc::Status(
        grpc::StatusCode::ABORTED,
        absl::StrCat("replaced by stream ", stream->id(), " of cluster \"",
                     hello.cluster(), "\" from ", stream->peer(),
                     "; only one agent per cluster may be connected")));
  }
  return ack;
}

void AgentGrpcService::UnbindCluster(const std::string& cluster,
                                     const AgentStream* stream) {
  absl::MutexLock lock(&bind_mu_);
  auto it = by_cluster_.find(cluster);
  if (it == by_cluster_.end()) return;
  std::shared_ptr<AgentStream> current = it->second.lock();
  if (current == nullptr || current.get() == stream) by_cluster_.erase(it);
}

void AgentGrpcService::CloseAllStreams() {
  registry_.CloseAll(
      grpc::Status(grpc::StatusCode::UNAVAILABLE,
                   "the ledger is shutting down; reconnect later"));
}

bool AgentGrpcService::WaitUntilNoStreams(absl::Duration timeout) {
  return registry_.WaitUntilEmpty(timeout);
}

}  // namespace ccbatch::ledger
