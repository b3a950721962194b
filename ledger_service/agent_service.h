// AgentService.Connect (DESIGN §4) over gRPC's callback API: one
// ServerBidiReactor per agent stream, a thin wrapper around the Ledger.
//
// What a stream promises:
//  - Before anything else the stream is admitted by the AuthGate
//    (auth_gate.h): a refused stream is finished at once with
//    UNAUTHENTICATED or PERMISSION_DENIED. Hello must then name a valid
//    cluster (INVALID_ARGUMENT otherwise) that the caller's token may speak
//    for (PERMISSION_DENIED otherwise). When the token file is reloaded
//    without the stream's token, or with another role for it, the stream is
//    finished with that refusal.
//  - Every message is checked against the InputLimits (input_limits.h)
//    before the ledger sees it: verdict evidence is trimmed (and the trim
//    logged), an overlong string finishes the stream with INVALID_ARGUMENT.
//  - The first message must be Hello; anything else finishes the stream
//    with FAILED_PRECONDITION. Hello binds the stream to its cluster through
//    Ledger::AgentConnected with a stream id unique in this process, and is
//    answered with HelloAck before any order. A second stream of the same
//    cluster replaces the first: the older one is finished with ABORTED
//    ("replaced by stream N") and logged.
//  - Snapshot chunks are assembled per stream (SnapshotAssembler) and the
//    whole snapshot goes to Ledger::ApplySnapshot when its last chunk
//    arrives; a half-sent snapshot dies with its stream.
//  - Probe failures, CheckOutput/Submit/Cancel results go to the Ledger.
//  - Orders: whenever the ledger signals a change (Ledger::Subscribe), the
//    stream pulls its due directives (Ledger::TakeDirectives) and writes them
//    in order, one write in flight at a time. Directives pulled but never
//    written (the stream broke) are not lost: the ledger hands every
//    unacknowledged order out again on the cluster's next stream.
//  - A protocol violation or a ledger error finishes the stream with that
//    canonical code and message (the agent logs it and reconnects); an
//    AgentMessage with no known field (a newer agent) is logged and skipped.
//  - When the stream ends for any reason: Ledger::AgentDisconnected, and the
//    half-assembled snapshot is dropped.
//
// Messages are handled on gRPC's callback threads in arrival order (one read
// in flight per stream); ledger calls block those threads for as long as
// they take (a 100,000-entry snapshot: well under a second).
#ifndef CCBATCH_LEDGER_SERVICE_AGENT_SERVICE_H_
#define CCBATCH_LEDGER_SERVICE_AGENT_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/event_log.h"
#include "grpcpp/grpcpp.h"
#include "ledger_service/auth_gate.h"
#include "ledger_service/input_limits.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_metrics.h"
#include "ledger_service/snapshot_assembler.h"
#include "ledger_service/stream_registry.h"

namespace ccbatch::ledger {

class AgentStream;

// Thread-safe.
class AgentGrpcService final
    : public ccbatch::v1::AgentService::CallbackService {
 public:
  // REQUIRES: `ledger`, `log` and `auth` outlive the service (not owned);
  // the service outlives the grpc::Server it is registered with, and that
  // server's Shutdown has returned before the service is destroyed.
  AgentGrpcService(Ledger* ledger, common::EventLog* log, AuthGate* auth,
                   SnapshotAssemblerLimits snapshot_limits = {},
                   InputLimits input_limits = {},
                   LedgerServiceMetrics* metrics = nullptr);
  ~AgentGrpcService() override;

  grpc::ServerBidiReactor<ccbatch::v1::AgentMessage,
                          ccbatch::v1::LedgerDirective>*
  Connect(grpc::CallbackServerContext* context) override;

  // Finishes every open stream with UNAVAILABLE ("the ledger is shutting
  // down") and refuses new ones the same way. For graceful shutdown.
  void CloseAllStreams();
  // Waits until every stream's reactor is gone (or `timeout`).
  bool WaitUntilNoStreams(absl::Duration timeout);
  // Streams currently open (their reactors not yet done).
  size_t open_streams() const { return registry_.size(); }

 private:
  friend class AgentStream;

  // Makes `stream` the cluster's stream: AgentConnected, then the older
  // stream of the cluster (if any) is finished. Serialised, so the ledger's
  // idea of the current stream and this service's agree.
  absl::StatusOr<ccbatch::v1::HelloAck> BindCluster(
      const ccbatch::v1::Hello& hello, std::shared_ptr<AgentStream> stream);
  // Forgets `stream` as its cluster's stream if it still is.
  void UnbindCluster(const std::string& cluster, const AgentStream* stream);

  Ledger* const ledger_;
  common::EventLog* const log_;
  AuthGate* const auth_;
  const SnapshotAssemblerLimits snapshot_limits_;
  const InputLimits input_limits_;
  // Used when no metrics were given.
  std::unique_ptr<LedgerServiceMetrics> own_metrics_;
  LedgerServiceMetrics* const metrics_;
  std::atomic<uint64_t> next_stream_id_{1};
  StreamRegistry registry_;

  absl::Mutex bind_mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<AgentStream>> by_cluster_
      ABSL_GUARDED_BY(bind_mu_);
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_AGENT_SERVICE_H_
