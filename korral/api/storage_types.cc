// korral/api/storage_types.cc: storage.k8s.io/v1 resource types (StorageClass, CSIDriver,
// CSINode, VolumeAttachment), with upstream's defaults (pkg/apis/storage/v1/defaults.go),
// validation (pkg/apis/storage/validation) and kubectl printer columns.
#include <cctype>
#include <set>

#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;
using Clock = std::chrono::system_clock;

constexpr char kGroup[] = "storage.k8s.io";
constexpr char kDefaultClassAnnotation[] = "storageclass.kubernetes.io/is-default-class";
constexpr char kBetaDefaultClassAnnotation[] = "storageclass.beta.kubernetes.io/is-default-class";
constexpr int64_t kMaxParameterSize = 256 * 1024;
constexpr size_t kMaxParameterCount = 512;
constexpr size_t kCsiNodeIdMaxLength = 192;
constexpr size_t kCsiDriverNameMaxLength = 63;

ResourceType Make(std::string kind, std::string resource, std::string singular,
                  std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.gvk = GroupVersionKind{kGroup, "v1", kind};
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.list_kind = kind + "List";
  t.namespaced = false;
  t.short_names = std::move(short_names);
  t.verbs = FullVerbs();
  return t;
}

TableColumn NameColumn() {
  return {"Name", "string", "name",
          "Name must be unique within a namespace. It identifies the object.", 0};
}
TableColumn AgeColumn() {
  return {"Age", "string", "",
          "CreationTimestamp is the time the object was created, shown as an age.", 0};
}
TableColumn Column(std::string name, std::string desc, std::string type = "string") {
  return {std::move(name), std::move(type), "", std::move(desc), 0};
}
Json AgeCell(const Json& o, Clock::time_point now) {
  auto created = ParseTime(GetString(o, {"metadata", "creationTimestamp"}));
  if (!created) return "<unknown>";
  return HumanDuration(now - *created);
}
std::string BoolCell(bool b) { return b ? "true" : "false"; }

// upstream storageutil.IsDefaultAnnotation: either annotation set to "true".
bool IsDefaultClass(const Json& o) {
  const Json& ann = GetObject(o, {"metadata", "annotations"});
  return GetString(ann, {kDefaultClassAnnotation}) == "true" ||
         GetString(ann, {kBetaDefaultClassAnnotation}) == "true";
}

// upstream ValidateCSIDriverName: a lowercase DNS subdomain of at most 63 characters.
std::vector<std::string> CsiDriverNameMessages(std::string_view name) {
  std::vector<std::string> out;
  if (name.size() > kCsiDriverNameMaxLength) {
    out.push_back(
        Cat("must be no more than ", static_cast<int64_t>(kCsiDriverNameMaxLength), " characters"));
  }
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& m : v::IsDns1123Subdomain(lower)) out.push_back(m);
  return out;
}

void ValidateCsiDriverName(std::string_view name, const std::string& path, Causes* out) {
  if (name.empty()) {
    out->push_back(v::Required(path));
    return;
  }
  for (auto& m : CsiDriverNameMessages(name)) out->push_back(v::Invalid(path, Json(name), m));
}

// ---------------- StorageClass ----------------

void ValidateAllowedTopologies(const Json& terms, Causes* out) {
  if (!terms.is_array()) return;
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string p = v::Index("allowedTopologies", i);
    const Json& exprs = GetArray(terms[i], {"matchLabelExpressions"});
    if (exprs.empty()) {
      out->push_back(v::Required(v::Child(p, "matchLabelExpressions"),
                                 "must contain at least one requirement"));
    }
    std::set<std::string> keys;
    for (size_t j = 0; j < exprs.size(); ++j) {
      std::string ep = v::Index(v::Child(p, "matchLabelExpressions"), j);
      std::string key = GetString(exprs[j], {"key"});
      for (auto& m : v::IsQualifiedName(key))
        out->push_back(v::Invalid(v::Child(ep, "key"), key, m));
      if (!keys.insert(key).second) out->push_back(v::Duplicate(v::Child(ep, "key"), key));
      const Json& values = GetArray(exprs[j], {"values"});
      if (values.empty()) {
        out->push_back(v::Required(v::Child(ep, "values"), "must specify as least one value"));
      }
      std::set<std::string> seen;
      for (size_t k = 0; k < values.size(); ++k) {
        std::string val = values[k].is_string() ? values[k].get<std::string>() : "";
        if (!seen.insert(val).second) {
          out->push_back(v::Duplicate(v::Index(v::Child(ep, "values"), k), val));
        }
      }
    }
  }
}

