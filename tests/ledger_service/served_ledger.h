// A real LedgerServer on 127.0.0.1 (port 0) over a real Ledger, a
// MemoryStore, a FakeClock and a captured log, for tests that talk to it
// over a socket: authentication, TLS and input limits. Also the client-side
// pieces those tests share (a context carrying a bearer token, a batch).
#ifndef CCBATCH_TESTS_LEDGER_SERVICE_SERVED_LEDGER_H_
#define CCBATCH_TESTS_LEDGER_SERVICE_SERVED_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/job.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "grpcpp/grpcpp.h"
#include "ledger_service/auth_gate.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_server.h"
#include "ledger_service/store_memory.h"
#include "ledger_service/token_file.h"

namespace ccbatch::ledger {

// Generous: only a broken server makes a test wait this long.
inline constexpr absl::Duration kServedWait = absl::Seconds(20);

class ServedLedger final {
 public:
  // Starts a server with `options` (listen address forced to 127.0.0.1:0,
  // no ticks). With `tokens`, authentication is on with that table.
  static absl::StatusOr<std::unique_ptr<ServedLedger>> Start(
      LedgerServerOptions options,
      std::optional<TokenTable> tokens = std::nullopt);
  ~ServedLedger();

  Ledger& ledger() { return *ledger_; }
  LedgerServer& server() { return *server_; }
  AuthGate& auth() { return *auth_; }
  common::LogCapture& log() { return capture_; }
  common::FakeClock& clock() { return clock_; }
  // "127.0.0.1:<port>".
  std::string address() const;

  // A plaintext channel to the server.
  std::shared_ptr<grpc::Channel> Channel() const;

  // Re-evaluates `condition` after every ledger change, and every 50 ms for
  // state the ledger changes without signalling (a snapshot that changed
  // no job), until it holds or `timeout` passes. Returns whether it holds.
  bool WaitUntil(const std::function<bool()>& condition,
                 absl::Duration timeout = kServedWait);

 private:
  ServedLedger() = default;

  common::FakeClock clock_;
  common::LogCapture capture_;
  std::unique_ptr<common::EventLog> log_;
  std::unique_ptr<MemoryStore> store_;
  std::unique_ptr<Ledger> ledger_;
  std::shared_ptr<AuthGate> auth_;
  std::unique_ptr<LedgerServer> server_;
  uint64_t subscription_ = 0;
  absl::Mutex mu_;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
};

// A client context with a deadline of kServedWait and, unless `token` is
// empty, "authorization: Bearer <token>".
std::unique_ptr<grpc::ClientContext> ContextWithToken(const std::string& token);

// A valid batch `name` of xTB jobs `basenames` under /runs/<name>, on
// cluster hpc1, without dependencies.
ccbatch::v1::BatchDefinition SimpleBatch(
    const std::string& name, const std::vector<std::string>& basenames);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_TESTS_LEDGER_SERVICE_SERVED_LEDGER_H_
