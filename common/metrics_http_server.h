// The daemons' Prometheus endpoint: `GET /metrics` answers a registry's
// exposition text (metrics.h) over plain HTTP, served by cpp-httplib on
// threads of its own. Any other path is 404. Off unless a daemon is started
// with --metrics_listen=HOST:PORT.
//
// The endpoint has no authentication: bind it to loopback or an interface
// only the monitoring host reaches (docs/OPERATIONS.md). It serves numbers
// only: no job keys, paths or tokens are ever metric labels.
//
// Connections are not kept alive and reads and writes time out after a few
// seconds, so Stop returns promptly even with a stuck client.
#ifndef CCBATCH_COMMON_METRICS_HTTP_SERVER_H_
#define CCBATCH_COMMON_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"

namespace ccbatch::common {

struct ListenAddress {
  std::string host;  // without the brackets of "[::1]"
  int port = 0;
};

// Parses "HOST:PORT" ("127.0.0.1:9464", "[::1]:0", "localhost:9464"); port 0
// means any free port. INVALID_ARGUMENT naming the problem otherwise. Pure.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen);

// Thread-safe.
class MetricsHttpServer final {
 public:
  // Binds `listen` and serves `registry` until Stop. INVALID_ARGUMENT for a
  // malformed address; UNAVAILABLE naming the address when it cannot be
  // bound (in use, not on this machine). REQUIRES: `registry` outlives the
  // server (not owned).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      absl::string_view listen, const MetricsRegistry* registry);

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  // Stops if still serving.
  ~MetricsHttpServer();

  // The bound port (the chosen one for port 0).
  int port() const { return port_; }

  // Stops accepting, lets requests in progress finish, joins the threads.
  // Idempotent.
  void Stop();

 private:
  struct Impl;
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);

  const std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_METRICS_HTTP_SERVER_H_
