// A scripted AgentService for the agent runtime's tests, served by a real
// in-process gRPC server on 127.0.0.1:<free port>. It records everything the
// agent sends (with the number of the stream it came on), answers Hello with
// a HelloAck, sends the directives a test gives it, and can drop the stream
// or stop reading (a slow ledger). Waiting is on conditions with deadlines.
#ifndef CCBATCH_TESTS_QUEUE_AGENT_SCRIPTED_AGENT_LEDGER_H_
#define CCBATCH_TESTS_QUEUE_AGENT_SCRIPTED_AGENT_LEDGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.grpc.pb.h"
#include "grpcpp/server.h"

namespace ccbatch::testing {

// One message the agent sent.
struct ReceivedMessage {
  // 1-based number of the stream it came on.
  int stream = 0;
  v1::AgentMessage message;
};

class ScriptedAgentLedger final : public v1::AgentService::Service {
 public:
  // A small receive window (no BDP growth) so that an agent writing to a
  // ledger that does not read blocks after tens of kilobytes.
  struct Options {
    bool small_receive_window = false;
  };

  explicit ScriptedAgentLedger(Options options);
  ScriptedAgentLedger() : ScriptedAgentLedger(Options{}) {}
  ~ScriptedAgentLedger() override;

  // Starts the server on 127.0.0.1 with a free port. REQUIRES: once.
  void Start();
  // "127.0.0.1:<port>".
  std::string address() const { return address_; }

  // HelloAck.applied_snapshot_seq for the next Hellos.
  void SetAppliedSeq(uint64_t seq);
  // Sends `directive` on the current stream, or on the next one if none is
  // open.
  void Send(v1::LedgerDirective directive);
  // Ends the current stream with UNAVAILABLE, as a restarting ledger does.
  void DropStream();
  // While paused the server reads nothing from the agent.
  void PauseReading(bool paused);

  // Waits until `condition` holds for the messages received so far, or
  // `timeout` passes; returns whether it holds.
  bool WaitFor(
      std::function<bool(const std::vector<ReceivedMessage>&)> condition,
      absl::Duration timeout = absl::Seconds(20));
  std::vector<ReceivedMessage> received() const;
  // The `authorization` metadata of every stream, in order.
  std::vector<std::string> authorizations() const;
  int streams() const;

  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::LedgerDirective, v1::AgentMessage>* stream)
      override;

 private:
  void WriteLoop(
      int stream_id,
      grpc::ServerReaderWriter<v1::LedgerDirective, v1::AgentMessage>* stream);

  const Options options_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;

  mutable absl::Mutex mu_;
  uint64_t applied_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  // The open stream (0: none) and its context.
  int current_stream_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::ServerContext* current_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Streams whose handler is ending.
  std::vector<int> ended_ ABSL_GUARDED_BY(mu_);
  int dropped_stream_ ABSL_GUARDED_BY(mu_) = 0;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::LedgerDirective> outgoing_ ABSL_GUARDED_BY(mu_);
  std::vector<ReceivedMessage> received_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
};

// The snapshot_seq of every complete snapshot (last chunk) received, in
// order.
std::vector<uint64_t> CompleteSnapshotSeqs(
    const std::vector<ReceivedMessage>& received);

}  // namespace ccbatch::testing

#endif  // CCBATCH_TESTS_QUEUE_AGENT_SCRIPTED_AGENT_LEDGER_H_
