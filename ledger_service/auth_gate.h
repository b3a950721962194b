// Authentication and authorisation of every call the ledger serves (DESIGN
// §8), between the gRPC services and auth_policy.h / token_file.h.
//
// Callers send `authorization: Bearer <token>` metadata (queue_agent and
// ccctl read the token from --token_file / --token-file). Each LedgerService
// handler and each Connect stream calls Admit with its method before doing
// anything else. That was chosen over grpc::AuthMetadataProcessor, which
// gRPC runs only on TLS connections: tokens must work on a plaintext
// loopback port too (e.g. behind an SSH tunnel), and the handlers need the
// caller's role anyway (Hello's cluster, Retry's requested_by).
//
// What the gate promises:
//  - authentication off (no --token_file): every call is admitted, as
//    "client <peer>";
//  - otherwise a call without the header, with another scheme than Bearer,
//    or with a token not in the table is UNAUTHENTICATED; a token whose role
//    may not call the method is PERMISSION_DENIED (auth_policy.h); every
//    message says what to do;
//  - every refusal is logged (event=auth_refused) with the method, the
//    peer address, the code, and the role and fingerprint when the token was
//    known; the token itself is never logged, kept or compared in variable
//    time (only its SHA-256 is, token_file.h);
//  - ReplaceTokens (SIGHUP) swaps the table for later calls, then calls every
//    listener, so open streams can Recheck their caller and close when its
//    token was removed or its role changed.
//
// Thread-safe.
#ifndef CCBATCH_LEDGER_SERVICE_AUTH_GATE_H_
#define CCBATCH_LEDGER_SERVICE_AUTH_GATE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/event_log.h"
#include "grpcpp/server_context.h"
#include "ledger_service/auth_policy.h"
#include "ledger_service/token_file.h"

namespace ccbatch::ledger {

// Who an admitted call comes from.
struct Caller {
  // gRPC's peer address, e.g. "ipv4:10.0.0.7:51234".
  std::string peer;
  // Unset when authentication is off.
  std::optional<Role> role;
  std::string fingerprint;  // the token's, see TokenMatch
  TokenDigest digest{};     // the token's SHA-256, for Recheck

  // For records of who did what (Retry's requested_by): "admin (token
  // 1a2b3c4d)", or "client <peer>" when authentication is off.
  std::string Describe() const;
};

class AuthGate final {
 public:
  // Authentication off: every call is admitted.
  explicit AuthGate(common::EventLog* log);
  // Authentication on, accepting the tokens of `tokens`.
  // REQUIRES: `log` outlives the gate (not owned).
  AuthGate(common::EventLog* log, TokenTable tokens);

  AuthGate(const AuthGate&) = delete;
  AuthGate& operator=(const AuthGate&) = delete;

  bool enabled() const { return enabled_; }

  // Admits a call of `method` whose metadata and peer are `context`'s, or
  // refuses it as described above.
  absl::StatusOr<Caller> Admit(const grpc::ServerContextBase& context,
                               RpcMethod method);
  // Whether an admitted Connect caller may say Hello for `cluster`
  // (AuthorizeHello); a refusal is logged. OK when authentication is off.
  absl::Status AdmitHello(const Caller& caller, absl::string_view cluster);
  // Whether `caller`, admitted for `method` earlier, still is with the
  // current tokens: UNAUTHENTICATED when its token is gone,
  // PERMISSION_DENIED when the token's new role may not call `method` or,
  // for Connect, is another role at all (the stream speaks for the old
  // role's cluster). A refusal is logged. OK when authentication is off.
  absl::Status Recheck(const Caller& caller, RpcMethod method);

  // Swaps in `tokens`, logs event=tokens_loaded, then calls every listener.
  // REQUIRES: enabled().
  void ReplaceTokens(TokenTable tokens);
  // `on_replaced` runs (on the ReplaceTokens thread, without locks held)
  // after every ReplaceTokens. Returns an id for RemoveListener.
  uint64_t AddListener(std::function<void()> on_replaced);
  void RemoveListener(uint64_t id);

  // `on_refusal` runs with the code (UNAUTHENTICATED or PERMISSION_DENIED)
  // of every refusal from now on, on the refusing thread, with the gate's
  // lock held: it must be quick and must not call the gate (a metrics
  // counter). Once RemoveRefusalObserver returns it is never called again.
  // Returns an id for RemoveRefusalObserver.
  uint64_t AddRefusalObserver(
      std::function<void(absl::StatusCode code)> on_refusal);
  void RemoveRefusalObserver(uint64_t id);

  // Calls refused so far.
  uint64_t refused_calls() const { return refused_calls_.load(); }

 private:
  absl::Status Refuse(RpcMethod method, const Caller& caller,
                      absl::Status refusal);

  common::EventLog* const log_;
  const bool enabled_;
  std::atomic<uint64_t> refused_calls_{0};

  mutable absl::Mutex mu_;
  TokenTable tokens_ ABSL_GUARDED_BY(mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::function<void()>> listeners_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::function<void(absl::StatusCode)>>
      refusal_observers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_AUTH_GATE_H_
