#include "ledger_service/input_limits.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "ccbatch/v1/agent.pb.h"
#include "ccbatch/v1/ledger.pb.h"
#include "common/status_matchers.h"
#include "common/utf8_text.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace ccbatch::ledger {
namespace {

namespace v1 = ::ccbatch::v1;
using ::ccbatch::testing::IsOk;
using ::ccbatch::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CheckStringLengthsTest, AcceptsStringsUpToTheLimit) {
  v1::AgentMessage message;
  v1::SnapshotChunk* chunk = message.mutable_snapshot_chunk();
  for (int i = 0; i < 3; ++i) {
    v1::QueueEntry* entry = chunk->add_entries();
    entry->set_slurm_job_id(absl::StrCat(4810 + i));
    entry->set_name(std::string(10, 'n'));
  }
  chunk->mutable_diagnostics()->add_malformed_samples(std::string(10, 's'));
  EXPECT_THAT(CheckStringLengths(message, 10), IsOk());
  EXPECT_THAT(CheckStringLengths(v1::AgentMessage(), 0), IsOk());
}

TEST(CheckStringLengthsTest, NamesTheFieldPathOfAnOverlongString) {
  v1::AgentMessage message;
  v1::SnapshotChunk* chunk = message.mutable_snapshot_chunk();
  chunk->add_entries()->set_name("short");
  chunk->add_entries()->set_comment(std::string(11, 'c'));
  EXPECT_THAT(CheckStringLengths(message, 10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "snapshot_chunk.entries[1].comment is 11 bytes long; "
                       "the ledger accepts at most 10 bytes in one field"));

  v1::AgentMessage samples;
  samples.mutable_snapshot_chunk()
      ->mutable_diagnostics()
      ->add_malformed_samples("ok");
  samples.mutable_snapshot_chunk()
      ->mutable_diagnostics()
      ->add_malformed_samples(std::string(20, 'x'));
  EXPECT_THAT(
      CheckStringLengths(samples, 10),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("snapshot_chunk.diagnostics.malformed_samples[1] is "
                         "20 bytes")));
}

TEST(CheckStringLengthsTest, LooksIntoEveryNestedMessage) {
  v1::ImportBatchRequest request;
  v1::JobDefinition* job = request.mutable_batch()->add_jobs();
  job->mutable_coords()->set_filename(std::string(100, 'f'));
  EXPECT_THAT(
      CheckStringLengths(request, 99),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("batch.jobs[0].coords.filename is 100 bytes")));

  v1::AgentMessage verdict;
  verdict.mutable_check_output_result()
      ->mutable_verdict()
      ->add_evidence()
      ->set_rule(std::string(50, 'r'));
  EXPECT_THAT(
      CheckStringLengths(verdict, 49),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("check_output_result.verdict.evidence[0].rule")));
}

TEST(CheckStringLengthsTest, CoversEveryStringFieldOfAQueueEntry) {
  // Queue entries are checked without reflection: a string field added to
  // QueueEntry must be added to that check too.
  const google::protobuf::Descriptor* descriptor = v1::QueueEntry::descriptor();
  int strings = 0;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    ASSERT_NE(field->cpp_type(),
              google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE)
        << field->name() << ": check QueueEntry's messages too";
    if (field->cpp_type() !=
        google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
      continue;
    }
    ++strings;
    v1::AgentMessage message;
    v1::QueueEntry* entry = message.mutable_snapshot_chunk()->add_entries();
    entry->GetReflection()->SetString(entry, field, std::string(11, 'x'));
    EXPECT_THAT(
        CheckStringLengths(message, 10),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr(absl::StrCat("snapshot_chunk.entries[0].",
                                        field->name(), " is 11 bytes"))));
  }
  EXPECT_EQ(strings, 6);
  // And SnapshotChunk has no string or message field besides its entries
  // and diagnostics (checked field by field there).
  const google::protobuf::Descriptor* chunk = v1::SnapshotChunk::descriptor();
  for (int i = 0; i < chunk->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = chunk->field(i);
    if (field->cpp_type() ==
            google::protobuf::FieldDescriptor::CPPTYPE_STRING ||
        field->cpp_type() ==
            google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      EXPECT_THAT(field->name(),
                  ::testing::AnyOf("entries", "diagnostics", "taken_at"));
    }
  }
}

