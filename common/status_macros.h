// Local equivalents of Abseil's status macros, which Debian's Abseil
// (20220623) does not ship. One definition for the whole project.
#ifndef CCBATCH_COMMON_STATUS_MACROS_H_
#define CCBATCH_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CCB_STATUS_CONCAT_INNER_(a, b) a##b
#define CCB_STATUS_CONCAT_(a, b) CCB_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define CCB_RETURN_IF_ERROR(expr)                   \
  do {                                              \
    const ::absl::Status ccb_status_ = (expr);      \
    if (!ccb_status_.ok()) return ccb_status_;      \
  } while (false)

// `CCB_ASSIGN_OR_RETURN(auto x, F())` assigns the value of an
// absl::StatusOr<T> or returns its error from the enclosing function.
#define CCB_ASSIGN_OR_RETURN(lhs, rexpr)                                      \
  CCB_ASSIGN_OR_RETURN_IMPL_(CCB_STATUS_CONCAT_(ccb_statusor_, __LINE__), lhs, \
                             rexpr)

#define CCB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // CCBATCH_COMMON_STATUS_MACROS_H_
