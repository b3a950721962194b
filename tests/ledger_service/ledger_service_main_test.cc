// The ledger_service binary as a user runs it: its refusals (with exit codes
// and reasons), --help, and a real serve-then-SIGTERM cycle on port 0 with a
// RocksDB directory in TEST_TMPDIR. Waits read the server's stderr with
// poll() and a deadline; nothing sleeps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ccbatch/v1/ledger.grpc.pb.h"
#include "common/process_runner.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "ledger_service/token_file.h"
#include "tests/common/metrics_scrape.h"

extern char** environ;

namespace ccbatch::ledger {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(30);

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/",
                      workspace ? workspace : "ccbatch", "/", path);
}

std::string Binary() { return Runfile("ledger_service/ledger_service"); }

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", name);
  mkdir(dir.c_str(), 0700);
  return dir;
}

common::ProcessResult RunToEnd(std::vector<std::string> args) {
  common::RealProcessRunner runner;
  common::ProcessRequest request;
  request.argv = {Binary()};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  request.timeout = kWait;
  absl::StatusOr<common::ProcessResult> result = runner.Run(request);
  EXPECT_THAT(result, ::ccbatch::testing::IsOk());
  return result.ok() ? *result : common::ProcessResult();
}

TEST(LedgerServiceMainTest, HelpListsTheServerFlags) {
  const common::ProcessResult result = RunToEnd({"--help"});
  const std::string help = result.stdout_text + result.stderr_text;
  for (const char* flag :
       {"--listen", "--db", "--token_file", "--tls_cert", "--tls_key",
        "--tls_client_ca", "--staleness", "--cluster_cap", "--default_cluster",
        "--port_file"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
}

TEST(LedgerServiceMainTest, DbIsRequired) {
  const common::ProcessResult result = RunToEnd({});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text, HasSubstr("--db is required"));
}

TEST(LedgerServiceMainTest, RefusesANonLoopbackAddressWithoutTokens) {
  const common::ProcessResult result = RunToEnd(
      {absl::StrCat("--db=", TempDir("nonloopback")), "--listen=0.0.0.0:0"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.stderr_text,
              HasSubstr("can be reached from other machines"));
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(LedgerServiceMainTest, RefusesAMissingTokenFile) {
  const common::ProcessResult result =
      RunToEnd({absl::StrCat("--db=", TempDir("token")), "--listen=127.0.0.1:0",
                "--token_file=/nonexistent/tokens"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.stderr_text, HasSubstr("/nonexistent/tokens"));
  EXPECT_THAT(result.stderr_text, Not(HasSubstr("event=ledger_ready")));
}

TEST(LedgerServiceMainTest, RefusesABadTokenFileNamingTheLine) {
  const std::string dir = TempDir("badtokens");
  const std::string tokens = absl::StrCat(dir, "/tokens");
  WriteTextFile(tokens, absl::StrCat("# lab tokens\n", std::string(64, 'a'),
                                     " superuser\n"));
  const common::ProcessResult result =
      RunToEnd({absl::StrCat("--db=", dir, "/db"), "--listen=127.0.0.1:0",
                absl::StrCat("--token_file=", tokens)});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text,
              HasSubstr(absl::StrCat(tokens, ":2: unknown role")));
}

TEST(LedgerServiceMainTest, RefusesABadClusterCap) {
  const common::ProcessResult result =
      RunToEnd({absl::StrCat("--db=", TempDir("cap")), "--listen=127.0.0.1:0",
                "--cluster_cap=hpc1=10", "--cluster_cap=gpu"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_text, HasSubstr("--cluster_cap=\\\"gpu\\\""));
}

// A running ledger_service whose stderr is read line by line.
class ServerProcess final {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::vector<std::string> argv_strings = {Binary()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) !=
        0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    stderr_fd_ = fds[0];
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stderr_fd_ >= 0) close(stderr_fd_);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Reads stderr until a line contains `text`; returns that line.
  std::optional<std::string> WaitForLine(const std::string& text) {
    const absl::Time deadline = absl::Now() + kWait;
    while (true) {
      size_t newline;
      while ((newline = buffer_.find('\n')) != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        all_ += line + "\n";
        if (line.find(text) != std::string::npos) return line;
      }
      if (!ReadSome(deadline)) return std::nullopt;
    }
  }

  // Sends `signal`, reads stderr to its end and returns the exit status.
  int StopWith(int signal) {
    kill(pid_, signal);
    while (ReadSome(absl::Now() + kWait)) {
    }
    all_ += buffer_;
    buffer_.clear();
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  const std::string& output() const { return all_; }

 private:
  // False at end of file or at the deadline.
  bool ReadSome(absl::Time deadline) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd fd{stderr_fd_, POLLIN, 0};
    const int ready = poll(&fd, 1, absl::ToInt64Milliseconds(left) + 1);
    if (ready <= 0) return ready < 0 && errno == EINTR;
    char chunk[4096];
    const ssize_t n = read(stderr_fd_, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string buffer_;
  std::string all_;
};

TEST(LedgerServiceMainTest, ServesOnPortZeroAndStopsCleanlyOnSigterm) {
  const std::string dir = TempDir("serve");
  const std::string db = absl::StrCat(dir, "/db");  // created by the server
  const std::string port_file = absl::StrCat(dir, "/port");
  ServerProcess server({absl::StrCat("--db=", db), "--listen=127.0.0.1:0",
                        absl::StrCat("--port_file=", port_file),
                        "--cluster_cap=hpc1=3", "--cluster_cap=gpu=1",
                        "--staleness=2m"});
  ASSERT_TRUE(server.started());
  std::optional<std::string> ready = server.WaitForLine("event=ledger_ready");
  ASSERT_TRUE(ready.has_value()) << server.output();

  // The port file was written before the server said it was ready.
  std::ifstream in(port_file);
  std::stringstream text;
  text << in.rdbuf();
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(text.str()), &port))
      << text.str();
  EXPECT_THAT(*ready, HasSubstr(absl::StrCat("port=", port)));
  EXPECT_THAT(*ready, HasSubstr("staleness=2m"));

  // It answers, and both repeated caps arrived.
  auto stub = v1::LedgerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  v1::ImportBatchRequest import;
  v1::BatchDefinition* batch = import.mutable_batch();
  batch->set_name("b");
  batch->set_cluster("gpu");
  batch->set_run_root_directory("/runs/b");
  v1::JobDefinition* job = batch->add_jobs();
  job->set_key("b/m");
  job->set_basename("m");
  job->set_directory("/runs/b/m");
  job->set_relative_directory("m");
  job->set_program(v1::PROGRAM_XTB);
  v1::ImportBatchResponse imported;
  grpc::ClientContext import_context;
  import_context.set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoMilliseconds(kWait));
  const grpc::Status import_status =
      stub->ImportBatch(&import_context, import, &imported);
  ASSERT_TRUE(import_status.ok()) << import_status.error_message();

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(kWait));
  v1::ListClustersResponse clusters;
  const grpc::Status status =
      stub->ListClusters(&context, v1::ListClustersRequest(), &clusters);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, int> caps;
  for (const v1::ClusterInfo& cluster : clusters.clusters()) {
    caps[cluster.name()] = cluster.cap();
  }
  EXPECT_EQ(caps["gpu"], 1) << clusters.DebugString();
  if (caps.count("hpc1") != 0) {
    EXPECT_EQ(caps["hpc1"], 3);
  }

  EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.output();
  EXPECT_THAT(server.output(),
              HasSubstr("event=shutdown_requested signal=SIGTERM"));
  EXPECT_THAT(server.output(), HasSubstr("event=ledger_stopped"));
  EXPECT_THAT(server.output(), Not(HasSubstr("event=fatal")));

  // The database it created opens again, with the batch in it.
  ServerProcess again({absl::StrCat("--db=", db), "--listen=127.0.0.1:0"});
  std::optional<std::string> ready_again =
      again.WaitForLine("event=ledger_ready");
  ASSERT_TRUE(ready_again.has_value()) << again.output();
  EXPECT_EQ(again.StopWith(SIGINT), 0) << again.output();
  EXPECT_THAT(again.output(), HasSubstr("signal=SIGINT"));
}

// The port a ledger_ready line names.
int PortOf(const std::string& ready_line) {
  const size_t at = ready_line.find("port=");
  int port = 0;
  if (at == std::string::npos ||
      !absl::SimpleAtoi(
          ready_line.substr(at + 5, ready_line.find(' ', at) - at - 5),
          &port)) {
    ADD_FAILURE() << "no port in " << ready_line;
  }
  return port;
}

grpc::Status ListClustersWith(int port, const std::string& token) {
  auto stub = v1::LedgerService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(kWait));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  v1::ListClustersResponse clusters;
  return stub->ListClusters(&context, v1::ListClustersRequest(), &clusters);
}

