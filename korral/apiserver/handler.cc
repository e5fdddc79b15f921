#include "korral/apiserver/handler.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <random>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/api/schema/openapi.h"
#include "korral/api/schema/strict.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/labels.h"
#include "korral/apimachinery/protobuf.h"
#include "korral/apimachinery/yaml.h"
#include "korral/apiserver/discovery.h"
#include "korral/apiserver/ephemeral.h"
#include "korral/apiserver/eviction.h"
#include "korral/apiserver/managedfields.h"
#include "korral/apiserver/maxinflight.h"
#include "korral/apiserver/metrics.h"
#include "korral/apiserver/metrics_api.h"
#include "korral/apiserver/patch.h"
#include "korral/apiserver/proxy.h"
#include "korral/apiserver/request_timeout.h"
#include "korral/apiserver/security/context.h"
#include "korral/apiserver/security/pipeline.h"
#include "korral/apiserver/store.h"
#include "korral/apiserver/timer_queue.h"
#include "korral/apiserver/warnings.h"
#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

constexpr std::string_view kGitVersion = "v1.32.4-korral";

struct Path {
  std::string group, version, ns, resource, name, subresource;
  bool watch_prefix = false;
};

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Parses a resource path; false if it is not one.
bool ParseResourcePath(std::string_view path, Path* p) {
  auto seg = Split(path);
  size_t i;
  if (seg.size() >= 2 && seg[0] == "api") {
    p->version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    p->group = seg[1];
    p->version = seg[2];
    i = 3;
  } else {
    return false;
  }
  std::vector<std::string_view> rest(seg.begin() + i, seg.end());
  if (!rest.empty() && rest[0] == "watch") {
    p->watch_prefix = true;
    rest.erase(rest.begin());
  }
  if (rest.empty()) return false;
  if (rest[0] == "namespaces" && rest.size() >= 3 &&
      !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    p->ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.size() > 3) return false;
  p->resource = rest[0];
  if (rest.size() > 1) p->name = rest[1];
  if (rest.size() > 2) p->subresource = rest[2];
  return true;
}

bool ParseBool(std::string_view v) {
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

http::Response JsonResponse(int code, std::string body) {
  http::Response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

http::Response StatusResponse(const absl::Status& s) {
  return JsonResponse(apierrors::HttpCode(s), apierrors::ToStatusObject(s).dump());
}

// What the client asked to receive.
struct Accept {
  bool table = false;
  // as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1 (the metadata client's view).
  bool metadata = false;
  std::string include_object = "Metadata";  // None | Metadata | Object
};

Accept ParseAccept(const http::Request& req) {
  Accept a;
  std::string_view h = req.Header("Accept");
  // The first media range that we can produce wins; kubectl lists Table first when it wants it.
  size_t pos = 0;
  while (pos < h.size()) {
    size_t comma = h.find(',', pos);
    std::string_view part =
        h.substr(pos, comma == std::string_view::npos ? h.size() - pos : comma - pos);
    if (part.find("as=Table") != std::string_view::npos) {
      a.table = true;
      break;
    }
    if (part.find("as=PartialObjectMetadata") != std::string_view::npos &&
        part.find("g=meta.k8s.io") != std::string_view::npos &&
        part.find("v=v1") != std::string_view::npos) {
      a.metadata = true;
      break;
    }
    if (part.find("application/json") != std::string_view::npos ||
        part.find("*/*") != std::string_view::npos ||
        part.find("protobuf") != std::string_view::npos) {
      break;
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (auto io = req.Query("includeObject")) a.include_object = std::string(*io);
  return a;
}

// An object as a meta.k8s.io/v1 PartialObjectMetadata: its metadata only.
std::string PartialObjectMetadataJson(const Json& object) {
  Json out = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
  auto m = object.find("metadata");
  out["metadata"] = m != object.end() ? *m : Json::object();
  return out.dump();
}

// Field validation directive from ?fieldValidation=.
enum class FieldValidation { kIgnore, kWarn, kStrict };

absl::StatusOr<FieldValidation> ParseFieldValidation(const http::Request& req) {
  auto v = req.Query("fieldValidation");
  if (!v || v->empty() || *v == "Warn") return FieldValidation::kWarn;
  if (*v == "Strict") return FieldValidation::kStrict;
  if (*v == "Ignore") return FieldValidation::kIgnore;
  return apierrors::NewBadRequest(fmt::format(
      "fieldValidation parameter unsupported: {}. Valid values are: Ignore, Warn, Strict", *v));
}

absl::StatusOr<bool> ParseDryRun(const http::Request& req) {
  auto all = req.QueryAll("dryRun");
  bool dry = false;
  for (auto v : all) {
    if (v != "All") {
      return apierrors::NewBadRequest(
          fmt::format("Invalid dryRun value: \"{}\": supported values: \"All\"", v));
    }
    dry = true;
  }
  return dry;
}

// Removes the field named by a strict-decoding path ("spec.containers[0].foo").
void PruneField(Json& obj, std::string_view path) {
  Json* cur = &obj;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '.') ++i;
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos || !cur->is_array()) return;
      size_t idx =
          std::strtoul(std::string(path.substr(i + 1, close - i - 1)).c_str(), nullptr, 10);
      if (idx >= cur->size()) return;
      cur = &(*cur)[idx];
      i = close + 1;
      continue;
    }
    size_t end = path.find_first_of(".[", i);
    std::string key(
        path.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i));
    if (!cur->is_object()) return;
    if (end == std::string_view::npos) {
      cur->erase(key);
      return;
    }
    auto it = cur->find(key);
    if (it == cur->end()) return;
    cur = &*it;
    i = end;
  }
}

std::string ContentTypeBase(std::string_view ct) {
  auto semi = ct.find(';');
  std::string base(ct.substr(0, semi));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  return base;
}

}  // namespace

struct ApiHandler::Impl {
  Store* store;
  Discovery* discovery;
  Metrics* metrics;
  Clock* clock;
  HandlerOptions options;
  TimerQueue timers;
  DeadlineRunner deadlines;  // `timeout=` (request_timeout.h); last: waits for late handlers

  // ---- helpers -------------------------------------------------------------------------
  absl::StatusOr<Json> DecodeObject(const http::Request& req, const api::ResourceType& type,
                                    FieldValidation fv, http::HeaderList* warnings) {
    if (req.body.empty()) {
      return apierrors::NewBadRequest("Object 'Kind' is missing in ''");
    }
    std::string ct = ContentTypeBase(req.Header("Content-Type"));
    Json obj;
    std::vector<std::string> duplicates;
    if (ct.empty() || ct == "application/json" || ct == "*/*") {
      auto r = schema::ParseJsonStrict(req.body);
      if (!r.ok()) return apierrors::NewBadRequest(StatusMessage(r.status()));
      obj = std::move(r->object);
      duplicates = std::move(r->duplicate_fields);
    } else if (ct == "application/yaml" || ct == "application/x-yaml" || ct == "text/yaml") {
      auto r = YamlToJsonChecked(req.body);
      if (!r.ok()) return r.status();
      obj = std::move(*r);
    } else if (ct == "application/vnd.kubernetes.protobuf") {
      auto r = protobuf::DecodeKubernetesProtobuf(req.body);
      if (!r.ok()) return apierrors::NewBadRequest(StatusMessage(r.status()));
      obj = std::move(*r);
    } else {
      return apierrors::NewUnsupportedMediaType(ct);
    }
    if (!obj.is_object()) {
      return apierrors::NewBadRequest(
          fmt::format("json: cannot unmarshal {} into Go value of type struct", obj.type_name()));
    }
    KORRAL_RETURN_IF_ERROR(CheckFields(obj, type, fv, duplicates, warnings));
    return obj;
  }

