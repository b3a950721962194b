// ccctl's small pure pieces: tables, CSV quoting, status names, ages,
// the progress bar, and the mapping of errors onto exit codes.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/exit_code.h"
#include "cli/ledger_client.h"
#include "cli/status_names.h"
#include "cli/summary_rendering.h"
#include "cli/text_table.h"
#include "cli/time_format.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::cli {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TextTableTest, AlignsColumnsAndLeavesNoTrailingBlanks) {
  TextTable table({"KEY", "STATUS", "REASON"});
  table.AddRow({"a/long_name", "ok", ""});
  table.AddRow({"b", "failed", "why"});
  EXPECT_EQ(table.RenderText(false),
            "KEY          STATUS  REASON\n"
            "a/long_name  ok\n"
            "b            failed  why\n");
}

TEST(TextTableTest, IndentsEveryLine) {
  TextTable table({"A", "B"});
  table.AddRow({"1", "2"});
  EXPECT_EQ(table.RenderText(false, "  "), "  A  B\n  1  2\n");
}

TEST(TextTableTest, WidthCountsCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("Å→b"), 3u);
  TextTable table({"X", "Y"});
  table.AddRow({"Å", "1"});
  EXPECT_EQ(table.RenderText(false), "X  Y\nÅ  1\n");
}

TEST(TextTableTest, ColourWrapsCellsWithoutMovingColumns) {
  TextTable table({"A", "B"});
  table.AddRow({Cell("x", CellStyle::kRed), "y"});
  EXPECT_EQ(table.RenderText(true),
            "\x1b[1mA\x1b[0m  \x1b[1mB\x1b[0m\n\x1b[31mx\x1b[0m  y\n");
}

TEST(TextTableTest, CsvQuotesOnlyWhatNeedsIt) {
  TextTable table({"a", "b"});
  table.AddRow({"plain", "with,comma"});
  table.AddRow({"say \"hi\"", "two\nlines"});
  EXPECT_EQ(table.RenderCsv(),
            "a,b\n"
            "plain,\"with,comma\"\n"
            "\"say \"\"hi\"\"\",\"two\nlines\"\n");
}

TEST(TextTableTest, KeyValuesAlignKeys) {
  EXPECT_EQ(
      RenderKeyValues({{"a", Cell("1")}, {"long", Cell("2")}}, "  ", false),
      "  a     1\n  long  2\n");
}

TEST(StatusNamesTest, NamesAreLowerCaseEnumSuffixes) {
  EXPECT_EQ(StatusName(v1::JOB_STATUS_BROKEN_DEPENDENCY), "broken_dependency");
  EXPECT_EQ(StatusName(v1::JOB_STATUS_RUNNING), "running");
  EXPECT_EQ(StatusName(static_cast<v1::JobStatus>(99)), "status_99");
}

TEST(StatusNamesTest, EveryNameParsesBack) {
  for (v1::JobStatus status : AllStatuses()) {
    EXPECT_THAT(ParseStatusList(StatusName(status)).value(),
                ElementsAre(status));
  }
  EXPECT_EQ(AllStatuses().size(), 12u);
}

TEST(StatusNamesTest, ParsesListsLeniently) {
  EXPECT_THAT(
      ParseStatusList(" failed, RUNNING ,broken,JOB_STATUS_WAITING").value(),
      ElementsAre(v1::JOB_STATUS_FAILED, v1::JOB_STATUS_RUNNING,
                  v1::JOB_STATUS_BROKEN_DEPENDENCY, v1::JOB_STATUS_WAITING));
}

TEST(StatusNamesTest, RejectsUnknownNamesListingTheValidOnes) {
  EXPECT_THAT(ParseStatusList("failed,runing"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("\"runing\""),
                             HasSubstr("waiting, ready, submitting"))));
  EXPECT_THAT(ParseStatusList("unspecified"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("")));
  EXPECT_THAT(ParseStatusList(" , "),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty status list")));
}

TEST(StatusNamesTest, FinalStatusesAreTheFourOfBatchSummary) {
  std::vector<v1::JobStatus> final_statuses;
  for (v1::JobStatus status : AllStatuses()) {
    if (IsFinal(status)) final_statuses.push_back(status);
  }
  EXPECT_THAT(
      final_statuses,
      ElementsAre(v1::JOB_STATUS_SUCCEEDED, v1::JOB_STATUS_FAILED,
                  v1::JOB_STATUS_BROKEN_DEPENDENCY, v1::JOB_STATUS_CANCELLED));
}

TEST(StatusNamesTest, ReasonLosesOnlyItsOwnStatusPrefix) {
  EXPECT_EQ(ReasonWithoutStatus(v1::JOB_STATUS_RUNNING, "RUNNING: on c041"),
            "on c041");
  EXPECT_EQ(ReasonWithoutStatus(v1::JOB_STATUS_PENDING, "RUNNING: on c041"),
            "RUNNING: on c041");
  EXPECT_EQ(ReasonWithoutStatus(v1::JOB_STATUS_RUNNING, "RUNNINGX"),
            "RUNNINGX");
}

