// korral/controllers/testing.h: helpers for controller unit tests (TESTONLY,
// korral::controller_testing).
//
//   ControllerTestEnv env;                 // FakeClient + FakeClock + informer factory + context
//   auto c = MyDescriptor().factory(env.ctx);
//   auto stop = env.StopInformersOnExit();  // after the controller: stops informers first
//   env.StartInformers();
//   env.client.Create(...);
//   ASSERT_TRUE(Eventually([&] { return env.informers->For(ref)->indexer().Size() == 1; }));
//
// Eventually polls (bounded, real time) for the informers' asynchronous delivery only; every
// time-based behaviour of a controller under test reads env.clock (a FakeClock).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "korral/client/fake_client.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/discovery.h"

namespace korral::controllers {

// Polls `cond` every 2 ms until it holds or `timeout` passes; returns the last value.
bool Eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

struct ControllerTestEnv {
  ControllerTestEnv();
  ~ControllerTestEnv();
  void StartInformers();
  // Declare the result right after the controller under test: destroyed first, it stops the
  // informers so no handler runs into a controller that is being destroyed.
  //   PodGCController c(env.ctx);
  //   auto stop = env.StopInformersOnExit();
  struct InformerStopper {
    InformerFactory* informers;
    ~InformerStopper() { informers->Stop(); }
  };
  [[nodiscard]] InformerStopper StopInformersOnExit() { return {informers.get()}; }
  // Waits until the informer for `ref` holds the object `key` at (at least) the client's
  // current resourceVersion of that object, or its absence if `present` is false.
  bool WaitForCache(const client::ResourceRef& ref, const std::string& key, bool present = true);

  client::FakeClient client;
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  std::unique_ptr<InformerFactory> informers;
  StaticDiscovery discovery;
  ControllerContext ctx;
};

}  // namespace korral::controllers
