// The time source of everything that is not pure. Pure code takes an
// absl::Time argument instead; only main.cc files construct a RealClock.
#ifndef CCBATCH_COMMON_CLOCK_H_
#define CCBATCH_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ccbatch::common {

// Wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current wall-clock time. May go backwards (NTP steps, a FakeClock
  // set back); callers that need monotonic values must enforce it.
  virtual absl::Time Now() const = 0;
};

// The system's wall clock (absl::Now()).
class RealClock final : public Clock {
 public:
  absl::Time Now() const override;

  // A process-wide instance; never destroyed.
  static RealClock* Default();
};

// A clock that only moves when told to. For tests; thread-safe.
class FakeClock final : public Clock {
 public:
  // Starts at `start`; the default is a fixed, recognisable instant
  // (2026-01-01 00:00:00 UTC) so test output is stable.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1767225600));

  absl::Time Now() const override;

  // Moves the clock by `delta`, which may be negative.
  void Advance(absl::Duration delta);
  // Jumps to `time`, forwards or backwards.
  void Set(absl::Time time);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_CLOCK_H_
