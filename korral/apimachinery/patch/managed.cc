#include "korral/apimachinery/patch/managed.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/patch/json_patch.h"

namespace korral::patch {
namespace {

// Drops from a field set of a whole object what field managers cannot own, as upstream strips
// it before tracking: apiVersion, kind, the server-owned metadata fields, and status or
// everything but status per the write's subresource. (Filtering the computed sets instead of
// copying the objects first: the objects are large, the sets of changes usually small.)
bool UntrackedTopLevel(const std::string& k, const ManagedOptions& opts) {
  return k == "f:apiVersion" || k == "f:kind" || (opts.ignore_status && k == "f:status") ||
         (opts.only_status && k != "f:status" && k != "f:metadata") ||
         (k.size() < 2 || k[0] != 'f');
}

constexpr const char* kUntrackedMetadata[] = {"f:name",
                                              "f:namespace",
                                              "f:uid",
                                              "f:resourceVersion",
                                              "f:creationTimestamp",
                                              "f:generation",
                                              "f:managedFields",
                                              "f:selfLink",
                                              "f:deletionTimestamp",
                                              "f:deletionGracePeriodSeconds"};

void DropUntracked(FieldSet& fs, const ManagedOptions& opts) {
  fs.member = false;
  for (auto it = fs.children.begin(); it != fs.children.end();) {
    it = UntrackedTopLevel(it->first, opts) ? fs.children.erase(it) : std::next(it);
  }
  auto m = fs.children.find("f:metadata");
  if (m == fs.children.end()) return;
  for (const char* f : kUntrackedMetadata) m->second.children.erase(f);
  if (m->second.Empty()) fs.children.erase(m);
}

// DropUntracked + DropMetadataMember on the FieldsV1 form of a whole object.
void DropUntrackedV1(Json& fields_v1, const ManagedOptions& opts) {
  auto& top = fields_v1.get_ref<Json::object_t&>();
  for (auto it = top.begin(); it != top.end();) {
    it = UntrackedTopLevel(it->first, opts) ? top.erase(it) : std::next(it);
  }
  auto m = top.find("f:metadata");
  if (m == top.end()) return;
  auto& meta = m->second.get_ref<Json::object_t&>();
  for (const char* f : kUntrackedMetadata) meta.erase(f);
  meta.erase(".");  // metadata itself is never a member
  if (meta.empty()) top.erase(m);
}

// Compare and ToFieldSet of the trackable parts of whole objects.
Comparison CompareTracked(const Json& old_obj, const Json& new_obj, const schema::Schema* type,
                          const ManagedOptions& opts) {
  static const Json kEmpty = Json::object();
  Comparison c =
      Compare(old_obj.is_object() ? old_obj : kEmpty, new_obj.is_object() ? new_obj : kEmpty, type);
  DropUntracked(c.added, opts);
  DropUntracked(c.modified, opts);
  DropUntracked(c.removed, opts);
  return c;
}

FieldSet TrackedFieldSet(const Json& obj, const schema::Schema* type, const ManagedOptions& opts) {
  FieldSet fs = ToFieldSet(obj.is_object() ? obj : Json::object(), type);
  DropUntracked(fs, opts);
  return fs;
}

// metadata itself is never a member (only its fields are).
void DropMetadataMember(FieldSet& fs) {
  auto it = fs.children.find("f:metadata");
  if (it == fs.children.end()) return;
  it->second.member = false;
  if (it->second.Empty()) fs.children.erase(it);
}

size_t FindEntry(std::vector<ManagedEntry>& entries, const ManagedOptions& opts,
                 std::string_view operation) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.manager == opts.manager && e.operation == operation &&
        e.subresource == opts.subresource) {
      return i;
    }
  }
  ManagedEntry e;
  e.manager = opts.manager;
  e.operation = std::string(operation);
  e.api_version = opts.api_version;
  e.subresource = opts.subresource;
  entries.push_back(std::move(e));
  return entries.size() - 1;
}

std::vector<ManagedEntry> DecodeOrEmpty(const Json& obj) {
  auto r = DecodeManagedFields(obj);
  // Upstream resets managedFields it cannot decode instead of failing the write.
  return r.ok() ? std::move(*r) : std::vector<ManagedEntry>{};
}

void DropEmpty(std::vector<ManagedEntry>& entries) {
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const ManagedEntry& e) { return e.fields.Empty(); }),
                entries.end());
}

std::string PrintManager(const ManagedEntry& e) {
  std::string s = fmt::format("\"{}\"", e.manager);
  if (!e.subresource.empty()) s += fmt::format(" with subresource \"{}\"", e.subresource);
  if (e.operation == "Update") s += " using " + e.api_version;
  return s;
}

