#include "korral/apiserver/request_timeout.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <thread>

#include "korral/apimachinery/errors.h"
#include "korral/apiserver/maxinflight.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::apiserver {

namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

absl::Status DurationError(std::string message) {
  return absl::Status(absl::StatusCode::kInvalidArgument, absl::string_view(message));
}

}  // namespace

absl::StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view orig) {
  auto invalid = [&] { return DurationError("time: invalid duration " + Quote(orig)); };
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return invalid();
  long double total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) return invalid();
    size_t j = i;
    while (j < s.size() && s[j] != '.' && !(s[j] >= '0' && s[j] <= '9')) ++j;
    std::string_view unit = s.substr(i, j - i);
    if (unit.empty()) return DurationError("time: missing unit in duration " + Quote(orig));
    long double ns_per;
    if (unit == "ns") {
      ns_per = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      ns_per = 1e3L;
    } else if (unit == "ms") {
      ns_per = 1e6L;
    } else if (unit == "s") {
      ns_per = 1e9L;
    } else if (unit == "m") {
      ns_per = 60e9L;
    } else if (unit == "h") {
      ns_per = 3600e9L;
    } else {
      return DurationError(
          fmt::format("time: unknown unit {} in duration {}", Quote(unit), Quote(orig)));
    }
    total += value * ns_per;
    if (total > static_cast<long double>(INT64_MAX)) return invalid();
    s.remove_prefix(j);
  }
  auto ns = static_cast<int64_t>(std::floor(total));
  return std::chrono::nanoseconds(neg ? -ns : ns);
}

absl::StatusOr<std::optional<std::chrono::nanoseconds>> RequestDeadline(
    const http::Request& request, std::chrono::nanoseconds maximum) {
  auto v = request.Query("timeout");
  if (!v || v->empty()) return std::nullopt;
  if (MaxInFlightLimiter::Classify(request) == MaxInFlightLimiter::Kind::kLongRunning) {
    return std::nullopt;
  }
  auto d = ParseGoDuration(*v);
  if (!d.ok()) {
    return apierrors::NewBadRequest("invalid timeout specified in the request URL - " +
                                    std::string(StatusMessage(d.status())));
  }
  // 0 (no timeout of the caller's own) and anything above the maximum get the maximum.
  if (*d > std::chrono::nanoseconds(0) && *d < maximum) return *d;
  return maximum;
}

http::Response DeadlineRunner::TimeoutResponse() {
  absl::Status s = apierrors::NewTimeout(
      "Timeout: request did not complete within requested timeout - context deadline exceeded");
  http::Response r;
  r.status = apierrors::HttpCode(s);
  r.body = apierrors::ToStatusObject(s).dump();
  return r;
}

DeadlineRunner::~DeadlineRunner() {
  std::unique_lock l(mu_);
  cv_.wait(l, [this] { return running_ == 0; });
}

http::Response DeadlineRunner::Run(http::Request& request, std::chrono::nanoseconds timeout,
                                   std::function<http::Response(http::Request&)> handler) {
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::chrono::steady_clock::time_point finished;
    http::Response response;
    http::Request request;
  };
  auto shared = std::make_shared<Shared>();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string method = request.method, path = request.path;
  shared->request = std::move(request);
  {
    std::lock_guard l(mu_);
    ++running_;
  }
  std::thread([this, shared, handler = std::move(handler)] {
    http::Response r = handler(shared->request);
    {
      std::lock_guard l(shared->mu);
      shared->response = std::move(r);
      shared->done = true;
      shared->finished = std::chrono::steady_clock::now();
      // The request (and the in-flight slot it holds) is released once the work is over.
      shared->request = http::Request();
    }
    shared->cv.notify_all();
    std::lock_guard l(mu_);
    if (--running_ == 0) cv_.notify_all();
  }).detach();
  std::unique_lock l(shared->mu);
  // An answer produced after the deadline (seen late because this thread was not scheduled in
  // time) is a timeout all the same.
  if (shared->cv.wait_until(l, deadline, [&] { return shared->done; }) &&
      shared->finished <= deadline) {
    return std::move(shared->response);
  }
  KLOG(Info, "{} {} did not finish within its {} ms timeout: 504", method, path,
       std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  return TimeoutResponse();
}

}  // namespace korral::apiserver
