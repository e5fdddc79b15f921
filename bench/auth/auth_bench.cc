// auth_bench: the cost of one authentication + authorization decision as the apiserver makes
// it (authenticate the request, derive its attributes, run the authorizer chain
// system:masters -> Node -> RBAC) against an RBAC index of --roles roles and --bindings
// bindings (default 1,000 and 10,000), for allowed and denied requests, plus the cost of
// rebuilding the index.
//
// Usage: auth_bench [--roles=1000] [--bindings=10000] [--iterations=200000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apiserver/authn/authn.h"
#include "korral/apiserver/authz/node.h"
#include "korral/apiserver/authz/rbac.h"
#include "korral/apiserver/http/server.h"
#include "korral/apiserver/rbac_bootstrap.h"
#include "korral/apiserver/security/context.h"

using Json = nlohmann::json;
using namespace korral::apiserver;

namespace {

int Flag(int argc, char** argv, const char* name, int def) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0)
      return std::atoi(argv[i] + prefix.size());
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  int roles = Flag(argc, argv, "roles", 1000);
  int bindings = Flag(argc, argv, "bindings", 10000);
  int iterations = Flag(argc, argv, "iterations", 200000);
  const int kNamespaces = 100, kUsers = 2000, kGroups = 200;
  static const char* kResources[] = {"pods", "services", "configmaps", "secrets",     "deployments",
                                     "jobs", "events",   "endpoints",  "replicasets", "leases"};
  static const char* kVerbs[] = {"get", "list", "watch", "create", "update", "patch", "delete"};
  std::mt19937 rng(42);
  authz::RbacIndex::Objects objs;
  objs.cluster_roles = DefaultBootstrapPolicy().cluster_roles;
  objs.cluster_role_bindings = DefaultBootstrapPolicy().cluster_role_bindings;
  for (int i = 0; i < roles; ++i) {
    Json rules = Json::array();
    for (int r = 0; r < 4; ++r) {
      rules.push_back({{"verbs", {kVerbs[rng() % 7], kVerbs[rng() % 7]}},
                       {"apiGroups", {r % 2 ? "apps" : ""}},
                       {"resources", {kResources[rng() % 10], kResources[rng() % 10]}}});
    }
    objs.roles.push_back({{"metadata",
                           {{"name", "role-" + std::to_string(i)},
                            {"namespace", "ns-" + std::to_string(i % kNamespaces)}}},
                          {"rules", rules}});
  }
  for (int i = 0; i < bindings; ++i) {
    int role = static_cast<int>(rng() % static_cast<unsigned>(roles));
    bool group = i % 5 == 0;
    Json subject = {{"kind", group ? "Group" : "User"},
                    {"name", group ? "group-" + std::to_string(rng() % kGroups)
                                   : "user-" + std::to_string(rng() % kUsers)},
                    {"apiGroup", "rbac.authorization.k8s.io"}};
    objs.role_bindings.push_back({{"metadata",
                                   {{"name", "rb-" + std::to_string(i)},
                                    {"namespace", "ns-" + std::to_string(role % kNamespaces)}}},
                                  {"roleRef",
                                   {{"kind", "Role"},
                                    {"name", "role-" + std::to_string(role)},
                                    {"apiGroup", "rbac.authorization.k8s.io"}}},
                                  {"subjects", Json::array({subject})}});
  }
  auto t0 = std::chrono::steady_clock::now();
  auto index = authz::RbacIndex::Build(objs);
  double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  authz::RbacAuthorizer rbac;
  rbac.SetIndex(index);
  authz::NodeGraph graph;
  authz::NodeAuthorizer node(&graph);
  authz::PrivilegedGroupAuthorizer masters;
  authz::UnionAuthorizer chain({&masters, &node, &rbac});
  authn::AuthnConfig ac;
  auto authenticator = *authn::Authenticator::Create(ac);

  // Pre-built requests: a client certificate per user, a namespaced resource path.
  struct Req {
    korral::http::Request http;
  };
  std::vector<Req> reqs(4096);
  for (auto& r : reqs) {
    int u = static_cast<int>(rng() % kUsers);
    r.http.method = rng() % 3 ? "GET" : "POST";
    std::string ns = "ns-" + std::to_string(rng() % kNamespaces);
    std::string res = kResources[rng() % 10];
    r.http.path = "/api/v1/namespaces/" + ns + "/" + res;
    r.http.target = r.http.path;
    r.http.client_cert = korral::http::ClientCertificate{
        "user-" + std::to_string(u), {"group-" + std::to_string(rng() % kGroups)}};
  }
  long allowed = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    Req& r = reqs[static_cast<size_t>(i) & 4095];
    auto user = authenticator->Authenticate(r.http);
    authz::Attributes a = security::RequestAttributes(r.http);
    a.user = &*user;
    std::string reason;
    allowed += chain.Authorize(a, &reason) == authz::Decision::kAllow;
  }
  double ns_per =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      iterations;
  std::printf(
      "rbac index: %d roles, %d bindings (+%zu bootstrap roles), %zu grants, built in "
      "%.1f ms\n",
      roles, bindings, DefaultBootstrapPolicy().cluster_roles.size(), index->grant_count(),
      build_ms);
  std::printf(
      "authn(x509) + request attributes + authz(masters,Node,RBAC): %.0f ns/decision "
      "(%d decisions, %.1f%% allowed)\n",
      ns_per, iterations, 100.0 * static_cast<double>(allowed) / iterations);
  // Authorization alone, a denied request (worst case: scans every grant of the subject).
  authn::UserInfo nobody{"user-x", "", {"group-x", "system:authenticated"}, {}};
  authz::Attributes deny;
  deny.user = &nobody;
  deny.verb = "delete";
  deny.ns = "ns-1";
  deny.resource = "secrets";
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    std::string reason;
    allowed += chain.Authorize(deny, &reason) == authz::Decision::kAllow;
  }
  ns_per =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
      iterations;
  std::printf("authz only, denied request of an unbound user: %.0f ns/decision\n", ns_per);
  return 0;
}
