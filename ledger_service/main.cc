// ledger_service: the central ccbatch server (DESIGN §2). Wires the real
// clock, RocksDB store, ledger core and gRPC server; everything it does is
// in the libraries it calls.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/metrics_http_server.h"
#include "common/status_macros.h"
#include "ledger_service/auth_gate.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_server.h"
#include "ledger_service/server_flags.h"
#include "ledger_service/store_rocksdb.h"
#include "ledger_service/token_file.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address to serve agents and clients on (HOST:PORT; port 0 "
          "picks a free one, see --port_file). Without --token_file only "
          "loopback addresses are allowed.");
ABSL_FLAG(std::string, db, "",
          "Required. Directory of the ledger's RocksDB database; created if "
          "missing (its parent must exist).");
ABSL_FLAG(std::string, token_file, "",
          "Bearer tokens for agents, readers and admins: one line per token, "
          "\"<sha256 of the token> <role>\" with role agent:<cluster>, "
          "reader or admin (docs/SECURITY.md). Reloaded on SIGHUP. Without "
          "it every caller may do everything, so only loopback --listen "
          "addresses are allowed.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for TLS.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set, clients must present a certificate it "
          "signed (mutual TLS).");
ABSL_FLAG(absl::Duration, staleness, absl::Minutes(5),
          "A cluster whose agent sent no snapshot for this long makes its "
          "jobs UNKNOWN.");
ABSL_FLAG(std::vector<std::string>, cluster_cap, {},
          "NAME=N: at most N of the agent user's jobs queued on cluster NAME "
          "(every job in its snapshot, including ones submitted by hand). "
          "Repeatable, or comma-separated.");
ABSL_FLAG(std::string, default_cluster, "",
          "Cluster for batches imported without one (empty: such imports are "
          "refused).");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on at /metrics (plain HTTP, "
          "no authentication: use a loopback or monitoring-only address). "
          "Empty: no metrics endpoint.");
ABSL_FLAG(std::string, port_file, "",
          "After the server has started, write its port here (for "
          "--listen=127.0.0.1:0 in tests and scripts).");

namespace ccbatch::ledger {
namespace {

absl::Status CheckAccessFlags(const std::string& listen) {
  if (absl::GetFlag(FLAGS_token_file).empty() &&
      !IsLoopbackListenAddress(listen)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen=", listen,
        " can be reached from other machines, and without --token_file "
        "anyone reaching it could import, cancel and speak for any cluster; "
        "listen on a loopback address (e.g. --listen=127.0.0.1:50051) and "
        "reach it through an SSH tunnel"));
  }
  return absl::OkStatus();
}

// The gate for --token_file: authentication off without it, else on with
// the file's tokens (a bad file stops the ledger from starting).
absl::StatusOr<std::shared_ptr<AuthGate>> AuthGateFromFlags(
    const common::FileSystem& files, bool tls, common::EventLog& log) {
  const std::string path = absl::GetFlag(FLAGS_token_file);
  if (path.empty()) return std::make_shared<AuthGate>(&log);
  CCB_ASSIGN_OR_RETURN(TokenTable tokens, ReadTokenFile(path, files));
  log.Info("tokens_loaded", {{"file", path}, {"tokens", tokens.size()}});
  if (!tls && !IsLoopbackListenAddress(absl::GetFlag(FLAGS_listen))) {
    log.Warning("plaintext_tokens",
                {{"listen", absl::GetFlag(FLAGS_listen)},
                 {"note",
                  "without --tls_cert/--tls_key bearer tokens cross the "
                  "network in clear text; anyone on the path can copy them"}});
  }
  return std::make_shared<AuthGate>(&log, std::move(tokens));
}

// SIGHUP: re-reads --token_file. A file that cannot be read or parsed
// leaves the tokens as they were.
void ReloadTokens(AuthGate& gate, const common::FileSystem& files,
                  common::EventLog& log) {
  const std::string path = absl::GetFlag(FLAGS_token_file);
  if (!gate.enabled()) {
    log.Warning("reload_ignored",
                {{"signal", "SIGHUP"},
                 {"reason", "no --token_file: authentication is off"}});
    return;
  }
  absl::StatusOr<TokenTable> tokens = ReadTokenFile(path, files);
  if (!tokens.ok()) {
    log.Error("tokens_reload_failed", {{"file", path},
                                       {"error", tokens.status().message()},
                                       {"kept", "the tokens loaded before"}});
    return;
  }
  gate.ReplaceTokens(*std::move(tokens));
}

absl::StatusOr<LedgerOptions> LedgerOptionsFromFlags(common::EventLog& log) {
  LedgerOptions options;
  options.log = &log;
  options.staleness = absl::GetFlag(FLAGS_staleness);
  if (options.staleness <= absl::ZeroDuration() ||
      options.staleness == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--staleness=", absl::FormatDuration(options.staleness),
                     " must be a positive, finite duration, e.g. 5m"));
  }
  CCB_ASSIGN_OR_RETURN(options.cluster_caps,
                       ParseClusterCaps(absl::GetFlag(FLAGS_cluster_cap)));
  options.default_cluster = absl::GetFlag(FLAGS_default_cluster);
  return options;
}

