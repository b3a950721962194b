#include "common/metrics.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ccbatch::common {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, RendersTheTextFormatInNameAndLabelOrder) {
  MetricsRegistry registry;
  Histogram* latency = registry.AddHistogram("ccbatch_test_latency_seconds",
                                             "How long it took.", {0.25, 1, 8});
  MetricFamily<Counter>* orders = registry.AddCounterFamily(
      "ccbatch_test_orders_total", "Orders sent.", {"cluster", "kind"});
  Gauge* size = registry.AddGauge("ccbatch_test_size", "Entries held.");
  Counter* plain =
      registry.AddCounter("ccbatch_test_events_total", "Events seen.");
  MetricFamily<Histogram>* parse = registry.AddHistogramFamily(
      "ccbatch_test_parse_seconds", "Parse time.", {"program"}, {0.5});

  plain->Increment();
  plain->Increment(2);
  orders->WithLabels({"hpc2", "submit"})->Increment();
  orders->WithLabels({"hpc1", "cancel"})->Increment(4);
  orders->WithLabels({"hpc1", "submit"})->Increment();
  size->Set(2.5);
  size->Add(-3.75);
  for (double value : {0.125, 0.25, 4.0, 64.0}) latency->Observe(value);
  parse->WithLabels({"orca"})->ObserveDuration(absl::Milliseconds(250));

  EXPECT_EQ(registry.ExpositionText(),
            R"(# HELP ccbatch_test_events_total Events seen.
# TYPE ccbatch_test_events_total counter
ccbatch_test_events_total 3
# HELP ccbatch_test_latency_seconds How long it took.
# TYPE ccbatch_test_latency_seconds histogram
ccbatch_test_latency_seconds_bucket{le="0.25"} 2
ccbatch_test_latency_seconds_bucket{le="1"} 2
ccbatch_test_latency_seconds_bucket{le="8"} 3
ccbatch_test_latency_seconds_bucket{le="+Inf"} 4
ccbatch_test_latency_seconds_sum 68.375
ccbatch_test_latency_seconds_count 4
# HELP ccbatch_test_orders_total Orders sent.
# TYPE ccbatch_test_orders_total counter
ccbatch_test_orders_total{cluster="hpc1",kind="cancel"} 4
ccbatch_test_orders_total{cluster="hpc1",kind="submit"} 1
ccbatch_test_orders_total{cluster="hpc2",kind="submit"} 1
# HELP ccbatch_test_parse_seconds Parse time.
# TYPE ccbatch_test_parse_seconds histogram
ccbatch_test_parse_seconds_bucket{program="orca",le="0.5"} 1
ccbatch_test_parse_seconds_bucket{program="orca",le="+Inf"} 1
ccbatch_test_parse_seconds_sum{program="orca"} 0.25
ccbatch_test_parse_seconds_count{program="orca"} 1
# HELP ccbatch_test_size Entries held.
# TYPE ccbatch_test_size gauge
ccbatch_test_size -1.25
)");
}

TEST(MetricsRegistryTest, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  registry
      .AddCounterFamily("ccbatch_test_total", "A \\ backslash\nand a newline",
                        {"reason"})
      ->WithLabels({"say \"no\"\\\nplease"})
      ->Increment();
  EXPECT_EQ(registry.ExpositionText(),
            "# HELP ccbatch_test_total A \\\\ backslash\\nand a newline\n"
            "# TYPE ccbatch_test_total counter\n"
            "ccbatch_test_total{reason=\"say \\\"no\\\"\\\\\\nplease\"} 1\n");
}

TEST(MetricsRegistryTest, SpecialValuesUseThePrometheusSpelling) {
  MetricsRegistry registry;
  Gauge* gauge = registry.AddGaugeFamily("ccbatch_test_g", "g", {"which"})
                     ->WithLabels({"inf"});
  gauge->Set(std::numeric_limits<double>::infinity());
  registry.AddGaugeFamily("ccbatch_test_g", "g", {"which"})
      ->WithLabels({"nan"})
      ->Set(std::nan(""));
  registry.AddGaugeFamily("ccbatch_test_g", "g", {"which"})
      ->WithLabels({"big"})
      ->Set(1e21);
  const std::string text = registry.ExpositionText();
  EXPECT_THAT(text, HasSubstr("ccbatch_test_g{which=\"inf\"} +Inf\n"));
  EXPECT_THAT(text, HasSubstr("ccbatch_test_g{which=\"nan\"} NaN\n"));
  EXPECT_THAT(text, HasSubstr("ccbatch_test_g{which=\"big\"} 1e+21\n"));
}

