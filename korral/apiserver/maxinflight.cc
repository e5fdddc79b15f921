#include "korral/apiserver/maxinflight.h"

#include <algorithm>
#include <atomic>

#include "korral/apiserver/security/context.h"

namespace korral::apiserver {

struct MaxInFlightLimiter::State {
  int limit[2];  // read-only, mutating; 0 = unlimited
  std::atomic<int> inflight[2] = {0, 0};
  std::atomic<uint64_t> rejected[2] = {0, 0};
};

class MaxInFlightLimiter::Ticket final : public http::Admission {
 public:
  Ticket(std::shared_ptr<State> state, int budget) : state_(std::move(state)), budget_(budget) {}
  ~Ticket() override {
    if (state_) state_->inflight[budget_].fetch_sub(1, std::memory_order_acq_rel);
  }

 private:
  std::shared_ptr<State> state_;  // null: no slot held
  int budget_;
};

MaxInFlightLimiter::MaxInFlightLimiter(MaxInFlightOptions options)
    : state_(std::make_shared<State>()) {
  state_->limit[0] = std::max(0, options.max_requests_inflight);
  state_->limit[1] = std::max(0, options.max_mutating_requests_inflight);
}

MaxInFlightLimiter::Kind MaxInFlightLimiter::Classify(const http::Request& request) {
  authz::Attributes a = security::RequestAttributes(request);
  // kube-apiserver's BasicLongRunningRequestCheck: verbs watch and proxy; subresources attach,
  // exec, proxy, log and portforward.
  if (a.verb == "watch" || a.verb == "proxy") return Kind::kLongRunning;
  if (a.resource_request &&
      (a.subresource == "attach" || a.subresource == "exec" || a.subresource == "proxy" ||
       a.subresource == "log" || a.subresource == "portforward")) {
    return Kind::kLongRunning;
  }
  // The legacy /api/v1/proxy/... paths.
  if (a.resource_request && a.resource == "proxy") return Kind::kLongRunning;
  if (a.verb == "get" || a.verb == "list") return Kind::kReadOnly;
  return Kind::kMutating;
}

void MaxInFlightLimiter::Admit(http::Request& request) {
  Kind kind = Classify(request);
  if (kind == Kind::kLongRunning) return;
  int b = kind == Kind::kMutating ? 1 : 0;
  int limit = state_->limit[b];
  if (limit == 0) return;
  int cur = state_->inflight[b].load(std::memory_order_relaxed);
  while (true) {
    if (cur >= limit) {
      auto ticket = std::make_shared<Ticket>(nullptr, b);
      ticket->over_limit = true;
      request.admission = std::move(ticket);
      return;
    }
    if (state_->inflight[b].compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) {
      request.admission = std::make_shared<Ticket>(state_, b);
      return;
    }
  }
}

bool MaxInFlightLimiter::ShouldReject(const http::Request& request,
                                      const std::vector<std::string>& groups) {
  if (!request.admission || !request.admission->over_limit) return false;
  if (std::find(groups.begin(), groups.end(), "system:masters") != groups.end()) return false;
  Kind kind = Classify(request);
  state_->rejected[kind == Kind::kMutating ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
  return true;
}

http::Response MaxInFlightLimiter::TooManyRequests() {
  // Upstream answers with http.Error: a plain-text body, not a Status object.
  http::Response r;
  r.status = 429;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.push_back({"Retry-After", "1"});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.body = "Too many requests, please try again later.\n";
  return r;
}

int MaxInFlightLimiter::InFlight(Kind kind) const {
  if (kind == Kind::kLongRunning) return 0;
  return state_->inflight[kind == Kind::kMutating ? 1 : 0].load();
}

uint64_t MaxInFlightLimiter::Rejected(Kind kind) const {
  if (kind == Kind::kLongRunning) return 0;
  return state_->rejected[kind == Kind::kMutating ? 1 : 0].load();
}

std::vector<std::string> RequestUserGroups(const http::Request& request, bool security_pipeline,
                                           bool allow_anonymous) {
  if (security_pipeline) {
    const authn::UserInfo* user = security::CurrentUser();
    return user ? user->groups : std::vector<std::string>{};
  }
  if (request.client_cert) return request.client_cert->organizations;
  if (allow_anonymous) return {"system:masters"};
  return {};
}

}  // namespace korral::apiserver
