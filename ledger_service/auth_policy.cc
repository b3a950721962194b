#include "ledger_service/auth_policy.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/batch_validator.h"

namespace ccbatch::ledger {
namespace {

constexpr absl::string_view kAgentPrefix = "agent:";

// The least a caller needs for `method`, in words for messages.
enum class Needs { kAgent, kReader, kAdmin };

Needs NeedsFor(RpcMethod method) {
  switch (method) {
    case RpcMethod::kConnect:
      return Needs::kAgent;
    case RpcMethod::kListJobs:
    case RpcMethod::kGetJob:
    case RpcMethod::kWatch:
    case RpcMethod::kSummary:
    case RpcMethod::kListClusters:
    case RpcMethod::kExportLedger:
      return Needs::kReader;
    case RpcMethod::kImportBatch:
    case RpcMethod::kPauseBatch:
    case RpcMethod::kResumeBatch:
    case RpcMethod::kRetry:
    case RpcMethod::kCancel:
      return Needs::kAdmin;
  }
  return Needs::kAdmin;  // unreachable; the strictest answer
}

bool Satisfies(Role::Kind kind, Needs needs) {
  switch (needs) {
    case Needs::kAgent:
      return kind == Role::Kind::kAgent;
    case Needs::kReader:
      return kind == Role::Kind::kReader || kind == Role::Kind::kAdmin;
    case Needs::kAdmin:
      return kind == Role::Kind::kAdmin;
  }
  return false;
}

absl::string_view Describe(Needs needs) {
  switch (needs) {
    case Needs::kAgent:
      return "an agent:<cluster> token (the queue_agent's)";
    case Needs::kReader:
      return "a reader or admin token";
    case Needs::kAdmin:
      return "an admin token";
  }
  return "";
}

}  // namespace

absl::string_view RpcMethodName(RpcMethod method) {
  switch (method) {
    case RpcMethod::kConnect:
      return "AgentService.Connect";
    case RpcMethod::kImportBatch:
      return "LedgerService.ImportBatch";
    case RpcMethod::kPauseBatch:
      return "LedgerService.PauseBatch";
    case RpcMethod::kResumeBatch:
      return "LedgerService.ResumeBatch";
    case RpcMethod::kListJobs:
      return "LedgerService.ListJobs";
    case RpcMethod::kGetJob:
      return "LedgerService.GetJob";
    case RpcMethod::kWatch:
      return "LedgerService.Watch";
    case RpcMethod::kSummary:
      return "LedgerService.Summary";
    case RpcMethod::kRetry:
      return "LedgerService.Retry";
    case RpcMethod::kCancel:
      return "LedgerService.Cancel";
    case RpcMethod::kListClusters:
      return "LedgerService.ListClusters";
    case RpcMethod::kExportLedger:
      return "LedgerService.ExportLedger";
  }
  return "unknown method";
}

std::string Role::Name() const {
  switch (kind) {
    case Kind::kAgent:
      return absl::StrCat(kAgentPrefix, cluster);
    case Kind::kReader:
      return "reader";
    case Kind::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view text) {
  if (text == "reader") return Role::Reader();
  if (text == "admin") return Role::Admin();
  if (absl::StartsWith(text, kAgentPrefix)) {
    const absl::string_view cluster = text.substr(kAgentPrefix.size());
    if (absl::Status valid = common::CheckClusterName(cluster); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "role \"", absl::CHexEscape(text), "\": ", valid.message()));
    }
    return Role::Agent(cluster);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role \"", absl::CHexEscape(text),
      "\"; expected agent:<cluster> (e.g. agent:hpc1), reader or admin"));
}

absl::Status Authorize(const Role& role, RpcMethod method) {
  const Needs needs = NeedsFor(method);
  if (Satisfies(role.kind, needs)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("role ", role.Name(), " may not call ",
                   RpcMethodName(method), "; it needs ", Describe(needs)));
}

absl::Status AuthorizeHello(const Role& role, absl::string_view cluster) {
  if (role.kind == Role::Kind::kAgent && role.cluster == cluster) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "role ", role.Name(), " may not speak for cluster \"",
      absl::CHexEscape(cluster),
      "\"; Hello for it needs an agent:", absl::CHexEscape(cluster), " token"));
}

}  // namespace ccbatch::ledger
