// queue_agent: one per cluster, on a login node, as the user whose jobs it
// runs. Wires the real clock, processes and files into the runtime
// (agent.h) and the order executor (submitter.h), then waits for SIGTERM or
// SIGINT and stops cleanly.
//
//   queue_agent --ledger=ledger.lab:7070 --cluster=hpc1 \
//       --token_file=~/.ccbatch/agent.token --state_dir=~/.ccbatch/hpc1
//   queue_agent --once --print            one probe, the snapshot as JSON
//   queue_agent check-output --program=gaussian mol1.log
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/current_user.h"
#include "common/event_log.h"
#include "common/file_system.h"
#include "common/metrics.h"
#include "common/metrics_http_server.h"
#include "common/process_runner.h"
#include "common/status_macros.h"
#include "queue_agent/agent.h"
#include "queue_agent/agent_app.h"
#include "queue_agent/order_journal.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/rule_sets.h"
#include "queue_agent/squeue_probe.h"
#include "queue_agent/submitter.h"

ABSL_FLAG(std::string, ledger, "", "the ledger's host:port");
ABSL_FLAG(std::string, cluster, "", "the cluster this agent speaks for");
ABSL_FLAG(std::string, token_file, "",
          "file holding the bearer token sent to the ledger (never pass a "
          "token on the command line)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM file of the CA that signed the ledger's certificate (TLS)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate of this agent (mTLS; with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, state_dir, "",
          "directory of the journal of orders already run (created if "
          "missing)");
ABSL_FLAG(std::string, squeue_bin, "", "squeue to run (default: from PATH)");
ABSL_FLAG(std::string, sbatch_bin, "", "sbatch to run (default: from PATH)");
ABSL_FLAG(std::string, scancel_bin, "", "scancel to run (default: from PATH)");
ABSL_FLAG(std::string, user, "",
          "whose jobs to list (default: the user this process runs as)");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(30),
          "time between squeue probes (at least 5s)");
ABSL_FLAG(absl::Duration, squeue_timeout, absl::Seconds(60),
          "squeue is killed after this long");
ABSL_FLAG(std::string, rules_dir, "",
          "directory of <program>_rules.dat files replacing the built-in "
          "rules");
ABSL_FLAG(absl::Duration, output_grace, absl::Seconds(120),
          "how long a missing or incomplete output is waited for after the "
          "job left the queue");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT to serve Prometheus metrics on at /metrics (plain HTTP, "
          "no authentication: use a loopback or monitoring-only address); "
          "empty: no metrics endpoint");
ABSL_FLAG(bool, once, false, "probe once (with --print) and exit");
ABSL_FLAG(bool, print, false, "print the snapshot as JSON (with --once)");
ABSL_FLAG(std::string, program, "",
          "check-output: the program that wrote FILE (gaussian, orca, xtb, "
          "crest, pyaroma)");

