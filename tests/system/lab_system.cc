#include "tests/system/lab_system.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/process_runner.h"
#include "google/protobuf/util/json_util.h"

namespace ccbatch::system_test {
namespace {

using ::ccbatch::v1::JobStatus;

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "ccbatch", "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

template <typename Message>
absl::StatusOr<Message> ParseJson(const CommandResult& result,
                                  const std::string& what) {
  if (result.exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(
        what, " exited ", result.exit_code, ": ", result.err, result.out));
  }
  Message message;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(result.out,
                                                            &message, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat(what, " printed unparsable JSON (",
                                            status.ToString(),
                                            "): ", result.out));
  }
  return message;
}

}  // namespace

bool IsFinal(JobStatus status) {
  return status == v1::JOB_STATUS_SUCCEEDED ||
         status == v1::JOB_STATUS_FAILED ||
         status == v1::JOB_STATUS_BROKEN_DEPENDENCY ||
         status == v1::JOB_STATUS_CANCELLED;
}

std::string LabSystem::SkipReason() {
  if (geteuid() != 0) return "system tests run as root (they drive SLURM)";
  const char* conf = std::getenv("SLURM_CONF");
  if (conf == nullptr || access(conf, R_OK) != 0) {
    return "no local SLURM (SLURM_CONF unset or unreadable); "
           "scripts/test.sh starts one with scripts/slurm-local.sh";
  }
  return "";
}

std::string LabSystem::SlurmProblem() {
  common::RealProcessRunner runner;
  common::ProcessRequest request;
  request.argv = {"squeue", "--noheader", "-o", "%i"};
  request.timeout = absl::Seconds(20);
  auto result = runner.Run(request);
  if (!result.ok() || !result->Succeeded()) {
    return absl::StrCat(
        "squeue cannot reach the local SLURM: ",
        result.ok() ? result->stderr_text : result.status().ToString());
  }
  return "";
}

LabSystem::LabSystem(std::string work_dir) : work_dir_(std::move(work_dir)) {}

LabSystem::~LabSystem() {
  StopAgent(SIGTERM).IgnoreError();
  StopLedger(SIGTERM).IgnoreError();
}

std::string LabSystem::ledger_address() const {
  return absl::StrCat("127.0.0.1:", ledger_port_);
}

absl::Status LabSystem::StartLedger(absl::Duration staleness) {
  const std::string port_file = absl::StrCat(work_dir_, "/ledger.port");
  unlink(port_file.c_str());
  // Reuse the previous port after a restart so the agent and ccctl find it.
  const std::string listen =
      ledger_port_ == 0 ? "127.0.0.1:0" : ledger_address();
  absl::Status started = ledger_.Start(
      {Runfile("ledger_service/ledger_service"),
       absl::StrCat("--listen=", listen),
       absl::StrCat("--db=", work_dir_, "/db"),
       absl::StrCat("--port_file=", port_file),
       absl::StrCat("--staleness=", absl::FormatDuration(staleness)),
       "--default_cluster=local"},
      absl::StrCat(work_dir_, "/ledger.log"));
  if (!started.ok()) return started;
  int port = 0;
  bool up = WaitFor(
      [&] {
        return absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(port_file)),
                                &port) &&
               port > 0;
      },
      absl::Seconds(30));
  if (!up) {
    return absl::DeadlineExceededError(
        absl::StrCat("ledger did not write its port within 30 s\n", Logs()));
  }
  ledger_port_ = port;
  return absl::OkStatus();
}

absl::Status LabSystem::StopLedger(int signal) { return ledger_.Stop(signal); }

absl::Status LabSystem::StartAgent(absl::Duration output_grace) {
  return agent_.Start(
      {Runfile("queue_agent/queue_agent"),
       absl::StrCat("--ledger=", ledger_address()), "--cluster=local",
       absl::StrCat("--state_dir=", work_dir_, "/agent-state"), "--interval=5s",
       "--squeue_timeout=30s",
       absl::StrCat("--output_grace=", absl::FormatDuration(output_grace))},
      absl::StrCat(work_dir_, "/agent.log"));
}

absl::Status LabSystem::StopAgent(int signal) { return agent_.Stop(signal); }

CommandResult LabSystem::Run(const std::vector<std::string>& argv,
                             absl::Duration timeout) {
  common::RealProcessRunner runner;
  common::ProcessRequest request;
  request.argv = argv;
  request.timeout = timeout;
  auto result = runner.Run(request);
  if (!result.ok()) return {-1, "", result.status().ToString()};
  return {result->exit_code, result->stdout_text, result->stderr_text};
}

CommandResult LabSystem::Ccctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Runfile("cli/ccctl"),
                                   absl::StrCat("--ledger=", ledger_address())};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, absl::Seconds(60));
}

absl::StatusOr<std::vector<v1::JobView>> LabSystem::Jobs(
    const std::string& batch) {
  auto response = ParseJson<v1::ListJobsResponse>(
      Ccctl({"jobs", batch, "-o", "json"}), "ccctl jobs");
  if (!response.ok()) return response.status();
  return std::vector<v1::JobView>(response->jobs().begin(),
                                  response->jobs().end());
}

absl::StatusOr<v1::GetJobResponse> LabSystem::Show(const std::string& key) {
  return ParseJson<v1::GetJobResponse>(Ccctl({"show", key, "-o", "json"}),
                                       "ccctl show");
}

absl::StatusOr<v1::ListClustersResponse> LabSystem::Clusters() {
  return ParseJson<v1::ListClustersResponse>(Ccctl({"clusters", "-o", "json"}),
                                             "ccctl clusters");
}

absl::StatusOr<std::string> LabSystem::PrepareDemo(const std::string& name) {
  const std::string root = absl::StrCat(work_dir_, "/", name);
  CommandResult copy = Run({"cp", "-rL", Runfile("examples/xtb-demo"), root});
  if (copy.exit_code != 0) {
    return absl::InternalError(absl::StrCat("cp failed: ", copy.err));
  }
  Run({"chmod", "-R", "u+w", root});
  const std::string batchfile = absl::StrCat(root, "/batchfile.csv");
  std::string text = ReadFile(batchfile);
  text = absl::StrReplaceAll(
      text, {{"run_root_directory=/path/to/xtb-demo",
              absl::StrCat("run_root_directory=", root)},
             {"batch=xtb-demo", absl::StrCat("batch=", name)}});
  std::ofstream(batchfile, std::ios::trunc) << text;
  return batchfile;
}

bool LabSystem::WaitFor(const std::function<bool()>& condition,
                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    mu.AwaitWithTimeout(absl::Condition::kTrue, absl::Milliseconds(500));
  }
  return true;
}

std::string LabSystem::Logs() const {
  return absl::StrCat(
      "--- ledger.log (tail)\n",
      Tail(ReadFile(absl::StrCat(work_dir_, "/ledger.log")), 3000),
      "\n--- agent.log (tail)\n",
      Tail(ReadFile(absl::StrCat(work_dir_, "/agent.log")), 3000));
}

}  // namespace ccbatch::system_test
