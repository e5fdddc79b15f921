// Schema text: core/v1 kinds and the pod types (volume sources are in schema_data_volumes.cc).
// The language is described in schema_data.h. Descriptions are korral's own words.
#include "korral/api/schema/schema_data.h"

namespace korral::schema::internal {

const char kCoreSchemaText[] = R"SCHEMA(
in core

# ---------------------------------------------------------------- Namespace
T Namespace gvk=/v1/Namespace list | A scope for names; most objects live in exactly one namespace.
  spec NamespaceSpec | Desired behaviour of the namespace.
  status NamespaceStatus | Observed state of the namespace.
T NamespaceSpec | Desired behaviour of a namespace.
  finalizers []s A | Values that must be removed before the namespace is deleted.
T NamespaceStatus | Observed state of a namespace.
  conditions []NamespaceCondition M=type | Latest observations about the namespace.
  phase s | Active or Terminating.
T NamespaceCondition | One observation about a namespace.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause of the last change.
  status s req | True, False or Unknown.
  type s req | Condition type.

# ---------------------------------------------------------------- Pod
T Pod gvk=/v1/Pod list | A group of containers that run together on one node.
  spec PodSpec | Desired behaviour of the pod.
  status PodStatus | Most recently observed state of the pod; maintained by the system.

T PodTemplate gvk=/v1/PodTemplate list | A stored pod template that other objects can copy.
  template PodTemplateSpec | The template itself.

T PodTemplateSpec | Describes the pods to create from a template.
  metadata meta.ObjectMeta | Metadata given to each created pod.
  spec PodSpec | Spec given to each created pod.

T PodSpec | Desired behaviour of a pod.
  activeDeadlineSeconds i64 | Seconds the pod may run, counted from its start, before it is failed.
  affinity Affinity | Scheduling constraints relative to nodes and other pods.
  automountServiceAccountToken b | Whether to mount the service account token automatically.
  containers []Container req M=name | The containers of the pod; at least one is required.
  dnsConfig PodDNSConfig | Extra DNS settings merged into the generated resolver configuration.
  dnsPolicy s | ClusterFirst, ClusterFirstWithHostNet, Default or None.
  enableServiceLinks b | Whether service environment variables are injected into containers.
  ephemeralContainers []EphemeralContainer M=name | Temporary debugging containers added to a running pod.
  hostAliases []HostAlias M=ip | Extra entries for the pod's hosts file.
  hostIPC b | Use the host's IPC namespace.
  hostNetwork b | Use the host's network namespace.
  hostPID b | Use the host's PID namespace.
  hostUsers b | Use the host's user namespace; false asks for a private one.
  hostname s | Hostname of the pod; defaults to the pod name.
  imagePullSecrets []LocalObjectReference M=name | Secrets used to pull images from private registries.
  initContainers []Container M=name | Containers that run to completion, in order, before the main containers.
  nodeName s | Node the pod is bound to; setting it bypasses the scheduler.
  nodeSelector {}s mt=atomic | Labels a node must carry for the pod to fit there.
  os PodOS | Operating system the pod's containers need.
  overhead {}resource.Quantity | Resources used by the pod sandbox on top of its containers.
  preemptionPolicy s | Never or PreemptLowerPriority.
  priority i32 | Priority value, usually filled from the priority class.
  priorityClassName s | Name of the PriorityClass giving the pod its priority.
  readinessGates []PodReadinessGate A | Extra conditions that must be true for the pod to be ready.
  resourceClaims []PodResourceClaim M=name ps=merge,retainKeys | Dynamic resources the pod's containers may use.
  resources ResourceRequirements | Pod-level resource requests and limits shared by all containers.
  restartPolicy s | Always, OnFailure or Never.
  runtimeClassName s | RuntimeClass used to run the pod.
  schedulerName s | Scheduler responsible for the pod.
  schedulingGates []PodSchedulingGate M=name | Gates that hold the pod back from scheduling while present.
  securityContext PodSecurityContext | Security settings for the whole pod.
  serviceAccount s | Deprecated alias of serviceAccountName.
  serviceAccountName s | Service account the pod runs as.
  setHostnameAsFQDN b | Set the kernel hostname to the fully qualified domain name.
  shareProcessNamespace b | Share one PID namespace among all containers of the pod.
  subdomain s | Subdomain that, with hostname, forms the pod's DNS name.
  terminationGracePeriodSeconds i64 | Seconds allowed for graceful shutdown before processes are killed.
  tolerations []Toleration A | Taints the pod tolerates.
  topologySpreadConstraints []TopologySpreadConstraint M=topologyKey,whenUnsatisfiable | How pods are spread across topology domains.
  volumes []Volume M=name ps=merge,retainKeys | Volumes that containers of the pod may mount.

T Container | One container of a pod.
  args []s A | Arguments for the entrypoint; replaces the image's CMD.
  command []s A | Entrypoint array; replaces the image's ENTRYPOINT.
  env []EnvVar M=name | Environment variables to set.
  envFrom []EnvFromSource A | Sources whose keys become environment variables.
  image s | Container image reference.
  imagePullPolicy s | Always, Never or IfNotPresent.
  lifecycle Lifecycle | Hooks run after start and before stop.
  livenessProbe Probe | Check whose failure restarts the container.
  name s req | Name of the container, unique within the pod.
  ports []ContainerPort M=containerPort,protocol | Ports the container exposes; informational.
  readinessProbe Probe | Check that gates the container from receiving traffic.
  resizePolicy []ContainerResizePolicy A | How each resource may be resized in place.
  resources ResourceRequirements | Compute resources requested and limited.
  restartPolicy s | For init containers only: Always makes it a sidecar.
  securityContext SecurityContext | Security settings for this container.
  startupProbe Probe | Check that must succeed before other probes start.
  stdin b | Keep a stdin buffer open for the container.
  stdinOnce b | Close stdin after the first attached session ends.
  terminationMessagePath s | File whose content becomes the termination message.
  terminationMessagePolicy s | File or FallbackToLogsOnError.
  tty b | Allocate a terminal; needs stdin.
  volumeDevices []VolumeDevice M=devicePath | Raw block devices to expose.
  volumeMounts []VolumeMount M=mountPath | Volumes to mount into the filesystem.
  workingDir s | Working directory; defaults to the image's.

T EphemeralContainer | A temporary container added to a running pod for debugging.
  args []s A | Arguments for the entrypoint.
  command []s A | Entrypoint array.
  env []EnvVar M=name | Environment variables to set.
  envFrom []EnvFromSource A | Sources whose keys become environment variables.
  image s | Container image reference.
  imagePullPolicy s | Always, Never or IfNotPresent.
  lifecycle Lifecycle | Not allowed for ephemeral containers.
  livenessProbe Probe | Not allowed for ephemeral containers.
  name s req | Name of the container, unique within the pod.
  ports []ContainerPort M=containerPort,protocol | Not allowed for ephemeral containers.
  readinessProbe Probe | Not allowed for ephemeral containers.
  resizePolicy []ContainerResizePolicy A | Not allowed for ephemeral containers.
  resources ResourceRequirements | Not allowed for ephemeral containers.
  restartPolicy s | Not allowed for ephemeral containers.
  securityContext SecurityContext | Security settings for this container.
  startupProbe Probe | Not allowed for ephemeral containers.
  stdin b | Keep a stdin buffer open.
  stdinOnce b | Close stdin after the first session ends.
  targetContainerName s | Container whose namespaces this one joins.
  terminationMessagePath s | File whose content becomes the termination message.
  terminationMessagePolicy s | File or FallbackToLogsOnError.
  tty b | Allocate a terminal.
  volumeDevices []VolumeDevice M=devicePath | Raw block devices to expose.
  volumeMounts []VolumeMount M=mountPath | Volumes to mount; subPath is not allowed.
  workingDir s | Working directory.

T ContainerPort | A network port of a container.
  containerPort i32 req | Port number inside the container's network namespace.
  hostIP s | Host IP to bind the host port to.
  hostPort i32 | Port to expose on the host.
  name s | IANA service name for the port, unique within the pod.
  protocol s | TCP, UDP or SCTP.

T EnvVar | One environment variable.
  name s req | Variable name.
  value s | Literal value, with $(VAR) references expanded.
  valueFrom EnvVarSource | Where to read the value from instead.
T EnvVarSource | A source for an environment variable value.
  configMapKeyRef ConfigMapKeySelector | A key of a config map.
  fieldRef ObjectFieldSelector | A field of the pod.
  resourceFieldRef ResourceFieldSelector | A resource limit or request of a container.
  secretKeyRef SecretKeySelector | A key of a secret.
T ConfigMapKeySelector mt=atomic | Selects one key of a config map.
  key s req | Key to read.
  name s | Name of the config map.
  optional b | Whether a missing config map or key is tolerated.
T SecretKeySelector mt=atomic | Selects one key of a secret.
  key s req | Key to read.
  name s | Name of the secret.
  optional b | Whether a missing secret or key is tolerated.
T ObjectFieldSelector mt=atomic | Selects a field of an object.
  apiVersion s | Version the field path is written against.
  fieldPath s req | Path of the field to read.
T ResourceFieldSelector mt=atomic | Selects a container resource.
  containerName s | Container to read from; needed in volumes.
  divisor resource.Quantity | Unit the value is divided by.
  resource s req | Resource to read, such as limits.cpu.
T EnvFromSource | A set of variables taken from a config map or secret.
  configMapRef ConfigMapEnvSource | Config map to read.
  prefix s | Prefix prepended to every key.
  secretRef SecretEnvSource | Secret to read.
T ConfigMapEnvSource | A config map whose keys become environment variables.
  name s | Name of the config map.
  optional b | Whether a missing config map is tolerated.
T SecretEnvSource | A secret whose keys become environment variables.
  name s | Name of the secret.
  optional b | Whether a missing secret is tolerated.

T Lifecycle | Actions run at container lifecycle events.
  postStart LifecycleHandler | Runs right after the container is created.
  preStop LifecycleHandler | Runs before the container is terminated.
T LifecycleHandler | One lifecycle action; exactly one field is set.
  exec ExecAction | Run a command in the container.
  httpGet HTTPGetAction | Send an HTTP GET.
  sleep SleepAction | Pause for a while.
  tcpSocket TCPSocketAction | Deprecated; open a TCP connection.
T ExecAction | Runs a command inside the container.
  command []s A | Command line; not run in a shell.
T HTTPGetAction | An HTTP GET request.
  host s | Host to connect to; defaults to the pod IP.
  httpHeaders []HTTPHeader A | Extra request headers.
  path s | Path to request.
  port intstr.IntOrString req | Port number or name.
  scheme s | HTTP or HTTPS.
T HTTPHeader | One HTTP header.
  name s req | Header name.
  value s req | Header value.
T TCPSocketAction | Opens a TCP connection.
  host s | Host to connect to; defaults to the pod IP.
  port intstr.IntOrString req | Port number or name.
T SleepAction | Waits for a number of seconds.
  seconds i64 req | Seconds to wait.
T GRPCAction | A gRPC health check.
  port i32 req | Port number of the gRPC service.
  service s | Service name sent in the health check request.

T Probe | A periodic health check of a container.
  exec ExecAction | Run a command; exit code zero means healthy.
  failureThreshold i32 | Consecutive failures before the probe counts as failed.
  grpc GRPCAction | Call the gRPC health service.
  httpGet HTTPGetAction | Send an HTTP GET; a 2xx or 3xx answer means healthy.
  initialDelaySeconds i32 | Seconds after start before probing begins.
  periodSeconds i32 | Seconds between probes.
  successThreshold i32 | Consecutive successes before the probe counts as passing again.
  tcpSocket TCPSocketAction | Open a TCP connection.
  terminationGracePeriodSeconds i64 | Grace period used when a failing probe kills the container.
  timeoutSeconds i32 | Seconds before a single probe attempt times out.

T ResourceRequirements | Compute resources of a container or pod.
  claims []ResourceClaim lt=map lmk=name | Dynamic resource claims used by this container.
  limits {}resource.Quantity | Maximum amounts allowed.
  requests {}resource.Quantity | Minimum amounts required, used for scheduling.
T ResourceClaim | Refers to one of the pod's resource claims.
  name s req | Name of an entry in the pod's resourceClaims.
  request s | Single request within the claim, if only one is wanted.
T ContainerResizePolicy | How one resource may be resized in place.
  resourceName s req | cpu or memory.
  restartPolicy s req | NotRequired or RestartContainer.

T SecurityContext | Security settings of one container; they override the pod's.
  allowPrivilegeEscalation b | Whether a process can gain more privileges than its parent.
  appArmorProfile AppArmorProfile | AppArmor profile to apply.
  capabilities Capabilities | Linux capabilities to add or drop.
  privileged b | Run in privileged mode, like root on the host.
  procMount s | Default or Unmasked /proc mount.
  readOnlyRootFilesystem b | Mount the root filesystem read-only.
  runAsGroup i64 | GID for the container process.
  runAsNonRoot b | Refuse to start when the user would be root.
  runAsUser i64 | UID for the container process.
  seLinuxOptions SELinuxOptions | SELinux context to apply.
  seccompProfile SeccompProfile | Seccomp profile to apply.
  windowsOptions WindowsSecurityContextOptions | Windows-specific settings.
T Capabilities | Linux capabilities to change.
  add []s A | Capabilities to add.
  drop []s A | Capabilities to remove.
T SELinuxOptions | An SELinux context.
  level s | SELinux level.
  role s | SELinux role.
  type s | SELinux type.
  user s | SELinux user.
T SeccompProfile | A seccomp profile choice.
  localhostProfile s | Path of a profile file on the node, for type Localhost.
  type s req | Localhost, RuntimeDefault or Unconfined.
T AppArmorProfile | An AppArmor profile choice.
  localhostProfile s | Name of a profile loaded on the node, for type Localhost.
  type s req | Localhost, RuntimeDefault or Unconfined.
T WindowsSecurityContextOptions | Windows-specific security settings.
  gmsaCredentialSpec s | Content of the GMSA credential spec.
  gmsaCredentialSpecName s | Name of the GMSA credential spec to use.
  hostProcess b | Run as a Windows host process.
  runAsUserName s | Windows user name to run as.
T PodSecurityContext | Security settings applied to all containers of a pod.
  appArmorProfile AppArmorProfile | AppArmor profile to apply.
  fsGroup i64 | Supplemental group owning mounted volumes.
  fsGroupChangePolicy s | OnRootMismatch or Always.
  runAsGroup i64 | GID for container processes.
  runAsNonRoot b | Refuse to start containers that would run as root.
  runAsUser i64 | UID for container processes.
  seLinuxChangePolicy s | How the SELinux label is applied to volumes: Recursive or MountOption.
  seLinuxOptions SELinuxOptions | SELinux context to apply.
  seccompProfile SeccompProfile | Seccomp profile to apply.
  supplementalGroups []i64 A | Extra groups for the first process of each container.
  supplementalGroupsPolicy s | Merge or Strict handling of supplemental groups.
  sysctls []Sysctl A | Namespaced kernel parameters to set.
  windowsOptions WindowsSecurityContextOptions | Windows-specific settings.
T Sysctl | One kernel parameter.
  name s req | Parameter name.
  value s req | Parameter value.

T VolumeMount | Mounts a volume into a container.
  mountPath s req | Path inside the container.
  mountPropagation s | None, HostToContainer or Bidirectional.
  name s req | Name of the pod volume.
  readOnly b | Mount read-only.
  recursiveReadOnly s | Disabled, IfPossible or Enabled.
  subPath s | Path within the volume to mount instead of its root.
  subPathExpr s | Like subPath, with $(VAR) expansion.
T VolumeDevice | Maps a raw block volume into a container.
  devicePath s req | Device path inside the container.
  name s req | Name of a persistent volume claim in the pod.

T Affinity | Affinity scheduling rules.
  nodeAffinity NodeAffinity | Rules about which nodes the pod prefers or needs.
  podAffinity PodAffinity | Rules for placing the pod near other pods.
  podAntiAffinity PodAntiAffinity | Rules for keeping the pod away from other pods.
T NodeAffinity | Node affinity rules.
  preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm A | Weighted preferences.
  requiredDuringSchedulingIgnoredDuringExecution NodeSelector | Hard requirement at scheduling time.
T NodeSelector mt=atomic | A union of node selector terms.
  nodeSelectorTerms []NodeSelectorTerm req A | Terms, any one of which must match.
T NodeSelectorTerm mt=atomic | Requirements that must all match a node.
  matchExpressions []NodeSelectorRequirement A | Requirements on node labels.
  matchFields []NodeSelectorRequirement A | Requirements on node fields.
T NodeSelectorRequirement | One requirement on a node label or field.
  key s req | Label or field key.
  operator s req | In, NotIn, Exists, DoesNotExist, Gt or Lt.
  values []s A | Values to compare against.
T PreferredSchedulingTerm | A weighted node preference.
  preference NodeSelectorTerm req | Term to match.
  weight i32 req | Weight from 1 to 100.
T PodAffinity | Rules to co-locate with other pods.
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm A | Weighted preferences.
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm A | Hard requirements.
T PodAntiAffinity | Rules to avoid other pods.
  preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm A | Weighted preferences.
  requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm A | Hard requirements.
T PodAffinityTerm | A set of pods and the topology domain relative to them.
  labelSelector meta.LabelSelector | Pods to consider.
  matchLabelKeys []s A | Label keys whose values are copied from the incoming pod into the selector.
  mismatchLabelKeys []s A | Label keys whose values must differ from the incoming pod's.
  namespaceSelector meta.LabelSelector | Namespaces to consider.
  namespaces []s A | Namespace names to consider.
  topologyKey s req | Node label that defines the topology domain.
T WeightedPodAffinityTerm | A weighted pod affinity term.
  podAffinityTerm PodAffinityTerm req | Term to match.
  weight i32 req | Weight from 1 to 100.

T Toleration | Lets a pod schedule onto nodes with a matching taint.
  effect s | Taint effect to match; empty matches all.
  key s | Taint key to match; empty with Exists matches all.
  operator s | Exists or Equal.
  tolerationSeconds i64 | How long a NoExecute taint is tolerated.
  value s | Taint value to match.
T TopologySpreadConstraint | How to spread matching pods over a topology.
  labelSelector meta.LabelSelector | Pods counted in each domain.
  matchLabelKeys []s A | Label keys whose values from the incoming pod narrow the selector.
  maxSkew i32 req | Largest allowed difference in counts between domains.
  minDomains i32 | Minimum number of eligible domains.
  nodeAffinityPolicy s | Honor or Ignore node affinity when counting.
  nodeTaintsPolicy s | Honor or Ignore node taints when counting.
  topologyKey s req | Node label that defines the domains.
  whenUnsatisfiable s req | DoNotSchedule or ScheduleAnyway.
T PodDNSConfig | DNS settings for a pod.
  nameservers []s A | Name server addresses.
  options []PodDNSConfigOption A | Resolver options.
  searches []s A | Search domains.
T PodDNSConfigOption | One resolver option.
  name s | Option name.
  value s | Option value.
T HostAlias | Extra hosts file entry.
  hostnames []s A | Names for the address.
  ip s req | IP address.
T PodReadinessGate | An extra readiness condition.
  conditionType s req | Pod condition type that must be true.
T PodOS | Operating system of a pod.
  name s req | linux or windows.
T PodSchedulingGate | A gate blocking scheduling.
  name s req | Gate name, unique in the pod.
T PodResourceClaim | A dynamic resource claim the pod uses.
  name s req | Name used to refer to the claim inside the pod.
  resourceClaimName s | Existing ResourceClaim to use.
  resourceClaimTemplateName s | ResourceClaimTemplate to create a claim from.
T LocalObjectReference mt=atomic | Refers to an object in the same namespace by name.
  name s | Name of the object.

# ---------------------------------------------------------------- PodStatus
T PodStatus | Observed state of a pod.
  conditions []PodCondition M=type | Current service state of the pod.
  containerStatuses []ContainerStatus A | One status per container.
  ephemeralContainerStatuses []ContainerStatus A | One status per ephemeral container.
  hostIP s | Primary IP of the node running the pod.
  hostIPs []HostIP mk=ip ps=merge lt=atomic | IPs of the node running the pod.
  initContainerStatuses []ContainerStatus A | One status per init container.
  message s | Human-readable reason for the pod's state.
  nominatedNodeName s | Node the pod may run on once preemption completes.
  phase s | Pending, Running, Succeeded, Failed or Unknown.
  podIP s | Primary IP of the pod.
  podIPs []PodIP M=ip | All IPs of the pod.
  qosClass s | Guaranteed, Burstable or BestEffort.
  reason s | Short CamelCase reason for the pod's state.
  resize s | Status of an in-place resize.
  resourceClaimStatuses []PodResourceClaimStatus M=name ps=merge,retainKeys | Names of claims generated for the pod.
  startTime meta.Time | When the kubelet acknowledged the pod.
T PodCondition | One condition of a pod.
  lastProbeTime meta.Time | When the condition was last checked.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause of the last change.
  status s req | True, False or Unknown.
  type s req | Condition type, such as Ready.
T HostIP | An IP of the host.
  ip s req | The address.
T PodIP | An IP of the pod.
  ip s req | The address.
T PodResourceClaimStatus | The claim generated for a pod resource claim.
  name s req | Entry in spec.resourceClaims.
  resourceClaimName s | Name of the generated claim.
T ContainerStatus | Observed state of one container.
  allocatedResources {}resource.Quantity | Resources the node allocated to the container.
  allocatedResourcesStatus []ResourceStatus M=name | Health of allocated resources.
  containerID s | Runtime ID of the container.
  image s req | Image the container runs.
  imageID s req | Resolved image ID.
  lastState ContainerState | State of the previous termination.
  name s req | Container name.
  ready b req | Whether the container passes its readiness probe.
  resources ResourceRequirements | Resources currently applied to the running container.
  restartCount i32 req | Number of restarts.
  started b | Whether the startup probe has passed.
  state ContainerState | Current state.
  user ContainerUser | User identity of the first process.
  volumeMounts []VolumeMountStatus M=mountPath | Status of volume mounts.
T ResourceStatus | Health of one allocated resource.
  name s req | Resource name.
  resources []ResourceHealth lt=map lmk=resourceID | Health of each device.
T ResourceHealth | Health of one device.
  health s | Healthy, Unhealthy or Unknown.
  resourceID s req | Device identifier.
T ContainerUser | User identity of a container process.
  linux LinuxContainerUser | Linux identity.
T LinuxContainerUser | A Linux process identity.
  gid i64 req | Primary GID.
  supplementalGroups []i64 A | Supplemental GIDs.
  uid i64 req | UID.
T VolumeMountStatus | Status of one volume mount.
  mountPath s req | Path inside the container.
  name s req | Volume name.
  readOnly b | Whether the mount is read-only.
  recursiveReadOnly s | Effective recursive read-only mode.
T ContainerState | State of a container; at most one field is set.
  running ContainerStateRunning | The container is running.
  terminated ContainerStateTerminated | The container has ended.
  waiting ContainerStateWaiting | The container is not running yet.
T ContainerStateRunning | Details of a running container.
  startedAt meta.Time | When it last started.
T ContainerStateTerminated | Details of an ended container.
  containerID s | Runtime ID.
  exitCode i32 req | Exit status of the last run.
  finishedAt meta.Time | When it ended.
  message s | Details about the end.
  reason s | Short reason for the end.
  signal i32 | Signal that ended it.
  startedAt meta.Time | When the last run started.
T ContainerStateWaiting | Details of a waiting container.
  message s | Details of the wait.
  reason s | Short reason for the wait.

# ---------------------------------------------------------------- ReplicationController
T ReplicationController gvk=/v1/ReplicationController list | Keeps a number of pod replicas running (legacy).
  spec ReplicationControllerSpec | Desired behaviour.
  status ReplicationControllerStatus | Observed state.
T ReplicationControllerSpec | Desired behaviour of a replication controller.
  minReadySeconds i32 | Seconds a new pod must be ready to count as available.
  replicas i32 | Desired number of pods.
  selector {}s mt=atomic | Labels that pods must carry to be counted.
  template PodTemplateSpec | Template for new pods.
T ReplicationControllerStatus | Observed state of a replication controller.
  availableReplicas i32 | Available pods.
  conditions []ReplicationControllerCondition M=type | Latest observations.
  fullyLabeledReplicas i32 | Pods whose labels match the template.
  observedGeneration i64 | Generation last processed.
  readyReplicas i32 | Ready pods.
  replicas i32 req | Pods observed.
T ReplicationControllerCondition | One condition of a replication controller.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type.

# ---------------------------------------------------------------- Node
T Node gvk=/v1/Node list | A worker machine in the cluster.
  spec NodeSpec | Desired configuration of the node.
  status NodeStatus | Most recently observed state of the node.
T NodeSpec | Desired configuration of a node.
  configSource NodeConfigSource | Deprecated dynamic kubelet configuration source.
  externalID s | Deprecated.
  podCIDR s | Pod IP range assigned to the node.
  podCIDRs []s ps=merge lt=set | Pod IP ranges assigned to the node, one per family.
  providerID s | Cloud provider ID of the node.
  taints []Taint A | Taints that repel pods without a matching toleration.
  unschedulable b | Whether new pods are kept off the node.
T NodeConfigSource | A source of node configuration.
  configMap ConfigMapNodeConfigSource | Config map holding the configuration.
T ConfigMapNodeConfigSource | A config map used as node configuration.
  kubeletConfigKey s req | Key holding the kubelet configuration.
  name s req | Config map name.
  namespace s req | Config map namespace.
  resourceVersion s | Config map resource version.
  uid s | Config map UID.
T Taint | Marks a node so pods without a toleration avoid it.
  effect s req | NoSchedule, PreferNoSchedule or NoExecute.
  key s req | Taint key.
  timeAdded meta.Time | When a NoExecute taint was added.
  value s | Taint value.
T NodeStatus | Observed state of a node.
  addresses []NodeAddress M=type | Addresses of the node.
  allocatable {}resource.Quantity | Resources available for pods.
  capacity {}resource.Quantity | Total resources of the node.
  conditions []NodeCondition M=type | Current conditions, such as Ready.
  config NodeConfigStatus | Status of dynamic configuration.
  daemonEndpoints NodeDaemonEndpoints | Ports of daemons on the node.
  features NodeFeatures | Features the node supports.
  images []ContainerImage A | Images present on the node.
  nodeInfo NodeSystemInfo | Facts about the node.
  phase s | Deprecated lifecycle phase.
  runtimeHandlers []NodeRuntimeHandler A | Runtime handlers available.
  volumesAttached []AttachedVolume A | Volumes attached to the node.
  volumesInUse []s A | Volumes in use by the node.
T NodeAddress | One address of a node.
  address s req | The address.
  type s req | Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS.
T NodeCondition | One condition of a node.
  lastHeartbeatTime meta.Time | When the condition was last reported.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type, such as Ready.
T NodeConfigStatus | State of dynamic node configuration.
  active NodeConfigSource | Configuration in use.
  assigned NodeConfigSource | Configuration the node should use.
  error s | Problem with the configuration.
  lastKnownGood NodeConfigSource | Fallback configuration.
T NodeDaemonEndpoints | Ports of daemons on a node.
  kubeletEndpoint DaemonEndpoint | The kubelet's port.
T DaemonEndpoint | A daemon's port.
  Port i32 req | Port number.
T NodeFeatures | Optional features a node supports.
  supplementalGroupsPolicy b | Whether the supplementalGroupsPolicy field is honored.
T ContainerImage | An image on a node.
  names []s A | Names known for the image.
  sizeBytes i64 | Size in bytes.
T NodeSystemInfo | Facts reported about a node.
  architecture s req | CPU architecture.
  bootID s req | Boot ID.
  containerRuntimeVersion s req | Container runtime name and version.
  kernelVersion s req | Kernel version.
  kubeProxyVersion s req | Deprecated kube-proxy version.
  kubeletVersion s req | Kubelet version.
  machineID s req | Machine ID.
  operatingSystem s req | Operating system.
  osImage s req | OS image description.
  swap NodeSwapStatus | Swap information.
  systemUUID s req | System UUID.
T NodeSwapStatus | Swap on a node.
  capacity i64 | Total swap bytes.
T NodeRuntimeHandler | A runtime handler on a node.
  features NodeRuntimeHandlerFeatures | Features of the handler.
  name s | Handler name; empty is the default.
T NodeRuntimeHandlerFeatures | Features of a runtime handler.
  recursiveReadOnlyMounts b | Supports recursive read-only mounts.
  userNamespaces b | Supports user namespaces.
T AttachedVolume | A volume attached to a node.
  devicePath s req | Device path.
  name s req | Volume name.

# ---------------------------------------------------------------- Service, Endpoints
T Service gvk=/v1/Service list | A named set of endpoints reachable through one stable address.
  spec ServiceSpec | Desired behaviour of the service.
  status ServiceStatus | Observed state of the service.
T ServiceSpec | Desired behaviour of a service.
  allocateLoadBalancerNodePorts b | Whether node ports are allocated for LoadBalancer services.
  clusterIP s | Virtual IP of the service; None makes it headless.
  clusterIPs []s A | Virtual IPs, one per IP family.
  externalIPs []s A | Extra IPs that route to the service.
  externalName s | DNS name returned for ExternalName services.
  externalTrafficPolicy s | Cluster or Local routing of external traffic.
  healthCheckNodePort i32 | Node port for load balancer health checks.
  internalTrafficPolicy s | Cluster or Local routing of in-cluster traffic.
  ipFamilies []s A | IPv4, IPv6 or both, in order.
  ipFamilyPolicy s | SingleStack, PreferDualStack or RequireDualStack.
  loadBalancerClass s | Load balancer implementation to use.
  loadBalancerIP s | Deprecated requested load balancer IP.
  loadBalancerSourceRanges []s A | Client CIDRs allowed through the load balancer.
  ports []ServicePort M=port,protocol | Ports the service exposes.
  publishNotReadyAddresses b | Publish endpoints of pods that are not ready.
  selector {}s mt=atomic | Labels of the pods behind the service.
  sessionAffinity s | ClientIP or None.
  sessionAffinityConfig SessionAffinityConfig | Settings of session affinity.
  trafficDistribution s | Preference for how traffic is spread, such as PreferClose.
  type s | ClusterIP, NodePort, LoadBalancer or ExternalName.
T ServicePort | One port of a service.
  appProtocol s | Application protocol of the port.
  name s | Port name, unique within the service.
  nodePort i32 | Port on every node for NodePort and LoadBalancer services.
  port i32 req | Port the service listens on.
  protocol s | TCP, UDP or SCTP.
  targetPort intstr.IntOrString | Port number or name on the pods.
T SessionAffinityConfig | Session affinity settings.
  clientIP ClientIPConfig | Settings for ClientIP affinity.
T ClientIPConfig | ClientIP affinity settings.
  timeoutSeconds i32 | Seconds a session sticks.
T ServiceStatus | Observed state of a service.
  conditions []meta.Condition M=type | Current conditions.
  loadBalancer LoadBalancerStatus | State of the load balancer.
T LoadBalancerStatus | State of a load balancer.
  ingress []LoadBalancerIngress A | Entry points of the load balancer.
T LoadBalancerIngress | One load balancer entry point.
  hostname s | DNS name.
  ip s | IP address.
  ipMode s | VIP or Proxy.
  ports []PortStatus A | Status of each port.
T PortStatus | Status of one port.
  error s | Problem with the port, if any.
  port i32 req | Port number.
  protocol s req | TCP, UDP or SCTP.

T Endpoints gvk=/v1/Endpoints list | The addresses that implement a service.
  subsets []EndpointSubset A | Groups of addresses sharing the same ports.
T EndpointSubset | Addresses with a common set of ports.
  addresses []EndpointAddress A | Ready addresses.
  notReadyAddresses []EndpointAddress A | Addresses not ready yet.
  ports []EndpointPort A | Ports available on these addresses.
T EndpointAddress mt=atomic | One endpoint address.
  hostname s | Hostname of the endpoint.
  ip s req | IP of the endpoint.
  nodeName s | Node hosting the endpoint.
  targetRef ObjectReference | Object providing the endpoint.
T EndpointPort mt=atomic | One endpoint port.
  appProtocol s | Application protocol.
  name s | Port name.
  port i32 req | Port number.
  protocol s | TCP, UDP or SCTP.
T ObjectReference mt=atomic | A full reference to another object.
  apiVersion s | API version of the referent.
  fieldPath s | Path of a field inside the referent, such as a container.
  kind s | Kind of the referent.
  name s | Name of the referent.
  namespace s | Namespace of the referent.
  resourceVersion s | Resource version the reference was made at.
  uid s | UID of the referent.

# ---------------------------------------------------------------- config and identity
T ConfigMap gvk=/v1/ConfigMap list | Non-secret configuration data for pods.
  binaryData {}byte | Binary values, base64-encoded.
  data {}s | UTF-8 values.
  immutable b | When true, the data can never change.
T Secret gvk=/v1/Secret list | Sensitive data such as passwords, tokens or keys.
  data {}byte | Values, base64-encoded.
  immutable b | When true, the data can never change.
  stringData {}s | Write-only plain values merged into data.
  type s | Type used for programmatic handling of the data.
T ServiceAccount gvk=/v1/ServiceAccount list | An identity for processes running in pods.
  automountServiceAccountToken b | Whether pods mount this account's token by default.
  imagePullSecrets []LocalObjectReference A | Pull secrets added to pods using this account.
  secrets []ObjectReference M=name | Secrets pods using this account may use.

# ---------------------------------------------------------------- Event
T Event gvk=/v1/Event list | A report of something that happened in the cluster.
  action s | What was done or failed.
  count i32 | Number of occurrences.
  eventTime meta.MicroTime | When the event was first seen.
  firstTimestamp meta.Time | When the event was first recorded.
  involvedObject ObjectReference req | Object the event is about.
  lastTimestamp meta.Time | When the event was last recorded.
  message s | Human-readable description.
  reason s | Short machine-readable cause.
  related ObjectReference | A second object involved.
  reportingComponent s | Controller that emitted the event.
  reportingInstance s | Instance of the controller.
  series EventSeries | Data about a series of events.
  source EventSource | Component that reported the event.
  type s | Normal or Warning.
T EventSeries | A series of similar events.
  count i32 | Occurrences in the series.
  lastObservedTime meta.MicroTime | Time of the last occurrence.
T EventSource | Where an event came from.
  component s | Reporting component.
  host s | Reporting node.

# ---------------------------------------------------------------- policies
T LimitRange gvk=/v1/LimitRange list | Per-object resource limits enforced in a namespace.
  spec LimitRangeSpec | The limits.
T LimitRangeSpec | Limits of a LimitRange.
  limits []LimitRangeItem req A | Limits per kind of object.
T LimitRangeItem | Limits for one kind of object.
  default {}resource.Quantity | Default limits.
  defaultRequest {}resource.Quantity | Default requests.
  max {}resource.Quantity | Maximum usage.
  maxLimitRequestRatio {}resource.Quantity | Maximum ratio of limit to request.
  min {}resource.Quantity | Minimum usage.
  type s req | Pod, Container or PersistentVolumeClaim.
T ResourceQuota gvk=/v1/ResourceQuota list | Aggregate resource limits for a namespace.
  spec ResourceQuotaSpec | Desired quota.
  status ResourceQuotaStatus | Current usage.
T ResourceQuotaSpec | Desired quota.
  hard {}resource.Quantity | Hard limits per resource.
  scopeSelector ScopeSelector | Scope expressions objects must match.
  scopes []s A | Scopes objects must match.
T ScopeSelector mt=atomic | Scope requirements.
  matchExpressions []ScopedResourceSelectorRequirement A | Requirements, all of which must hold.
T ScopedResourceSelectorRequirement | One scope requirement.
  operator s req | In, NotIn, Exists or DoesNotExist.
  scopeName s req | Scope name.
  values []s A | Values to compare against.
T ResourceQuotaStatus | Quota usage.
  hard {}resource.Quantity | Enforced hard limits.
  used {}resource.Quantity | Current usage.

T Binding gvk=/v1/Binding | Binds a pod to a node.
  target ObjectReference req | The node to bind to.
)SCHEMA";

}  // namespace korral::schema::internal
