// Verdict engine throughput (issue "queue_agent", Verdicts):
// - judging the real Gaussian and ORCA logs of ../shared/corpus, one core,
//   target >= 200 MB/s (bytes/s below; the rule engine scans each file once);
// - re-checking an unchanged output (cache hit), target <= 20 us.
//
//   bazel run -c opt //bench:verdict_bench -- --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true --shared=/work/shared
// (or set CCBATCH_SHARED instead of --shared).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "ccbatch/v1/agent.pb.h"
#include "common/fake_file_system.h"
#include "common/file_system.h"
#include "queue_agent/builtin_rules.h"
#include "queue_agent/output_checker.h"
#include "queue_agent/output_judge.h"
#include "queue_agent/rule_file.h"
#include "queue_agent/rule_sets.h"

namespace ccbatch::agent {
namespace {

std::string& SharedDir() {
  static std::string* dir = new std::string();
  return *dir;
}

std::unique_ptr<OutputJudge> BuiltinJudge(v1::Program program) {
  auto rules = ParseRuleFile(BuiltinRuleText(program), "built-in");
  return *OutputJudge::Create(program, *std::move(rules));
}

// Every file of corpus/outputs/<program>/ (empty if the corpus is absent).
std::vector<std::string> CorpusFiles(absl::string_view program) {
  std::vector<std::string> texts;
  if (SharedDir().empty()) return texts;
  const std::string dir =
      absl::StrCat(SharedDir(), "/corpus/outputs/", program);
  auto names = common::PosixFileSystem::Default()->ListDirectory(dir);
  if (!names.ok()) return texts;
  for (const std::string& name : *names) {
    auto text = common::PosixFileSystem::Default()->ReadFile(
        absl::StrCat(dir, "/", name));
    if (text.ok()) texts.push_back(*std::move(text));
  }
  return texts;
}

void JudgeCorpus(benchmark::State& state, v1::Program program) {
  const std::vector<std::string> files = CorpusFiles(ProgramKey(program));
  if (files.empty()) {
    state.SkipWithError(
        "corpus not found: pass --shared=DIR or set "
        "CCBATCH_SHARED");
    return;
  }
  const std::unique_ptr<OutputJudge> judge = BuiltinJudge(program);
  int64_t bytes = 0;
  for (const std::string& file : files) bytes += file.size();
  for (auto _ : state) {
    for (const std::string& file : files) {
      v1::Verdict verdict = judge->Judge(file);
      benchmark::DoNotOptimize(verdict);
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["files"] = static_cast<double>(files.size());
}

void BM_JudgeGaussianCorpus(benchmark::State& state) {
  JudgeCorpus(state, v1::PROGRAM_GAUSSIAN);
}
BENCHMARK(BM_JudgeGaussianCorpus)->Unit(benchmark::kMillisecond);

void BM_JudgeOrcaCorpus(benchmark::State& state) {
  JudgeCorpus(state, v1::PROGRAM_ORCA);
}
BENCHMARK(BM_JudgeOrcaCorpus)->Unit(benchmark::kMillisecond);

// The checker re-asked about an output whose size and mtime did not change:
// one stat of the output, one of slurm-<id>.out, no read, no parse.
void CacheHit(benchmark::State& state, common::FileSystem* fs,
              const std::string& dir) {
  auto rules = LoadRuleSets("", fs);
  auto checker = OutputChecker::Create(*rules, fs);
  if (!checker.ok()) {
    state.SkipWithError("checker did not compile");
    return;
  }
  v1::CheckOutput order;
  order.set_job_key("b/job");
  order.set_directory(dir);
  order.set_basename("job");
  order.set_program(v1::PROGRAM_GAUSSIAN);
  order.set_slurm_job_id("4812");
  const absl::Time now = absl::Now();
  if (!(*checker)->Check(order, now).ok()) {
    state.SkipWithError("first check failed");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<v1::Verdict> verdict = (*checker)->Check(order, now);
    benchmark::DoNotOptimize(verdict);
  }
  if ((*checker)->parse_count() != 1) state.SkipWithError("file re-parsed");
}

std::string LargestGaussianLog() {
  std::string largest;
  for (std::string& file : CorpusFiles("gaussian")) {
    if (file.size() > largest.size()) largest = std::move(file);
  }
  return largest;
}

void BM_CheckUnchangedFileFakeFs(benchmark::State& state) {
  common::FakeFileSystem fs;
  const std::string log = LargestGaussianLog();
  fs.SetFile("/runs/b/job/job.log",
             log.empty() ? " Normal termination of "
                           "Gaussian 16\n"
                         : log,
             absl::Now());
  CacheHit(state, &fs, "/runs/b/job");
}
BENCHMARK(BM_CheckUnchangedFileFakeFs)->Unit(benchmark::kMicrosecond);

void BM_CheckUnchangedFilePosix(benchmark::State& state) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/verdict_bench_", getpid());
  common::PosixFileSystem* fs = common::PosixFileSystem::Default();
  const std::string log = LargestGaussianLog();
  if (!fs->CreateDirectories(dir).ok() ||
      !fs->WriteFile(dir + "/job.log",
                     log.empty() ? " Normal termination of Gaussian 16\n" : log)
           .ok()) {
    state.SkipWithError("cannot write the test file");
    return;
  }
  CacheHit(state, fs, dir);
  std::remove((dir + "/job.log").c_str());
  rmdir(dir.c_str());
}
BENCHMARK(BM_CheckUnchangedFilePosix)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ccbatch::agent

int main(int argc, char** argv) {
  // --shared=DIR is ours; everything else goes to Google Benchmark.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (absl::StartsWith(argv[i], "--shared=")) {
      ccbatch::agent::SharedDir() = argv[i] + 9;
    } else {
      args.push_back(argv[i]);
    }
  }
  if (ccbatch::agent::SharedDir().empty()) {
    if (const char* env = std::getenv("CCBATCH_SHARED")) {
      ccbatch::agent::SharedDir() = env;
    }
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
