// korral/apiserver/maxinflight.h: the max-in-flight request limits of kube-apiserver without
// API Priority and Fairness (upstream's --max-requests-inflight and
// --max-mutating-requests-inflight, k8s.io/apiserver/pkg/server/filters/maxinflight.go).
//
// Two budgets: read-only requests (verbs get, list, watch) and mutating requests (everything
// else). Long-running requests (watches, the proxy verb, and the attach, exec, log, portforward
// and proxy subresources) never take a slot. A request counts as in flight from the moment the
// HTTP server has read it (so requests queued for a worker thread count) until its handler
// returned. Over the limit, a request is answered 429 with `Retry-After: 1` and the plain-text
// body "Too many requests, please try again later." -- unless its user is in system:masters,
// which upstream always serves ("a super-admin or a loopback connection").
//
// Usage: the HTTP server's `admit` hook calls Admit (non-blocking, on the I/O thread); the
// handler, once it knows the user, calls ShouldReject and answers TooManyRequests().
// Thread-safe. Tickets keep the counters alive, so a limiter may die before its requests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "korral/apiserver/http/server.h"

namespace korral::apiserver {

struct MaxInFlightOptions {
  // 0 disables a budget (as upstream).
  int max_requests_inflight = 400;
  int max_mutating_requests_inflight = 200;
};

class MaxInFlightLimiter {
 public:
  enum class Kind { kLongRunning, kReadOnly, kMutating };

  explicit MaxInFlightLimiter(MaxInFlightOptions options);

  // Upstream's classification of `request` (RequestInfo verb and subresource).
  static Kind Classify(const http::Request& request);

  // Takes a slot for the request if its budget has one, and records the outcome in
  // request.admission (released when the request is destroyed). Never blocks.
  void Admit(http::Request& request);

  // True if Admit found the budget exhausted and the user is not in system:masters (counted in
  // Rejected).
  bool ShouldReject(const http::Request& request, const std::vector<std::string>& groups);

  // The 429 reply.
  static http::Response TooManyRequests();

  // Requests holding a slot now, and requests rejected so far (for metrics and tests).
  int InFlight(Kind kind) const;
  uint64_t Rejected(Kind kind) const;

 private:
  struct State;
  class Ticket;
  std::shared_ptr<State> state_;
};

// The groups of the request's user for the system:masters exemption: the authenticated (or
// impersonated) user when the security pipeline runs, else the client certificate's
// organizations; with `allow_anonymous` (tests) an unauthenticated request counts as masters.
std::vector<std::string> RequestUserGroups(const http::Request& request, bool security_pipeline,
                                           bool allow_anonymous);

}  // namespace korral::apiserver
