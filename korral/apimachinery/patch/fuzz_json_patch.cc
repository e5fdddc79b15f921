// Fuzz target: JSON patch and JSON merge patch must never crash nor modify their input.
// Input: the original document, a newline, the patch document.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/patch/json_patch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nlohmann::json;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  json orig = json::parse(in.substr(0, nl), nullptr, false);
  json patch = json::parse(in.substr(nl + 1), nullptr, false);
  if (orig.is_discarded() || patch.is_discarded()) return 0;
  json before = orig;
  (void)korral::patch::ApplyJsonPatch(orig, patch);
  (void)korral::patch::ApplyMergePatch(orig, patch);
  if (orig != before) std::abort();
  return 0;
}
