// The open server streams of one service, so shutdown can finish them at
// once (Watch and Connect streams never end by themselves) instead of
// waiting for the server's shutdown deadline, and can wait until every
// stream's reactor is gone before the ledger it uses is destroyed.
#ifndef CCBATCH_LEDGER_SERVICE_STREAM_REGISTRY_H_
#define CCBATCH_LEDGER_SERVICE_STREAM_REGISTRY_H_

#include <cstddef>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"

namespace ccbatch::ledger {

// Thread-safe.
class StreamRegistry final {
 public:
  // What the registry needs of a stream. Close must be safe to call from
  // any thread, more than once, and after the stream finished by itself.
  class Stream {
   public:
    virtual ~Stream() = default;
    virtual void Close(const grpc::Status& status) = 0;
  };

  StreamRegistry() = default;
  StreamRegistry(const StreamRegistry&) = delete;
  StreamRegistry& operator=(const StreamRegistry&) = delete;

  // Registers an opening stream. Returns false once CloseAll has run: the
  // caller must then finish the stream at once (the server is stopping).
  bool Add(std::shared_ptr<Stream> stream);
  // From the stream's OnDone.
  void Remove(const Stream* stream);

  // Closes every registered stream with `status` and refuses new ones.
  void CloseAll(const grpc::Status& status);
  // Waits until every stream was removed, or `timeout` passed. Returns
  // whether none is left.
  bool WaitUntilEmpty(absl::Duration timeout);

  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<const Stream*, std::shared_ptr<Stream>> streams_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STREAM_REGISTRY_H_
