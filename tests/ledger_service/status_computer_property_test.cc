// Property (DESIGN §3): incremental derivation equals full derivation.
//
// Random histories of events over random DAGs (up to 50 jobs, 2-3 clusters,
// agent clocks skewed from the ledger's): after every event the computer's
// Rederive, given only the jobs whose own facts the event changed, must
// agree for every job with an independent full derivation (DeriveStatus in
// topological order), and must report exactly the jobs whose result changed.
//
// Reproducible: history i uses seed kBaseSeed + i; a failure prints its
// seed, and CCB_PROPERTY_SEED=<seed> replays only that history.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "ccbatch/v1/job.pb.h"
#include "gtest/gtest.h"
#include "ledger_service/dependency_graph.h"
#include "ledger_service/derive.h"
#include "ledger_service/job_facts.h"
#include "ledger_service/status_computer.h"

namespace ccbatch::ledger {
namespace {

constexpr uint64_t kBaseSeed = 20261204;
constexpr int kHistories = 2000;
constexpr int kEventsPerHistory = 40;

const char* const kStates[] = {
    "PENDING",  "PD",        "CONFIGURING", "RUNNING",   "R",
    "RUNNING",  "SUSPENDED", "COMPLETING",  "CG",        "COMPLETED",
    "FAILED",   "TIMEOUT",   "OOM",         "NODE_FAIL", "CANCELLED",
    "REQUEUED", "PREEMPTED", "BOOT_FAIL",   "WARPING"};

std::string Describe(const DerivedStatus& derived) {
  return absl::StrCat(ccbatch::v1::JobStatus_Name(derived.status), " | ",
                      derived.reason, " | ", derived.scheduler_state);
}

class History {
 public:
  explicit History(uint64_t seed) : rng_(seed) {
    const int jobs = Uniform(1, 50);
    const int clusters = Uniform(2, 3);
    std::vector<std::vector<int>> upstream(jobs);
    // A random order decides which edges are allowed, so dependencies point
    // both forwards and backwards in index order.
    std::vector<int> rank(jobs);
    for (int i = 0; i < jobs; ++i) rank[i] = i;
    std::shuffle(rank.begin(), rank.end(), rng_);
    const double density = Uniform(0, 100) / 1000.0;
    std::vector<JobFacts> facts(jobs);
    for (int i = 0; i < jobs; ++i) {
      facts[i].key = absl::StrCat("b/j", i);
      for (int j = 0; j < jobs; ++j) {
        if (rank[j] < rank[i] && Chance(density)) upstream[i].push_back(j);
      }
    }
    now_ = absl::FromCivil(absl::CivilSecond(2026, 12, 4, 12, 0, 0),
                           absl::UTCTimeZone());
    for (int c = 0; c < clusters; ++c) {
      ClusterFacts cluster;
      cluster.name = absl::StrCat("hpc", c);
      clusters_.push_back(cluster);
      announced_.push_back(false);
      skew_.push_back(absl::Seconds(Uniform(-60, 60)));
    }
    auto graph = DependencyGraph::Build(upstream);
    EXPECT_TRUE(graph.ok()) << graph.status();
    auto computer = StatusComputer::Create(*std::move(graph), std::move(facts));
    EXPECT_TRUE(computer.ok()) << computer.status();
    computer_.emplace(*std::move(computer));
  }

  // Runs the history; returns a description of the first disagreement.
  std::optional<std::string> Run() {
    computer_->DeriveAll(now_, limit_);
    if (auto error = CheckAgainstFullDerivation({}, "initial")) return error;
    for (int event = 0; event < kEventsPerHistory; ++event) {
      const std::vector<DerivedStatus> before = Snapshot();
      std::vector<int> named;
      const std::string what = ApplyRandomEvent(&named);
      const std::vector<int> changed = computer_->Rederive(named, now_, limit_);
      const std::string context =
          absl::StrCat("event ", event, " (", what, ")");
      if (auto error = CheckChangedList(before, changed, context)) return error;
      if (auto error = CheckAgainstFullDerivation(before, context))
        return error;
    }
    return CheckFreshComputer();
  }

