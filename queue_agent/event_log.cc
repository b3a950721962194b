#include "queue_agent/event_log.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace ccbatch::agent {
namespace {

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '"' || c == '=' || c == '\\') {
      return true;
    }
  }
  return false;
}

std::string RenderContext(
    const std::vector<std::pair<std::string, std::string>>& context) {
  std::string rendered;
  for (const auto& [key, value] : context) {
    absl::StrAppend(&rendered, key, "=", LogValue(value), " ");
  }
  return rendered;
}

}  // namespace

std::string LogValue(absl::string_view value) {
  if (!NeedsQuotes(value)) return std::string(value);
  // CHexEscape keeps UTF-8 bytes >= 0x80 escaped too, which is ugly but
  // unambiguous; messages here are overwhelmingly ASCII.
  return absl::StrCat("\"", absl::CHexEscape(value), "\"");
}

EventLog::EventLog(const common::Clock* clock, Sink sink,
                   std::vector<std::pair<std::string, std::string>> context)
    : clock_(clock), sink_(std::move(sink)), context_(RenderContext(context)) {}

void EventLog::Log(absl::string_view event,
                   absl::Span<const LogField> fields) const {
  std::string line =
      absl::StrCat("ts=",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", clock_->Now(),
                                    absl::UTCTimeZone()),
                   " ", context_, "event=", LogValue(event));
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.first, "=", LogValue(field.second));
  }
  sink_(line);
}

EventLog::Sink EventLog::StderrSink() {
  return [](const std::string& line) {
    const std::string with_newline = absl::StrCat(line, "\n");
    absl::string_view rest = with_newline;
    while (!rest.empty()) {
      const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // nowhere left to report it
      rest.remove_prefix(static_cast<size_t>(n));
    }
  };
}

}  // namespace ccbatch::agent
