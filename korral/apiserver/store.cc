#include "korral/apiserver/store.h"

#include <fmt/format.h>

#include <random>

#include "absl/strings/escaping.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/fields.h"
#include "korral/apimachinery/labels.h"
#include "korral/apiserver/deletion.h"
#include "korral/apiserver/managedfields.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

constexpr int kMaxUpdateRetries = 16;
constexpr auto kFreshnessTimeout = std::chrono::seconds(3);

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

// generateName suffix: 5 characters from upstream's alphabet (no vowels, no ambiguous digits).
std::string RandomSuffix() {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string s(5, ' ');
  for (auto& c : s) c = kAlphabet[Rng()() % (sizeof(kAlphabet) - 1)];
  return s;
}

// Everything but metadata and status: the part whose change bumps metadata.generation.
bool SpecChanged(const Json& a, const Json& b) {
  for (auto it = a.begin(); it != a.end(); ++it) {
    const std::string& k = it.key();
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    auto jt = b.find(k);
    if (jt == b.end() || *jt != it.value()) return true;
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    const std::string& k = it.key();
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    if (!a.contains(k)) return true;
  }
  return false;
}

struct ContinueToken {
  int64_t revision = 0;
  std::string start_key;
};

std::string EncodeContinue(int64_t rev, const std::string& start_key) {
  Json j = {{"v", "meta.k8s.io/v1"}, {"rv", rev}, {"start", start_key}};
  return absl::WebSafeBase64Escape(j.dump());
}

absl::StatusOr<ContinueToken> DecodeContinue(const std::string& token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return apierrors::NewBadRequest("continue key is not valid: illegal base64 data");
  }
  Json j = Json::parse(raw, nullptr, false);
  if (!j.is_object() || !j["rv"].is_number_integer() || !j["start"].is_string() ||
      j["rv"].get<int64_t>() <= 0) {
    return apierrors::NewBadRequest(
        "continue key is not valid: incorrect encoded start "
        "resourceVersion (version meta.k8s.io/v1)");
  }
  return ContinueToken{j["rv"].get<int64_t>(), j["start"].get<std::string>()};
}

absl::StatusOr<int64_t> ParseResourceVersion(const std::string& rv) {
  if (rv.empty()) return 0;
  int64_t v = 0;
  for (char c : rv) {
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) {
      return apierrors::NewBadRequest(fmt::format("invalid resource version \"{}\"", rv));
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

absl::Status StorageError(const absl::Status& s, const api::ResourceType& type,
                          std::string_view name) {
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return apierrors::NewNotFound(type.QualifiedResource(), name);
    case absl::StatusCode::kAlreadyExists:
      return apierrors::NewAlreadyExists(type.QualifiedResource(), name);
    case absl::StatusCode::kFailedPrecondition:
      return apierrors::NewConflict(type.QualifiedResource(), name,
                                    "the object has been modified; please apply your changes to "
                                    "the latest version and try again");
    case absl::StatusCode::kOutOfRange:
      return apierrors::NewResourceExpired(StatusMessage(s));
    default:
      return apierrors::NewInternalError(s.ToString());
  }
}

// The snapshot returned for a write: `obj` at revision `rv` (0 keeps obj's metadata as is).
std::shared_ptr<CachedObject> Snapshot(std::string key, int64_t rv, Json obj) {
  auto out = std::make_shared<CachedObject>();
  out->key = std::move(key);
  out->resource_version = rv;
  out->object = std::move(obj);
  if (rv > 0) out->object["metadata"]["resourceVersion"] = std::to_string(rv);
  out->json = out->object.dump();
  return out;
}

}  // namespace

std::string NewUid() {
  uint64_t a = Rng()(), b = Rng()();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff,
                     b >> 48, b & 0xffffffffffffULL);
}

Store::Store(storage::Backend* backend, WatchCache* cache, Clock* clock)
    : backend_(backend), cache_(cache), clock_(clock) {}

std::string Store::Key(const api::ResourceType& type, std::string_view ns, std::string_view name) {
  std::string key = fmt::format("/registry/{}/", type.QualifiedResource());
  if (type.namespaced && !ns.empty()) {
    key.append(ns);
    key.push_back('/');
  }
  key.append(name);
  return key;
}

