#include "queue_agent/agent_app.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/fake_file_system.h"
#include "common/fake_process_runner.h"
#include "common/file_system.h"
#include "common/process_runner.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/squeue_probe.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::common::ExitedWith;
using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1767225600);

TEST(ValidateIntervalTest, RefusesBelowFiveSeconds) {
  EXPECT_THAT(ValidateInterval(absl::Seconds(4)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--interval=4s"), HasSubstr("5s"),
                             HasSubstr("rate-limit"))));
  EXPECT_THAT(ValidateInterval(absl::Seconds(5)), IsOk());
  EXPECT_THAT(ValidateInterval(absl::Seconds(30)), IsOk());
}

class LedgerConnectionTest : public ::testing::Test {
 protected:
  LedgerConnectionFlags Flags() {
    LedgerConnectionFlags flags;
    flags.ledger = "ledger.lab:7070";
    return flags;
  }
  common::FakeFileSystem fs_;
};

TEST_F(LedgerConnectionTest, PlainWithoutToken) {
  CCB_ASSERT_OK_AND_ASSIGN(LedgerConnection connection,
                           ResolveLedgerConnection(Flags(), fs_));
  EXPECT_EQ(connection.target, "ledger.lab:7070");
  EXPECT_FALSE(connection.tls);
  EXPECT_NE(connection.credentials, nullptr);
  EXPECT_THAT(connection.bearer_token, IsEmpty());
}

TEST_F(LedgerConnectionTest, TokenIsReadFromTheFileAndTrimmed) {
  fs_.SetFile("/home/u/agent.token", "  s3cr3t-token\n", kNow);
  LedgerConnectionFlags flags = Flags();
  flags.token_file = "/home/u/agent.token";
  CCB_ASSERT_OK_AND_ASSIGN(LedgerConnection connection,
                           ResolveLedgerConnection(flags, fs_));
  EXPECT_EQ(connection.bearer_token, "s3cr3t-token");
}

TEST_F(LedgerConnectionTest, BadTokenFilesAreRefused) {
  LedgerConnectionFlags flags = Flags();
  flags.token_file = "/home/u/agent.token";
  EXPECT_THAT(
      ResolveLedgerConnection(flags, fs_),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("--token_file: ")));
  fs_.SetFile("/home/u/agent.token", "\n", kNow);
  EXPECT_THAT(
      ResolveLedgerConnection(flags, fs_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("found nothing")));
  fs_.SetFile("/home/u/agent.token", "two words\n", kNow);
  EXPECT_THAT(
      ResolveLedgerConnection(flags, fs_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("several words")));
}

TEST_F(LedgerConnectionTest, MissingLedgerIsRefused) {
  EXPECT_THAT(ResolveLedgerConnection(LedgerConnectionFlags(), fs_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--ledger is required")));
}

TEST_F(LedgerConnectionTest, TlsFlags) {
  fs_.SetFile("/etc/ccb/ca.pem", "-----BEGIN CERTIFICATE-----\n", kNow);
  LedgerConnectionFlags flags = Flags();
  flags.tls_ca = "/etc/ccb/ca.pem";
  CCB_ASSERT_OK_AND_ASSIGN(LedgerConnection connection,
                           ResolveLedgerConnection(flags, fs_));
  EXPECT_TRUE(connection.tls);
  EXPECT_NE(connection.credentials, nullptr);

  flags.tls_cert = "/etc/ccb/agent.pem";
  EXPECT_THAT(
      ResolveLedgerConnection(flags, fs_),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("go together")));
  flags.tls_key = "/etc/ccb/agent.key";
  EXPECT_THAT(ResolveLedgerConnection(flags, fs_),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--tls_cert")));
}

TEST(ResolveProgramTest, FlagValueOrPathSearch) {
  common::FakeFileSystem fs;
  fs.SetFile("/opt/slurm/bin/squeue", "", kNow);
  fs.SetFile("/usr/bin/sbatch", "", kNow);
  ASSERT_THAT(fs.CreateDirectories("/usr/local/bin/sbatch"), IsOk());
  EXPECT_EQ(ResolveProgram("squeue_bin", "/opt/slurm/bin/squeue", "squeue",
                           "/usr/bin", fs)
                .value_or(""),
            "/opt/slurm/bin/squeue");
  EXPECT_THAT(
      ResolveProgram("squeue_bin", "/nope/squeue", "squeue", "/usr/bin", fs),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("--squeue_bin: ")));
  // Empty entries (the working directory) and directories are skipped.
  EXPECT_EQ(ResolveProgram("sbatch_bin", "", "sbatch",
                           "::/usr/local/bin:/usr/bin/", fs)
                .value_or(""),
            "/usr/bin/sbatch");
  EXPECT_THAT(ResolveProgram("scancel_bin", "", "scancel", "/usr/bin", fs),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("pass --scancel_bin=/path/to/scancel")));
}

