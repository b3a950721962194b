#include "common/utf8_text.h"

#include <cstdint>
#include <cstring>

#include "google/protobuf/stubs/common.h"

namespace ccbatch::common {
namespace {

constexpr char kReplacement = '?';

// protobuf 3.21 exports its validator (the parser's own) only under
// `internal`; this file is the one place that depends on that.
using google::protobuf::internal::IsStructurallyValidUTF8;
using google::protobuf::internal::UTF8CoerceToStructurallyValid;

// Most text is ASCII. Checking that eight bytes at a time is about three
// times faster than protobuf's validator on the short fields of a queue
// entry (1.1 against 3.7 ms for 600,000 fields), and the agent checks every
// field of every snapshot.
bool IsAscii(absl::string_view text) {
  uint64_t high_bits = 0;
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= text.size(); i += sizeof(uint64_t)) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof(word));
    high_bits |= word;
  }
  for (; i < text.size(); ++i) {
    high_bits |= static_cast<unsigned char>(text[i]);
  }
  return (high_bits & 0x8080808080808080u) == 0;
}

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  return IsAscii(text) ||
         IsStructurallyValidUTF8(text.data(), static_cast<int>(text.size()));
}

std::string ToValidUtf8(absl::string_view text) {
  std::string result(text);
  MakeValidUtf8(&result);
  return result;
}

bool MakeValidUtf8(std::string* text) {
  if (IsValidUtf8(*text)) return false;
  // Coerces into a copy: the source must not alias the destination.
  const std::string source = *text;
  UTF8CoerceToStructurallyValid(source, text->data(), kReplacement);
  return true;
}

absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // At most three continuation bytes follow a lead byte.
  for (int i = 0; i < 3 && cut > 0 && IsContinuationByte(text[cut]); ++i) {
    --cut;
  }
  return text.substr(0, cut);
}

}  // namespace ccbatch::common
