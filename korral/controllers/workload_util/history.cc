// korral/controllers/workload_util/history.cc
#include "korral/controllers/workload_util/history.h"

#include <algorithm>

#include <fmt/format.h>

#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers::workload {

Json RevisionPatch(const Json& owner) {
  Json tmpl = At(owner, {"spec", "template"});
  if (!tmpl.is_object()) tmpl = Json::object();
  tmpl["$patch"] = "replace";
  return Json{{"spec", {{"template", tmpl}}}};
}

absl::StatusOr<History> ConstructHistory(client::Client& client, client::SharedInformer* informer,
                                         const Json& owner, const std::string& owner_kind,
                                         const labels::LabelSelector& selector,
                                         int64_t* collision_count) {
  const std::string ns = NamespaceOf(owner);
  ClaimSpec claim{
      .owner = &owner,
      .owner_api_version = "apps/v1",
      .owner_kind = owner_kind,
      .selector = selector,
      .child_ref = ControllerRevisionsRef(),
      .can_adopt = RecheckOwner(
          client, owner_kind == "DaemonSet" ? DaemonSetsRef() : StatefulSetsRef(), owner)};
  absl::Status err;
  auto claimed = ClaimObjects(client, claim, informer->indexer().ListNamespace(ns), &err);
  if (!err.ok()) return err;
  History h;
  for (const ObjectPtr& r : claimed) h.revisions.push_back(*r);
  std::sort(h.revisions.begin(), h.revisions.end(), [](const Json& a, const Json& b) {
    if (Int(a, {"revision"}) == Int(b, {"revision"})) return CreationTime(a) < CreationTime(b);
    return Int(a, {"revision"}) < Int(b, {"revision"});
  });
  int64_t max_revision = h.revisions.empty() ? 0 : Int(h.revisions.back(), {"revision"});
  Json patch = RevisionPatch(owner);
  std::optional<int64_t> cc;
  if (*collision_count > 0) cc = *collision_count;
  h.hash = ComputeHash(At(owner, {"spec", "template"}), cc);
  for (const Json& r : h.revisions) {
    if (At(r, {"data"}) == patch) {
      h.current = r;
      h.hash = Str(r, {"metadata", "labels", kControllerRevisionHashLabel}, h.hash);
    }
  }
  if (!h.current.is_null()) {
    if (Int(h.current, {"revision"}) < max_revision) {
      Json copy = h.current;
      copy["revision"] = max_revision + 1;
      KORRAL_ASSIGN_OR_RETURN(h.current, client.Update(ControllerRevisionsRef(), ns, copy));
      for (Json& r : h.revisions) {
        if (UidOf(r) == UidOf(h.current)) r = h.current;
      }
    }
    return h;
  }
  Json labels_json = At(owner, {"spec", "template", "metadata", "labels"});
  if (!labels_json.is_object()) labels_json = Json::object();
  labels_json[kControllerRevisionHashLabel] = h.hash;
  Json rev = {{"apiVersion", "apps/v1"},
              {"kind", "ControllerRevision"},
              {"metadata",
               {{"name", NameOf(owner) + "-" + h.hash},
                {"namespace", ns},
                {"labels", labels_json},
                {"ownerReferences", {NewControllerRef(owner, "apps/v1", owner_kind)}}}},
              {"data", patch},
              {"revision", max_revision + 1}};
  if (At(owner, {"metadata", "annotations"}).is_object()) {
    rev["metadata"]["annotations"] = owner["metadata"]["annotations"];
  }
  auto created = client.Create(ControllerRevisionsRef(), ns, rev);
  if (created.ok()) {
    h.current = *created;
    h.revisions.push_back(h.current);
    return h;
  }
  if (!client::IsAlreadyExists(created.status())) return created.status();
  auto existing = client.Get(ControllerRevisionsRef(), ns, NameOf(rev));
  if (!existing.ok()) return existing.status();
  const Json* ref = ControllerRefOf(*existing);
  if (ref != nullptr && ref->value("uid", "") == UidOf(owner) && At(*existing, {"data"}) == patch) {
    h.current = *existing;
    h.revisions.push_back(h.current);
    return h;
  }
  // A hash collision: the caller records the new collisionCount and retries.
  (*collision_count)++;
  return absl::AlreadyExistsError(
      absl::string_view(fmt::format("controller revision {} exists with other data", NameOf(rev))));
}

absl::Status TruncateHistory(client::Client& client, const History& history,
                             const std::set<std::string>& live_hashes, int64_t limit) {
  std::vector<const Json*> candidates;
  for (const Json& r : history.revisions) {
    if (UidOf(r) == UidOf(history.current)) continue;
    if (live_hashes.count(Str(r, {"metadata", "labels", kControllerRevisionHashLabel}))) continue;
    candidates.push_back(&r);
  }
  int64_t excess = static_cast<int64_t>(candidates.size()) - limit;
  for (int64_t i = 0; i < excess; ++i) {
    auto r = client.Delete(ControllerRevisionsRef(), NamespaceOf(*candidates[i]),
                           NameOf(*candidates[i]));
    if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace korral::controllers::workload
