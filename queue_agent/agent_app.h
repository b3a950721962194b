// What queue_agent's main does besides parsing flags and waiting for a
// signal, as functions over injected facilities so it is tested without a
// process: checking flag values, reading the token and TLS files, finding
// the SLURM programs, and the two one-shot modes (`--once --print` and
// `check-output`).
#ifndef CCBATCH_QUEUE_AGENT_AGENT_APP_H_
#define CCBATCH_QUEUE_AGENT_AGENT_APP_H_

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "grpcpp/security/credentials.h"
#include "queue_agent/squeue_probe.h"

namespace ccbatch::agent {

// SLURM sites rate-limit RPCs per user: the agent never probes more often.
inline constexpr absl::Duration kMinimumInterval = absl::Seconds(5);

// kInvalidArgument below kMinimumInterval, saying why.
absl::Status ValidateInterval(absl::Duration interval);

struct LedgerConnectionFlags {
  // "host:port".
  std::string ledger;
  // A file holding the bearer token (one word); empty: none.
  std::string token_file;
  // PEM files. Any of them turns TLS on; cert and key go together (mTLS).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

struct LedgerConnection {
  std::string target;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string bearer_token;
  bool tls = false;
};

// Reads the files the flags name. Errors name the flag and the file: a
// missing --ledger, an unreadable file, a token file that is empty or holds
// more than one word, --tls_cert without --tls_key or the reverse.
absl::StatusOr<LedgerConnection> ResolveLedgerConnection(
    const LedgerConnectionFlags& flags, const common::FileSystem& fs);

// The program to run for `flag` (--squeue_bin etc.): its value if set (it
// must exist), else `name` found in the directories of `path_env` ($PATH).
// kNotFound naming the flag to pass otherwise.
absl::StatusOr<std::string> ResolveProgram(absl::string_view flag,
                                           const std::string& flag_value,
                                           absl::string_view name,
                                           absl::string_view path_env,
                                           const common::FileSystem& fs);

// `--once --print`: one probe; on success the snapshot as one SnapshotChunk
// holding every entry (numbered from its time, as the agent does), in
// protobuf's JSON mapping, on `out`, and 0; on a failed probe squeue's
// message on `err` and 1.
int RunOnceAndPrint(const SqueueProbe& probe, std::ostream& out,
                    std::ostream& err);

// `check-output --program=<program> FILE`: the verdict on FILE as it is now
// (no attempt, no grace period) in protobuf's JSON mapping on `out`, and 0;
// a bad program, rules directory or unreadable file on `err`, and 2.
int RunCheckOutputCommand(const std::string& program,
                          const std::string& rules_dir, const std::string& file,
                          const common::FileSystem& fs,
                          const common::Clock& clock, std::ostream& out,
                          std::ostream& err);

}  // namespace ccbatch::agent

#endif  // CCBATCH_QUEUE_AGENT_AGENT_APP_H_
