// Schema text: storage.k8s.io/v1 (StorageClass, CSIDriver, CSINode, VolumeAttachment) and the
// core/v1 topology selector types StorageClass uses. The language is described in
// schema_data.h. Descriptions are korral's own words.
#include "korral/api/schema/schema_data.h"

namespace korral::schema::internal {

const char kStorageSchemaText[] = R"SCHEMA(
pkg storage io.k8s.api.storage.v1

in core
T TopologySelectorTerm mt=atomic | Topology labels a volume may be placed in; every requirement must hold.
  matchLabelExpressions []TopologySelectorLabelRequirement A | Label requirements, ANDed.
T TopologySelectorLabelRequirement | One topology label and its allowed values.
  key s req | Label key.
  values []s req A | Allowed values; one must match.

# ================================================================ storage.k8s.io/v1
in storage
T StorageClass gvk=storage.k8s.io/v1/StorageClass list | A class of storage that claims ask for and provisioners create volumes of.
  allowVolumeExpansion b | Whether claims of this class may grow.
  allowedTopologies []core.TopologySelectorTerm A | Where provisioned volumes may be placed; empty means anywhere.
  mountOptions []s A | Mount options of provisioned volumes.
  parameters {}s | Provisioner parameters; immutable.
  provisioner s req | Name of the volume provisioner; immutable.
  reclaimPolicy s | Delete (default) or Retain, for provisioned volumes; immutable.
  volumeBindingMode s | Immediate (default) or WaitForFirstConsumer; immutable.

T CSIDriver gvk=storage.k8s.io/v1/CSIDriver list | A CSI volume driver installed in the cluster and how Kubernetes talks to it.
  spec CSIDriverSpec req | How the driver behaves.
T CSIDriverSpec | Behaviour of a CSI driver.
  attachRequired b | Whether volumes must be attached (ControllerPublishVolume) before mounting; immutable.
  fsGroupPolicy s | ReadWriteOnceWithFSType (default), File or None.
  nodeAllocatableUpdatePeriodSeconds i64 | How often the node's allocatable volume count is refreshed.
  podInfoOnMount b | Whether pod details are passed to NodePublishVolume.
  requiresRepublish b | Whether NodePublishVolume is called periodically.
  seLinuxMount b | Whether the driver supports the -o context mount option.
  storageCapacity b | Whether the scheduler considers CSIStorageCapacity objects of this driver.
  tokenRequests []TokenRequest A | Service account tokens passed to NodePublishVolume.
  volumeLifecycleModes []s lt=set | Persistent and/or Ephemeral; immutable.
T TokenRequest | A service account token audience.
  audience s req | Audience of the token.
  expirationSeconds i64 | Lifetime of the token.

T CSINode gvk=storage.k8s.io/v1/CSINode list | The CSI drivers installed on one node.
  spec CSINodeSpec req | The node's drivers.
T CSINodeSpec | The CSI drivers of a node.
  drivers []CSINodeDriver req M=name | Drivers registered on the node.
T CSINodeDriver | A CSI driver registered on a node.
  allocatable VolumeNodeResources | Volume resources of the driver on this node.
  name s req | Driver name.
  nodeID s req | The node's ID as the driver knows it.
  topologyKeys []s A | Topology labels the driver reports.
T VolumeNodeResources | Volume resources of a driver on a node.
  count i32 | Most volumes of this driver usable on the node.

T VolumeAttachment gvk=storage.k8s.io/v1/VolumeAttachment list | Request to attach a volume to a node, and its result.
  spec VolumeAttachmentSpec req | What to attach where; immutable.
  status VolumeAttachmentStatus | Result of the attach and detach operations.
T VolumeAttachmentSpec | What to attach where.
  attacher s req | Name of the CSI driver that attaches the volume.
  nodeName s req | Node to attach to.
  source VolumeAttachmentSource req | The volume.
T VolumeAttachmentSource | The volume to attach; exactly one field is set.
  inlineVolumeSpec core.PersistentVolumeSpec | An inline volume translated to a PV spec.
  persistentVolumeName s | Name of the PersistentVolume.
T VolumeAttachmentStatus | Result of attaching or detaching.
  attachError VolumeError | Last attach error.
  attached b req | Whether the volume is attached.
  attachmentMetadata {}s | Driver information for the later mount step.
  detachError VolumeError | Last detach error.
T VolumeError | An error of a volume operation.
  errorCode i32 | Numeric gRPC code.
  message s | Error details.
  time meta.Time | When the error happened.
)SCHEMA";

}  // namespace korral::schema::internal
