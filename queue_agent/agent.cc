#include "queue_agent/agent.h"

#include <utility>
#include <variant>
#include <vector>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace ccbatch::agent {
namespace {

// gRPC's own reconnection of the channel stays within the agent's backoff.
constexpr int kChannelMinReconnectMillis = 500;
constexpr int kChannelMaxReconnectMillis = 30000;
// A ping every 5 minutes finds a dead connection the snapshots alone would
// notice only after TCP's retransmission timeout; 5 minutes is what a gRPC
// server accepts by default without answering "too many pings".
constexpr int kKeepaliveMillis = 5 * 60 * 1000;
constexpr int kKeepaliveTimeoutMillis = 20 * 1000;

std::string Str(int64_t value) { return absl::StrCat(value); }

common::MetricsRegistry* RegistryOr(
    common::MetricsRegistry* given,
    std::unique_ptr<common::MetricsRegistry>& own) {
  if (given != nullptr) return given;
  if (own == nullptr) own = std::make_unique<common::MetricsRegistry>();
  return own.get();
}

const std::string& OrderId(const v1::LedgerDirective& directive) {
  switch (directive.directive_case()) {
    case v1::LedgerDirective::kSubmit:
      return directive.submit().order_id();
    case v1::LedgerDirective::kCheckOutput:
      return directive.check_output().order_id();
    case v1::LedgerDirective::kCancel:
      return directive.cancel().order_id();
    default: {
      static const std::string* const kNone = new std::string();
      return *kNone;
    }
  }
}

absl::string_view OrderKind(const v1::LedgerDirective& directive) {
  switch (directive.directive_case()) {
    case v1::LedgerDirective::kSubmit:
      return "submit";
    case v1::LedgerDirective::kCheckOutput:
      return "check_output";
    case v1::LedgerDirective::kCancel:
      return "cancel";
    default:
      return "unknown";
  }
}

const std::string& OrderJobKey(const v1::LedgerDirective& directive) {
  switch (directive.directive_case()) {
    case v1::LedgerDirective::kSubmit:
      return directive.submit().job_key();
    case v1::LedgerDirective::kCheckOutput:
      return directive.check_output().job_key();
    default:
      return directive.cancel().job_key();  // "" for anything else
  }
}

}  // namespace

std::shared_ptr<grpc::Channel> CreateLedgerChannel(
    const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kChannelMinReconnectMillis);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              kChannelMinReconnectMillis);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kChannelMaxReconnectMillis);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMillis);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMillis);
  return grpc::CreateCustomChannel(target, std::move(credentials), args);
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(
    AgentOptions options, std::shared_ptr<grpc::ChannelInterface> channel,
    const SqueueProbe* probe, const common::Clock* clock,
    const common::EventLog* log) {
  if (options.cluster.empty()) {
    return absl::InvalidArgumentError("agent: no cluster name given");
  }
  if (options.user.empty()) {
    return absl::InvalidArgumentError("agent: no user given");
  }
  if (options.interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent: probe interval must be positive, got ",
                     absl::FormatDuration(options.interval)));
  }
  if (options.reconnect.initial <= absl::ZeroDuration() ||
      options.reconnect.max < options.reconnect.initial ||
      options.reconnect.multiplier < 1 || options.reconnect.jitter < 0 ||
      options.reconnect.jitter >= 1) {
    return absl::InvalidArgumentError("agent: invalid reconnect backoff");
  }
  return std::unique_ptr<Agent>(
      new Agent(std::move(options), std::move(channel), probe, clock, log));
}

Agent::Agent(AgentOptions options,
             std::shared_ptr<grpc::ChannelInterface> channel,
             const SqueueProbe* probe, const common::Clock* clock,
             const common::EventLog* log)
    : options_(std::move(options)),
      stub_(v1::AgentService::NewStub(std::move(channel))),
      probe_(probe),
      clock_(clock),
      log_(log),
      squeue_seconds_(RegistryOr(options_.metrics, own_metrics_)
                          ->AddHistogram("ccbatch_agent_squeue_seconds",
                                         "Time one squeue call took, whether "
                                         "it gave a snapshot or failed.",
                                         common::LatencyBucketsSeconds())),
      squeue_failures_(RegistryOr(options_.metrics, own_metrics_)
                           ->AddCounter("ccbatch_agent_squeue_failures_total",
                                        "squeue calls that gave no snapshot "
                                        "(sent as a ProbeFailure).")),
      snapshot_entries_(RegistryOr(options_.metrics, own_metrics_)
                            ->AddGauge("ccbatch_agent_snapshot_entries",
                                       "Queue entries in the latest "
                                       "snapshot.")),
      stream_connects_(RegistryOr(options_.metrics, own_metrics_)
                           ->AddCounter("ccbatch_agent_stream_connects_total",
                                        "Connect streams opened to the "
                                        "ledger (the first and every "
                                        "reconnection).")),
      outbox_(options_.max_waiting_results) {}

Agent::~Agent() { Stop(); }

