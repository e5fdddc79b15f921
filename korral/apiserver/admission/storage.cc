// korral/apiserver/admission/storage.cc: DefaultStorageClass and StorageObjectInUseProtection.
#include "korral/apiserver/admission/storage.h"

#include <string>

#include "korral/api/resource.h"
#include "korral/apiserver/store.h"

namespace korral::apiserver::admission {
namespace {

using Json = nlohmann::json;

constexpr char kBetaClassAnnotation[] = "volume.beta.kubernetes.io/storage-class";

std::string Str(const Json& j, std::initializer_list<const char*> path) {
  const Json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return "";
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

bool IsDefault(const Json& sc) {
  return Str(sc, {"metadata", "annotations", "storageclass.kubernetes.io/is-default-class"}) ==
             "true" ||
         Str(sc, {"metadata", "annotations", "storageclass.beta.kubernetes.io/is-default-class"}) ==
             "true";
}

class DefaultStorageClassPlugin final : public Plugin {
 public:
  explicit DefaultStorageClassPlugin(StorageClassLister lister) : lister_(std::move(lister)) {}
  const char* Name() const override { return "DefaultStorageClass"; }

  absl::Status Admit(Request& r) override {
    if (!r.Is("", "persistentvolumeclaims") || r.op != Operation::kCreate || !r.object ||
        !r.subresource.empty()) {
      return absl::OkStatus();
    }
    Json& pvc = *r.object;
    // upstream PersistentVolumeClaimHasClass: the beta annotation or a non-nil
    // spec.storageClassName (even "") means the claim chose its class.
    const Json* ann = nullptr;
    if (pvc.contains("metadata") && pvc["metadata"].is_object() &&
        pvc["metadata"].contains("annotations") && pvc["metadata"]["annotations"].is_object() &&
        pvc["metadata"]["annotations"].contains(kBetaClassAnnotation)) {
      ann = &pvc["metadata"]["annotations"][kBetaClassAnnotation];
    }
    if (ann != nullptr) return absl::OkStatus();
    if (!pvc.contains("spec") || !pvc["spec"].is_object()) pvc["spec"] = Json::object();
    Json& spec = pvc["spec"];
    if (spec.contains("storageClassName") && !spec["storageClassName"].is_null()) {
      return absl::OkStatus();
    }
    std::vector<Json> classes = lister_();
    const Json* def = DefaultStorageClass(classes);
    if (def == nullptr) return absl::OkStatus();
    spec["storageClassName"] = Str(*def, {"metadata", "name"});
    return absl::OkStatus();
  }

 private:
  StorageClassLister lister_;
};

class StorageObjectInUseProtectionPlugin final : public Plugin {
 public:
  const char* Name() const override { return "StorageObjectInUseProtection"; }

  absl::Status Admit(Request& r) override {
    if (r.op != Operation::kCreate || !r.object || !r.subresource.empty()) {
      return absl::OkStatus();
    }
    const char* finalizer = nullptr;
    if (r.Is("", "persistentvolumeclaims")) finalizer = kPvcProtectionFinalizer;
    if (r.Is("", "persistentvolumes")) finalizer = kPvProtectionFinalizer;
    if (finalizer == nullptr) return absl::OkStatus();
    Json& obj = *r.object;
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
    Json& fin = obj["metadata"]["finalizers"];
    if (!fin.is_array()) fin = Json::array();
    for (const Json& f : fin) {
      if (f == finalizer) return absl::OkStatus();
    }
    fin.push_back(finalizer);
    return absl::OkStatus();
  }
};

}  // namespace

const Json* DefaultStorageClass(const std::vector<Json>& classes) {
  const Json* best = nullptr;
  for (const Json& sc : classes) {
    if (!IsDefault(sc)) continue;
    if (best == nullptr) {
      best = &sc;
      continue;
    }
    // The newest wins; with equal creation times, the first by name (upstream GetDefaultClass).
    std::string a = Str(sc, {"metadata", "creationTimestamp"});
    std::string b = Str(*best, {"metadata", "creationTimestamp"});
    if (a > b || (a == b && Str(sc, {"metadata", "name"}) < Str(*best, {"metadata", "name"}))) {
      best = &sc;
    }
  }
  return best;
}

std::unique_ptr<Plugin> NewDefaultStorageClass(StorageClassLister lister) {
  return std::make_unique<DefaultStorageClassPlugin>(std::move(lister));
}

std::unique_ptr<Plugin> NewStorageObjectInUseProtection() {
  return std::make_unique<StorageObjectInUseProtectionPlugin>();
}

std::unique_ptr<Plugin> NewStoragePlugin(const std::string& name, Store* store) {
  if (name == "StorageObjectInUseProtection") return NewStorageObjectInUseProtection();
  if (name != "DefaultStorageClass") return nullptr;
  return NewDefaultStorageClass([store]() -> std::vector<Json> {
    std::vector<Json> out;
    const api::ResourceType* t = api::FindResourceType("storage.k8s.io", "v1", "storageclasses");
    if (t == nullptr || store == nullptr) return out;
    auto list = store->List(*t, "", ListOptions{});
    if (!list.ok()) return out;
    for (const auto& item : list->items) out.push_back(item->object);
    return out;
  });
}

}  // namespace korral::apiserver::admission
