#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ccbatch::common {

using metrics_internal::CollectorSlot;
using metrics_internal::FamilyBase;
using metrics_internal::Kind;

namespace metrics_internal {

struct CollectorSlot {
  absl::Mutex mu;
  // Empty once unregistered.
  GaugeCollector collect ABSL_GUARDED_BY(mu);
};

}  // namespace metrics_internal

namespace {

// Registration errors are programming errors (names are literals in the
// code), found by the first run of any test.
[[noreturn]] void RegistrationBug(const std::string& message) {
  std::fprintf(stderr, "ccbatch metrics: %s\n", message.c_str());
  std::abort();
}

bool IsValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool ok = absl::ascii_isalpha(c) || c == '_' ||
                    (allow_colon && c == ':') ||
                    (i > 0 && absl::ascii_isdigit(c));
    if (!ok) return false;
  }
  return true;
}

void CheckDefinition(absl::string_view name, Kind kind,
                     const std::vector<std::string>& labels,
                     const std::vector<double>& upper_bounds) {
  if (!IsValidName(name, /*allow_colon=*/true)) {
    RegistrationBug(absl::StrCat("invalid metric name \"", name, "\""));
  }
  for (const std::string& label : labels) {
    if (!IsValidName(label, /*allow_colon=*/false) ||
        absl::StartsWith(label, "__") ||
        (kind == Kind::kHistogram && label == "le")) {
      RegistrationBug(
          absl::StrCat("invalid label name \"", label, "\" for metric ", name));
    }
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) ||
        (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      RegistrationBug(absl::StrCat(
          "histogram ", name,
          ": bucket bounds must be finite and strictly increasing"));
    }
  }
}

absl::string_view TypeName(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) as Prometheus writes values:
// the shortest text that reads back as the same double.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

void AppendEscaped(std::string& out, absl::string_view text,
                   bool escape_quotes) {
  for (const char c : text) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (escape_quotes && c == '"') {
      out.append("\\\"");
    } else {
      out.push_back(c);
    }
  }
}

// `{a="x",b="y"}`, with `extra` (le="...") last; nothing when empty.
void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  absl::string_view extra = {}) {
  if (names.empty() && extra.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    absl::StrAppend(&out, names[i], "=\"");
    AppendEscaped(out, values[i], /*escape_quotes=*/true);
    out.push_back('"');
  }
  if (!extra.empty()) {
    if (!names.empty()) out.push_back(',');
    out.append(extra.data(), extra.size());
  }
  out.push_back('}');
}

void AppendLine(std::string& out, absl::string_view name,
                absl::string_view suffix, const FamilyBase& family,
                const std::vector<std::string>& label_values,
                absl::string_view value, absl::string_view extra = {}) {
  absl::StrAppend(&out, name, suffix);
  AppendLabels(out, family.label_names(), label_values, extra);
  absl::StrAppend(&out, " ", value, "\n");
}

class CollectorFamily final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  void Add(std::shared_ptr<CollectorSlot> slot) {
    absl::MutexLock lock(&mu_);
    slots_.erase(std::remove_if(slots_.begin(), slots_.end(),
                                [](const std::weak_ptr<CollectorSlot>& s) {
                                  return s.expired();
                                }),
                 slots_.end());
    slots_.push_back(std::move(slot));
  }

  void AppendSamples(std::string& out) const override {
    std::vector<std::shared_ptr<CollectorSlot>> slots;
    {
      absl::MutexLock lock(&mu_);
      for (const std::weak_ptr<CollectorSlot>& weak : slots_) {
        if (std::shared_ptr<CollectorSlot> slot = weak.lock()) {
          slots.push_back(std::move(slot));
        }
      }
    }
    std::vector<GaugeSample> samples;
    for (const std::shared_ptr<CollectorSlot>& slot : slots) {
      absl::MutexLock lock(&slot->mu);
      if (!slot->collect) continue;
      std::vector<GaugeSample> more = slot->collect();
      for (GaugeSample& sample : more) samples.push_back(std::move(sample));
    }
    for (GaugeSample& sample : samples) {
      std::vector<absl::string_view> views(sample.label_values.begin(),
                                           sample.label_values.end());
      AppendLine(out, name(), "", *this, LabelKey(views),
                 FormatValue(sample.value));
    }
  }

 private:
  mutable absl::Mutex mu_;
  // Weak: the registration owns its slot.
  std::vector<std::weak_ptr<CollectorSlot>> slots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

