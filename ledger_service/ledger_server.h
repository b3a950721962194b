// The ledger's gRPC server: AgentService and LedgerService on one port
// (DESIGN §4), plus the thread that drives the ledger's time-based work
// (Ledger::Tick: staleness, re-asked verdicts).
//
// Shutdown is graceful: new calls are refused, open Connect and Watch
// streams are finished with UNAVAILABLE (agents reconnect, watchers resume
// with their token), unary calls in progress get `shutdown_grace` to
// complete, and Shutdown returns only when no reactor can touch the ledger
// any more, so the ledger may be destroyed right after.
#ifndef CCBATCH_LEDGER_SERVICE_LEDGER_SERVER_H_
#define CCBATCH_LEDGER_SERVICE_LEDGER_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/event_log.h"
#include "common/metrics.h"
#include "grpcpp/grpcpp.h"
#include "ledger_service/agent_service.h"
#include "ledger_service/auth_gate.h"
#include "ledger_service/input_limits.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_grpc_service.h"
#include "ledger_service/ledger_metrics.h"
#include "ledger_service/snapshot_assembler.h"

namespace ccbatch::ledger {

struct LedgerServerOptions {
  // gRPC listen address; port 0 picks a free port (see port()).
  std::string listen_address = "127.0.0.1:50051";
  // Null: plaintext. Otherwise e.g. grpc::SslServerCredentials.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Who may call what (auth_gate.h). Null: authentication off, every call
  // admitted. Shared so the caller can ReplaceTokens while serving.
  std::shared_ptr<AuthGate> auth;
  // Largest message accepted. Agents chunk snapshots far below 4 MiB; 8 MiB
  // leaves room for a large batch import without inviting abuse.
  int max_receive_message_bytes = 8 << 20;
  // How often Ledger::Tick runs. InfiniteDuration: never (tests tick by
  // hand after moving a FakeClock).
  absl::Duration tick_interval = absl::Seconds(1);
  // Time given to unary calls in progress, and to streams to finish, at
  // shutdown.
  absl::Duration shutdown_grace = absl::Seconds(5);
  SnapshotAssemblerLimits snapshot_limits;
  InputLimits input_limits;
  LedgerGrpcServiceOptions ledger_service;
  // Where the server's metrics (ledger_metrics.h) are recorded. Null:
  // nowhere exported. Not owned; REQUIRES: outlives the server.
  common::MetricsRegistry* metrics = nullptr;
};

// Thread-safe.
class LedgerServer final {
 public:
  // Binds and starts serving. FAILED_PRECONDITION naming the address when
  // it cannot be bound (in use, no such interface, malformed).
  // REQUIRES: `ledger` and `log` outlive the server (not owned).
  static absl::StatusOr<std::unique_ptr<LedgerServer>> Start(
      Ledger* ledger, common::EventLog* log, LedgerServerOptions options);

  LedgerServer(const LedgerServer&) = delete;
  LedgerServer& operator=(const LedgerServer&) = delete;
  // Shuts down if still running.
  ~LedgerServer();

  // The bound TCP port (the chosen one when listening on port 0).
  int port() const { return port_; }

  // Graceful shutdown as described above. Idempotent; blocks until done.
  void Shutdown();

  // The gRPC layer's metrics, e.g. for authentication refusals
  // (LedgerServiceMetrics::RecordAuthRefusal).
  LedgerServiceMetrics* metrics() { return &metrics_; }

 private:
  LedgerServer(Ledger* ledger, common::EventLog* log,
               LedgerServerOptions options);
  void TickLoop();

  Ledger* const ledger_;
  common::EventLog* const log_;
  const LedgerServerOptions options_;
  // options_.auth, or an open gate when that is null.
  const std::shared_ptr<AuthGate> auth_;
  LedgerServiceMetrics metrics_;
  AgentGrpcService agent_service_;
  LedgerGrpcService ledger_service_;
  // Counts the gate's refusals in metrics_ (removed by the destructor).
  const uint64_t refusal_observer_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread tick_thread_;
  // Serialises Shutdown callers; the second waits for the first.
  absl::Mutex shutdown_mu_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_LEDGER_SERVER_H_
