#include "ledger_service/auth_policy.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::_;
using ::testing::AllOf;
using ::testing::HasSubstr;

using M = RpcMethod;

// The whole policy, written out independently of the code: the methods
// each role may call. Every role × method pair not listed is refused.
const std::map<std::string, std::set<RpcMethod>>& Expected() {
  static const auto* table = new std::map<std::string, std::set<RpcMethod>>{
      {"agent:hpc1", {M::kConnect}},
      {"reader",
       {M::kListJobs, M::kGetJob, M::kWatch, M::kSummary, M::kListClusters,
        M::kExportLedger}},
      {"admin",
       {M::kImportBatch, M::kPauseBatch, M::kResumeBatch, M::kListJobs,
        M::kGetJob, M::kWatch, M::kSummary, M::kRetry, M::kCancel,
        M::kListClusters, M::kExportLedger}},
  };
  return *table;
}

TEST(AuthPolicyTest, EveryRoleTimesEveryMethod) {
  int checked = 0;
  for (const auto& [role_name, allowed] : Expected()) {
    CCB_ASSERT_OK_AND_ASSIGN(const Role role, ParseRole(role_name));
    for (const RpcMethod method : kAllRpcMethods) {
      SCOPED_TRACE(absl::StrCat(role_name, " × ", RpcMethodName(method)));
      const absl::Status status = Authorize(role, method);
      if (allowed.count(method) != 0) {
        EXPECT_THAT(status, IsOk());
      } else {
        EXPECT_THAT(status, StatusIs(absl::StatusCode::kPermissionDenied,
                                     AllOf(HasSubstr(role_name),
                                           HasSubstr(RpcMethodName(method)),
                                           HasSubstr("needs"))));
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * 12);
}

TEST(AuthPolicyTest, RefusalsSayWhichTokenIsNeeded) {
  EXPECT_THAT(Authorize(Role::Reader(), M::kImportBatch),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role reader may not call LedgerService.ImportBatch; "
                       "it needs an admin token"));
  EXPECT_THAT(Authorize(Role::Agent("hpc1"), M::kListJobs),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("needs a reader or admin token")));
  EXPECT_THAT(Authorize(Role::Admin(), M::kConnect),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("needs an agent:<cluster> token")));
}

TEST(AuthPolicyTest, AnAgentSaysHelloOnlyForItsOwnCluster) {
  EXPECT_THAT(AuthorizeHello(Role::Agent("hpc1"), "hpc1"), IsOk());
  EXPECT_THAT(AuthorizeHello(Role::Agent("hpc1"), "hpc2"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "role agent:hpc1 may not speak for cluster \"hpc2\"; "
                       "Hello for it needs an agent:hpc2 token"));
  // A prefix is another cluster.
  EXPECT_THAT(AuthorizeHello(Role::Agent("hpc1"), "hpc"),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
  EXPECT_THAT(AuthorizeHello(Role::Admin(), "hpc1"),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
  EXPECT_THAT(AuthorizeHello(Role::Reader(), "hpc1"),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
}

TEST(AuthPolicyTest, ParsesRolesAndNamesThemBack) {
  for (const char* name : {"agent:hpc1", "agent:gpu-2.a", "reader", "admin"}) {
    CCB_ASSERT_OK_AND_ASSIGN(const Role role, ParseRole(name));
    EXPECT_EQ(role.Name(), name);
  }
  CCB_ASSERT_OK_AND_ASSIGN(const Role agent, ParseRole("agent:hpc1"));
  EXPECT_EQ(agent, Role::Agent("hpc1"));
  EXPECT_NE(agent, Role::Agent("hpc2"));
}

TEST(AuthPolicyTest, RefusesUnknownRolesAndBadClusterNames) {
  EXPECT_THAT(ParseRole("Admin"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("expected agent:<cluster> (e.g. agent:hpc1), "
                                 "reader or admin")));
  EXPECT_THAT(ParseRole("writer"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown role \"writer\"")));
  EXPECT_THAT(ParseRole("agent:"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cluster name is empty")));
  EXPECT_THAT(ParseRole("agent:hpc 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(ParseRole("agent:../x"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(AuthPolicyTest, EveryMethodHasItsServiceName) {
  std::set<std::string> names;
  for (const RpcMethod method : kAllRpcMethods) {
    names.insert(std::string(RpcMethodName(method)));
  }
  EXPECT_EQ(names.size(), kAllRpcMethods.size());
  EXPECT_EQ(RpcMethodName(M::kConnect), "AgentService.Connect");
  EXPECT_EQ(RpcMethodName(M::kExportLedger), "LedgerService.ExportLedger");
}

}  // namespace
}  // namespace ccbatch::ledger
