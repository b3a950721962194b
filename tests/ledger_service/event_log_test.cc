#include "ledger_service/event_log.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::testing::ElementsAre;

const absl::Time kAt =
    absl::FromUnixSeconds(1767225600) + absl::Milliseconds(5);

TEST(FormatEventLineTest, PlainValuesStayBare) {
  EXPECT_EQ(FormatEventLine(kAt, "agent_connected",
                            {{"cluster", "hpc1"}, {"stream", 3}}),
            "ts=2026-01-01T00:00:00.005Z event=agent_connected cluster=hpc1 "
            "stream=3");
}

TEST(FormatEventLineTest, ValuesThatWouldSplitAreQuotedAndEscaped) {
  EXPECT_EQ(FormatEventLine(kAt, "probe_failure",
                            {{"error", "slurm_load_jobs error: \"down\""},
                             {"empty", ""},
                             {"eq", "a=b"},
                             {"nl", "line1\nline2"}}),
            "ts=2026-01-01T00:00:00.005Z event=probe_failure "
            "error=\"slurm_load_jobs error: \\\"down\\\"\" empty=\"\" "
            "eq=\"a=b\" nl=\"line1\\nline2\"");
}

TEST(FormatEventLineTest, ApostrophesStayAndOtherControlsAreHex) {
  EXPECT_EQ(FormatEventLine(kAt, "e",
                            {{"msg", "the ledger's db"},
                             {"ctl",
                              "a\x01"
                              "b"}}),
            "ts=2026-01-01T00:00:00.005Z event=e msg=\"the ledger's db\" "
            "ctl=\"a\\x01b\"");
}

TEST(FormatEventLineTest, Utf8IsKeptReadable) {
  EXPECT_EQ(FormatEventLine(kAt, "e", {{"job", "b/Ångström"}}),
            "ts=2026-01-01T00:00:00.005Z event=e job=b/Ångström");
}

TEST(EventLogTest, SinkGetsOneLineStampedByTheClock) {
  common::FakeClock clock(kAt);
  std::vector<std::string> lines;
  EventLog log(&clock,
               [&](absl::string_view line) { lines.emplace_back(line); });
  log.Log("a", {{"k", "v"}});
  clock.Advance(absl::Seconds(1));
  log.Log("b", {});
  EXPECT_THAT(lines, ElementsAre("ts=2026-01-01T00:00:00.005Z event=a k=v",
                                 "ts=2026-01-01T00:00:01.005Z event=b"));
}

TEST(EventLogTest, PreformattedFieldsAreAppendedAsTheyAre) {
  common::FakeClock clock(kAt);
  std::vector<std::string> lines;
  EventLog log(&clock,
               [&](absl::string_view line) { lines.emplace_back(line); });
  log.LogPreformatted("stream_replaced", "cluster=hpc1 old=3 new=4");
  log.LogPreformatted("bare", "");
  EXPECT_THAT(lines, ElementsAre("ts=2026-01-01T00:00:00.005Z "
                                 "event=stream_replaced cluster=hpc1 old=3 "
                                 "new=4",
                                 "ts=2026-01-01T00:00:00.005Z event=bare"));
}

}  // namespace
}  // namespace ccbatch::ledger
