#include "korral/client/leaderelection.h"

#include <ctime>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::client {
namespace {

// metav1.MicroTime: RFC 3339 with microseconds.
std::string MicroTime(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}Z", buf, static_cast<int>(us % 1000000));
}

}  // namespace

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config)
    : client_(client),
      config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : Clock::Real()) {}

LeaderElector::~LeaderElector() { Stop(); }

bool LeaderElector::TryAcquireOrRenew() {
  const ResourceRef leases = resources::Leases();
  auto now_wall = clock_.Now();
  auto now = clock_.SteadyNow();
  int duration_s = static_cast<int>(std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count()));
  Json spec = {{"holderIdentity", config_.identity},
               {"leaseDurationSeconds", duration_s},
               {"acquireTime", MicroTime(now_wall)},
               {"renewTime", MicroTime(now_wall)},
               {"leaseTransitions", 0}};

  auto current = client_.Get(leases, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (!client::IsNotFound(current.status())) {
      KLOG(Warning, "leader election: get lease {}/{}: {}", config_.lease_namespace,
           config_.lease_name, current.status().ToString());
      return false;
    }
    Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec", spec}};
    auto created = client_.Create(leases, config_.lease_namespace, lease);
    bool changed;
    {
      std::lock_guard l(mu_);
      if (!created.ok()) return false;
      changed = observed_holder_ != config_.identity;
      observed_holder_ = config_.identity;
      observed_renew_time_ = spec["renewTime"];
      observed_time_ = now;
      leader_ = true;
    }
    if (changed && config_.on_new_leader) config_.on_new_leader(config_.identity);
    return true;
  }

  Json lease = std::move(*current);
  Json old_spec = lease.value("spec", Json::object());
  std::string holder = old_spec.value("holderIdentity", "");
  std::string renew = old_spec.value("renewTime", "");
  bool other_holds = false;
  std::string new_leader;
  {
    std::lock_guard l(mu_);
    if (holder != observed_holder_ || renew != observed_renew_time_) {
      if (holder != observed_holder_ && !holder.empty()) new_leader = holder;
      observed_holder_ = holder;
      observed_renew_time_ = renew;
      observed_time_ = now;
    }
    int held_s = old_spec.value("leaseDurationSeconds", duration_s);
    if (!holder.empty() && holder != config_.identity &&
        observed_time_ + std::chrono::seconds(held_s) > now) {
      leader_ = false;
      other_holds = true;  // someone else holds an unexpired lease
    }
  }
  if (!new_leader.empty() && config_.on_new_leader) config_.on_new_leader(new_leader);
  if (other_holds) return false;
  if (holder == config_.identity) {
    spec["acquireTime"] = old_spec.value("acquireTime", spec["acquireTime"].get<std::string>());
    spec["leaseTransitions"] = old_spec.value("leaseTransitions", 0);
  } else {
    spec["leaseTransitions"] = old_spec.value("leaseTransitions", 0) + 1;
  }
  lease["spec"] = spec;
  auto updated = client_.Update(leases, config_.lease_namespace, lease);
  if (!updated.ok()) {
    if (!client::IsConflict(updated.status())) {
      KLOG(Warning, "leader election: update lease: {}", updated.status().ToString());
    }
    std::lock_guard l(mu_);
    leader_ = false;
    return false;
  }
  bool changed;
  {
    std::lock_guard l(mu_);
    changed = observed_holder_ != config_.identity;
    observed_holder_ = config_.identity;
    observed_renew_time_ = spec["renewTime"];
    observed_time_ = now;
    leader_ = true;
  }
  if (changed && config_.on_new_leader) config_.on_new_leader(config_.identity);
  return true;
}

bool LeaderElector::WaitFor(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  return !cv_.wait_for(l, d, [&] { return stopped_; });
}

void LeaderElector::Run() {
  // Acquire.
  while (true) {
    {
      std::lock_guard l(mu_);
      if (stopped_) return;
    }
    if (TryAcquireOrRenew()) break;
    if (!WaitFor(config_.retry_period)) return;
  }
  KLOG(Info, "leader election: {} acquired lease {}/{}", config_.identity, config_.lease_namespace,
       config_.lease_name);
  if (config_.on_started_leading) config_.on_started_leading();
  // Renew.
  auto last_ok = std::chrono::steady_clock::now();
  while (WaitFor(config_.retry_period)) {
    if (TryAcquireOrRenew()) {
      last_ok = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - last_ok >= config_.renew_deadline) {
      KLOG(Warning, "leader election: {} lost lease {}/{}", config_.identity,
           config_.lease_namespace, config_.lease_name);
      break;
    }
  }
  if (config_.release_on_stop) Release();
  {
    std::lock_guard l(mu_);
    leader_ = false;
  }
  if (config_.on_stopped_leading) config_.on_stopped_leading();
}

void LeaderElector::Release() {
  auto current = client_.Get(resources::Leases(), config_.lease_namespace, config_.lease_name);
  if (!current.ok()) return;
  Json lease = std::move(*current);
  if (lease["spec"].value("holderIdentity", "") != config_.identity) return;
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  (void)client_.Update(resources::Leases(), config_.lease_namespace, lease);
}

void LeaderElector::Stop() {
  std::lock_guard l(mu_);
  stopped_ = true;
  cv_.notify_all();
}

bool LeaderElector::IsLeader() const {
  std::lock_guard l(mu_);
  return leader_;
}

std::string LeaderElector::Leader() const {
  std::lock_guard l(mu_);
  return observed_holder_;
}

}  // namespace korral::client
