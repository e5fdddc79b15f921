// korral/apiserver/admission/storage.h: the storage admission plugins (upstream
// plugin/pkg/admission/storage):
//   DefaultStorageClass           a PersistentVolumeClaim created without a class (no
//                                 spec.storageClassName, no beta annotation) gets the default
//                                 StorageClass (annotation storageclass.kubernetes.io/
//                                 is-default-class=true; with several, the newest, then the
//                                 first by name, as upstream's GetDefaultClass).
//   StorageObjectInUseProtection  new claims get the kubernetes.io/pvc-protection finalizer and
//                                 new volumes kubernetes.io/pv-protection (the pvc-protection and
//                                 pv-protection controllers remove them when safe).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apiserver/admission/admission.h"

namespace korral::apiserver::admission {

inline constexpr char kPvcProtectionFinalizer[] = "kubernetes.io/pvc-protection";
inline constexpr char kPvProtectionFinalizer[] = "kubernetes.io/pv-protection";

// Lists the StorageClasses (tests pass their own).
using StorageClassLister = std::function<std::vector<nlohmann::json>()>;
std::unique_ptr<Plugin> NewDefaultStorageClass(StorageClassLister lister);
std::unique_ptr<Plugin> NewStorageObjectInUseProtection();

// The plugin named `name` ("DefaultStorageClass" or "StorageObjectInUseProtection") reading
// classes from `store`; null for another name.
std::unique_ptr<Plugin> NewStoragePlugin(const std::string& name, Store* store);

// The default class among `classes` (null when none is marked default).
const nlohmann::json* DefaultStorageClass(const std::vector<nlohmann::json>& classes);

}  // namespace korral::apiserver::admission