 private:
  int Uniform(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Chance(double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
  }
  absl::Time AgentNow(int cluster) const { return now_ + skew_[cluster]; }
  int ClusterOf(const std::string& name) const {
    for (size_t c = 0; c < clusters_.size(); ++c) {
      if (clusters_[c].name == name) return static_cast<int>(c);
    }
    return -1;
  }
  void Announce(int cluster) {
    announced_[cluster] = true;
    computer_->SetCluster(clusters_[cluster]);
  }

  std::string ApplyRandomEvent(std::vector<int>* named) {
    const int job = Uniform(0, computer_->job_count() - 1);
    JobFacts& facts = computer_->mutable_facts(job);
    const int cluster = Uniform(0, static_cast<int>(clusters_.size()) - 1);
    switch (Uniform(0, 13)) {
      case 0:
      case 1: {  // first submission or retry
        AttemptFacts attempt;
        attempt.number = facts.attempt ? facts.attempt->number + 1 : 1;
        attempt.cluster = clusters_[cluster].name;
        attempt.order_id = absl::StrCat("o", next_id_++);
        facts.attempt = attempt;
        if (Chance(0.5)) facts.verdict.reset();
        named->push_back(job);
        return absl::StrCat("new attempt of job ", job);
      }
      case 2:
      case 3: {  // sbatch answers
        if (!facts.attempt || !facts.attempt->slurm_job_id.empty()) break;
        const int c = ClusterOf(facts.attempt->cluster);
        facts.attempt->slurm_job_id = absl::StrCat(next_id_++);
        facts.attempt->submitted_at =
            AgentNow(c) + absl::Seconds(Uniform(-10, 10));
        if (Chance(0.2)) facts.attempt->submit_error = "sbatch: error: nope";
        named->push_back(job);
        return absl::StrCat("job id for job ", job);
      }
      case 4: {
        if (!facts.attempt || !facts.attempt->slurm_job_id.empty()) break;
        facts.attempt->submit_error = "sbatch: error: invalid account";
        named->push_back(job);
        return absl::StrCat("submit error for job ", job);
      }
      case 5:
      case 6:
      case 7:
        ApplySnapshot(cluster, named);
        return absl::StrCat("snapshot of cluster ", cluster);
      case 8: {
        now_ += absl::Seconds(Uniform(0, 60));
        clusters_[cluster].last_probe_error =
            absl::StrCat("squeue: error #", next_id_++);
        clusters_[cluster].last_probe_error_at = now_;
        Announce(cluster);
        return absl::StrCat("probe failure on cluster ", cluster);
      }
      case 9: {
        VerdictFacts verdict;
        verdict.outcome =
            static_cast<ccbatch::v1::Verdict::Outcome>(Uniform(0, 3));
        verdict.cause = Chance(0.5) ? "scf_fail" : "";
        verdict.summary = absl::StrCat("judged #", next_id_++);
        const int which = Uniform(0, 9);
        if (facts.attempt && which < 7) {
          verdict.slurm_job_id = facts.attempt->slurm_job_id;
          verdict.attempt = facts.attempt->number;
        } else if (which < 9) {
          verdict.attempt = 0;  // adoption
        } else {
          verdict.slurm_job_id = "999999";  // another job's verdict
        }
        facts.verdict = verdict;
        named->push_back(job);
        return absl::StrCat("verdict for job ", job);
      }
      case 10:
        now_ += absl::Seconds(Uniform(0, 2 * 300));
        return "time passes";
      case 11: {
        if (facts.attempt) {
          if (facts.attempt->cancel_requested) {
            facts.attempt->cancel_acknowledged = true;
          } else {
            facts.attempt->cancel_requested = true;
          }
        } else {
          facts.cancel_requested = true;
        }
        named->push_back(job);
        return absl::StrCat("cancel of job ", job);
      }
      case 12:
        named->push_back(job);  // named without any change
        return absl::StrCat("no-op naming job ", job);
      case 13:
        if (Chance(0.1)) {
          limit_ =
              limit_ == absl::Minutes(5) ? absl::Minutes(7) : absl::Minutes(5);
          return "staleness limit changed";
        }
        now_ += absl::Seconds(Uniform(0, 20));
        return "a little time passes";
    }
    return "nothing";
  }

  // A successful squeue on `cluster`: the ledger applies it at now_. Each
  // tracked job's line changes with some probability (or stays as before).
  void ApplySnapshot(int cluster, std::vector<int>* named) {
    now_ += absl::Seconds(Uniform(0, 40));
    ClusterFacts& facts = clusters_[cluster];
    const absl::Time previous_taken = facts.snapshot_taken_at;
    facts.has_snapshot = true;
    facts.snapshot_taken_at = AgentNow(cluster) - absl::Seconds(Uniform(0, 5));
    if (Chance(0.05) && previous_taken != absl::InfinitePast()) {
      facts.snapshot_taken_at = previous_taken - absl::Seconds(Uniform(1, 30));
    }
    facts.snapshot_received_at = now_;
    facts.last_probe_error.clear();
    facts.last_probe_error_at = absl::InfinitePast();
    Announce(cluster);
    for (int job = 0; job < computer_->job_count(); ++job) {
      JobFacts& job_facts = computer_->mutable_facts(job);
      if (!job_facts.attempt || job_facts.attempt->slurm_job_id.empty() ||
          job_facts.attempt->cluster != facts.name || !Chance(0.5)) {
        continue;
      }
      AttemptFacts& attempt = *job_facts.attempt;
      if (Chance(0.25)) {
        attempt.queue_entry.reset();
      } else {
        QueueEntryFacts entry;
        entry.state = kStates[Uniform(0, std::size(kStates) - 1)];
        entry.reason = Chance(0.5) ? "None" : "Priority";
        entry.nodes = Chance(0.5) ? "" : absl::StrCat("c", Uniform(1, 3));
        attempt.queue_entry = entry;
        attempt.last_queue_state = entry.state;
      }
      named->push_back(job);
    }
  }

  std::vector<DerivedStatus> Snapshot() const {
    std::vector<DerivedStatus> statuses;
    for (int job = 0; job < computer_->job_count(); ++job) {
      statuses.push_back(computer_->status(job));
    }
    return statuses;
  }

  std::vector<DerivedStatus> FullDerivation() const {
    const DependencyGraph& graph = computer_->graph();
    std::vector<DerivedStatus> full(graph.size());
    for (int job : graph.topological_order()) {
      std::vector<UpstreamStatus> upstream;
      for (int up : graph.upstream(job)) {
        upstream.push_back({computer_->facts(up).key, full[up].status});
      }
      const JobFacts& facts = computer_->facts(job);
      const ClusterFacts* cluster = nullptr;
      if (facts.attempt) {
        const int c = ClusterOf(facts.attempt->cluster);
        if (c >= 0 && announced_[c]) cluster = &clusters_[c];
      }
      full[job] = DeriveStatus(facts, cluster, upstream, now_, limit_);
    }
    return full;
  }

  std::optional<std::string> CheckAgainstFullDerivation(
      const std::vector<DerivedStatus>& before, const std::string& context) {
    const std::vector<DerivedStatus> full = FullDerivation();
    for (int job = 0; job < computer_->job_count(); ++job) {
      if (computer_->status(job) != full[job]) {
        return absl::StrCat(context, ": job ", job, "\n  incremental: ",
                            Describe(computer_->status(job)),
                            "\n  full:        ", Describe(full[job]),
                            before.empty() ? "" : "\n  before:      ",
                            before.empty() ? "" : Describe(before[job]));
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> CheckChangedList(
      const std::vector<DerivedStatus>& before, const std::vector<int>& changed,
      const std::string& context) {
    std::vector<bool> reported(before.size(), false);
    int previous_position = -1;
    for (int job : changed) {
      const int position = computer_->graph().topological_position(job);
      if (position <= previous_position) {
        return absl::StrCat(context, ": changed jobs not in topological order");
      }
      previous_position = position;
      reported[job] = true;
    }
    for (size_t job = 0; job < before.size(); ++job) {
      const bool differs = before[job] != computer_->status(job);
      if (differs != reported[job]) {
        return absl::StrCat(context, ": job ", job,
                            differs ? " changed but was not reported"
                                    : " was reported but did not change");
      }
    }
    return std::nullopt;
  }

  // A computer built afresh from the final facts agrees (restart).
  std::optional<std::string> CheckFreshComputer() {
    std::vector<JobFacts> facts;
    for (int job = 0; job < computer_->job_count(); ++job) {
      facts.push_back(computer_->facts(job));
    }
    auto fresh = StatusComputer::Create(computer_->graph(), std::move(facts));
    if (!fresh.ok()) return std::string(fresh.status().message());
    for (size_t c = 0; c < clusters_.size(); ++c) {
      if (announced_[c]) fresh->SetCluster(clusters_[c]);
    }
    fresh->DeriveAll(now_, limit_);
    for (int job = 0; job < computer_->job_count(); ++job) {
      if (fresh->status(job) != computer_->status(job)) {
        return absl::StrCat("restart: job ", job,
                            " differs: ", Describe(fresh->status(job)), " vs ",
                            Describe(computer_->status(job)));
      }
    }
    return std::nullopt;
  }

  std::mt19937_64 rng_;
  absl::Time now_;
  absl::Duration limit_ = absl::Minutes(5);
  std::vector<ClusterFacts> clusters_;
  std::vector<bool> announced_;
  std::vector<absl::Duration> skew_;
  int next_id_ = 4800;
  std::optional<StatusComputer> computer_;
};

TEST(StatusComputerPropertyTest, IncrementalEqualsFullDerivation) {
  uint64_t first = kBaseSeed;
  int histories = kHistories;
  if (const char* replay = std::getenv("CCB_PROPERTY_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(replay, &first)) << replay;
    histories = 1;
  }
  for (int i = 0; i < histories; ++i) {
    const uint64_t seed = first + i;
    if (std::optional<std::string> error = History(seed).Run()) {
      FAIL() << "seed " << seed << " (replay with CCB_PROPERTY_SEED=" << seed
             << "): " << *error;
    }
  }
}

}  // namespace
}  // namespace ccbatch::ledger