absl::StatusOr<ObjectPtr> Store::ReadCurrent(const std::string& key) const {
  if (!cache_->WaitFresh(kFreshnessTimeout)) {
    return apierrors::NewTimeout("the watch cache did not catch up with storage in time");
  }
  return cache_->Get(key);
}

absl::StatusOr<ObjectPtr> Store::Get(const api::ResourceType& type, std::string_view ns,
                                     std::string_view name,
                                     const std::optional<std::string>& resource_version) const {
  std::string key = Key(type, ns, name);
  ObjectPtr obj;
  if (!resource_version.has_value() || resource_version->empty()) {
    KORRAL_ASSIGN_OR_RETURN(obj, ReadCurrent(key));
  } else {
    KORRAL_ASSIGN_OR_RETURN(int64_t rv, ParseResourceVersion(*resource_version));
    if (rv > 0 && !cache_->WaitForRevision(rv, kFreshnessTimeout)) {
      return apierrors::NewTimeout(
          fmt::format("Too large resource version: {}, current: {}", rv, cache_->Revision()));
    }
    obj = cache_->Get(key);
  }
  if (!obj) return apierrors::NewNotFound(type.QualifiedResource(), name);
  return obj;
}

absl::StatusOr<ObjectFilter> Store::MakeFilter(const api::ResourceType& type,
                                               const std::string& label_selector,
                                               const std::string& field_selector) const {
  std::shared_ptr<labels::LabelSelector> ls;
  std::shared_ptr<fields::FieldSelector> fs;
  if (!label_selector.empty()) {
    auto parsed = labels::LabelSelector::Parse(label_selector);
    if (!parsed.ok()) {
      return apierrors::NewBadRequest(
          fmt::format("unable to parse requirement: {}", StatusMessage(parsed.status())));
    }
    if (!parsed->Empty()) ls = std::make_shared<labels::LabelSelector>(std::move(*parsed));
  }
  if (!field_selector.empty()) {
    auto parsed = fields::FieldSelector::Parse(field_selector);
    if (!parsed.ok()) return apierrors::NewBadRequest(StatusMessage(parsed.status()));
    // Check up front that every field is supported by this type.
    for (const auto& req : parsed->requirements()) {
      if (req.field == "metadata.name" || req.field == "metadata.namespace") continue;
      if (!type.field_value || !type.field_value(Json::object(), req.field).has_value()) {
        return apierrors::NewBadRequest(fmt::format("field label not supported: {}", req.field));
      }
    }
    if (!parsed->Empty()) fs = std::make_shared<fields::FieldSelector>(std::move(*parsed));
  }
  if (!ls && !fs) return ObjectFilter();
  const api::ResourceType* tp = &type;
  return ObjectFilter([ls, fs, tp](const CachedObject& o) {
    const Json& meta = o.object["metadata"];
    if (ls) {
      auto it = meta.find("labels");
      static const Json kEmpty = Json::object();
      if (!ls->Matches(it == meta.end() ? kEmpty : *it)) return false;
    }
    if (fs) {
      auto r = fs->Matches([&](std::string_view field) -> std::optional<std::string> {
        if (field == "metadata.name") return meta.value("name", "");
        if (field == "metadata.namespace") return meta.value("namespace", "");
        if (tp->field_value) return tp->field_value(o.object, field);
        return std::nullopt;
      });
      if (!r.ok() || !*r) return false;
    }
    return true;
  });
}

