// The parts of ledger_service's command line that deserve tests: cluster
// caps, the loopback rule for servers without authentication, repeatable
// flags, and TLS credentials from files. main.cc only wires them.
#ifndef CCBATCH_LEDGER_SERVICE_SERVER_FLAGS_H_
#define CCBATCH_LEDGER_SERVICE_SERVER_FLAGS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/file_system.h"
#include "grpcpp/security/server_credentials.h"

namespace ccbatch::ledger {

// `--cluster_cap` values, each "NAME=N" with N >= 0 (0: no cap).
// INVALID_ARGUMENT naming the value for a missing '=', an empty name, a
// count that is not a non-negative integer, or a cluster named twice.
absl::StatusOr<absl::flat_hash_map<std::string, int>> ParseClusterCaps(
    const std::vector<std::string>& values);

// True if a gRPC listen address can only be reached from this machine:
// 127.0.0.0/8, ::1 (also IPv4-mapped), "localhost", or a Unix socket
// ("unix:..."). Wildcards (0.0.0.0, [::]), other hosts and unknown schemes
// are not.
bool IsLoopbackListenAddress(absl::string_view address);

// absl flags keep only the last occurrence of a flag; this lets
// `--NAME=a --NAME=b` (and `--NAME a`) mean `--NAME=a,b` for a
// std::vector<std::string> flag. Returns `args` with every occurrence of
// `--NAME` / `-NAME` before a "--" replaced by one `--NAME=<values joined
// by ','>` at the first one's place. args[0] (the program) is kept.
std::vector<std::string> MergeRepeatedFlag(std::vector<std::string> args,
                                           absl::string_view name);

struct TlsFiles {
  std::string cert;       // PEM certificate chain
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; set: clients must present a
                          // certificate it signed (mutual TLS)
};

// Null (plaintext) when no file is named; SSL server credentials otherwise.
// Refuses, before anything listens (gRPC itself would only fail to bind or
// fail every handshake, without saying why):
//  - INVALID_ARGUMENT when only one of cert and key is given or client_ca
//    is given without them, when a file holds no PEM certificate (cert,
//    client_ca) or no unencrypted PEM private key (key), or when the key
//    does not belong to the certificate;
//  - FAILED_PRECONDITION when the certificate is not valid at `now`
//    (expired, or not yet valid): every client would refuse it;
//  - the file system's error, naming the file, when one cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFiles(const TlsFiles& files,
                           const common::FileSystem& file_system,
                           absl::Time now);

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_SERVER_FLAGS_H_
