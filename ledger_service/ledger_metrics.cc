#include "ledger_service/ledger_metrics.h"

#include <iterator>
#include <utility>

namespace ccbatch::ledger {
namespace {

common::MetricsRegistry* GivenOrOwn(
    common::MetricsRegistry* given,
    std::unique_ptr<common::MetricsRegistry>& own) {
  if (given != nullptr) return given;
  if (own == nullptr) own = std::make_unique<common::MetricsRegistry>();
  return own.get();
}

constexpr absl::string_view kOrderKinds[] = {"submit", "check_output",
                                             "cancel"};

size_t Index(LedgerCoreMetrics::Order kind) {
  return static_cast<size_t>(kind);
}

}  // namespace

LedgerCoreMetrics::LedgerCoreMetrics(common::MetricsRegistry* registry)
    : registry_(GivenOrOwn(registry, own_registry_)),
      apply_seconds_(registry_->AddHistogramFamily(
          "ccbatch_ledger_snapshot_apply_seconds",
          "Time to apply one agent snapshot to the ledger (derive, schedule, "
          "write).",
          {"cluster"}, common::LatencyBucketsSeconds())),
      snapshot_entries_(registry_->AddGaugeFamily(
          "ccbatch_ledger_snapshot_entries",
          "Queue entries in the latest snapshot applied for the cluster.",
          {"cluster"})) {
  common::MetricFamily<common::Counter>* sent = registry_->AddCounterFamily(
      "ccbatch_ledger_orders_sent_total",
      "Orders handed to an agent stream for the first time.", {"kind"});
  common::MetricFamily<common::Counter>* resent = registry_->AddCounterFamily(
      "ccbatch_ledger_orders_resent_total",
      "Orders handed out again: on a new stream, after a restart, or a "
      "CheckOutput left unanswered.",
      {"kind"});
  common::MetricFamily<common::Counter>* answered = registry_->AddCounterFamily(
      "ccbatch_ledger_orders_acked_total",
      "Agent answers to outstanding orders (the order is then done).",
      {"kind"});
  for (size_t i = 0; i < std::size(kOrderKinds); ++i) {
    sent_[i] = sent->WithLabels({kOrderKinds[i]});
    resent_[i] = resent->WithLabels({kOrderKinds[i]});
    answered_[i] = answered->WithLabels({kOrderKinds[i]});
  }
}

void LedgerCoreMetrics::OrderHanded(Order kind, bool again) {
  (again ? resent_ : sent_)[Index(kind)]->Increment();
}

void LedgerCoreMetrics::OrderAnswered(Order kind) {
  answered_[Index(kind)]->Increment();
}

void LedgerCoreMetrics::SnapshotApplied(absl::string_view cluster,
                                        size_t entries, absl::Duration took) {
  apply_seconds_->WithLabels({cluster})->ObserveDuration(took);
  snapshot_entries_->WithLabels({cluster})->Set(static_cast<double>(entries));
}

LedgerServiceMetrics::LedgerServiceMetrics(common::MetricsRegistry* registry)
    : registry_(GivenOrOwn(registry, own_registry_)),
      stream_connects_(registry_->AddCounterFamily(
          "ccbatch_ledger_agent_connects_total",
          "Agent streams bound to a cluster by their Hello.", {"cluster"})),
      auth_refusals_(registry_->AddCounterFamily(
          "ccbatch_ledger_auth_refusals_total",
          "Calls and streams refused by authentication or authorisation.",
          {"reason"})) {}

void LedgerServiceMetrics::RecordStreamConnect(absl::string_view cluster) {
  stream_connects_->WithLabels({cluster})->Increment();
}

void LedgerServiceMetrics::RecordAuthRefusal(absl::string_view reason) {
  auth_refusals_->WithLabels({reason})->Increment();
}

}  // namespace ccbatch::ledger
