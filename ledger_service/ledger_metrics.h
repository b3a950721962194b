// What the ledger process records for /metrics (docs/OPERATIONS.md lists
// every name): LedgerCoreMetrics for the ledger core (ledger.h), which knows
// orders and snapshots; LedgerServiceMetrics for the gRPC layer, which knows
// streams and callers. Both register their metrics in the registry they are
// given; several instances over one registry (a ledger reopened, a server
// restarted, main and the server each holding one) share the same series.
//
// Label values are clusters, order kinds and refusal reasons: a few each,
// never job keys, paths or tokens, so the number of series stays small.
//
// Thread-safe: recording is lock-free once a cluster's series exist.
#ifndef CCBATCH_LEDGER_SERVICE_LEDGER_METRICS_H_
#define CCBATCH_LEDGER_SERVICE_LEDGER_METRICS_H_

#include <array>
#include <cstddef>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/metrics.h"

namespace ccbatch::ledger {

class LedgerCoreMetrics final {
 public:
  enum class Order { kSubmit = 0, kCheckOutput = 1, kCancel = 2 };

  // Registers in `registry`, or in a private one nobody scrapes when it is
  // null. REQUIRES: `registry` outlives this object (not owned).
  explicit LedgerCoreMetrics(common::MetricsRegistry* registry);

  LedgerCoreMetrics(const LedgerCoreMetrics&) = delete;
  LedgerCoreMetrics& operator=(const LedgerCoreMetrics&) = delete;

  // The registry recorded into (the private one when none was given).
  common::MetricsRegistry* registry() const { return registry_; }

  // An order handed to an agent stream: `again` when it may have been
  // handed before (a new stream, an unanswered check re-asked, a restart).
  void OrderHanded(Order kind, bool again);
  // An agent's answer to an outstanding order.
  void OrderAnswered(Order kind);
  // A snapshot of `cluster` with `entries` entries was applied in `took`.
  void SnapshotApplied(absl::string_view cluster, size_t entries,
                       absl::Duration took);

 private:
  std::unique_ptr<common::MetricsRegistry> own_registry_;
  common::MetricsRegistry* const registry_;
  std::array<common::Counter*, 3> sent_{};
  std::array<common::Counter*, 3> resent_{};
  std::array<common::Counter*, 3> answered_{};
  common::MetricFamily<common::Histogram>* const apply_seconds_;
  common::MetricFamily<common::Gauge>* const snapshot_entries_;
};

class LedgerServiceMetrics final {
 public:
  // As LedgerCoreMetrics's.
  explicit LedgerServiceMetrics(common::MetricsRegistry* registry);

  LedgerServiceMetrics(const LedgerServiceMetrics&) = delete;
  LedgerServiceMetrics& operator=(const LedgerServiceMetrics&) = delete;

  // An agent stream said Hello for `cluster` and was bound to it.
  void RecordStreamConnect(absl::string_view cluster);
  // A call or stream refused by authentication or authorisation. `reason`
  // is one of a few fixed words (e.g. the status code's name,
  // "UNAUTHENTICATED" or "PERMISSION_DENIED"), never caller data.
  void RecordAuthRefusal(absl::string_view reason);

 private:
  std::unique_ptr<common::MetricsRegistry> own_registry_;
  common::MetricsRegistry* const registry_;
  common::MetricFamily<common::Counter>* const stream_connects_;
  common::MetricFamily<common::Counter>* const auth_refusals_;
};

}  // namespace ccbatch::ledger

#endif  // CCBATCH_LEDGER_SERVICE_LEDGER_METRICS_H_