absl::StatusOr<ListResult> Store::List(const api::ResourceType& type, std::string_view ns,
                                       const ListOptions& options) const {
  KORRAL_ASSIGN_OR_RETURN(ObjectFilter filter,
                          MakeFilter(type, options.label_selector, options.field_selector));
  if (options.limit < 0) return apierrors::NewBadRequest("limit must be non-negative");
  std::string prefix = Key(type, ns, "");
  ListResult out;
  if (!options.continue_token.empty()) {
    if (options.resource_version.has_value() && !options.resource_version->empty() &&
        *options.resource_version != "0") {
      return apierrors::NewBadRequest(
          "specifying resource version is not allowed when using continue");
    }
    KORRAL_ASSIGN_OR_RETURN(ContinueToken tok, DecodeContinue(options.continue_token));
    if (tok.start_key.compare(0, prefix.size(), prefix) != 0 && !tok.start_key.empty()) {
      // The token is for another collection: treat as relative to ours.
      tok.start_key = prefix + tok.start_key;
    }
    // A continued list reads storage at the first page's revision: a consistent snapshot.
    std::string start = tok.start_key.empty() ? prefix : tok.start_key;
    std::string end = storage::PrefixEnd(prefix);
    while (true) {
      storage::RangeRequest req{start, end, options.limit > 0 ? options.limit + 1 : 0,
                                tok.revision};
      auto resp = backend_->Range(req);
      if (!resp.ok()) {
        if (resp.status().code() == absl::StatusCode::kOutOfRange) {
          return apierrors::NewResourceExpired(
              "The provided continue parameter is too old to display a consistent list result. "
              "You can start a new list without the continue parameter, or use the continue "
              "token in this response to retrieve the remainder of the results. Continuing with "
              "the provided token results in an inconsistent list - objects that were created, "
              "modified, or deleted between the time the first chunk was returned and now may "
              "show up in the list.");
        }
        return apierrors::NewInternalError(resp.status().ToString());
      }
      for (const auto& kv : resp->kvs) {
        if (options.limit > 0 && static_cast<int64_t>(out.items.size()) >= options.limit) {
          out.continue_token = EncodeContinue(tok.revision, kv.key);
          break;
        }
        auto obj = WatchCache::Decode(kv);
        if (!obj.ok()) continue;
        if (filter && !filter(**obj)) continue;
        out.items.push_back(*obj);
      }
      if (!out.continue_token.empty() || !resp->more || resp->kvs.empty()) break;
      start = resp->kvs.back().key + '\0';
    }
    out.resource_version = tok.revision;
    return out;
  }
  // First page (or the whole list) comes from the watch cache.
  if (options.resource_version_match == "Exact") {
    if (!options.resource_version.has_value() || options.resource_version->empty()) {
      return apierrors::NewBadRequest(
          "resourceVersionMatch: Exact is only allowed with a resourceVersion");
    }
    KORRAL_ASSIGN_OR_RETURN(int64_t rv, ParseResourceVersion(*options.resource_version));
    storage::RangeRequest req{prefix, storage::PrefixEnd(prefix), 0, rv};
    auto resp = backend_->Range(req);
    if (!resp.ok()) return StorageError(resp.status(), type, "");
    for (const auto& kv : resp->kvs) {
      auto obj = WatchCache::Decode(kv);
      if (obj.ok() && (!filter || filter(**obj))) out.items.push_back(*obj);
    }
    out.resource_version = rv;
    return out;
  }
  if (!options.resource_version.has_value() || options.resource_version->empty()) {
    if (!cache_->WaitFresh(kFreshnessTimeout)) {
      return apierrors::NewTimeout("the watch cache did not catch up with storage in time");
    }
  } else {
    KORRAL_ASSIGN_OR_RETURN(int64_t rv, ParseResourceVersion(*options.resource_version));
    if (rv > 0 && !cache_->WaitForRevision(rv, kFreshnessTimeout)) {
      return apierrors::NewTimeout(
          fmt::format("Too large resource version: {}, current: {}", rv, cache_->Revision()));
    }
  }
  auto res = cache_->List(prefix, "", options.limit, filter);
  out.items = std::move(res.items);
  out.resource_version = res.revision;
  if (res.more) out.continue_token = EncodeContinue(res.revision, res.next_key);
  return out;
}

