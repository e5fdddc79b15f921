// Schema text: the named API groups (apps, batch, certificates, coordination, discovery, events,
// rbac, policy, scheduling, autoscaling). The language is described in schema_data.h.
// Descriptions are korral's own words.
#include "korral/api/schema/schema_data.h"

namespace korral::schema::internal {

const char kGroupsSchemaText[] = R"SCHEMA(
# ================================================================ apps/v1
in apps
T Deployment gvk=apps/v1/Deployment list | Declarative rolling updates of a replicated set of pods.
  spec DeploymentSpec | Desired behaviour of the deployment.
  status DeploymentStatus | Most recently observed state of the deployment.
T DeploymentSpec | Desired behaviour of a deployment.
  minReadySeconds i32 | Seconds a new pod must be ready before it counts as available.
  paused b | Stop rolling out changes to the template.
  progressDeadlineSeconds i32 | Seconds without progress before the rollout is reported as failed.
  replicas i32 | Desired number of pods.
  revisionHistoryLimit i32 | Old replica sets kept for rollback.
  selector meta.LabelSelector req | Labels of the pods the deployment manages.
  strategy DeploymentStrategy ps=retainKeys | How old pods are replaced by new ones.
  template core.PodTemplateSpec req | Template of the pods.
T DeploymentStrategy | How a deployment replaces pods.
  rollingUpdate RollingUpdateDeployment | Parameters of a rolling update.
  type s | Recreate or RollingUpdate.
T RollingUpdateDeployment | Parameters of a rolling update.
  maxSurge intstr.IntOrString | Pods allowed above the desired count during the update.
  maxUnavailable intstr.IntOrString | Pods allowed to be unavailable during the update.
T DeploymentStatus | Observed state of a deployment.
  availableReplicas i32 | Pods available for at least minReadySeconds.
  collisionCount i32 | Hash collision counter used to name replica sets.
  conditions []DeploymentCondition M=type | Latest observations.
  observedGeneration i64 | Generation last processed by the controller.
  readyReplicas i32 | Ready pods.
  replicas i32 | Pods targeted by the deployment.
  unavailableReplicas i32 | Pods still needed for full availability.
  updatedReplicas i32 | Pods matching the current template.
T DeploymentCondition | One condition of a deployment.
  lastTransitionTime meta.Time | When the status last changed.
  lastUpdateTime meta.Time | When the condition was last updated.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Available, Progressing or ReplicaFailure.

T ReplicaSet gvk=apps/v1/ReplicaSet list | Keeps a number of identical pods running.
  spec ReplicaSetSpec | Desired behaviour.
  status ReplicaSetStatus | Observed state.
T ReplicaSetSpec | Desired behaviour of a replica set.
  minReadySeconds i32 | Seconds a new pod must be ready to count as available.
  replicas i32 | Desired number of pods.
  selector meta.LabelSelector req | Labels of the pods counted.
  template core.PodTemplateSpec | Template for new pods.
T ReplicaSetStatus | Observed state of a replica set.
  availableReplicas i32 | Available pods.
  conditions []ReplicaSetCondition M=type | Latest observations.
  fullyLabeledReplicas i32 | Pods whose labels match the template.
  observedGeneration i64 | Generation last processed.
  readyReplicas i32 | Ready pods.
  replicas i32 req | Pods observed.
T ReplicaSetCondition | One condition of a replica set.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type.

T DaemonSet gvk=apps/v1/DaemonSet list | Runs one copy of a pod on each eligible node.
  spec DaemonSetSpec | Desired behaviour.
  status DaemonSetStatus | Observed state.
T DaemonSetSpec | Desired behaviour of a daemon set.
  minReadySeconds i32 | Seconds a new pod must be ready to count as available.
  revisionHistoryLimit i32 | Old revisions kept for rollback.
  selector meta.LabelSelector req | Labels of the pods managed.
  template core.PodTemplateSpec req | Template of the pods.
  updateStrategy DaemonSetUpdateStrategy | How pods are replaced on template changes.
T DaemonSetUpdateStrategy | How a daemon set replaces pods.
  rollingUpdate RollingUpdateDaemonSet | Rolling update parameters.
  type s | RollingUpdate or OnDelete.
T RollingUpdateDaemonSet | Rolling update parameters of a daemon set.
  maxSurge intstr.IntOrString | Nodes that may run an extra updated pod at once.
  maxUnavailable intstr.IntOrString | Nodes whose pod may be unavailable at once.
T DaemonSetStatus | Observed state of a daemon set.
  collisionCount i32 | Hash collision counter.
  conditions []DaemonSetCondition M=type | Latest observations.
  currentNumberScheduled i32 req | Nodes running a pod that should.
  desiredNumberScheduled i32 req | Nodes that should run a pod.
  numberAvailable i32 | Nodes with an available pod.
  numberMisscheduled i32 req | Nodes running a pod that should not.
  numberReady i32 req | Nodes with a ready pod.
  numberUnavailable i32 | Nodes without an available pod.
  observedGeneration i64 | Generation last processed.
  updatedNumberScheduled i32 | Nodes running the updated pod.
T DaemonSetCondition | One condition of a daemon set.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type.

T StatefulSet gvk=apps/v1/StatefulSet list | Pods with stable identities and storage, managed in order.
  spec StatefulSetSpec | Desired behaviour.
  status StatefulSetStatus | Observed state.
T StatefulSetSpec | Desired behaviour of a stateful set.
  minReadySeconds i32 | Seconds a new pod must be ready to count as available.
  ordinals StatefulSetOrdinals | Numbering of replicas.
  persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy | What happens to claims on deletion and scale-down.
  podManagementPolicy s | OrderedReady or Parallel.
  replicas i32 | Desired number of pods.
  revisionHistoryLimit i32 | Old revisions kept.
  selector meta.LabelSelector req | Labels of the pods managed.
  serviceName s | Headless service giving the pods their network identity.
  template core.PodTemplateSpec req | Template of the pods.
  updateStrategy StatefulSetUpdateStrategy | How pods are replaced on template changes.
  volumeClaimTemplates []core.PersistentVolumeClaim A | Claims created for each pod.
T StatefulSetOrdinals | Numbering of stateful set replicas.
  start i32 | First ordinal.
T StatefulSetPersistentVolumeClaimRetentionPolicy | Claim retention rules.
  whenDeleted s | Retain or Delete when the set is deleted.
  whenScaled s | Retain or Delete when the set scales down.
T StatefulSetUpdateStrategy | How a stateful set replaces pods.
  rollingUpdate RollingUpdateStatefulSetStrategy | Rolling update parameters.
  type s | RollingUpdate or OnDelete.
T RollingUpdateStatefulSetStrategy | Rolling update parameters of a stateful set.
  maxUnavailable intstr.IntOrString | Pods that may be unavailable during the update.
  partition i32 | Ordinal below which pods are left alone.
T StatefulSetStatus | Observed state of a stateful set.
  availableReplicas i32 | Available pods.
  collisionCount i32 | Hash collision counter.
  conditions []StatefulSetCondition M=type | Latest observations.
  currentReplicas i32 | Pods at currentRevision.
  currentRevision s | Revision of the older pods.
  observedGeneration i64 | Generation last processed.
  readyReplicas i32 | Ready pods.
  replicas i32 req | Pods created.
  updateRevision s | Revision of the newest pods.
  updatedReplicas i32 | Pods at updateRevision.
T StatefulSetCondition | One condition of a stateful set.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type.

T ControllerRevision gvk=apps/v1/ControllerRevision list | An immutable snapshot of a controller's state.
  data runtime.RawExtension | The serialized state.
  revision i64 req | Revision number.

# ================================================================ batch/v1
in batch
T Job gvk=batch/v1/Job list | Runs pods until a number of them complete successfully.
  spec JobSpec | Desired behaviour.
  status JobStatus | Observed state.
T JobSpec | Desired behaviour of a job.
  activeDeadlineSeconds i64 | Seconds the job may be active before it is terminated.
  backoffLimit i32 | Retries before the job is marked failed.
  backoffLimitPerIndex i32 | Retries allowed per index of an indexed job.
  completionMode s | NonIndexed or Indexed.
  completions i32 | Successful pods needed.
  managedBy s | Controller that reconciles the job.
  manualSelector b | Allow a hand-written selector.
  maxFailedIndexes i32 | Failed indexes tolerated before the job fails.
  parallelism i32 | Maximum pods running at once.
  podFailurePolicy PodFailurePolicy | How pod failures affect the job.
  podReplacementPolicy s | When replacement pods are created: TerminatingOrFailed or Failed.
  selector meta.LabelSelector | Labels of the job's pods.
  successPolicy SuccessPolicy | When an indexed job counts as succeeded early.
  suspend b | Stop creating pods and delete running ones.
  template core.PodTemplateSpec req | Template of the pods.
  ttlSecondsAfterFinished i32 | Seconds after finishing before the job is deleted.
T PodFailurePolicy | Rules applied to failed pods.
  rules []PodFailurePolicyRule req A | Rules evaluated in order.
T PodFailurePolicyRule | One pod failure rule.
  action s req | FailJob, FailIndex, Ignore or Count.
  onExitCodes PodFailurePolicyOnExitCodesRequirement | Exit codes to match.
  onPodConditions []PodFailurePolicyOnPodConditionsPattern A | Pod conditions to match.
T PodFailurePolicyOnExitCodesRequirement | Exit code requirement.
  containerName s | Only this container's exit code counts.
  operator s req | In or NotIn.
  values []i32 req lt=set | Exit codes.
T PodFailurePolicyOnPodConditionsPattern | Pod condition pattern.
  status s req | Required condition status.
  type s req | Condition type.
T SuccessPolicy | Early success criteria of an indexed job.
  rules []SuccessPolicyRule req A | Rules, any of which may succeed the job.
T SuccessPolicyRule | One success rule.
  succeededCount i32 | Minimum succeeded indexes.
  succeededIndexes s | Indexes that must succeed, such as "0-3,5".
T JobStatus | Observed state of a job.
  active i32 | Running pods.
  completedIndexes s | Completed indexes in compressed form.
  completionTime meta.Time | When the job completed.
  conditions []JobCondition mk=type ps=merge lt=atomic | Latest observations.
  failed i32 | Failed pods.
  failedIndexes s | Failed indexes in compressed form.
  ready i32 | Ready pods.
  startTime meta.Time | When the job started.
  succeeded i32 | Succeeded pods.
  terminating i32 | Terminating pods.
  uncountedTerminatedPods UncountedTerminatedPods | Finished pods not yet counted.
T JobCondition | One condition of a job.
  lastProbeTime meta.Time | When the condition was last checked.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Complete, Failed, Suspended and so on.
T UncountedTerminatedPods | UIDs of finished pods not yet counted.
  failed []s lt=set | Failed pod UIDs.
  succeeded []s lt=set | Succeeded pod UIDs.
T CronJob gvk=batch/v1/CronJob list | Runs a job on a schedule.
  spec CronJobSpec | Desired behaviour.
  status CronJobStatus | Observed state.
T CronJobSpec | Desired behaviour of a cron job.
  concurrencyPolicy s | Allow, Forbid or Replace overlapping runs.
  failedJobsHistoryLimit i32 | Failed jobs kept.
  jobTemplate JobTemplateSpec req | Template of the jobs.
  schedule s req | Schedule in cron format.
  startingDeadlineSeconds i64 | Seconds a missed run may still start.
  successfulJobsHistoryLimit i32 | Successful jobs kept.
  suspend b | Stop starting new runs.
  timeZone s | Time zone of the schedule.
T JobTemplateSpec | Template of a job.
  metadata meta.ObjectMeta | Metadata given to each job.
  spec JobSpec | Spec given to each job.
T CronJobStatus | Observed state of a cron job.
  active []core.ObjectReference A | Jobs currently running.
  lastScheduleTime meta.Time | When a job was last scheduled.
  lastSuccessfulTime meta.Time | When a job last succeeded.

# ================================================================ coordination.k8s.io/v1
in coordination
T Lease gvk=coordination.k8s.io/v1/Lease list | A lease used for leader election and node heartbeats.
  spec LeaseSpec | The lease's state.
T LeaseSpec | State of a lease.
  acquireTime meta.MicroTime | When the current holder took the lease.
  holderIdentity s | Identity of the holder.
  leaseDurationSeconds i32 | Seconds candidates wait before taking over.
  leaseTransitions i32 | Times the lease changed holders.
  preferredHolder s | Holder that should take over next.
  renewTime meta.MicroTime | When the holder last renewed.
  strategy s | Leader election strategy for coordinated elections.

# ================================================================ discovery.k8s.io/v1
in discovery
T EndpointSlice gvk=discovery.k8s.io/v1/EndpointSlice list | A subset of the endpoints of a service.
  addressType s req | IPv4, IPv6 or FQDN.
  endpoints []Endpoint req A | The endpoints.
  ports []EndpointPort A | Ports every endpoint exposes.
T Endpoint | One endpoint.
  addresses []s req lt=set | Addresses of the endpoint.
  conditions EndpointConditions | Current state.
  deprecatedTopology {}s | Deprecated topology labels.
  hints EndpointHints | Routing hints.
  hostname s | Hostname of the endpoint.
  nodeName s | Node hosting the endpoint.
  targetRef core.ObjectReference | Object providing the endpoint.
  zone s | Zone of the endpoint.
T EndpointConditions | State of an endpoint.
  ready b | Ready to receive traffic.
  serving b | Serving, regardless of termination.
  terminating b | Terminating.
T EndpointHints | Routing hints.
  forZones []ForZone A | Zones that should use this endpoint.
T ForZone | A zone hint.
  name s req | Zone name.
T EndpointPort mt=atomic | A port of an endpoint slice.
  appProtocol s | Application protocol.
  name s | Port name.
  port i32 | Port number.
  protocol s | TCP, UDP or SCTP.

# ================================================================ events.k8s.io/v1
in events
T Event gvk=events.k8s.io/v1/Event list | A report of something that happened in the cluster.
  action s | What was done or failed.
  deprecatedCount i32 | Legacy occurrence count.
  deprecatedFirstTimestamp meta.Time | Legacy first-seen time.
  deprecatedLastTimestamp meta.Time | Legacy last-seen time.
  deprecatedSource core.EventSource | Legacy source.
  eventTime meta.MicroTime req | When the event was first seen.
  note s | Human-readable description.
  reason s | Short machine-readable cause.
  regarding core.ObjectReference | Object the event is about.
  related core.ObjectReference | A second object involved.
  reportingController s | Controller that emitted the event.
  reportingInstance s | Instance of the controller.
  series EventSeries | Data about a series of events.
  type s | Normal or Warning.
T EventSeries | A series of similar events.
  count i32 req | Occurrences in the series.
  lastObservedTime meta.MicroTime req | Time of the last occurrence.

# ================================================================ certificates.k8s.io/v1
in certificates
T CertificateSigningRequest gvk=certificates.k8s.io/v1/CertificateSigningRequest list | A request for an X.509 certificate from a signer.
  spec CertificateSigningRequestSpec req | What is requested.
  status CertificateSigningRequestStatus | Approval state and the issued certificate.
T CertificateSigningRequestSpec | What a certificate signing request asks for.
  expirationSeconds i32 | Requested validity of the certificate in seconds.
  extra obj | Extra attributes of the requesting user (name to list of values).
  groups []s A | Groups of the requesting user.
  request byte req | PEM-encoded PKCS#10 certificate request.
  signerName s req | Signer the request is for, e.g. kubernetes.io/kube-apiserver-client.
  uid s | UID of the requesting user.
  usages []s A | Key usages requested.
  username s | Name of the requesting user.
T CertificateSigningRequestStatus | Approval state and issued certificate.
  certificate byte | PEM-encoded certificate chain issued by the signer.
  conditions []CertificateSigningRequestCondition M=type | Approved, Denied or Failed conditions.
T CertificateSigningRequestCondition | One condition of a request.
  lastTransitionTime meta.Time | When the status last changed.
  lastUpdateTime meta.Time | When the condition was last updated.
  message s | Human-readable details.
  reason s | Brief reason.
  status s req | True, False or Unknown.
  type s req | Approved, Denied or Failed.

# ================================================================ scheduling.k8s.io/v1
in scheduling
T PriorityClass gvk=scheduling.k8s.io/v1/PriorityClass list | Maps a priority class name to an integer priority.
  description s | When to use this class.
  globalDefault b | Use this class for pods without a priorityClassName.
  preemptionPolicy s | Never or PreemptLowerPriority.
  value i32 req | The priority of pods of this class.

# ================================================================ rbac.authorization.k8s.io/v1
in rbac
T Role gvk=rbac.authorization.k8s.io/v1/Role list | Namespaced permissions.
  rules []PolicyRule A | Permissions granted.
T ClusterRole gvk=rbac.authorization.k8s.io/v1/ClusterRole list | Cluster-wide permissions.
  aggregationRule AggregationRule | Build the rules from other cluster roles.
  rules []PolicyRule A | Permissions granted.
T PolicyRule | One permission.
  apiGroups []s A | API groups of the resources.
  nonResourceURLs []s A | Non-resource URL paths.
  resourceNames []s A | Specific object names.
  resources []s A | Resources.
  verbs []s req A | Verbs allowed.
T AggregationRule | How a cluster role aggregates others.
  clusterRoleSelectors []meta.LabelSelector A | Labels of the roles to aggregate.
T RoleBinding gvk=rbac.authorization.k8s.io/v1/RoleBinding list | Grants a role within a namespace.
  roleRef RoleRef req | Role granted.
  subjects []Subject A | Who receives the role.
T ClusterRoleBinding gvk=rbac.authorization.k8s.io/v1/ClusterRoleBinding list | Grants a cluster role cluster-wide.
  roleRef RoleRef req | Cluster role granted.
  subjects []Subject A | Who receives the role.
T RoleRef mt=atomic | The role a binding grants.
  apiGroup s req | API group of the role.
  kind s req | Role or ClusterRole.
  name s req | Role name.
T Subject mt=atomic | A user, group or service account.
  apiGroup s | API group of the subject.
  kind s req | User, Group or ServiceAccount.
  name s req | Subject name.
  namespace s | Namespace of a service account.

# ================================================================ policy/v1
in policy
T PodDisruptionBudget gvk=policy/v1/PodDisruptionBudget list | Limits voluntary disruption of a set of pods.
  spec PodDisruptionBudgetSpec | Desired protection.
  status PodDisruptionBudgetStatus | Observed state.
T PodDisruptionBudgetSpec | Desired protection of a budget.
  maxUnavailable intstr.IntOrString | Pods that may be unavailable after an eviction.
  minAvailable intstr.IntOrString | Pods that must stay available after an eviction.
  selector meta.LabelSelector ps=replace | Pods covered by the budget.
  unhealthyPodEvictionPolicy s | IfHealthyBudget or AlwaysAllow for unhealthy pods.
T PodDisruptionBudgetStatus | Observed state of a budget.
  conditions []meta.Condition M=type | Latest observations.
  currentHealthy i32 req | Healthy pods now.
  desiredHealthy i32 req | Healthy pods needed.
  disruptedPods {}meta.Time | Pods being evicted, with the time processed.
  disruptionsAllowed i32 req | Disruptions allowed now.
  expectedPods i32 req | Pods counted by the budget.
  observedGeneration i64 | Generation last processed.
T Eviction gvk=policy/v1/Eviction | A request to evict a pod, subject to disruption budgets.
  deleteOptions meta.DeleteOptions | Options for the deletion.

# ================================================================ autoscaling/v1
in autoscaling
T Scale gvk=autoscaling/v1/Scale | The scale subresource of a scalable object.
  spec ScaleSpec | Desired scale.
  status ScaleStatus | Current scale.
T ScaleSpec | Desired scale.
  replicas i32 | Desired number of instances.
T ScaleStatus | Current scale.
  replicas i32 req | Observed number of instances.
  selector s | Label selector of the pods, in string form.
T HorizontalPodAutoscaler gvk=autoscaling/v1/HorizontalPodAutoscaler list | Scales a workload by CPU use.
  spec HorizontalPodAutoscalerSpec | Desired behaviour.
  status HorizontalPodAutoscalerStatus | Observed state.
T HorizontalPodAutoscalerSpec | Desired behaviour of an autoscaler.
  maxReplicas i32 req | Upper replica bound.
  minReplicas i32 | Lower replica bound.
  scaleTargetRef CrossVersionObjectReference req | Workload to scale.
  targetCPUUtilizationPercentage i32 | Target average CPU use in percent of requests.
T HorizontalPodAutoscalerStatus | Observed state of an autoscaler.
  currentCPUUtilizationPercentage i32 | Current average CPU use.
  currentReplicas i32 req | Current replicas.
  desiredReplicas i32 req | Desired replicas.
  lastScaleTime meta.Time | When it last scaled.
  observedGeneration i64 | Generation last processed.
T CrossVersionObjectReference mt=atomic | Refers to an object in any API group.
  apiVersion s | API version of the referent.
  kind s req | Kind of the referent.
  name s req | Name of the referent.
)SCHEMA";

}  // namespace korral::schema::internal