  static absl::StatusOr<Json> YamlToJsonChecked(std::string_view body) {
    auto r = yaml::YamlToJson(body);
    if (!r.ok()) return apierrors::NewBadRequest(StatusMessage(r.status()));
    return std::move(*r);
  }

  // Unknown and duplicate fields, handled per the fieldValidation directive.
  absl::Status CheckFields(Json& obj, const api::ResourceType& type, FieldValidation fv,
                           const std::vector<std::string>& duplicates, http::HeaderList* warnings) {
    const std::string prefix =
        fmt::format("{} in version \"{}\" cannot be handled as a {}: ", type.gvk.kind,
                    type.gvk.version, type.gvk.kind);
    if (auto type_error = schema::FindTypeError(obj, type.gvk.ApiVersion(), type.gvk.kind)) {
      return apierrors::NewBadRequest(prefix + *type_error);
    }
    if (fv == FieldValidation::kIgnore) {
      for (const auto& f : schema::FindUnknownFields(obj, type.gvk.ApiVersion(), type.gvk.kind))
        PruneField(obj, f);
      return absl::OkStatus();
    }
    std::vector<std::string> problems;
    for (const auto& d : duplicates) problems.push_back(fmt::format("duplicate field \"{}\"", d));
    auto unknown = schema::FindUnknownFields(obj, type.gvk.ApiVersion(), type.gvk.kind);
    for (const auto& u : unknown) problems.push_back(fmt::format("unknown field \"{}\"", u));
    if (problems.empty()) return absl::OkStatus();
    if (fv == FieldValidation::kStrict) {
      std::string msg = prefix + "strict decoding error: ";
      for (size_t i = 0; i < problems.size(); ++i) msg += (i ? ", " : "") + problems[i];
      return apierrors::NewBadRequest(msg);
    }
    for (const auto& p : problems) {
      std::string escaped;
      for (char c : p) {
        if (c == '"' || c == '\\') escaped.push_back('\\');
        escaped.push_back(c);
      }
      warnings->push_back({"Warning", fmt::format("299 - \"{}\"", escaped)});
    }
    for (const auto& u : unknown) PruneField(obj, u);
    return absl::OkStatus();
  }

  // ---- tables ------------------------------------------------------------------------------
  Json TableColumns(const api::ResourceType& type) {
    Json cols = Json::array();
    if (type.columns.empty()) {
      cols.push_back({{"name", "Name"},
                      {"type", "string"},
                      {"format", "name"},
                      {"description", "Name must be unique within a namespace."},
                      {"priority", 0}});
      cols.push_back({{"name", "Created At"},
                      {"type", "date"},
                      {"format", ""},
                      {"description", "The time the object was created."},
                      {"priority", 0}});
      return cols;
    }
    for (const auto& c : type.columns) {
      cols.push_back({{"name", c.name},
                      {"type", c.type},
                      {"format", c.format},
                      {"description", c.description},
                      {"priority", c.priority}});
    }
    return cols;
  }

  Json TableRow(const api::ResourceType& type, const CachedObject& o, const Accept& accept) {
    Json row;
    if (type.columns.empty() || !type.row_cells) {
      row["cells"] = Json::array({o.object["metadata"].value("name", ""),
                                  o.object["metadata"].value("creationTimestamp", "")});
    } else {
      row["cells"] = type.row_cells(o.object, clock->Now());
    }
    if (accept.include_object == "Object") {
      row["object"] = o.object;
    } else if (accept.include_object != "None") {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", o.object["metadata"]}};
    }
    return row;
  }

  std::string TableOf(const api::ResourceType& type, const std::vector<ObjectPtr>& items,
                      int64_t rv, const std::string& cont, const Accept& accept) {
    Json rows = Json::array();
    for (const auto& o : items) rows.push_back(TableRow(type, *o, accept));
    Json meta = {{"resourceVersion", rv ? std::to_string(rv) : std::string()}};
    if (!cont.empty()) meta["continue"] = cont;
    Json table = {{"kind", "Table"},
                  {"apiVersion", "meta.k8s.io/v1"},
                  {"metadata", meta},
                  {"columnDefinitions", TableColumns(type)},
                  {"rows", rows}};
    return table.dump();
  }

  std::string ObjectBody(const api::ResourceType& type, const ObjectPtr& obj,
                         const Accept& accept) {
    if (accept.table) return TableOf(type, {obj}, obj->resource_version, "", accept);
    if (accept.metadata) return PartialObjectMetadataJson(obj->object);
    return obj->json;
  }

  // ---- verbs ---------------------------------------------------------------------------------
  http::Response List(http::Request& req, const api::ResourceType& type, const Path& p) {
    ListOptions opts;
    if (auto v = req.Query("labelSelector")) opts.label_selector = *v;
    if (auto v = req.Query("fieldSelector")) opts.field_selector = *v;
    if (auto v = req.Query("continue")) opts.continue_token = *v;
    if (auto v = req.Query("resourceVersion")) opts.resource_version = std::string(*v);
    if (auto v = req.Query("resourceVersionMatch")) opts.resource_version_match = *v;
    if (auto v = req.Query("limit"); v && !v->empty()) {
      int64_t limit = 0;
      for (char c : *v) {
        if (c < '0' || c > '9' || limit > 1'000'000'000) {
          return StatusResponse(apierrors::NewBadRequest(fmt::format("invalid limit \"{}\"", *v)));
        }
        limit = limit * 10 + (c - '0');
      }
      opts.limit = limit;
    }
    auto res = store->List(type, p.ns, opts);
    if (!res.ok()) return StatusResponse(res.status());
    Accept accept = ParseAccept(req);
    if (accept.table) {
      return JsonResponse(
          200, TableOf(type, res->items, res->resource_version, res->continue_token, accept));
    }
    std::string body;
    body.reserve(128 + res->items.size() * 512);
    Json meta = {{"resourceVersion", std::to_string(res->resource_version)}};
    if (!res->continue_token.empty()) meta["continue"] = res->continue_token;
    body += fmt::format("{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
                        accept.metadata ? "PartialObjectMetadataList" : type.list_kind,
                        accept.metadata ? "meta.k8s.io/v1" : type.gvk.ApiVersion(), meta.dump());
    for (size_t i = 0; i < res->items.size(); ++i) {
      if (i) body.push_back(',');
      body +=
          accept.metadata ? PartialObjectMetadataJson(res->items[i]->object) : res->items[i]->json;
    }
    body += "]}";
    return JsonResponse(200, std::move(body));
  }

  http::Response Watch(http::Request& req, const api::ResourceType& type, const Path& p);