std::unique_ptr<SqueueProbe> MakeProbe(common::ProcessRunner* runner,
                                       const common::Clock* clock,
                                       const std::string& squeue_path) {
  SqueueProbeOptions options;
  options.squeue_path = squeue_path;
  options.user = "chemist";
  options.timeout = absl::Seconds(20);
  auto probe = SqueueProbe::Create(options, runner, clock);
  EXPECT_TRUE(probe.ok()) << probe.status();
  return probe.ok() ? *std::move(probe) : nullptr;
}

TEST(RunOnceAndPrintTest, PrintsTheSnapshotAsJson) {
  common::FakeClock clock(kNow);
  common::FakeProcessRunner runner(&clock);
  runner.OnProgram("squeue",
                   ExitedWith(0,
                              "4812\x1fRUNNING\x1fNone\x1fnode01\x1f"
                              "ccb:o-1\x1fwater | opt\n"
                              "4813_2\x1fPENDING\x1fPriority\x1f(null)\x1f"
                              "(null)\x1fmol2\n"));
  std::unique_ptr<SqueueProbe> probe = MakeProbe(&runner, &clock, "squeue");
  ASSERT_NE(probe, nullptr);
  std::ostringstream out, err;
  EXPECT_EQ(RunOnceAndPrint(*probe, out, err), 0);
  EXPECT_THAT(err.str(), IsEmpty());
  const std::string json = out.str();
  EXPECT_THAT(json, HasSubstr("\"slurmJobId\": \"4812\""));
  EXPECT_THAT(json, HasSubstr("\"name\": \"water | opt\""));
  EXPECT_THAT(json, HasSubstr("\"slurmJobId\": \"4813_2\""));
  EXPECT_THAT(json, HasSubstr("\"totalEntries\": \"2\""));
  EXPECT_THAT(json, HasSubstr("\"last\": true"));
  EXPECT_THAT(json, HasSubstr("\"takenAt\": \"2026-01-01T00:00:00Z\""));
}

TEST(RunOnceAndPrintTest, FailedProbeIsSqueuesMessageAndNonZero) {
  common::FakeClock clock(kNow);
  common::FakeProcessRunner runner(&clock);
  runner.OnProgram(
      "squeue",
      ExitedWith(1, "",
                 "slurm_load_jobs error: Unable to contact slurm controller "
                 "(connect failure)\n"));
  std::unique_ptr<SqueueProbe> probe = MakeProbe(&runner, &clock, "squeue");
  ASSERT_NE(probe, nullptr);
  std::ostringstream out, err;
  EXPECT_EQ(RunOnceAndPrint(*probe, out, err), 1);
  EXPECT_THAT(out.str(), IsEmpty());
  EXPECT_THAT(err.str(), HasSubstr("Unable to contact slurm controller"));
}

// A fake squeue as a real shell script, run by the RealProcessRunner.
class RealSqueueScriptTest : public ::testing::Test {
 protected:
  std::string WriteScript(const std::string& name, const std::string& body) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    EXPECT_NE(tmp, nullptr);
    const std::string path = absl::StrCat(tmp, "/", name);
    std::ofstream(path) << "#!/bin/sh\n" << body;
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  }
  common::RealProcessRunner runner_;
};

