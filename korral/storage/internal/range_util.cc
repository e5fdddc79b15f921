#include "korral/storage/internal/range_util.h"

namespace korral::storage::internal {

absl::Status NormalizeRange(const RangeRequest& request, KeyInterval* out) {
  if (request.limit < 0) return absl::InvalidArgumentError("negative range limit");
  if (request.revision < 0) return absl::InvalidArgumentError("negative range revision");
  out->lo = request.start;
  out->hi.clear();
  out->hi_unbounded = false;
  if (request.end.empty()) {
    if (request.start.empty()) return absl::InvalidArgumentError("empty range key");
    out->hi = request.start;
    out->hi.push_back('\0');  // the smallest key greater than start
    return absl::OkStatus();
  }
  if (request.end == std::string_view("\0", 1)) {
    out->hi_unbounded = true;
    return absl::OkStatus();
  }
  if (request.end < request.start) {
    return absl::InvalidArgumentError("range end is before range start");
  }
  out->hi = request.end;
  return absl::OkStatus();
}

}  // namespace korral::storage::internal
