// Arbitrary JSON through SpliceResourceVersion: whenever it answers, the answer must be the dump
// of the tree with metadata.resourceVersion set (the bytes the watch cache serves).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apiserver/watch_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Raw bytes must never crash it.
  (void)korral::apiserver::SpliceResourceVersion(input, "1");
  nlohmann::json obj = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return 0;
  std::string dumped;
  try {
    dumped = obj.dump();
  } catch (const nlohmann::json::exception&) {
    return 0;  // invalid UTF-8 in a string: the apiserver never stores such a tree
  }
  auto spliced = korral::apiserver::SpliceResourceVersion(dumped, "42");
  if (!spliced) return 0;
  obj["metadata"]["resourceVersion"] = "42";
  if (*spliced != obj.dump()) std::abort();
  return 0;
}
