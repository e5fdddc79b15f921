// korral/apiserver/http/conn.h: a plain byte connection (TCP or TLS) used after an HTTP
// protocol switch (101 Switching Protocols) and by streaming clients.
//
// Blocking interface: at most one thread reads and at most one other thread writes at a time;
// Close may be called from any thread at any time and makes pending and later Read/Write fail.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::http {

class Conn {
 public:
  virtual ~Conn() = default;
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Reads at least one byte into buf[0..n). Returns 0 at end of stream (the peer closed),
  // an error if the connection failed (Cancelled if it was closed locally).
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Writes all of `data`. Returns an error if the connection failed or was closed.
  virtual absl::Status Write(std::string_view data) = 0;
  // Half-closes the sending direction where the transport allows it (TCP shutdown(SHUT_WR);
  // a TLS close_notify). Optional; the default does nothing.
  virtual void CloseWrite() {}
  // Closes both directions. Idempotent, thread-safe.
  virtual void Close() = 0;
};

using ConnPtr = std::unique_ptr<Conn>;

}  // namespace korral::http