void Agent::Start(OrderExecutor* executor) {
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return;
    started_ = true;
  }
  executor_ = executor;
  log_->Info("agent_started",
             {{"user", options_.user},
              {"interval", absl::FormatDuration(options_.interval)},
              {"version", options_.agent_version}});
  probe_thread_ = std::thread([this] { ProbeLoop(); });
  worker_thread_ = std::thread([this] { WorkLoop(); });
  stream_thread_ = std::thread([this] { StreamLoop(); });
}

void Agent::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    if (stream_context_ != nullptr) stream_context_->TryCancel();
  }
  for (std::thread* thread :
       {&probe_thread_, &stream_thread_, &worker_thread_}) {
    if (thread->joinable()) thread->join();
  }
  log_->Info("agent_stopped");
}

bool Agent::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void Agent::ProbeNow() {
  absl::MutexLock lock(&mu_);
  probe_requested_ = true;
}

// ---- Probing -------------------------------------------------------------

void Agent::ProbeLoop() {
  while (true) {
    Publish(TimedProbe());
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || probe_requested_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), options_.interval);
    if (stopping_) return;
    probe_requested_ = false;
  }
}

ProbeOutcome Agent::TimedProbe() {
  const absl::Time started = clock_->Now();
  ProbeOutcome outcome = probe_->Probe();
  squeue_seconds_->ObserveDuration(clock_->Now() - started);
  return outcome;
}

void Agent::Publish(ProbeOutcome outcome) {
  if (auto* failure = std::get_if<v1::ProbeFailure>(&outcome)) {
    log_->Warning("probe_failed", {{"exit_code", Str(failure->exit_code())},
                                   {"error", failure->error()}});
    squeue_failures_->Increment();
    absl::MutexLock lock(&mu_);
    ++counters_.probes;
    ++counters_.probe_failures;
    outbox_.PutProbeFailure(std::move(*failure));
    return;
  }
  auto snapshot = std::make_shared<const QueueSnapshot>(
      std::move(std::get<QueueSnapshot>(outcome)));
  const uint64_t seq = sequencer_.Next(snapshot->taken_at);
  snapshot_entries_->Set(static_cast<double>(snapshot->entries.size()));
  const v1::SnapshotDiagnostics& diagnostics = snapshot->diagnostics;
  log_->Info("snapshot",
             {{"seq", absl::StrCat(seq)},
              {"entries", Str(static_cast<int64_t>(snapshot->entries.size()))},
              {"probe_ms", Str(diagnostics.probe_millis())},
              {"malformed_lines", Str(diagnostics.malformed_lines())},
              {"unknown_states", Str(diagnostics.unknown_states())}});
  absl::MutexLock lock(&mu_);
  ++counters_.probes;
  latest_ = snapshot;
  latest_seq_ = seq;
  outbox_.PutSnapshot(NumberedSnapshot{std::move(snapshot), seq});
}

std::shared_ptr<const QueueSnapshot> Agent::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

std::shared_ptr<const QueueSnapshot> Agent::SnapshotAfter(
    absl::Time not_before, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto fresh = [this, not_before]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return latest_ != nullptr && latest_->taken_at > not_before;
  };
  if (fresh()) return latest_;
  probe_requested_ = true;
  auto done = [this, &fresh]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || fresh();
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return fresh() ? latest_ : nullptr;
}

// ---- The stream ----------------------------------------------------------

void Agent::StreamLoop() {
  ReconnectBackoff backoff(options_.reconnect);
  absl::BitGen random;
  while (!stopping()) {
    bool acknowledged = false;
    const grpc::Status status = RunStream(&acknowledged);
    if (acknowledged) backoff.Reset();
    if (stopping()) return;
    const absl::Duration delay = backoff.Next(random);
    log_->Warning("stream_closed",
                  {{"code", Str(static_cast<int64_t>(status.error_code()))},
                   {"message", status.error_message()},
                   {"reconnect_in", absl::FormatDuration(delay)}});
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
  }
}

grpc::Status Agent::RunStream(bool* acknowledged) {
  grpc::ClientContext context;
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization",
                        absl::StrCat("Bearer ", options_.bearer_token));
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return grpc::Status::CANCELLED;
    stream_context_ = &context;
    stream_broken_ = false;
    hello_acked_ = false;
    ++counters_.streams_opened;
    stream_connects_->Increment();
    // A new stream starts with the newest snapshot even if the previous
    // stream sent it: the ledger may not have applied it (it ignores a seq
    // it has).
    if (latest_ != nullptr) {
      outbox_.PutSnapshot(NumberedSnapshot{latest_, latest_seq_});
    }
  }
  log_->Info("stream_opening");
  std::unique_ptr<Stream> stream = stub_->Connect(&context);
  std::thread reader([this, &stream] { ReadLoop(stream.get()); });
  if (stream->Write(Hello())) WriteLoop(stream.get());
  context.TryCancel();
  reader.join();
  const grpc::Status status = stream->Finish();
  absl::MutexLock lock(&mu_);
  stream_context_ = nullptr;
  *acknowledged = hello_acked_;
  return status;
}

