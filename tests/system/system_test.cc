// End-to-end tests on a real single-node SLURM running real xtb jobs,
// driven through ccctl (DESIGN §10, issue 6). scripts/test.sh starts the
// SLURM and passes SLURM_CONF; without it every case skips with the reason.
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/system/lab_system.h"

namespace ccbatch::system_test {
namespace {

using ::ccbatch::v1::JobStatus;
using ::ccbatch::v1::JobView;

constexpr absl::Duration kBatchTimeout = absl::Minutes(6);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Basename(const std::string& key) {
  return std::string(key.substr(key.find('/') + 1));
}

// The final statuses the demo batch must reach (examples/xtb-demo/README.md).
std::map<std::string, JobStatus> ExpectedDemoStatuses() {
  std::map<std::string, JobStatus> expected;
  for (const char* molecule : {"water", "methane", "ammonia", "ethylene"}) {
    expected[absl::StrCat(molecule, "_opt")] = v1::JOB_STATUS_SUCCEEDED;
    expected[absl::StrCat(molecule, "_sp")] = v1::JOB_STATUS_SUCCEEDED;
  }
  expected["clash_opt"] = v1::JOB_STATUS_FAILED;
  expected["clash_sp"] = v1::JOB_STATUS_BROKEN_DEPENDENCY;
  return expected;
}

std::map<std::string, JobStatus> StatusesByName(
    const std::vector<JobView>& jobs) {
  std::map<std::string, JobStatus> statuses;
  for (const JobView& job : jobs) statuses[job.basename()] = job.status();
  return statuses;
}

std::string Describe(const std::vector<JobView>& jobs) {
  std::string text;
  for (const JobView& job : jobs) {
    absl::StrAppend(&text, "  ", job.key(), " ",
                    v1::JobStatus_Name(job.status()), ": ", job.reason(), "\n");
  }
  return text;
}

bool IsActive(JobStatus status) {
  return status == v1::JOB_STATUS_SUBMITTING ||
         status == v1::JOB_STATUS_SUBMITTED ||
         status == v1::JOB_STATUS_PENDING || status == v1::JOB_STATUS_RUNNING ||
         status == v1::JOB_STATUS_COMPLETING;
}

// A value of slurm.conf (e.g. "SlurmctldPidFile").
std::string SlurmConfValue(const std::string& key) {
  for (absl::string_view line :
       absl::StrSplit(ReadFile(std::getenv("SLURM_CONF")), '\n')) {
    if (absl::ConsumePrefix(&line, absl::StrCat(key, "="))) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

class SystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string reason = LabSystem::SkipReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    // SLURM was configured for this run, so it must answer: a dead
    // controller is a failure, never a skip.
    const std::string down = LabSystem::SlurmProblem();
    ASSERT_TRUE(down.empty()) << down;
    const std::string dir = absl::StrCat(
        std::getenv("TEST_TMPDIR"), "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    lab_ = std::make_unique<LabSystem>(dir);
    ASSERT_EQ(lab_->Run({"mkdir", "-p", dir}).exit_code, 0);
  }

  void TearDown() override {
    if (lab_ != nullptr && HasFailure()) {
      std::cerr << lab_->Logs() << "\n";
    }
  }

  // Starts both services and imports a fresh copy of the demo batch.
  std::string StartDemo(const std::string& name,
                        absl::Duration staleness = absl::Minutes(5)) {
    EXPECT_TRUE(lab_->StartLedger(staleness).ok());
    EXPECT_TRUE(lab_->StartAgent().ok());
    auto batchfile = lab_->PrepareDemo(name);
    EXPECT_TRUE(batchfile.ok()) << batchfile.status();
    CommandResult import = lab_->Ccctl({"import", *batchfile});
    EXPECT_EQ(import.exit_code, 0) << import.err << import.out;
    return name;
  }

  std::vector<JobView> JobsOrDie(const std::string& batch) {
    auto jobs = lab_->Jobs(batch);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? *jobs : std::vector<JobView>{};
  }

  // Waits until every job of the batch is final; returns the jobs.
  std::vector<JobView> WaitUntilFinal(const std::string& batch,
                                      absl::Duration timeout = kBatchTimeout) {
    std::vector<JobView> jobs;
    bool done = LabSystem::WaitFor(
        [&] {
          jobs = JobsOrDie(batch);
          return !jobs.empty() &&
                 std::all_of(jobs.begin(), jobs.end(), [](const JobView& j) {
                   return IsFinal(j.status());
                 });
        },
        timeout);
    EXPECT_TRUE(done) << "batch " << batch << " not final after "
                      << absl::FormatDuration(timeout) << ":\n"
                      << Describe(jobs);
    return jobs;
  }

  // Every order id of the batch's attempts appears at most once among the
  // ccbatch tags in squeue (no job was submitted twice), and every job that
  // could run has exactly `attempts` attempts (a broken one has none).
  void ExpectSubmittedOnce(const std::vector<JobView>& jobs, int attempts) {
    CommandResult queue =
        lab_->Run({"squeue", "--noheader", "-t", "all", "-o", "%k"});
    ASSERT_EQ(queue.exit_code, 0) << queue.err;
    std::map<std::string, int> tags;
    for (absl::string_view line : absl::StrSplit(queue.out, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "ccb:")) ++tags[std::string(line)];
    }
    for (const JobView& job : jobs) {
      auto shown = lab_->Show(job.key());
      ASSERT_TRUE(shown.ok()) << shown.status();
      const int expected =
          job.status() == v1::JOB_STATUS_BROKEN_DEPENDENCY ? 0 : attempts;
      EXPECT_EQ(shown->attempts_size(), expected) << job.key();
      for (const v1::Attempt& attempt : shown->attempts()) {
        EXPECT_LE(tags[attempt.order_id()], 1)
            << job.key() << " order " << attempt.order_id()
            << " was submitted more than once";
      }
    }
  }

  std::unique_ptr<LabSystem> lab_;
};

TEST_F(SystemTest, DemoBatchReachesExpectedFinalStatuses) {
  const std::string batch = StartDemo("demo");
  std::vector<JobView> jobs = WaitUntilFinal(batch);
  EXPECT_EQ(StatusesByName(jobs), ExpectedDemoStatuses()) << Describe(jobs);

  // Every SUCCEEDED job's xtb output really ends normally.
  for (const JobView& job : jobs) {
    if (job.status() != v1::JOB_STATUS_SUCCEEDED) continue;
    const std::string output =
        ReadFile(absl::StrCat(job.directory(), "/", job.basename(), ".out"));
    EXPECT_THAT(output, ::testing::HasSubstr("* finished run on")) << job.key();
  }

  // max_parallel=3 was never exceeded: replay every status change in order.
  std::vector<v1::JobEvent> events;
  for (const JobView& job : jobs) {
    auto shown = lab_->Show(job.key());
    ASSERT_TRUE(shown.ok()) << shown.status();
    events.insert(events.end(), shown->events().begin(), shown->events().end());
  }
  std::sort(events.begin(), events.end(),
            [](const v1::JobEvent& a, const v1::JobEvent& b) {
              return a.seq() < b.seq();
            });
  std::set<std::string> active;
  size_t most = 0;
  for (const v1::JobEvent& event : events) {
    if (IsActive(event.to_status())) {
      active.insert(event.job_key());
    } else {
      active.erase(event.job_key());
    }
    most = std::max(most, active.size());
  }
  EXPECT_GE(most, 1u) << "no job was ever seen in the queue";
  EXPECT_LE(most, 3u) << "more than max_parallel=3 jobs were in flight";
  ExpectSubmittedOnce(jobs, 1);
}

TEST_F(SystemTest, RetryAfterFixingInputUnbreaksTheDependant) {
  const std::string batch = StartDemo("retry");
  std::vector<JobView> jobs = WaitUntilFinal(batch);
  ASSERT_EQ(StatusesByName(jobs)["clash_opt"], v1::JOB_STATUS_FAILED)
      << Describe(jobs);
  ASSERT_EQ(StatusesByName(jobs)["clash_sp"], v1::JOB_STATUS_BROKEN_DEPENDENCY);

  // Fix the input: a sensible water geometry in place of the clash.
  const std::string opt_dir =
      absl::StrCat(lab_->work_dir(), "/retry/clash/opt");
  std::ofstream(absl::StrCat(opt_dir, "/start.xyz"), std::ios::trunc)
      << "3\nfixed\nO 0.000 0.000 0.117\nH 0.000 0.757 -0.467\n"
         "H 0.000 -0.757 -0.467\n";
  CommandResult retry = lab_->Ccctl({"retry", "retry/clash_opt"});
  ASSERT_EQ(retry.exit_code, 0) << retry.err << retry.out;

  jobs = WaitUntilFinal(batch);
  EXPECT_EQ(StatusesByName(jobs)["clash_opt"], v1::JOB_STATUS_SUCCEEDED)
      << Describe(jobs);
  EXPECT_EQ(StatusesByName(jobs)["clash_sp"], v1::JOB_STATUS_SUCCEEDED);

  // The dependant went BROKEN_DEPENDENCY -> WAITING -> ... -> SUCCEEDED.
  auto shown = lab_->Show("retry/clash_sp");
  ASSERT_TRUE(shown.ok()) << shown.status();
  std::vector<JobStatus> path;
  for (const v1::JobEvent& event : shown->events()) {
    path.push_back(event.to_status());
  }
  auto broken =
      std::find(path.begin(), path.end(), v1::JOB_STATUS_BROKEN_DEPENDENCY);
  ASSERT_NE(broken, path.end());
  ASSERT_NE(broken + 1, path.end());
  EXPECT_EQ(*(broken + 1), v1::JOB_STATUS_WAITING);
  EXPECT_EQ(path.back(), v1::JOB_STATUS_SUCCEEDED);
  // The old attempt's output was archived, not judged again.
  EXPECT_FALSE(
      ReadFile(absl::StrCat(opt_dir, "/.ccbatch/attempt-1/clash_opt.out"))
          .empty());
}

TEST_F(SystemTest, QueueOutageNeverFinishesJobs) {
  // Slow jobs so they are still queued or running while slurmctld is down.
  const absl::Duration staleness = absl::Seconds(25);
  ASSERT_TRUE(lab_->StartLedger(staleness).ok());
  ASSERT_TRUE(lab_->StartAgent().ok());
  const std::string root = absl::StrCat(lab_->work_dir(), "/outage");
  std::string batchfile_text =
      absl::StrCat("run_root_directory=", root,
                   "\nbatch=outage\njob_basename|job_directory|program|pipe\n");
  for (int i = 0; i < 3; ++i) {
    const std::string dir = absl::StrCat(root, "/slow", i);
    ASSERT_EQ(lab_->Run({"mkdir", "-p", dir}).exit_code, 0);
    std::ofstream(absl::StrCat(dir, "/start.xyz"))
        << "3\nwater\nO 0.000 0.000 0.117\nH 0.000 0.757 -0.467\n"
           "H 0.000 -0.757 -0.467\n";
    std::ofstream(absl::StrCat(dir, "/slow", i, ".sh"))
        << "#!/bin/bash\n#SBATCH --job-name=slow" << i
        << "\nexport OMP_NUM_THREADS=1\nsleep 40\nxtb start.xyz --opt > slow"
        << i << ".out 2>&1\n";
    absl::StrAppend(&batchfile_text, "slow", i, "|slow", i, "|xtb|\n");
  }
  std::ofstream(absl::StrCat(root, "/batchfile.csv")) << batchfile_text;
  CommandResult import =
      lab_->Ccctl({"import", absl::StrCat(root, "/batchfile.csv")});
  ASSERT_EQ(import.exit_code, 0) << import.err << import.out;

  ASSERT_TRUE(LabSystem::WaitFor(
      [&] {
        auto statuses = StatusesByName(JobsOrDie("outage"));
        return std::count_if(statuses.begin(), statuses.end(), [](auto& s) {
                 return s.second == v1::JOB_STATUS_RUNNING;
               }) >= 1;
      },
      absl::Minutes(2)))
      << Describe(JobsOrDie("outage"));

  // The controller stops answering: SIGSTOP, a hung slurmctld (slurmd keeps
  // running the jobs). Stopping it for good would need a restart from
  // inside the test, whose processes Bazel kills when the test ends.
  const std::string pid = std::string(
      absl::StripAsciiWhitespace(ReadFile(SlurmConfValue("SlurmctldPidFile"))));
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(lab_->Run({"kill", "-STOP", pid}).exit_code, 0);
  struct ControllerResumer {
    LabSystem* lab;
    std::string pid;
    ~ControllerResumer() { lab->Run({"kill", "-CONT", pid}); }
  } resume_on_exit{lab_.get(), pid};

  // The probe error shows, and no job turns final or COMPLETING because of it.
  bool saw_probe_error = false;
  bool saw_unknown = false;
  ASSERT_TRUE(LabSystem::WaitFor(
      [&] {
        auto clusters = lab_->Clusters();
        if (clusters.ok()) {
          for (const auto& cluster : clusters->clusters()) {
            if (!cluster.last_probe_error().empty()) saw_probe_error = true;
          }
        }
        for (const JobView& job : JobsOrDie("outage")) {
          EXPECT_FALSE(IsFinal(job.status()) ||
                       job.status() == v1::JOB_STATUS_COMPLETING)
              << "during the outage: " << job.key() << " "
              << v1::JobStatus_Name(job.status()) << ": " << job.reason();
          if (job.status() == v1::JOB_STATUS_UNKNOWN) saw_unknown = true;
        }
        return saw_probe_error;
      },
      absl::Seconds(60)));
  EXPECT_FALSE(saw_unknown) << "UNKNOWN before the staleness limit";

  // After the staleness limit the jobs are UNKNOWN, still never finished.
  EXPECT_TRUE(LabSystem::WaitFor(
      [&] {
        std::vector<JobView> jobs = JobsOrDie("outage");
        for (const JobView& job : jobs) {
          EXPECT_FALSE(IsFinal(job.status()) ||
                       job.status() == v1::JOB_STATUS_COMPLETING)
              << job.key() << " " << job.reason();
        }
        return std::all_of(jobs.begin(), jobs.end(), [](const JobView& j) {
          return j.status() == v1::JOB_STATUS_UNKNOWN;
        });
      },
      staleness + absl::Seconds(30)))
      << Describe(JobsOrDie("outage"));

  // The controller comes back: everything resumes and finishes.
  ASSERT_EQ(lab_->Run({"kill", "-CONT", pid}).exit_code, 0);
  std::vector<JobView> jobs = WaitUntilFinal("outage");
  for (const JobView& job : jobs) {
    EXPECT_EQ(job.status(), v1::JOB_STATUS_SUCCEEDED) << Describe(jobs);
  }
}

TEST_F(SystemTest, LedgerKilledMidBatchRestartsWithTheSameStatuses) {
  const std::string batch = StartDemo("ledgercrash");
  ASSERT_TRUE(LabSystem::WaitFor(
      [&] {
        std::vector<JobView> jobs = JobsOrDie(batch);
        return std::any_of(jobs.begin(), jobs.end(), [](const JobView& j) {
          return j.status() == v1::JOB_STATUS_SUCCEEDED;
        });
      },
      kBatchTimeout));
  // Freeze the agent so no new fact arrives between the two readings.
  lab_->agent().Pause();
  std::vector<JobView> before = JobsOrDie(batch);
  ASSERT_TRUE(lab_->StopLedger(SIGKILL).ok());
  ASSERT_TRUE(lab_->StartLedger().ok());
  std::vector<JobView> after = JobsOrDie(batch);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].key(), before[i].key());
    EXPECT_EQ(after[i].status(), before[i].status())
        << after[i].key() << " before: " << before[i].reason()
        << " after: " << after[i].reason();
  }
  lab_->agent().Resume();
  std::vector<JobView> jobs = WaitUntilFinal(batch);
  EXPECT_EQ(StatusesByName(jobs), ExpectedDemoStatuses()) << Describe(jobs);
  ExpectSubmittedOnce(jobs, 1);
}

