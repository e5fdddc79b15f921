// korral/apiserver/proxy.h: the apiserver side of pods/log, pods/exec, pods/attach,
// pods/portforward and nodes/proxy (and pods/proxy, services/proxy, which go to pod IPs): validates
// the request against the stored Pod/Node and proxies it to the node's kubelet server over TLS
// (upstream pkg/registry/core/pod/rest and node/rest, with the upgrade-aware proxy of
// k8s.io/apimachinery/pkg/util/proxy).
//
// The kubelet is found at the Node's status.addresses (InternalIP, then Hostname, ExternalIP)
// and status.daemonEndpoints.kubeletEndpoint.Port (10250 when unset). Upgrades (WebSocket,
// SPDY) are spliced byte for byte after the kubelet answered 101, so every protocol the kubelet
// speaks reaches the client unchanged; plain replies (logs, follow) are streamed.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "korral/apiserver/http/server.h"

namespace korral::apiserver {

class Store;

struct KubeletClientOptions {
  // CA that must have signed the kubelet's serving certificate; empty: not verified (as
  // kube-apiserver without --kubelet-certificate-authority).
  std::string ca_pem;
  // The apiserver's client identity towards kubelets.
  std::string cert_pem;
  std::string key_pem;
  std::chrono::milliseconds dial_timeout{std::chrono::seconds(10)};
};

class NodeProxy {
 public:
  NodeProxy(Store* store, KubeletClientOptions options);

  // /api/v1/namespaces/{ns}/pods/{name}/{log|exec|attach|portforward}
  http::Response PodSubresource(http::Request& request, const std::string& ns,
                                const std::string& name, const std::string& subresource);
  // /api/v1/nodes/{name}/proxy[/{path}]
  http::Response NodeProxyRequest(http::Request& request, const std::string& node,
                                  const std::string& path);

  // True if `path` is /api/v1/nodes/{name}/proxy[/...]; sets *node and *rest ("/..." or "/").
  static bool ParseNodeProxyPath(std::string_view path, std::string* node, std::string* rest);

  // /api/v1/namespaces/{ns}/{pods|services}/{[scheme:]name[:port]}/proxy[/{path}]: plain HTTP
  // (or https with the "https:" prefix) to the pod IP or to an address of the Service's
  // Endpoints that is a pod with that IP (upstream's pods/proxy and services/proxy).
  // Link-local, loopback and other non-global-unicast addresses are refused ("address not
  // allowed"); KORRAL_ALLOW_LOOPBACK_PROXY=1 in the environment allows loopback (tests).
  // `rest` is "" for ".../proxy" (redirected to ".../proxy/") or "/...".
  http::Response ResourceProxyRequest(http::Request& request, const std::string& resource,
                                      const std::string& ns, const std::string& id,
                                      const std::string& rest);
  static bool ParseResourceProxyPath(std::string_view path, std::string* resource, std::string* ns,
                                     std::string* id, std::string* rest);

 private:
  Store* store_;
  KubeletClientOptions options_;
};

}  // namespace korral::apiserver
