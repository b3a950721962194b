// Kill -9 at random points (DESIGN §8): a child process runs a random history
// against a RocksDB-backed ledger and reports every order it was handed and
// every step the ledger acknowledged; the parent SIGKILLs it, reopens the
// store and checks that
//  - the stored status cache, the reopened ledger and an independent full
//    derivation from the stored facts (written here, not the ledger's own
//    loader) all agree, job by job, status and reason;
//  - every order handed out before the kill was either answered (its
//    result is among the facts) or is still outstanding and handed out again
//    under the same id; no (job, attempt) was ever ordered under two ids,
//    also after the history continues past the restart.
//
// The child is this binary re-executed (see main()), so it starts clean
// rather than as a fork of a threaded process. Seeds make every run the
// same; nothing sleeps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/job.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/clock.h"
#include "common/event_log.h"
#include "common/status_macros.h"  // status_matchers.h uses its CONCAT
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger_service/dependency_graph.h"
#include "ledger_service/derive.h"
#include "ledger_service/job_facts.h"
#include "ledger_service/ledger.h"
#include "ledger_service/ledger_records.pb.h"
#include "ledger_service/status_computer.h"
#include "ledger_service/store.h"
#include "ledger_service/store_rocksdb.h"
#include "tests/ledger_service/random_history.h"

namespace ccbatch::ledger {
namespace {

using ::ccbatch::ledger::testing::HandedOrder;
using ::ccbatch::ledger::testing::RandomHistory;
using ::ccbatch::testing::IsOk;

constexpr absl::string_view kChildFlag = "--ledger_crash_child=";
// Time never makes a job UNKNOWN here: the check compares facts, not clocks.
constexpr absl::Duration kStaleness = absl::Hours(24 * 365);

LedgerOptions CrashOptions() {
  LedgerOptions options;
  options.staleness = kStaleness;
  // The child's log would only clutter the test's output.
  static common::EventLog* const quiet = new common::EventLog(
      common::RealClock::Default(), common::EventLog::DiscardSink());
  options.log = quiet;
  return options;
}

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// ---- The child ------------------------------------------------------------

// Reports, per step, the orders handed ("O <id> <kind> <job> <attempt>")
// and then the acknowledgement ("A <step> <clock seconds>").
int RunChild(const std::string& path, int fd, uint64_t seed) {
  absl::StatusOr<std::unique_ptr<RocksDbStore>> store =
      RocksDbStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "crash child: %s\n",
                 store.status().ToString().c_str());
    return 2;
  }
  common::FakeClock clock;
  absl::StatusOr<std::unique_ptr<Ledger>> ledger =
      Ledger::Open(store->get(), &clock, CrashOptions());
  if (!ledger.ok()) {
    std::fprintf(stderr, "crash child: %s\n",
                 ledger.status().ToString().c_str());
    return 2;
  }
  RandomHistory history(seed, &clock);
  if (absl::Status started = history.Start(**ledger); !started.ok()) {
    std::fprintf(stderr, "crash child: %s\n", started.ToString().c_str());
    return 3;
  }
  for (uint64_t step = 0;; ++step) {
    std::vector<HandedOrder> handed;
    absl::Status done = history.Step(**ledger, &handed);
    if (!done.ok()) {
      std::fprintf(stderr, "crash child: step %llu (%s): %s\n",
                   static_cast<unsigned long long>(step),
                   history.last_step().c_str(), done.ToString().c_str());
      return 3;
    }
    std::string report;
    for (const HandedOrder& order : handed) {
      absl::StrAppend(&report, "O ", order.order_id, " ", order.kind, " ",
                      order.job_key, " ", order.attempt, "\n");
    }
    absl::StrAppend(&report, "A ", step, " ", absl::ToUnixSeconds(clock.Now()),
                    "\n");
    if (!WriteAll(fd, report)) return 4;
  }
}

// ---- The parent's view of the child -----------------------------------------

struct ChildReport {
  std::vector<HandedOrder> handed;
  uint64_t acks = 0;
  int64_t clock_seconds = 0;
};

