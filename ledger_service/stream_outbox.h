// The write side of a gRPC callback-API server stream, safe to feed from any
// thread. gRPC allows one write in flight per stream and forbids touching a
// reactor after its OnDone; the outbox queues messages, keeps exactly one
// write going, finishes the stream once, and stops every reactor call after
// Detach() (called from OnDone), so threads woken by the ledger never reach
// a deleted reactor.
//
// Every call into the reactor (StartWrite, Finish, and StartRead through
// IfOpen) happens with the outbox's mutex held, and OnDone's Detach() takes
// the same mutex, so the reactor cannot be deleted during one. gRPC runs
// reactions (OnWriteDone, OnDone) on its own threads, never inside these
// calls, so holding the mutex there cannot deadlock with them.
//
// Memory: the queue holds what callers push; callers bound it (the agent
// stream pushes orders, the watch stream pushes one bounded batch at a time).
//
// Thread-safe. `Reactor` is a grpc::ServerBidiReactor or ServerWriteReactor
// whose response type is `Response`.
#ifndef CCBATCH_LEDGER_SERVICE_STREAM_OUTBOX_H_
#define CCBATCH_LEDGER_SERVICE_STREAM_OUTBOX_H_

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"

namespace ccbatch::ledger {

template <typename Reactor, typename Response>
class StreamOutbox final {
 public:
  StreamOutbox() = default;
  StreamOutbox(const StreamOutbox&) = delete;
  StreamOutbox& operator=(const StreamOutbox&) = delete;

  // From the reactor's constructor. REQUIRES: called once, before any other
  // method.
  void Attach(Reactor* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }

  // From the reactor's OnDone: no reactor call happens after it returns.
  void Detach() {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
    finished_ = true;
    queue_.clear();
  }

  // Queues `messages` in order and starts writing if no write is in flight.
  // Returns false, dropping them, once the stream is finishing.
  bool Push(std::vector<Response> messages) {
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    for (Response& message : messages) queue_.push_back(std::move(message));
    StartNextWriteLocked();
    return true;
  }

  // From the reactor's OnWriteDone. Starts the next queued write, or the
  // deferred Finish. Returns true when the stream is open, nothing is queued
  // and no write is in flight: the caller may look for more to send. A
  // failed write (`ok` false) only clears the in-flight mark: the stream is
  // broken and the caller decides how to finish it.
  bool WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (finish_pending_.has_value()) {
      if (reactor_ != nullptr) reactor_->Finish(std::move(*finish_pending_));
      finish_pending_.reset();
      return false;
    }
    if (!ok || finished_) return false;
    StartNextWriteLocked();
    return !write_in_flight_;
  }

  // Finishes the stream with `status` unless it is already finishing; queued
  // messages are dropped. With a write in flight, gRPC gets the Finish when
  // that write completes. Returns true if this call finished the stream.
  bool Finish(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    finished_ = true;
    queue_.clear();
    if (reactor_ == nullptr) return true;
    if (write_in_flight_) {
      finish_pending_ = std::move(status);
    } else {
      reactor_->Finish(std::move(status));
    }
    return true;
  }

  // Runs `fn(reactor)` with the mutex held if the stream is not finishing
  // (e.g. to StartRead). Returns whether it ran. `fn` must not call back
  // into the outbox.
  template <typename Fn>
  bool IfOpen(Fn fn) {
    absl::MutexLock lock(&mu_);
    if (finished_ || reactor_ == nullptr) return false;
    fn(reactor_);
    return true;
  }

  // True when the stream is open, nothing is queued and no write is in
  // flight.
  bool Idle() const {
    absl::MutexLock lock(&mu_);
    return !finished_ && !write_in_flight_ && queue_.empty();
  }

  bool Finishing() const {
    absl::MutexLock lock(&mu_);
    return finished_;
  }

 private:
  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (write_in_flight_ || queue_.empty() || reactor_ == nullptr) return;
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    write_in_flight_ = true;
    reactor_->StartWrite(&writing_);
  }

  mutable absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);
  // The message of the write in flight; gRPC reads it until OnWriteDone.
  Response writing_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_STREAM_OUTBOX_H_
