#include "common/metrics_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace ccbatch::common {
namespace {

// Scrapes are rare (every 15 s or so) and quick; two threads keep one slow
// client from holding up the next scrape.
constexpr size_t kHandlerThreads = 2;
constexpr time_t kIoTimeoutSeconds = 5;

}  // namespace

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", listen,
                     "\" is not HOST:PORT (e.g. 127.0.0.1:9464, or port 0 for "
                     "any free port)"));
  }
  absl::string_view host = listen.substr(0, colon);
  const absl::string_view port_text = listen.substr(colon + 1);
  if (host.front() == '[' || host.back() == ']') {
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", listen, "\": an IPv6 host goes in brackets, e.g. [::1]:9464"));
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", listen, "\": put an IPv6 host in brackets, e.g. [::1]:9464"));
  }
  int port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", listen, "\": the port must be a number from 0 to ",
                     "65535, got \"", port_text, "\""));
  }
  return ListenAddress{std::string(host), port};
}

struct MetricsHttpServer::Impl {
  httplib::Server http;
  std::thread thread;

  absl::Mutex mu;
  // The accept loop has started (httplib then counts as running, so its
  // stop() cannot be missed).
  bool listening ABSL_GUARDED_BY(mu) = false;
  // listen_after_bind returned.
  bool finished ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
};

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    absl::string_view listen, const MetricsRegistry* registry) {
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", address.status().message()));
  }
  auto impl = std::make_unique<Impl>();
  Impl* const state = impl.get();
  httplib::Server& http = state->http;
  // httplib makes the task queue as its accept loop starts, after it counts
  // as running: the one hook that says a stop() will now be heard.
  http.new_task_queue = [state] {
    absl::MutexLock lock(&state->mu);
    state->listening = true;
    return new httplib::ThreadPool(kHandlerThreads);
  };
  // httplib's default sets SO_REUSEPORT, which would let a second daemon
  // bind the same port and take half the scrapes; SO_REUSEADDR alone still
  // lets a restarted daemon bind while old connections sit in TIME_WAIT.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_keep_alive_max_count(1);
  http.set_read_timeout(kIoTimeoutSeconds, 0);
  http.set_write_timeout(kIoTimeoutSeconds, 0);
  const std::string content_type(MetricsRegistry::kContentType);
  http.Get("/metrics", [registry, content_type](const httplib::Request&,
                                                httplib::Response& response) {
    response.set_content(registry->ExpositionText(), content_type);
  });

  int port = address->port;
  if (port == 0) {
    port = http.bind_to_any_port(address->host);
  } else if (!http.bind_to_port(address->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on \"", listen,
        "\": the port is in use or the address is not on this machine"));
  }
  state->thread = std::thread([state] {
    state->http.listen_after_bind();
    absl::MutexLock lock(&state->mu);
    state->finished = true;
  });
  {
    absl::MutexLock lock(&state->mu);
    auto started = [state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
      return state->listening || state->finished;
    };
    state->mu.Await(absl::Condition(&started));
  }
  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(std::move(impl)));
  server->port_ = port;
  return server;
}

void MetricsHttpServer::Stop() {
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  // Closes the listening socket; the accept loop ends and waits for the
  // requests in progress (bounded by the I/O timeouts).
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ccbatch::common
