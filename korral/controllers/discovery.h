// korral/controllers/discovery.h: which resources the apiserver serves (client-go's discovery
// client, ServerPreferredResources), for controllers that act on every resource: the namespace
// controller, the garbage collector and resource quota.
//
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/client/client.h"

namespace korral::client {
class RestClient;
}

namespace korral::controllers {

struct ApiResource {
  client::ResourceRef ref;
  std::string kind;
  std::vector<std::string> verbs;
  bool HasVerb(std::string_view verb) const;
};

class Discovery {
 public:
  virtual ~Discovery() = default;
  // Every top-level resource (no subresources) at each group's preferred version.
  virtual absl::StatusOr<std::vector<ApiResource>> ServerPreferredResources() = 0;
};

// Reads /api/v1, /apis and /apis/<group>/<preferred version> through `client` (must outlive it).
std::unique_ptr<Discovery> NewRestDiscovery(client::RestClient& client);

// A fixed list (tests). SetResources/SetError change what later calls return.
class StaticDiscovery : public Discovery {
 public:
  explicit StaticDiscovery(std::vector<ApiResource> resources = {});
  absl::StatusOr<std::vector<ApiResource>> ServerPreferredResources() override;
  void SetResources(std::vector<ApiResource> resources);
  void SetError(absl::Status status);

 private:
  std::mutex mu_;
  std::vector<ApiResource> resources_;
  absl::Status error_;
};

// The built-in resources korral's apiserver serves (from korral/api's registry), with the verbs
// upstream reports; for tests and as a fallback.
std::vector<ApiResource> BuiltinResources();

}  // namespace korral::controllers