TEST(TimeFormatTest, AgesUseTwoUnitsAtMost) {
  const std::vector<std::pair<absl::Duration, std::string>> cases = {
      {absl::Seconds(-5), "0s"},
      {absl::ZeroDuration(), "0s"},
      {absl::Seconds(59), "59s"},
      {absl::Seconds(60), "1m00s"},
      {absl::Seconds(725), "12m05s"},
      {absl::Hours(3) + absl::Minutes(4) + absl::Seconds(59), "3h04m"},
      {absl::Hours(51), "2d03h"},
  };
  for (const auto& [age, text] : cases) {
    EXPECT_EQ(FormatAge(age), text) << age;
  }
}

TEST(TimeFormatTest, UnsetTimestampsSaySo) {
  google::protobuf::Timestamp unset;
  EXPECT_FALSE(IsSet(unset));
  EXPECT_EQ(FormatTimestamp(unset, absl::UTCTimeZone()), "-");
  EXPECT_EQ(FormatAgo(unset, absl::Now()), "never");
  EXPECT_EQ(FormatRfc3339(unset), "");
}

TEST(TimeFormatTest, TimestampsInZoneAndRfc3339) {
  google::protobuf::Timestamp t;
  t.set_seconds(1767268803);  // 2026-01-01 12:00:03 UTC
  t.set_nanos(500000000);
  EXPECT_EQ(FormatTimestamp(t, absl::UTCTimeZone()), "2026-01-01 12:00:03 UTC");
  EXPECT_EQ(FormatRfc3339(t), "2026-01-01T12:00:03.5Z");
  EXPECT_EQ(FormatAgo(t, ToTime(t) + absl::Seconds(90)), "1m30s ago");
}

TEST(ProgressBarTest, FillsByShareRoundedDown) {
  EXPECT_EQ(ProgressBar(0, 10, 10), "[..........]");
  EXPECT_EQ(ProgressBar(3, 7, 10), "[####......]");
  EXPECT_EQ(ProgressBar(99, 100, 10), "[#########.]");
  EXPECT_EQ(ProgressBar(10, 10, 10), "[##########]");
  EXPECT_EQ(ProgressBar(0, 0, 4), "[....]");
  // A ledger that counts more done than total does not break the bar.
  EXPECT_EQ(ProgressBar(12, 10, 4), "[####]");
}

TEST(ExitCodeTest, LocalErrorsAreBadInput) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), ExitCode::kOk);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), ExitCode::kBadInput);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("no file")), ExitCode::kBadInput);
  // Even codes that would mean "unreachable" from the ledger.
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), ExitCode::kBadInput);
}

TEST(ExitCodeTest, LedgerErrorsAreRefusedOrUnreachable) {
  EXPECT_EQ(ExitCodeFor(MarkFromLedger(absl::NotFoundError("no job"))),
            ExitCode::kRefused);
  EXPECT_EQ(ExitCodeFor(MarkFromLedger(absl::InvalidArgumentError("bad"))),
            ExitCode::kRefused);
  EXPECT_EQ(ExitCodeFor(MarkFromLedger(absl::PermissionDeniedError("no"))),
            ExitCode::kRefused);
  EXPECT_EQ(ExitCodeFor(MarkFromLedger(absl::UnavailableError("down"))),
            ExitCode::kUnreachable);
  EXPECT_EQ(ExitCodeFor(MarkFromLedger(absl::DeadlineExceededError("slow"))),
            ExitCode::kUnreachable);
  EXPECT_TRUE(MarkFromLedger(absl::OkStatus()).ok());
}

TEST(GrpcErrorTest, UnreachableNamesAddressAndHint) {
  const absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
      "ListJobs", "10.0.0.7:50051");
  EXPECT_TRUE(IsFromLedger(status));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               AllOf(HasSubstr("10.0.0.7:50051"),
                                     HasSubstr("connection refused"),
                                     HasSubstr("Is ledger_service running"),
                                     HasSubstr("--ledger or CCBATCH_LEDGER"))));
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                          "Deadline Exceeded"),
                             "Summary", "h:1"),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("did not answer Summary in time"),
                             HasSubstr("--timeout"))));
}

TEST(GrpcErrorTest, RefusalsKeepTheServersMessageAndSayWhatToDo) {
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                          "no job \"chem-1/x\""),
                             "GetJob", "h:1"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("no job \"chem-1/x\""),
                             HasSubstr("ccctl jobs"))));
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                          "token reader may not Retry"),
                             "Retry", "h:1"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("token reader may not Retry"),
                             HasSubstr("admin token"))));
  EXPECT_THAT(
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  "missing bearer token"),
                     "Summary", "h:1"),
      StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("--token-file")));
  // No raw code alone: the message always says more than the code.
  const absl::Status internal = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::INTERNAL, ""), "Summary", "h:1");
  EXPECT_THAT(internal.message(),
              AllOf(HasSubstr("Summary"), HasSubstr("ledger's log"),
                    Not(HasSubstr("INTERNAL"))));
}

TEST(CallCancellerTest, CancelsABoundCallAndRemembers) {
  CallCanceller canceller;
  EXPECT_FALSE(canceller.Cancel());  // nothing bound
  EXPECT_TRUE(canceller.cancelled());
  grpc::ClientContext context;
  canceller.Bind(&context);  // cancelled at once: Ctrl-C came first
  EXPECT_TRUE(canceller.Cancel());
  canceller.Unbind();
  EXPECT_FALSE(canceller.Cancel());
}

}  // namespace
}  // namespace ccbatch::cli
