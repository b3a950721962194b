#include "queue_agent/output_checker.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "common/fake_file_system.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_sets.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Property;
using Outcome = v1::Verdict::Outcome;

constexpr char kDir[] = "/runs/b1/water";
constexpr char kLog[] = "/runs/b1/water/water.log";
constexpr char kSlurm[] = "/runs/b1/water/slurm-4812.out";

const absl::Time kSubmitted = absl::FromUnixSeconds(1767225600);
const absl::Time kWritten = kSubmitted + absl::Minutes(10);
const absl::Time kFinished = kSubmitted + absl::Minutes(11);

constexpr absl::string_view kGaussianDone =
    " Entering Gaussian System, Link 0=g16\n"
    " ------------\n"
    " #p b3lyp/6-31g(d) sp\n"
    " ------------\n"
    " SCF Done:  E(RB3LYP) =  -76.4089533     A.U. after    9 cycles\n"
    " Normal termination of Gaussian 16 at Thu Jan  1 00:10:00 2026.\n";
constexpr absl::string_view kGaussianRunning =
    " Entering Gaussian System, Link 0=g16\n"
    " ------------\n"
    " #p b3lyp/6-31g(d) sp\n"
    " ------------\n"
    " Cycle  11  Pass 1  IDiag  1:\n";
constexpr absl::string_view kGaussianScfFail =
    " Entering Gaussian System, Link 0=g16\n"
    " Convergence failure -- run terminated.\n"
    " Error termination via Lnk1e in /g16/l502.exe at Thu Jan  1.\n";

google::protobuf::Timestamp Stamp(absl::Time time) {
  google::protobuf::Timestamp stamp;
  stamp.set_seconds(absl::ToUnixSeconds(time));
  return stamp;
}

v1::CheckOutput Order(v1::Program program = v1::PROGRAM_GAUSSIAN) {
  v1::CheckOutput order;
  order.set_order_id("o-17");
  order.set_job_key("b1/water");
  order.set_directory(kDir);
  order.set_basename("water");
  order.set_program(program);
  order.set_slurm_job_id("4812");
  order.set_attempt(2);
  *order.mutable_attempt_submitted_at() = Stamp(kSubmitted);
  *order.mutable_finished_seen_at() = Stamp(kFinished);
  return order;
}

v1::CheckOutput Adoption() {
  v1::CheckOutput order = Order();
  order.clear_slurm_job_id();
  order.clear_attempt();
  order.clear_attempt_submitted_at();
  order.clear_finished_seen_at();
  return order;
}

MATCHER_P2(IsVerdict, outcome, cause,
           absl::StrCat(v1::Verdict::Outcome_Name(outcome), " \"", cause,
                        "\"")) {
  *result_listener << v1::Verdict::Outcome_Name(arg.outcome()) << " \""
                   << arg.cause() << "\": " << arg.summary();
  return arg.outcome() == outcome && arg.cause() == cause;
}

class OutputCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeChecker(OutputCheckerOptions()); }

  void MakeChecker(OutputCheckerOptions options) {
    auto rules = LoadRuleSets("", &fs_);
    ASSERT_TRUE(rules.ok()) << rules.status();
    auto checker = OutputChecker::Create(*rules, &fs_, options);
    ASSERT_TRUE(checker.ok()) << checker.status();
    checker_ = *std::move(checker);
  }

  v1::Verdict Check(const v1::CheckOutput& order, absl::Time now) {
    absl::StatusOr<v1::Verdict> verdict = checker_->Check(order, now);
    EXPECT_TRUE(verdict.ok()) << verdict.status();
    return verdict.ok() ? *verdict : v1::Verdict();
  }

  const absl::Time in_grace_ = kFinished + absl::Seconds(30);
  const absl::Time after_grace_ = kFinished + absl::Seconds(121);
  common::FakeFileSystem fs_;
  std::unique_ptr<OutputChecker> checker_;
};

TEST_F(OutputCheckerTest, ACompleteOutputIsJudgedAndDescribed) {
  fs_.SetFile(kLog, kGaussianDone, kWritten);
  const v1::Verdict verdict = Check(Order(), in_grace_);
  EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  EXPECT_EQ(verdict.job_key(), "b1/water");
  EXPECT_EQ(verdict.slurm_job_id(), "4812");
  EXPECT_EQ(verdict.attempt(), 2);
  EXPECT_EQ(verdict.output_path(), kLog);
  EXPECT_EQ(verdict.output_size(), static_cast<int64_t>(kGaussianDone.size()));
  EXPECT_EQ(verdict.output_mtime().seconds(), absl::ToUnixSeconds(kWritten));
  EXPECT_EQ(verdict.judged_at().seconds(), absl::ToUnixSeconds(in_grace_));
  EXPECT_THAT(verdict.fields(),
              Contains(Property(&v1::ExtractedField::name, "E_el_au")));
  EXPECT_THAT(verdict.evidence(),
              Contains(AllOf(Property(&v1::EvidenceLine::line_number, 6),
                             Property(&v1::EvidenceLine::file, "output"))));
}

