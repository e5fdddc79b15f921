// korral/controllers/controller.h: the seam between kube-controller-manager and each
// controller (upstream: cmd/kube-controller-manager/app, one InitFunc per controller).
//
// Every controller follows the upstream pattern: shared informers feed object keys into a
// rate-limited work queue; `workers` threads reconcile one key at a time, level-triggered and
// idempotent, talking only to the API through `ControllerContext::client`.
//
// Contract:
//   - A ControllerFactory builds the controller and registers its informer event handlers with
//     `ctx.informers`; it must not start threads. The manager starts every informer, waits for
//     their caches to sync, then calls Run on every controller.
//   - Run(workers) starts the controller's threads and returns; Stop() shuts the queues down and
//     joins every thread the controller started. Stop is called once, after Run.
//   - Every time-based behaviour reads time from `ctx.clock` (a FakeClock in tests).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/base/clock.h"
#include "korral/client/client.h"
#include "korral/client/informer.h"

namespace korral::controllers {

class Discovery;  // discovery.h: the resources the server serves

// One SharedInformer per resource (all namespaces, no selectors), shared by every controller
// that asks for it (upstream: SharedInformerFactory). Thread-safe.
class InformerFactory {
 public:
  virtual ~InformerFactory() = default;
  // Returns the informer for `ref`, creating it (not started) on first use. The pointer stays
  // valid for the factory's lifetime.
  virtual client::SharedInformer* For(const client::ResourceRef& ref) = 0;
  // A metadata informer (upstream: metadatainformer, PartialObjectMetadata): its objects carry
  // only apiVersion, kind and metadata. Shares the full informer when some controller asks for
  // `ref` with For before the informers start (as upstream's garbage collector reuses the typed
  // informers), so each resource is watched once. The default returns For(ref).
  virtual client::SharedInformer* ForMetadata(const client::ResourceRef& ref) { return For(ref); }
  // Starts every informer created so far that is not started yet.
  virtual void Start() = 0;
  // Waits until every started informer has synced; false on timeout.
  virtual bool WaitForCacheSync(std::chrono::milliseconds timeout) = 0;
  // Stops every informer.
  virtual void Stop() = 0;
};

// Creates an InformerFactory that lists and watches through `client` (must outlive it).
// `options.transform` (if any) applies to every full informer; metadata informers apply
// client::ToObjectMetadata. The pod informer caches pods packed, with a PodSummary per pod
// (pod_summary.h): read many pods through PodSummariesByIndex / ListPodSummaries, and
// Get / ByIndex (a decode each) only the ones you act on.
std::unique_ptr<InformerFactory> NewInformerFactory(client::Client& client,
                                                    client::InformerOptions options = {});

// The controller manager's cache transform (upstream strips managedFields from every cached
// object). korral also drops the pod fields no controller reads (the service account token
// volume and other volumes except persistentVolumeClaims, volumeMounts, termination message
// settings, imagePullPolicy, dnsPolicy, enableServiceLinks, preemptionPolicy, schedulerName, an
// empty securityContext, serviceAccountName and the deprecated serviceAccount, priority,
// metadata.generateName, status.qosClass): pods dominate the cache. Cached pods are never
// written back whole (status updates ignore spec and keep managedFields). A controller that starts
// reading one of these fields must remove it from the list in informer_factory.cc.
void CompactCachedObject(client::Json& object);

// Settings shared by the controllers (upstream flag names in comments).
struct ControllerOptions {
  int concurrent_workers = 2;                          // --concurrent-*-syncs (one value for all)
  int terminated_pod_gc_threshold = 12500;             // --terminated-pod-gc-threshold
  std::chrono::seconds event_ttl{3600};                // --event-ttl
  std::chrono::seconds node_monitor_grace_period{40};  // --node-monitor-grace-period
  std::chrono::seconds node_monitor_period{5};         // --node-monitor-period
  std::string cluster_cidr = "10.244.0.0/16";          // --cluster-cidr
  int node_cidr_mask_size = 24;                        // --node-cidr-mask-size
  bool allocate_node_cidrs = true;                     // --allocate-node-cidrs
  std::string root_ca_file;                            // --root-ca-file (kube-root-ca.crt data)
  std::string root_ca_pem;  // the bundle itself (wins over root_ca_file; from the kubeconfig)
  // Node lifecycle (upstream flag names).
  double node_eviction_rate = 0.1;             // --node-eviction-rate (nodes/s per healthy zone)
  double secondary_node_eviction_rate = 0.01;  // --secondary-node-eviction-rate
  double unhealthy_zone_threshold = 0.55;      // --unhealthy-zone-threshold
  int large_cluster_size_threshold = 50;       // --large-cluster-size-threshold
  std::chrono::seconds node_startup_grace_period{60};  // --node-startup-grace-period
  // Resource quota / namespace / GC resync (upstream: --resource-quota-sync-period 5m,
  // --namespace-sync-period 5m; discovery is re-read this often by GC and quota too).
  std::chrono::seconds resource_quota_sync_period{300};
  std::chrono::seconds namespace_sync_period{300};
  std::chrono::seconds discovery_period{30};
  // certificates.k8s.io signing (csrsigning): the CA that signs approved CSRs of the
  // kubernetes.io signers; without both files the signing controller does not start.
  std::string cluster_signing_cert_file;                    // --cluster-signing-cert-file
  std::string cluster_signing_key_file;                     // --cluster-signing-key-file
  std::chrono::seconds cluster_signing_duration{31536000};  // --cluster-signing-duration (1y)
};

struct ControllerContext {
  client::Client* client = nullptr;  // talks to the API with the manager's identity
  InformerFactory* informers = nullptr;
  Clock* clock = nullptr;
  ControllerOptions options;
  // The server's resources (namespace, garbage collector, resource quota). May be null in
  // tests of controllers that do not need it.
  Discovery* discovery = nullptr;
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::string_view Name() const = 0;
  virtual void Run(int workers) = 0;
  virtual void Stop() = 0;
};

using ControllerFactory =
    std::function<absl::StatusOr<std::unique_ptr<Controller>>(ControllerContext& ctx)>;

struct ControllerDescriptor {
  // Upstream's controller name, e.g. "namespace-controller", "garbage-collector-controller".
  // --controllers matches names loosely: "namespace", "namespace-controller" and
  // "garbagecollector" / "garbage-collector" all name what they look like (see manager.h).
  std::string name;
  ControllerFactory factory;
  bool enabled_by_default = true;
  // Other names accepted by --controllers (upstream's pre-1.28 short names, e.g. "podgc").
  std::vector<std::string> aliases;
};

// Every controller korral has, in start order (upstream: NewControllerDescriptors). Defined in
// registry.cc, which lists each controller's descriptor function.
std::vector<ControllerDescriptor> AllControllers();

}  // namespace korral::controllers