TEST(LedgerServiceMainTest, ServesWithTokensAndReloadsThemOnSighup) {
  const std::string dir = TempDir("tokens");
  const std::string tokens = absl::StrCat(dir, "/tokens");
  const std::string first = "first-reader-token-5f1e2d3c4b5a";
  const std::string second = "second-reader-token-a1b2c3d4e5f6";
  WriteTextFile(tokens, absl::StrCat(Sha256Hex(first), " reader\n"));
  // With tokens, a wildcard address is allowed (with a warning, no TLS).
  ServerProcess server({absl::StrCat("--db=", dir, "/db"), "--listen=0.0.0.0:0",
                        absl::StrCat("--token_file=", tokens)});
  ASSERT_TRUE(server.started());
  std::optional<std::string> ready = server.WaitForLine("event=ledger_ready");
  ASSERT_TRUE(ready.has_value()) << server.output();
  EXPECT_THAT(server.output(), HasSubstr("event=tokens_loaded"));
  EXPECT_THAT(server.output(), HasSubstr("event=plaintext_tokens"));
  EXPECT_THAT(server.output(), HasSubstr("auth=tokens"));
  const int port = PortOf(*ready);

  EXPECT_EQ(ListClustersWith(port, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListClustersWith(port, first).ok());

  // Rotate: the second token replaces the first.
  WriteTextFile(tokens, absl::StrCat(Sha256Hex(second), " reader\n"));
  kill(server.pid(), SIGHUP);
  ASSERT_TRUE(server.WaitForLine("event=tokens_loaded tokens=1").has_value())
      << server.output();
  EXPECT_EQ(ListClustersWith(port, first).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListClustersWith(port, second).ok());

  // A broken file is reported and changes nothing.
  WriteTextFile(tokens, "not a token line\n");
  kill(server.pid(), SIGHUP);
  std::optional<std::string> failed =
      server.WaitForLine("event=tokens_reload_failed");
  ASSERT_TRUE(failed.has_value()) << server.output();
  EXPECT_THAT(*failed, HasSubstr(absl::StrCat(tokens, ":1: ")));
  EXPECT_TRUE(ListClustersWith(port, second).ok());

  EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.output();
  EXPECT_THAT(server.output(), HasSubstr("event=auth_refused"));
  EXPECT_THAT(server.output(), Not(HasSubstr(first)));
  EXPECT_THAT(server.output(), Not(HasSubstr(second)));
}

TEST(LedgerServiceMainTest, APortInUseIsAFatalErrorNamingTheAddress) {
  const std::string dir = TempDir("inuse");
  ServerProcess first(
      {absl::StrCat("--db=", dir, "/db1"), "--listen=127.0.0.1:0"});
  std::optional<std::string> ready = first.WaitForLine("event=ledger_ready");
  ASSERT_TRUE(ready.has_value()) << first.output();
  const size_t at = ready->find("port=");
  ASSERT_NE(at, std::string::npos);
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      ready->substr(at + 5, ready->find(' ', at) - at - 5), &port));

  const common::ProcessResult second =
      RunToEnd({absl::StrCat("--db=", dir, "/db2"),
                absl::StrCat("--listen=127.0.0.1:", port)});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.stderr_text,
              HasSubstr(absl::StrCat("cannot listen on \\\"127.0.0.1:", port)));
  EXPECT_EQ(first.StopWith(SIGTERM), 0);
}

