// korral/controllers/manager.cc
#include "korral/controllers/manager.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::controllers {

std::string NormalizeControllerName(std::string_view name) {
  std::string s;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  constexpr std::string_view kSuffix = "controller";
  if (s.size() > kSuffix.size() && s.ends_with(kSuffix)) s.resize(s.size() - kSuffix.size());
  static const std::map<std::string, std::string> kAliases = {
      {"endpoint", "endpoints"},
      {"rootcacertpublisher", "rootcacertificatepublisher"},
      {"podgc", "podgarbagecollector"},
      {"podgarbagecollection", "podgarbagecollector"},
      {"garbagecollection", "garbagecollector"},
      {"tokencleaner", "tokencleaner"},
      {"ttlafterfinished", "ttlafterfinished"},
      {"ttl", "ttl"},
  };
  if (auto it = kAliases.find(s); it != kAliases.end()) return it->second;
  return s;
}

namespace {
bool Matches(const ControllerDescriptor& d, const std::string& normalized) {
  if (NormalizeControllerName(d.name) == normalized) return true;
  for (const auto& a : d.aliases) {
    if (NormalizeControllerName(a) == normalized) return true;
  }
  return false;
}
}  // namespace

bool IsControllerEnabled(const ControllerDescriptor& d,
                         const std::vector<std::string>& controllers) {
  bool star = false;
  for (const auto& c : controllers) {
    if (c == "*") {
      star = true;
      continue;
    }
    if (!c.empty() && c[0] == '-') {
      if (Matches(d, NormalizeControllerName(c.substr(1)))) return false;
      continue;
    }
    if (Matches(d, NormalizeControllerName(c))) return true;
  }
  return star && d.enabled_by_default;
}

absl::Status ValidateControllersFlag(const std::vector<std::string>& controllers,
                                     const std::vector<ControllerDescriptor>& descriptors) {
  for (const auto& c : controllers) {
    if (c == "*" || c.empty()) continue;
    std::string n = NormalizeControllerName(c[0] == '-' ? c.substr(1) : c);
    bool known = std::any_of(descriptors.begin(), descriptors.end(),
                             [&](const ControllerDescriptor& d) { return Matches(d, n); });
    if (!known) {
      std::string names;
      for (const auto& d : descriptors) names += (names.empty() ? "" : ", ") + d.name;
      return absl::InvalidArgumentError(absl::string_view(
          "\"" + c + "\" is not in the list of known controllers (" + names + ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ControllerManager>> ControllerManager::Start(
    client::Client& client, Discovery* discovery, ManagerConfig config,
    std::vector<ControllerDescriptor> descriptors) {
  KORRAL_RETURN_IF_ERROR(ValidateControllersFlag(config.controllers, descriptors));
  std::unique_ptr<ControllerManager> m(new ControllerManager());
  // Upstream's kube-controller-manager strips managedFields from every cached object.
  if (!config.informer_options.transform) config.informer_options.transform = CompactCachedObject;
  m->informers_ = NewInformerFactory(client, config.informer_options);
  m->ctx_.client = &client;
  m->ctx_.informers = m->informers_.get();
  m->ctx_.clock = config.clock != nullptr ? config.clock : &Clock::Real();
  m->ctx_.options = config.options;
  m->ctx_.discovery = discovery;
  for (auto& d : descriptors) {
    if (!IsControllerEnabled(d, config.controllers)) {
      KLOG(Info, "controller {} is disabled", d.name);
      continue;
    }
    ControllerContext* ctx = &m->ctx_;
    if (std::string_view sa = ServiceAccountFor(d.name);
        config.service_account_clients != nullptr && !sa.empty()) {
      auto sa_client = config.service_account_clients->ClientFor(std::string(sa));
      if (!sa_client.ok()) {
        m->Stop();
        return absl::Status(
            sa_client.status().code(),
            absl::string_view("credentials of " + d.name + " (service account " + std::string(sa) +
                              "): " + std::string(StatusMessage(sa_client.status()))));
      }
      ctx = &m->controller_contexts_.emplace_back(m->ctx_);
      ctx->client = *sa_client;
    }
    auto c = d.factory(*ctx);
    if (!c.ok()) {
      m->Stop();
      return absl::Status(
          c.status().code(),
          absl::string_view("starting " + d.name + ": " + std::string(StatusMessage(c.status()))));
    }
    if (*c) m->controllers_.push_back(std::move(*c));
  }
  m->informers_->Start();
  if (!m->informers_->WaitForCacheSync(config.cache_sync_timeout)) {
    m->Stop();
    return absl::DeadlineExceededError("timed out waiting for the informer caches to sync");
  }
  m->ran_ = true;
  for (auto& c : m->controllers_) {
    KLOG(Info, "starting {}", c->Name());
    c->Run(std::max(1, config.options.concurrent_workers));
  }
  return m;
}

ControllerManager::~ControllerManager() { Stop(); }

void ControllerManager::Stop() {
  {
    std::lock_guard l(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  // Controllers first (reverse start order), so no worker reads a stopping informer.
  if (ran_) {
    for (auto it = controllers_.rbegin(); it != controllers_.rend(); ++it) (*it)->Stop();
  }
  if (informers_) informers_->Stop();
  // Controllers that never ran (a later one failed to build) are only destroyed.
  while (!controllers_.empty()) controllers_.pop_back();
}

std::vector<std::string> ControllerManager::Running() const {
  std::vector<std::string> out;
  for (const auto& c : controllers_) out.emplace_back(c->Name());
  return out;
}

}  // namespace korral::controllers
