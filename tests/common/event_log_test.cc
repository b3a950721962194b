#include "common/event_log.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kAt =
    absl::FromUnixSeconds(1767225600) + absl::Milliseconds(5);

TEST(FormatLogLineTest, PlainValuesStayBare) {
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kInfo, {}, "agent_connected",
                          {{"cluster", "hpc1"}, {"stream", 3}}),
            "ts=2026-01-01T00:00:00.005Z level=info event=agent_connected "
            "cluster=hpc1 stream=3");
}

TEST(FormatLogLineTest, ContextComesBetweenLevelAndEvent) {
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kWarning, {{"cluster", "hpc1"}},
                          "probe_failed", {{"exit_code", 1}}),
            "ts=2026-01-01T00:00:00.005Z level=warning cluster=hpc1 "
            "event=probe_failed exit_code=1");
}

TEST(FormatLogLineTest, ValuesThatWouldSplitAreQuotedAndEscaped) {
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kError, {}, "probe_failure",
                          {{"error", "slurm_load_jobs error: \"down\""},
                           {"empty", ""},
                           {"eq", "a=b"},
                           {"nl", "line1\nline2"}}),
            "ts=2026-01-01T00:00:00.005Z level=error event=probe_failure "
            "error=\"slurm_load_jobs error: \\\"down\\\"\" empty=\"\" "
            "eq=\"a=b\" nl=\"line1\\nline2\"");
}

TEST(FormatLogLineTest, ApostrophesStayAndOtherControlsAreHex) {
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kInfo, {}, "e",
                          {{"msg", "the ledger's db"},
                           {"ctl",
                            "a\x01"
                            "b"},
                           {"del", "\x7f"}}),
            "ts=2026-01-01T00:00:00.005Z level=info event=e "
            "msg=\"the ledger's db\" ctl=\"a\\x01b\" del=\"\\x7f\"");
}

TEST(FormatLogLineTest, Utf8IsKeptReadable) {
  EXPECT_EQ(
      FormatLogLine(kAt, LogLevel::kInfo, {}, "e", {{"job", "b/Ångström"}}),
      "ts=2026-01-01T00:00:00.005Z level=info event=e job=b/Ångström");
}

TEST(FormatLogLineTest, AnEventNameThatWouldSplitIsQuotedToo) {
  EXPECT_EQ(FormatLogLine(kAt, LogLevel::kInfo, {}, "two words", {}),
            "ts=2026-01-01T00:00:00.005Z level=info event=\"two words\"");
}

