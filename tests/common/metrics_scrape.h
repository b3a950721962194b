// Test helpers: scrape a MetricsHttpServer over a real socket and read
// samples out of the exposition text.
#ifndef CCBATCH_TESTS_COMMON_METRICS_SCRAPE_H_
#define CCBATCH_TESTS_COMMON_METRICS_SCRAPE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ccbatch::testing {

// GET http://127.0.0.1:<port><path>: the body of a 200 answer, NOT_FOUND
// for a 404, UNAVAILABLE when nothing answers.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);
absl::StatusOr<std::string> ScrapeMetrics(int port);

// The value of the sample whose name and labels are exactly `series` (e.g.
// `ccbatch_x_total{kind="submit"}` or `ccbatch_x_count`) in exposition
// `text`; nullopt when there is no such line.
std::optional<double> SampleValue(absl::string_view text,
                                  absl::string_view series);

}  // namespace ccbatch::testing

#endif  // CCBATCH_TESTS_COMMON_METRICS_SCRAPE_H_
