#include "common/batch_validator.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::ccbatch::v1::BatchDefinition;
using ::ccbatch::v1::JobDefinition;
using ::testing::HasSubstr;

// opt <- sp (coords and orbitals), opt <- freq (coords).
constexpr char kValidBatch[] = R"pb(
  name: "week12"
  run_root_directory: "/data/calcs"
  cluster: "hpc1"
  max_parallel: 4
  retry_policy { retry_on: "NODE_FAIL" retry_on: "scf_fail" max_attempts: 3 }
  jobs {
    key: "week12/opt"
    basename: "opt"
    directory: "/data/calcs/mol1/opt"
    relative_directory: "mol1/opt"
    program: PROGRAM_XTB
    order: 0
    source_line: 3
  }
  jobs {
    key: "week12/sp"
    basename: "sp"
    directory: "/data/calcs/mol1/sp"
    relative_directory: "mol1/sp"
    program: PROGRAM_ORCA
    coords {
      directory: "../opt"
      filename: "xtbopt.xyz"
      resolved_directory: "/data/calcs/mol1/opt"
      upstream_key: "week12/opt"
    }
    orbitals {
      directory: "../opt"
      filename: "opt.gbw"
      resolved_directory: "/data/calcs/mol1/opt"
      upstream_key: "week12/opt"
    }
    upstream_keys: "week12/opt"
    order: 1
    source_line: 4
  }
  jobs {
    key: "week12/freq"
    basename: "freq"
    directory: "/data/calcs/mol1/freq"
    program: PROGRAM_GAUSSIAN
    coords {
      directory: "../opt"
      filename: "opt.xyz"
      resolved_directory: "/data/calcs/mol1/opt"
      upstream_key: "week12/opt"
    }
    upstream_keys: "week12/opt"
    order: 2
  }
)pb";

BatchDefinition ValidBatch() {
  BatchDefinition batch;
  EXPECT_TRUE(
      google::protobuf::TextFormat::ParseFromString(kValidBatch, &batch));
  return batch;
}

TEST(ValidateBatchTest, AcceptsAValidBatch) {
  EXPECT_THAT(ValidateBatch(ValidBatch()), IsOk());
}

TEST(ValidateBatchTest, AcceptsMinimalBatch) {
  BatchDefinition batch = ValidBatch();
  batch.clear_cluster();  // the ledger decides what an empty cluster means
  batch.clear_retry_policy();
  batch.set_max_parallel(0);
  batch.set_run_root_directory("/");
  batch.mutable_jobs(2)->clear_relative_directory();
  EXPECT_THAT(ValidateBatch(batch), IsOk());
}

TEST(ValidateBatchTest, AcceptsExtraOrderingDependencies) {
  // upstream_keys may name jobs no pipe takes files from.
  BatchDefinition batch = ValidBatch();
  batch.mutable_jobs(2)->add_upstream_keys("week12/sp");
  EXPECT_THAT(ValidateBatch(batch), IsOk());
}

// One way to spoil the valid batch and what the validator must say.
struct DefectCase {
  std::string name;
  std::function<void(BatchDefinition&)> spoil;
  std::string message;
};

void PrintTo(const DefectCase& test, std::ostream* out) { *out << test.name; }

class ValidateBatchDefectTest : public ::testing::TestWithParam<DefectCase> {};

TEST_P(ValidateBatchDefectTest, IsRefusedNamingJobAndField) {
  BatchDefinition batch = ValidBatch();
  GetParam().spoil(batch);
  EXPECT_THAT(ValidateBatch(batch), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr(GetParam().message)));
}

JobDefinition& Job(BatchDefinition& batch, int index) {
  return *batch.mutable_jobs(index);
}