TEST(LedgerServiceMainTest, MetricsListenServesMetricsAndAPortInUseStopsIt) {
  const std::string dir = TempDir("metrics");
  ServerProcess server({absl::StrCat("--db=", dir, "/db1"),
                        "--listen=127.0.0.1:0",
                        "--metrics_listen=127.0.0.1:0"});
  ASSERT_TRUE(server.started());
  std::optional<std::string> serving =
      server.WaitForLine("event=metrics_serving");
  ASSERT_TRUE(serving.has_value()) << server.output();
  ASSERT_TRUE(server.WaitForLine("event=ledger_ready").has_value())
      << server.output();
  const size_t at = serving->find(" port=");
  ASSERT_NE(at, std::string::npos) << *serving;
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(serving->substr(at + 6), &port)) << *serving;

  CCB_ASSERT_OK_AND_ASSIGN(const std::string text,
                           ::ccbatch::testing::ScrapeMetrics(port));
  EXPECT_THAT(text, HasSubstr("ccbatch_ledger_jobs{status=\"READY\"} 0\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE ccbatch_ledger_orders_sent_total counter"));

  // A second ledger asking for the same metrics port refuses to start.
  const common::ProcessResult second =
      RunToEnd({absl::StrCat("--db=", dir, "/db2"), "--listen=127.0.0.1:0",
                absl::StrCat("--metrics_listen=127.0.0.1:", port)});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.stderr_text, HasSubstr("--metrics_listen: cannot serve"));
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace ccbatch::ledger
