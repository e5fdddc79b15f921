// korral/controllers/informer_factory.cc: the shared informer factory (client-go's
// SharedInformerFactory): one informer per resource, created on first use.
#include <map>
#include <mutex>

#include "korral/controllers/controller.h"

namespace korral::controllers {
namespace {

class InformerFactoryImpl : public InformerFactory {
 public:
  InformerFactoryImpl(client::Client& client, client::InformerOptions options)
      : client_(client), options_(std::move(options)) {}
  ~InformerFactoryImpl() override { Stop(); }

  client::SharedInformer* For(const client::ResourceRef& ref) override {
    std::lock_guard l(mu_);
    std::string key = ref.group + "/" + ref.version + "/" + ref.resource;
    auto it = informers_.find(key);
    if (it != informers_.end()) return it->second.informer.get();
    client::InformerOptions opts = options_;
    opts.name = ref.QualifiedResource();
    Entry e;
    e.informer = std::make_unique<client::SharedInformer>(client::NewListerWatcher(client_, ref),
                                                          std::move(opts));
    auto* out = e.informer.get();
    informers_.emplace(key, std::move(e));
    return out;
  }

  void Start() override {
    std::lock_guard l(mu_);
    if (stopped_) return;
    for (auto& [key, e] : informers_) {
      if (e.started) continue;
      e.started = true;
      e.informer->Start();
    }
  }

  bool WaitForCacheSync(std::chrono::milliseconds timeout) override {
    std::vector<client::SharedInformer*> started;
    {
      std::lock_guard l(mu_);
      for (auto& [key, e] : informers_) {
        if (e.started) started.push_back(e.informer.get());
      }
    }
    return client::WaitForCacheSync(started, timeout);
  }

  void Stop() override {
    std::vector<client::SharedInformer*> all;
    {
      std::lock_guard l(mu_);
      stopped_ = true;
      for (auto& [key, e] : informers_) all.push_back(e.informer.get());
    }
    for (auto* i : all) i->Stop();
  }

 private:
  struct Entry {
    std::unique_ptr<client::SharedInformer> informer;
    bool started = false;
  };
  client::Client& client_;
  const client::InformerOptions options_;
  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, Entry> informers_;
};

}  // namespace

std::unique_ptr<InformerFactory> NewInformerFactory(client::Client& client,
                                                    client::InformerOptions options) {
  return std::make_unique<InformerFactoryImpl>(client, std::move(options));
}

}  // namespace korral::controllers