INSTANTIATE_TEST_SUITE_P(
    Defects, ValidateBatchDefectTest,
    ::testing::Values(
        DefectCase{"EmptyName", [](BatchDefinition& b) { b.clear_name(); },
                   "batch \"\": batch name is empty"},
        DefectCase{"NameWithSlash",
                   [](BatchDefinition& b) { b.set_name("week/12"); },
                   "batch \"week/12\": batch name \"week/12\" may only contain "
                   "letters, digits, '.', '_' and '-'"},
        DefectCase{"NameStartingWithDot",
                   [](BatchDefinition& b) { b.set_name(".hidden"); },
                   "must start with a letter or digit"},
        DefectCase{
            "NameTooLong",
            [](BatchDefinition& b) { b.set_name(std::string(257, 'a')); },
            "batch name is 257 bytes long; at most 256 are allowed"},
        DefectCase{"BadCluster",
                   [](BatchDefinition& b) { b.set_cluster("hpc 1"); },
                   "batch \"week12\": cluster name \"hpc 1\" may only contain"},
        DefectCase{"NegativeMaxParallel",
                   [](BatchDefinition& b) { b.set_max_parallel(-1); },
                   "batch \"week12\": max_parallel is -1; it must be >= 0"},
        DefectCase{
            "RelativeRoot",
            [](BatchDefinition& b) { b.set_run_root_directory("data/calcs"); },
            "batch \"week12\": run_root_directory: path \"data/calcs\" "
            "is not absolute"},
        DefectCase{"EmptyRoot",
                   [](BatchDefinition& b) { b.clear_run_root_directory(); },
                   "run_root_directory: path is empty"},
        DefectCase{"UnnormalisedRoot",
                   [](BatchDefinition& b) {
                     b.set_run_root_directory("/data/calcs/");
                   },
                   "run_root_directory: path \"/data/calcs/\" is not in normal "
                   "form"},
        DefectCase{"BadRetryCause",
                   [](BatchDefinition& b) {
                     b.mutable_retry_policy()->add_retry_on("NODEFAIL");
                   },
                   "retry_policy.retry_on: retry cause \"NODEFAIL\" is neither "
                   "a SLURM state"},
        DefectCase{"TooManyAttempts",
                   [](BatchDefinition& b) {
                     b.mutable_retry_policy()->set_max_attempts(101);
                   },
                   "retry_policy.max_attempts is 101; it must be 0..100"},
        DefectCase{"NoJobs", [](BatchDefinition& b) { b.clear_jobs(); },
                   "batch \"week12\": has no jobs"},
        DefectCase{"InconsistentKey",
                   [](BatchDefinition& b) { Job(b, 1).set_key("other/sp"); },
                   "job \"other/sp\" (jobs[1]): key must be "
                   "\"<batch>/<basename>\" = \"week12/sp\""},
        DefectCase{"KeyWithSuffix",
                   [](BatchDefinition& b) { Job(b, 1).set_key("week12/spx"); },
                   "job \"week12/spx\" (jobs[1]): key must be"},
        DefectCase{"EmptyBasename",
                   [](BatchDefinition& b) { Job(b, 0).clear_basename(); },
                   "(jobs[0]): basename: basename is empty"},
        DefectCase{"BasenameWithPipe",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_basename("o|pt");
                     Job(b, 0).set_key("week12/o|pt");
                   },
                   "job \"week12/o|pt\" (jobs[0]): basename: basename "
                   "\"o|pt\" contains '/', '|'"},
        DefectCase{"BasenameDotDot",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_basename("..");
                     Job(b, 0).set_key("week12/..");
                   },
                   "basename \"..\" is not a file name"},
        DefectCase{"BasenameTooLong",
                   [](BatchDefinition& b) {
                     const std::string name(257, 'x');
                     Job(b, 0).set_basename(name);
                     Job(b, 0).set_key("week12/" + name);
                   },
                   "basename is 257 bytes long; at most 256"},
        DefectCase{"DuplicateBasename",
                   [](BatchDefinition& b) {
                     Job(b, 2).set_basename("sp");
                     Job(b, 2).set_key("week12/sp");
                   },
                   "job \"week12/sp\" (jobs[2]): basename \"sp\" is also the "
                   "basename of job \"week12/sp\" (jobs[1])"},
        DefectCase{"DuplicateDirectory",
                   [](BatchDefinition& b) {
                     Job(b, 2).set_directory("/data/calcs/mol1/sp");
                   },
                   "job \"week12/freq\" (jobs[2]): directory "
                   "\"/data/calcs/mol1/sp\" is also the directory of job "
                   "\"week12/sp\" (jobs[1])"},
        DefectCase{
            "RelativeDirectory",
            [](BatchDefinition& b) { Job(b, 0).set_directory("mol1/opt"); },
            "job \"week12/opt\" (jobs[0]): directory: path \"mol1/opt\" "
            "is not absolute"},
        DefectCase{
            "DirectoryWithDotDot",
            [](BatchDefinition& b) {
              Job(b, 0).set_directory("/data/calcs/../opt");
            },
            "(jobs[0]): directory: path \"/data/calcs/../opt\" is not in "
            "normal form"},
        DefectCase{"DirectoryWithDoubleSlash",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_directory("/data/calcs//opt");
                   },
                   "is not in normal form"},
        DefectCase{"DirectoryOutsideRoot",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_directory("/data/calcsx/opt");
                   },
                   "(jobs[0]): directory \"/data/calcsx/opt\" is outside "
                   "run_root_directory \"/data/calcs\""},
        DefectCase{"DirectoryTooLong",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_directory("/data/calcs/" +
                                             std::string(4090, 'd'));
                   },
                   "(jobs[0]): directory: path is 4102 bytes long; at most "
                   "4096"},
        DefectCase{"ControlCharacterInRelativeDirectory",
                   [](BatchDefinition& b) {
                     Job(b, 0).set_relative_directory("mol1\n/opt");
                   },
                   "(jobs[0]): relative_directory: path \"mol1\\n/opt\" "
                   "contains '|' or a control character"},
        DefectCase{"NoProgram",
                   [](BatchDefinition& b) { Job(b, 1).clear_program(); },
                   "job \"week12/sp\" (jobs[1]): program is not specified"},
        DefectCase{"UnknownProgramNumber",
                   [](BatchDefinition& b) {
                     Job(b, 1).set_program(
                         static_cast<ccbatch::v1::Program>(42));
                   },
                   "(jobs[1]): program is not specified"},
        DefectCase{"WrongOrder",
                   [](BatchDefinition& b) { Job(b, 2).set_order(7); },
                   "job \"week12/freq\" (jobs[2]): order is 7; it must equal "
                   "the job's position 2"},
        DefectCase{"UpstreamKeyOfNoJob",
                   [](BatchDefinition& b) {
                     Job(b, 2).add_upstream_keys("week12/zzz");
                   },
                   "job \"week12/freq\" (jobs[2]): upstream_keys: "
                   "\"week12/zzz\" is no job of batch \"week12\""},
        DefectCase{"UpstreamKeyOfOtherBatch",
                   [](BatchDefinition& b) {
                     Job(b, 2).add_upstream_keys("week13/opt");
                   },
                   "upstream_keys: \"week13/opt\" is no job of batch"},
        DefectCase{"SelfDependency",
                   [](BatchDefinition& b) {
                     Job(b, 0).add_upstream_keys("week12/opt");
                   },
                   "job \"week12/opt\" (jobs[0]): upstream_keys: the job "
                   "depends on itself"},
        DefectCase{"UnsortedUpstreamKeys",
                   [](BatchDefinition& b) {
                     Job(b, 2).clear_upstream_keys();
                     Job(b, 2).add_upstream_keys("week12/sp");
                     Job(b, 2).add_upstream_keys("week12/opt");
                   },
                   "job \"week12/freq\" (jobs[2]): upstream_keys must be "
                   "sorted and without duplicates"},
        DefectCase{"DuplicateUpstreamKeys",
                   [](BatchDefinition& b) {
                     Job(b, 2).add_upstream_keys("week12/opt");
                   },
                   "upstream_keys must be sorted and without duplicates"},
        DefectCase{"PipeKeyNotInUpstreamKeys",
                   [](BatchDefinition& b) { Job(b, 2).clear_upstream_keys(); },
                   "job \"week12/freq\" (jobs[2]): coords.upstream_key "
                   "\"week12/opt\" is not listed in upstream_keys"},
        DefectCase{"PipeWithoutUpstreamKey",
                   [](BatchDefinition& b) {
                     Job(b, 1).mutable_orbitals()->clear_upstream_key();
                   },
                   "job \"week12/sp\" (jobs[1]): orbitals.upstream_key is "
                   "empty"},
        DefectCase{"PipeWithoutFilename",
                   [](BatchDefinition& b) {
                     Job(b, 1).mutable_coords()->clear_filename();
                   },
                   "job \"week12/sp\" (jobs[1]): coords.filename: path is "
                   "empty"},
        DefectCase{"PipeWithoutDirectory",
                   [](BatchDefinition& b) {
                     Job(b, 1).mutable_orbitals()->clear_directory();
                   },
                   "(jobs[1]): orbitals.directory: path is empty"},
        DefectCase{"PipeResolvedElsewhere",
                   [](BatchDefinition& b) {
                     Job(b, 2).mutable_coords()->set_resolved_directory(
                         "/data/calcs/mol1/sp");
                   },
                   "job \"week12/freq\" (jobs[2]): coords.resolved_directory "
                   "\"/data/calcs/mol1/sp\" is not the directory "
                   "\"/data/calcs/mol1/opt\" of upstream job \"week12/opt\""},
        DefectCase{"Cycle",
                   [](BatchDefinition& b) {
                     Job(b, 0).add_upstream_keys("week12/freq");
                   },
                   "batch \"week12\": dependency cycle \"week12/opt\" -> "
                   "\"week12/freq\" -> \"week12/opt\" (each job takes files "
                   "from the next)"}),
    [](const ::testing::TestParamInfo<DefectCase>& info) {
      return info.param.name;
    });