// ---- Metrics ---------------------------------------------------------------

void Gauge::Add(double delta) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + delta,
                                       std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
      upper_bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value,
                                     std::memory_order_relaxed)) {
  }
}

void Histogram::ObserveDuration(absl::Duration duration) {
  Observe(absl::ToDoubleSeconds(std::max(duration, absl::ZeroDuration())));
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> counts(upper_bounds_.size() + 1);
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (uint64_t n : BucketCounts()) total += n;
  return total;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
          0.5,   1,      2.5,   5,    10,    30,   60,  120};
}

// ---- Rendering -------------------------------------------------------------

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, Kind kind,
                       std::vector<std::string> label_names,
                       std::vector<double> upper_bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      kind_(kind),
      label_names_(std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

std::vector<std::string> FamilyBase::LabelKey(
    absl::Span<const absl::string_view> label_values) const {
  std::vector<std::string> key(label_names_.size());
  for (size_t i = 0; i < key.size() && i < label_values.size(); ++i) {
    key[i] = std::string(label_values[i]);
  }
  return key;
}

void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Counter& counter, std::string& out) {
  AppendLine(out, family.name(), "", family, label_values,
             absl::StrCat(counter.value()));
}

void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Gauge& gauge, std::string& out) {
  AppendLine(out, family.name(), "", family, label_values,
             FormatValue(gauge.value()));
}

void AppendSamples(const FamilyBase& family,
                   const std::vector<std::string>& label_values,
                   const Histogram& histogram, std::string& out) {
  // _count is the +Inf bucket, both computed from one reading of the
  // buckets, so a scrape racing an Observe still sees them agree.
  const std::vector<uint64_t> counts = histogram.BucketCounts();
  const std::vector<double>& bounds = histogram.upper_bounds();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = absl::StrCat(
        "le=\"", i < bounds.size() ? FormatValue(bounds[i]) : "+Inf", "\"");
    AppendLine(out, family.name(), "_bucket", family, label_values,
               absl::StrCat(cumulative), le);
  }
  AppendLine(out, family.name(), "_sum", family, label_values,
             FormatValue(histogram.sum()));
  AppendLine(out, family.name(), "_count", family, label_values,
             absl::StrCat(cumulative));
}

}  // namespace metrics_internal

// ---- Collectors ------------------------------------------------------------

CollectorRegistration& CollectorRegistration::operator=(
    CollectorRegistration&& other) noexcept {
  if (this != &other) {
    Reset();
    slot_ = std::move(other.slot_);
  }
  return *this;
}

CollectorRegistration::~CollectorRegistration() { Reset(); }

void CollectorRegistration::Reset() {
  if (slot_ == nullptr) return;
  {
    // Waits for a collection in progress (it holds the slot's lock).
    absl::MutexLock lock(&slot_->mu);
    slot_->collect = nullptr;
  }
  slot_.reset();
}

// ---- The registry ----------------------------------------------------------

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

FamilyBase* MetricsRegistry::Find(absl::string_view name, Kind kind,
                                  const std::vector<std::string>& labels,
                                  const std::vector<double>& upper_bounds,
                                  bool collector) {
  auto it = families_.find(name);
  if (it == families_.end()) return nullptr;
  FamilyBase* family = it->second.get();
  const bool is_collector = dynamic_cast<CollectorFamily*>(family) != nullptr;
  if (family->kind() != kind || family->label_names() != labels ||
      family->upper_bounds() != upper_bounds || is_collector != collector) {
    RegistrationBug(absl::StrCat("metric ", name,
                                 " added again with another kind, labels or "
                                 "buckets"));
  }
  return family;
}