// Serves until SIGINT or SIGTERM, reloading the tokens on SIGHUP (all
// three blocked in every thread by main and received here with sigwait).
// --metrics_listen: the Prometheus endpoint, or none when the flag is empty.
absl::StatusOr<std::unique_ptr<common::MetricsHttpServer>>
MetricsServerFromFlags(const common::MetricsRegistry& metrics,
                       common::EventLog& log) {
  const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
  if (listen.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<common::MetricsHttpServer>> server =
      common::MetricsHttpServer::Start(listen, &metrics);
  if (!server.ok()) {
    return absl::Status(
        server.status().code(),
        absl::StrCat("--metrics_listen: ", server.status().message()));
  }
  log.Info("metrics_serving",
           {{"listen", listen}, {"port", (*server)->port()}});
  return server;
}

absl::Status Serve(const sigset_t& signals, common::EventLog& log) {
  const std::string db = absl::GetFlag(FLAGS_db);
  if (db.empty()) {
    return absl::InvalidArgumentError(
        "--db is required: the directory of the ledger's database (created "
        "if missing), e.g. --db=/var/lib/ccbatch/ledger");
  }
  LedgerServerOptions server_options;
  server_options.listen_address = absl::GetFlag(FLAGS_listen);
  CCB_RETURN_IF_ERROR(CheckAccessFlags(server_options.listen_address));
  CCB_ASSIGN_OR_RETURN(LedgerOptions ledger_options,
                       LedgerOptionsFromFlags(log));
  common::FileSystem& files = *common::PosixFileSystem::Default();
  CCB_ASSIGN_OR_RETURN(
      server_options.credentials,
      ServerCredentialsFromFiles(
          {absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
           absl::GetFlag(FLAGS_tls_client_ca)},
          files, common::RealClock::Default()->Now()));
  CCB_ASSIGN_OR_RETURN(
      std::shared_ptr<AuthGate> auth,
      AuthGateFromFlags(files, server_options.credentials != nullptr, log));
  server_options.auth = auth;
  // Declared before everything that records into it, so it outlives them.
  // The endpoint starts before the store opens: a port in use stops the
  // ledger at once.
  common::MetricsRegistry metrics;
  ledger_options.metrics = &metrics;
  server_options.metrics = &metrics;
  CCB_ASSIGN_OR_RETURN(
      std::unique_ptr<common::MetricsHttpServer> metrics_server,
      MetricsServerFromFlags(metrics, log));

  CCB_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbStore> store,
                       RocksDbStore::Open(db));
  log.Info("store_opened", {{"db", db}});
  CCB_ASSIGN_OR_RETURN(std::unique_ptr<Ledger> ledger,
                       Ledger::Open(store.get(), common::RealClock::Default(),
                                    std::move(ledger_options)));
  CCB_ASSIGN_OR_RETURN(
      std::unique_ptr<LedgerServer> server,
      LedgerServer::Start(ledger.get(), &log, std::move(server_options)));
  const std::string port_file = absl::GetFlag(FLAGS_port_file);
  if (!port_file.empty()) {
    const absl::Status written =
        files.WriteFile(port_file, absl::StrCat(server->port(), "\n"));
    if (!written.ok()) {
      server->Shutdown();
      return written;
    }
  }
  log.Info(
      "ledger_ready",
      {{"port", server->port()},
       {"staleness", absl::FormatDuration(absl::GetFlag(FLAGS_staleness))}});

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    ReloadTokens(*auth, files, log);
  }
  log.Info("shutdown_requested",
           {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  server->Shutdown();
  if (metrics_server != nullptr) metrics_server->Stop();
  server.reset();
  ledger.reset();
  store.reset();
  log.Info("ledger_stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace ccbatch::ledger

int main(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and
  // only Serve's sigwait receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::SetProgramUsageMessage(
      "The ccbatch ledger: owns every fact about the lab's jobs and serves "
      "agents (AgentService) and clients (LedgerService) on one gRPC port.\n"
      "Usage: ledger_service --db=DIR [--listen=127.0.0.1:50051] "
      "[--token_file=F] [--tls_cert=F --tls_key=F [--tls_client_ca=F]] "
      "[--cluster_cap=NAME=N]...");
  absl::FlagsUsageConfig usage;
  // --help lists this file's flags (absl's default looks for a file named
  // after the binary).
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "ledger_service/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  std::vector<std::string> args = ccbatch::ledger::MergeRepeatedFlag(
      std::vector<std::string>(argv, argv + argc), "cluster_cap");
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  const std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(arg_pointers.size()), arg_pointers.data());
  if (positional.size() > 1) {
    std::fprintf(stderr,
                 "ledger_service: unexpected argument \"%s\"; it takes only "
                 "flags (see --help)\n",
                 positional[1]);
    return 2;
  }

  ccbatch::common::EventLog log(ccbatch::common::RealClock::Default(),
                                ccbatch::common::EventLog::StderrSink());
  const absl::Status status = ccbatch::ledger::Serve(signals, log);
  if (!status.ok()) {
    log.Error("fatal", {{"code", absl::StatusCodeToString(status.code())},
                        {"error", status.message()}});
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