TEST(ValidateBatchTest, ListsEveryDefectUpToALimit) {
  BatchDefinition batch = ValidBatch();
  for (int i = 0; i < 30; ++i) {
    JobDefinition* job = batch.add_jobs();
    job->set_key(absl::StrCat("week12/j", i));
    job->set_basename(absl::StrCat("j", i));
    job->set_directory(absl::StrCat("/data/calcs/j", i));
    job->set_order(batch.jobs_size() - 1);
    // no program
  }
  const absl::Status status = ValidateBatch(batch);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> lines = absl::StrSplit(status.message(), '\n');
  ASSERT_EQ(lines.size(), static_cast<size_t>(kMaxReportedDefects + 1));
  EXPECT_THAT(lines[0], HasSubstr("job \"week12/j0\" (jobs[3]): program"));
  EXPECT_EQ(lines.back(), "and 10 more defects");
}

TEST(ValidateBatchTest, ReportsSeveralDefectsOfOneBatch) {
  BatchDefinition batch = ValidBatch();
  batch.set_max_parallel(-3);
  Job(batch, 1).clear_program();
  Job(batch, 2).set_order(9);
  const absl::Status status = ValidateBatch(batch);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("max_parallel is -3")));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("(jobs[1]): program is not specified"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("order is 9"));
}

