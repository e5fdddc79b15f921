// korral/streaming/conn.h: making and joining byte connections (http::Conn).
//
//   DialTcp / DialTls   client connections (TLS with an optional CA to verify the server and an
//                       optional client certificate)
//   Splice              copies two connections into each other until both directions end
//   NewPipe             an in-memory connected pair, for tests
//
// All functions are thread-safe; returned Conns follow http::Conn's one-reader/one-writer rule.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/conn.h"

namespace korral::streaming {

absl::StatusOr<http::ConnPtr> DialTcp(const std::string& host, uint16_t port,
                                      std::chrono::milliseconds timeout);

struct TlsClientOptions {
  // PEM CA bundle that must have signed the server's certificate; empty: the server certificate
  // is not verified (as kube-apiserver without --kubelet-certificate-authority).
  std::string ca_pem;
  // Client certificate and key presented to the server (optional).
  std::string cert_pem;
  std::string key_pem;
};

absl::StatusOr<http::ConnPtr> DialTls(const std::string& host, uint16_t port,
                                      const TlsClientOptions& options,
                                      std::chrono::milliseconds timeout);

// Takes ownership of a connected TCP socket descriptor (e.g. from accept()).
http::ConnPtr AdoptTcpSocket(int fd);

// Copies a->b and b->a on two threads (the calling one and one more) until either side ends
// or fails, then closes both (for protocols that end themselves: WebSocket, SPDY). `initial_to_a`
// is written to a first (bytes already read from b, e.g. behind an upgrade response head).
void Splice(http::Conn& a, http::Conn& b, std::string initial_to_a = "");

// Two connected in-memory ends: what one writes the other reads.
std::pair<http::ConnPtr, http::ConnPtr> NewPipe();

}  // namespace korral::streaming