  http::Response Get(http::Request& req, const api::ResourceType& type, const Path& p) {
    std::optional<std::string> rv;
    if (auto v = req.Query("resourceVersion")) rv = std::string(*v);
    auto obj = store->Get(type, p.ns, p.name, rv);
    if (!obj.ok()) return StatusResponse(obj.status());
    return JsonResponse(200, ObjectBody(type, *obj, ParseAccept(req)));
  }

  // PUT and POST: decode the body under the request's field validation and dry-run options,
  // then `write` it; answers with `code` and any field warnings.
  template <typename Write>
  http::Response WriteBody(http::Request& req, const api::ResourceType& type, const Path& p,
                           int code, const Write& write) {
    auto fv = ParseFieldValidation(req);
    if (!fv.ok()) return StatusResponse(fv.status());
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    http::HeaderList warnings;
    auto obj = DecodeObject(req, type, *fv, &warnings);
    if (!obj.ok()) return StatusResponse(obj.status());
    std::optional<int64_t> old_generation;  // for Warning headers (warnings.h)
    if (code == 200 && WarnsOnUpdate(type) && p.subresource.empty()) {
      auto old = store->Get(type, p.ns, p.name, std::nullopt);
      if (old.ok()) old_generation = (*old)->object["metadata"].value("generation", int64_t{0});
    }
    absl::StatusOr<ObjectPtr> written = write(std::move(*obj), *dry);
    if (!written.ok()) return StatusResponse(written.status());
    auto r = JsonResponse(code, ObjectBody(type, *written, ParseAccept(req)));
    r.headers = std::move(warnings);
    if (p.subresource.empty() && (code != 200 || old_generation)) {  // updates: warnings.h
      AppendWarningHeaders(WriteWarnings(type, (*written)->object, old_generation), &r.headers);
    }
    return r;
  }

  http::Response Create(http::Request& req, const api::ResourceType& type, const Path& p) {
    return WriteBody(req, type, p, 201, [&](Json obj, bool dry) {
      WriteOptions wo{dry, ""};
      wo.field_manager =
          FieldManagerName(req.Query("fieldManager").value_or(""), req.Header("User-Agent"));
      return store->Create(type, p.ns, std::move(obj), wo);
    });
  }

  http::Response Update(http::Request& req, const api::ResourceType& type, const Path& p) {
    return WriteBody(req, type, p, 200, [&](Json obj, bool dry) {
      WriteOptions wo{dry, p.subresource};
      wo.field_manager =
          FieldManagerName(req.Query("fieldManager").value_or(""), req.Header("User-Agent"));
      return store->Update(type, p.ns, p.name, std::move(obj), wo);
    });
  }

  absl::StatusOr<Json> ApplyPatch(PatchType pt, const Json& current, const Json& patch) {
    switch (pt) {
      case PatchType::kMerge:
        return ApplyMergePatch(current, patch);
      case PatchType::kJson:
        return ApplyJsonPatch(current, patch);
      case PatchType::kStrategic:
        return ApplyStrategicMergePatch(current, patch);
      case PatchType::kApply:
        break;
    }
    // Server-side apply needs the field managers: only the PATCH handler does it.
    return apierrors::NewUnsupportedMediaType("application/apply-patch+yaml");
  }

  absl::StatusOr<Json> ParsePatchBody(const http::Request& req, PatchType pt) {
    if (pt == PatchType::kApply) return YamlToJsonChecked(req.body);
    Json patch = Json::parse(req.body, nullptr, false);
    if (patch.is_discarded()) {
      return apierrors::NewBadRequest("error decoding patch: invalid JSON");
    }
    return patch;
  }

  http::Response Patch(http::Request& req, const api::ResourceType& type, const Path& p) {
    auto pt = PatchTypeFromContentType(req.Header("Content-Type"));
    if (!pt.ok()) return StatusResponse(pt.status());
    auto fv = ParseFieldValidation(req);
    if (!fv.ok()) return StatusResponse(fv.status());
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    const bool apply = *pt == PatchType::kApply;
    bool force = false;
    if (auto v = req.Query("force")) force = ParseBool(*v);
    std::string fm_param(req.Query("fieldManager").value_or(""));
    if (auto s = ValidateFieldManager(fm_param, apply, force); !s.ok()) return StatusResponse(s);
    auto patch = ParsePatchBody(req, *pt);
    if (!patch.ok()) return StatusResponse(patch.status());
    http::HeaderList warnings;
    if (apply) {
      // Unknown fields of an apply configuration follow fieldValidation like a create body.
      if (!patch->is_object()) {
        return StatusResponse(apierrors::NewBadRequest("error decoding YAML: not an object"));
      }
      auto s = CheckFields(*patch, type, *fv, {}, &warnings);
      if (!s.ok()) return StatusResponse(s);
    }
    const std::string now = api::FormatTime(clock->Now());
    WriteOptions wo{*dry, p.subresource};
    wo.field_manager = FieldManagerName(fm_param, req.Header("User-Agent"));
    wo.managed_fields_done = apply;
    std::optional<int64_t> old_generation;  // for Warning headers (warnings.h)
    auto mutate = [&](const Json& current) -> absl::StatusOr<Json> {
      old_generation = current["metadata"].value("generation", int64_t{0});
      Json base = current;
      // The stored resourceVersion is not part of the patch base: a patch pins a version
      // only when it names one itself.
      base["metadata"].erase("resourceVersion");
      Json out;
      if (apply) {
        KORRAL_ASSIGN_OR_RETURN(
            out, ServerSideApply(type, &base, *patch, wo.field_manager, force, p.subresource, now));
        return out;
      }
      KORRAL_ASSIGN_OR_RETURN(out, ApplyPatch(*pt, base, *patch));
      if (!out.is_object()) return apierrors::NewBadRequest("patch result is not an object");
      warnings.clear();
      KORRAL_RETURN_IF_ERROR(CheckFields(out, type, *fv, {}, &warnings));
      return out;
    };
    auto updated = store->GuaranteedUpdate(type, p.ns, p.name, mutate, wo);
    if (!updated.ok() && apierrors::IsNotFound(updated.status()) && apply &&
        p.subresource.empty()) {
      // Server-side apply creates the object when it is missing (201).
      auto obj = ServerSideApply(type, nullptr, *patch, wo.field_manager, force, "", now);
      if (!obj.ok()) return StatusResponse(obj.status());
      Json& meta = (*obj)["metadata"];
      if (!meta.is_object()) meta = Json::object();
      std::string body_name = meta.value("name", "");
      if (!body_name.empty() && body_name != p.name) {
        return StatusResponse(apierrors::NewBadRequest(
            fmt::format("the name of the object ({}) does not match the name on the URL ({})",
                        body_name, p.name)));
      }
      meta["name"] = p.name;
      if (type.namespaced) meta["namespace"] = p.ns;
      auto created = store->Create(type, p.ns, std::move(*obj), wo);
      if (!created.ok()) return StatusResponse(created.status());
      auto r = JsonResponse(201, ObjectBody(type, *created, ParseAccept(req)));
      r.headers = std::move(warnings);
      AppendWarningHeaders(WriteWarnings(type, (*created)->object, std::nullopt), &r.headers);
      return r;
    }
    if (!updated.ok()) return StatusResponse(updated.status());
    auto r = JsonResponse(200, ObjectBody(type, *updated, ParseAccept(req)));
    r.headers = std::move(warnings);
    if (p.subresource.empty()) {
      AppendWarningHeaders(WriteWarnings(type, (*updated)->object, old_generation), &r.headers);
    }
    return r;
  }

