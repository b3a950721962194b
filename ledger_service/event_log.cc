#include "ledger_service/event_log.h"

#include <cstdio>
#include <utility>

namespace ccbatch::ledger {
namespace {

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == 0x7f || c == '=' || c == '"' || c == '\\') {
      return true;
    }
  }
  return false;
}

// Inside quotes only '"', '\\' and control characters are escaped, so
// apostrophes and UTF-8 stay as they are.
void AppendQuoted(std::string& line, absl::string_view value) {
  line.push_back('"');
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        line.append("\\\"");
        break;
      case '\\':
        line.append("\\\\");
        break;
      case '\n':
        line.append("\\n");
        break;
      case '\r':
        line.append("\\r");
        break;
      case '\t':
        line.append("\\t");
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          absl::StrAppend(&line, "\\x", absl::Hex(byte, absl::kZeroPad2));
        } else {
          line.push_back(c);
        }
    }
  }
  line.push_back('"');
}

void AppendValue(std::string& line, absl::string_view value) {
  if (NeedsQuotes(value)) {
    AppendQuoted(line, value);
  } else {
    line.append(value.data(), value.size());
  }
}

}  // namespace

std::string FormatEventLine(absl::Time at, absl::string_view event,
                            std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone()),
      " event=");
  AppendValue(line, event);
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=");
    AppendValue(line, field.value);
  }
  return line;
}

EventLog::EventLog(common::Clock* clock, Sink sink)
    : clock_(clock), sink_(std::move(sink)) {}

EventLog EventLog::ToStderr(common::Clock* clock) {
  return EventLog(clock, [](absl::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stderr);
  });
}

void EventLog::Log(absl::string_view event,
                   std::initializer_list<LogField> fields) {
  const std::string line = FormatEventLine(clock_->Now(), event, fields);
  absl::MutexLock lock(&mu_);
  sink_(line);
}

void EventLog::LogPreformatted(absl::string_view event,
                               absl::string_view fields) {
  std::string line = FormatEventLine(clock_->Now(), event, {});
  if (!fields.empty()) absl::StrAppend(&line, " ", fields);
  absl::MutexLock lock(&mu_);
  sink_(line);
}

}  // namespace ccbatch::ledger
