// korral/streaming/portforward.h: the server side of portforward.k8s.io over SPDY/3.1.
//
// Per forwarded client connection kubectl opens two streams with headers `streamtype`
// (error|data), `port` and `requestid`. Every stream is answered with SYN_REPLY; once both
// streams of a request id exist the data stream is joined with a connection from `dial`. Dial
// failures are written as text to the error stream, which is then closed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/conn.h"

namespace korral::streaming {

using PortDialer = std::function<absl::StatusOr<http::ConnPtr>(uint16_t port)>;

// Serves one SPDY connection (raw, or the byte stream of a WebSocket tunnel) until it ends.
// `target` names the pod in error messages ("pod default/web, uid 123").
void ServePortForward(http::ConnPtr conn, PortDialer dial, const std::string& target);

}  // namespace korral::streaming