namespace ccbatch::agent {
namespace {

constexpr char kUsage[] =
    "queue_agent: probes SLURM for one cluster and carries out the ledger's "
    "orders.\n"
    "  queue_agent --ledger=HOST:PORT --cluster=NAME --state_dir=DIR "
    "[--token_file=F] [--tls_ca=F [--tls_cert=F --tls_key=F]] "
    "[--metrics_listen=HOST:PORT]\n"
    "  queue_agent --once --print\n"
    "  queue_agent check-output --program=gaussian FILE";

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or files.
constexpr int kBadSetup = 2;

int Fail(const absl::Status& status) {
  std::cerr << "queue_agent: " << status.message() << "\n";
  return kBadSetup;
}

std::string PathEnv() {
  const char* path = std::getenv("PATH");
  return path == nullptr ? "" : path;
}

// --user, or the user this process runs as (getpwuid, never $USER).
absl::StatusOr<std::string> User() {
  std::string user = absl::GetFlag(FLAGS_user);
  if (!user.empty()) return user;
  return common::CurrentUserName();
}

absl::StatusOr<std::unique_ptr<SqueueProbe>> MakeProbe(
    const std::string& user, common::ProcessRunner* runner,
    const common::Clock* clock) {
  SqueueProbeOptions options;
  CCB_ASSIGN_OR_RETURN(
      options.squeue_path,
      ResolveProgram("squeue_bin", absl::GetFlag(FLAGS_squeue_bin), "squeue",
                     PathEnv(), *common::PosixFileSystem::Default()));
  options.user = user;
  options.timeout = absl::GetFlag(FLAGS_squeue_timeout);
  return SqueueProbe::Create(options, runner, clock);
}

// Blocks SIGINT and SIGTERM in this thread and every thread started after
// it (gRPC's, the agent's), so that only sigwait sees them.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int RunAgent(const std::string& user, const SqueueProbe& probe,
             common::ProcessRunner* runner, common::Clock* clock) {
  common::FileSystem* fs = common::PosixFileSystem::Default();
  const std::string cluster = absl::GetFlag(FLAGS_cluster);
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (cluster.empty())
    return Fail(absl::InvalidArgumentError("--cluster is required"));
  if (state_dir.empty()) {
    return Fail(absl::InvalidArgumentError(
        "--state_dir is required: the journal of orders already run lives "
        "there"));
  }
  if (absl::Status ok = ValidateInterval(absl::GetFlag(FLAGS_interval));
      !ok.ok()) {
    return Fail(ok);
  }
  SubmitterOptions submitter_options;
  absl::StatusOr<std::string> sbatch = ResolveProgram(
      "sbatch_bin", absl::GetFlag(FLAGS_sbatch_bin), "sbatch", PathEnv(), *fs);
  if (!sbatch.ok()) return Fail(sbatch.status());
  absl::StatusOr<std::string> scancel =
      ResolveProgram("scancel_bin", absl::GetFlag(FLAGS_scancel_bin), "scancel",
                     PathEnv(), *fs);
  if (!scancel.ok()) return Fail(scancel.status());
  submitter_options.sbatch_path = *sbatch;
  submitter_options.scancel_path = *scancel;

  LedgerConnectionFlags connection_flags;
  connection_flags.ledger = absl::GetFlag(FLAGS_ledger);
  connection_flags.token_file = absl::GetFlag(FLAGS_token_file);
  connection_flags.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  connection_flags.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  connection_flags.tls_key = absl::GetFlag(FLAGS_tls_key);
  absl::StatusOr<LedgerConnection> connection =
      ResolveLedgerConnection(connection_flags, *fs);
  if (!connection.ok()) return Fail(connection.status());

  absl::StatusOr<ProgramRuleSets> rules =
      LoadRuleSets(absl::GetFlag(FLAGS_rules_dir), fs);
  if (!rules.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--rules_dir: ", rules.status().message())));
  }
  OutputCheckerOptions checker_options;
  checker_options.grace_period = absl::GetFlag(FLAGS_output_grace);
  absl::StatusOr<std::unique_ptr<OutputChecker>> checker =
      OutputChecker::Create(*rules, fs, checker_options);
  if (!checker.ok()) return Fail(checker.status());
  if (absl::Status made = fs->CreateDirectories(state_dir); !made.ok()) {
    return Fail(made);
  }
  absl::StatusOr<std::unique_ptr<OrderJournal>> journal =
      OrderJournal::Open(fs, state_dir);
  if (!journal.ok()) return Fail(journal.status());

  const sigset_t stop_signals = BlockStopSignals();
  common::MetricsRegistry metrics;
  submitter_options.metrics = &metrics;
  std::unique_ptr<common::MetricsHttpServer> metrics_server;
  if (const std::string listen = absl::GetFlag(FLAGS_metrics_listen);
      !listen.empty()) {
    absl::StatusOr<std::unique_ptr<common::MetricsHttpServer>> started =
        common::MetricsHttpServer::Start(listen, &metrics);
    if (!started.ok()) {
      return Fail(absl::Status(
          started.status().code(),
          absl::StrCat("--metrics_listen: ", started.status().message())));
    }
    metrics_server = *std::move(started);
  }
  common::EventLog log(clock, common::EventLog::StderrSink(),
                       {{"cluster", cluster}});
  if (!connection->tls) {
    log.Warning(
        "insecure_channel",
        {{"ledger", connection->target},
         {"note", connection->bearer_token.empty()
                      ? "no TLS and no token"
                      : "no TLS: the bearer token travels in clear text"}});
  }
  if (metrics_server != nullptr) {
    log.Info("metrics_serving",
             {{"listen", absl::GetFlag(FLAGS_metrics_listen)},
              {"port", metrics_server->port()}});
  }
  AgentOptions options;
  options.cluster = cluster;
  options.user = user;
  options.interval = absl::GetFlag(FLAGS_interval);
  options.bearer_token = connection->bearer_token;
  options.metrics = &metrics;
  absl::StatusOr<std::unique_ptr<Agent>> agent = Agent::Create(
      options, CreateLedgerChannel(connection->target, connection->credentials),
      &probe, clock, &log);
  if (!agent.ok()) return Fail(agent.status());
  Submitter submitter(submitter_options, journal->get(), checker->get(), runner,
                      fs, agent->get(), clock, &log);
  (*agent)->Start(&submitter);

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  log.Info("stopping", {{"signal", absl::StrCat(signal_number)}});
  (*agent)->Stop();
  return 0;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  common::Clock* clock = common::RealClock::Default();
  if (positional.size() >= 2 && std::string(positional[1]) == "check-output") {
    if (positional.size() != 3) {
      return Fail(absl::InvalidArgumentError(
          "usage: queue_agent check-output --program=PROGRAM FILE"));
    }
    return RunCheckOutputCommand(absl::GetFlag(FLAGS_program),
                                 absl::GetFlag(FLAGS_rules_dir), positional[2],
                                 *common::PosixFileSystem::Default(), *clock,
                                 std::cout, std::cerr);
  }
  if (positional.size() > 1) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument \"", positional[1], "\"; see --help")));
  }
  if (absl::GetFlag(FLAGS_once) != absl::GetFlag(FLAGS_print)) {
    return Fail(absl::InvalidArgumentError(
        "--once and --print go together: one probe, printed as JSON"));
  }
  absl::StatusOr<std::string> user = User();
  if (!user.ok()) return Fail(user.status());
  common::RealProcessRunner runner;
  absl::StatusOr<std::unique_ptr<SqueueProbe>> probe =
      MakeProbe(*user, &runner, clock);
  if (!probe.ok()) return Fail(probe.status());
  if (absl::GetFlag(FLAGS_once)) {
    return RunOnceAndPrint(**probe, std::cout, std::cerr);
  }
  return RunAgent(*user, **probe, &runner, clock);
}

}  // namespace
}  // namespace ccbatch::agent

int main(int argc, char** argv) { return ccbatch::agent::Main(argc, argv); }
