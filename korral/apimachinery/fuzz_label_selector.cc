// Fuzz target: label selector parsing, canonical form and matching must never crash, and the
// canonical form of a parsed selector must parse again to the same string.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/labels.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = korral::labels::LabelSelector::Parse(in);
  if (!s.ok()) return 0;
  std::string canon = s->String();
  auto again = korral::labels::LabelSelector::Parse(canon);
  if (!again.ok() || again->String() != canon) std::abort();
  nlohmann::json labels = {{"a", "b"}, {"x", "1"}};
  (void)s->Matches(labels);
  (void)s->Matches(nlohmann::json());
  return 0;
}
