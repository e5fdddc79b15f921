// Feeds arbitrary bytes through the request parser and Request builder a connection uses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "korral/apiserver/http/internal/request_parsing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto request = korral::http::internal::ParseRequestBytes(input, /*max_body_bytes=*/4096,
                                                           /*max_header_bytes=*/8192);
  if (request.ok()) {
    // Exercise the accessors on whatever came out.
    (void)request->Header("content-type");
    (void)request->Query("watch");
    (void)request->QueryAll("fieldSelector");
  } else {
    (void)korral::http::internal::HttpStatusFor(request.status());
  }
  (void)korral::http::internal::ParseQuery(input);
  (void)korral::http::internal::PercentDecode(input, true);
  return 0;
}
