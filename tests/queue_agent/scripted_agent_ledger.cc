#include "tests/queue_agent/scripted_agent_ledger.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"

namespace ccbatch::testing {

ScriptedAgentLedger::ScriptedAgentLedger(Options options) : options_(options) {}

ScriptedAgentLedger::~ScriptedAgentLedger() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    if (current_context_ != nullptr) current_context_->TryCancel();
  }
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_.reset();
  }
}

void ScriptedAgentLedger::Start() {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  if (options_.small_receive_window) {
    builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16384);
  }
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

void ScriptedAgentLedger::SetAppliedSeq(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  applied_seq_ = seq;
}

void ScriptedAgentLedger::Send(v1::LedgerDirective directive) {
  absl::MutexLock lock(&mu_);
  outgoing_.push_back(std::move(directive));
}

void ScriptedAgentLedger::DropStream() {
  absl::MutexLock lock(&mu_);
  dropped_stream_ = current_stream_;
  if (current_context_ != nullptr) current_context_->TryCancel();
  // Directives sent from now on wait for the next stream.
  current_stream_ = 0;
  current_context_ = nullptr;
}

void ScriptedAgentLedger::PauseReading(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
}

bool ScriptedAgentLedger::WaitFor(
    std::function<bool(const std::vector<ReceivedMessage>&)> condition,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [this, &condition]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return condition(received_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

std::vector<ReceivedMessage> ScriptedAgentLedger::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

std::vector<std::string> ScriptedAgentLedger::authorizations() const {
  absl::MutexLock lock(&mu_);
  return authorizations_;
}

int ScriptedAgentLedger::streams() const {
  absl::MutexLock lock(&mu_);
  return streams_;
}

grpc::Status ScriptedAgentLedger::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::LedgerDirective, v1::AgentMessage>* stream) {
  int id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = ++streams_;
    current_stream_ = id;
    current_context_ = context;
    std::string authorization;
    for (const auto& [key, value] : context->client_metadata()) {
      if (key == "authorization")
        authorization.assign(value.data(), value.size());
    }
    authorizations_.push_back(authorization);
  }
  std::thread writer([this, id, stream] { WriteLoop(id, stream); });
  v1::AgentMessage message;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto may_read = [this, id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !paused_ || dropped_stream_ == id || shutting_down_;
      };
      mu_.Await(absl::Condition(&may_read));
      if (dropped_stream_ == id || shutting_down_) break;
    }
    if (!stream->Read(&message)) break;
    absl::MutexLock lock(&mu_);
    if (message.has_hello()) {
      v1::LedgerDirective ack;
      ack.mutable_hello_ack()->set_applied_snapshot_seq(applied_seq_);
      outgoing_.push_front(std::move(ack));
    }
    received_.push_back(ReceivedMessage{id, std::move(message)});
    message.Clear();
  }
  bool dropped = false;
  {
    absl::MutexLock lock(&mu_);
    ended_.push_back(id);
    if (current_stream_ == id) {
      current_stream_ = 0;
      current_context_ = nullptr;
    }
    dropped = dropped_stream_ == id;
  }
  writer.join();
  if (dropped) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "dropped");
  return grpc::Status::OK;
}

void ScriptedAgentLedger::WriteLoop(
    int stream_id,
    grpc::ServerReaderWriter<v1::LedgerDirective, v1::AgentMessage>* stream) {
  while (true) {
    v1::LedgerDirective directive;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this, stream_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return std::find(ended_.begin(), ended_.end(), stream_id) !=
                   ended_.end() ||
               (!outgoing_.empty() && current_stream_ == stream_id);
      };
      mu_.Await(absl::Condition(&ready));
      if (std::find(ended_.begin(), ended_.end(), stream_id) != ended_.end()) {
        return;
      }
      directive = std::move(outgoing_.front());
      outgoing_.pop_front();
    }
    if (!stream->Write(directive)) return;
  }
}

std::vector<uint64_t> CompleteSnapshotSeqs(
    const std::vector<ReceivedMessage>& received) {
  std::vector<uint64_t> seqs;
  for (const ReceivedMessage& r : received) {
    if (r.message.has_snapshot_chunk() && r.message.snapshot_chunk().last()) {
      seqs.push_back(r.message.snapshot_chunk().snapshot_seq());
    }
  }
  return seqs;
}

}  // namespace ccbatch::testing