TEST_F(SystemTest, AgentKilledMidBatchNeverSubmitsTwice) {
  const std::string batch = StartDemo("agentcrash");
  ASSERT_TRUE(LabSystem::WaitFor(
      [&] {
        std::vector<JobView> jobs = JobsOrDie(batch);
        return std::any_of(jobs.begin(), jobs.end(), [](const JobView& j) {
          return j.status() == v1::JOB_STATUS_SUBMITTED ||
                 j.status() == v1::JOB_STATUS_PENDING ||
                 j.status() == v1::JOB_STATUS_RUNNING;
        });
      },
      kBatchTimeout));
  ASSERT_TRUE(lab_->StopAgent(SIGKILL).ok());
  ASSERT_TRUE(lab_->StartAgent().ok());
  std::vector<JobView> jobs = WaitUntilFinal(batch);
  EXPECT_EQ(StatusesByName(jobs), ExpectedDemoStatuses()) << Describe(jobs);
  ExpectSubmittedOnce(jobs, 1);
}

TEST_F(SystemTest, JobsThatVanishFastAreStillJudgedByTheirOutputs) {
  // MinJobAge of 2 s: finished jobs leave `squeue -t all` within seconds,
  // usually before the agent's next probe sees them finished.
  const std::string conf = std::getenv("SLURM_CONF");
  const std::string original = ReadFile(conf);
  struct ConfRestorer {
    LabSystem* lab;
    std::string conf, text;
    ~ConfRestorer() {
      std::ofstream(conf, std::ios::trunc) << text;
      lab->Run({"scontrol", "reconfigure"});
    }
  } restore{lab_.get(), conf, original};
  std::string fast = original;
  const size_t at = fast.find("MinJobAge=");
  ASSERT_NE(at, std::string::npos);
  fast.replace(at, fast.find('\n', at) - at, "MinJobAge=2");
  std::ofstream(conf, std::ios::trunc) << fast;
  CommandResult reconfigure = lab_->Run({"scontrol", "reconfigure"});
  ASSERT_EQ(reconfigure.exit_code, 0) << reconfigure.err;

  const std::string batch = StartDemo("vanish");
  std::vector<JobView> jobs = WaitUntilFinal(batch);
  EXPECT_EQ(StatusesByName(jobs), ExpectedDemoStatuses()) << Describe(jobs);
}