  absl::StatusOr<Json> DeleteOptionsOf(const http::Request& req) {
    Json opts = Json::object();
    if (!req.body.empty()) {
      std::string ct = ContentTypeBase(req.Header("Content-Type"));
      if (ct == "application/vnd.kubernetes.protobuf") {
        auto r = protobuf::DecodeKubernetesProtobuf(req.body);
        if (!r.ok()) return apierrors::NewBadRequest(StatusMessage(r.status()));
        opts = std::move(*r);
      } else {
        opts = Json::parse(req.body, nullptr, false);
        if (opts.is_discarded() || !opts.is_object()) {
          return apierrors::NewBadRequest("invalid DeleteOptions body");
        }
      }
    }
    if (auto v = req.Query("gracePeriodSeconds"); v && !v->empty()) {
      opts["gracePeriodSeconds"] = std::atoll(std::string(*v).c_str());
    }
    if (auto v = req.Query("propagationPolicy"); v && !v->empty()) {
      opts["propagationPolicy"] = std::string(*v);
    }
    if (auto v = req.Query("orphanDependents"); v && !v->empty()) {
      opts["orphanDependents"] = ParseBool(*v);
    }
    return opts;
  }

  http::Response Delete(http::Request& req, const api::ResourceType& type, const Path& p) {
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    auto opts = DeleteOptionsOf(req);
    if (!opts.ok()) return StatusResponse(opts.status());
    bool dry_run = *dry;
    if (opts->contains("dryRun") && (*opts)["dryRun"].is_array() && !(*opts)["dryRun"].empty())
      dry_run = true;
    auto res = store->Delete(type, p.ns, p.name, *opts, dry_run);
    if (!res.ok()) return StatusResponse(res.status());
    // Upstream returns the object for pods and for deletions that are still pending; a Status
    // otherwise.
    if (!res->deleted || (type.resource == "pods" && type.gvk.group.empty())) {
      return JsonResponse(200, ObjectBody(type, res->object, ParseAccept(req)));
    }
    Json details = {{"name", p.name},
                    {"kind", type.resource},
                    {"uid", res->object->object["metadata"].value("uid", "")}};
    if (!type.gvk.group.empty()) details["group"] = type.gvk.group;
    Json status = {{"kind", "Status"},
                   {"apiVersion", "v1"},
                   {"metadata", Json::object()},
                   {"status", "Success"},
                   {"details", details}};
    return JsonResponse(200, status.dump());
  }

  http::Response DeleteCollection(http::Request& req, const api::ResourceType& type,
                                  const Path& p) {
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    auto opts = DeleteOptionsOf(req);
    if (!opts.ok()) return StatusResponse(opts.status());
    ListOptions lo;
    if (auto v = req.Query("labelSelector")) lo.label_selector = *v;
    if (auto v = req.Query("fieldSelector")) lo.field_selector = *v;
    auto list = store->List(type, p.ns, lo);
    if (!list.ok()) return StatusResponse(list.status());
    // Each item is deleted as a single DELETE would be (finalizers, graceful pods). They run
    // on up to kDeleteCollectionWorkers threads (upstream's --delete-collection-workers) so the
    // storage writer commits many deletes per transaction: one at a time, every delete waited
    // for its own fsync (~140 deletes/s in a namespace deletion here).
    constexpr size_t kDeleteCollectionWorkers = 16;
    const auto& items = list->items;
    std::vector<absl::StatusOr<ObjectPtr>> results(items.size(), ObjectPtr());
    auto delete_one = [&](size_t i) {
      const Json& meta = items[i]->object["metadata"];
      auto res =
          store->Delete(type, meta.value("namespace", ""), meta.value("name", ""), *opts, *dry);
      if (res.ok()) {
        results[i] = res->object;
      } else {
        results[i] = res.status();
      }
    };
    const size_t workers = std::min(kDeleteCollectionWorkers, (items.size() + 7) / 8);
    if (workers <= 1) {
      for (size_t i = 0; i < items.size(); ++i) delete_one(i);
    } else {
      std::atomic<size_t> next{0};
      std::vector<std::thread> pool;
      pool.reserve(workers);
      // The workers act for the requesting user (admission reads it from the thread).
      const authn::UserInfo* user = security::InRequest() ? security::CurrentUser() : nullptr;
      for (size_t w = 0; w < workers; ++w) {
        pool.emplace_back([&, user] {
          security::ScopedUser as(user);
          for (size_t i = next++; i < items.size(); i = next++) delete_one(i);
        });
      }
      for (auto& t : pool) t.join();
    }
    std::vector<ObjectPtr> deleted;
    deleted.reserve(items.size());
    for (auto& res : results) {
      if (!res.ok()) {
        if (apierrors::IsNotFound(res.status())) continue;
        return StatusResponse(res.status());
      }
      deleted.push_back(*res);
    }
    std::string body = fmt::format(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"}},"
        "\"items\":[",
        type.list_kind, type.gvk.ApiVersion(), list->resource_version);
    for (size_t i = 0; i < deleted.size(); ++i) {
      if (i) body.push_back(',');
      body += deleted[i]->json;
    }
    body += "]}";
    return JsonResponse(200, std::move(body));
  }

  // ---- scale subresource ---------------------------------------------------------------------
  static std::string SelectorString(const Json& obj) {
    const Json& sel = obj.contains("spec") ? obj["spec"].value("selector", Json()) : Json();
    if (sel.is_null()) return "";
    auto ls = labels::FromLabelSelectorJson(sel);
    return ls.ok() ? ls->String() : "";
  }

  static Json ScaleOf(const Json& obj) {
    const Json& meta = obj["metadata"];
    Json scale = {{"kind", "Scale"},
                  {"apiVersion", "autoscaling/v1"},
                  {"metadata",
                   {{"name", meta.value("name", "")},
                    {"namespace", meta.value("namespace", "")},
                    {"uid", meta.value("uid", "")},
                    {"resourceVersion", meta.value("resourceVersion", "")},
                    {"creationTimestamp", meta.value("creationTimestamp", "")}}},
                  {"spec", {{"replicas", obj["spec"].value("replicas", 0)}}},
                  {"status",
                   {{"replicas", obj.contains("status") ? obj["status"].value("replicas", 0) : 0},
                    {"selector", SelectorString(obj)}}}};
    return scale;
  }

