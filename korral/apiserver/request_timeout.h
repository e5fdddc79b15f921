// korral/apiserver/request_timeout.h: the `timeout=` query parameter of non-long-running
// requests (upstream's WithRequestDeadline and WithTimeoutForNonLongRunningRequests filters).
//
// `timeout` is a Go duration ("30s", "1m30s", "500ms"); a malformed one is a 400 ("invalid
// timeout specified in the request URL - time: invalid duration \"x\""). The deadline is the
// given timeout, or the server's maximum (--request-timeout, 60 s) when the value is 0 or not
// below it. A request that has not answered by its deadline gets 504 with a Timeout Status
// ("Timeout: request did not complete within requested timeout - context deadline exceeded");
// as upstream, the work itself is not interrupted (a write may still land) and its response is
// dropped. Watches and the other long-running requests (maxinflight.h) ignore `timeout`; a
// watch's lifetime is its `timeoutSeconds`.
//
// TODO(korral): requests without `timeout=` are not bounded by the 60 s default (each deadline
// costs a thread here; korral's handlers do not wait on anything slow but admission webhooks
// and storage, which have their own bounds).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/server.h"

namespace korral::apiserver {

// Go's time.ParseDuration: a signed sequence of decimal numbers with units ns, us (or µs), ms,
// s, m, h. Errors carry Go's message (`time: invalid duration "x"`).
absl::StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view s);

// The deadline a request asked for: nullopt without `timeout=` (or for long-running requests),
// a 400 Status for a malformed value.
absl::StatusOr<std::optional<std::chrono::nanoseconds>> RequestDeadline(
    const http::Request& request, std::chrono::nanoseconds maximum);

// Runs handlers against a deadline on their own threads. Thread-safe; the destructor waits for
// handlers that outlived their deadline.
class DeadlineRunner {
 public:
  DeadlineRunner() = default;
  ~DeadlineRunner();
  DeadlineRunner(const DeadlineRunner&) = delete;
  DeadlineRunner& operator=(const DeadlineRunner&) = delete;

  // Moves `request` to a new thread and runs `handler` on it; returns its response, or the 504
  // Timeout response if it has not returned within `timeout`.
  http::Response Run(http::Request& request, std::chrono::nanoseconds timeout,
                     std::function<http::Response(http::Request&)> handler);

  // The 504 reply.
  static http::Response TimeoutResponse();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
};

}  // namespace korral::apiserver
