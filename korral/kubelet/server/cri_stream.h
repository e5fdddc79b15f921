// korral/kubelet/server/cri_stream.h: clients for a CRI runtime's streaming server.
//
// The CRI Exec/Attach/PortForward RPCs answer with a URL on the runtime's streaming server
// (containerd: http://127.0.0.1:<port>/exec/<token>), which speaks remotecommand and
// portforward over SPDY/3.1 — the same protocols the kubelet's own server speaks upstream. A
// Backend returns these from Exec/Attach/PortForward, so the kubelet server bridges kubectl's
// WebSocket protocols to the runtime:
//
//   auto url = cri->Exec(...);                           // runtime.v1 ExecResponse.url
//   return NewCriCommandSession(url, request);           // Backend::Exec
//   auto pf = cri->PortForward(...);
//   return NewCriPortForwarder(pf_url);                  // Backend::PortForward
//
// Only http:// URLs are supported (containerd's default, enable_tls_streaming = false).
#pragma once

#include <memory>
#include <string>

#include "korral/kubelet/server/server.h"

namespace korral::kubelet::server {

// remotecommand v4 over SPDY: streams error/stdin/stdout/stderr/resize per `request`'s flags;
// the exit code comes from the Status on the error stream.
std::unique_ptr<CommandSession> NewCriCommandSession(std::string url, ExecRequest request);

// portforward.k8s.io over SPDY: one SPDY connection (opened on the first Dial), an error and a
// data stream per Dial.
std::unique_ptr<PortForwarder> NewCriPortForwarder(std::string url);

// Splits "http://host:port/path" (port defaults to 80). InvalidArgument otherwise.
struct ParsedUrl {
  std::string host;
  uint16_t port = 80;
  std::string path;  // with query, starts with '/'
};
absl::StatusOr<ParsedUrl> ParseStreamingUrl(std::string_view url);

}  // namespace korral::kubelet::server
