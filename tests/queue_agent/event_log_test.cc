#include "queue_agent/event_log.h"

#include <string>
#include <vector>

#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

TEST(EventLogTest, OneLineOfKeyValuePairsWithContext) {
  common::FakeClock clock(absl::FromUnixMillis(1767225600123));
  std::vector<std::string> lines;
  EventLog log(&clock,
               [&lines](const std::string& line) { lines.push_back(line); },
               {{"cluster", "hpc1"}});
  log.Log("probe_failed",
          {{"exit_code", "1"},
           {"error", "slurm_load_jobs error: Unable to contact\nslurm"},
           {"job", "batch/mol 1"},
           {"empty", ""},
           {"eq", "a=b"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "ts=2026-01-01T00:00:00.123Z cluster=hpc1 event=probe_failed "
            "exit_code=1 error=\"slurm_load_jobs error: Unable to "
            "contact\\nslurm\" job=\"batch/mol 1\" empty=\"\" eq=\"a=b\"");
}

TEST(EventLogTest, ValuesQuotedOnlyWhenNeeded) {
  EXPECT_EQ(LogValue("4812_7"), "4812_7");
  EXPECT_EQ(LogValue("ccb:o-1"), "ccb:o-1");
  EXPECT_EQ(LogValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(LogValue("tab\there"), "\"tab\\there\"");
  EXPECT_EQ(LogValue("back\\slash"), "\"back\\\\slash\"");
}

}  // namespace
}  // namespace ccbatch::agent
