// korral/base/status.h: error-propagation helpers over absl::Status / absl::StatusOr.
//
// Debian's abseil (20220623) predates absl/status/status_macros.h, so the two macros every
// library boundary uses live here.
//
// Example:
//   absl::StatusOr<int> Parse(std::string_view s);
//   absl::Status Use() {
//     KORRAL_ASSIGN_OR_RETURN(int n, Parse("42"));
//     KORRAL_RETURN_IF_ERROR(Check(n));
//     return absl::OkStatus();
//   }
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <string_view>

namespace korral {
// Debian's abseil has its own string_view type; this gives the message as std::string_view
// (for fmt and for APIs taking std::string_view).
inline std::string_view StatusMessage(const absl::Status& s) {
  return std::string_view(s.message().data(), s.message().size());
}
}  // namespace korral

#define KORRAL_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status korral_status_ = (expr);          \
    if (!korral_status_.ok()) return korral_status_; \
  } while (0)

#define KORRAL_STATUS_CONCAT_INNER_(a, b) a##b
#define KORRAL_STATUS_CONCAT_(a, b) KORRAL_STATUS_CONCAT_INNER_(a, b)

#define KORRAL_ASSIGN_OR_RETURN(lhs, expr) \
  KORRAL_ASSIGN_OR_RETURN_IMPL_(KORRAL_STATUS_CONCAT_(korral_statusor_, __LINE__), lhs, expr)

#define KORRAL_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                  \
  if (!var.ok()) return std::move(var).status();      \
  lhs = std::move(var).value()
