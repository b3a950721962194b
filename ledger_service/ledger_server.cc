#include "ledger_service/ledger_server.h"

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/event_log.h"
#include "grpc/grpc.h"

namespace ccbatch::ledger {
namespace {

// A dead agent (machine gone, no FIN) is noticed within about
// kKeepaliveTime + kKeepaliveTimeout, far inside the staleness limit.
constexpr int kKeepaliveTimeMs = 60'000;
constexpr int kKeepaliveTimeoutMs = 20'000;
// Agents may ping this often on an idle stream to keep NATs open.
constexpr int kMinClientPingIntervalMs = 10'000;

}  // namespace

LedgerServer::LedgerServer(Ledger* ledger, common::EventLog* log,
                           LedgerServerOptions options)
    : ledger_(ledger),
      log_(log),
      options_(std::move(options)),
      auth_(options_.auth != nullptr ? options_.auth
                                     : std::make_shared<AuthGate>(log)),
      metrics_(options_.metrics),
      agent_service_(ledger, log, auth_.get(), options_.snapshot_limits,
                     options_.input_limits, &metrics_),
      ledger_service_(ledger, log, auth_.get(), options_.ledger_service,
                      options_.input_limits),
      refusal_observer_(auth_->AddRefusalObserver(
          [metrics = &metrics_](absl::StatusCode code) {
            metrics->RecordAuthRefusal(absl::StatusCodeToString(code));
          })) {}

absl::StatusOr<std::unique_ptr<LedgerServer>> LedgerServer::Start(
    Ledger* ledger, common::EventLog* log, LedgerServerOptions options) {
  if (options.tick_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tick interval ", absl::FormatDuration(options.tick_interval),
        " must be positive (or infinite: no ticks)"));
  }
  std::unique_ptr<LedgerServer> server(
      new LedgerServer(ledger, log, std::move(options)));
  const LedgerServerOptions& opts = server->options_;

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(opts.listen_address,
                           opts.credentials != nullptr
                               ? opts.credentials
                               : grpc::InsecureServerCredentials(),
                           &selected_port);
  builder.SetMaxReceiveMessageSize(opts.max_receive_message_bytes);
  // Without this, Linux lets a second server bind the same port and the
  // kernel splits connections between the two ledgers.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      kMinClientPingIntervalMs);
  builder.RegisterService(&server->agent_service_);
  builder.RegisterService(&server->ledger_service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || selected_port == 0) {
    if (server->server_ != nullptr) server->server_->Shutdown();
    {
      absl::MutexLock lock(&server->mu_);
      server->stopped_ = true;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen on \"", opts.listen_address,
        "\": the port is in use, the address is not on this machine, or it "
        "is malformed (expected HOST:PORT, e.g. 127.0.0.1:50051)"));
  }
  server->port_ = selected_port;
  if (opts.tick_interval != absl::InfiniteDuration()) {
    server->tick_thread_ = std::thread([s = server.get()]() { s->TickLoop(); });
  }
  log->Info("server_started",
            {{"listen", opts.listen_address},
             {"port", selected_port},
             {"tls", opts.credentials != nullptr ? "yes" : "no"},
             {"auth", server->auth_->enabled() ? "tokens" : "off"}});
  return server;
}

LedgerServer::~LedgerServer() {
  Shutdown();
  auth_->RemoveRefusalObserver(refusal_observer_);
}

void LedgerServer::TickLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               options_.tick_interval)) {
        return;
      }
    }
    ledger_->Tick();
  }
}

void LedgerServer::Shutdown() {
  absl::MutexLock serial(&shutdown_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  if (tick_thread_.joinable()) tick_thread_.join();
  // Streams never end by themselves: finish them now, so agents and
  // watchers hear why. Unary calls in progress may finish; later ones are
  // refused. Only then is the server stopped, at once: waiting for its
  // deadline would also wait for idle client connections to go away.
  agent_service_.CloseAllStreams();
  ledger_service_.CloseAllStreams();
  const absl::Time deadline = absl::Now() + options_.shutdown_grace;
  const bool calls_done = ledger_service_.DrainCalls(options_.shutdown_grace);
  const bool drained =
      agent_service_.WaitUntilNoStreams(deadline - absl::Now()) &&
      ledger_service_.WaitUntilNoStreams(deadline - absl::Now());
  // Cancels whatever is left (calls that arrived meanwhile were refused);
  // returns when every reactor is done.
  server_->Shutdown(std::chrono::system_clock::now());
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }
  log_->Info("server_stopped", {{"port", port_},
                                {"calls_drained", calls_done ? "yes" : "no"},
                                {"streams_drained", drained ? "yes" : "no"}});
}

}  // namespace ccbatch::ledger
