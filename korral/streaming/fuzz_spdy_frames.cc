// Feeds arbitrary bytes to the SPDY/3.1 frame parser (including zlib header blocks).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "korral/streaming/spdy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using korral::streaming::spdy::FrameParser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FrameParser parser(64 * 1024);
  size_t split = size == 0 ? 0 : data[0] % (size + 1);
  parser.Feed(input.substr(0, split));
  bool fed_rest = false;
  for (int i = 0; i < 10000; ++i) {
    auto f = parser.Next();
    if (!f.ok()) break;
    if (!f->has_value()) {
      if (fed_rest) break;
      parser.Feed(input.substr(split));
      fed_rest = true;
      continue;
    }
  }
  return 0;
}
