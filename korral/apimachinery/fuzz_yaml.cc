// Fuzz target: YAML -> JSON must not crash or blow up on hostile input (aliases, depth), and
// JSON -> YAML -> JSON must round-trip whatever the parser accepted.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto docs = korral::yaml::YamlDocumentsToJson(in);
  auto one = korral::yaml::YamlToJson(in);
  if (!one.ok()) return 0;
  std::string y = korral::yaml::JsonToYaml(*one);
  auto back = korral::yaml::YamlToJson(y);
  if (!back.ok()) std::abort();
  // Compare as serialized JSON so that NaN-free floats and integers compare exactly.
  if (back->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) !=
      one->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) {
    std::abort();
  }
  return 0;
}
