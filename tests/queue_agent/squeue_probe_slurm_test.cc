// SqueueProbe against a real SLURM (scripts/slurm-local.sh), read-only: it
// only runs squeue. Skipped unless SLURM_CONF names a configuration, e.g.
//   bazel test //tests/queue_agent:squeue_probe_slurm_test \
//     --test_env=SLURM_CONF=/tmp/ccbatch-slurm/etc/slurm.conf
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <variant>

#include "common/clock.h"
#include "common/current_user.h"
#include "common/process_runner.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/squeue_probe.h"

namespace ccbatch::agent {
namespace {

using ::testing::HasSubstr;

bool HaveSlurm() {
  const char* conf = std::getenv("SLURM_CONF");
  struct stat info;
  return conf != nullptr && stat(conf, &info) == 0;
}

std::unique_ptr<SqueueProbe> MakeProbe(common::ProcessRunner* runner,
                                       std::string user) {
  SqueueProbeOptions options;
  options.user = std::move(user);
  options.timeout = absl::Seconds(30);
  absl::StatusOr<std::unique_ptr<SqueueProbe>> probe =
      SqueueProbe::Create(options, runner, common::RealClock::Default());
  EXPECT_TRUE(probe.ok()) << probe.status();
  return *std::move(probe);
}

TEST(SqueueProbeSlurmTest, OwnQueueIsASnapshotWithoutOddLines) {
  if (!HaveSlurm()) GTEST_SKIP() << "no SLURM_CONF; skipping";
  common::RealProcessRunner runner;
  CCB_ASSERT_OK_AND_ASSIGN(std::string user, common::CurrentUserName());
  const ProbeOutcome outcome = MakeProbe(&runner, user)->Probe();
  const auto* snapshot = std::get_if<QueueSnapshot>(&outcome);
  ASSERT_NE(snapshot, nullptr) << std::get<v1::ProbeFailure>(outcome).error();
  EXPECT_EQ(snapshot->diagnostics.malformed_lines(), 0);
  EXPECT_EQ(snapshot->diagnostics.unknown_states(), 0);
  for (const QueueRow& entry : snapshot->entries) {
    EXPECT_TRUE(IsSlurmJobId(entry.slurm_job_id()))
        << entry.ToEntry().ShortDebugString();
  }
}

TEST(SqueueProbeSlurmTest, UnknownUserIsAFailure) {
  if (!HaveSlurm()) GTEST_SKIP() << "no SLURM_CONF; skipping";
  common::RealProcessRunner runner;
  const ProbeOutcome outcome =
      MakeProbe(&runner, "ccbatch-no-such-user")->Probe();
  const auto* failure = std::get_if<v1::ProbeFailure>(&outcome);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->exit_code(), 0);
  EXPECT_THAT(failure->error(), HasSubstr("Invalid user"));
}

}  // namespace
}  // namespace ccbatch::agent
