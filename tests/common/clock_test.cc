#include "common/clock.h"

#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

TEST(RealClockTest, ReadsTheSystemClock) {
  const absl::Time before = absl::Now();
  const absl::Time now = RealClock::Default()->Now();
  const absl::Time after = absl::Now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

TEST(FakeClockTest, StartsAtTheGivenTimeAndStaysThere) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.Now(), start);
}

TEST(FakeClockTest, DefaultStartIsFixed) {
  EXPECT_EQ(FakeClock().Now(), FakeClock().Now());
}

TEST(FakeClockTest, AdvanceMovesBothWays) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1030));
  clock.Advance(absl::Seconds(-40));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(990));
}

TEST(FakeClockTest, SetJumpsBackwards) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  clock.Set(absl::FromUnixSeconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(5));
}

TEST(FakeClockTest, ConcurrentAdvancesAreAllCounted) {
  FakeClock clock(absl::UnixEpoch());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) {
        clock.Advance(absl::Milliseconds(1));
        (void)clock.Now();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(8));
}

TEST(FakeClockTest, UsableThroughTheInterface) {
  FakeClock fake(absl::FromUnixSeconds(7));
  const Clock& clock = fake;
  fake.Advance(absl::Seconds(1));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(8));
}

}  // namespace
}  // namespace ccbatch::common