template <typename Metric>
MetricFamily<Metric>* MetricsRegistry::AddFamily(
    absl::string_view name, absl::string_view help, Kind kind,
    std::vector<std::string> labels, std::vector<double> upper_bounds) {
  CheckDefinition(name, kind, labels, upper_bounds);
  absl::MutexLock lock(&mu_);
  if (FamilyBase* existing = Find(name, kind, labels, upper_bounds, false)) {
    return static_cast<MetricFamily<Metric>*>(existing);
  }
  auto family = std::make_unique<MetricFamily<Metric>>(
      std::string(name), std::string(help), kind, std::move(labels),
      std::move(upper_bounds));
  MetricFamily<Metric>* raw = family.get();
  families_.emplace(std::string(name), std::move(family));
  return raw;
}

Counter* MetricsRegistry::AddCounter(absl::string_view name,
                                     absl::string_view help) {
  return AddCounterFamily(name, help, {})->WithLabels({});
}

Gauge* MetricsRegistry::AddGauge(absl::string_view name,
                                 absl::string_view help) {
  return AddGaugeFamily(name, help, {})->WithLabels({});
}

Histogram* MetricsRegistry::AddHistogram(absl::string_view name,
                                         absl::string_view help,
                                         std::vector<double> upper_bounds) {
  return AddHistogramFamily(name, help, {}, std::move(upper_bounds))
      ->WithLabels({});
}

MetricFamily<Counter>* MetricsRegistry::AddCounterFamily(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> labels) {
  return AddFamily<Counter>(name, help, Kind::kCounter, std::move(labels), {});
}

MetricFamily<Gauge>* MetricsRegistry::AddGaugeFamily(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> labels) {
  return AddFamily<Gauge>(name, help, Kind::kGauge, std::move(labels), {});
}

MetricFamily<Histogram>* MetricsRegistry::AddHistogramFamily(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> labels, std::vector<double> upper_bounds) {
  return AddFamily<Histogram>(name, help, Kind::kHistogram, std::move(labels),
                              std::move(upper_bounds));
}

CollectorRegistration MetricsRegistry::AddGaugeCollector(
    absl::string_view name, absl::string_view help,
    std::vector<std::string> labels, GaugeCollector collect) {
  CheckDefinition(name, Kind::kGauge, labels, {});
  auto slot = std::make_shared<CollectorSlot>();
  {
    absl::MutexLock lock(&slot->mu);
    slot->collect = std::move(collect);
  }
  absl::MutexLock lock(&mu_);
  auto* family = static_cast<CollectorFamily*>(
      Find(name, Kind::kGauge, labels, {}, /*collector=*/true));
  if (family == nullptr) {
    auto created = std::make_unique<CollectorFamily>(
        std::string(name), std::string(help), Kind::kGauge, std::move(labels),
        std::vector<double>());
    family = created.get();
    families_.emplace(std::string(name), std::move(created));
  }
  family->Add(slot);
  return CollectorRegistration(std::move(slot));
}

std::string MetricsRegistry::ExpositionText() const {
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_)
      families.push_back(family.get());
  }
  // Families are never removed, so they outlive this call without the lock
  // (collectors may take their owners' locks).
  std::string out;
  for (const FamilyBase* family : families) {
    absl::StrAppend(&out, "# HELP ", family->name(), " ");
    AppendEscaped(out, family->help(), /*escape_quotes=*/false);
    absl::StrAppend(&out, "\n# TYPE ", family->name(), " ",
                    TypeName(family->kind()), "\n");
    family->AppendSamples(out);
  }
  return out;
}

}  // namespace ccbatch::common
