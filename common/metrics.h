// Counters, gauges and histograms for the daemons' /metrics endpoint,
// rendered in the Prometheus text exposition format, version 0.0.4:
//
//   # HELP ccbatch_agent_squeue_failures_total squeue calls that failed.
//   # TYPE ccbatch_agent_squeue_failures_total counter
//   ccbatch_agent_squeue_failures_total 2
//
// Recording is cheap and lock-free (relaxed atomics), so hot paths may
// record on every event; only looking up a labelled child takes a lock, so
// hot paths look it up once and keep the pointer. Gauges whose value the
// owner already knows (e.g. the ledger's jobs per status) are collected at
// scrape time instead of being kept up to date (AddGaugeCollector).
//
// A registry is passed by pointer to whatever records into it; only main()
// creates one for the process. Everything here is thread-safe. Metrics live
// as long as their registry and never move.
#ifndef CCBATCH_COMMON_METRICS_H_
#define CCBATCH_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ccbatch::common {

// A count that only goes up (events, failures, bytes).
class Counter final {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Increment(uint64_t by = 1) {
    value_.fetch_add(by, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (a size, a count of things present).
class Gauge final {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in fixed buckets, with their count and sum.
class Histogram final {
 public:
  // Bucket i counts observations <= upper_bounds[i]; one more bucket (+Inf)
  // counts the rest. REQUIRES: `upper_bounds` finite and strictly
  // increasing (the registry checks this for its histograms).
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN is ignored: it belongs in no bucket and would poison the sum.
  void Observe(double value);
  // In seconds; a negative duration (a clock stepped back) counts as 0.
  void ObserveDuration(absl::Duration duration);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Observations per bucket (not cumulative); the last is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> upper_bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Upper bounds from 1 ms to 2 minutes, for latencies in seconds (squeue,
// snapshot application, parsing).
std::vector<double> LatencyBucketsSeconds();

namespace metrics_internal {

enum class Kind { kCounter, kGauge, kHistogram };

// What every metric family shares; the registry renders them in name order.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Kind kind,
             std::vector<std::string> label_names,
             std::vector<double> upper_bounds);
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Kind kind() const { return kind_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

  // Appends the family's sample lines (not its HELP and TYPE).
  virtual void AppendSamples(std::string& out) const = 0;

 protected:
  // `label_values` padded with "" or cut to the number of label names.
  std::vector<std::string> LabelKey(
      absl::Span<const absl::string_view> label_values) const;

 private:
  const std::string name_;
  const std::string help_;
  const Kind kind_;
  const std::vector<std::string> label_names_;
  const std::vector<double> upper_bounds_;
};

// Sample lines of one child of `family`.
void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Counter& counter, std::string& out);
void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Gauge& gauge, std::string& out);
void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Histogram& histogram, std::string& out);

struct CollectorSlot;

}  // namespace metrics_internal

// Metrics of one name told apart by label values, e.g.
// ccbatch_ledger_orders_sent_total{kind="submit"}.
template <typename Metric>
class MetricFamily final : public metrics_internal::FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The child for `label_values` (one per label name, in order; missing
  // ones are empty, extra ones ignored), created on first use. Takes a
  // lock: look it up once on hot paths and keep the pointer.
  Metric* WithLabels(absl::Span<const absl::string_view> label_values) {
    std::vector<std::string> key = LabelKey(label_values);
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Metric>& child = children_[std::move(key)];
    if (child == nullptr) child = Make();
    return child.get();
  }
  Metric* WithLabels(std::initializer_list<absl::string_view> label_values) {
    return WithLabels(
        absl::MakeConstSpan(label_values.begin(), label_values.size()));
  }

  void AppendSamples(std::string& out) const override {
    absl::MutexLock lock(&mu_);
    for (const auto& [label_values, child] : children_) {
      metrics_internal::AppendSamples(*this, label_values, *child, out);
    }
  }

 private:
  std::unique_ptr<Metric> Make() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(upper_bounds());
    } else {
      return std::make_unique<Metric>();
    }
  }

  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_
      ABSL_GUARDED_BY(mu_);
};

// One sample of a collected gauge.
struct GaugeSample {
  std::vector<std::string> label_values;
  double value = 0;
};
using GaugeCollector = std::function<std::vector<GaugeSample>()>;

// Keeps a gauge collector registered; destroying it (or Reset) unregisters
// the collector and waits for a collection in progress, so whatever the
// collector reads may be destroyed right after. Move-only.
class CollectorRegistration final {
 public:
  CollectorRegistration() = default;
  CollectorRegistration(CollectorRegistration&& other) noexcept = default;
  CollectorRegistration& operator=(CollectorRegistration&& other) noexcept;
  ~CollectorRegistration();

  void Reset();

 private:
  friend class MetricsRegistry;
  explicit CollectorRegistration(
      std::shared_ptr<metrics_internal::CollectorSlot> slot)
      : slot_(std::move(slot)) {}

  std::shared_ptr<metrics_internal::CollectorSlot> slot_;
};

class MetricsRegistry final {
 public:
  // The Content-Type of ExpositionText.
  static constexpr absl::string_view kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Add* returns the family (or, without labels, the one metric) named
  // `name`, owned by the registry. Adding a name again with the same kind,
  // labels and buckets returns the existing one, so components sharing a
  // registry (or a component started twice) may each add what they use.
  // REQUIRES (checked; a violation aborts, being a programming error):
  // `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*, label names match
  // [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__", histograms have no
  // label "le" and finite, strictly increasing bounds, and a name is not
  // added again differently. Counter names should end in "_total".
  Counter* AddCounter(absl::string_view name, absl::string_view help);
  Gauge* AddGauge(absl::string_view name, absl::string_view help);
  Histogram* AddHistogram(absl::string_view name, absl::string_view help,
                          std::vector<double> upper_bounds);
  MetricFamily<Counter>* AddCounterFamily(absl::string_view name,
                                          absl::string_view help,
                                          std::vector<std::string> labels);
  MetricFamily<Gauge>* AddGaugeFamily(absl::string_view name,
                                      absl::string_view help,
                                      std::vector<std::string> labels);
  MetricFamily<Histogram>* AddHistogramFamily(absl::string_view name,
                                              absl::string_view help,
                                              std::vector<std::string> labels,
                                              std::vector<double> upper_bounds);

  // A gauge whose samples `collect` returns at each scrape, called without
  // the registry's locks held (it may take its owner's). Several collectors
  // may share a name; their samples are listed together. Same REQUIRES as
  // above.
  [[nodiscard]] CollectorRegistration AddGaugeCollector(
      absl::string_view name, absl::string_view help,
      std::vector<std::string> labels, GaugeCollector collect);

  // Every family in name order, children in label order.
  std::string ExpositionText() const;

 private:
  metrics_internal::FamilyBase* Find(absl::string_view name,
                                     metrics_internal::Kind kind,
                                     const std::vector<std::string>& labels,
                                     const std::vector<double>& upper_bounds,
                                     bool collector)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  template <typename Metric>
  MetricFamily<Metric>* AddFamily(absl::string_view name,
                                  absl::string_view help,
                                  metrics_internal::Kind kind,
                                  std::vector<std::string> labels,
                                  std::vector<double> upper_bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<metrics_internal::FamilyBase>,
           std::less<>>
      families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_METRICS_H_
