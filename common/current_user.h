// The name of the Unix user this process runs as, for the `squeue --user=`
// query and the agent's Hello. Read from the password database by effective
// uid, never from $USER, which is empty in many CI and container shells
// (and `squeue -u $USER -h` then takes "-h" as the user name).
#ifndef CCBATCH_COMMON_CURRENT_USER_H_
#define CCBATCH_COMMON_CURRENT_USER_H_

#include <string>

#include "absl/status/statusor.h"

namespace ccbatch::common {

// The login name of geteuid(). kNotFound if the uid has no passwd entry
// (e.g. an arbitrary uid in a container), with the uid in the message.
// Thread-safe (uses getpwuid_r).
absl::StatusOr<std::string> CurrentUserName();

}  // namespace ccbatch::common

#endif  // CCBATCH_COMMON_CURRENT_USER_H_