TEST(CheckNameTest, AcceptsAndRefuses) {
  EXPECT_THAT(CheckBatchName("week-12_v2.1"), IsOk());
  EXPECT_THAT(CheckBatchName(std::string(256, 'a')), IsOk());
  EXPECT_FALSE(CheckBatchName("").ok());
  EXPECT_FALSE(CheckBatchName("-x").ok());
  EXPECT_FALSE(CheckBatchName("a b").ok());
  EXPECT_FALSE(CheckBatchName("ä").ok());
  EXPECT_THAT(CheckClusterName("hpc1"), IsOk());
  EXPECT_FALSE(CheckClusterName("hpc1;rm").ok());

  EXPECT_THAT(CheckJobBasename("mono_alkyne_singlet_uks_r2scan_3c_"), IsOk());
  EXPECT_THAT(CheckJobBasename("benzène.opt-1"), IsOk());
  EXPECT_FALSE(CheckJobBasename(".").ok());
  EXPECT_FALSE(CheckJobBasename("a\tb").ok());
  EXPECT_FALSE(CheckJobBasename("a\x7f").ok());
}

TEST(CheckPathTest, AcceptsAndRefuses) {
  EXPECT_THAT(CheckPathText("mol 1/opt #2"), IsOk());
  EXPECT_THAT(CheckPathText(std::string(4096, 'p')), IsOk());
  EXPECT_FALSE(CheckPathText(std::string(4097, 'p')).ok());
  EXPECT_FALSE(CheckPathText("a|b").ok());
  EXPECT_FALSE(CheckPathText("").ok());

  EXPECT_THAT(CheckNormalizedAbsolutePath("/"), IsOk());
  EXPECT_THAT(CheckNormalizedAbsolutePath("/a/b.c/..d"), IsOk());
  for (const char* bad :
       {"", "a", "/a/", "//a", "/a/./b", "/a/../b", "/..", "/a/.."}) {
    EXPECT_FALSE(CheckNormalizedAbsolutePath(bad).ok()) << bad;
  }
}

TEST(CheckRetryCauseTest, KnowsSlurmStatesAndAcceptsVerdictCauses) {
  for (const char* cause : {"BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED",
                            "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                            "TIMEOUT", "scf_fail", "no_output", "opt_fail2"}) {
    EXPECT_THAT(CheckRetryCause(cause), IsOk()) << cause;
  }
  for (const char* cause :
       {"", "NODEFAIL", "Node_Fail", "RUNNING", "scf fail", "scf-fail"}) {
    EXPECT_FALSE(CheckRetryCause(cause).ok()) << cause;
  }
}

}  // namespace
}  // namespace ccbatch::common
