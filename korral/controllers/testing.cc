// korral/controllers/testing.cc
#include "korral/controllers/testing.h"

#include <thread>

#include "korral/client/errors.h"

namespace korral::controllers {

bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

ControllerTestEnv::ControllerTestEnv() : discovery(BuiltinResources()) {
  client::InformerOptions o;
  o.backoff_initial = std::chrono::milliseconds(1);
  o.backoff_max = std::chrono::milliseconds(10);
  informers = NewInformerFactory(client, o);
  ctx.client = &client;
  ctx.informers = informers.get();
  ctx.clock = &clock;
  ctx.discovery = &discovery;
  ctx.options.concurrent_workers = 1;
}

ControllerTestEnv::~ControllerTestEnv() { informers->Stop(); }

void ControllerTestEnv::StartInformers() {
  informers->Start();
  informers->WaitForCacheSync(std::chrono::seconds(10));
}

bool ControllerTestEnv::WaitForCache(const client::ResourceRef& ref, const std::string& key,
                                     bool present) {
  auto* inf = informers->For(ref);
  return Eventually([&] {
    auto [ns, name] = std::pair<std::string, std::string>{
        key.find('/') == std::string::npos ? "" : key.substr(0, key.find('/')),
        key.find('/') == std::string::npos ? key : key.substr(key.find('/') + 1)};
    auto cur = client.Get(ref, ns, name);
    auto cached = inf->indexer().Get(key);
    if (!present) return !cur.ok() && cached == nullptr;
    if (!cur.ok() || cached == nullptr) return false;
    return client::ResourceVersionOf(*cached) == client::ResourceVersionOf(*cur);
  });
}

}  // namespace korral::controllers
