#include "common/metrics_http_server.h"

#include <httplib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/metrics.h"
#include "common/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/metrics_scrape.h"

namespace ccbatch::common {
namespace {

using ::ccbatch::testing::HttpGet;
using ::ccbatch::testing::SampleValue;
using ::ccbatch::testing::ScrapeMetrics;
using ::ccbatch::testing::StatusIs;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Optional;

TEST(ParseListenAddressTest, HostAndPort) {
  CCB_ASSERT_OK_AND_ASSIGN(ListenAddress v4,
                           ParseListenAddress("127.0.0.1:9464"));
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 9464);
  CCB_ASSERT_OK_AND_ASSIGN(ListenAddress v6, ParseListenAddress("[::1]:0"));
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 0);
  CCB_ASSERT_OK_AND_ASSIGN(ListenAddress name,
                           ParseListenAddress("localhost:65535"));
  EXPECT_EQ(name.host, "localhost");
  EXPECT_EQ(name.port, 65535);
}

TEST(ParseListenAddressTest, MalformedAddressesSayWhatIsWrong) {
  EXPECT_THAT(
      ParseListenAddress(""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not HOST:PORT")));
  EXPECT_THAT(ParseListenAddress(":9464"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(ParseListenAddress("localhost"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(ParseListenAddress("localhost:"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("from 0 to 65535")));
  EXPECT_THAT(ParseListenAddress("localhost:65536"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(ParseListenAddress("localhost:-1"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(ParseListenAddress("localhost:http"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(
      ParseListenAddress("::1:9464"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("brackets")));
  EXPECT_THAT(ParseListenAddress("[::1:9464"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST(MetricsHttpServerTest, ServesTheRegistryAtMetricsOverASocket) {
  MetricsRegistry registry;
  Counter* scrapes = registry.AddCounter("ccbatch_test_events_total", "e");
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<MetricsHttpServer> server,
                           MetricsHttpServer::Start("127.0.0.1:0", &registry));
  ASSERT_GT(server->port(), 0);

  CCB_ASSERT_OK_AND_ASSIGN(std::string first, ScrapeMetrics(server->port()));
  EXPECT_EQ(first, registry.ExpositionText());
  EXPECT_THAT(SampleValue(first, "ccbatch_test_events_total"), Optional(0.0));
  scrapes->Increment(3);
  CCB_ASSERT_OK_AND_ASSIGN(std::string second, ScrapeMetrics(server->port()));
  EXPECT_THAT(SampleValue(second, "ccbatch_test_events_total"), Optional(3.0));

  httplib::Client client("127.0.0.1", server->port());
  httplib::Result result = client.Get("/metrics");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(HttpGet(server->port(), "/"),
              StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(HttpGet(server->port(), "/metrics/x"),
              StatusIs(absl::StatusCode::kNotFound, _));
}

TEST(MetricsHttpServerTest, StopClosesThePort) {
  MetricsRegistry registry;
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<MetricsHttpServer> server,
                           MetricsHttpServer::Start("127.0.0.1:0", &registry));
  const int port = server->port();
  ASSERT_THAT(ScrapeMetrics(port), ::ccbatch::testing::IsOk());
  server->Stop();
  server->Stop();  // idempotent
  EXPECT_THAT(ScrapeMetrics(port), StatusIs(absl::StatusCode::kUnavailable, _));
}

TEST(MetricsHttpServerTest, StartsAndStopsAtOnceManyTimes) {
  MetricsRegistry registry;
  for (int i = 0; i < 50; ++i) {
    CCB_ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<MetricsHttpServer> server,
        MetricsHttpServer::Start("127.0.0.1:0", &registry));
  }
}

TEST(MetricsHttpServerTest, APortInUseOrABadAddressIsRefused) {
  MetricsRegistry registry;
  CCB_ASSERT_OK_AND_ASSIGN(std::unique_ptr<MetricsHttpServer> first,
                           MetricsHttpServer::Start("127.0.0.1:0", &registry));
  EXPECT_THAT(MetricsHttpServer::Start(
                  absl::StrCat("127.0.0.1:", first->port()), &registry),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("in use")));
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", &registry),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metrics address")));
  EXPECT_THAT(MetricsHttpServer::Start("192.0.2.1:0", &registry),
              StatusIs(absl::StatusCode::kUnavailable, _));
}

}  // namespace
}  // namespace ccbatch::common
