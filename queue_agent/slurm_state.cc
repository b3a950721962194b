#include "queue_agent/slurm_state.h"

#include <array>

namespace ccbatch::agent {
namespace {

struct StateName {
  absl::string_view long_form;
  absl::string_view short_form;
};

// SLURM 22.05's job states and state flags as squeue prints them
// (job_state_string / job_state_string_compact).
constexpr std::array<StateName, 24> kStates = {{
    {"PENDING", "PD"},      {"RUNNING", "R"},         {"SUSPENDED", "S"},
    {"COMPLETING", "CG"},   {"COMPLETED", "CD"},      {"CONFIGURING", "CF"},
    {"CANCELLED", "CA"},    {"FAILED", "F"},          {"TIMEOUT", "TO"},
    {"PREEMPTED", "PR"},    {"NODE_FAIL", "NF"},      {"BOOT_FAIL", "BF"},
    {"DEADLINE", "DL"},     {"OUT_OF_MEMORY", "OOM"}, {"REQUEUED", "RQ"},
    {"REQUEUE_HOLD", "RH"}, {"REQUEUE_FED", "RF"},    {"RESIZING", "RS"},
    {"REVOKED", "RV"},      {"SIGNALING", "SI"},      {"SPECIAL_EXIT", "SE"},
    {"STAGE_OUT", "SO"},    {"STOPPED", "ST"},        {"RESV_DEL_HOLD", "RD"},
}};

}  // namespace

std::optional<absl::string_view> CanonicalSlurmState(absl::string_view text) {
  const size_t space = text.find(' ');
  if (space != absl::string_view::npos) text = text.substr(0, space);
  if (!text.empty() && text.back() == '+') text.remove_suffix(1);
  for (const StateName& state : kStates) {
    if (text == state.long_form || text == state.short_form) {
      return state.long_form;
    }
  }
  return std::nullopt;
}

}  // namespace ccbatch::agent