absl::Status Store::CheckNamespace(const api::ResourceType& type, std::string_view ns) const {
  if (!type.namespaced) return absl::OkStatus();
  if (ns.empty()) return apierrors::NewBadRequest("the namespace of the object is required");
  auto obj = cache_->Get(fmt::format("/registry/namespaces/{}", ns));
  if (!obj) {
    // The namespace may have just been created: read fresh before refusing.
    auto fresh = ReadCurrent(fmt::format("/registry/namespaces/{}", ns));
    if (!fresh.ok()) return fresh.status();
    obj = *fresh;
  }
  if (!obj) return apierrors::NewNotFound("namespaces", ns);
  const Json& meta = obj->object["metadata"];
  if (meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null()) {
    return apierrors::NewForbidden(
        type.QualifiedResource(), "",
        fmt::format("unable to create new content in namespace {} because it is being "
                    "terminated",
                    ns));
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectPtr> Store::Create(const api::ResourceType& type, std::string_view ns,
                                        Json obj, const WriteOptions& options) {
  if (!obj.is_object())
    return apierrors::NewBadRequest("the body of the request must be an object");
  const std::string api_version = type.gvk.ApiVersion();
  if (auto it = obj.find("apiVersion");
      it != obj.end() && !it->is_null() &&
      (!it->is_string() || it->get<std::string>() != api_version)) {
    return apierrors::NewBadRequest(
        fmt::format("the API version in the data ({}) does not match the expected API version ({})",
                    it->is_string() ? it->get<std::string>() : it->dump(), api_version));
  }
  if (auto it = obj.find("kind"); it != obj.end() && !it->is_null() &&
                                  (!it->is_string() || it->get<std::string>() != type.gvk.kind)) {
    return apierrors::NewBadRequest(
        fmt::format("the kind in the data ({}) does not match the expected kind ({})",
                    it->is_string() ? it->get<std::string>() : it->dump(), type.gvk.kind));
  }
  obj["apiVersion"] = api_version;
  obj["kind"] = type.gvk.kind;
  Json& meta = obj["metadata"];
  if (meta.is_null()) meta = Json::object();
  if (!meta.is_object()) return apierrors::NewBadRequest("metadata must be an object");
  if (type.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns) {
      return apierrors::NewBadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
    }
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string() &&
      !meta["resourceVersion"].get<std::string>().empty()) {
    return apierrors::NewInternalError(
        "resourceVersion should not be set on objects to be created");
  }
  meta.erase("resourceVersion");
  std::string name = meta.value("name", "");
  std::string generate_name = meta.value("generateName", "");
  if (name.empty() && !generate_name.empty()) {
    name = generate_name + RandomSuffix();
    meta["name"] = name;
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = api::FormatTime(clock_->Now());
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  meta.erase("selfLink");
  if (type.tracks_generation) meta["generation"] = 1;
  if (type.prepare_for_create) type.prepare_for_create(obj);
  if (type.apply_defaults) type.apply_defaults(obj);
  if (!options.field_manager.empty() && !options.managed_fields_done) {
    KORRAL_RETURN_IF_ERROR(RecordManagedUpdate(type, nullptr, obj, options.field_manager, "",
                                               api::FormatTime(clock_->Now())));
  }
  if (admission_hook_) {
    KORRAL_RETURN_IF_ERROR(admission_hook_(true, "CREATE", type, ns, name, &obj, nullptr, options));
  }
  if (type.validate) {
    auto causes = type.validate(obj, nullptr);
    if (!causes.empty()) return apierrors::NewInvalid(type.gvk.group, type.gvk.kind, name, causes);
  }
  KORRAL_RETURN_IF_ERROR(CheckNamespace(type, ns));
  if (admission_hook_) {
    KORRAL_RETURN_IF_ERROR(
        admission_hook_(false, "CREATE", type, ns, name, &obj, nullptr, options));
  }
  std::string key = Key(type, ns, name);
  // Cheap early answer for the common duplicate create, before any allocation; storage's
  // create-if-absent still decides races.
  if (cache_->Get(key)) return apierrors::NewAlreadyExists(type.QualifiedResource(), name);
  if (write_hook_) KORRAL_RETURN_IF_ERROR(write_hook_(type, obj, nullptr, options.dry_run));
  if (options.dry_run) {
    if (cache_->Get(key)) return apierrors::NewAlreadyExists(type.QualifiedResource(), name);
    return ObjectPtr(Snapshot(key, 0, std::move(obj)));
  }
  auto pending = std::make_shared<PendingWrite>(key, std::move(obj));
  cache_->BeginWrite(pending);
  auto rev = backend_->Create(key, pending->value());
  if (!rev.ok()) {
    // No event takes a failed write's announcement (a create's bytes are unique: fresh uid).
    cache_->AbandonWrite(pending);
    if (delete_hook_) delete_hook_(type, pending->object());  // release what the hook allocated
    return StorageError(rev.status(), type, name);
  }
  return pending->Finalize(*rev);
}

absl::StatusOr<ObjectPtr> Store::WriteUpdate(const api::ResourceType& type, std::string_view ns,
                                             std::string_view name, const ObjectPtr& current,
                                             Json desired, const WriteOptions& options,
                                             bool* retry) {
  *retry = false;
  const Json& old = current->object;
  if (!desired.is_object())
    return apierrors::NewBadRequest("the body of the request must be an object");
  const std::string api_version = type.gvk.ApiVersion();
  if (auto it = desired.find("apiVersion");
      it != desired.end() && it->is_string() && it->get<std::string>() != api_version) {
    return apierrors::NewBadRequest(
        fmt::format("the API version in the data ({}) does not match the expected API version ({})",
                    it->get<std::string>(), api_version));
  }
  if (auto it = desired.find("kind");
      it != desired.end() && it->is_string() && it->get<std::string>() != type.gvk.kind) {
    return apierrors::NewBadRequest(
        fmt::format("the kind in the data ({}) does not match the expected kind ({})",
                    it->get<std::string>(), type.gvk.kind));
  }
  desired["apiVersion"] = api_version;
  desired["kind"] = type.gvk.kind;
  Json& meta = desired["metadata"];
  if (meta.is_null()) meta = Json::object();
  if (!meta.is_object()) return apierrors::NewBadRequest("metadata must be an object");
  std::string body_name = meta.value("name", "");
  if (!body_name.empty() && body_name != name) {
    return apierrors::NewBadRequest(fmt::format(
        "the name of the object ({}) does not match the name on the URL ({})", body_name, name));
  }
  if (type.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns) {
      return apierrors::NewBadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
    }
  }
  // Preconditions.
  std::string want_rv = meta.value("resourceVersion", "");
  bool pinned = !want_rv.empty();
  if (pinned && want_rv != std::to_string(current->resource_version)) {
    return apierrors::NewConflict(type.QualifiedResource(), name,
                                  "the object has been modified; please apply your changes to "
                                  "the latest version and try again");
  }
  const Json& old_meta = old["metadata"];
  std::string uid = meta.value("uid", "");
  if (!uid.empty() && uid != old_meta.value("uid", "")) {
    return apierrors::NewConflict(
        type.QualifiedResource(), name,
        fmt::format("Precondition failed: UID in precondition: {}, UID in object meta: {}", uid,
                    old_meta.value("uid", "")));
  }
  // Fields the client cannot change.
  meta["name"] = std::string(name);
  if (type.namespaced) meta["namespace"] = std::string(ns);
  for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation"}) {
    if (old_meta.contains(f)) {
      meta[f] = old_meta[f];
    } else {
      meta.erase(f);
    }
  }
  meta.erase("resourceVersion");
  meta.erase("selfLink");
  if (options.subresource == "status" || options.subresource == "approval") {
    // Only status (and metadata) may change through /status (and a CSR's /approval, whose
    // admission narrows it further to the conditions).
    for (auto it = old.begin(); it != old.end(); ++it) {
      if (it.key() != "metadata" && it.key() != "status") desired[it.key()] = it.value();
    }
    for (auto it = desired.begin(); it != desired.end();) {
      if (it.key() != "metadata" && it.key() != "status" && !old.contains(it.key())) {
        it = desired.erase(it);
      } else {
        ++it;
      }
    }
    if (old_meta.contains("ownerReferences")) {
      meta["ownerReferences"] = old_meta["ownerReferences"];
    } else {
      meta.erase("ownerReferences");
    }
  } else if (type.has_status_subresource && options.subresource != "bind") {
    if (old.contains("status")) {
      desired["status"] = old["status"];
    } else {
      desired.erase("status");
    }
  }
  if (type.apply_defaults) type.apply_defaults(desired);
  if (type.tracks_generation && SpecChanged(old, desired)) {
    meta["generation"] = old_meta.value("generation", int64_t{0}) + 1;
  }
  // managedFields: a write that omits them keeps the stored ones; the request's manager gets
  // an Update entry for what it changed.
  if (!meta.contains("managedFields") && old_meta.contains("managedFields")) {
    meta["managedFields"] = old_meta["managedFields"];
  }
  if (!options.field_manager.empty() && !options.managed_fields_done) {
    KORRAL_RETURN_IF_ERROR(
        RecordManagedUpdate(type, &old, desired, options.field_manager,
                            options.subresource == "bind" ? std::string() : options.subresource,
                            api::FormatTime(clock_->Now())));
  }
  if (admission_hook_) {
    KORRAL_RETURN_IF_ERROR(
        admission_hook_(true, "UPDATE", type, ns, name, &desired, &old, options));
  }
  // pods/binding sets spec.nodeName, which pod validation treats as immutable.
  if (type.validate && options.subresource != "bind" &&
      options.subresource != "ephemeralcontainers") {  // validated by ephemeral.cc
    auto causes = type.validate(desired, &old);
    if (!causes.empty()) {
      return apierrors::NewInvalid(type.gvk.group, type.gvk.kind, name, causes);
    }
  }
  if (admission_hook_) {
    KORRAL_RETURN_IF_ERROR(
        admission_hook_(false, "UPDATE", type, ns, name, &desired, &old, options));
  }
  // An object being deleted whose last finalizer went away is deleted now (upstream's
  // ShouldDeleteDuringUpdate: not while a graceful deletion period runs, nor while a
  // namespace keeps spec.finalizers).
  if (meta.contains("deletionTimestamp") &&
      (!meta.contains("finalizers") || meta["finalizers"].empty()) &&
      old_meta.value("deletionGracePeriodSeconds", int64_t{0}) == 0 &&
      !(type.gvk.group.empty() && type.resource == "namespaces" && desired.contains("spec") &&
        desired["spec"].is_object() && desired["spec"].contains("finalizers") &&
        desired["spec"]["finalizers"].is_array() && !desired["spec"]["finalizers"].empty())) {
    return ReallyDelete(type, current->key, current, options.dry_run, retry);
  }
  if (write_hook_) KORRAL_RETURN_IF_ERROR(write_hook_(type, desired, &old, options.dry_run));
  if (options.dry_run || (desired == old && !(stale_check_ && stale_check_(current->key)))) {
    // No-op updates are not written (upstream skips them too), and keep the resourceVersion.
    return ObjectPtr(Snapshot(current->key, current->resource_version, std::move(desired)));
  }
  auto pending = std::make_shared<PendingWrite>(current->key, std::move(desired));
  cache_->BeginWrite(pending);
  auto rev = backend_->Update(current->key, pending->value(), current->resource_version);
  if (!rev.ok()) {
    cache_->AbandonWrite(pending);
    if (rev.status().code() == absl::StatusCode::kFailedPrecondition && !pinned) *retry = true;
    return StorageError(rev.status(), type, name);
  }
  return pending->Finalize(*rev);
}