v1::AgentMessage Agent::Hello() const {
  v1::AgentMessage message;
  v1::Hello* hello = message.mutable_hello();
  hello->set_cluster(options_.cluster);
  hello->set_user(options_.user);
  hello->set_agent_version(options_.agent_version);
  hello->set_last_snapshot_seq(sequencer_.LastIssued());
  return message;
}

void Agent::ReadLoop(Stream* stream) {
  v1::LedgerDirective directive;
  while (stream->Read(&directive)) {
    if (directive.has_hello_ack()) {
      const uint64_t applied = directive.hello_ack().applied_snapshot_seq();
      sequencer_.AdvancePast(applied);
      log_->Info("hello_ack", {{"applied_seq", absl::StrCat(applied)}});
      absl::MutexLock lock(&mu_);
      hello_acked_ = true;
      ++counters_.hello_acks;
      continue;
    }
    if (directive.directive_case() == v1::LedgerDirective::DIRECTIVE_NOT_SET) {
      log_->Warning("directive_ignored",
                    {{"why", "empty or unknown directive"}});
      continue;
    }
    EnqueueOrder(std::move(directive));
    directive.Clear();
  }
  absl::MutexLock lock(&mu_);
  stream_broken_ = true;
}

bool Agent::WriteLoop(Stream* stream) {
  while (true) {
    std::optional<OutboxItem> item;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || stream_broken_ || !outbox_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_ || stream_broken_) return false;
      item = outbox_.Take();
    }
    if (!WriteItem(stream, std::move(*item))) return false;
  }
}

bool Agent::WriteItem(Stream* stream, OutboxItem item) {
  if (auto* numbered = std::get_if<NumberedSnapshot>(&item)) {
    SnapshotChunker chunker(*numbered->snapshot, numbered->seq,
                            options_.chunk_limits);
    while (!chunker.done()) {
      // Each chunk's entries are built on an arena and freed at once after
      // the write (snapshot_chunker.h).
      google::protobuf::Arena arena(ChunkArenaOptions());
      auto* message =
          google::protobuf::Arena::CreateMessage<v1::AgentMessage>(&arena);
      chunker.Next(message->mutable_snapshot_chunk());
      if (!stream->Write(*message)) return false;
    }
    absl::MutexLock lock(&mu_);
    ++counters_.snapshots_sent;
    return true;
  }
  if (auto* failure = std::get_if<v1::ProbeFailure>(&item)) {
    v1::AgentMessage message;
    *message.mutable_probe_failure() = std::move(*failure);
    if (!stream->Write(message)) return false;
    absl::MutexLock lock(&mu_);
    ++counters_.probe_failures_sent;
    return true;
  }
  if (!stream->Write(std::get<v1::AgentMessage>(item))) return false;
  absl::MutexLock lock(&mu_);
  ++counters_.results_sent;
  return true;
}

// ---- Orders --------------------------------------------------------------

void Agent::EnqueueOrder(v1::LedgerDirective directive) {
  const std::string order_id = OrderId(directive);
  log_->Info("order_received", {{"kind", OrderKind(directive)},
                                {"order_id", order_id},
                                {"job", OrderJobKey(directive)}});
  absl::MutexLock lock(&mu_);
  ++counters_.orders_received;
  if (!orders_in_work_.insert(order_id).second) {
    ++counters_.orders_deduplicated;
    return;
  }
  orders_.push_back(std::move(directive));
}

void Agent::WorkLoop() {
  while (true) {
    v1::LedgerDirective directive;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !orders_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      directive = std::move(orders_.front());
      orders_.pop_front();
    }
    v1::AgentMessage answer = Execute(directive);
    absl::MutexLock lock(&mu_);
    orders_in_work_.erase(OrderId(directive));
    ++counters_.orders_done;
    outbox_.PutResult(std::move(answer));
  }
}

v1::AgentMessage Agent::Execute(const v1::LedgerDirective& directive) {
  v1::AgentMessage answer;
  switch (directive.directive_case()) {
    case v1::LedgerDirective::kSubmit:
      *answer.mutable_submit_result() = executor_->Submit(directive.submit());
      break;
    case v1::LedgerDirective::kCheckOutput:
      *answer.mutable_check_output_result() =
          executor_->CheckOutput(directive.check_output());
      break;
    case v1::LedgerDirective::kCancel:
      *answer.mutable_cancel_result() = executor_->Cancel(directive.cancel());
      break;
    default:
      break;
  }
  return answer;
}

AgentCounters Agent::CountersLocked() const {
  AgentCounters counters = counters_;
  counters.outbox = outbox_.counters();
  counters.snapshot_waiting = outbox_.has_snapshot();
  return counters;
}

AgentCounters Agent::counters() const {
  absl::MutexLock lock(&mu_);
  return CountersLocked();
}

bool Agent::AwaitCounters(std::function<bool(const AgentCounters&)> condition,
                          absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto holds = [this, &condition]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return condition(CountersLocked());
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

}  // namespace ccbatch::agent
