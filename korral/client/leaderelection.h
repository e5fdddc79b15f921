// korral/client/leaderelection.h: leader election over a coordination.k8s.io/v1 Lease
// (client-go tools/leaderelection).
//
// Candidates race to write their identity into spec.holderIdentity of one Lease. The holder
// renews spec.renewTime every retry_period; the others consider the lease free once they have
// not seen it change for lease_duration (measured on their own clock, as upstream, so clock skew
// between machines does not matter). Writes use the Lease's resourceVersion, so two candidates
// can never both win.
//
// Example:
//   LeaderElector elector(client, {.lease_name = "korral-scheduler", .identity = hostname,
//                                  .on_started_leading = [&] { scheduler.Start(); },
//                                  .on_stopped_leading = [&] { std::exit(1); }});
//   elector.Run();  // blocks until Stop() or leadership is lost
//
// Thread-safe: Run on one thread, Stop/IsLeader/Leader from any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "korral/base/clock.h"
#include "korral/client/client.h"

namespace korral::client {

struct LeaderElectionConfig {
  std::string lease_namespace = "kube-system";
  std::string lease_name;
  std::string identity;  // unique per candidate
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};  // leader gives up after failing this long
  std::chrono::milliseconds retry_period{2000};
  // Called on the Run thread when this candidate becomes leader / stops being leader.
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // Called whenever the observed holder changes (including to this candidate).
  std::function<void(const std::string& identity)> on_new_leader;
  bool release_on_stop = true;   // clear the holder on Stop so others take over at once
  const Clock* clock = nullptr;  // default: Clock::Real()
};

class LeaderElector {
 public:
  // `client` must outlive the elector.
  LeaderElector(Client& client, LeaderElectionConfig config);
  ~LeaderElector();

  // One attempt to acquire or renew the lease. Returns true if this candidate holds it
  // afterwards. Does not call on_started/stopped_leading (Run does).
  bool TryAcquireOrRenew();
  // Acquires (retrying every retry_period), calls on_started_leading, renews until Stop() or
  // until renewing fails for renew_deadline, then calls on_stopped_leading and returns.
  void Run();
  // Makes Run return (releasing the lease if configured). Idempotent.
  void Stop();

  bool IsLeader() const;
  // The last observed holder ("" if none).
  std::string Leader() const;

 private:
  bool WaitFor(std::chrono::milliseconds d);  // false if stopped
  void Release();

  Client& client_;
  const LeaderElectionConfig config_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool leader_ = false;
  std::string observed_holder_;
  std::string observed_renew_time_;
  std::chrono::steady_clock::time_point observed_time_{};
  std::chrono::steady_clock::time_point last_renew_{};
};

}  // namespace korral::client