  http::Response Scale(http::Request& req, const api::ResourceType& type, const Path& p) {
    if (req.method == "GET") {
      auto obj = store->Get(type, p.ns, p.name, std::nullopt);
      if (!obj.ok()) return StatusResponse(obj.status());
      return JsonResponse(200, ScaleOf((*obj)->object).dump());
    }
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    absl::StatusOr<PatchType> pt = PatchType::kMerge;
    Json body;
    if (req.method == "PATCH") {
      pt = PatchTypeFromContentType(req.Header("Content-Type"));
      if (!pt.ok()) return StatusResponse(pt.status());
      auto parsed = ParsePatchBody(req, *pt);
      if (!parsed.ok()) return StatusResponse(parsed.status());
      body = std::move(*parsed);
    } else {
      body = Json::parse(req.body, nullptr, false);
      if (!body.is_object()) {
        return StatusResponse(apierrors::NewBadRequest("the body of the request must be a Scale"));
      }
    }
    auto mutate = [&](const Json& current) -> absl::StatusOr<Json> {
      Json scale = ScaleOf(current);
      Json desired;
      if (req.method == "PATCH") {
        KORRAL_ASSIGN_OR_RETURN(desired, ApplyPatch(*pt, scale, body));
      } else {
        desired = body;
      }
      std::string want_rv = desired.contains("metadata") && desired["metadata"].is_object()
                                ? desired["metadata"].value("resourceVersion", "")
                                : "";
      const Json* replicas = desired.contains("spec") && desired["spec"].is_object() &&
                                     desired["spec"].contains("replicas")
                                 ? &desired["spec"]["replicas"]
                                 : nullptr;
      if (!replicas || !replicas->is_number_integer() || replicas->get<int64_t>() < 0) {
        return apierrors::NewInvalid(
            "autoscaling", "Scale", p.name,
            {{"FieldValueInvalid", "Invalid value: must be greater than or equal to 0",
              "spec.replicas"}});
      }
      Json out = current;
      out["spec"]["replicas"] = *replicas;
      if (!want_rv.empty()) {
        out["metadata"]["resourceVersion"] = want_rv;
      } else {
        out["metadata"].erase("resourceVersion");
      }
      return out;
    };
    WriteOptions wo{*dry, ""};
    wo.field_manager =
        FieldManagerName(req.Query("fieldManager").value_or(""), req.Header("User-Agent"));
    auto updated = store->GuaranteedUpdate(type, p.ns, p.name, mutate, wo);
    if (!updated.ok()) return StatusResponse(updated.status());
    return JsonResponse(200, ScaleOf((*updated)->object).dump());
  }

  // ---- pods/binding --------------------------------------------------------------------------
  http::Response Binding(http::Request& req, const api::ResourceType& type, const Path& p) {
    Json binding = Json::parse(req.body, nullptr, false);
    if (req.Header("Content-Type").find("protobuf") != std::string_view::npos) {
      auto r = protobuf::DecodeKubernetesProtobuf(req.body);
      if (!r.ok()) return StatusResponse(apierrors::NewBadRequest(StatusMessage(r.status())));
      binding = std::move(*r);
    }
    if (!binding.is_object() || !binding.contains("target") || !binding["target"].is_object()) {
      return StatusResponse(apierrors::NewBadRequest("Binding must have a target"));
    }
    std::string node = binding["target"].value("name", "");
    if (node.empty()) {
      return StatusResponse(apierrors::NewInvalid(
          "", "Binding", p.name, {{"FieldValueRequired", "Required value", "target.name"}}));
    }
    auto mutate = [&](const Json& current) -> absl::StatusOr<Json> {
      const Json& meta = current["metadata"];
      if (meta.contains("deletionTimestamp")) {
        return apierrors::NewConflict("pods", p.name,
                                      "pod is being deleted, cannot be assigned to a host");
      }
      std::string cur = current["spec"].value("nodeName", "");
      if (!cur.empty()) {
        return apierrors::NewConflict(
            "pods/binding", p.name,
            fmt::format("pod {} is already assigned to node \"{}\"", p.name, cur));
      }
      Json out = current;
      out["spec"]["nodeName"] = node;
      out["metadata"].erase("resourceVersion");
      if (!out.contains("status")) out["status"] = Json::object();
      Json& conds = out["status"]["conditions"];
      if (!conds.is_array()) conds = Json::array();
      // Upstream replaces an existing PodScheduled condition (e.g. False/Unschedulable from an
      // earlier attempt) rather than adding a second one.
      Json scheduled = {{"type", "PodScheduled"},
                        {"status", "True"},
                        {"lastProbeTime", nullptr},
                        {"lastTransitionTime", api::FormatTime(clock->Now())}};
      bool replaced = false;
      for (Json& c : conds) {
        if (c.is_object() && c.value("type", "") == "PodScheduled") {
          c = scheduled;
          replaced = true;
        }
      }
      if (!replaced) conds.push_back(std::move(scheduled));
      return out;
    };
    // Binding sets spec.nodeName and the PodScheduled condition in one write: the internal
    // "bind" subresource skips the status/spec split and pod immutability checks.
    auto updated = store->GuaranteedUpdate(type, p.ns, p.name, mutate, WriteOptions{false, "bind"});
    if (!updated.ok()) return StatusResponse(updated.status());
    Json status = {{"kind", "Status"},
                   {"apiVersion", "v1"},
                   {"metadata", Json::object()},
                   {"status", "Success"},
                   {"code", 201}};
    return JsonResponse(201, status.dump());
  }

  // ---- pods/eviction and pods/ephemeralcontainers (eviction.cc, ephemeral.cc) ------------
  http::Response Evict(http::Request& req, const api::ResourceType& type, const Path& p) {
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    Json body = Json::parse(req.body, nullptr, false);
    if (req.Header("Content-Type").find("protobuf") != std::string_view::npos) {
      auto r = protobuf::DecodeKubernetesProtobuf(req.body);
      if (!r.ok()) return StatusResponse(apierrors::NewBadRequest(StatusMessage(r.status())));
      body = std::move(*r);
    }
    if (!body.is_object()) {
      return StatusResponse(
          apierrors::NewBadRequest("the body of the request must be an Eviction"));
    }
    auto r = EvictPod(store, clock, p.ns, p.name, body, *dry);
    if (!r.ok()) return StatusResponse(r.status());
    return JsonResponse(201, r->dump());
  }

  http::Response EphemeralContainers(http::Request& req, const api::ResourceType& type,
                                     const Path& p) {
    if (req.method == "GET") return Get(req, type, p);
    auto dry = ParseDryRun(req);
    if (!dry.ok()) return StatusResponse(dry.status());
    absl::StatusOr<PatchType> pt = PatchType::kMerge;
    Json body;
    if (req.method == "PATCH") {
      pt = PatchTypeFromContentType(req.Header("Content-Type"));
      if (!pt.ok()) return StatusResponse(pt.status());
      if (*pt == PatchType::kApply) {
        return StatusResponse(apierrors::NewUnsupportedMediaType("application/apply-patch+yaml"));
      }
      auto parsed = ParsePatchBody(req, *pt);
      if (!parsed.ok()) return StatusResponse(parsed.status());
      body = std::move(*parsed);
    } else {
      http::HeaderList ignored;
      auto fv = ParseFieldValidation(req);
      if (!fv.ok()) return StatusResponse(fv.status());
      auto obj = DecodeObject(req, type, *fv, &ignored);
      if (!obj.ok()) return StatusResponse(obj.status());
      body = std::move(*obj);
    }
    auto mutate = [&](const Json& current) -> absl::StatusOr<Json> {
      Json desired = body;
      if (req.method == "PATCH") {
        Json base = current;
        base["metadata"].erase("resourceVersion");
        KORRAL_ASSIGN_OR_RETURN(desired, ApplyPatch(*pt, base, body));
      }
      return MergeEphemeralContainers(current, desired);
    };
    WriteOptions wo{*dry, "ephemeralcontainers"};
    wo.field_manager =
        FieldManagerName(req.Query("fieldManager").value_or(""), req.Header("User-Agent"));
    auto updated = store->GuaranteedUpdate(type, p.ns, p.name, mutate, wo);
    if (!updated.ok()) return StatusResponse(updated.status());
    return JsonResponse(200, ObjectBody(type, *updated, ParseAccept(req)));
  }

