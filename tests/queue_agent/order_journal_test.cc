#include "queue_agent/order_journal.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/fake_file_system.h"
#include "common/file_system.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr char kStateDir[] = "/var/lib/ccbatch";
constexpr char kJournalPath[] = "/var/lib/ccbatch/orders.journal";

const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

v1::SubmitResult Submitted(const std::string& order_id,
                           const std::string& slurm_id) {
  v1::SubmitResult result;
  result.set_order_id(order_id);
  result.set_slurm_job_id(slurm_id);
  result.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kT0) + 5);
  return result;
}

class OrderJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(fs_.CreateDirectories(kStateDir), IsOk());
  }

  std::unique_ptr<OrderJournal> OpenOrDie(OrderJournalOptions options = {}) {
    absl::StatusOr<std::unique_ptr<OrderJournal>> journal =
        OrderJournal::Open(&fs_, kStateDir, options);
    EXPECT_THAT(journal, IsOk());
    return journal.ok() ? std::move(journal).value() : nullptr;
  }

  common::FakeFileSystem fs_;
};

TEST_F(OrderJournalTest, FreshJournalIsEmptyAndWritesNothing) {
  std::unique_ptr<OrderJournal> journal = OpenOrDie();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->size(), 0u);
  EXPECT_EQ(journal->Find("o-1"), std::nullopt);
  EXPECT_EQ(journal->path(), kJournalPath);
  EXPECT_EQ(fs_.Contents(kJournalPath), std::nullopt);
}

TEST_F(OrderJournalTest, ResultsSurviveReopening) {
  {
    std::unique_ptr<OrderJournal> journal = OpenOrDie();
    ASSERT_NE(journal, nullptr);
    ASSERT_THAT(journal->RecordStarted("o-1", kT0), IsOk());
    ASSERT_THAT(journal->RecordResult(Submitted("o-1", "4812")), IsOk());
    ASSERT_THAT(
        journal->RecordStarted("o-2\twith\ntab", kT0 + absl::Seconds(1)),
        IsOk());
    v1::SubmitResult refused;
    refused.set_order_id("o-3");
    refused.set_error("sbatch: error: Batch job submission failed");
    ASSERT_THAT(journal->RecordResult(refused), IsOk());
  }
  std::unique_ptr<OrderJournal> reopened = OpenOrDie();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->size(), 3u);

  std::optional<JournalEntry> first = reopened->Find("o-1");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->started_at, kT0);
  ASSERT_TRUE(first->result.has_value());
  EXPECT_EQ(first->result->slurm_job_id(), "4812");

  std::optional<JournalEntry> in_flight = reopened->Find("o-2\twith\ntab");
  ASSERT_TRUE(in_flight.has_value());
  EXPECT_EQ(in_flight->started_at, kT0 + absl::Seconds(1));
  EXPECT_FALSE(in_flight->result.has_value());

  std::optional<JournalEntry> third = reopened->Find("o-3");
  ASSERT_TRUE(third.has_value());
  ASSERT_TRUE(third->result.has_value());
  EXPECT_THAT(third->result->error(), HasSubstr("submission failed"));
}

TEST_F(OrderJournalTest, AdoptedVerdictIsKeptWhole) {
  v1::SubmitResult adopted;
  adopted.set_order_id("o-9");
  v1::Verdict* verdict = adopted.mutable_adopted();
  verdict->set_job_key("b/mol1");
  verdict->set_outcome(v1::Verdict::OUTCOME_SUCCEEDED);
  v1::EvidenceLine* line = verdict->add_evidence();
  line->set_line_number(1234);
  line->set_text(" Normal termination of Gaussian 16");
  {
    std::unique_ptr<OrderJournal> journal = OpenOrDie();
    ASSERT_NE(journal, nullptr);
    ASSERT_THAT(journal->RecordResult(adopted), IsOk());
  }
  std::unique_ptr<OrderJournal> reopened = OpenOrDie();
  ASSERT_NE(reopened, nullptr);
  std::optional<JournalEntry> entry = reopened->Find("o-9");
  ASSERT_TRUE(entry.has_value() && entry->result.has_value());
  EXPECT_EQ(entry->result->SerializeAsString(), adopted.SerializeAsString());
}

TEST_F(OrderJournalTest, PrunesOldestPastMaxEntries) {
  OrderJournalOptions options;
  options.max_entries = 3;
  {
    std::unique_ptr<OrderJournal> journal = OpenOrDie(options);
    ASSERT_NE(journal, nullptr);
    for (int i = 1; i <= 5; ++i) {
      ASSERT_THAT(journal->RecordResult(
                      Submitted(absl::StrCat("o-", i), absl::StrCat(100 + i))),
                  IsOk());
    }
    EXPECT_EQ(journal->size(), 3u);
    EXPECT_EQ(journal->Find("o-2"), std::nullopt);
    EXPECT_TRUE(journal->Find("o-3").has_value());
  }
  std::unique_ptr<OrderJournal> reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->size(), 3u);
  EXPECT_EQ(reopened->Find("o-1"), std::nullopt);
  EXPECT_TRUE(reopened->Find("o-5").has_value());
}

