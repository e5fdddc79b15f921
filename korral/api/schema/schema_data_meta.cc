// Schema text: package aliases and the shared apimachinery types (meta/v1, resource, intstr,
// runtime). The language is described in schema_data.h. Descriptions are korral's own words.
#include "korral/api/schema/schema_data.h"

namespace korral::schema::internal {

const char kMetaSchemaText[] = R"SCHEMA(
pkg meta io.k8s.apimachinery.pkg.apis.meta.v1
pkg resource io.k8s.apimachinery.pkg.api.resource
pkg intstr io.k8s.apimachinery.pkg.util.intstr
pkg runtime io.k8s.apimachinery.pkg.runtime
pkg core io.k8s.api.core.v1
pkg apps io.k8s.api.apps.v1
pkg batch io.k8s.api.batch.v1
pkg coordination io.k8s.api.coordination.v1
pkg discovery io.k8s.api.discovery.v1
pkg events io.k8s.api.events.v1
pkg rbac io.k8s.api.rbac.v1
pkg policy io.k8s.api.policy.v1
pkg autoscaling io.k8s.api.autoscaling.v1
pkg certificates io.k8s.api.certificates.v1
pkg scheduling io.k8s.api.scheduling.v1

in resource
T Quantity scalar=s | A fixed-point amount such as "500m", "2Gi" or "1.5"; JSON numbers are accepted too.

in intstr
T IntOrString iostr | A value that is either a 32-bit integer or a string such as "25%".

in runtime
T RawExtension obj | An embedded object of any kind, kept as raw JSON.

in meta
T Time scalar=dt | A timestamp in RFC 3339 form with second precision.
T MicroTime scalar=dt | A timestamp in RFC 3339 form with microsecond precision.
T FieldsV1 obj | The set of fields a manager owns, encoded as a nested JSON trie.
T Patch obj | A patch document whose format is given by the request's Content-Type.

T ObjectMeta | Metadata every persisted object carries: identity, labels, annotations, ownership.
  annotations {}s | Free-form key/value strings that tools attach to the object; not used for selection.
  creationTimestamp Time | When the server created the object; set by the system, read-only.
  deletionGracePeriodSeconds i64 | Seconds the object is allowed to terminate gracefully once deletion starts; read-only.
  deletionTimestamp Time | When deletion was requested; set by the server, read-only.
  finalizers []s ps=merge lt=set | Keys that must be cleared by their controllers before the object is removed.
  generateName s | Prefix from which the server builds a unique name when name is empty.
  generation i64 | Counter of changes to the desired state; maintained by the server.
  labels {}s | Key/value pairs used to organize and select objects.
  managedFields []ManagedFieldsEntry A | Which field manager owns which fields; maintained by the server.
  name s | Name of the object, unique within its namespace and kind.
  namespace s | Namespace the object lives in; empty for cluster-scoped kinds.
  ownerReferences []OwnerReference M=uid | Objects this one depends on; used by garbage collection.
  resourceVersion s | Opaque version used for optimistic concurrency and watches.
  selfLink s | Deprecated link to this object; no longer populated.
  uid s | Unique identifier assigned by the server for the object's whole lifetime.

T ListMeta | Metadata of a list response.
  continue s | Opaque token to fetch the next page of a paginated list.
  remainingItemCount i64 | Estimated number of items still to be fetched after this page.
  resourceVersion s | Version of the collection at the time of the list, usable to start a watch.
  selfLink s | Deprecated link to this list; no longer populated.

T OwnerReference mt=atomic | Points at an object that owns this one.
  apiVersion s req | API version of the owner.
  blockOwnerDeletion b | When true, the owner cannot be deleted in the foreground until this object is gone.
  controller b | True when the owner is the managing controller.
  kind s req | Kind of the owner.
  name s req | Name of the owner.
  uid s req | UID of the owner.

T ManagedFieldsEntry | Records the fields one manager set through one operation.
  apiVersion s | Version of the schema the field set refers to.
  fieldsType s | Format of the field set; always FieldsV1.
  fieldsV1 FieldsV1 | The owned field set.
  manager s | Name of the field manager.
  operation s | Apply or Update.
  subresource s | Subresource the fields were written through, if any.
  time Time | When the fields last changed.

T LabelSelector mt=atomic | Selects objects by labels; an empty selector matches everything.
  matchExpressions []LabelSelectorRequirement A | Set-based requirements, all of which must hold.
  matchLabels {}s | Exact label matches, all of which must hold.

T LabelSelectorRequirement | One set-based label requirement.
  key s req | Label key the requirement applies to.
  operator s req | In, NotIn, Exists or DoesNotExist.
  values []s A | Values to compare against; empty for Exists and DoesNotExist.

T Condition | A standard status condition.
  lastTransitionTime Time req | When the status last changed.
  message s req | Human-readable details about the transition.
  observedGeneration i64 | Generation of the object this condition was computed from.
  reason s req | Short CamelCase cause of the last transition.
  status s req | True, False or Unknown.
  type s req | Condition type in CamelCase.

T Status gvk=/v1/Status nometa | The result of an operation that returns no object, usually an error.
  apiVersion s | Versioned schema of this representation.
  code i32 | HTTP status code.
  details StatusDetails | Extra data about the failure, depending on the reason.
  kind s | Always Status.
  message s | Human-readable explanation.
  metadata ListMeta | Standard list metadata.
  reason s | Machine-readable CamelCase reason, empty when unknown.
  status s | Success or Failure.

T StatusDetails | Additional data carried by a Status.
  causes []StatusCause A | Individual problems, for example one per invalid field.
  group s | API group of the resource involved.
  kind s | Kind or resource of the object involved.
  name s | Name of the object involved.
  retryAfterSeconds i32 | Seconds the client should wait before retrying.
  uid s | UID of the object involved.

T StatusCause | One problem behind a failure.
  field s | Path of the field at fault, for example spec.containers[0].name.
  message s | Human-readable description of the problem.
  reason s | Machine-readable description of the problem.

T Preconditions | Conditions that must hold for an operation to proceed.
  resourceVersion s | Required resource version of the target.
  uid s | Required UID of the target.

T DeleteOptions nometa gvk=/v1/DeleteOptions gvk=apps/v1/DeleteOptions gvk=batch/v1/DeleteOptions gvk=autoscaling/v1/DeleteOptions gvk=coordination.k8s.io/v1/DeleteOptions gvk=discovery.k8s.io/v1/DeleteOptions gvk=events.k8s.io/v1/DeleteOptions gvk=policy/v1/DeleteOptions gvk=rbac.authorization.k8s.io/v1/DeleteOptions | Options that may accompany a delete request.
  apiVersion s | Versioned schema of this representation.
  dryRun []s A | When set to All, the deletion is validated but not persisted.
  gracePeriodSeconds i64 | Seconds before the object is removed; zero means immediately.
  ignoreStoreReadErrorWithClusterBreakingPotential b | Deletes objects whose stored data cannot be decoded; dangerous.
  kind s | Always DeleteOptions.
  orphanDependents b | Deprecated; use propagationPolicy.
  preconditions Preconditions | Must be met for the deletion to happen.
  propagationPolicy s | Orphan, Background or Foreground garbage collection of dependents.
)SCHEMA";

}  // namespace korral::schema::internal