TEST(CheckJobCountTest, RefusesMoreThanTheLimitWithResourceExhausted) {
  InputLimits limits;
  limits.max_jobs_per_request = 3;
  EXPECT_THAT(CheckJobCount(3, "batch.jobs", limits), IsOk());
  EXPECT_THAT(CheckJobCount(4, "batch.jobs", limits),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "batch.jobs holds 4 jobs; the ledger accepts at most 3 "
                       "in one request (split it)"));
}

v1::Verdict VerdictWithEvidence(int lines, size_t text_bytes) {
  v1::Verdict verdict;
  verdict.set_outcome(v1::Verdict::OUTCOME_FAILED);
  for (int i = 0; i < lines; ++i) {
    v1::EvidenceLine* line = verdict.add_evidence();
    line->set_line_number(i + 1);
    line->set_text(std::string(text_bytes, 'a' + i % 26));
  }
  return verdict;
}

TEST(TrimEvidenceTest, LeavesEvidenceWithinTheLimitsAlone) {
  InputLimits limits;
  limits.max_evidence_lines = 4;
  limits.max_evidence_bytes = 40;
  v1::Verdict verdict = VerdictWithEvidence(4, 10);
  const v1::Verdict before = verdict;
  EXPECT_FALSE(TrimEvidence(verdict, limits));
  EXPECT_EQ(verdict.SerializeAsString(), before.SerializeAsString());
}

TEST(TrimEvidenceTest, KeepsTheFirstLinesAndSaysSo) {
  InputLimits limits;
  limits.max_evidence_lines = 3;
  limits.max_evidence_bytes = 1000;
  v1::Verdict verdict = VerdictWithEvidence(10, 5);
  EXPECT_TRUE(TrimEvidence(verdict, limits));
  ASSERT_EQ(verdict.evidence_size(), 3);
  EXPECT_EQ(verdict.evidence(2).line_number(), 3);
  ASSERT_EQ(verdict.warnings_size(), 1);
  EXPECT_EQ(verdict.warnings(0),
            "the ledger kept 3 of 10 evidence lines (limits: 3 lines, 1000 "
            "bytes of text)");
  EXPECT_EQ(verdict.outcome(), v1::Verdict::OUTCOME_FAILED);
}

TEST(TrimEvidenceTest, CutsTheLineThatCrossesTheByteLimit) {
  InputLimits limits;
  limits.max_evidence_lines = 100;
  limits.max_evidence_bytes = 25;
  v1::Verdict verdict = VerdictWithEvidence(5, 10);
  EXPECT_TRUE(TrimEvidence(verdict, limits));
  ASSERT_EQ(verdict.evidence_size(), 3);
  EXPECT_EQ(verdict.evidence(1).text().size(), 10u);
  EXPECT_EQ(verdict.evidence(2).text(), "ccccc");
  ASSERT_EQ(verdict.warnings_size(), 1);
  EXPECT_THAT(verdict.warnings(0),
              HasSubstr("kept 3 of 5 evidence lines and cut the text of the "
                        "last"));
}

TEST(TrimEvidenceTest, NeverCutsInsideAUtf8Character) {
  InputLimits limits;
  limits.max_evidence_bytes = 4;
  v1::Verdict verdict;
  verdict.add_evidence()->set_text("a\xc3\xa9\xc3\xa9");  // "aéé", 5 bytes
  EXPECT_TRUE(TrimEvidence(verdict, limits));
  EXPECT_EQ(verdict.evidence(0).text(), "a\xc3\xa9");
  EXPECT_TRUE(common::IsValidUtf8(verdict.evidence(0).text()));
}

TEST(TrimEvidenceTest, ALineStartingExactlyAtTheByteLimitIsDropped) {
  InputLimits limits;
  limits.max_evidence_bytes = 20;
  v1::Verdict verdict = VerdictWithEvidence(3, 10);
  EXPECT_TRUE(TrimEvidence(verdict, limits));
  EXPECT_EQ(verdict.evidence_size(), 2);
  EXPECT_THAT(verdict.warnings(0), HasSubstr("kept 2 of 3 evidence lines ("));
}

}  // namespace
}  // namespace ccbatch::ledger
