#include "cli/ccctl_app.h"

#include <memory>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "cli/check_output.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"

namespace ccbatch::cli {
namespace {

constexpr char kGlobalNote[] =
    "\nConnection options (--ledger, --token-file, --tls, --tls-ca, "
    "--tls-cert, --tls-key, --timeout) go before or after the command; see "
    "`ccctl --help`.";

struct GlobalFlags {
  std::string ledger;
  std::string token_file;
  bool tls = false;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  double timeout_seconds = 10;
};

// A command: its CLI11 subcommand, and what runs when it was chosen. A
// null `connect` result means the command needs no ledger.
struct Command {
  CLI::App* app = nullptr;
  bool needs_ledger = true;
  std::function<absl::Status(LedgerClient*)> run;
};

std::string OutputHelp(bool csv) {
  return csv ? "output format: table, json or csv"
             : "output format: table or json";
}

CLI::Option* AddOutputFlag(CLI::App* app, std::string* format, bool csv) {
  std::vector<std::string> allowed = {"table", "json"};
  if (csv) allowed.push_back("csv");
  return app->add_option("-o,--output", *format, OutputHelp(csv))
      ->check(CLI::IsMember(allowed))
      ->default_val("table");
}

OutputFormat ParseFormat(const std::string& text) {
  if (text == "json") return OutputFormat::kJson;
  if (text == "csv") return OutputFormat::kCsv;
  return OutputFormat::kTable;
}

std::string Example(absl::string_view lines) {
  return absl::StrCat("\nExample:\n", lines, kGlobalNote);
}

absl::StatusOr<std::string> ReadFlagFile(const CcctlEnvironment& env,
                                         absl::string_view flag,
                                         const std::string& path) {
  absl::StatusOr<std::string> contents = env.fs->ReadFile(path);
  if (!contents.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": ", contents.status().message()));
  }
  return contents;
}

absl::StatusOr<ConnectionSettings> ResolveSettings(
    const GlobalFlags& flags, const CcctlEnvironment& env) {
  ConnectionSettings settings;
  settings.address = flags.ledger;
  if (settings.address.empty()) {
    settings.address =
        env.get_env("CCBATCH_LEDGER").value_or(kDefaultLedgerAddress);
    if (settings.address.empty()) settings.address = kDefaultLedgerAddress;
  }
  if (!(flags.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(
        "--timeout must be a positive number of seconds");
  }
  settings.deadline = absl::Seconds(flags.timeout_seconds);
  if (!flags.token_file.empty()) {
    CCB_ASSIGN_OR_RETURN(std::string token,
                         ReadFlagFile(env, "--token-file", flags.token_file));
    settings.bearer_token = std::string(absl::StripAsciiWhitespace(token));
    if (settings.bearer_token.empty() ||
        settings.bearer_token.find_first_of(" \t\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--token-file ", flags.token_file,
          ": expected one token on one line, found ",
          settings.bearer_token.empty() ? "nothing" : "several words"));
    }
  }
  return settings;
}

absl::StatusOr<TlsMaterial> ResolveTls(const GlobalFlags& flags,
                                       const CcctlEnvironment& env) {
  TlsMaterial tls;
  tls.enabled = flags.tls || !flags.tls_ca.empty() || !flags.tls_cert.empty() ||
                !flags.tls_key.empty();
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together (a client certificate and its "
        "key, for mTLS)");
  }
  if (!flags.tls_ca.empty()) {
    CCB_ASSIGN_OR_RETURN(tls.root_certificates,
                         ReadFlagFile(env, "--tls-ca", flags.tls_ca));
  }
  if (!flags.tls_cert.empty()) {
    CCB_ASSIGN_OR_RETURN(tls.certificate_chain,
                         ReadFlagFile(env, "--tls-cert", flags.tls_cert));
    CCB_ASSIGN_OR_RETURN(tls.private_key,
                         ReadFlagFile(env, "--tls-key", flags.tls_key));
  }
  return tls;
}

// Prints `status` so a person knows what to do: a one-line message after
// the command's name, a multi-line one (the batchfile reader's
// "file:line: ..." list) as it is, so editors can jump to the lines.
void PrintError(const CcctlEnvironment& env, absl::string_view command,
                const absl::Status& status) {
  const std::string message(status.message());
  if (absl::StrContains(message, '\n')) {
    *env.err << message << "\n";
  } else {
    *env.err << "ccctl " << command << ": " << message << "\n";
  }
  env.err->flush();
}

