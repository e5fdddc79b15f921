// korral/controllers/discovery.cc
#include "korral/controllers/discovery.h"

#include <algorithm>
#include <set>

#include "korral/api/resource.h"
#include "korral/base/status.h"
#include "korral/client/rest.h"

namespace korral::controllers {

bool ApiResource::HasVerb(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

namespace {

// Appends the top-level resources of one APIResourceList.
void AddResources(const client::Json& list, const std::string& group, const std::string& version,
                  std::vector<ApiResource>* out) {
  if (!list.contains("resources") || !list["resources"].is_array()) return;
  for (const auto& r : list["resources"]) {
    std::string name = r.value("name", "");
    if (name.empty() || name.find('/') != std::string::npos) continue;  // subresource
    ApiResource a;
    a.ref = {group, version, name, r.value("namespaced", false)};
    a.kind = r.value("kind", "");
    if (r.contains("verbs") && r["verbs"].is_array()) {
      for (const auto& v : r["verbs"]) {
        if (v.is_string()) a.verbs.push_back(v.get<std::string>());
      }
    }
    out->push_back(std::move(a));
  }
}

class RestDiscovery : public Discovery {
 public:
  explicit RestDiscovery(client::RestClient& client) : client_(client) {}

  absl::StatusOr<std::vector<ApiResource>> ServerPreferredResources() override {
    std::vector<ApiResource> out;
    KORRAL_ASSIGN_OR_RETURN(client::Json core, client_.DoJson("GET", "/api/v1"));
    AddResources(core, "", "v1", &out);
    KORRAL_ASSIGN_OR_RETURN(client::Json groups, client_.DoJson("GET", "/apis"));
    if (groups.contains("groups") && groups["groups"].is_array()) {
      for (const auto& g : groups["groups"]) {
        std::string name = g.value("name", "");
        std::string version;
        if (g.contains("preferredVersion") && g["preferredVersion"].is_object()) {
          version = g["preferredVersion"].value("version", "");
        }
        if (version.empty() && g.contains("versions") && g["versions"].is_array() &&
            !g["versions"].empty()) {
          version = g["versions"][0].value("version", "");
        }
        if (name.empty() || version.empty()) continue;
        KORRAL_ASSIGN_OR_RETURN(client::Json list,
                                client_.DoJson("GET", "/apis/" + name + "/" + version));
        AddResources(list, name, version, &out);
      }
    }
    return out;
  }

 private:
  client::RestClient& client_;
};

}  // namespace

std::unique_ptr<Discovery> NewRestDiscovery(client::RestClient& client) {
  return std::make_unique<RestDiscovery>(client);
}

StaticDiscovery::StaticDiscovery(std::vector<ApiResource> resources)
    : resources_(std::move(resources)) {}

absl::StatusOr<std::vector<ApiResource>> StaticDiscovery::ServerPreferredResources() {
  std::lock_guard l(mu_);
  if (!error_.ok()) return error_;
  return resources_;
}

void StaticDiscovery::SetResources(std::vector<ApiResource> resources) {
  std::lock_guard l(mu_);
  resources_ = std::move(resources);
}

void StaticDiscovery::SetError(absl::Status status) {
  std::lock_guard l(mu_);
  error_ = std::move(status);
}

std::vector<ApiResource> BuiltinResources() {
  std::vector<ApiResource> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& t : api::AllResourceTypes()) {
    if (!seen.insert({t.gvk.group, t.resource}).second) continue;
    ApiResource a;
    a.ref = {t.gvk.group, t.gvk.version, t.resource, t.namespaced};
    a.kind = t.gvk.kind;
    a.verbs = t.verbs;
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace korral::controllers