absl::Status ConflictError(const std::vector<std::pair<const ManagedEntry*, FieldSet>>& conflicts) {
  Json causes = Json::array();
  std::vector<std::string> lines;
  size_t total = 0;
  std::string single;
  auto sorted = conflicts;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first->manager < b.first->manager; });
  for (const auto& [entry, set] : sorted) {
    std::string pm = PrintManager(*entry);
    lines.push_back(fmt::format("conflicts with {}:", pm));
    for (const auto& path : set.PathStrings()) {
      causes.push_back({{"reason", "FieldManagerConflict"},
                        {"message", fmt::format("conflict with {}", pm)},
                        {"field", path}});
      lines.push_back("- " + path);
      single = fmt::format("conflict with {}: {}", pm, path);
      ++total;
    }
  }
  std::string message;
  if (total == 1) {
    message = "Apply failed with 1 conflict: " + single;
  } else {
    message = fmt::format("Apply failed with {} conflicts: ", total);
    for (size_t i = 0; i < lines.size(); ++i) message += (i ? "\n" : "") + lines[i];
  }
  Json status = {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", "Conflict"},
                 {"details", {{"causes", causes}}},
                 {"code", 409}};
  return apierrors::FromStatusObject(absl::StatusCode::kAborted, status);
}

}  // namespace

absl::StatusOr<std::vector<ManagedEntry>> DecodeManagedFields(const Json& obj) {
  std::vector<ManagedEntry> out;
  if (!obj.is_object()) return out;
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return out;
  auto mf = meta->find("managedFields");
  if (mf == meta->end() || mf->is_null()) return out;
  if (!mf->is_array()) return apierrors::NewBadRequest("metadata.managedFields must be a list");
  for (const auto& e : *mf) {
    if (!e.is_object()) return apierrors::NewBadRequest("managedFields entries must be objects");
    ManagedEntry me;
    me.manager = e.value("manager", "");
    me.operation = e.value("operation", "");
    me.api_version = e.value("apiVersion", "");
    me.subresource = e.value("subresource", "");
    me.time = e.contains("time") && e["time"].is_string() ? e["time"].get<std::string>() : "";
    if (me.operation != "Apply" && me.operation != "Update") {
      return apierrors::NewBadRequest(
          fmt::format("managedFields: unsupported operation \"{}\"", me.operation));
    }
    if (auto f = e.find("fieldsV1"); f != e.end() && !f->is_null()) {
      auto fs = FieldSet::FromFieldsV1(*f);
      if (!fs.ok()) return fs.status();
      me.fields = std::move(*fs);
    }
    out.push_back(std::move(me));
  }
  return out;
}

void EncodeManagedFields(std::vector<ManagedEntry> entries, Json& obj) {
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  if (entries.empty()) {
    meta.erase("managedFields");
    return;
  }
  std::sort(entries.begin(), entries.end(), [](const ManagedEntry& p, const ManagedEntry& q) {
    if (p.operation != q.operation) return p.operation < q.operation;
    if (p.time != q.time) return p.time < q.time;
    if (p.manager != q.manager) return p.manager < q.manager;
    if (p.api_version != q.api_version) return p.api_version < q.api_version;
    return p.subresource < q.subresource;
  });
  Json list = Json::array();
  for (const auto& e : entries) {
    Json j = {{"manager", e.manager},        {"operation", e.operation},
              {"apiVersion", e.api_version}, {"time", e.time},
              {"fieldsType", "FieldsV1"},    {"fieldsV1", e.fields.ToFieldsV1()}};
    if (!e.subresource.empty()) j["subresource"] = e.subresource;
    list.push_back(std::move(j));
  }
  meta["managedFields"] = std::move(list);
}

absl::Status RecordUpdate(const Json* old, Json& obj, const schema::Schema* type,
                          const ManagedOptions& opts) {
  if (!obj.is_object()) return absl::OkStatus();
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  if (!meta.contains("managedFields") && old && old->is_object() && old->contains("metadata") &&
      (*old)["metadata"].contains("managedFields")) {
    meta["managedFields"] = (*old)["metadata"]["managedFields"];
  }
  std::vector<ManagedEntry> entries = DecodeOrEmpty(obj);
  if (!old && entries.empty()) {
    // A create without managedFields in the body (nearly all of them): the writer owns every
    // tracked field. Same result as the general path below, built in one walk.
    Json fields = AllPathsFieldsV1(obj, type);
    DropUntrackedV1(fields, opts);
    if (fields.empty()) {
      meta.erase("managedFields");
      return absl::OkStatus();
    }
    Json e = {{"manager", opts.manager},        {"operation", "Update"},
              {"apiVersion", opts.api_version}, {"time", opts.now},
              {"fieldsType", "FieldsV1"},       {"fieldsV1", std::move(fields)}};
    if (!opts.subresource.empty()) e["subresource"] = opts.subresource;
    meta["managedFields"] = Json::array({std::move(e)});
    return absl::OkStatus();
  }
  static const Json kEmpty = Json::object();
  Comparison c = CompareTracked(old ? *old : kEmpty, obj, type, opts);
  // In-place set algebra: on a create the sets hold every field of the object, and copying
  // them was most of the cost of a write.
  FieldSet changed = std::move(c.added);
  changed.UnionWith(std::move(c.modified));
  DropMetadataMember(changed);
  size_t mine = FindEntry(entries, opts, "Update");
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == mine) continue;
    entries[i].fields.Subtract(changed);
    entries[i].fields.Subtract(c.removed);
  }
  ManagedEntry& me = entries[mine];
  FieldSet updated;
  if (me.fields.Empty()) {
    updated = std::move(changed);
  } else {
    updated = me.fields.Difference(c.removed);
    updated.UnionWith(std::move(changed));
  }
  if (!(updated == me.fields) || me.time.empty()) me.time = opts.now;
  me.fields = std::move(updated);
  me.api_version = opts.api_version;
  DropEmpty(entries);
  EncodeManagedFields(std::move(entries), obj);
  return absl::OkStatus();
}