TEST_F(OutputCheckerTest, AnUnchangedFileIsNotParsedAgain) {
  fs_.SetFile(kLog, kGaussianRunning, kWritten);
  EXPECT_THAT(Check(Order(), in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  EXPECT_THAT(Check(Order(), in_grace_ + absl::Seconds(10)),
              IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  EXPECT_EQ(fs_.ReadCount(kLog), 1);
  EXPECT_EQ(checker_->parse_count(), 1);

  // The rest of the output arrives (NFS): new size and mtime, parsed again.
  fs_.SetFile(kLog, kGaussianDone, kWritten + absl::Seconds(40));
  EXPECT_THAT(Check(Order(), in_grace_ + absl::Seconds(20)),
              IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  EXPECT_EQ(fs_.ReadCount(kLog), 2);
  // Same size, new mtime: parsed again too.
  fs_.SetFile(kLog, kGaussianDone, kWritten + absl::Seconds(41));
  Check(Order(), in_grace_ + absl::Seconds(30));
  EXPECT_EQ(fs_.ReadCount(kLog), 3);
}

TEST_F(OutputCheckerTest, AMissingOutputWaitsForTheGracePeriod) {
  const v1::Verdict waiting = Check(Order(), in_grace_);
  EXPECT_THAT(waiting, IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  EXPECT_THAT(waiting.summary(), HasSubstr("grace period"));
  EXPECT_EQ(waiting.output_path(), kLog);
  EXPECT_THAT(Check(Order(), after_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "no_output"));
}

TEST_F(OutputCheckerTest, TheSchedulerStateNamesTheCauseAfterGrace) {
  v1::CheckOutput order = Order();
  order.set_scheduler_state("TIMEOUT");
  fs_.SetFile(kLog, kGaussianRunning, kWritten);
  EXPECT_THAT(Check(order, in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  EXPECT_THAT(Check(order, after_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "TIMEOUT"));
  // A state that explains nothing leaves the output's own cause.
  order.set_scheduler_state("FAILED");
  EXPECT_THAT(Check(order, after_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "incomplete_output"));
  order.set_scheduler_state("CANCELLED by 1000");
  fs_.RemoveFile(kLog);
  EXPECT_THAT(Check(order, after_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "CANCELLED"));
}

TEST_F(OutputCheckerTest, SlurmLogMarkersNameTheCauseWithEvidence) {
  struct Case {
    const char* log;
    const char* cause;
  };
  for (const Case& c : {
           Case{"slurmstepd: error: *** JOB 4812 ON c041 CANCELLED AT "
                "2026-01-01T00:11:00 DUE TO TIME LIMIT ***\n",
                "TIMEOUT"},
           Case{"slurmstepd: error: Detected 1 oom-kill event(s) in "
                "StepId=4812.batch.\n",
                "OUT_OF_MEMORY"},
           Case{"*** JOB 4812 ON c041 CANCELLED AT 2026-01-01T00:11:00 DUE "
                "TO NODE FAILURE ***\n",
                "NODE_FAIL"},
           Case{"*** JOB 4812 ON c041 CANCELLED AT 2026-01-01T00:11:00 DUE "
                "TO PREEMPTION ***\n",
                "PREEMPTED"},
           Case{"slurmstepd: error: *** JOB 4812 ON c041 CANCELLED AT "
                "2026-01-01T00:11:00 ***\n",
                "CANCELLED"},
       }) {
    fs_.SetFile(kSlurm, absl::StrCat("some job chatter\n", c.log), kWritten);
    fs_.SetFile(kLog, kGaussianRunning, kWritten);
    v1::CheckOutput order = Order();
    order.set_scheduler_state("FAILED");
    const v1::Verdict verdict = Check(order, after_grace_);
    EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_FAILED, c.cause));
    EXPECT_THAT(verdict.evidence(),
                Contains(AllOf(Property(&v1::EvidenceLine::file, "slurm"),
                               Property(&v1::EvidenceLine::line_number, 2),
                               Property(&v1::EvidenceLine::rule, c.cause))))
        << c.log;
  }
}

TEST_F(OutputCheckerTest, AnOutputOlderThanTheAttemptIsNotItsOutput) {
  fs_.SetFile(kLog, kGaussianDone, kSubmitted - absl::Hours(3));
  EXPECT_THAT(Check(Order(), in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  const v1::Verdict stale = Check(Order(), after_grace_);
  EXPECT_THAT(
      stale, IsVerdict(v1::Verdict::OUTCOME_FAILED, "output_predates_attempt"));
  EXPECT_EQ(fs_.ReadCount(kLog), 0);
  // Written in the second of the submission (coarse mtime): the attempt's.
  fs_.SetFile(kLog, kGaussianDone, kSubmitted - absl::Milliseconds(500));
  EXPECT_THAT(Check(Order(), in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
}

TEST_F(OutputCheckerTest, AChemistryFailureIsFinalAtOnce) {
  v1::CheckOutput order = Order();
  order.set_scheduler_state("FAILED");
  fs_.SetFile(kLog, kGaussianScfFail, kWritten);
  EXPECT_THAT(Check(order, in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "scf_fail"));
}

TEST_F(OutputCheckerTest, ACompleteOutputWinsOverTheSchedulerState) {
  v1::CheckOutput order = Order();
  order.set_scheduler_state("TIMEOUT");
  fs_.SetFile(kLog, kGaussianDone, kWritten);
  const v1::Verdict verdict = Check(order, in_grace_);
  EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  EXPECT_THAT(verdict.warnings(), Contains(HasSubstr("TIMEOUT")));
}

TEST_F(OutputCheckerTest, AdoptionJudgesWhatIsThereWithoutGrace) {
  const v1::Verdict nothing = Check(Adoption(), in_grace_);
  EXPECT_THAT(nothing, IsVerdict(v1::Verdict::OUTCOME_UNSPECIFIED, ""));
  EXPECT_THAT(nothing.summary(), HasSubstr("nothing to adopt"));
  EXPECT_EQ(nothing.slurm_job_id(), "");

  fs_.SetFile(kLog, kGaussianRunning, kWritten);
  EXPECT_THAT(Check(Adoption(), in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "incomplete_output"));
  fs_.SetFile(kLog, kGaussianDone, kWritten);
  EXPECT_THAT(Check(Adoption(), in_grace_),
              IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  // Adoption never reads a scheduler log.
  fs_.SetFile(kSlurm, "DUE TO TIME LIMIT\n", kWritten);
  Check(Adoption(), in_grace_);
  EXPECT_EQ(fs_.ReadCount(kSlurm), 0);
}

TEST_F(OutputCheckerTest, WithoutFinishedSeenAtThereIsNoGraceLeft) {
  v1::CheckOutput order = Order();
  order.clear_finished_seen_at();
  EXPECT_THAT(Check(order, kSubmitted + absl::Seconds(1)),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "no_output"));
}

TEST_F(OutputCheckerTest, UnreadableFilesAreInconclusiveThenFailed) {
  fs_.SetFile(kLog, kGaussianDone, kWritten);
  fs_.SetError(kLog, absl::PermissionDeniedError("stat water.log: denied"));
  const v1::Verdict waiting = Check(Order(), in_grace_);
  EXPECT_THAT(waiting, IsVerdict(v1::Verdict::OUTCOME_INCONCLUSIVE, ""));
  EXPECT_THAT(waiting.summary(), HasSubstr("denied"));
  EXPECT_THAT(Check(Order(), after_grace_),
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "no_output"));
  // An unreadable scheduler log is reported, not fatal.
  fs_.SetError(kLog, absl::OkStatus());
  fs_.SetError(kSlurm, absl::PermissionDeniedError("slurm-4812.out: denied"));
  const v1::Verdict verdict = Check(Order(), after_grace_);
  EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  EXPECT_THAT(verdict.warnings(), Contains(HasSubstr("scheduler log")));
}

TEST_F(OutputCheckerTest, EachProgramHasItsOutputName) {
  fs_.SetFile("/runs/b1/water/water.out",
              "                    ****ORCA TERMINATED NORMALLY****\n",
              kWritten);
  const v1::Verdict verdict = Check(Order(v1::PROGRAM_ORCA), in_grace_);
  EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_SUCCEEDED, ""));
  EXPECT_EQ(verdict.output_path(), "/runs/b1/water/water.out");
  EXPECT_EQ(OutputFileName(v1::PROGRAM_GAUSSIAN, "a"), "a.log");
  EXPECT_EQ(OutputFileName(v1::PROGRAM_XTB, "a"), "a.out");
  EXPECT_EQ(OutputFileName(v1::PROGRAM_CREST, "a"), "a.out");
  EXPECT_EQ(OutputFileName(v1::PROGRAM_PYAROMA, "a"), "a.out");
}

TEST_F(OutputCheckerTest, BadOrdersAreRefused) {
  v1::CheckOutput no_program = Order();
  no_program.clear_program();
  v1::CheckOutput slash = Order();
  slash.set_basename("../../etc/passwd");
  v1::CheckOutput no_dir = Order();
  no_dir.clear_directory();
  v1::CheckOutput bad_id = Order();
  bad_id.set_slurm_job_id("12/../x");
  for (const v1::CheckOutput& order : {no_program, slash, no_dir, bad_id}) {
    EXPECT_THAT(
        checker_->Check(order, in_grace_),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("b1/water")));
  }
  v1::CheckOutput array_task = Order();
  array_task.set_slurm_job_id("4812_7");
  EXPECT_TRUE(checker_->Check(array_task, in_grace_).ok());
}

TEST_F(OutputCheckerTest, TheCacheIsBounded) {
  OutputCheckerOptions options;
  options.max_cached_files = 1;
  MakeChecker(options);
  fs_.SetFile(kLog, kGaussianDone, kWritten);
  fs_.SetFile("/runs/b1/other/other.log", kGaussianDone, kWritten);
  v1::CheckOutput other = Adoption();
  other.set_directory("/runs/b1/other");
  other.set_basename("other");
  Check(Adoption(), in_grace_);
  Check(other, in_grace_);
  Check(Adoption(), in_grace_);
  EXPECT_EQ(fs_.ReadCount(kLog), 2);
  EXPECT_EQ(checker_->parse_count(), 3);
}

TEST_F(OutputCheckerTest, ConcurrentChecksAgree) {
  std::vector<v1::CheckOutput> orders;
  for (int i = 0; i < 8; ++i) {
    v1::CheckOutput order = Adoption();
    order.set_directory(absl::StrCat("/runs/b1/j", i));
    order.set_basename("j");
    fs_.SetFile(absl::StrCat("/runs/b1/j", i, "/j.log"),
                i % 2 == 0 ? kGaussianDone : kGaussianScfFail, kWritten);
    orders.push_back(order);
  }
  std::vector<std::thread> threads;
  std::vector<std::vector<Outcome>> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        for (const v1::CheckOutput& order : orders) {
          absl::StatusOr<v1::Verdict> verdict =
              checker_->Check(order, in_grace_);
          seen[t].push_back(verdict.ok() ? verdict->outcome()
                                         : v1::Verdict::OUTCOME_UNSPECIFIED);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::vector<Outcome>& outcomes : seen) {
    ASSERT_EQ(outcomes.size(), 400u);
    for (size_t i = 0; i < outcomes.size(); ++i) {
      EXPECT_EQ(outcomes[i], i % 2 == 0 ? v1::Verdict::OUTCOME_SUCCEEDED
                                        : v1::Verdict::OUTCOME_FAILED);
    }
  }
  EXPECT_LE(checker_->parse_count(), 8 * 4);
}

TEST(CheckOutputFileTest, JudgesAFileAsItIs) {
  common::FakeFileSystem fs;
  fs.SetFile("/tmp/w.log", kGaussianRunning, kWritten);
  auto rules = ParseRuleFile(BuiltinRuleText(v1::PROGRAM_GAUSSIAN), "b");
  ASSERT_TRUE(rules.ok());
  CCB_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<OutputJudge> judge,
      OutputJudge::Create(v1::PROGRAM_GAUSSIAN, *std::move(rules)));
  CCB_ASSERT_OK_AND_ASSIGN(
      v1::Verdict verdict,
      CheckOutputFile("/tmp/w.log", *judge, fs, kFinished));
  EXPECT_THAT(verdict,
              IsVerdict(v1::Verdict::OUTCOME_FAILED, "incomplete_output"));
  EXPECT_EQ(verdict.output_path(), "/tmp/w.log");
  EXPECT_EQ(verdict.output_size(),
            static_cast<int64_t>(kGaussianRunning.size()));
  EXPECT_EQ(verdict.judged_at().seconds(), absl::ToUnixSeconds(kFinished));
  EXPECT_THAT(CheckOutputFile("/tmp/none.log", *judge, fs, kFinished),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("none.log")));
}

// Found by fuzz/output_judge_fuzzer (the same defect in the scheduler log's
// evidence): a verdict whose strings are not UTF-8 is refused by the ledger.
TEST_F(OutputCheckerTest, SchedulerLogBytesThatAreNotUtf8BecomeQuestionMarks) {
  fs_.SetFile(kSlurm,
              "slurmstepd: error: *** JOB 4812 ON n\xe9ud-7 CANCELLED AT "
              "2026-01-01T00:11:00 DUE TO TIME LIMIT ***\n",
              kWritten);
  fs_.SetFile(kLog, kGaussianRunning, kWritten);
  const v1::Verdict verdict = Check(Order(), after_grace_);
  EXPECT_THAT(verdict, IsVerdict(v1::Verdict::OUTCOME_FAILED, "TIMEOUT"));
  EXPECT_THAT(verdict.evidence(),
              Contains(Property(&v1::EvidenceLine::text,
                                HasSubstr("ON n?ud-7 CANCELLED"))));
  v1::Verdict parsed;
  EXPECT_TRUE(parsed.ParseFromString(verdict.SerializeAsString()));
}

}  // namespace
}  // namespace ccbatch::agent
