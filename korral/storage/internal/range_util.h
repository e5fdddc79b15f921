// korral/storage/internal/range_util.h: request validation shared by the backends.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "korral/storage/storage.h"

namespace korral::storage::internal {

// A normalized key interval [lo, hi); unbounded when hi_unbounded.
struct KeyInterval {
  std::string lo;
  std::string hi;
  bool hi_unbounded = false;

  bool Contains(std::string_view key) const { return key >= lo && (hi_unbounded || key < hi); }
};

// Validates request's key range and converts it to an interval. InvalidArgument on a bad range.
absl::Status NormalizeRange(const RangeRequest& request, KeyInterval* out);

// True when key starts with prefix.
inline bool HasPrefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace korral::storage::internal