absl::StatusOr<ObjectPtr> Store::Update(const api::ResourceType& type, std::string_view ns,
                                        std::string_view name, Json obj,
                                        const WriteOptions& options) {
  return GuaranteedUpdate(
      type, ns, name, [&obj](const Json&) -> absl::StatusOr<Json> { return obj; }, options);
}

absl::StatusOr<ObjectPtr> Store::GuaranteedUpdate(const api::ResourceType& type,
                                                  std::string_view ns, std::string_view name,
                                                  const Mutation& mutate,
                                                  const WriteOptions& options) {
  std::string key = Key(type, ns, name);
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    KORRAL_ASSIGN_OR_RETURN(ObjectPtr current, ReadCurrent(key));
    if (!current) return apierrors::NewNotFound(type.QualifiedResource(), name);
    KORRAL_ASSIGN_OR_RETURN(Json desired, mutate(current->object));
    bool retry = false;
    auto result = WriteUpdate(type, ns, name, current, std::move(desired), options, &retry);
    if (result.ok() || !retry) return result;
  }
  return apierrors::NewConflict(type.QualifiedResource(), name,
                                "too many concurrent updates; please try again");
}

absl::StatusOr<ObjectPtr> Store::ReallyDelete(const api::ResourceType& type, const std::string& key,
                                              const ObjectPtr& current, bool dry_run, bool* retry) {
  *retry = false;
  if (dry_run) return current;
  auto kv = backend_->Delete(key, current->resource_version);
  if (!kv.ok()) {
    if (kv.status().code() == absl::StatusCode::kFailedPrecondition) *retry = true;
    return StorageError(kv.status(), type, current->object["metadata"].value("name", ""));
  }
  if (delete_hook_) delete_hook_(type, current->object);
  auto out = std::make_shared<CachedObject>(*current);
  out->resource_version = kv->mod_revision;
  out->object["metadata"]["resourceVersion"] = std::to_string(current->resource_version);
  out->json = out->object.dump();
  return ObjectPtr(out);
}

