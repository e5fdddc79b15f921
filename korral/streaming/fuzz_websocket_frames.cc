// Feeds arbitrary bytes to the WebSocket frame parser, in both roles and split at a point the
// input chooses, and re-encodes what comes out.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "korral/streaming/websocket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using korral::streaming::ws::FrameParser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (bool server : {true, false}) {
    FrameParser parser(server, 4096);
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
      (void)korral::streaming::ws::EncodeFrame((*f)->opcode, (*f)->payload, (*f)->fin);
    }
  }
  return 0;
}