absl::StatusOr<Json> Apply(const Json* live, const Json& config, const schema::Schema* type,
                           const ManagedOptions& opts, bool force) {
  if (!config.is_object()) {
    return apierrors::NewBadRequest(
        "error decoding YAML: the apply configuration is not an object");
  }
  if (auto s = CheckPatchDepth(config); !s.ok()) return s;
  if (auto m = config.find("metadata"); m != config.end()) {
    if (!m->is_object()) return apierrors::NewBadRequest("metadata must be an object");
    if (auto mf = m->find("managedFields"); mf != m->end() && !mf->is_null()) {
      return apierrors::NewBadRequest("metadata.managedFields must be nil");
    }
  }
  std::string api_version = config.value("apiVersion", "");
  std::string kind = config.value("kind", "");
  if (kind.empty()) {
    return apierrors::NewBadRequest(fmt::format("Object 'Kind' is missing in '{}'", config.dump()));
  }
  if (api_version != opts.api_version) {
    return apierrors::NewBadRequest(
        fmt::format("Incorrect version specified in apply patch. Specified patch version: {}, "
                    "expected: {}",
                    api_version, opts.api_version));
  }
  if (kind != opts.kind) {
    return apierrors::NewBadRequest(fmt::format(
        "the kind in the apply patch ({}) does not match the expected kind ({})", kind, opts.kind));
  }
  static const Json kNoObject = Json::object();
  const Json& base = live ? *live : kNoObject;
  std::vector<ManagedEntry> entries = DecodeOrEmpty(base);
  if (live && entries.empty()) {
    // An object written before field tracking: its fields belong to "before-first-apply".
    FieldSet all = TrackedFieldSet(base, type, opts);
    DropMetadataMember(all);
    if (!all.Empty()) {
      entries.push_back({"before-first-apply", "Update", opts.api_version, "", opts.now, all});
    }
  }
  Json merged = MergeApply(base, config, type);
  FieldSet set = TrackedFieldSet(config, type, opts);
  DropMetadataMember(set);
  size_t mine = FindEntry(entries, opts, "Apply");
  const FieldSet& last = entries[mine].fields;
  if (!last.Empty()) {
    FieldSet remove = last.Difference(set);
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i != mine) remove.Subtract(entries[i].fields);
    }
    if (!remove.Empty()) RemoveItems(merged, remove, type);
  }
  Comparison c = CompareTracked(base, merged, type, opts);
  FieldSet changed = std::move(c.added);
  changed.UnionWith(std::move(c.modified));
  std::vector<std::pair<const ManagedEntry*, FieldSet>> conflicts;
  std::vector<FieldSet> conflict_sets(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == mine) continue;
    conflict_sets[i] = entries[i].fields.Intersection(changed);
    if (!conflict_sets[i].Empty()) conflicts.emplace_back(&entries[i], conflict_sets[i]);
  }
  if (!force && !conflicts.empty()) return ConflictError(conflicts);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == mine) continue;
    entries[i].fields.Subtract(conflict_sets[i]);
    entries[i].fields.Subtract(c.removed);
  }
  ManagedEntry& me = entries[mine];
  if (!(me.fields == set) || me.time.empty()) me.time = opts.now;
  me.fields = std::move(set);
  me.api_version = opts.api_version;
  DropEmpty(entries);
  EncodeManagedFields(std::move(entries), merged);
  return merged;
}

std::string ManagerFromUserAgent(std::string_view ua) {
  std::string out;
  for (char c : ua.substr(0, ua.find('/'))) {
    if (out.size() >= 128) break;
    if (!std::isprint(static_cast<unsigned char>(c))) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace korral::patch
