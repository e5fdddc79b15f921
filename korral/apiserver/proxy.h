// korral/apiserver/proxy.h: the apiserver side of pods/log, pods/exec, pods/attach,
// pods/portforward and nodes/proxy: validates the request against the stored Pod/Node and
// proxies it to the node's kubelet server over TLS (upstream pkg/registry/core/pod/rest and
// node/rest, with the upgrade-aware proxy of k8s.io/apimachinery/pkg/util/proxy).
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

 private:
  Store* store_;
  KubeletClientOptions options_;
};

}  // namespace korral::apiserver
