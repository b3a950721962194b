#include "tests/common/metrics_scrape.h"

#include <httplib.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace ccbatch::testing {

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(10, 0);
  httplib::Result result = client.Get(path.c_str());
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("GET 127.0.0.1:", port, path, ": ",
                     httplib::to_string(result.error())));
  }
  if (result->status == 404) {
    return absl::NotFoundError(absl::StrCat("GET ", path, ": 404"));
  }
  if (result->status != 200) {
    return absl::UnknownError(
        absl::StrCat("GET ", path, ": HTTP ", result->status));
  }
  return result->body;
}

absl::StatusOr<std::string> ScrapeMetrics(int port) {
  return HttpGet(port, "/metrics");
}

std::optional<double> SampleValue(absl::string_view text,
                                  absl::string_view series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, series) || !absl::ConsumePrefix(&line, " "))
      continue;
    double value = 0;
    if (line == "+Inf") return HUGE_VAL;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return std::nullopt;
}

}  // namespace ccbatch::testing
