// korral/client/rest.h: the HTTPS client for the Kubernetes REST API (client-go's rest.Client
// plus the dynamic client).
//
// HTTP/1.1 over TLS (Boost.Beast + OpenSSL; plain http:// hosts work too), with a keep-alive
// connection pool, server verification against RestConfig::ca_pem (or the system roots) including
// the hostname/IP check (tls_server_name overrides the name; SNI is sent for DNS names), client
// certificates, bearer tokens and a client-side token bucket (qps/burst) that every request,
// watches included, passes through. A request that fails on a reused keep-alive connection
// before any response arrived is retried once on a fresh connection.
//
// Watches use their own connection: the chunked body is read incrementally and each
// newline-delimited JSON event is handed to the callback as it arrives. An ERROR event ends the
// watch with the Status it carries (410 -> OutOfRange, reason "Expired"/"Gone").
//
// Thread-safe. Destroying the client while watches are running is not allowed (stop them first).
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(RestConfig cfg, LoadKubeconfig(path));
//   KORRAL_ASSIGN_OR_RETURN(std::unique_ptr<RestClient> client, RestClient::New(cfg));
//   auto nodes = client->List(resources::Nodes(), "");
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "korral/client/client.h"
#include "korral/client/kubeconfig.h"

namespace korral::client {

class RestClient : public Client {
 public:
  // Validates the config (host URL, TLS material). Does not connect.
  static absl::StatusOr<std::unique_ptr<RestClient>> New(RestConfig config);
  ~RestClient() override;

  absl::StatusOr<Json> Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                           std::string_view subresource = "") override;
  absl::StatusOr<Json> List(const ResourceRef& ref, std::string_view ns,
                            const ListOptions& options = {}) override;
  absl::StatusOr<Json> Create(const ResourceRef& ref, std::string_view ns, const Json& object,
                              std::string_view subresource = "") override;
  absl::StatusOr<Json> Update(const ResourceRef& ref, std::string_view ns, const Json& object,
                              std::string_view subresource = "") override;
  absl::StatusOr<Json> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             PatchType type, const Json& patch,
                             const PatchOptions& options = {}) override;
  absl::StatusOr<Json> Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                              const Json& delete_options = nullptr) override;
  absl::StatusOr<WatchHandlePtr> Watch(const ResourceRef& ref, std::string_view ns,
                                       const WatchOptions& options, WatchEventCallback on_event,
                                       WatchDoneCallback on_done) override;

  struct RawResponse {
    int status = 0;
    std::string content_type;
    std::string body;
    int retry_after_seconds = -1;  // the Retry-After header (seconds form), -1 if absent
  };
  // One request on `target` (path + query, e.g. "/version"). Returns the response whatever its
  // status; an error only for transport failures (Unavailable, DeadlineExceeded).
  absl::StatusOr<RawResponse> Do(std::string_view method, std::string_view target,
                                 std::string_view body = "",
                                 std::string_view content_type = "application/json");
  // Do, then: 2xx -> the parsed JSON body; otherwise the Status error (see errors.h).
  absl::StatusOr<Json> DoJson(std::string_view method, std::string_view target,
                              std::string_view body = "",
                              std::string_view content_type = "application/json");

  // Connections opened so far (for tests and metrics).
  int connections_opened() const;

  struct Impl;

 private:
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value.
std::string QueryEscape(std::string_view s);

}  // namespace korral::client
