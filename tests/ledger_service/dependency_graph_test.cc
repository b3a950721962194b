#include "ledger_service/dependency_graph.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT macro
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
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

TEST(DependencyGraphTest, RefusesCycleNamingItsJobs) {
  const std::vector<std::string> names = {"b/a", "b/b", "b/c", "b/d"};
  // a depends on c, c on b, b on a; d depends on a.
  EXPECT_THAT(DependencyGraph::Build({{2}, {0}, {1}, {0}}, names),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "dependency cycle: b/a -> b/c -> b/b -> b/a"));
  EXPECT_THAT(DependencyGraph::Build({{}, {1}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "dependency cycle: #1 -> #1"));
}

TEST(DependencyGraphTest, RefusesIndexOutsideTheGraph) {
  EXPECT_THAT(DependencyGraph::Build({{}, {2}}, {"x/a", "x/b"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "job x/b depends on job #2, which is not one of the "
                       "2 jobs"));
  EXPECT_THAT(DependencyGraph::Build({{-1}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("#-1")));
}

TEST(DependencyGraphTest, RefusesWrongNumberOfNames) {
  EXPECT_THAT(DependencyGraph::Build({{}, {}}, {"only-one"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1 job names for 2 jobs")));
}

TEST(DependencyGraphTest, EdgesBothWaysSortedWithoutDuplicates) {
  // 3 depends on 2, 0 (twice); 2 depends on 0.
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           (DependencyGraph::Build({{}, {}, {0}, {2, 0, 0}})));
  ASSERT_EQ(graph.size(), 4);
  EXPECT_THAT(graph.upstream(3), ElementsAre(0, 2));
  EXPECT_THAT(graph.upstream(0), IsEmpty());
  EXPECT_THAT(graph.downstream(0), ElementsAre(2, 3));
  EXPECT_THAT(graph.downstream(2), ElementsAre(3));
  EXPECT_THAT(graph.downstream(1), IsEmpty());
}

TEST(DependencyGraphTest, TopologicalOrderKeepsBatchfileOrderWhenPossible) {
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           (DependencyGraph::Build({{}, {0}, {}, {1, 2}})));
  EXPECT_THAT(graph.topological_order(), ElementsAre(0, 1, 2, 3));
}

TEST(DependencyGraphTest, TopologicalOrderMovesLaterUpstreamJobsForward) {
  // 0 depends on 3 and 2; 2 depends on 4; 1 is free.
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           (DependencyGraph::Build({{3, 2}, {}, {4}, {}, {}})));
  EXPECT_THAT(graph.topological_order(), ElementsAre(4, 2, 3, 0, 1));
  for (int job = 0; job < graph.size(); ++job) {
    EXPECT_EQ(graph.topological_order()[graph.topological_position(job)], job);
    for (int up : graph.upstream(job)) {
      EXPECT_LT(graph.topological_position(up),
                graph.topological_position(job));
    }
  }
}

TEST(DependencyGraphTest, DownstreamOfIsTransitiveInTopologicalOrder) {
  // 0 <- 1 <- 3, 0 <- 2 <- 3, 4 <- 5; job 1 is listed after 3 in the file
  // positions but must come before it.
  CCB_ASSERT_OK_AND_ASSIGN(
      DependencyGraph graph,
      (DependencyGraph::Build({{}, {0}, {0}, {1, 2}, {}, {4}})));
  EXPECT_THAT(graph.DownstreamOf({0}), ElementsAre(1, 2, 3));
  EXPECT_THAT(graph.DownstreamOf({2}), ElementsAre(3));
  EXPECT_THAT(graph.DownstreamOf({3}), IsEmpty());
  // A seed downstream of another seed is included; duplicates are not.
  EXPECT_THAT(graph.DownstreamOf({1, 0, 4, 0}), ElementsAre(1, 2, 3, 5));
  EXPECT_THAT(graph.DownstreamOf({}), IsEmpty());
}

TEST(DependencyGraphTest, EmptyGraph) {
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph, (DependencyGraph::Build({})));
  EXPECT_EQ(graph.size(), 0);
  EXPECT_THAT(graph.topological_order(), IsEmpty());
  EXPECT_EQ(DependencyGraph().size(), 0);
}

TEST(DependencyGraphTest, MillionJobChainListedBackwards) {
  // Job i depends on job i + 1: the order is the batchfile reversed, and
  // everything is downstream of the last job.
  constexpr int kJobs = 1000000;
  std::vector<std::vector<int>> upstream(kJobs);
  for (int i = 0; i + 1 < kJobs; ++i) upstream[i] = {i + 1};
  CCB_ASSERT_OK_AND_ASSIGN(DependencyGraph graph,
                           (DependencyGraph::Build(upstream)));
  EXPECT_EQ(graph.topological_order().front(), kJobs - 1);
  EXPECT_EQ(graph.topological_order().back(), 0);
  const std::vector<int> everything = graph.DownstreamOf({kJobs - 1});
  ASSERT_EQ(everything.size(), kJobs - 1);
  EXPECT_EQ(everything.front(), kJobs - 2);
  EXPECT_EQ(everything.back(), 0);
}

}  // namespace
}  // namespace ccbatch::ledger
