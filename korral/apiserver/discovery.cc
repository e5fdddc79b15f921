#include "korral/apiserver/discovery.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apiserver/metrics_api.h"
#include "korral/apiserver/security/review_types.h"

namespace korral::apiserver {

using Json = nlohmann::json;

struct DiscoveryDocuments {
  std::string api_versions;
  std::string group_list;
  std::map<std::string, std::string, std::less<>> groups;
  std::map<std::string, std::string, std::less<>> resource_lists;  // "g/v" or "v1"
  std::string aggregated_legacy_v2, aggregated_legacy_v2beta1;
  std::string aggregated_v2, aggregated_v2beta1;
};

namespace {

Json LegacyResource(const api::ResourceType& t) {
  Json r = {{"name", t.resource},
            {"singularName", t.singular},
            {"namespaced", t.namespaced},
            {"kind", t.gvk.kind},
            {"verbs", t.verbs}};
  if (!t.short_names.empty()) r["shortNames"] = t.short_names;
  if (!t.categories.empty()) r["categories"] = t.categories;
  return r;
}

Json LegacySubresource(const api::ResourceType& t, const api::Subresource& s) {
  Json r = {{"name", t.resource + "/" + s.name},
            {"singularName", ""},
            {"namespaced", t.namespaced},
            {"kind", s.kind.kind},
            {"verbs", s.verbs}};
  if (s.kind.group != t.gvk.group || s.kind.version != t.gvk.version) {
    r["group"] = s.kind.group;
    r["version"] = s.kind.version;
  }
  return r;
}

Json AggregatedResource(const api::ResourceType& t) {
  Json r = {
      {"resource", t.resource},
      {"responseKind", {{"group", t.gvk.group}, {"version", t.gvk.version}, {"kind", t.gvk.kind}}},
      {"scope", t.namespaced ? "Namespaced" : "Cluster"},
      {"singularResource", t.singular},
      {"verbs", t.verbs}};
  if (!t.short_names.empty()) r["shortNames"] = t.short_names;
  if (!t.categories.empty()) r["categories"] = t.categories;
  if (!t.subresources.empty()) {
    Json subs = Json::array();
    for (const auto& s : t.subresources) {
      subs.push_back(
          {{"subresource", s.name},
           {"responseKind",
            {{"group", s.kind.group}, {"version", s.kind.version}, {"kind", s.kind.kind}}},
           {"verbs", s.verbs}});
    }
    r["subresources"] = subs;
  }
  return r;
}

std::string WithApiVersion(Json doc, std::string_view api_version) {
  doc["apiVersion"] = api_version;
  return doc.dump();
}

}  // namespace

Discovery::Discovery(std::string server_address) : docs_(std::make_unique<DiscoveryDocuments>()) {
  // Group -> versions (in order) -> resource types.
  std::vector<std::string> group_order;
  std::map<std::string, std::vector<std::string>> versions;
  std::map<std::pair<std::string, std::string>, std::vector<const api::ResourceType*>> by_gv;
  std::vector<const api::ResourceType*> all;
  for (const auto& t : api::AllResourceTypes()) all.push_back(&t);
  for (const auto& t : MetricsApi::ResourceTypes()) all.push_back(&t);  // metrics.k8s.io
  // authentication.k8s.io / authorization.k8s.io reviews (served by the security pipeline).
  for (const auto& t : security::ReviewResourceTypes()) all.push_back(&t);
  for (const auto* tp : all) {
    const api::ResourceType& t = *tp;
    const std::string& g = t.gvk.group;
    if (!versions.count(g)) group_order.push_back(g);
    auto& vs = versions[g];
    if (std::find(vs.begin(), vs.end(), t.gvk.version) == vs.end()) vs.push_back(t.gvk.version);
    by_gv[{g, t.gvk.version}].push_back(&t);
  }

  docs_->api_versions =
      Json{{"kind", "APIVersions"},
           {"versions", versions[""]},
           {"serverAddressByClientCIDRs",
            Json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}})}}
          .dump();

  Json group_list = {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", Json::array()}};
  Json agg_legacy = {
      {"kind", "APIGroupDiscoveryList"}, {"metadata", Json::object()}, {"items", Json::array()}};
  Json agg = agg_legacy;
  for (const auto& g : group_order) {
    Json group_versions = Json::array();
    Json agg_versions = Json::array();
    for (const auto& v : versions[g]) {
      std::string gv = g.empty() ? v : g + "/" + v;
      group_versions.push_back({{"groupVersion", gv}, {"version", v}});
      Json resources = Json::array();
      Json agg_resources = Json::array();
      for (const auto* t : by_gv[{g, v}]) {
        resources.push_back(LegacyResource(*t));
        for (const auto& s : t->subresources) resources.push_back(LegacySubresource(*t, s));
        agg_resources.push_back(AggregatedResource(*t));
      }
      docs_->resource_lists[gv] = Json{
          {"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", gv},
          {"resources", resources}}.dump();
      agg_versions.push_back(
          {{"version", v}, {"resources", agg_resources}, {"freshness", "Current"}});
    }
    Json agg_item = {{"metadata", {{"name", g}, {"creationTimestamp", nullptr}}},
                     {"versions", agg_versions}};
    if (g.empty()) {
      agg_legacy["items"].push_back(agg_item);
      continue;
    }
    Json group = {
        {"name", g}, {"versions", group_versions}, {"preferredVersion", group_versions[0]}};
    group_list["groups"].push_back(group);
    Json single = group;
    single["kind"] = "APIGroup";
    single["apiVersion"] = "v1";
    docs_->groups[g] = single.dump();
    agg["items"].push_back(agg_item);
  }
  docs_->group_list = group_list.dump();
  docs_->aggregated_legacy_v2 = WithApiVersion(agg_legacy, "apidiscovery.k8s.io/v2");
  docs_->aggregated_legacy_v2beta1 = WithApiVersion(agg_legacy, "apidiscovery.k8s.io/v2beta1");
  docs_->aggregated_v2 = WithApiVersion(agg, "apidiscovery.k8s.io/v2");
  docs_->aggregated_v2beta1 = WithApiVersion(agg, "apidiscovery.k8s.io/v2beta1");
}

Discovery::~Discovery() = default;

const std::string& Discovery::ApiVersions() const { return docs_->api_versions; }
const std::string& Discovery::ApiGroupList() const { return docs_->group_list; }

const std::string* Discovery::ApiGroup(std::string_view group) const {
  auto it = docs_->groups.find(group);
  return it == docs_->groups.end() ? nullptr : &it->second;
}

const std::string* Discovery::ResourceList(std::string_view group, std::string_view version) const {
  std::string gv =
      group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  auto it = docs_->resource_lists.find(gv);
  return it == docs_->resource_lists.end() ? nullptr : &it->second;
}

const std::string& Discovery::Aggregated(bool legacy, std::string_view version) const {
  if (legacy)
    return version == "v2" ? docs_->aggregated_legacy_v2 : docs_->aggregated_legacy_v2beta1;
  return version == "v2" ? docs_->aggregated_v2 : docs_->aggregated_v2beta1;
}

}  // namespace korral::apiserver