TEST_F(OrderJournalTest, UpdatingAnOrderMakesItNewest) {
  OrderJournalOptions options;
  options.max_entries = 2;
  std::unique_ptr<OrderJournal> journal = OpenOrDie(options);
  ASSERT_NE(journal, nullptr);
  ASSERT_THAT(journal->RecordStarted("a", kT0), IsOk());
  ASSERT_THAT(journal->RecordStarted("b", kT0), IsOk());
  ASSERT_THAT(journal->RecordResult(Submitted("a", "1")), IsOk());
  ASSERT_THAT(journal->RecordStarted("c", kT0), IsOk());
  EXPECT_EQ(journal->Find("b"), std::nullopt);
  std::optional<JournalEntry> a = journal->Find("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->started_at, kT0);  // the start is kept with the result
  EXPECT_TRUE(a->result.has_value());
}

TEST_F(OrderJournalTest, PrunesPastMaxBytesButKeepsNewest) {
  OrderJournalOptions options;
  options.max_bytes = 10;  // less than one line
  std::unique_ptr<OrderJournal> journal = OpenOrDie(options);
  ASSERT_NE(journal, nullptr);
  ASSERT_THAT(journal->RecordResult(Submitted("o-1", "1")), IsOk());
  ASSERT_THAT(journal->RecordResult(Submitted("o-2", "2")), IsOk());
  EXPECT_EQ(journal->size(), 1u);
  EXPECT_TRUE(journal->Find("o-2").has_value());
}

TEST_F(OrderJournalTest, FailedWriteChangesNothing) {
  std::unique_ptr<OrderJournal> journal = OpenOrDie();
  ASSERT_NE(journal, nullptr);
  fs_.SetError(kJournalPath, absl::PermissionDeniedError("disk says no"));
  EXPECT_THAT(journal->RecordResult(Submitted("o-1", "1")),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("order journal")));
  EXPECT_EQ(journal->Find("o-1"), std::nullopt);
  EXPECT_EQ(journal->size(), 0u);
}

TEST_F(OrderJournalTest, CorruptFileIsAClearError) {
  struct Case {
    std::string contents;
    std::string expected;
  };
  const std::string header = "# ccbatch order journal v1\n";
  const Case cases[] = {
      {"not a journal\n", "orders.journal:1: expected"},
      {"", "orders.journal:1: empty file"},
      {header + "123\to-1\n", "orders.journal:2: expected 3 tab-separated"},
      {header + "12x\to-1\t-\n", "orders.journal:2: bad start time"},
      {header + "1\to-1\t-\n2\to-2\t!!notbase64\n",
       "orders.journal:3: result does not decode"},
      {header + "1\t\t-\n", "orders.journal:2: bad order id"},
      {header + absl::StrCat("1\to-1\t", "CgNvLTISATE=", "\n"),
       "orders.journal:2: result is for another order"},
  };
  for (const Case& c : cases) {
    fs_.SetFile(kJournalPath, c.contents, kT0);
    EXPECT_THAT(OrderJournal::Open(&fs_, kStateDir),
                StatusIs(absl::StatusCode::kDataLoss,
                         ::testing::AllOf(HasSubstr(c.expected),
                                          HasSubstr("Move it aside"))))
        << c.contents;
  }
}

TEST_F(OrderJournalTest, MissingStateDirectoryIsAnError) {
  EXPECT_THAT(
      OrderJournal::Open(&fs_, "/nowhere"),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr("state directory")));
}

TEST(OrderJournalPosixTest, PersistsOnDisk) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ASSERT_NE(tmp, nullptr);
  const std::string dir = absl::StrCat(tmp, "/journal-posix");
  common::FileSystem* fs = common::PosixFileSystem::Default();
  ASSERT_THAT(fs->CreateDirectories(dir), IsOk());
  {
    CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OrderJournal> journal,
                             OrderJournal::Open(fs, dir));
    ASSERT_THAT(journal->RecordResult(Submitted("o-1", "77")), IsOk());
  }
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<OrderJournal> journal,
                           OrderJournal::Open(fs, dir + "/"));
  std::optional<JournalEntry> entry = journal->Find("o-1");
  ASSERT_TRUE(entry.has_value() && entry->result.has_value());
  EXPECT_EQ(entry->result->slurm_job_id(), "77");
  // Nothing but the journal is left behind (no temporary files).
  CCB_ASSERT_OK_AND_ASSIGN(std::vector<std::string> names,
                           fs->ListDirectory(dir));
  EXPECT_THAT(names, ::testing::ElementsAre("orders.journal"));
}

}  // namespace
}  // namespace ccbatch::agent
