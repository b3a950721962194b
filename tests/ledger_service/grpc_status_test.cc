#include "ledger_service/grpc_status.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

struct CodePair {
  absl::StatusCode absl_code;
  grpc::StatusCode grpc_code;
};

class StatusMappingTest : public ::testing::TestWithParam<CodePair> {};

TEST_P(StatusMappingTest, SameCodeAndMessageBothWays) {
  const CodePair pair = GetParam();
  const std::string message =
      absl::StrCat("batch.csv:14: unknown program \"gausian\" (code ",
                   static_cast<int>(pair.absl_code), ")");
  const grpc::Status wire = ToGrpcStatus(absl::Status(pair.absl_code, message));
  EXPECT_EQ(wire.error_code(), pair.grpc_code);
  EXPECT_EQ(wire.error_message(), message);

  const absl::Status back =
      FromGrpcStatus(grpc::Status(pair.grpc_code, message));
  EXPECT_EQ(back.code(), pair.absl_code);
  EXPECT_EQ(back.message(), message);
}

INSTANTIATE_TEST_SUITE_P(
    EveryCanonicalCode, StatusMappingTest,
    ::testing::Values(
        CodePair{absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
        CodePair{absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
        CodePair{absl::StatusCode::kInvalidArgument,
                 grpc::StatusCode::INVALID_ARGUMENT},
        CodePair{absl::StatusCode::kDeadlineExceeded,
                 grpc::StatusCode::DEADLINE_EXCEEDED},
        CodePair{absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
        CodePair{absl::StatusCode::kAlreadyExists,
                 grpc::StatusCode::ALREADY_EXISTS},
        CodePair{absl::StatusCode::kPermissionDenied,
                 grpc::StatusCode::PERMISSION_DENIED},
        CodePair{absl::StatusCode::kResourceExhausted,
                 grpc::StatusCode::RESOURCE_EXHAUSTED},
        CodePair{absl::StatusCode::kFailedPrecondition,
                 grpc::StatusCode::FAILED_PRECONDITION},
        CodePair{absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
        CodePair{absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
        CodePair{absl::StatusCode::kUnimplemented,
                 grpc::StatusCode::UNIMPLEMENTED},
        CodePair{absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
        CodePair{absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
        CodePair{absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
        CodePair{absl::StatusCode::kUnauthenticated,
                 grpc::StatusCode::UNAUTHENTICATED}));

TEST(StatusMappingTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(StatusMappingTest, NonCanonicalCodeBecomesUnknownKeepingTheMessage) {
  const grpc::Status wire =
      ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd"));
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(wire.error_message(), "odd");
}

}  // namespace
}  // namespace ccbatch::ledger