class CcctlApp final {
 public:
  explicit CcctlApp(const CcctlEnvironment& env)
      : env_(env),
        app_(
            "ccctl: the command line of ccbatch. Imports batches of "
            "chemistry jobs into the ledger and shows, explains, retries "
            "and cancels them.",
            "ccctl") {
    app_.require_subcommand(1);
    app_.fallthrough();
    app_.footer(
        "\nExit codes: 0 ok, 1 the ledger refused the request, 2 bad usage "
        "or bad input, 3 the ledger could not be reached.\n"
        "Environment: CCBATCH_LEDGER (default ledger address), NO_COLOR (no "
        "colours).\n"
        "Run `ccctl COMMAND --help` for a command's options and an example.");
    AddGlobalFlags();
    AddImport();
    AddPauseResume();
    AddStatus();
    AddJobs();
    AddShowExplain();
    AddRetry();
    AddCancel();
    AddClusters();
    AddExport();
    AddCheckOutput();
  }

  int Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    try {
      app_.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::CallForHelp& e) {
      return app_.exit(e, *env_.out, *env_.err);
    } catch (const CLI::ParseError& e) {
      return UsageError(e.what());
    }
    for (const Command& command : commands_) {
      if (command.app->parsed()) return RunCommand(command);
    }
    return UsageError("a command is required");
  }

 private:
  int UsageError(absl::string_view message) {
    std::string command;
    for (const CLI::App* sub : app_.get_subcommands()) {
      command = absl::StrCat(" ", sub->get_name());
    }
    *env_.err << "ccctl" << command << ": " << message << "\nRun `ccctl"
              << command << " --help` for usage.\n";
    return static_cast<int>(ExitCode::kBadInput);
  }

  CommandEnv MakeCommandEnv() const {
    CommandEnv env;
    env.out = env_.out;
    env.err = env_.err;
    env.clock = env_.clock;
    env.time_zone = env_.time_zone;
    env.out_is_tty = env_.out_is_tty;
    env.color =
        env_.out_is_tty && env_.get_env("NO_COLOR").value_or("").empty();
    env.fs = env_.fs;
    env.canceller = env_.canceller;
    return env;
  }

  absl::Status Connect(const Command& command) {
    if (!command.needs_ledger) return command.run(nullptr);
    CCB_ASSIGN_OR_RETURN(ConnectionSettings settings,
                         ResolveSettings(global_, env_));
    CCB_ASSIGN_OR_RETURN(TlsMaterial tls, ResolveTls(global_, env_));
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateChannel(settings.address, MakeChannelCredentials(tls));
    std::unique_ptr<ccbatch::v1::LedgerService::StubInterface> stub =
        ccbatch::v1::LedgerService::NewStub(channel);
    LedgerClient client(stub.get(), std::move(settings));
    return command.run(&client);
  }

  int RunCommand(const Command& command) {
    command_env_ = MakeCommandEnv();
    const absl::Status status = Connect(command);
    if (!status.ok()) PrintError(env_, command.app->get_name(), status);
    return static_cast<int>(ExitCodeFor(status));
  }

  void AddGlobalFlags() {
    app_.add_option("--ledger", global_.ledger,
                    absl::StrCat("ledger address host:port (default: "
                                 "$CCBATCH_LEDGER, else ",
                                 kDefaultLedgerAddress, ")"));
    app_.add_option("--token-file", global_.token_file,
                    "file holding the bearer token sent to the ledger "
                    "(never pass a token itself on the command line)");
    app_.add_flag("--tls", global_.tls,
                  "use TLS with the system's trusted roots");
    app_.add_option("--tls-ca", global_.tls_ca,
                    "PEM file of the CA that signed the ledger's certificate "
                    "(implies --tls)");
    app_.add_option("--tls-cert", global_.tls_cert,
                    "PEM client certificate for mTLS (with --tls-key)");
    app_.add_option("--tls-key", global_.tls_key,
                    "PEM private key of --tls-cert");
    app_.add_option("--timeout", global_.timeout_seconds,
                    "seconds to wait for each answer of the ledger")
        ->default_val(10);
  }

  CLI::App* AddCommand(const std::string& name, const std::string& help,
                       absl::string_view example) {
    CLI::App* sub = app_.add_subcommand(name, help);
    sub->footer(Example(example));
    return sub;
  }

  void AddImport() {
    CLI::App* sub = AddCommand(
        "import",
        "Read a batchfile and import it into the ledger (whole or not at "
        "all).",
        "  ccctl import batch.csv --cluster hpc1 --max-parallel 20 "
        "--retry-on NODE_FAIL,PREEMPTED\n"
        "  ccctl import batch.csv --paused     # statuses only, nothing "
        "submitted\n"
        "  ccctl import batch.csv --dry-run    # check the file, send "
        "nothing");
    sub->add_option("BATCHFILE", import_.file, "the batchfile to read")
        ->required();
    sub->add_option("--batch", import_.batch,
                    "batch name (default: the file's batch= line, else the "
                    "run root's last component)");
    sub->add_option("--cluster", import_.cluster,
                    "cluster whose agent runs the jobs (overrides cluster=)");
    sub->add_option("--max-parallel", import_.max_parallel,
                    "jobs of the batch submitted at once, 0 for no limit "
                    "(overrides max_parallel=)")
        ->check(CLI::NonNegativeNumber);
    sub->add_flag("--paused", import_.paused,
                  "import paused: statuses only, nothing is submitted until "
                  "`ccctl resume`");
    sub->add_option("--retry-on", import_.retry_on,
                    "comma-separated failure causes retried automatically, "
                    "e.g. NODE_FAIL,PREEMPTED,TIMEOUT");
    sub->add_option("--max-attempts", import_.max_attempts,
                    "attempts per job including the first (default 3 with "
                    "--retry-on)");
    sub->add_flag("--dry-run", import_.dry_run,
                  "read and check the batchfile, print what would be "
                  "imported, send nothing");
    AddOutputFlag(sub, &format_text_, false);
    commands_.push_back(
        {sub, true, [this](LedgerClient* ledger) {
           const OutputFormat format = ParseFormat(format_text_);
           CCB_ASSIGN_OR_RETURN(auto request,
                                PrepareImport(import_, command_env_));
           if (import_.dry_run) {
             return RunImportDryRun(request, format, command_env_);
           }
           return RunImport(request, format, *ledger, command_env_);
         }});
  }

  void AddPauseResume() {
    for (const bool pause : {true, false}) {
      CLI::App* sub =
          pause ? AddCommand("pause",
                             "Stop submitting a batch's jobs (queued jobs "
                             "keep running; statuses stay live).",
                             "  ccctl pause chem-1")
                : AddCommand("resume", "Submit a paused batch's jobs again.",
                             "  ccctl resume chem-1");
      sub->add_option("BATCH", batch_arg_, "the batch")->required();
      AddOutputFlag(sub, &format_text_, false);
      commands_.push_back({sub, true, [this, pause](LedgerClient* ledger) {
                             return RunPause(batch_arg_, pause,
                                             ParseFormat(format_text_), *ledger,
                                             command_env_);
                           }});
    }
  }

  void AddStatus() {
    CLI::App* sub = AddCommand(
        "status",
        "Summary per batch: counts per status, progress, clusters' health.",
        "  ccctl status chem-1\n"
        "  ccctl status chem-1 --watch     # live until every job is final "
        "or Ctrl-C");
    sub->add_option("BATCH", status_.batch, "one batch (default: all)");
    sub->add_flag("-w,--watch", status_.watch,
                  "keep the summary live from the ledger's Watch stream "
                  "until every job is final (Ctrl-C stops)");
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           status_.format = ParseFormat(format_text_);
                           return RunStatus(status_, *ledger, command_env_);
                         }});
  }

  void AddJobs() {
    CLI::App* sub = AddCommand(
        "jobs",
        "List jobs: key, status, cluster, SLURM id, age in status, reason.",
        "  ccctl jobs chem-1 --status failed,running\n"
        "  ccctl jobs --cluster hpc1 -o csv > jobs.csv");
    sub->add_option("BATCH", jobs_.batch, "one batch (default: all)");
    sub->add_option("-s,--status", jobs_.statuses,
                    "comma-separated statuses: waiting, ready, submitting, "
                    "submitted, pending, running, completing, succeeded, "
                    "failed, broken_dependency, cancelled, unknown");
    sub->add_option("--cluster", jobs_.cluster, "jobs on this cluster only");
    sub->add_option("--name", jobs_.name_prefix,
                    "jobs whose basename starts with this");
    sub->add_option("--limit", jobs_.limit,
                    "at most this many jobs (default 0: all)")
        ->check(CLI::NonNegativeNumber);
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           jobs_.format = ParseFormat(format_text_);
                           return RunJobs(jobs_, *ledger, command_env_);
                         }});
  }

  void AddShowExplain() {
    CLI::App* show = AddCommand(
        "show",
        "Everything about one job: definition, status and reason, attempts, "
        "verdict with evidence and energies, upstream jobs, recent events.",
        "  ccctl show chem-1/mol3_sp");
    show->add_option("JOB", job_arg_, "job key BATCH/BASENAME")->required();
    AddOutputFlag(show, &format_text_, true);
    commands_.push_back({show, true, [this](LedgerClient* ledger) {
                           return RunShow(job_arg_, ParseFormat(format_text_),
                                          *ledger, command_env_);
                         }});
    CLI::App* explain = AddCommand(
        "explain",
        "Why a job has its status, as a chain of facts (for a waiting job: "
        "which upstream job it waits on, and why that one is where it is).",
        "  ccctl explain chem-1/mol3_sp");
    explain->add_option("JOB", job_arg_, "job key BATCH/BASENAME")->required();
    AddOutputFlag(explain, &format_text_, true);
    commands_.push_back({explain, true, [this](LedgerClient* ledger) {
                           return RunExplain(job_arg_,
                                             ParseFormat(format_text_), *ledger,
                                             command_env_);
                         }});
  }

  void AddRetry() {
    CLI::App* sub = AddCommand(
        "retry",
        "Start a new attempt of failed, cancelled or broken jobs; their "
        "broken dependants go back to waiting.",
        "  ccctl retry chem-1/mol3_opt chem-1/mol4_opt\n"
        "  ccctl retry --failed chem-1     # every failed job of chem-1\n"
        "  ccctl retry --failed            # every failed job of every batch");
    sub->add_option("JOB", retry_keys_,
                    "job keys BATCH/BASENAME; with --failed, one batch name");
    sub->add_flag("--failed", retry_.failed,
                  "retry every failed job of the batch given (or of all)");
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           retry_.format = ParseFormat(format_text_);
                           if (retry_.failed) {
                             if (retry_keys_.size() > 1 ||
                                 (retry_keys_.size() == 1 &&
                                  absl::StrContains(retry_keys_[0], '/'))) {
                               return absl::InvalidArgumentError(
                                   "with --failed give at most one batch "
                                   "name, not job keys");
                             }
                             if (!retry_keys_.empty()) {
                               retry_.batch = retry_keys_[0];
                             }
                           } else {
                             retry_.keys = retry_keys_;
                           }
                           return RunRetry(retry_, *ledger, command_env_);
                         }});
  }

  void AddCancel() {
    CLI::App* sub = AddCommand(
        "cancel",
        "Cancel jobs: queued ones are scancel'ed, unsubmitted ones never "
        "start.",
        "  ccctl cancel chem-1/mol3_opt\n"
        "  ccctl cancel --batch chem-1     # every unfinished job of chem-1");
    sub->add_option("JOB", cancel_.keys, "job keys BATCH/BASENAME");
    sub->add_option("--batch", cancel_.batch,
                    "cancel every unfinished job of this batch");
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           cancel_.format = ParseFormat(format_text_);
                           return RunCancel(cancel_, *ledger, command_env_);
                         }});
  }

  void AddClusters() {
    CLI::App* sub = AddCommand(
        "clusters",
        "Cluster agents: connected or not, last snapshot, last probe error.",
        "  ccctl clusters");
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           return RunClusters(ParseFormat(format_text_),
                                              *ledger, command_env_);
                         }});
  }

  void AddExport() {
    CLI::App* sub = AddCommand(
        "export",
        "Write a BatchRunner-compatible __ledger__.csv ('|'-separated).",
        "  ccctl export chem-1 --out __ledger__.csv");
    sub->add_option("BATCH", export_.batch, "one batch (default: all)");
    sub->add_option("--out", export_.out_file,
                    "file to write (default: standard output)");
    commands_.push_back({sub, true, [this](LedgerClient* ledger) {
                           return RunExport(export_, *ledger, command_env_);
                         }});
  }

  void AddCheckOutput() {
    CLI::App* sub = AddCommand(
        "check-output",
        "Judge an output file locally, as the agent would (no ledger "
        "needed): outcome, cause, evidence lines, extracted energies.",
        "  ccctl check-output --program orca mol3/sp/mol3_sp.out\n"
        "  ccctl check-output --program gaussian --rules-dir ~/rules "
        "opt.log");
    sub->add_option("FILE", check_output_.file, "the output file to judge")
        ->required();
    sub->add_option("-p,--program", check_output_.program,
                    "gaussian, orca, xtb, crest or pyaroma")
        ->required();
    sub->add_option("--rules-dir", check_output_.rules_dir,
                    "directory with your own <program>_rules.dat (default: "
                    "the built-in rules, as the agent uses)");
    AddOutputFlag(sub, &format_text_, true);
    commands_.push_back({sub, false, [this](LedgerClient*) {
                           check_output_.format = ParseFormat(format_text_);
                           return RunCheckOutput(check_output_, command_env_);
                         }});
  }

  const CcctlEnvironment& env_;
  CLI::App app_;
  std::vector<Command> commands_;
  CommandEnv command_env_;
  GlobalFlags global_;
  std::string format_text_ = "table";
  ImportFlags import_;
  std::string batch_arg_;
  StatusFlags status_;
  JobsFlags jobs_;
  std::string job_arg_;
  RetryFlags retry_;
  std::vector<std::string> retry_keys_;
  CancelFlags cancel_;
  ExportFlags export_;
  CheckOutputFlags check_output_;
};

}  // namespace

int RunCcctl(const std::vector<std::string>& args,
             const CcctlEnvironment& env) {
  CcctlApp app(env);
  return app.Run(args);
}

}  // namespace ccbatch::cli
