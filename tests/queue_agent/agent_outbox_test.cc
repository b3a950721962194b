#include "queue_agent/agent_outbox.h"

#include <memory>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

NumberedSnapshot Snapshot(uint64_t seq) {
  return NumberedSnapshot{std::make_shared<const QueueSnapshot>(), seq};
}

v1::ProbeFailure Failure(const std::string& error) {
  v1::ProbeFailure failure;
  failure.set_error(error);
  return failure;
}

v1::AgentMessage Result(const std::string& order_id) {
  v1::AgentMessage message;
  message.mutable_submit_result()->set_order_id(order_id);
  return message;
}

uint64_t TakeSnapshotSeq(AgentOutbox& outbox) {
  std::optional<OutboxItem> item = outbox.Take();
  EXPECT_TRUE(item.has_value());
  if (!item.has_value()) return 0;
  const auto* snapshot = std::get_if<NumberedSnapshot>(&*item);
  EXPECT_NE(snapshot, nullptr);
  return snapshot == nullptr ? 0 : snapshot->seq;
}

TEST(AgentOutboxTest, NewestSnapshotReplacesAnUnsentOne) {
  AgentOutbox outbox;
  EXPECT_TRUE(outbox.empty());
  outbox.PutSnapshot(Snapshot(1));
  outbox.PutSnapshot(Snapshot(2));
  outbox.PutSnapshot(Snapshot(3));
  EXPECT_EQ(outbox.counters().snapshots_superseded, 2);
  EXPECT_EQ(TakeSnapshotSeq(outbox), 3u);
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(outbox.Take(), std::nullopt);
}

TEST(AgentOutboxTest, OlderOrEqualSnapshotDoesNotReplace) {
  AgentOutbox outbox;
  outbox.PutSnapshot(Snapshot(5));
  outbox.PutSnapshot(Snapshot(5));  // the latest, re-put after a reconnect
  outbox.PutSnapshot(Snapshot(4));
  EXPECT_EQ(outbox.counters().snapshots_superseded, 0);
  EXPECT_EQ(TakeSnapshotSeq(outbox), 5u);
  EXPECT_TRUE(outbox.empty());
}

TEST(AgentOutboxTest, SnapshotSupersedesAWaitingFailureButNotTheReverse) {
  AgentOutbox outbox;
  outbox.PutProbeFailure(Failure("a"));
  outbox.PutSnapshot(Snapshot(1));
  EXPECT_EQ(outbox.counters().failures_superseded, 1);
  outbox.PutProbeFailure(Failure("b"));
  outbox.PutProbeFailure(Failure("c"));
  EXPECT_EQ(outbox.counters().failures_superseded, 2);
  // The snapshot first (older), then the newest failure.
  EXPECT_EQ(TakeSnapshotSeq(outbox), 1u);
  std::optional<OutboxItem> item = outbox.Take();
  ASSERT_TRUE(item.has_value());
  ASSERT_TRUE(std::holds_alternative<v1::ProbeFailure>(*item));
  EXPECT_EQ(std::get<v1::ProbeFailure>(*item).error(), "c");
  EXPECT_TRUE(outbox.empty());
}

TEST(AgentOutboxTest, ResultsGoFirstInOrderAndAreBounded) {
  AgentOutbox outbox(/*max_results=*/2);
  outbox.PutSnapshot(Snapshot(1));
  outbox.PutResult(Result("r1"));
  outbox.PutResult(Result("r2"));
  outbox.PutResult(Result("r3"));
  EXPECT_EQ(outbox.counters().results_dropped, 1);
  EXPECT_EQ(outbox.results_waiting(), 2u);
  for (const char* expected : {"r2", "r3"}) {
    std::optional<OutboxItem> item = outbox.Take();
    ASSERT_TRUE(item.has_value());
    ASSERT_TRUE(std::holds_alternative<v1::AgentMessage>(*item));
    EXPECT_EQ(std::get<v1::AgentMessage>(*item).submit_result().order_id(),
              expected);
  }
  EXPECT_TRUE(outbox.has_snapshot());
  EXPECT_EQ(TakeSnapshotSeq(outbox), 1u);
}

}  // namespace
}  // namespace ccbatch::agent
