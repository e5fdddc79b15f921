// Fuzz target: Kubernetes protobuf body decoding must reject malformed input with a status (no
// crash, no unbounded recursion), and any decoded object must serialize as JSON.
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/protobuf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto j = korral::protobuf::DecodeKubernetesProtobuf(in);
  if (j.ok()) (void)j->dump();
  // Also feed the bytes as the raw object of a few kinds.
  for (auto [v, k] : {std::pair{"apps/v1", "Deployment"}, std::pair{"v1", "Secret"}}) {
    auto o = korral::protobuf::DecodeObject(v, k, in);
    if (o.ok()) (void)o->dump();
  }
  return 0;
}
