// korral/controllers/workload_util/testing.h: test environment for the workload controllers
// (TESTONLY): a FakeClient, a FakeClock, informers over the fake client, and helpers that wait
// until the informers reflect the fake client (bounded, real time: informer delivery is
// asynchronous) and then run the controller's queue on the test thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "korral/client/fake_client.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers::workload {

class TestInformerFactory : public InformerFactory {
 public:
  explicit TestInformerFactory(client::Client& client) : client_(client) {}
  ~TestInformerFactory() override { Stop(); }
  client::SharedInformer* For(const client::ResourceRef& ref) override;
  void Start() override;
  bool WaitForCacheSync(std::chrono::milliseconds timeout) override;
  void Stop() override;
  // Waits until every informer's cache equals the fake client's objects (keys and
  // resourceVersions). False after `timeout`.
  bool Settle(client::FakeClient& fake,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

 private:
  client::Client& client_;
  std::mutex mu_;
  std::map<std::string, std::pair<client::ResourceRef, std::unique_ptr<client::SharedInformer>>>
      informers_;
  std::set<std::string> started_;
};

struct WorkloadTestEnv {
  WorkloadTestEnv();
  ~WorkloadTestEnv();
  // Starts the informers and waits for their sync.
  void Start();
  // Settles the informers, then runs `c`'s queue until nothing is left (bounded rounds).
  // Returns the number of keys processed.
  int RunUntilQuiet(QueueController& c, int max_rounds = 50);
  void Settle();

  // Objects of `ref` in `ns` (from the fake client), sorted by name.
  std::vector<Json> List(const client::ResourceRef& ref, const std::string& ns = "default");
  Json Get(const client::ResourceRef& ref, const std::string& ns, const std::string& name);
  Json Create(const client::ResourceRef& ref, Json obj);
  // Sets the pod's phase (and Ready condition for Running pods when `ready`).
  void SetPodStatus(const Json& pod, const std::string& phase, bool ready);

  client::FakeClient client;
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  TestInformerFactory informers{client};
  ControllerContext ctx;
};

}  // namespace korral::controllers::workload