  // ---- top-level routing ---------------------------------------------------------------------
  http::Response HandleResource(http::Request& req, const Path& p, std::string* verb,
                                std::string* resource_label) {
    const api::ResourceType* type = api::FindResourceType(p.group, p.version, p.resource);
    *resource_label = p.resource;
    if (!type) return StatusResponse(apierrors::NewNotFoundPath());
    if (!type->namespaced && !p.ns.empty()) return StatusResponse(apierrors::NewNotFoundPath());
    if (!p.name.empty()) {
      // Object names are path segments: reject what could never be stored.
      if (p.name == "." || p.name == ".." || p.name.find('/') != std::string::npos) {
        return StatusResponse(apierrors::NewBadRequest("invalid resource name"));
      }
    }
    const std::string& m = req.method;
    bool watch = p.watch_prefix;
    if (auto w = req.Query("watch")) watch = watch || ParseBool(*w);
    if (p.name.empty()) {
      if (m == "GET") {
        *verb = watch ? "WATCH" : "LIST";
        return watch ? Watch(req, *type, p) : List(req, *type, p);
      }
      if (m == "POST") {
        *verb = "POST";
        if (type->namespaced && p.ns.empty()) return StatusResponse(apierrors::NewNotFoundPath());
        return Create(req, *type, p);
      }
      if (m == "DELETE") {
        *verb = "DELETECOLLECTION";
        return DeleteCollection(req, *type, p);
      }
      return StatusResponse(apierrors::NewMethodNotSupported(type->QualifiedResource(), m));
    }
    if (type->namespaced && p.ns.empty()) return StatusResponse(apierrors::NewNotFoundPath());
    if (!p.subresource.empty()) {
      *resource_label = p.resource + "/" + p.subresource;
      *verb = m;
      bool known = std::any_of(type->subresources.begin(), type->subresources.end(),
                               [&](const api::Subresource& s) { return s.name == p.subresource; });
      if (!known) return StatusResponse(apierrors::NewNotFoundPath());
      if (p.subresource == "status" || p.subresource == "approval") {  // approval: CSRs
        if (m == "GET") return Get(req, *type, p);
        if (m == "PUT") return Update(req, *type, p);
        if (m == "PATCH") return Patch(req, *type, p);
      } else if (p.subresource == "scale") {
        if (m == "GET" || m == "PUT" || m == "PATCH") return Scale(req, *type, p);
      } else if (p.subresource == "eviction" && m == "POST") {
        return Evict(req, *type, p);
      } else if (p.subresource == "ephemeralcontainers" &&
                 (m == "GET" || m == "PUT" || m == "PATCH")) {
        return EphemeralContainers(req, *type, p);
      } else if (p.subresource == "binding" && m == "POST") {
        return Binding(req, *type, p);
      } else if (p.subresource == "finalize" && m == "PUT") {
        return Update(req, *type, p);
      } else if (options.node_proxy && p.group.empty() && p.resource == "pods" &&
                 (p.subresource == "log" || p.subresource == "exec" || p.subresource == "attach" ||
                  p.subresource == "portforward")) {
        return options.node_proxy->PodSubresource(req, p.ns, p.name, p.subresource);
      } else if (options.node_proxy && p.group.empty() && p.resource == "nodes" &&
                 p.subresource == "proxy") {
        return options.node_proxy->NodeProxyRequest(req, p.name, "/");
      } else {
        // TODO(korral): pods/proxy and services/proxy (the apiserver dialing pod IPs, which
        // needs routes to every node's pod CIDR) are not served; neither is anything else a
        // type declares without a handler here (and pods' log/exec/attach/portforward when the
        // server runs without a node proxy).
        return StatusResponse(apierrors::NewBadRequest(
            fmt::format("the {}/{} subresource is not supported by this server yet", p.resource,
                        p.subresource)));
      }
      return StatusResponse(
          apierrors::NewMethodNotSupported(type->QualifiedResource() + "/" + p.subresource, m));
    }
    if (m == "GET") {
      if (watch) {
        // Watch of a single object: a list-watch with a name field selector.
        *verb = "WATCH";
        Path q = p;
        q.name.clear();
        std::string fs = "metadata.name=" + p.name;
        if (auto v = req.Query("fieldSelector"); v && !v->empty()) fs += "," + std::string(*v);
        req.query.push_back({"fieldSelector", fs});
        std::erase_if(req.query, [&](const auto& kv) {
          return kv.first == "fieldSelector" && kv.second != fs;
        });
        return Watch(req, *type, q);
      }
      *verb = "GET";
      return Get(req, *type, p);
    }
    if (m == "PUT") {
      *verb = "PUT";
      return Update(req, *type, p);
    }
    if (m == "PATCH") {
      *verb = "PATCH";
      return Patch(req, *type, p);
    }
    if (m == "DELETE") {
      *verb = "DELETE";
      return Delete(req, *type, p);
    }
    if (m == "POST") {
      *verb = "POST";
      return StatusResponse(apierrors::NewMethodNotSupported(type->QualifiedResource(), "create"));
    }
    *verb = m;
    return StatusResponse(apierrors::NewMethodNotSupported(type->QualifiedResource(), m));
  }
};

// ---- watch streaming ---------------------------------------------------------------------------

namespace {

class WatchStream final : public http::StreamBody,
                          public WatchSink,
                          public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(WatchCache* cache, const api::ResourceType* type, std::string prefix, int64_t rv,
              ObjectFilter filter, bool table, Accept accept, ApiHandler::Impl* impl,
              TimerQueue* timers, std::chrono::seconds timeout, bool bookmarks)
      : cache_(cache),
        type_(type),
        prefix_(std::move(prefix)),
        rv_(rv),
        filter_(std::move(filter)),
        table_(table),
        accept_(std::move(accept)),
        impl_(impl),
        timers_(timers),
        timeout_(timeout),
        bookmarks_(bookmarks) {}

  void Start(std::shared_ptr<http::StreamWriter> writer) override {
    {
      std::lock_guard l(mu_);
      writer_ = writer;
    }
    auto id = cache_->Watch(prefix_, rv_, filter_, shared_from_this());
    if (!id.ok()) {
      OnError(id.status());
      return;
    }
    {
      std::lock_guard l(mu_);
      id_ = *id;
      if (closed_) {
        cache_->CancelWatch(*id);
        return;
      }
    }
    std::weak_ptr<WatchStream> weak = shared_from_this();
    timers_->Schedule(TimerQueue::Clock::now() + timeout_, [weak] {
      if (auto self = weak.lock()) self->Finish();
    });
    if (bookmarks_) ScheduleBookmark();
  }

