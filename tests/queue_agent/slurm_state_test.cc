#include "queue_agent/slurm_state.h"

#include <optional>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace ccbatch::agent {
namespace {

struct Pair {
  const char* long_form;
  const char* short_form;
};

// Every job state the issue lists, with squeue's %t abbreviation.
constexpr Pair kStates[] = {
    {"PENDING", "PD"},      {"RUNNING", "R"},         {"SUSPENDED", "S"},
    {"COMPLETING", "CG"},   {"COMPLETED", "CD"},      {"CONFIGURING", "CF"},
    {"CANCELLED", "CA"},    {"FAILED", "F"},          {"TIMEOUT", "TO"},
    {"PREEMPTED", "PR"},    {"NODE_FAIL", "NF"},      {"BOOT_FAIL", "BF"},
    {"DEADLINE", "DL"},     {"OUT_OF_MEMORY", "OOM"}, {"REQUEUED", "RQ"},
    {"REQUEUE_HOLD", "RH"}, {"REQUEUE_FED", "RF"},    {"RESIZING", "RS"},
    {"REVOKED", "RV"},      {"SIGNALING", "SI"},      {"SPECIAL_EXIT", "SE"},
    {"STAGE_OUT", "SO"},    {"STOPPED", "ST"},        {"RESV_DEL_HOLD", "RD"},
};

TEST(CanonicalSlurmStateTest, LongAndShortFormsGiveTheLongForm) {
  std::set<std::string> seen;
  for (const Pair& pair : kStates) {
    EXPECT_EQ(CanonicalSlurmState(pair.long_form),
              std::optional<absl::string_view>(pair.long_form));
    EXPECT_EQ(CanonicalSlurmState(pair.short_form),
              std::optional<absl::string_view>(pair.long_form))
        << pair.short_form;
    seen.insert(pair.short_form);
  }
  EXPECT_EQ(seen.size(), sizeof(kStates) / sizeof(kStates[0]));
}

TEST(CanonicalSlurmStateTest, ToleratesSuffixesOfOtherTools) {
  EXPECT_EQ(CanonicalSlurmState("CANCELLED by 0"),
            std::optional<absl::string_view>("CANCELLED"));
  EXPECT_EQ(CanonicalSlurmState("CANCELLED by 1000"),
            std::optional<absl::string_view>("CANCELLED"));
  EXPECT_EQ(CanonicalSlurmState("CANCELLED+"),
            std::optional<absl::string_view>("CANCELLED"));
}

TEST(CanonicalSlurmStateTest, UnknownStatesAreNotGuessed) {
  for (absl::string_view text :
       {"", " ", "running", "RUN", "PENDINGX", "P", "STATE", "POWER_UP_NODE",
        "RUNNING,COMPLETING", "+"}) {
    EXPECT_EQ(CanonicalSlurmState(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace ccbatch::agent
