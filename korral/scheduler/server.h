// korral/scheduler/server.h: kube-scheduler as a running component (upstream
// cmd/kube-scheduler/app): informers on pods, nodes, namespaces, PodDisruptionBudgets, Services,
// ReplicaSets and StatefulSets feed the Scheduler; API writes go through a client::Client
// (bindings via pods/binding, status patches, core/v1 Events); optional leader election through
// a coordination.k8s.io Lease.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
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

// SchedulerApi over a client::Client. Events are written asynchronously by `event_workers`
// threads from a bounded queue, so bindings never wait for them (upstream's event broadcaster:
// a queue of 1,000 that drops when full); 0 workers writes them synchronously.
class ClientSchedulerApi : public SchedulerApi {
 public:
  static constexpr size_t kMaxQueuedEvents = 10000;
  // `client` must outlive this. `instance`: reportingInstance of events.
  ClientSchedulerApi(client::Client& client, std::string instance, const Clock& clock,
                     int event_workers = 2);
  ~ClientSchedulerApi() override;
  // Writes the queued events (for at most `timeout`) and stops the event workers.
  void Flush(std::chrono::milliseconds timeout);
  int64_t dropped_events() const { return dropped_.load(); }
  absl::Status Bind(const PodInfo& pod, const std::string& node) override;
  absl::Status DeletePod(const PodInfo& pod) override;
  absl::Status UpdatePodScheduledCondition(const PodInfo& pod, const std::string& reason,
                                           const std::string& message,
                                           const std::string* nominated) override;
  void RecordEvent(const PodInfo& pod, const std::string& type, const std::string& reason,
                   const std::string& action, const std::string& message) override;
  absl::StatusOr<Json> UpdateVolumeObject(bool claim, const Json& object, bool status) override;

 private:
  void WriteEvent(const Json& ev);
  void EventLoop();

  client::Client& client_;
  std::string instance_;
  const Clock& clock_;
  std::atomic<uint64_t> event_seq_{0};
  std::mutex ev_mu_;
  std::condition_variable ev_cv_;
  std::deque<std::pair<std::string, Json>> ev_queue_;  // (pod key, event)
  bool ev_stop_ = false;
  int ev_busy_ = 0;
  std::vector<std::thread> ev_workers_;
  std::atomic<int64_t> dropped_{0};
};

struct SchedulerServerOptions {
  SchedulerConfiguration config;
  std::string identity;  // leader election identity (default hostname_uuid-ish)
  int bind_workers = 8;
  int event_workers = 2;  // threads writing Events (0: synchronously in the binding workers)
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
