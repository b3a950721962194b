// The one boundary between absl::Status (the ledger core) and grpc::Status
// (the wire): codes map one to one (both use the canonical google.rpc codes)
// and the message travels unchanged, so a client sees exactly the
// actionable message the core wrote.
#ifndef CCBATCH_LEDGER_SERVICE_GRPC_STATUS_H_
#define CCBATCH_LEDGER_SERVICE_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ccbatch::ledger {

// Same canonical code, same message. A code outside the canonical range
// (absl allows any int) becomes UNKNOWN with the message kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for clients and tests.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_GRPC_STATUS_H_
