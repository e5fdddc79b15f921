// Fuzzes the strict JSON parser and the unknown-field walker with arbitrary bodies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "korral/api/schema/strict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = korral::schema::ParseJsonStrict(body);
  if (!r.ok()) return 0;
  const nlohmann::json& obj = r->object;
  std::string api_version = "v1";
  std::string kind = "Pod";
  if (obj.is_object()) {
    auto av = obj.find("apiVersion");
    if (av != obj.end() && av->is_string()) api_version = av->get<std::string>();
    auto k = obj.find("kind");
    if (k != obj.end() && k->is_string()) kind = k->get<std::string>();
  }
  auto unknown = korral::schema::FindUnknownFields(obj, api_version, kind);
  (void)korral::schema::StrictDecodingMessage(unknown, r->duplicate_fields);
  // Also walk the same body as a few fixed kinds.
  for (const char* k : {"Deployment", "CronJob"}) {
    (void)korral::schema::FindUnknownFields(obj, k[0] == 'D' ? "apps/v1" : "batch/v1", k);
  }
  return 0;
}
