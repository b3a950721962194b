// Who may call what on the ledger (DESIGN §8): the roles a bearer token
// carries and the decision role × method → allowed. Pure: no I/O, no gRPC.
//
//   agent:<cluster>  AgentService.Connect only, and on it Hello only for
//                    <cluster>: an agent speaks for its own cluster.
//   reader           ListJobs, GetJob, Watch, Summary, ListClusters,
//                    ExportLedger.
//   admin            everything a reader may, plus ImportBatch, PauseBatch,
//                    ResumeBatch, Retry and Cancel. Not Connect: an admin
//                    token belongs to a person, an agent token to a machine,
//                    so a stolen admin token cannot forge snapshots or
//                    verdicts and a stolen agent token cannot import or
//                    cancel.
//
// Refusals are PERMISSION_DENIED with a message naming the role, the method
// and the role the method needs.
#ifndef CCBATCH_LEDGER_SERVICE_AUTH_POLICY_H_
#define CCBATCH_LEDGER_SERVICE_AUTH_POLICY_H_

#include <array>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccbatch::ledger {

// Every RPC the ledger serves.
enum class RpcMethod {
  kConnect,  // AgentService
  kImportBatch,
  kPauseBatch,
  kResumeBatch,
  kListJobs,
  kGetJob,
  kWatch,
  kSummary,
  kRetry,
  kCancel,
  kListClusters,
  kExportLedger,
};

inline constexpr std::array<RpcMethod, 12> kAllRpcMethods = {
    RpcMethod::kConnect,     RpcMethod::kImportBatch,  RpcMethod::kPauseBatch,
    RpcMethod::kResumeBatch, RpcMethod::kListJobs,     RpcMethod::kGetJob,
    RpcMethod::kWatch,       RpcMethod::kSummary,      RpcMethod::kRetry,
    RpcMethod::kCancel,      RpcMethod::kListClusters, RpcMethod::kExportLedger,
};

// "AgentService.Connect", "LedgerService.ImportBatch", ...
absl::string_view RpcMethodName(RpcMethod method);

struct Role {
  enum class Kind { kAgent, kReader, kAdmin };

  static Role Agent(absl::string_view cluster) {
    return {Kind::kAgent, std::string(cluster)};
  }
  static Role Reader() { return {Kind::kReader, ""}; }
  static Role Admin() { return {Kind::kAdmin, ""}; }

  // As written in the token file: "agent:hpc1", "reader", "admin".
  std::string Name() const;

  bool operator==(const Role& other) const {
    return kind == other.kind && cluster == other.cluster;
  }
  bool operator!=(const Role& other) const { return !(*this == other); }

  Kind kind = Kind::kReader;
  std::string cluster;  // set for kAgent only
};

// "agent:<cluster>" (the cluster a valid cluster name, see
// common/batch_validator.h), "reader" or "admin". INVALID_ARGUMENT saying
// what is allowed otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view text);

// OK, or PERMISSION_DENIED naming the role, the method and what it needs.
absl::Status Authorize(const Role& role, RpcMethod method);

// Whether `role` may say Hello for `cluster` on a Connect stream: only
// agent:<cluster> may. PERMISSION_DENIED naming both otherwise.
absl::Status AuthorizeHello(const Role& role, absl::string_view cluster);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_AUTH_POLICY_H_
