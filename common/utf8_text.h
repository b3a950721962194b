// Text bound for proto3 `string` fields. Protobuf refuses to parse a message
// whose string field is not valid UTF-8, so one stray byte from the outside
// world (a Latin-1 job name in squeue's output, an output line cut in the
// middle of a character) would make the peer reject the whole message: a
// snapshot chunk or a verdict would never arrive, however often it is
// re-sent. Text read from files or other programs passes through here
// before it is put into a message.
//
// Validity is protobuf's own check (the one its parser applies), so what
// these functions accept or produce always survives the wire. Pure;
// thread-safe. REQUIRES (all functions): text shorter than 2 GiB, the most a
// message may hold.
#ifndef CCBATCH_COMMON_UTF8_TEXT_H_
#define CCBATCH_COMMON_UTF8_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace ccbatch::common {

// True if `text` is valid UTF-8 (as protobuf checks proto3 strings).
bool IsValidUtf8(absl::string_view text);

// `text` with each byte that is not part of valid UTF-8 replaced by '?'; the
// length is unchanged, valid text is returned as is.
std::string ToValidUtf8(absl::string_view text);

// Replaces, in place, the bytes ToValidUtf8 would replace. Returns true if
// any was.
bool MakeValidUtf8(std::string* text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not
// end inside a UTF-8 sequence, for cutting text to a length without making
// a valid character invalid.
absl::string_view Utf8Prefix(absl::string_view text, size_t max_bytes);

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_UTF8_TEXT_H_