ResourceType StorageClasses() {
  ResourceType t = Make("StorageClass", "storageclasses", "storageclass", {"sc"});
  t.apply_defaults = [](Json& o) {
    SetDefaultString(o, "reclaimPolicy", "Delete");
    SetDefaultString(o, "volumeBindingMode", "Immediate");
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    std::string prov = GetString(o, {"provisioner"});
    if (prov.empty()) {
      out.push_back(v::Required("provisioner"));
    } else {
      std::string lower = prov;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (auto& m : v::IsQualifiedName(lower)) out.push_back(v::Invalid("provisioner", prov, m));
    }
    const Json& params = GetObject(o, {"parameters"});
    if (params.size() > kMaxParameterCount) {
      out.push_back(v::TooLong("parameters", kMaxParameterCount));
    } else {
      int64_t total = 0;
      for (auto it = params.begin(); it != params.end(); ++it) {
        if (it.key().empty())
          out.push_back(v::Invalid("parameters", "", "field can not be empty."));
        total += static_cast<int64_t>(it.key().size()) +
                 (it.value().is_string() ? static_cast<int64_t>(it->get<std::string>().size()) : 0);
      }
      if (total > kMaxParameterSize) out.push_back(v::TooLong("parameters", kMaxParameterSize));
    }
    std::string rp = GetString(o, {"reclaimPolicy"});
    if (rp != "Delete" && rp != "Retain") {
      out.push_back(v::NotSupported("reclaimPolicy", rp, {"Delete", "Retain"}));
    }
    std::string mode = GetString(o, {"volumeBindingMode"});
    if (mode.empty()) {
      out.push_back(v::Required("volumeBindingMode"));
    } else if (mode != "Immediate" && mode != "WaitForFirstConsumer") {
      out.push_back(
          v::NotSupported("volumeBindingMode", mode, {"Immediate", "WaitForFirstConsumer"}));
    }
    if (Has(o, {"allowedTopologies"})) ValidateAllowedTopologies(o["allowedTopologies"], &out);
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      if (GetObject(o, {"parameters"}) != GetObject(*old, {"parameters"})) {
        out.push_back(v::Forbidden("parameters", "updates to parameters are forbidden."));
      }
      if (prov != GetString(*old, {"provisioner"})) {
        out.push_back(v::Forbidden("provisioner", "updates to provisioner are forbidden."));
      }
      if (rp != GetString(*old, {"reclaimPolicy"})) {
        out.push_back(v::Forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
      }
      if (mode != GetString(*old, {"volumeBindingMode"})) {
        out.push_back(v::Immutable("volumeBindingMode", mode));
      }
    }
    return out;
  };
  t.columns = {NameColumn(),
               Column("Provisioner", "Provisioner indicates the type of the provisioner."),
               Column("ReclaimPolicy",
                      "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
                      "PersistentVolumes of this storage class."),
               Column("VolumeBindingMode",
                      "volumeBindingMode indicates how PersistentVolumeClaims should be "
                      "provisioned and bound."),
               Column("AllowVolumeExpansion",
                      "allowVolumeExpansion shows whether the storage class allows volume expand."),
               AgeColumn()};
  t.row_cells = [](const Json& o, Clock::time_point now) {
    std::string name = GetString(o, {"metadata", "name"});
    if (IsDefaultClass(o)) name += " (default)";
    return Json::array({name, GetString(o, {"provisioner"}),
                        GetString(o, {"reclaimPolicy"}, "Delete"),
                        GetString(o, {"volumeBindingMode"}, "Immediate"),
                        BoolCell(GetBool(o, {"allowVolumeExpansion"})), AgeCell(o, now)});
  };
  return t;
}

// ---------------- CSIDriver ----------------

