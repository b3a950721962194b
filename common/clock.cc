#include "common/clock.h"

namespace ccbatch::common {

absl::Time RealClock::Now() const { return absl::Now(); }

RealClock* RealClock::Default() {
  static RealClock* const clock = new RealClock();
  return clock;
}

FakeClock::FakeClock(absl::Time start) : now_(start) {}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration delta) {
  absl::MutexLock lock(&mu_);
  now_ += delta;
}

void FakeClock::Set(absl::Time time) {
  absl::MutexLock lock(&mu_);
  now_ = time;
}

}  // namespace ccbatch::common