absl::StatusOr<Store::DeleteResult> Store::Delete(const api::ResourceType& type,
                                                  std::string_view ns, std::string_view name,
                                                  const Json& options, bool dry_run) {
  std::string key = Key(type, ns, name);
  KORRAL_ASSIGN_OR_RETURN(DeletePolicy policy, ParseDeletePolicy(options));
  for (int attempt = 0; attempt < kMaxUpdateRetries; ++attempt) {
    KORRAL_ASSIGN_OR_RETURN(ObjectPtr current, ReadCurrent(key));
    if (!current) return apierrors::NewNotFound(type.QualifiedResource(), name);
    if (admission_hook_ && attempt == 0) {
      KORRAL_RETURN_IF_ERROR(admission_hook_(false, "DELETE", type, ns, name, nullptr,
                                             &current->object, WriteOptions{dry_run, ""}));
    }
    const Json& meta = current->object["metadata"];
    if (options.is_object() && options.contains("preconditions") &&
        options["preconditions"].is_object()) {
      const Json& pre = options["preconditions"];
      if (pre.contains("uid") && pre["uid"].is_string() &&
          pre["uid"].get<std::string>() != meta.value("uid", "")) {
        return apierrors::NewConflict(
            type.QualifiedResource(), name,
            fmt::format("Precondition failed: UID in precondition: {}, UID in object meta: {}",
                        pre["uid"].get<std::string>(), meta.value("uid", "")));
      }
      if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string() &&
          pre["resourceVersion"].get<std::string>() != std::to_string(current->resource_version)) {
        return apierrors::NewConflict(
            type.QualifiedResource(), name,
            fmt::format("Precondition failed: ResourceVersion in precondition: {}, "
                        "ResourceVersion in object meta: {}",
                        pre["resourceVersion"].get<std::string>(), current->resource_version));
      }
    }
    DeletionPlan plan = PlanDeletion(type, current->object, policy, clock_->Now());
    if (plan.action == DeletionPlan::kPending) return DeleteResult{current, false};
    if (plan.action == DeletionPlan::kDeleteNow) {
      bool retry = false;
      auto out = ReallyDelete(type, key, current, dry_run, &retry);
      if (out.ok()) return DeleteResult{*out, true};
      if (!retry) return out.status();
      continue;
    }
    Json desired = std::move(plan.updated);
    if (dry_run) {
      return DeleteResult{Snapshot(key, current->resource_version, std::move(desired)), false};
    }
    auto pending = std::make_shared<PendingWrite>(key, std::move(desired));
    cache_->BeginWrite(pending);
    auto rev = backend_->Update(key, pending->value(), current->resource_version);
    if (!rev.ok()) {
      cache_->AbandonWrite(pending);
      if (rev.status().code() == absl::StatusCode::kFailedPrecondition) continue;
      return StorageError(rev.status(), type, name);
    }
    return DeleteResult{pending->Finalize(*rev), false};
  }
  return apierrors::NewConflict(type.QualifiedResource(), name,
                                "too many concurrent updates; please try again");
}

}  // namespace korral::apiserver