TEST_F(RealSqueueScriptTest, ArgumentsArriveIntactAndOutputIsPrinted) {
  // The script echoes its own arguments as the job name, proving the
  // format argument with its 0x1F delimiters arrives as one argument.
  const std::string script = WriteScript(
      "squeue_ok",
      "[ \"$1\" = --noheader ] || exit 3\n"
      "for a in \"$@\"; do case \"$a\" in --user=*) user=${a#--user=};; "
      "esac; done\n"
      "printf '4812\\037RUNNING\\037None\\037node01\\037ccb:o-9\\037%s job\\n'"
      " \"$user\"\n");
  std::unique_ptr<SqueueProbe> probe =
      MakeProbe(&runner_, common::RealClock::Default(), script);
  ASSERT_NE(probe, nullptr);
  std::ostringstream out, err;
  EXPECT_EQ(RunOnceAndPrint(*probe, out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("\"name\": \"chemist job\""));
  EXPECT_THAT(out.str(), HasSubstr("\"comment\": \"ccb:o-9\""));
}

TEST_F(RealSqueueScriptTest, InvalidUserWithExitZeroIsAFailure) {
  const std::string script =
      WriteScript("squeue_invalid_user",
                  "echo 'squeue: error: Invalid user: chemist' >&2\nexit 0\n");
  std::unique_ptr<SqueueProbe> probe =
      MakeProbe(&runner_, common::RealClock::Default(), script);
  ASSERT_NE(probe, nullptr);
  std::ostringstream out, err;
  EXPECT_EQ(RunOnceAndPrint(*probe, out, err), 1);
  EXPECT_THAT(out.str(), IsEmpty());
  EXPECT_THAT(err.str(), HasSubstr("Invalid user: chemist"));
}

constexpr absl::string_view kGaussianDone =
    " Entering Gaussian System, Link 0=g16\n"
    " ------------\n"
    " #p b3lyp/6-31g(d) sp\n"
    " ------------\n"
    " SCF Done:  E(RB3LYP) =  -76.4089533     A.U. after    9 cycles\n"
    " Normal termination of Gaussian 16 at Thu Jan  1 00:10:00 2026.\n";

TEST(RunCheckOutputCommandTest, PrintsTheVerdictAsJson) {
  common::FakeFileSystem fs;
  common::FakeClock clock(kNow);
  fs.SetFile("/runs/water.log", kGaussianDone, kNow - absl::Minutes(5));
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckOutputCommand("Gaussian", "", "/runs/water.log", fs, clock,
                                  out, err),
            0)
      << err.str();
  const std::string json = out.str();
  EXPECT_THAT(json, HasSubstr("\"outcome\": \"OUTCOME_SUCCEEDED\""));
  EXPECT_THAT(json, HasSubstr("\"lineNumber\": \"6\""));
  EXPECT_THAT(json, HasSubstr("Normal termination"));
  EXPECT_THAT(json, HasSubstr("\"outputPath\": \"/runs/water.log\""));
  EXPECT_THAT(json, HasSubstr("\"fields\""));
}

TEST(RunCheckOutputCommandTest, BadProgramOrFileIsExitTwo) {
  common::FakeFileSystem fs;
  common::FakeClock clock(kNow);
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckOutputCommand("gausian", "", "/runs/water.log", fs, clock,
                                  out, err),
            2);
  EXPECT_THAT(err.str(), HasSubstr("expected one of gaussian, orca"));
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCheckOutputCommand("orca", "", "/runs/none.out", fs, clock, out2,
                                  err2),
            2);
  EXPECT_THAT(err2.str(), HasSubstr("cannot judge /runs/none.out"));
  EXPECT_THAT(out.str() + out2.str(), IsEmpty());
}

}  // namespace
}  // namespace ccbatch::agent
