// Fuzz target: field selector parsing and its canonical form (which must re-parse identically).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "korral/apimachinery/fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto s = korral::fields::FieldSelector::Parse(in);
  if (!s.ok()) return 0;
  std::string canon = s->String();
  auto again = korral::fields::FieldSelector::Parse(canon);
  if (!again.ok() || again->String() != canon) std::abort();
  (void)s->Matches([](std::string_view f) -> std::optional<std::string> {
    if (f == "a") return std::string("b");
    return std::nullopt;
  });
  return 0;
}
