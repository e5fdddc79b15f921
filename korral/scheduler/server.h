// korral/scheduler/server.h: kube-scheduler as a running component (upstream
// cmd/kube-scheduler/app): informers on pods, nodes, namespaces, PodDisruptionBudgets, Services,
// ReplicaSets and StatefulSets feed the Scheduler; API writes go through a client::Client
// (bindings via pods/binding, status patches, core/v1 Events); optional leader election through
// a coordination.k8s.io Lease.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/client/client.h"
#include "korral/client/informer.h"
#include "korral/client/leaderelection.h"
#include "korral/scheduler/config.h"
#include "korral/scheduler/scheduler.h"

namespace korral::scheduler {

// SchedulerApi over a client::Client.
class ClientSchedulerApi : public SchedulerApi {
 public:
  // `client` must outlive this. `instance`: reportingInstance of events.
  ClientSchedulerApi(client::Client& client, std::string instance, const Clock& clock);
  absl::Status Bind(const PodInfo& pod, const std::string& node) override;
  absl::Status DeletePod(const PodInfo& pod) override;
  absl::Status UpdatePodScheduledCondition(const PodInfo& pod, const std::string& reason,
                                           const std::string& message,
                                           const std::string* nominated) override;
  void RecordEvent(const PodInfo& pod, const std::string& type, const std::string& reason,
                   const std::string& action, const std::string& message) override;

 private:
  client::Client& client_;
  std::string instance_;
  const Clock& clock_;
  std::atomic<uint64_t> event_seq_{0};
};

struct SchedulerServerOptions {
  SchedulerConfiguration config;
  std::string identity;  // leader election identity (default hostname_uuid-ish)
  int bind_workers = 8;
};

class SchedulerServer {
 public:
  // `client` must outlive the server.
  static absl::StatusOr<std::unique_ptr<SchedulerServer>> New(client::Client& client,
                                                              SchedulerServerOptions options);
  ~SchedulerServer();
  // Starts the informers and (after winning the lease, if enabled) the scheduling loop. Returns
  // once started; the loop runs on its own threads.
  absl::Status Start();
  void Stop();
  bool IsLeader() const { return leading_.load(); }
  Scheduler& scheduler() { return *scheduler_; }

 private:
  SchedulerServer(client::Client& client, SchedulerServerOptions options);
  void Wire();
  void StartScheduling();

  client::Client& client_;
  SchedulerServerOptions options_;
  std::unique_ptr<ClientSchedulerApi> api_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::unique_ptr<client::SharedInformer>> informers_;
  client::SharedInformer* services_ = nullptr;
  client::SharedInformer* replicasets_ = nullptr;
  client::SharedInformer* statefulsets_ = nullptr;
  std::unique_ptr<client::LeaderElector> elector_;
  std::thread elector_thread_;
  std::atomic<bool> leading_{false};
  std::atomic<bool> stopped_{false};
  std::once_flag started_;
};

}  // namespace korral::scheduler