TEST(MetricsRegistryTest, MissingLabelValuesAreEmptyAndExtraOnesIgnored) {
  MetricsRegistry registry;
  MetricFamily<Counter>* family =
      registry.AddCounterFamily("ccbatch_test_total", "t", {"a", "b"});
  family->WithLabels({"x"})->Increment();
  family->WithLabels({"x", "", "ignored"})->Increment();
  EXPECT_THAT(registry.ExpositionText(),
              HasSubstr("ccbatch_test_total{a=\"x\",b=\"\"} 2\n"));
}

TEST(MetricsRegistryTest, AddingTheSameMetricAgainReturnsIt) {
  MetricsRegistry registry;
  Counter* first = registry.AddCounter("ccbatch_test_total", "t");
  Counter* again = registry.AddCounter("ccbatch_test_total", "t");
  EXPECT_EQ(first, again);
  MetricFamily<Counter>* family =
      registry.AddCounterFamily("ccbatch_test_kinds_total", "t", {"kind"});
  EXPECT_EQ(family->WithLabels({"a"}), family->WithLabels({"a"}));
  EXPECT_NE(family->WithLabels({"a"}), family->WithLabels({"b"}));
  Histogram* histogram = registry.AddHistogram("ccbatch_test_h", "h", {1, 2});
  EXPECT_EQ(histogram, registry.AddHistogram("ccbatch_test_h", "h", {1, 2}));
}

TEST(MetricsRegistryDeathTest, ProgrammingErrorsAbortWithAMessage) {
  MetricsRegistry registry;
  registry.AddCounter("ccbatch_test_total", "t");
  EXPECT_DEATH(registry.AddGauge("ccbatch_test_total", "t"),
               "added again with another kind");
  EXPECT_DEATH(registry.AddCounterFamily("ccbatch_test_total", "t", {"x"}),
               "added again");
  EXPECT_DEATH(registry.AddCounter("2bad", "t"), "invalid metric name");
  EXPECT_DEATH(registry.AddCounterFamily("ccbatch_ok_total", "t", {"a-b"}),
               "invalid label name");
  EXPECT_DEATH(registry.AddCounterFamily("ccbatch_ok_total", "t", {"__x"}),
               "invalid label name");
  EXPECT_DEATH(registry.AddHistogramFamily("ccbatch_h", "h", {"le"}, {1}),
               "invalid label name");
  EXPECT_DEATH(registry.AddHistogram("ccbatch_h", "h", {1, 1}),
               "strictly increasing");
  EXPECT_DEATH(registry.AddHistogram("ccbatch_h", "h",
                                     {std::numeric_limits<double>::infinity()}),
               "finite");
}

TEST(HistogramTest, BucketsCountObservationsUpToTheirBound) {
  Histogram histogram({1, 2});
  histogram.Observe(1);     // le=1 holds 1 itself
  histogram.Observe(1.5);   // le=2
  histogram.Observe(-3);    // le=1
  histogram.Observe(2.01);  // +Inf
  histogram.Observe(std::nan(""));
  EXPECT_THAT(histogram.BucketCounts(), ElementsAre(2, 1, 1));
  EXPECT_EQ(histogram.count(), 4u);
  EXPECT_DOUBLE_EQ(histogram.sum(), 1.51);
}

TEST(HistogramTest, NegativeDurationsCountAsZero) {
  Histogram histogram({0.001});
  histogram.ObserveDuration(absl::Seconds(-5));
  histogram.ObserveDuration(absl::Milliseconds(2));
  EXPECT_THAT(histogram.BucketCounts(), ElementsAre(1, 1));
  EXPECT_DOUBLE_EQ(histogram.sum(), 0.002);
}

TEST(HistogramTest, LatencyBucketsAreIncreasing) {
  const std::vector<double> bounds = LatencyBucketsSeconds();
  ASSERT_FALSE(bounds.empty());
  for (size_t i = 1; i < bounds.size(); ++i) {
    EXPECT_LT(bounds[i - 1], bounds[i]);
  }
  MetricsRegistry registry;  // and the registry accepts them
  registry.AddHistogram("ccbatch_test_seconds", "t", bounds);
}

