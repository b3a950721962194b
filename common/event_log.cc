#include "common/event_log.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace ccbatch::common {
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

void AppendFields(std::string& line, absl::Span<const LogField> fields) {
  for (const LogField& field : fields) {
    absl::StrAppend(&line, " ", field.key, "=");
    AppendValue(line, field.value);
  }
}

bool HasAll(absl::string_view line,
            std::initializer_list<absl::string_view> parts) {
  for (absl::string_view part : parts) {
    if (line.find(part) == absl::string_view::npos) return false;
  }
  return true;
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string LogValue(absl::string_view value) {
  std::string out;
  AppendValue(out, value);
  return out;
}

std::string FormatLogLine(absl::Time at, LogLevel level,
                          absl::Span<const LogField> context,
                          absl::string_view event,
                          absl::Span<const LogField> fields) {
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", at, absl::UTCTimeZone()),
      " level=", LogLevelName(level));
  AppendFields(line, context);
  line.append(" event=");
  AppendValue(line, event);
  AppendFields(line, fields);
  return line;
}

EventLog::EventLog(const Clock* clock, Sink sink, std::vector<LogField> context)
    : clock_(clock), context_(std::move(context)), sink_(std::move(sink)) {}

void EventLog::Info(absl::string_view event,
                    absl::Span<const LogField> fields) const {
  Log(LogLevel::kInfo, event, fields);
}

void EventLog::Warning(absl::string_view event,
                       absl::Span<const LogField> fields) const {
  Log(LogLevel::kWarning, event, fields);
}

void EventLog::Error(absl::string_view event,
                     absl::Span<const LogField> fields) const {
  Log(LogLevel::kError, event, fields);
}

void EventLog::Log(LogLevel level, absl::string_view event,
                   absl::Span<const LogField> fields) const {
  const std::string line =
      FormatLogLine(clock_->Now(), level, context_, event, fields);
  absl::MutexLock lock(&mu_);
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

EventLog::Sink EventLog::DiscardSink() {
  return [](const std::string&) {};
}

EventLog::Sink LogCapture::Sink() {
  return [this](const std::string& line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(line);
  };
}

std::vector<std::string> LogCapture::Lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

std::vector<std::string> LogCapture::LinesWith(
    std::initializer_list<absl::string_view> parts) const {
  std::vector<std::string> matching;
  absl::MutexLock lock(&mu_);
  for (const std::string& line : lines_) {
    if (HasAll(line, parts)) matching.push_back(line);
  }
  return matching;
}

bool LogCapture::AwaitLinesWith(std::initializer_list<absl::string_view> parts,
                                int count, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, parts, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int found = 0;
    for (const std::string& line : lines_) {
      if (HasAll(line, parts)) ++found;
    }
    return found >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

}  // namespace ccbatch::common
