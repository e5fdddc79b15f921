#include "korral/client/fake_client.h"

#include <algorithm>
#include <condition_variable>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::client {
namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

// Splits on commas outside parentheses.
std::vector<std::string> SplitTerms(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!Trim(cur).empty()) out.push_back(Trim(cur));
  return out;
}

std::optional<std::string> LabelValue(const Json& obj, const std::string& key) {
  const Json* labels = nullptr;
  if (auto m = obj.find("metadata"); m != obj.end() && m->is_object()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  if (!labels) return std::nullopt;
  auto it = labels->find(key);
  if (it == labels->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool MatchesLabelSelector(const Json& obj, std::string_view selector) {
  for (const std::string& term : SplitTerms(selector)) {
    if (term.empty()) continue;
    size_t pos;
    if ((pos = term.find(" notin ")) != std::string::npos ||
        (pos = term.find(" in ")) != std::string::npos) {
      bool notin = term.compare(pos, 7, " notin ") == 0;
      std::string key = Trim(term.substr(0, pos));
      std::string rest = Trim(term.substr(pos + (notin ? 7 : 4)));
      rest = std::string(absl::StripSuffix(absl::StripPrefix(rest, "("), ")"));
      bool found = false;
      auto value = LabelValue(obj, key);
      for (absl::string_view v : absl::StrSplit(rest, ',')) {
        if (value && Trim(std::string_view(v.data(), v.size())) == *value) found = true;
      }
      if (notin ? found : !found) return false;
    } else if ((pos = term.find("!=")) != std::string::npos) {
      auto value = LabelValue(obj, Trim(term.substr(0, pos)));
      if (value && *value == Trim(term.substr(pos + 2))) return false;
    } else if ((pos = term.find('=')) != std::string::npos) {
      size_t vpos = term.compare(pos, 2, "==") == 0 ? pos + 2 : pos + 1;
      auto value = LabelValue(obj, Trim(term.substr(0, pos)));
      if (!value || *value != Trim(term.substr(vpos))) return false;
    } else if (term[0] == '!') {
      if (LabelValue(obj, Trim(term.substr(1)))) return false;
    } else {
      if (!LabelValue(obj, term)) return false;
    }
  }
  return true;
}

std::string FieldValue(const Json& obj, std::string_view path) {
  const Json* cur = &obj;
  for (absl::string_view part : absl::StrSplit(absl::string_view(path.data(), path.size()), '.')) {
    if (!cur->is_object()) return "";
    auto it = cur->find(std::string(part));
    if (it == cur->end()) return "";
    cur = &*it;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

bool MatchesFieldSelector(const Json& obj, std::string_view selector) {
  for (const std::string& term : SplitTerms(selector)) {
    if (term.empty()) continue;
    size_t pos;
    if ((pos = term.find("!=")) != std::string::npos) {
      if (FieldValue(obj, Trim(term.substr(0, pos))) == Trim(term.substr(pos + 2))) return false;
    } else if ((pos = term.find('=')) != std::string::npos) {
      size_t vpos = term.compare(pos, 2, "==") == 0 ? pos + 2 : pos + 1;
      if (FieldValue(obj, Trim(term.substr(0, pos))) != Trim(term.substr(vpos))) return false;
    }
  }
  return true;
}

std::string ResourceKey(const ResourceRef& ref) { return ref.group + "/" + ref.resource; }

std::string NamespaceOf(const Json& obj) {
  if (auto m = obj.find("metadata"); m != obj.end() && m->is_object()) {
    return m->value("namespace", "");
  }
  return "";
}

bool Matches(const Json& obj, const std::string& ns, const std::string& labels,
             const std::string& fields) {
  if (!obj.is_object()) return false;
  if (!ns.empty() && NamespaceOf(obj) != ns) return false;
  return MatchesLabelSelector(obj, labels) && MatchesFieldSelector(obj, fields);
}

int64_t ParseRv(std::string_view s) {
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string NowRfc3339() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

struct FakeClient::WatchState {
  std::string resource_key, ns, labels, fields;
  bool metadata_only = false;
  WatchEventCallback on_event;
  WatchDoneCallback on_done;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<WatchEvent> queue;
  std::optional<absl::Status> end;
  bool stopped = false;
  bool finished = false;  // the thread delivered on_done
  std::thread thread;

  void Push(WatchEvent e) {
    std::lock_guard l(mu);
    if (end || stopped) return;
    queue.push_back(std::move(e));
    cv.notify_all();
  }
  void End(absl::Status s) {
    std::lock_guard l(mu);
    if (!end) end = std::move(s);
    cv.notify_all();
  }
  bool Open() {
    std::lock_guard l(mu);
    return !end && !stopped;
  }
  void Run() {
    std::unique_lock l(mu);
    while (true) {
      cv.wait(l, [&] { return stopped || !queue.empty() || end.has_value(); });
      if (stopped) break;
      if (!queue.empty()) {
        WatchEvent e = std::move(queue.front());
        queue.pop_front();
        l.unlock();
        if (metadata_only && e.type != "BOOKMARK") e.object = PartialObjectMetadata(e.object);
        on_event(std::move(e));
        l.lock();
        continue;
      }
      break;  // end, queue drained
    }
    absl::Status status = stopped || !end ? absl::OkStatus() : *end;
    finished = true;
    l.unlock();
    if (on_done) on_done(status);
  }
  void Stop() {
    {
      std::lock_guard l(mu);
      stopped = true;
      cv.notify_all();
    }
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id()) {
        thread.detach();
      } else {
        thread.join();
      }
    }
  }
};

namespace {
class FakeWatchHandle : public WatchHandle {
 public:
  explicit FakeWatchHandle(std::shared_ptr<void> state, std::function<void()> stop)
      : state_(std::move(state)), stop_(std::move(stop)) {}
  ~FakeWatchHandle() override { Stop(); }
  void Stop() override {
    if (stop_) {
      auto s = std::move(stop_);
      stop_ = nullptr;
      s();
    }
  }

 private:
  std::shared_ptr<void> state_;
  std::function<void()> stop_;
};
}  // namespace

FakeClient::FakeClient() = default;

FakeClient::~FakeClient() {
  std::vector<std::shared_ptr<WatchState>> watches;
  {
    std::lock_guard l(mu_);
    watches.swap(watches_);
  }
  for (auto& w : watches) w->Stop();
}

absl::Status FakeClient::Record(std::string_view verb, const ResourceRef& ref, std::string_view ns,
                                std::string_view name, std::string_view subresource) {
  std::lock_guard l(mu_);
  actions_.push_back({std::string(verb), ref.resource, ref.namespaced ? std::string(ns) : "",
                      std::string(name), std::string(subresource)});
  for (auto it = injected_.begin(); it != injected_.end(); ++it) {
    if ((it->verb == "*" || it->verb == verb) &&
        (it->resource == "*" || it->resource == ref.resource)) {
      absl::Status s = it->status;
      if (--it->times <= 0) injected_.erase(it);
      return s;
    }
  }
  return absl::OkStatus();
}

void FakeClient::EmitLocked(const std::string& resource_key, std::string type, const Json& object,
                            const Json& old_object) {
  history_.push_back({rv_, resource_key, type, object, old_object});
  while (history_.size() > history_limit_) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  std::vector<std::shared_ptr<WatchState>> alive;
  for (auto& w : watches_) {
    if (!w->Open()) continue;
    alive.push_back(w);
    if (w->resource_key != resource_key) continue;
    bool now = Matches(object, w->ns, w->labels, w->fields);
    if (type == "MODIFIED") {
      bool before = Matches(old_object, w->ns, w->labels, w->fields);
      if (before && now) {
        w->Push({"MODIFIED", object});
      } else if (!before && now) {
        w->Push({"ADDED", object});
      } else if (before && !now) {
        w->Push({"DELETED", object});
      }
    } else if (now) {
      w->Push({type, object});
    }
  }
  watches_.swap(alive);
}

absl::StatusOr<Json> FakeClient::Get(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, std::string_view subresource) {
  KORRAL_RETURN_IF_ERROR(Record("get", ref, ns, name, subresource));
  std::lock_guard l(mu_);
  std::string key = ref.namespaced ? fmt::format("{}/{}", ns, name) : std::string(name);
  auto& objs = objects_[ResourceKey(ref)];
  auto it = objs.find(key);
  if (it == objs.end()) {
    return MakeApiError(404, "NotFound",
                        fmt::format("{} \"{}\" not found", ref.QualifiedResource(), name));
  }
  return it->second;
}

absl::StatusOr<Json> FakeClient::List(const ResourceRef& ref, std::string_view ns,
                                      const ListOptions& options) {
  KORRAL_RETURN_IF_ERROR(Record("list", ref, ns, "", ""));
  std::lock_guard l(mu_);
  std::string nsf = ref.namespaced ? std::string(ns) : "";
  Json items = Json::array();
  std::string kind;
  std::string last_key;
  bool more = false;
  for (const auto& [key, obj] : objects_[ResourceKey(ref)]) {
    if (!options.continue_token.empty() && key <= options.continue_token) continue;
    if (!Matches(obj, nsf, options.label_selector, options.field_selector)) continue;
    if (options.limit > 0 && static_cast<int64_t>(items.size()) >= options.limit) {
      more = true;
      break;
    }
    if (kind.empty()) kind = obj.value("kind", "");
    items.push_back(options.metadata_only ? PartialObjectMetadata(obj) : obj);
    last_key = key;
  }
  Json list = {{"apiVersion", ref.ApiVersion()},
               {"kind", kind.empty() ? "List" : kind + "List"},
               {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
               {"items", std::move(items)}};
  if (options.metadata_only) {
    list["apiVersion"] = "meta.k8s.io/v1";
    list["kind"] = "PartialObjectMetadataList";
  }
  if (more) list["metadata"]["continue"] = last_key;
  return list;
}

absl::StatusOr<Json> FakeClient::Create(const ResourceRef& ref, std::string_view ns,
                                        const Json& object, std::string_view subresource) {
  if (!object.is_object()) return MakeApiError(400, "BadRequest", "object must be a JSON object");
  Json obj = object;
  Json& meta = obj["metadata"];
  if (!meta.is_object()) meta = Json::object();
  std::string name = meta.value("name", "");
  KORRAL_RETURN_IF_ERROR(Record("create", ref, ns, name, subresource));
  std::lock_guard l(mu_);
  if (name.empty()) {
    std::string prefix = meta.value("generateName", "");
    if (prefix.empty()) {
      return MakeApiError(422, "Invalid",
                          "metadata.name: Required value: name or generateName is required");
    }
    name = fmt::format("{}{:05x}", prefix, (++uid_counter_ * 2654435761u) & 0xfffff);
    meta["name"] = name;
  }
  std::string namespace_ = ref.namespaced ? std::string(ns) : "";
  if (ref.namespaced) {
    if (namespace_.empty()) namespace_ = meta.value("namespace", "");
    if (namespace_.empty()) namespace_ = "default";
    meta["namespace"] = namespace_;
  } else {
    meta.erase("namespace");
  }
  std::string key = ref.namespaced ? namespace_ + "/" + name : name;
  auto& objs = objects_[ResourceKey(ref)];
  if (objs.count(key)) {
    return MakeApiError(409, "AlreadyExists",
                        fmt::format("{} \"{}\" already exists", ref.QualifiedResource(), name));
  }
  ++rv_;
  meta["resourceVersion"] = std::to_string(rv_);
  meta["uid"] = fmt::format("00000000-0000-4000-8000-{:012x}", ++uid_counter_);
  meta["creationTimestamp"] = NowRfc3339();
  if (obj.contains("spec")) meta["generation"] = 1;
  objs[key] = obj;
  EmitLocked(ResourceKey(ref), "ADDED", obj, nullptr);
  return obj;
}

absl::StatusOr<Json> FakeClient::StoreUpdateLocked(const ResourceRef& ref, const std::string& key,
                                                   Json object, bool check_rv) {
  auto& objs = objects_[ResourceKey(ref)];
  auto it = objs.find(key);
  std::string name = object["metadata"].value("name", "");
  if (it == objs.end()) {
    return MakeApiError(404, "NotFound",
                        fmt::format("{} \"{}\" not found", ref.QualifiedResource(), name));
  }
  Json& old = it->second;
  std::string rv = ResourceVersionOf(object);
  if (check_rv && !rv.empty() && rv != ResourceVersionOf(old)) {
    return MakeApiError(
        409, "Conflict",
        fmt::format("Operation cannot be fulfilled on {} \"{}\": the object has been modified; "
                    "please apply your changes to the latest version and try again",
                    ref.QualifiedResource(), name));
  }
  Json& meta = object["metadata"];
  for (const char* f : {"uid", "creationTimestamp", "namespace", "generation"}) {
    if (old["metadata"].contains(f)) {
      meta[f] = old["metadata"][f];
    }
  }
  if (object.contains("spec") && old.value("spec", Json()) != object["spec"]) {
    meta["generation"] = old["metadata"].value("generation", 0) + 1;
  }
  ++rv_;
  meta["resourceVersion"] = std::to_string(rv_);
  Json previous = std::move(old);
  old = object;
  EmitLocked(ResourceKey(ref), "MODIFIED", object, previous);
  return object;
}

absl::StatusOr<Json> FakeClient::Update(const ResourceRef& ref, std::string_view ns,
                                        const Json& object, std::string_view subresource) {
  if (!object.is_object() || !object.contains("metadata")) {
    return MakeApiError(400, "BadRequest", "object must have metadata");
  }
  std::string name = object["metadata"].value("name", "");
  std::string namespace_ = ns.empty() ? NamespaceOf(object) : std::string(ns);
  KORRAL_RETURN_IF_ERROR(Record("update", ref, namespace_, name, subresource));
  std::lock_guard l(mu_);
  std::string key = ref.namespaced ? namespace_ + "/" + name : name;
  Json obj = object;
  auto& objs = objects_[ResourceKey(ref)];
  if (auto it = objs.find(key); it != objs.end()) {
    if (subresource == "status") {
      // Only the status changes through the status subresource.
      Json merged = it->second;
      merged["status"] = object.value("status", Json::object());
      merged["metadata"]["resourceVersion"] = ResourceVersionOf(object);
      obj = std::move(merged);
    } else if (it->second.contains("status")) {
      obj["status"] = it->second["status"];
    }
  }
  return StoreUpdateLocked(ref, key, std::move(obj), /*check_rv=*/true);
}

absl::StatusOr<Json> FakeClient::Patch(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name, PatchType type, const Json& patch,
                                       const PatchOptions& options) {
  KORRAL_RETURN_IF_ERROR(Record("patch", ref, ns, name, options.subresource));
  std::unique_lock l(mu_);
  std::string key = ref.namespaced ? fmt::format("{}/{}", ns, name) : std::string(name);
  auto& objs = objects_[ResourceKey(ref)];
  auto it = objs.find(key);
  if (it == objs.end()) {
    if (type == PatchType::kApply) {
      l.unlock();
      Json obj = patch;
      obj["metadata"]["name"] = std::string(name);
      return Create(ref, ns, obj);
    }
    return MakeApiError(404, "NotFound",
                        fmt::format("{} \"{}\" not found", ref.QualifiedResource(), name));
  }
  Json obj = it->second;
  try {
    if (type == PatchType::kJson) {
      obj = obj.patch(patch);
    } else {
      if (!patch.is_object()) return MakeApiError(400, "BadRequest", "patch must be an object");
      obj.merge_patch(patch);
    }
  } catch (const std::exception& e) {
    return MakeApiError(422, "Invalid",
                        fmt::format("the patch could not be applied: {}", e.what()));
  }
  if (!obj.is_object() || !obj["metadata"].is_object()) {
    return MakeApiError(422, "Invalid", "the patch removed metadata");
  }
  obj["metadata"]["name"] = std::string(name);
  bool check_rv = patch.is_object() && patch.contains("metadata") &&
                  patch["metadata"].is_object() && patch["metadata"].contains("resourceVersion");
  return StoreUpdateLocked(ref, key, std::move(obj), check_rv);
}

absl::StatusOr<Json> FakeClient::Delete(const ResourceRef& ref, std::string_view ns,
                                        std::string_view name, const Json& delete_options) {
  KORRAL_RETURN_IF_ERROR(Record("delete", ref, ns, name, ""));
  std::lock_guard l(mu_);
  std::string key = ref.namespaced ? fmt::format("{}/{}", ns, name) : std::string(name);
  auto& objs = objects_[ResourceKey(ref)];
  auto it = objs.find(key);
  if (it == objs.end()) {
    return MakeApiError(404, "NotFound",
                        fmt::format("{} \"{}\" not found", ref.QualifiedResource(), name));
  }
  if (delete_options.is_object() && delete_options.contains("preconditions")) {
    const Json& pre = delete_options["preconditions"];
    if (pre.contains("resourceVersion") &&
        pre["resourceVersion"] != it->second["metadata"].value("resourceVersion", "")) {
      return MakeApiError(409, "Conflict",
                          fmt::format("Operation cannot be fulfilled on {} \"{}\": precondition "
                                      "failed",
                                      ref.QualifiedResource(), name));
    }
  }
  Json obj = std::move(it->second);
  objs.erase(it);
  ++rv_;
  obj["metadata"]["resourceVersion"] = std::to_string(rv_);
  EmitLocked(ResourceKey(ref), "DELETED", obj, nullptr);
  return obj;
}

absl::StatusOr<WatchHandlePtr> FakeClient::Watch(const ResourceRef& ref, std::string_view ns,
                                                 const WatchOptions& options,
                                                 WatchEventCallback on_event,
                                                 WatchDoneCallback on_done) {
  KORRAL_RETURN_IF_ERROR(Record("watch", ref, ns, "", ""));
  auto state = std::make_shared<WatchState>();
  state->resource_key = ResourceKey(ref);
  state->ns = ref.namespaced ? std::string(ns) : "";
  state->labels = options.label_selector;
  state->fields = options.field_selector;
  state->metadata_only = options.metadata_only;
  state->on_event = std::move(on_event);
  state->on_done = std::move(on_done);
  {
    std::lock_guard l(mu_);
    int64_t from = ParseRv(options.resource_version);
    if (from < 0) {
      return MakeApiError(400, "BadRequest",
                          fmt::format("invalid resource version \"{}\"", options.resource_version));
    }
    if (options.resource_version.empty() || from == 0) {
      for (const auto& [key, obj] : objects_[state->resource_key]) {
        if (Matches(obj, state->ns, state->labels, state->fields)) {
          state->queue.push_back({"ADDED", obj});
        }
      }
    } else if (from < compacted_rv_) {
      state->end = MakeApiError(
          410, "Expired", fmt::format("too old resource version: {} ({})", from, compacted_rv_));
    } else {
      for (const Event& e : history_) {
        if (e.rv <= from || e.resource_key != state->resource_key) continue;
        bool now = Matches(e.object, state->ns, state->labels, state->fields);
        if (e.type == "MODIFIED") {
          bool before = Matches(e.old_object, state->ns, state->labels, state->fields);
          if (before && now) state->queue.push_back({"MODIFIED", e.object});
          if (!before && now) state->queue.push_back({"ADDED", e.object});
          if (before && !now) state->queue.push_back({"DELETED", e.object});
        } else if (now) {
          state->queue.push_back({e.type, e.object});
        }
      }
    }
    if (options.allow_watch_bookmarks && !state->end) {
      state->queue.push_back(
          {"BOOKMARK", {{"kind", ""}, {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}});
    }
    watches_.push_back(state);
    state->thread = std::thread([state] { state->Run(); });
  }
  return WatchHandlePtr(new FakeWatchHandle(state, [state] { state->Stop(); }));
}

void FakeClient::InjectError(std::string verb, std::string resource, absl::Status status,
                             int times) {
  std::lock_guard l(mu_);
  injected_.push_back({std::move(verb), std::move(resource), std::move(status), times});
}

void FakeClient::CloseWatches(absl::Status status) {
  std::vector<std::shared_ptr<WatchState>> watches;
  {
    std::lock_guard l(mu_);
    watches.swap(watches_);
  }
  for (auto& w : watches) w->End(status);
}

void FakeClient::Compact() {
  std::lock_guard l(mu_);
  history_.clear();
  compacted_rv_ = rv_;
}

int64_t FakeClient::CurrentResourceVersion() {
  std::lock_guard l(mu_);
  return rv_;
}

size_t FakeClient::NumWatches() {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (auto& w : watches_) n += w->Open() ? 1 : 0;
  return n;
}

std::vector<FakeClient::Action> FakeClient::Actions() {
  std::lock_guard l(mu_);
  return actions_;
}

void FakeClient::ClearActions() {
  std::lock_guard l(mu_);
  actions_.clear();
}

void FakeClient::SetHistoryLimit(size_t limit) {
  std::lock_guard l(mu_);
  history_limit_ = std::max<size_t>(limit, 1);
}

}  // namespace korral::client
