#include "queue_agent/reconnect_backoff.h"

#include <random>

#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

TEST(ReconnectBackoffTest, DoublesUpToTheCapWithoutJitter) {
  BackoffPolicy policy;
  policy.jitter = 0;
  ReconnectBackoff backoff(policy);
  std::mt19937 random(7);
  const double expected_seconds[] = {0.5, 1, 2, 4, 8, 16, 30, 30, 30};
  for (double seconds : expected_seconds) {
    EXPECT_EQ(backoff.Next(random), absl::Seconds(seconds));
  }
  backoff.Reset();
  EXPECT_EQ(backoff.Next(random), absl::Milliseconds(500));
}

TEST(ReconnectBackoffTest, JitterStaysWithinTwentyPercentAndVaries) {
  BackoffPolicy policy;  // 0.5 s doubling to 30 s, +-20 %
  std::mt19937 random(42);
  bool varied = false;
  for (int run = 0; run < 50; ++run) {
    ReconnectBackoff backoff(policy);
    absl::Duration base = absl::Milliseconds(500);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const absl::Duration delay = backoff.Next(random);
      EXPECT_GE(delay, base * 0.8);
      EXPECT_LE(delay, base * 1.2);
      varied = varied || delay != base;
      base = std::min(base * 2, absl::Seconds(30));
    }
  }
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace ccbatch::agent
