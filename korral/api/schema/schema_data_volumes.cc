// Schema text: core/v1 volumes, persistent volumes and claims.
// The language is described in schema_data.h. Descriptions are korral's own words.
#include "korral/api/schema/schema_data.h"

namespace korral::schema::internal {

const char kCoreVolumeSchemaText[] = R"SCHEMA(
in core

T Volume | A named volume that containers of the pod can mount; exactly one source is set.
  awsElasticBlockStore AWSElasticBlockStoreVolumeSource | Deprecated AWS EBS disk.
  azureDisk AzureDiskVolumeSource | Deprecated Azure data disk.
  azureFile AzureFileVolumeSource | Deprecated Azure file share.
  cephfs CephFSVolumeSource | Deprecated CephFS mount.
  cinder CinderVolumeSource | Deprecated OpenStack Cinder volume.
  configMap ConfigMapVolumeSource | Files from a config map.
  csi CSIVolumeSource | Inline volume provided by a CSI driver.
  downwardAPI DownwardAPIVolumeSource | Files holding pod metadata.
  emptyDir EmptyDirVolumeSource | Scratch directory that lives as long as the pod.
  ephemeral EphemeralVolumeSource | Claim created for and deleted with the pod.
  fc FCVolumeSource | Fibre Channel disk.
  flexVolume FlexVolumeSource | Deprecated FlexVolume driver.
  flocker FlockerVolumeSource | Deprecated Flocker dataset.
  gcePersistentDisk GCEPersistentDiskVolumeSource | Deprecated GCE persistent disk.
  gitRepo GitRepoVolumeSource | Deprecated git checkout.
  glusterfs GlusterfsVolumeSource | Deprecated GlusterFS mount.
  hostPath HostPathVolumeSource | A file or directory of the node.
  image ImageVolumeSource | Content of an OCI image or artifact.
  iscsi ISCSIVolumeSource | iSCSI disk.
  name s req | Volume name, unique within the pod.
  nfs NFSVolumeSource | NFS export.
  persistentVolumeClaim PersistentVolumeClaimVolumeSource | An existing claim in the namespace.
  photonPersistentDisk PhotonPersistentDiskVolumeSource | Deprecated Photon disk.
  portworxVolume PortworxVolumeSource | Deprecated Portworx volume.
  projected ProjectedVolumeSource | Several sources merged into one directory.
  quobyte QuobyteVolumeSource | Deprecated Quobyte mount.
  rbd RBDVolumeSource | Deprecated Ceph block device.
  scaleIO ScaleIOVolumeSource | Deprecated ScaleIO volume.
  secret SecretVolumeSource | Files from a secret.
  storageos StorageOSVolumeSource | Deprecated StorageOS volume.
  vsphereVolume VsphereVirtualDiskVolumeSource | Deprecated vSphere disk.

T EmptyDirVolumeSource | A temporary directory.
  medium s | Storage medium: empty for the node default or Memory for tmpfs.
  sizeLimit resource.Quantity | Upper bound of local storage used.
T HostPathVolumeSource | A path on the node.
  path s req | Path on the node.
  type s | Expected type of the path, such as Directory or FileOrCreate.
T ConfigMapVolumeSource | Projects config map keys into files.
  defaultMode i32 | Default file permission bits.
  items []KeyToPath A | Keys to project and their paths; all keys when empty.
  name s | Config map name.
  optional b | Whether a missing config map is tolerated.
T SecretVolumeSource | Projects secret keys into files.
  defaultMode i32 | Default file permission bits.
  items []KeyToPath A | Keys to project and their paths; all keys when empty.
  optional b | Whether a missing secret is tolerated.
  secretName s | Secret name.
T KeyToPath | Maps a key to a file path.
  key s req | Key to project.
  mode i32 | Permission bits of this file.
  path s req | Relative path of the file.
T PersistentVolumeClaimVolumeSource | Uses a claim in the pod's namespace.
  claimName s req | Claim name.
  readOnly b | Force a read-only mount.
T ProjectedVolumeSource | Several volume sources in one directory.
  defaultMode i32 | Default file permission bits.
  sources []VolumeProjection A | The sources to project.
T VolumeProjection | One projected source; exactly one field is set.
  clusterTrustBundle ClusterTrustBundleProjection | Certificates from ClusterTrustBundle objects.
  configMap ConfigMapProjection | Keys of a config map.
  downwardAPI DownwardAPIProjection | Pod metadata.
  secret SecretProjection | Keys of a secret.
  serviceAccountToken ServiceAccountTokenProjection | A bound service account token.
T ClusterTrustBundleProjection | Certificates from cluster trust bundles.
  labelSelector meta.LabelSelector | Select bundles by label.
  name s | Select one bundle by name.
  optional b | Whether a missing bundle is tolerated.
  path s req | Relative path of the file.
  signerName s | Select bundles of this signer.
T ConfigMapProjection | Config map keys to project.
  items []KeyToPath A | Keys and their paths.
  name s | Config map name.
  optional b | Whether a missing config map is tolerated.
T SecretProjection | Secret keys to project.
  items []KeyToPath A | Keys and their paths.
  name s | Secret name.
  optional b | Whether a missing secret is tolerated.
T DownwardAPIProjection | Pod metadata to project.
  items []DownwardAPIVolumeFile A | Files to create.
T ServiceAccountTokenProjection | A projected service account token.
  audience s | Intended audience of the token.
  expirationSeconds i64 | Requested token lifetime.
  path s req | Relative path of the file.
T DownwardAPIVolumeSource | Pod metadata as files.
  defaultMode i32 | Default file permission bits.
  items []DownwardAPIVolumeFile A | Files to create.
T DownwardAPIVolumeFile | One downward API file.
  fieldRef ObjectFieldSelector | Pod field to write.
  mode i32 | Permission bits of this file.
  path s req | Relative path of the file.
  resourceFieldRef ResourceFieldSelector | Container resource to write.
T NFSVolumeSource | An NFS export.
  path s req | Exported path.
  readOnly b | Mount read-only.
  server s req | NFS server host or IP.
T CSIVolumeSource | An inline CSI volume.
  driver s req | CSI driver name.
  fsType s | Filesystem type.
  nodePublishSecretRef LocalObjectReference | Secret passed to the driver's publish calls.
  readOnly b | Mount read-only.
  volumeAttributes {}s | Driver-specific attributes.
T EphemeralVolumeSource | A claim tied to the pod's lifetime.
  volumeClaimTemplate PersistentVolumeClaimTemplate | Template for the claim.
T PersistentVolumeClaimTemplate | Template of an ephemeral claim.
  metadata meta.ObjectMeta | Labels and annotations copied to the claim.
  spec PersistentVolumeClaimSpec req | Spec copied to the claim.
T ImageVolumeSource | An OCI image mounted as a volume.
  pullPolicy s | Always, Never or IfNotPresent.
  reference s | Image or artifact reference.
T GitRepoVolumeSource | A git repository checkout.
  directory s | Target directory name.
  repository s req | Repository URL.
  revision s | Commit hash.
T ISCSIVolumeSource | An iSCSI disk.
  chapAuthDiscovery b | Use CHAP for discovery.
  chapAuthSession b | Use CHAP for the session.
  fsType s | Filesystem type.
  initiatorName s | Custom initiator name.
  iqn s req | Target IQN.
  iscsiInterface s | iSCSI interface name.
  lun i32 req | Target LUN.
  portals []s A | Extra target portals.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference | CHAP secret.
  targetPortal s req | Target portal.
T AWSElasticBlockStoreVolumeSource | An AWS EBS disk.
  fsType s | Filesystem type.
  partition i32 | Partition number.
  readOnly b | Mount read-only.
  volumeID s req | EBS volume ID.
T GCEPersistentDiskVolumeSource | A GCE persistent disk.
  fsType s | Filesystem type.
  partition i32 | Partition number.
  pdName s req | Disk name.
  readOnly b | Mount read-only.
T AzureDiskVolumeSource | An Azure data disk.
  cachingMode s | Host caching mode.
  diskName s req | Disk name.
  diskURI s req | Disk URI.
  fsType s | Filesystem type.
  kind s | Disk kind.
  readOnly b | Mount read-only.
T AzureFileVolumeSource | An Azure file share.
  readOnly b | Mount read-only.
  secretName s req | Secret with the account credentials.
  shareName s req | Share name.
T CephFSVolumeSource | A CephFS mount.
  monitors []s req A | Ceph monitors.
  path s | Root path.
  readOnly b | Mount read-only.
  secretFile s | Keyring file path.
  secretRef LocalObjectReference | Secret with the key.
  user s | Ceph user.
T CinderVolumeSource | An OpenStack Cinder volume.
  fsType s | Filesystem type.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference | Secret with connection parameters.
  volumeID s req | Volume ID.
T FCVolumeSource | A Fibre Channel disk.
  fsType s | Filesystem type.
  lun i32 | Target LUN.
  readOnly b | Mount read-only.
  targetWWNs []s A | Target world wide names.
  wwids []s A | Volume world wide identifiers.
T FlexVolumeSource | A FlexVolume driver volume.
  driver s req | Driver name.
  fsType s | Filesystem type.
  options {}s | Driver options.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference | Secret passed to the driver.
T FlockerVolumeSource | A Flocker dataset.
  datasetName s | Dataset name.
  datasetUUID s | Dataset UUID.
T GlusterfsVolumeSource | A GlusterFS mount.
  endpoints s req | Endpoints object with the cluster topology.
  path s req | Volume path.
  readOnly b | Mount read-only.
T PhotonPersistentDiskVolumeSource | A Photon controller disk.
  fsType s | Filesystem type.
  pdID s req | Disk ID.
T PortworxVolumeSource | A Portworx volume.
  fsType s | Filesystem type.
  readOnly b | Mount read-only.
  volumeID s req | Volume ID.
T QuobyteVolumeSource | A Quobyte mount.
  group s | Group to map access to.
  readOnly b | Mount read-only.
  registry s req | Registry services.
  tenant s | Tenant owning the volume.
  user s | User to map access to.
  volume s req | Volume name.
T RBDVolumeSource | A Ceph RADOS block device.
  fsType s | Filesystem type.
  image s req | Image name.
  keyring s | Keyring path.
  monitors []s req A | Ceph monitors.
  pool s | Pool name.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference | Secret with the key.
  user s | RADOS user.
T ScaleIOVolumeSource | A ScaleIO volume.
  fsType s | Filesystem type.
  gateway s req | Gateway host.
  protectionDomain s | Protection domain.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference req | Secret with credentials.
  sslEnabled b | Use SSL to the gateway.
  storageMode s | ThickProvisioned or ThinProvisioned.
  storagePool s | Storage pool.
  system s req | Storage system name.
  volumeName s | Volume name.
T StorageOSVolumeSource | A StorageOS volume.
  fsType s | Filesystem type.
  readOnly b | Mount read-only.
  secretRef LocalObjectReference | Secret with API credentials.
  volumeName s | Volume name.
  volumeNamespace s | StorageOS namespace.
T VsphereVirtualDiskVolumeSource | A vSphere disk.
  fsType s | Filesystem type.
  storagePolicyID s | Storage policy ID.
  storagePolicyName s | Storage policy name.
  volumePath s req | Disk path.

# ---------------------------------------------------------------- PersistentVolume
T PersistentVolume gvk=/v1/PersistentVolume list | A piece of storage provisioned in the cluster.
  spec PersistentVolumeSpec | Desired properties of the volume.
  status PersistentVolumeStatus | Observed state of the volume.
T PersistentVolumeSpec | Properties of a persistent volume; exactly one source is set.
  accessModes []s A | Ways the volume can be mounted.
  awsElasticBlockStore AWSElasticBlockStoreVolumeSource | Deprecated AWS EBS disk.
  azureDisk AzureDiskVolumeSource | Deprecated Azure data disk.
  azureFile AzureFilePersistentVolumeSource | Deprecated Azure file share.
  capacity {}resource.Quantity | Size of the volume.
  cephfs CephFSPersistentVolumeSource | Deprecated CephFS mount.
  cinder CinderPersistentVolumeSource | Deprecated Cinder volume.
  claimRef ObjectReference | Claim bound to this volume.
  csi CSIPersistentVolumeSource | Volume managed by a CSI driver.
  fc FCVolumeSource | Fibre Channel disk.
  flexVolume FlexPersistentVolumeSource | Deprecated FlexVolume driver.
  flocker FlockerVolumeSource | Deprecated Flocker dataset.
  gcePersistentDisk GCEPersistentDiskVolumeSource | Deprecated GCE persistent disk.
  glusterfs GlusterfsPersistentVolumeSource | Deprecated GlusterFS mount.
  hostPath HostPathVolumeSource | A path on one node; for testing only.
  iscsi ISCSIPersistentVolumeSource | iSCSI disk.
  local LocalVolumeSource | A local disk, partition or directory of one node.
  mountOptions []s A | Mount options.
  nfs NFSVolumeSource | NFS export.
  nodeAffinity VolumeNodeAffinity | Nodes the volume can be used from.
  persistentVolumeReclaimPolicy s | Retain, Recycle or Delete once released.
  photonPersistentDisk PhotonPersistentDiskVolumeSource | Deprecated Photon disk.
  portworxVolume PortworxVolumeSource | Deprecated Portworx volume.
  quobyte QuobyteVolumeSource | Deprecated Quobyte mount.
  rbd RBDPersistentVolumeSource | Deprecated Ceph block device.
  scaleIO ScaleIOPersistentVolumeSource | Deprecated ScaleIO volume.
  storageClassName s | Storage class of the volume.
  storageos StorageOSPersistentVolumeSource | Deprecated StorageOS volume.
  volumeAttributesClassName s | VolumeAttributesClass of the volume.
  volumeMode s | Filesystem or Block.
  vsphereVolume VsphereVirtualDiskVolumeSource | Deprecated vSphere disk.
T PersistentVolumeStatus | Observed state of a persistent volume.
  lastPhaseTransitionTime meta.Time | When the phase last changed.
  message s | Human-readable details.
  phase s | Available, Bound, Released or Failed.
  reason s | Short reason for a failure.
T VolumeNodeAffinity | Nodes that can use a volume.
  required NodeSelector | Hard node constraints.
T LocalVolumeSource | A local storage device.
  fsType s | Filesystem type.
  path s req | Path on the node.
T SecretReference mt=atomic | Refers to a secret in any namespace.
  name s | Secret name.
  namespace s | Secret namespace.
T AzureFilePersistentVolumeSource | An Azure file share.
  readOnly b | Mount read-only.
  secretName s req | Secret with the account credentials.
  secretNamespace s | Namespace of the secret.
  shareName s req | Share name.
T CephFSPersistentVolumeSource | A CephFS mount.
  monitors []s req A | Ceph monitors.
  path s | Root path.
  readOnly b | Mount read-only.
  secretFile s | Keyring file path.
  secretRef SecretReference | Secret with the key.
  user s | Ceph user.
T CinderPersistentVolumeSource | An OpenStack Cinder volume.
  fsType s | Filesystem type.
  readOnly b | Mount read-only.
  secretRef SecretReference | Secret with connection parameters.
  volumeID s req | Volume ID.
T CSIPersistentVolumeSource | A volume managed by a CSI driver.
  controllerExpandSecretRef SecretReference | Secret for controller expand calls.
  controllerPublishSecretRef SecretReference | Secret for controller publish calls.
  driver s req | CSI driver name.
  fsType s | Filesystem type.
  nodeExpandSecretRef SecretReference | Secret for node expand calls.
  nodePublishSecretRef SecretReference | Secret for node publish calls.
  nodeStageSecretRef SecretReference | Secret for node stage calls.
  readOnly b | Mount read-only.
  volumeAttributes {}s | Driver-specific attributes.
  volumeHandle s req | Driver's ID of the volume.
T FlexPersistentVolumeSource | A FlexVolume driver volume.
  driver s req | Driver name.
  fsType s | Filesystem type.
  options {}s | Driver options.
  readOnly b | Mount read-only.
  secretRef SecretReference | Secret passed to the driver.
T GlusterfsPersistentVolumeSource | A GlusterFS mount.
  endpoints s req | Endpoints object with the cluster topology.
  endpointsNamespace s | Namespace of the endpoints object.
  path s req | Volume path.
  readOnly b | Mount read-only.
T ISCSIPersistentVolumeSource | An iSCSI disk.
  chapAuthDiscovery b | Use CHAP for discovery.
  chapAuthSession b | Use CHAP for the session.
  fsType s | Filesystem type.
  initiatorName s | Custom initiator name.
  iqn s req | Target IQN.
  iscsiInterface s | iSCSI interface name.
  lun i32 req | Target LUN.
  portals []s A | Extra target portals.
  readOnly b | Mount read-only.
  secretRef SecretReference | CHAP secret.
  targetPortal s req | Target portal.
T RBDPersistentVolumeSource | A Ceph RADOS block device.
  fsType s | Filesystem type.
  image s req | Image name.
  keyring s | Keyring path.
  monitors []s req A | Ceph monitors.
  pool s | Pool name.
  readOnly b | Mount read-only.
  secretRef SecretReference | Secret with the key.
  user s | RADOS user.
T ScaleIOPersistentVolumeSource | A ScaleIO volume.
  fsType s | Filesystem type.
  gateway s req | Gateway host.
  protectionDomain s | Protection domain.
  readOnly b | Mount read-only.
  secretRef SecretReference req | Secret with credentials.
  sslEnabled b | Use SSL to the gateway.
  storageMode s | ThickProvisioned or ThinProvisioned.
  storagePool s | Storage pool.
  system s req | Storage system name.
  volumeName s | Volume name.
T StorageOSPersistentVolumeSource | A StorageOS volume.
  fsType s | Filesystem type.
  readOnly b | Mount read-only.
  secretRef ObjectReference | Secret with API credentials.
  volumeName s | Volume name.
  volumeNamespace s | StorageOS namespace.

# ---------------------------------------------------------------- PersistentVolumeClaim
T PersistentVolumeClaim gvk=/v1/PersistentVolumeClaim list | A user's request for storage.
  spec PersistentVolumeClaimSpec | Desired storage.
  status PersistentVolumeClaimStatus | Observed state of the claim.
T PersistentVolumeClaimSpec | Desired storage of a claim.
  accessModes []s A | Ways the volume must be mountable.
  dataSource TypedLocalObjectReference | Existing snapshot or claim to populate from.
  dataSourceRef TypedObjectReference | Any populator object to fill the volume from.
  resources VolumeResourceRequirements | Minimum and maximum size.
  selector meta.LabelSelector | Labels of volumes that may be bound.
  storageClassName s | Storage class to use.
  volumeAttributesClassName s | VolumeAttributesClass to use.
  volumeMode s | Filesystem or Block.
  volumeName s | Name of a specific volume to bind.
T TypedLocalObjectReference mt=atomic | A typed reference within the namespace.
  apiGroup s | API group of the referent; empty for the core group.
  kind s req | Kind of the referent.
  name s req | Name of the referent.
T TypedObjectReference | A typed reference that may cross namespaces.
  apiGroup s | API group of the referent; empty for the core group.
  kind s req | Kind of the referent.
  name s req | Name of the referent.
  namespace s | Namespace of the referent.
T VolumeResourceRequirements | Storage resources of a claim.
  limits {}resource.Quantity | Maximum amounts.
  requests {}resource.Quantity | Minimum amounts.
T PersistentVolumeClaimStatus | Observed state of a claim.
  accessModes []s A | Access modes of the bound volume.
  allocatedResourceStatuses {}s mt=granular | State of resize operations per resource.
  allocatedResources {}resource.Quantity | Resources allocated to the claim.
  capacity {}resource.Quantity | Actual size of the bound volume.
  conditions []PersistentVolumeClaimCondition M=type | Current conditions.
  currentVolumeAttributesClassName s | VolumeAttributesClass in effect.
  modifyVolumeStatus ModifyVolumeStatus | State of a volume modification.
  phase s | Pending, Bound or Lost.
T PersistentVolumeClaimCondition | One condition of a claim.
  lastProbeTime meta.Time | When the condition was last checked.
  lastTransitionTime meta.Time | When the status last changed.
  message s | Human-readable details.
  reason s | CamelCase cause.
  status s req | True, False or Unknown.
  type s req | Condition type.
T ModifyVolumeStatus | State of a volume modification.
  status s req | Pending, InProgress or Infeasible.
  targetVolumeAttributesClassName s | Class being applied.
)SCHEMA";

}  // namespace korral::schema::internal