  bool OnBookmark(int64_t revision) override {
    std::shared_ptr<http::StreamWriter> w;
    {
      std::lock_guard l(mu_);
      if (closed_) return false;
      w = writer_;
    }
    return w->Write(
        fmt::format("{{\"type\":\"BOOKMARK\",\"object\":{{\"kind\":\"{}\",\"apiVersion\":\"{}\","
                    "\"metadata\":{{\"resourceVersion\":\"{}\"}}}}}}\n",
                    accept_.metadata ? "PartialObjectMetadata" : type_->gvk.kind,
                    accept_.metadata ? "meta.k8s.io/v1" : type_->gvk.ApiVersion(), revision));
  }

  void OnClientGone() override { Finish(); }

  // Periodic bookmarks let clients resume from a recent revision even on quiet resources.
  void ScheduleBookmark() {
    std::weak_ptr<WatchStream> weak = shared_from_this();
    timers_->Schedule(TimerQueue::Clock::now() + impl_->options.bookmark_interval, [weak] {
      auto self = weak.lock();
      if (!self) return;
      uint64_t id;
      {
        std::lock_guard l(self->mu_);
        if (self->closed_) return;
        id = self->id_;
      }
      self->cache_->Bookmark(id);
      self->ScheduleBookmark();
    });
  }

  bool OnEvent(WatchEventType type, const ObjectPtr& obj) override {
    std::shared_ptr<http::StreamWriter> w;
    {
      std::lock_guard l(mu_);
      if (closed_) return false;
      w = writer_;
    }
    const char* name = type == WatchEventType::kAdded      ? "ADDED"
                       : type == WatchEventType::kModified ? "MODIFIED"
                                                           : "DELETED";
    std::string line;
    if (table_) {
      std::string body = impl_->TableOf(*type_, {obj}, obj->resource_version, "", accept_);
      line = fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", name, body);
    } else if (accept_.metadata) {
      line = fmt::format("{{\"type\":\"{}\",\"object\":{}}}\n", name,
                         PartialObjectMetadataJson(obj->object));
    } else {
      line.reserve(obj->json.size() + 32);
      line += "{\"type\":\"";
      line += name;
      line += "\",\"object\":";
      line += obj->json;
      line += "}\n";
    }
    return w->Write(std::move(line));
  }

  void OnError(const absl::Status& status) override {
    std::shared_ptr<http::StreamWriter> w;
    {
      std::lock_guard l(mu_);
      if (closed_) return;
      closed_ = true;
      w = writer_;
    }
    if (w) {
      Json ev = {{"type", "ERROR"}, {"object", apierrors::ToStatusObject(status)}};
      w->Write(ev.dump() + "\n");
      w->Close();
    }
  }

 private:
  void Finish() {
    std::shared_ptr<http::StreamWriter> w;
    uint64_t id;
    {
      std::lock_guard l(mu_);
      if (closed_) return;
      closed_ = true;
      w = writer_;
      id = id_;
    }
    if (id) cache_->CancelWatch(id);
    if (w) w->Close();
  }

  WatchCache* cache_;
  const api::ResourceType* type_;
  std::string prefix_;
  int64_t rv_;
  ObjectFilter filter_;
  bool table_;
  Accept accept_;
  ApiHandler::Impl* impl_;
  TimerQueue* timers_;
  std::chrono::seconds timeout_;
  bool bookmarks_;
  std::mutex mu_;
  std::shared_ptr<http::StreamWriter> writer_;
  uint64_t id_ = 0;
  bool closed_ = false;
};

}  // namespace

http::Response ApiHandler::Impl::Watch(http::Request& req, const api::ResourceType& type,
                                       const Path& p) {
  std::string ls, fs;
  if (auto v = req.Query("labelSelector")) ls = *v;
  if (auto v = req.Query("fieldSelector")) fs = *v;
  auto filter = store->MakeFilter(type, ls, fs);
  if (!filter.ok()) return StatusResponse(filter.status());
  int64_t rv = 0;
  if (auto v = req.Query("resourceVersion"); v && !v->empty() && *v != "0") {
    for (char c : *v) {
      if (c < '0' || c > '9' || rv > INT64_MAX / 10 - 10) {
        return StatusResponse(
            apierrors::NewBadRequest(fmt::format("invalid resource version \"{}\"", *v)));
      }
      rv = rv * 10 + (c - '0');
    }
    if (!store->cache()->WaitForRevision(rv, std::chrono::seconds(3))) {
      return StatusResponse(apierrors::NewTimeout(fmt::format(
          "Too large resource version: {}, current: {}", rv, store->cache()->Revision())));
    }
  } else if (!req.Query("resourceVersion")) {
    // No resourceVersion: initial state must include everything written before the request.
    store->cache()->WaitFresh();
  }
  std::chrono::seconds timeout = options.min_request_timeout;
  if (auto v = req.Query("timeoutSeconds"); v && !v->empty()) {
    long t = std::atol(std::string(*v).c_str());
    if (t > 0) timeout = std::chrono::seconds(t);
  } else {
    // Upstream spreads watch lifetimes over [min, 2*min) so clients do not reconnect together.
    thread_local std::mt19937 rng{std::random_device{}()};
    timeout += std::chrono::seconds(rng() % std::max<long>(1, options.min_request_timeout.count()));
  }
  bool bookmarks = false;
  if (auto v = req.Query("allowWatchBookmarks")) bookmarks = ParseBool(*v);
  Accept accept = ParseAccept(req);
  http::Response r;
  r.status = 200;
  r.content_type = "application/json";
  r.stream = std::make_shared<WatchStream>(store->cache(), &type, Store::Key(type, p.ns, ""), rv,
                                           std::move(*filter), accept.table, accept, this, &timers,
                                           timeout, bookmarks);
  return r;
}

ApiHandler::ApiHandler(Store* store, Discovery* discovery, Metrics* metrics, Clock* clock,
                       HandlerOptions options)
    : impl_(new Impl{store, discovery, metrics, clock, options, {}}) {}

ApiHandler::~ApiHandler() = default;

bool ApiHandler::CanRunInline(const http::Request& req) const {
  if (req.method != "GET") return false;
  const std::string& p = req.path;
  if (MetricsApi::Handles(p)) return false;  // asks the kubelets
  if (p.rfind("/api/", 0) != 0 && p.rfind("/apis/", 0) != 0)
    return p == "/healthz" || p == "/readyz" || p == "/livez";
  if (p.find("/watch/") != std::string::npos) return false;
  {
    // Subresources proxied to kubelets block on the network: never inline.
    Path rp;
    std::string node, rest;
    if (NodeProxy::ParseNodeProxyPath(p, &node, &rest)) return false;
    std::string resource, ns;
    if (NodeProxy::ParseResourceProxyPath(p, &resource, &ns, &node, &rest)) return false;
    if (ParseResourcePath(p, &rp) && !rp.subresource.empty() && rp.subresource != "status" &&
        rp.subresource != "scale") {
      return false;
    }
  }
  if (auto w = req.Query("watch"); w && ParseBool(*w)) return false;
  // A log or exec subresource, a future resourceVersion, ... may wait: only plain reads.
  if (auto rv = req.Query("resourceVersion"); rv && !rv->empty() && *rv != "0") return false;
  if (req.Query("continue") || req.Query("resourceVersionMatch")) return false;
  return impl_->store->cache()->IsFresh();
}

