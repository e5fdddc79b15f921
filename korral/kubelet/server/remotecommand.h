// korral/kubelet/server/remotecommand.h: exec/attach over WebSocket channel.k8s.io.
//
// Protocols (server preference): v5.channel.k8s.io, v4.channel.k8s.io, v4.base64.channel.k8s.io,
// channel.k8s.io, base64.channel.k8s.io. Each message is [channel][payload] (base64 variants:
// an ASCII digit and base64 text). Channels: 0 stdin, 1 stdout, 2 stderr, 3 error (v4+: a
// metav1.Status JSON; before v4: plain text), 4 resize ({"Width":W,"Height":H}), 255 close
// (v5: [255, channel] half-closes that client stream).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "korral/apiserver/http/server.h"
#include "korral/kubelet/server/server.h"

namespace korral::kubelet::server {

const std::vector<std::string>& RemoteCommandProtocols();

// The Status JSON sent on the error channel for a finished command (exit code or error).
std::string CommandStatusJson(const absl::StatusOr<int>& result,
                              const std::vector<std::string>& command);

// Runs `session` over an accepted WebSocket connection until the command finished; then
// writes the status and closes. Blocks.
void ServeRemoteCommand(http::ConnPtr conn, const std::string& protocol, const ExecRequest& request,
                        std::unique_ptr<CommandSession> session);

// remotecommand over raw SPDY/3.1 (kubectl's fallback; also what CRI streaming servers speak):
// the protocol kubectl offered in X-Stream-Protocol-Version that we support, or "".
std::string NegotiateSpdyRemoteCommandProtocol(const http::Request& request);

// Serves one SPDY remotecommand connection: waits for the client's streams (error, then those
// `request` asks for, resize with a TTY), runs `session`, writes the status on the error stream.
void ServeRemoteCommandSpdy(http::ConnPtr conn, const std::string& protocol,
                            const ExecRequest& request, std::unique_ptr<CommandSession> session);

}  // namespace korral::kubelet::server