TEST(LogValueTest, QuotedOnlyWhenNeeded) {
  EXPECT_EQ(LogValue("4812_7"), "4812_7");
  EXPECT_EQ(LogValue("ccb:o-1"), "ccb:o-1");
  EXPECT_EQ(LogValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(LogValue("tab\there"), "\"tab\\there\"");
  EXPECT_EQ(LogValue("cr\rhere"), "\"cr\\rhere\"");
  EXPECT_EQ(LogValue("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(LogValue(""), "\"\"");
}

TEST(LogLevelTest, Names) {
  EXPECT_EQ(LogLevelName(LogLevel::kInfo), "info");
  EXPECT_EQ(LogLevelName(LogLevel::kWarning), "warning");
  EXPECT_EQ(LogLevelName(LogLevel::kError), "error");
}

TEST(EventLogTest, OneLineOfKeyValuePairsWithContext) {
  FakeClock clock(absl::FromUnixMillis(1767225600123));
  std::vector<std::string> lines;
  EventLog log(&clock,
               [&lines](const std::string& line) { lines.push_back(line); },
               {{"cluster", "hpc1"}});
  log.Warning("probe_failed",
              {{"exit_code", "1"},
               {"error", "slurm_load_jobs error: Unable to contact\nslurm"},
               {"job", "batch/mol 1"},
               {"empty", ""},
               {"eq", "a=b"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0],
            "ts=2026-01-01T00:00:00.123Z level=warning cluster=hpc1 "
            "event=probe_failed exit_code=1 error=\"slurm_load_jobs error: "
            "Unable to contact\\nslurm\" job=\"batch/mol 1\" empty=\"\" "
            "eq=\"a=b\"");
}

TEST(EventLogTest, SinkGetsOneLineStampedByTheClockAtEachLevel) {
  FakeClock clock(kAt);
  std::vector<std::string> lines;
  // A sink taking string_view works as well as one taking std::string.
  EventLog log(&clock,
               [&](absl::string_view line) { lines.emplace_back(line); });
  log.Info("a", {{"k", "v"}});
  clock.Advance(absl::Seconds(1));
  log.Warning("b");
  log.Error("c", {{"n", 2.5}});
  log.Log(LogLevel::kInfo, "d");
  EXPECT_THAT(lines,
              ElementsAre("ts=2026-01-01T00:00:00.005Z level=info event=a k=v",
                          "ts=2026-01-01T00:00:01.005Z level=warning event=b",
                          "ts=2026-01-01T00:00:01.005Z level=error event=c "
                          "n=2.5",
                          "ts=2026-01-01T00:00:01.005Z level=info event=d"));
}

TEST(EventLogTest, TheDiscardSinkTakesLinesAndKeepsNone) {
  FakeClock clock(kAt);
  EventLog log(&clock, EventLog::DiscardSink(), {{"cluster", "hpc1"}});
  log.Error("anything", {{"k", "v"}});
}

TEST(EventLogTest, FieldsMayBeBuiltAsAVector) {
  FakeClock clock(kAt);
  LogCapture capture;
  EventLog log(&clock, capture.Sink());
  std::vector<LogField> fields = {{"job", "b/j1"}, {"order_id", "o1"}};
  fields.emplace_back("attempt", 2);
  log.Info("submitted", fields);
  EXPECT_THAT(capture.Lines(),
              ElementsAre("ts=2026-01-01T00:00:00.005Z level=info "
                          "event=submitted job=b/j1 order_id=o1 attempt=2"));
}

TEST(EventLogTest, LinesFromManyThreadsArriveWhole) {
  FakeClock clock(kAt);
  // An unsynchronised sink: the log serialises calls to it.
  std::vector<std::string> lines;
  EventLog log(&clock,
               [&lines](const std::string& line) { lines.push_back(line); });
  constexpr int kThreads = 4;
  constexpr int kLinesEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kLinesEach; ++i) {
        log.Info("tick", {{"thread", t}, {"i", i}});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_THAT(lines, SizeIs(kThreads * kLinesEach));
  for (const std::string& line : lines) {
    const std::vector<std::string> parts = absl::StrSplit(line, ' ');
    ASSERT_THAT(parts, SizeIs(5)) << line;
  }
}

TEST(LogCaptureTest, FindsAndAwaitsLinesByTheirParts) {
  FakeClock clock(kAt);
  LogCapture capture;
  EventLog log(&clock, capture.Sink(), {{"cluster", "hpc1"}});
  log.Info("order_sent", {{"job", "b/j1"}});
  log.Info("order_sent", {{"job", "b/j2"}});
  EXPECT_THAT(capture.LinesWith({"event=order_sent", "job=b/j2"}), SizeIs(1));
  EXPECT_THAT(capture.LinesWith({"event=order_acked"}), IsEmpty());
  EXPECT_TRUE(capture.AwaitLinesWith({"event=order_sent", "cluster=hpc1"}, 2,
                                     absl::Seconds(5)));
  EXPECT_FALSE(
      capture.AwaitLinesWith({"event=order_sent"}, 3, absl::Milliseconds(10)));
  std::thread later([&log] { log.Info("order_acked", {{"job", "b/j1"}}); });
  EXPECT_TRUE(
      capture.AwaitLinesWith({"event=order_acked"}, 1, absl::Seconds(30)));
  later.join();
}

}  // namespace
}  // namespace ccbatch::common
