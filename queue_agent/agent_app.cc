#include "queue_agent/agent_app.h"

#include <cstdint>
#include <limits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_sets.h"
#include "queue_agent/snapshot_chunker.h"
#include "queue_agent/snapshot_sequencer.h"

namespace ccbatch::agent {
namespace {

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag,
                                         const std::string& path,
                                         const common::FileSystem& fs) {
  absl::StatusOr<std::string> contents = fs.ReadFile(path);
  if (!contents.ok()) {
    return absl::Status(
        contents.status().code(),
        absl::StrCat("--", flag, ": ", contents.status().message()));
  }
  return contents;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Cannot fail for messages without Any fields.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace

absl::Status ValidateInterval(absl::Duration interval) {
  if (interval < kMinimumInterval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--interval=", absl::FormatDuration(interval), " is below the minimum ",
        absl::FormatDuration(kMinimumInterval),
        ": SLURM sites rate-limit squeue calls per user; the default is 30s"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LedgerConnection> ResolveLedgerConnection(
    const LedgerConnectionFlags& flags, const common::FileSystem& fs) {
  if (flags.ledger.empty()) {
    return absl::InvalidArgumentError(
        "--ledger is required: the ledger's host:port");
  }
  LedgerConnection connection;
  connection.target = flags.ledger;
  if (!flags.token_file.empty()) {
    CCB_ASSIGN_OR_RETURN(std::string text,
                         ReadFlagFile("token_file", flags.token_file, fs));
    const absl::string_view token = absl::StripAsciiWhitespace(text);
    if (token.empty() || token.find_first_of(" \t\r\n") != token.npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file ", flags.token_file,
                       ": expected one token on one line, found ",
                       token.empty() ? "nothing" : "several words"));
    }
    connection.bearer_token = std::string(token);
  }
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key go together (the agent's certificate and "
        "its key, for mTLS)");
  }
  connection.tls = !flags.tls_ca.empty() || !flags.tls_cert.empty();
  if (!connection.tls) {
    connection.credentials = grpc::InsecureChannelCredentials();
    return connection;
  }
  grpc::SslCredentialsOptions ssl;
  if (!flags.tls_ca.empty()) {
    CCB_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                         ReadFlagFile("tls_ca", flags.tls_ca, fs));
  }
  if (!flags.tls_cert.empty()) {
    CCB_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                         ReadFlagFile("tls_cert", flags.tls_cert, fs));
    CCB_ASSIGN_OR_RETURN(ssl.pem_private_key,
                         ReadFlagFile("tls_key", flags.tls_key, fs));
  }
  connection.credentials = grpc::SslCredentials(ssl);
  return connection;
}

absl::StatusOr<std::string> ResolveProgram(absl::string_view flag,
                                           const std::string& flag_value,
                                           absl::string_view name,
                                           absl::string_view path_env,
                                           const common::FileSystem& fs) {
  if (!flag_value.empty()) {
    absl::StatusOr<common::FileInfo> info = fs.Stat(flag_value);
    if (!info.ok()) {
      return absl::Status(
          info.status().code(),
          absl::StrCat("--", flag, ": ", info.status().message()));
    }
    if (info->is_directory) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": ", flag_value, " is a directory"));
    }
    return flag_value;
  }
  for (absl::string_view dir : absl::StrSplit(path_env, ':')) {
    if (dir.empty()) continue;  // never the working directory
    const std::string candidate =
        absl::StrCat(absl::StripSuffix(dir, "/"), "/", name);
    absl::StatusOr<common::FileInfo> info = fs.Stat(candidate);
    if (info.ok() && !info->is_directory) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(
      name, " was not found on PATH; pass --", flag, "=/path/to/", name));
}

int RunOnceAndPrint(const SqueueProbe& probe, std::ostream& out,
                    std::ostream& err) {
  ProbeOutcome outcome = probe.Probe();
  if (const auto* failure = std::get_if<v1::ProbeFailure>(&outcome)) {
    err << "queue_agent: squeue failed: " << failure->error() << "\n";
    return 1;
  }
  QueueSnapshot& snapshot = std::get<QueueSnapshot>(outcome);
  SnapshotSequencer sequencer;
  const uint64_t seq = sequencer.Next(snapshot.taken_at);
  ChunkLimits one_chunk;
  one_chunk.max_entries = std::numeric_limits<int>::max();
  one_chunk.max_entry_bytes = std::numeric_limits<size_t>::max();
  std::vector<v1::SnapshotChunk> chunks =
      ChunkSnapshot(std::move(snapshot), seq, one_chunk);
  out << ToJson(chunks.front()) << "\n";
  out.flush();
  return 0;
}

int RunCheckOutputCommand(const std::string& program,
                          const std::string& rules_dir, const std::string& file,
                          const common::FileSystem& fs,
                          const common::Clock& clock, std::ostream& out,
                          std::ostream& err) {
  const std::optional<v1::Program> parsed = ProgramFromKey(program);
  if (!parsed.has_value()) {
    std::vector<std::string> keys;
    for (const v1::Program p : kAllPrograms) {
      keys.emplace_back(ProgramKey(p));
    }
    err << "queue_agent check-output: --program=\"" << program
        << "\": expected one of " << absl::StrJoin(keys, ", ") << "\n";
    return 2;
  }
  absl::StatusOr<ProgramRuleSets> rules = LoadRuleSets(rules_dir, &fs);
  if (!rules.ok()) {
    err << "queue_agent check-output: --rules_dir: " << rules.status().message()
        << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<OutputJudge>> judge =
      OutputJudge::Create(*parsed, rules->For(*parsed));
  if (!judge.ok()) {
    err << "queue_agent check-output: " << judge.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<v1::Verdict> verdict =
      CheckOutputFile(file, **judge, fs, clock.Now());
  if (!verdict.ok()) {
    err << "queue_agent check-output: cannot judge " << file << ": "
        << verdict.status().message() << "\n";
    return 2;
  }
  out << ToJson(*verdict) << "\n";
  out.flush();
  return 0;
}

}  // namespace ccbatch::agent
