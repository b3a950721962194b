#include "ledger_service/stream_registry.h"

#include <utility>
#include <vector>

namespace ccbatch::ledger {

bool StreamRegistry::Add(std::shared_ptr<Stream> stream) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  const Stream* key = stream.get();
  streams_.emplace(key, std::move(stream));
  return true;
}

void StreamRegistry::Remove(const Stream* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
}

void StreamRegistry::CloseAll(const grpc::Status& status) {
  std::vector<std::shared_ptr<Stream>> open;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    open.reserve(streams_.size());
    for (const auto& [key, stream] : streams_) open.push_back(stream);
  }
  // Outside the lock: a stream's OnDone may be removing itself right now.
  for (const std::shared_ptr<Stream>& stream : open) stream->Close(status);
}

bool StreamRegistry::WaitUntilEmpty(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return streams_.empty();
  };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

size_t StreamRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

}  // namespace ccbatch::ledger
