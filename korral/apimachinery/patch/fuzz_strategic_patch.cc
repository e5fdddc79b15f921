// Fuzz target: strategic merge patch and server-side apply on a Pod must never crash, never
// modify their input, and always give an object (or a Kubernetes error) for an object patch.
// Input: the original document, a newline, the patch document.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/patch/managed.h"
#include "korral/apimachinery/patch/strategic.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nlohmann::json;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  json orig = json::parse(in.substr(0, nl), nullptr, false);
  json patch = json::parse(in.substr(nl + 1), nullptr, false);
  if (orig.is_discarded() || patch.is_discarded() || !orig.is_object()) return 0;
  const auto* pod = korral::schema::FindKindSchema("v1", "Pod");
  json before = orig;
  auto out = korral::patch::StrategicMergePatch(orig, patch, pod);
  if (orig != before) std::abort();
  if (out.ok() && !out->is_object()) std::abort();
  korral::patch::ManagedOptions opts;
  opts.manager = "fuzz";
  opts.api_version = "v1";
  opts.kind = "Pod";
  opts.now = "2026-01-01T00:00:00Z";
  if (patch.is_object()) {
    patch["apiVersion"] = "v1";
    patch["kind"] = "Pod";
    auto applied = korral::patch::Apply(&orig, patch, pod, opts, false);
    if (orig != before) std::abort();
    if (applied.ok()) {
      // Re-applying the same configuration is a no-op on the fields.
      auto again = korral::patch::Apply(&*applied, patch, pod, opts, false);
      if (!again.ok()) std::abort();
    }
  }
  json updated = orig;
  (void)korral::patch::RecordUpdate(&before, updated, pod, opts);
  return 0;
}