TEST(MetricsRegistryTest, ConcurrentRecordingLosesNothing) {
  MetricsRegistry registry;
  MetricFamily<Counter>* counters =
      registry.AddCounterFamily("ccbatch_test_total", "t", {"thread"});
  Histogram* histogram = registry.AddHistogram("ccbatch_test_h", "h", {0.5});
  Gauge* gauge = registry.AddGauge("ccbatch_test_g", "g");
  Counter* shared = registry.AddCounter("ccbatch_test_shared_total", "t");
  constexpr int kThreads = 4;
  constexpr int kEach = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter* mine = counters->WithLabels({absl::StrCat(t % 2)});
      for (int i = 0; i < kEach; ++i) {
        mine->Increment();
        shared->Increment();
        histogram->Observe(1);
        gauge->Add(1);
        if (i % 1000 == 0) registry.ExpositionText();  // scrapes race too
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(shared->value(), uint64_t{kThreads * kEach});
  EXPECT_EQ(counters->WithLabels({"0"})->value(), uint64_t{2 * kEach});
  EXPECT_EQ(histogram->count(), uint64_t{kThreads * kEach});
  EXPECT_DOUBLE_EQ(histogram->sum(), kThreads * kEach);
  EXPECT_DOUBLE_EQ(gauge->value(), kThreads * kEach);
}

TEST(GaugeCollectorTest, SamplesAreTakenAtScrapeTimeUntilUnregistered) {
  MetricsRegistry registry;
  int jobs_running = 3;
  CollectorRegistration registration = registry.AddGaugeCollector(
      "ccbatch_test_jobs", "Jobs per status.", {"status"}, [&jobs_running] {
        return std::vector<GaugeSample>{{{"RUNNING"}, double(jobs_running)},
                                        {{"FAILED"}, 0}};
      });
  EXPECT_THAT(registry.ExpositionText(),
              HasSubstr("ccbatch_test_jobs{status=\"RUNNING\"} 3\n"
                        "ccbatch_test_jobs{status=\"FAILED\"} 0\n"));
  jobs_running = 5;
  EXPECT_THAT(registry.ExpositionText(),
              HasSubstr("ccbatch_test_jobs{status=\"RUNNING\"} 5\n"));

  // A second owner of the same name (e.g. a ledger reopened on the same
  // registry) adds its samples; a registration moved keeps working.
  CollectorRegistration second = registry.AddGaugeCollector(
      "ccbatch_test_jobs", "Jobs per status.", {"status"}, [] {
        return std::vector<GaugeSample>{{{"WAITING"}, 7}};
      });
  CollectorRegistration moved = std::move(second);
  EXPECT_THAT(registry.ExpositionText(),
              HasSubstr("ccbatch_test_jobs{status=\"WAITING\"} 7\n"));

  registration.Reset();
  moved = CollectorRegistration();
  const std::string text = registry.ExpositionText();
  EXPECT_THAT(text, HasSubstr("# TYPE ccbatch_test_jobs gauge\n"));
  EXPECT_THAT(text, Not(HasSubstr("ccbatch_test_jobs{")));
}

TEST(GaugeCollectorTest, ResetWaitsForACollectionInProgress) {
  MetricsRegistry registry;
  absl::Mutex mu;
  bool collecting = false;
  bool release = false;
  auto owned = std::make_unique<int>(42);
  CollectorRegistration registration =
      registry.AddGaugeCollector("ccbatch_test_slow", "s", {}, [&] {
        absl::MutexLock lock(&mu);
        collecting = true;
        mu.Await(absl::Condition(&release));
        return std::vector<GaugeSample>{{{}, double(*owned)}};
      });
  std::string scraped;
  std::thread scrape([&] { scraped = registry.ExpositionText(); });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&collecting));
  }
  std::atomic<bool> reset_done{false};
  std::thread reset([&] {
    registration.Reset();
    reset_done = true;
  });
  // Reset cannot finish while the collector runs; release it, then the
  // owned state may go.
  EXPECT_FALSE(reset_done.load());
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  reset.join();
  scrape.join();
  owned.reset();
  EXPECT_THAT(scraped, HasSubstr("ccbatch_test_slow 42\n"));
  EXPECT_THAT(registry.ExpositionText(),
              Not(HasSubstr("ccbatch_test_slow 42")));
}

}  // namespace
}  // namespace ccbatch::common
