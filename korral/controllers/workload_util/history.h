// korral/controllers/workload_util/history.h: ControllerRevisions for DaemonSets and
// StatefulSets (upstream pkg/controller/history). A revision stores the owner's pod template as
// a strategic-merge patch {"spec":{"template":{...,"$patch":"replace"}}} (what
// `kubectl rollout undo` applies back), is named <owner>-<hash> and carries the
// controller-revision-hash label.
#pragma once

#include <string>
#include <vector>

#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers::workload {

inline constexpr char kControllerRevisionHashLabel[] = "controller-revision-hash";

// {"spec":{"template":{...,"$patch":"replace"}}} for `owner`.
Json RevisionPatch(const Json& owner);

struct History {
  std::vector<Json> revisions;  // owned by the controller, sorted by revision number
  Json current;                 // the revision whose data matches the owner's template
  std::string hash;             // its controller-revision-hash
};

// Lists the owner's revisions (claiming orphans with matching labels), finds or creates the
// revision of the current template (bumping its number to the newest when an old template came
// back), as upstream constructHistory. `collision_count` comes from owner.status.collisionCount
// and is incremented (the caller persists it) on a name clash with a different template.
absl::StatusOr<History> ConstructHistory(client::Client& client, client::SharedInformer* informer,
                                         const Json& owner, const std::string& owner_kind,
                                         const labels::LabelSelector& selector,
                                         int64_t* collision_count);

// Deletes the oldest revisions beyond `limit` whose hash is not in `live_hashes`.
absl::Status TruncateHistory(client::Client& client, const History& history,
                             const std::set<std::string>& live_hashes, int64_t limit);

}  // namespace korral::controllers::workload