// Reads complete lines from `fd` into `report` until `acks_wanted` acks
// arrived (or end of stream when acks_wanted is 0). Fails the test if
// nothing arrives for 60 s.
void ReadReport(int fd, uint64_t acks_wanted, std::string* buffer,
                ChildReport* report) {
  char chunk[4096];
  while (acks_wanted == 0 || report->acks < acks_wanted) {
    pollfd poll_fd{fd, POLLIN, 0};
    const int ready = poll(&poll_fd, 1, /*timeout_ms=*/60'000);
    if (ready == 0) {
      ADD_FAILURE() << "no report from the crash child in 60 s";
      return;
    }
    if (ready < 0 && errno == EINTR) continue;
    const ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // end of stream
    buffer->append(chunk, static_cast<size_t>(n));
    size_t newline;
    while ((newline = buffer->find('\n')) != std::string::npos) {
      const std::string line = buffer->substr(0, newline);
      buffer->erase(0, newline + 1);
      std::vector<std::string> fields = absl::StrSplit(line, ' ');
      if (fields[0] == "O" && fields.size() == 5) {
        HandedOrder order{fields[1], fields[2], fields[3], 0};
        EXPECT_TRUE(absl::SimpleAtoi(fields[4], &order.attempt)) << line;
        report->handed.push_back(order);
      } else if (fields[0] == "A" && fields.size() == 3) {
        ++report->acks;
        EXPECT_TRUE(absl::SimpleAtoi(fields[2], &report->clock_seconds))
            << line;
      } else {
        ADD_FAILURE() << "bad report line: " << line;
      }
    }
  }
}

// ---- An independent derivation from the stored facts
// ---------------------------

struct Derived {
  ccbatch::v1::JobStatus status;
  std::string reason;
  bool operator==(const Derived& other) const {
    return status == other.status && reason == other.reason;
  }
  friend void PrintTo(const Derived& derived, std::ostream* os) {
    *os << ccbatch::v1::JobStatus_Name(derived.status) << " \""
        << derived.reason << "\"";
  }
};

template <typename Message>
std::vector<std::pair<std::string, Message>> ReadAll(const Store& store,
                                                     Column column) {
  std::vector<std::pair<std::string, Message>> out;
  EXPECT_THAT(
      ScanMessages<Message>(store, column, "",
                            [&](absl::string_view key, const Message& message) {
                              if (!absl::StartsWith(key, "~")) {
                                out.emplace_back(std::string(key), message);
                              }
                              return true;
                            }),
      IsOk());
  return out;
}

std::map<std::string, Derived> DeriveFromStore(const Store& store,
                                               absl::Time now) {
  std::vector<std::string> keys;
  std::map<std::string, int> index;
  std::vector<JobFacts> facts;
  std::vector<std::vector<std::string>> upstream_keys;
  for (const auto& [key, job] :
       ReadAll<records::StoredJob>(store, Column::kJobs)) {
    index[key] = static_cast<int>(facts.size());
    JobFacts& f = facts.emplace_back();
    f.key = key;
    f.cancel_requested = job.has_cancel_requested_at();
    upstream_keys.emplace_back(job.definition().upstream_keys().begin(),
                               job.definition().upstream_keys().end());
  }
  for (const auto& [key, attempt] :
       ReadAll<ccbatch::v1::Attempt>(store, Column::kAttempts)) {
    absl::StatusOr<JobAttempt> parsed = ParseJobAttemptKey(key);
    EXPECT_TRUE(parsed.ok());
    JobFacts& f = facts[index.at(parsed->job_key)];
    if (!f.attempt.has_value() || f.attempt->number < attempt.number()) {
      f.attempt = AttemptFactsFromProto(attempt);
    }
  }
  for (const auto& [key, verdict] :
       ReadAll<ccbatch::v1::Verdict>(store, Column::kVerdicts)) {
    absl::StatusOr<JobAttempt> parsed = ParseJobAttemptKey(key);
    EXPECT_TRUE(parsed.ok());
    JobFacts& f = facts[index.at(parsed->job_key)];
    if (parsed->attempt == (f.attempt.has_value() ? f.attempt->number : 0)) {
      f.verdict = VerdictFactsFromProto(verdict);
    }
  }
  std::vector<ClusterFacts> clusters;
  EXPECT_THAT(
      store.Scan(
          Column::kClusters, "",
          [&](absl::string_view key, absl::string_view value) {
            const size_t zero = key.find('\0');
            const std::string cluster(key.substr(0, zero));
            absl::string_view part = key.substr(zero + 1);
            if (part == "state") {
              records::ClusterRecord record;
              EXPECT_TRUE(record.ParseFromString(std::string(value)));
              ClusterFacts& c = clusters.emplace_back();
              c.name = cluster;
              c.has_snapshot = record.has_snapshot();
              if (record.has_snapshot_taken_at()) {
                c.snapshot_taken_at = TimeFromProto(record.snapshot_taken_at());
              }
              if (record.has_snapshot_received_at()) {
                c.snapshot_received_at =
                    TimeFromProto(record.snapshot_received_at());
              }
              c.last_probe_error = record.last_probe_error();
              if (record.has_last_probe_error_at()) {
                c.last_probe_error_at =
                    TimeFromProto(record.last_probe_error_at());
              }
            } else if (absl::ConsumePrefix(&part, "entry/")) {
              ccbatch::v1::QueueEntry entry;
              EXPECT_TRUE(entry.ParseFromString(std::string(value)));
              for (JobFacts& f : facts) {
                if (f.attempt.has_value() && f.attempt->cluster == cluster &&
                    f.attempt->slurm_job_id == part) {
                  f.attempt->queue_entry = QueueEntryFactsFromProto(entry);
                  f.attempt->last_queue_state = entry.state();
                }
              }
            }
            return true;
          }),
      IsOk());
  std::vector<std::vector<int>> upstream;
  for (const auto& list : upstream_keys) {
    std::vector<int>& up = upstream.emplace_back();
    for (const std::string& key : list) up.push_back(index.at(key));
  }
  absl::StatusOr<DependencyGraph> graph = DependencyGraph::Build(upstream);
  EXPECT_TRUE(graph.ok()) << graph.status();
  absl::StatusOr<StatusComputer> computer =
      StatusComputer::Create(std::move(*graph), facts);
  EXPECT_TRUE(computer.ok()) << computer.status();
  for (ClusterFacts& cluster : clusters) computer->SetCluster(cluster);
  computer->DeriveAll(now, kStaleness);
  std::map<std::string, Derived> out;
  for (const auto& [key, job] : index) {
    out[key] =
        Derived{computer->status(job).status, computer->status(job).reason};
  }
  return out;
}

std::map<std::string, Derived> CachedStatuses(const Store& store) {
  std::map<std::string, Derived> out;
  for (const auto& [key, stored] :
       ReadAll<records::StoredStatus>(store, Column::kStatus)) {
    out[key] = Derived{stored.view().status(), stored.view().reason()};
  }
  return out;
}

std::map<std::string, Derived> LedgerStatuses(Ledger& ledger) {
  std::map<std::string, Derived> out;
  ccbatch::v1::ListJobsRequest request;
  request.set_page_size(1000);
  absl::StatusOr<ccbatch::v1::ListJobsResponse> listed =
      ledger.ListJobs(request);
  EXPECT_TRUE(listed.ok()) << listed.status();
  if (!listed.ok()) return out;
  for (const auto& job : listed->jobs()) {
    out[job.key()] = Derived{job.status(), job.reason()};
  }
  return out;
}

std::string FreshDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(base != nullptr ? base : "/tmp", "/", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir + "/store";
}

// Runs the child until it acknowledged `acks` steps, kills it, and returns
// what it reported.
ChildReport RunAndKill(const std::string& path, uint64_t seed, uint64_t acks) {
  ChildReport report;
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const std::string flag =
      absl::StrCat(kChildFlag, path, ",", fds[1], ",", seed);
  char self[] = "/proc/self/exe";
  std::vector<char*> argv = {self, const_cast<char*>(flag.c_str()), nullptr};
  const pid_t child = fork();
  EXPECT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    close(fds[0]);
    execv(self, argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string buffer;
  ReadReport(fds[0], acks, &buffer, &report);
  EXPECT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  EXPECT_EQ(waitpid(child, &wait_status, 0), child);
  ReadReport(fds[0], 0, &buffer, &report);  // what was in flight
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(wait_status))
      << "the child ended by itself with status " << wait_status;
  return report;
}

TEST(LedgerCrashTest, SigkillAtRandomPointsLosesNoOrderAndRederivesTheSame) {
  std::mt19937_64 random(20260101);
  for (uint64_t trial = 0; trial < 4; ++trial) {
    SCOPED_TRACE(absl::StrCat("trial ", trial));
    const uint64_t seed = 500 + trial;
    const uint64_t acks = 30 + random() % 400;
    const std::string path = FreshDir(absl::StrCat("ledger_crash_", trial));
    ChildReport report = RunAndKill(path, seed, acks);
    ASSERT_GE(report.acks, acks);

    CCB_ASSERT_OK_AND_ASSIGN(auto store, RocksDbStore::Open(path));
    common::FakeClock clock(absl::FromUnixSeconds(report.clock_seconds));
    const std::map<std::string, Derived> cached = CachedStatuses(*store);
    const std::map<std::string, Derived> derived =
        DeriveFromStore(*store, clock.Now());
    ASSERT_FALSE(derived.empty());
    EXPECT_EQ(cached, derived) << "the cache was written apart from its facts";
    CCB_ASSERT_OK_AND_ASSIGN(auto last_event,
                             store->Get(Column::kMeta, "last_event_seq"));
    ASSERT_TRUE(last_event.has_value());
    CCB_ASSERT_OK_AND_ASSIGN(auto ledger,
                             Ledger::Open(store.get(), &clock, CrashOptions()));
    EXPECT_EQ(LedgerStatuses(*ledger), derived);

    // Every handed order: answered, or handed out again under its id.
    ccbatch::v1::Hello hello;
    hello.set_cluster("hpc1");
    ASSERT_THAT(ledger->AgentConnected(hello, 999999), IsOk());
    std::set<std::string> outstanding;
    for (const auto& directive : ledger->TakeDirectives("hpc1", 999999)) {
      if (directive.has_submit())
        outstanding.insert(directive.submit().order_id());
      if (directive.has_check_output()) {
        outstanding.insert(directive.check_output().order_id());
      }
      if (directive.has_cancel())
        outstanding.insert(directive.cancel().order_id());
    }
    std::map<std::pair<std::string, int>, std::set<std::string>> submit_ids;
    std::string highest;
    for (const HandedOrder& order : report.handed) {
      highest = std::max(highest, order.order_id);
      if (order.kind != "submit") continue;
      submit_ids[{order.job_key, order.attempt}].insert(order.order_id);
      ccbatch::v1::GetJobRequest get;
      get.set_key(order.job_key);
      CCB_ASSERT_OK_AND_ASSIGN(auto job, ledger->GetJob(get));
      ASSERT_GE(job.attempts_size(), order.attempt) << order.order_id;
      const ccbatch::v1::Attempt& attempt = job.attempts(order.attempt - 1);
      EXPECT_EQ(attempt.order_id(), order.order_id);
      const bool answered = !attempt.slurm_job_id().empty() ||
                            !attempt.submit_error().empty() ||
                            attempt.cancel_acknowledged() ||
                            (job.attempts_size() == order.attempt &&
                             job.verdict().attempt() == order.attempt &&
                             job.verdict().outcome() !=
                                 ccbatch::v1::Verdict::OUTCOME_UNSPECIFIED);
      EXPECT_TRUE(answered || outstanding.count(order.order_id) > 0)
          << order.order_id << " for " << order.job_key << " #" << order.attempt
          << " was lost";
    }
    for (const auto& [attempt, ids] : submit_ids) {
      EXPECT_EQ(ids.size(), 1u)
          << attempt.first << " #" << attempt.second << " was ordered twice";
    }
    // The cache agreed, so opening appended no "re-derived at start" event.
    EXPECT_EQ(absl::StrCat(ledger->LastEventSeq()), *last_event);
    // What is handed out again is exactly what the store holds as
    // outstanding.
    std::set<std::string> stored_orders;
    ASSERT_THAT(store->Scan(Column::kOrders, "",
                            [&](absl::string_view key, absl::string_view) {
                              stored_orders.insert(std::string(key));
                              return true;
                            }),
                IsOk());
    EXPECT_EQ(outstanding, stored_orders);

    // The history goes on past the restart: new ids only, still no
    // attempt ordered twice.
    RandomHistory after(seed + 1000, &clock);
    ASSERT_THAT(after.Reconnect(*ledger), IsOk());
    std::vector<HandedOrder> more;
    for (int step = 0; step < 150; ++step) {
      ASSERT_THAT(after.Step(*ledger, &more), IsOk()) << after.last_step();
    }
    for (const HandedOrder& order : more) {
      if (outstanding.count(order.order_id) > 0) continue;  // re-sent
      EXPECT_GT(order.order_id, highest) << "order id reused";
      if (order.kind == "submit") {
        submit_ids[{order.job_key, order.attempt}].insert(order.order_id);
      }
    }
    for (const auto& [attempt, ids] : submit_ids) {
      EXPECT_EQ(ids.size(), 1u) << attempt.first << " #" << attempt.second
                                << " was ordered twice after the restart";
    }
    EXPECT_EQ(LedgerStatuses(*ledger), DeriveFromStore(*store, clock.Now()));
  }
}

}  // namespace
}  // namespace ccbatch::ledger

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, ccbatch::ledger::kChildFlag)) continue;
    std::vector<std::string> parts = absl::StrSplit(arg, ',');
    int fd = -1;
    uint64_t seed = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &fd) ||
        !absl::SimpleAtoi(parts[2], &seed)) {
      std::fprintf(stderr, "bad %s\n", argv[i]);
      return 2;
    }
    return ccbatch::ledger::RunChild(parts[0], fd, seed);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
