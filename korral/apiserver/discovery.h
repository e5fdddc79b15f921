// korral/apiserver/discovery.h: API discovery documents built from the resource registry:
// legacy (/api, /api/v1, /apis, /apis/G, /apis/G/V) and aggregated (apidiscovery.k8s.io v2 and
// v2beta1). Built once; the returned strings are immutable.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace korral::apiserver {

struct DiscoveryDocuments;

// The documents for a server reachable at `server_address` ("host:port").
class Discovery {
 public:
  explicit Discovery(std::string server_address);
  ~Discovery();

  const std::string& ApiVersions() const;   // /api (APIVersions)
  const std::string& ApiGroupList() const;  // /apis (APIGroupList)
  // /apis/<group> (APIGroup); nullptr if unknown.
  const std::string* ApiGroup(std::string_view group) const;
  // /api/v1 or /apis/<g>/<v> (APIResourceList); nullptr if unknown.
  const std::string* ResourceList(std::string_view group, std::string_view version) const;
  // Aggregated discovery for /api (legacy=true) or /apis; `version` is "v2" or "v2beta1".
  const std::string& Aggregated(bool legacy, std::string_view version) const;

 private:
  std::unique_ptr<DiscoveryDocuments> docs_;
};

}  // namespace korral::apiserver