TEST_F(SystemTest, ExistingOutputsAreAdoptedNotResubmitted) {
  ASSERT_TRUE(lab_->StartLedger().ok());
  ASSERT_TRUE(lab_->StartAgent().ok());
  auto batchfile = lab_->PrepareDemo("adopt");
  ASSERT_TRUE(batchfile.ok()) << batchfile.status();
  // Produce every output before the import, by running the job scripts
  // directly (as a user who ran them earlier by hand would have).
  const std::string root = absl::StrCat(lab_->work_dir(), "/adopt");
  for (const char* molecule :
       {"water", "methane", "ammonia", "ethylene", "clash"}) {
    const std::string script = absl::StrCat(
        "cd ", root, "/", molecule, "/opt && bash ", molecule,
        "_opt.sh; [ -f xtbopt.xyz ] && cp xtbopt.xyz ../sp/ && cd ../sp && "
        "bash ",
        molecule, "_sp.sh; true");
    lab_->Run({"bash", "-c", script});
  }
  CommandResult import = lab_->Ccctl({"import", *batchfile});
  ASSERT_EQ(import.exit_code, 0) << import.err << import.out;
  std::vector<JobView> jobs = WaitUntilFinal("adopt", absl::Minutes(2));
  std::map<std::string, JobStatus> expected = ExpectedDemoStatuses();
  EXPECT_EQ(StatusesByName(jobs), expected) << Describe(jobs);
  for (const JobView& job : jobs) {
    EXPECT_EQ(job.attempt(), 0)
        << job.key() << " was submitted: " << job.reason();
  }
}

}  // namespace
}  // namespace ccbatch::system_test
