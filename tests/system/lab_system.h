// The real system for end-to-end tests: a ledger_service (RocksDB under the
// test's temporary directory), one queue_agent talking to the local SLURM
// started by scripts/slurm-local.sh, and ccctl to drive them, all as real
// processes over real sockets. Facts are read back through `ccctl -o json`,
// exactly as a lab service would.
//
// Not thread-safe; one per test.
#ifndef CCBATCH_TESTS_SYSTEM_LAB_SYSTEM_H_
#define CCBATCH_TESTS_SYSTEM_LAB_SYSTEM_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ccbatch/v1/ledger.pb.h"
#include "tests/system/daemon_process.h"

namespace ccbatch::system_test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class LabSystem final {
 public:
  // Why the system tests cannot run here (not root, no SLURM_CONF), or
  // empty when they can.
  static std::string SkipReason();
  // What is wrong with the configured SLURM (squeue cannot reach the
  // controller), or empty when it answers.
  static std::string SlurmProblem();

  // `work_dir`: a fresh directory for databases, state, logs and job trees.
  explicit LabSystem(std::string work_dir);
  ~LabSystem();

  absl::Status StartLedger(absl::Duration staleness = absl::Minutes(5));
  absl::Status StopLedger(int signal);
  absl::Status StartAgent(absl::Duration output_grace = absl::Seconds(20));
  absl::Status StopAgent(int signal);
  DaemonProcess& agent() { return agent_; }

  // Runs ccctl against the ledger.
  CommandResult Ccctl(const std::vector<std::string>& args);
  // Runs any program (shell commands for SLURM control) to completion.
  CommandResult Run(const std::vector<std::string>& argv,
                    absl::Duration timeout = absl::Seconds(120));

  absl::StatusOr<std::vector<ccbatch::v1::JobView>> Jobs(
      const std::string& batch);
  absl::StatusOr<ccbatch::v1::GetJobResponse> Show(const std::string& key);
  absl::StatusOr<ccbatch::v1::ListClustersResponse> Clusters();

  // Copies examples/xtb-demo into `work_dir/<name>`, points its
  // run_root_directory there and renames the batch; returns the batchfile.
  absl::StatusOr<std::string> PrepareDemo(const std::string& name);

  // Polls `condition` every half second until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition,
                      absl::Duration timeout);

  const std::string& work_dir() const { return work_dir_; }
  std::string ledger_address() const;
  // Tail of the daemons' logs, for failure messages.
  std::string Logs() const;

 private:
  std::string work_dir_;
  int ledger_port_ = 0;
  DaemonProcess ledger_;
  DaemonProcess agent_;
};

// Statuses after which nothing changes unless a user acts.
bool IsFinal(ccbatch::v1::JobStatus status);

}  // namespace ccbatch::system_test

#endif  // CCBATCH_TESTS_SYSTEM_LAB_SYSTEM_H_