ResourceType CsiDrivers() {
  ResourceType t = Make("CSIDriver", "csidrivers", "csidriver");
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefault(spec, "attachRequired", true);
    SetDefault(spec, "podInfoOnMount", false);
    SetDefault(spec, "storageCapacity", false);
    SetDefault(spec, "requiresRepublish", false);
    SetDefaultString(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
    if (!spec.contains("volumeLifecycleModes") || spec["volumeLifecycleModes"].is_null() ||
        (spec["volumeLifecycleModes"].is_array() && spec["volumeLifecycleModes"].empty())) {
      spec["volumeLifecycleModes"] = Json::array({"Persistent"});
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, CsiDriverNameMessages, &out);
    const Json& spec = GetObject(o, {"spec"});
    for (const char* f :
         {"attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish"}) {
      if (!Has(spec, {f})) out.push_back(v::Required(v::Child("spec", f)));
    }
    std::string fsg = GetString(spec, {"fsGroupPolicy"});
    if (!fsg.empty() && fsg != "ReadWriteOnceWithFSType" && fsg != "File" && fsg != "None") {
      out.push_back(
          v::NotSupported("spec.fsGroupPolicy", fsg, {"File", "None", "ReadWriteOnceWithFSType"}));
    }
    const Json& modes = GetArray(spec, {"volumeLifecycleModes"});
    for (size_t i = 0; i < modes.size(); ++i) {
      std::string m = modes[i].is_string() ? modes[i].get<std::string>() : "";
      if (m != "Persistent" && m != "Ephemeral") {
        out.push_back(v::NotSupported("spec.volumeLifecycleModes", m, {"Ephemeral", "Persistent"}));
      }
    }
    const Json& tokens = GetArray(spec, {"tokenRequests"});
    std::set<std::string> audiences;
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string aud = GetString(tokens[i], {"audience"});
      if (!audiences.insert(aud).second) {
        out.push_back(v::Duplicate(v::Child(v::Index("spec.tokenRequests", i), "audience"), aud));
      }
      if (Has(tokens[i], {"expirationSeconds"})) {
        int64_t s = GetInt(tokens[i], {"expirationSeconds"});
        if (s < 600) {
          out.push_back(v::Invalid(v::Child(v::Index("spec.tokenRequests", i), "expirationSeconds"),
                                   s, "may not specify a duration less than 10 minutes"));
        }
      }
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      const Json& old_spec = GetObject(*old, {"spec"});
      for (const char* f : {"attachRequired", "volumeLifecycleModes"}) {
        const Json* a = Get(spec, {f});
        const Json* b = Get(old_spec, {f});
        if ((a == nullptr) != (b == nullptr) || (a != nullptr && *a != *b)) {
          out.push_back(v::Immutable(v::Child("spec", f), a == nullptr ? Json() : *a));
        }
      }
    }
    return out;
  };
  t.columns = {
      NameColumn(),
      Column("AttachRequired", "Whether the driver requires an attach operation."),
      Column("PodInfoOnMount", "Whether pod information is passed to the driver on mount."),
      Column("StorageCapacity", "Whether the driver publishes CSIStorageCapacity objects."),
      Column("TokenRequests", "Audiences of the service account tokens passed to the driver."),
      Column("RequiresRepublish", "Whether NodePublishVolume is called periodically."),
      Column("Modes", "The volume lifecycle modes the driver supports."),
      AgeColumn()};
  t.row_cells = [](const Json& o, Clock::time_point now) {
    const Json& spec = GetObject(o, {"spec"});
    std::string tokens = "<unset>";
    if (Has(spec, {"tokenRequests"})) {
      tokens.clear();
      for (const Json& r : GetArray(spec, {"tokenRequests"})) {
        if (!tokens.empty()) tokens += ",";
        tokens += GetString(r, {"audience"});
      }
    }
    std::string modes;
    for (const Json& m : GetArray(spec, {"volumeLifecycleModes"})) {
      if (!modes.empty()) modes += ",";
      if (m.is_string()) modes += m.get<std::string>();
    }
    return Json::array(
        {GetString(o, {"metadata", "name"}), BoolCell(GetBool(spec, {"attachRequired"}, true)),
         BoolCell(GetBool(spec, {"podInfoOnMount"})), BoolCell(GetBool(spec, {"storageCapacity"})),
         tokens, BoolCell(GetBool(spec, {"requiresRepublish"})), modes, AgeCell(o, now)});
  };
  return t;
}

// ---------------- CSINode ----------------

