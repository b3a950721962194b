#include "ledger_service/dependency_graph.h"

#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

TEST(FindCycleTest, EmptyGraphHasNoCycle) {
  EXPECT_EQ(FindCycle({}), std::nullopt);
}

TEST(FindCycleTest, DiamondHasNoCycle) {
  // 3 depends on 1 and 2, which both depend on 0.
  EXPECT_EQ(FindCycle({{}, {0}, {0}, {1, 2}}), std::nullopt);
}

TEST(FindCycleTest, SelfDependencyIsCycleOfOne) {
  EXPECT_THAT(FindCycle({{}, {1}}), Optional(ElementsAre(1)));
}

TEST(FindCycleTest, CycleIsInDependencyOrderFromLowestIndex) {
  // 0 -> 2 -> 1 -> 0 (a -> b: a depends on b); the search enters at 0.
  EXPECT_THAT(FindCycle({{2}, {0}, {1}}), Optional(ElementsAre(0, 2, 1)));
  // Same cycle entered from a job outside it: 3 depends on 1.
  EXPECT_THAT(FindCycle({{}, {2}, {1}, {1}}), Optional(ElementsAre(1, 2)));
}

TEST(FindCycleTest, TailLeadingIntoCycleIsNotPartOfIt) {
  // 0 -> 1 -> 2 -> 3 -> 1.
  EXPECT_THAT(FindCycle({{1}, {2}, {3}, {1}}), Optional(ElementsAre(1, 2, 3)));
}

TEST(FindCycleTest, FirstCycleInIndexOrderWins) {
  // Two cycles: {3, 4} and {1, 2}; scanning from 0 reaches {1, 2} first.
  EXPECT_THAT(FindCycle({{}, {2}, {1}, {4}, {3}}), Optional(ElementsAre(1, 2)));
  // Within one search, upstream lists are followed in order: 0 reaches the
  // 0 <-> 2 cycle before the 1 <-> 3 one.
  EXPECT_THAT(FindCycle({{2, 1}, {3}, {0}, {1}}), Optional(ElementsAre(0, 2)));
}

TEST(FindCycleTest, OutOfRangeIndicesAreIgnored) {
  EXPECT_EQ(FindCycle({{-1, 5}, {0}}), std::nullopt);
}

TEST(FindCycleTest, MillionJobChainDoesNotOverflowTheStack) {
  constexpr int kJobs = 1000000;
  std::vector<std::vector<int>> upstream(kJobs);
  for (int i = 1; i < kJobs; ++i) upstream[i] = {i - 1};
  EXPECT_EQ(FindCycle(upstream), std::nullopt);
  upstream[0] = {kJobs - 1};  // close the chain into one big cycle
  std::optional<std::vector<int>> cycle = FindCycle(upstream);
  ASSERT_TRUE(cycle.has_value());
  ASSERT_EQ(cycle->size(), kJobs);
  EXPECT_EQ((*cycle)[0], 0);
  EXPECT_EQ((*cycle)[1], kJobs - 1);
  EXPECT_EQ(cycle->back(), 1);
}

}  // namespace
}  // namespace ccbatch::ledger