http::Response ApiHandler::ErrorResponse(int code, std::string_view message) {
  absl::Status s = code == 413 ? apierrors::NewRequestEntityTooLarge(message)
                               : apierrors::NewBadRequest(message);
  return StatusResponse(s);
}

http::Response ApiHandler::Handle(http::Request& req) {
  // `timeout=` (request_timeout.h): served on a thread of its own against the deadline.
  auto deadline = RequestDeadline(req, impl_->options.request_timeout);
  if (!deadline.ok()) return StatusResponse(deadline.status());
  if (*deadline) {
    return impl_->deadlines.Run(req, **deadline, [this](http::Request& r) { return HandleNow(r); });
  }
  return HandleNow(req);
}

http::Response ApiHandler::HandleNow(http::Request& req) {
  auto start = std::chrono::steady_clock::now();
  std::string verb = req.method, resource;
  http::Response resp;
  const std::string& path = req.path;
  std::unique_ptr<security::RequestScope> scope;
  if (impl_->options.security) scope = impl_->options.security->Begin(req);
  bool authenticated = scope || req.client_cert.has_value() || impl_->options.allow_anonymous;
  bool public_path = path == "/version" || path == "/healthz" || path == "/livez" ||
                     path == "/readyz" || path.rfind("/healthz/", 0) == 0 ||
                     path.rfind("/livez/", 0) == 0 || path.rfind("/readyz/", 0) == 0;
  if (scope && scope->response) {
    resp = std::move(*scope->response);
    scope->response.reset();
  } else if (!authenticated && !public_path) {
    // TODO(korral): token authentication, anonymous RBAC and the rest of authn/authz are the
    // security issue; today only client certificates signed by the cluster CA authenticate.
    std::string verb_lower = req.method;
    for (auto& c : verb_lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    resp = StatusResponse(apierrors::NewForbidden(
        "", "", fmt::format("User \"system:anonymous\" cannot {} path \"{}\"", verb_lower, path)));
  } else if (impl_->options.max_inflight &&
             impl_->options.max_inflight->ShouldReject(
                 req, RequestUserGroups(req, scope != nullptr, impl_->options.allow_anonymous))) {
    resp = MaxInFlightLimiter::TooManyRequests();  // maxinflight.h
  } else if (path == "/version" || path == "/version/") {
    Json v = {{"major", "1"},
              {"minor", "32"},
              {"gitVersion", kGitVersion},
              {"gitCommit", "korral"},
              {"gitTreeState", "clean"},
              {"buildDate", "2026-11-28T00:00:00Z"},
              {"goVersion", "go1.23.0"},
              {"compiler", "gc"},
              {"platform", "linux/amd64"}};
    resp = JsonResponse(200, v.dump());
  } else if (path == "/healthz" || path == "/livez" || path.rfind("/healthz/", 0) == 0 ||
             path.rfind("/livez/", 0) == 0) {
    resp.status = 200;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = "ok";
  } else if (path == "/readyz" || path.rfind("/readyz/", 0) == 0) {
    bool ready = ready_.load();
    resp.status = ready ? 200 : 503;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = ready ? "ok" : "[-]korral-bootstrap failed: not finished\nreadyz check failed";
  } else if (path == "/metrics") {
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    impl_->metrics->SetGauge("korral_watch_cache_watchers",
                             "Open watches served by the watch cache.",
                             static_cast<double>(impl_->store->cache()->WatcherCount()));
    impl_->metrics->SetGauge("korral_storage_revision", "Current storage revision.",
                             static_cast<double>(impl_->store->cache()->Revision()));
    resp.body = impl_->metrics->Render();
  } else if (path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/") {
    bool legacy = path.rfind("/api/", 0) == 0 || path == "/api";
    std::string_view accept = req.Header("Accept");
    auto v2 = accept.find("v=v2;as=APIGroupDiscoveryList");
    auto v2b = accept.find("v=v2beta1;as=APIGroupDiscoveryList");
    if (v2 != std::string_view::npos || v2b != std::string_view::npos) {
      // Prefer whichever the client listed first.
      std::string_view version =
          (v2 != std::string_view::npos && (v2b == std::string_view::npos || v2 < v2b)) ? "v2"
                                                                                        : "v2beta1";
      resp = JsonResponse(200, impl_->discovery->Aggregated(legacy, version));
      resp.content_type = fmt::format(
          "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList", version);
    } else {
      resp = JsonResponse(
          200, legacy ? impl_->discovery->ApiVersions() : impl_->discovery->ApiGroupList());
    }
  } else if (path.rfind("/openapi/v3", 0) == 0) {
    std::string_view rest = std::string_view(path).substr(sizeof("/openapi/v3") - 1);
    if (rest.empty() || rest == "/") {
      resp = JsonResponse(200, schema::OpenApiV3Index().dump());
    } else {
      const std::string* doc = schema::OpenApiV3Document(rest.substr(1));
      if (!doc) {
        resp = StatusResponse(apierrors::NewNotFoundPath());
      } else {
        resp = JsonResponse(200, *doc);
        if (req.Query("hash")) resp.headers.push_back({"Cache-Control", "public, immutable"});
      }
    }
  } else {
    auto seg = Split(path);
    const std::string* doc = nullptr;
    if (seg.size() == 2 && seg[0] == "api") {
      doc = impl_->discovery->ResourceList("", seg[1]);
    } else if (seg.size() == 2 && seg[0] == "apis") {
      doc = impl_->discovery->ApiGroup(seg[1]);
    } else if (seg.size() == 3 && seg[0] == "apis") {
      doc = impl_->discovery->ResourceList(seg[1], seg[2]);
    }
    if (doc) {
      resp = JsonResponse(200, *doc);
    } else if (metrics_api_ && MetricsApi::Handles(path)) {
      resp = metrics_api_->Handle(req);
    } else {
      Path p;
      std::string proxy_node, proxy_path, proxy_resource, proxy_ns;
      if (impl_->options.node_proxy &&
          NodeProxy::ParseResourceProxyPath(path, &proxy_resource, &proxy_ns, &proxy_node,
                                            &proxy_path)) {
        resource = proxy_resource + "/proxy";  // pods/proxy, services/proxy (proxy.h)
        resp = impl_->options.node_proxy->ResourceProxyRequest(req, proxy_resource, proxy_ns,
                                                               proxy_node, proxy_path);
      } else if (ParseResourcePath(path, &p)) {
        resp = impl_->HandleResource(req, p, &verb, &resource);
      } else if (impl_->options.node_proxy &&
                 NodeProxy::ParseNodeProxyPath(path, &proxy_node, &proxy_path)) {
        resource = "nodes/proxy";
        resp = impl_->options.node_proxy->NodeProxyRequest(req, proxy_node, proxy_path);
      } else {
        resp = StatusResponse(apierrors::NewNotFoundPath());
      }
    }
  }
  if (scope) scope->Finish(resp);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!resource.empty()) impl_->metrics->ObserveRequest(verb, resource, resp.status, secs);
  KLOG(Debug, "{} {} -> {} ({:.3f} ms)", req.method, req.target, resp.status, secs * 1000);
  return resp;
}

}  // namespace korral::apiserver