ResourceType CsiNodes() {
  ResourceType t = Make("CSINode", "csinodes", "csinode");
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    const Json& drivers = GetArray(o, {"spec", "drivers"});
    std::set<std::string> names;
    for (size_t i = 0; i < drivers.size(); ++i) {
      std::string p = v::Index("spec.drivers", i);
      std::string name = GetString(drivers[i], {"name"});
      ValidateCsiDriverName(name, v::Child(p, "name"), &out);
      if (!name.empty() && !names.insert(name).second) {
        out.push_back(v::Duplicate(v::Child(p, "name"), name));
      }
      std::string node_id = GetString(drivers[i], {"nodeID"});
      if (node_id.empty()) {
        out.push_back(v::Required(v::Child(p, "nodeID")));
      } else if (node_id.size() > kCsiNodeIdMaxLength) {
        out.push_back(v::Invalid(v::Child(p, "nodeID"), node_id, "must be 192 characters or less"));
      }
      std::set<std::string> keys;
      const Json& tk = GetArray(drivers[i], {"topologyKeys"});
      for (size_t j = 0; j < tk.size(); ++j) {
        std::string key = tk[j].is_string() ? tk[j].get<std::string>() : "";
        std::string kp = v::Index(v::Child(p, "topologyKeys"), j);
        if (key.empty()) out.push_back(v::Required(kp));
        if (!keys.insert(key).second) out.push_back(v::Duplicate(kp, key));
        for (auto& m : v::IsQualifiedName(key)) out.push_back(v::Invalid(kp, key, m));
      }
      if (Has(drivers[i], {"allocatable", "count"})) {
        int64_t n = GetInt(drivers[i], {"allocatable", "count"});
        if (n < 0) {
          out.push_back(v::Invalid(v::Child(p, "allocatable.count"), n,
                                   "must be greater than or equal to 0"));
        }
      }
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      // upstream ValidateCSINodeUpdate: a driver that stays may not change.
      for (const Json& od : GetArray(*old, {"spec", "drivers"})) {
        std::string name = GetString(od, {"name"});
        for (size_t i = 0; i < drivers.size(); ++i) {
          if (GetString(drivers[i], {"name"}) != name) continue;
          std::string p = v::Index("spec.drivers", i);
          if (GetString(drivers[i], {"nodeID"}) != GetString(od, {"nodeID"})) {
            out.push_back(v::Invalid(v::Child(p, "nodeID"), GetString(drivers[i], {"nodeID"}),
                                     "field is immutable"));
          }
          if (GetArray(drivers[i], {"topologyKeys"}) != GetArray(od, {"topologyKeys"})) {
            out.push_back(v::Invalid(v::Child(p, "topologyKeys"),
                                     GetArray(drivers[i], {"topologyKeys"}), "field is immutable"));
          }
        }
      }
    }
    return out;
  };
  t.columns = {
      NameColumn(),
      Column("Drivers", "Drivers indicates the number of CSI drivers registered on the node",
             "integer"),
      AgeColumn()};
  t.row_cells = [](const Json& o, Clock::time_point now) {
    return Json::array({GetString(o, {"metadata", "name"}),
                        static_cast<int64_t>(GetArray(o, {"spec", "drivers"}).size()),
                        AgeCell(o, now)});
  };
  return t;
}

// ---------------- VolumeAttachment ----------------

ResourceType VolumeAttachments() {
  ResourceType t = Make("VolumeAttachment", "volumeattachments", "volumeattachment");
  t.subresources = {
      Subresource{"status", GroupVersionKind{kGroup, "v1", "VolumeAttachment"}, StatusVerbs()}};
  t.has_status_subresource = true;
  t.prepare_for_create = [](Json& o) {
    if (o.contains("status")) o.erase("status");
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    const Json& spec = GetObject(o, {"spec"});
    ValidateCsiDriverName(GetString(spec, {"attacher"}), "spec.attacher", &out);
    std::string node = GetString(spec, {"nodeName"});
    if (node.empty()) {
      out.push_back(v::Required("spec.nodeName"));
    } else {
      for (auto& m : v::IsDns1123Subdomain(node))
        out.push_back(v::Invalid("spec.nodeName", node, m));
    }
    const Json& source = GetObject(spec, {"source"});
    int n = 0;
    if (Has(source, {"persistentVolumeName"})) {
      ++n;
      std::string pv = GetString(source, {"persistentVolumeName"});
      if (pv.empty()) out.push_back(v::Required("spec.source.persistentVolumeName"));
      for (auto& m : v::IsDns1123Subdomain(pv)) {
        if (!pv.empty()) out.push_back(v::Invalid("spec.source.persistentVolumeName", pv, m));
      }
    }
    if (Has(source, {"inlineVolumeSpec"})) ++n;
    if (n == 0) {
      out.push_back(v::Required("spec.source",
                                "must specify exactly one of inlineVolumeSpec and "
                                "persistentVolumeName"));
    } else if (n > 1) {
      out.push_back(v::Forbidden("spec.source",
                                 "must specify exactly one of inlineVolumeSpec and "
                                 "persistentVolumeName"));
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      if (spec != GetObject(*old, {"spec"}))
        out.push_back(v::Invalid("spec", spec, "field is immutable"));
    }
    return out;
  };
  t.columns = {NameColumn(),
               Column("Attacher", "Name of the CSI driver that attaches the volume."),
               Column("PV", "Name of the PersistentVolume to attach."),
               Column("Node", "The node the volume is attached to."),
               Column("Attached", "Whether the volume is attached.", "boolean"),
               AgeColumn()};
  t.row_cells = [](const Json& o, Clock::time_point now) {
    const Json& spec = GetObject(o, {"spec"});
    return Json::array({GetString(o, {"metadata", "name"}), GetString(spec, {"attacher"}),
                        GetString(spec, {"source", "persistentVolumeName"}),
                        GetString(spec, {"nodeName"}), GetBool(o, {"status", "attached"}),
                        AgeCell(o, now)});
  };
  return t;
}

}  // namespace

void AddStorageTypes(std::vector<ResourceType>& out) {
  out.push_back(StorageClasses());
  out.push_back(CsiDrivers());
  out.push_back(CsiNodes());
  out.push_back(VolumeAttachments());
}

}  // namespace korral::api::internal
