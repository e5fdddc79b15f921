// korral/controllers/pod_summary.cc
#include "korral/controllers/pod_summary.h"

#include <algorithm>
#include <charconv>

#include "korral/api/resource.h"

namespace korral::controllers {

namespace {

using Json = nlohmann::json;

const Json* Field(const Json& obj, const char* name) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

std::string StrField(const Json* obj, const char* name) {
  if (obj == nullptr) return "";
  const Json* f = Field(*obj, name);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

std::optional<std::int64_t> ParseInt64(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;  // strconv.ParseInt accepts a leading sign
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e) return std::nullopt;
  return v;
}

PodSummary::Phase PhaseOf(const std::string& p) {
  using P = PodSummary::Phase;
  if (p == "Pending") return P::kPending;
  if (p == "Running") return P::kRunning;
  if (p == "Succeeded") return P::kSucceeded;
  if (p == "Failed") return P::kFailed;
  if (p == "Unknown") return P::kUnknown;
  return P::kOther;
}

}  // namespace

std::string_view PodSummary::Namespace() const {
  auto slash = key.find('/');
  return slash == std::string::npos ? std::string_view() : std::string_view(key).substr(0, slash);
}

std::string_view PodSummary::Name() const {
  auto slash = key.find('/');
  return slash == std::string::npos ? std::string_view(key)
                                    : std::string_view(key).substr(slash + 1);
}

std::string_view PodSummary::PhaseName() const {
  switch (phase) {
    case Phase::kPending:
      return "Pending";
    case Phase::kRunning:
      return "Running";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
    case Phase::kUnknown:
      return "Unknown";
    case Phase::kOther:
      break;
  }
  return "";
}

const std::string* PodSummary::Label(std::string_view k) const {
  auto it = std::lower_bound(labels.begin(), labels.end(), k,
                             [](const auto& kv, std::string_view x) { return kv.first < x; });
  return it != labels.end() && it->first == k ? &it->second : nullptr;
}

bool PodSummary::Matches(const labels::LabelSelector& selector) const {
  // Mirrors labels::Requirement::Matches on the summary's labels.
  if (selector.MatchesNothing()) return false;
  for (const labels::Requirement& r : selector.requirements()) {
    const std::string* v = Label(r.key);
    auto has_value = [&](const std::string& x) {
      return std::binary_search(r.values.begin(), r.values.end(), x);
    };
    bool ok = false;
    switch (r.op) {
      case labels::Operator::kIn:
      case labels::Operator::kEquals:
      case labels::Operator::kDoubleEquals:
        ok = v != nullptr && has_value(*v);
        break;
      case labels::Operator::kNotIn:
      case labels::Operator::kNotEquals:
        ok = v == nullptr || !has_value(*v);
        break;
      case labels::Operator::kExists:
        ok = v != nullptr;
        break;
      case labels::Operator::kDoesNotExist:
        ok = v == nullptr;
        break;
      case labels::Operator::kGreaterThan:
      case labels::Operator::kLessThan: {
        if (v == nullptr || r.values.size() != 1) break;
        auto lv = ParseInt64(*v);
        auto rv = ParseInt64(r.values[0]);
        if (!lv || !rv) break;
        ok = r.op == labels::Operator::kGreaterThan ? *lv > *rv : *lv < *rv;
        break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

bool PodSummary::HasAllLabels(const Json& want) const {
  if (!want.is_object()) return true;
  for (auto it = want.begin(); it != want.end(); ++it) {
    const std::string* v = Label(it.key());
    if (v == nullptr || !it.value().is_string() || it.value().get_ref<const std::string&>() != *v) {
      return false;
    }
  }
  return true;
}

Json PodSummary::LabelsJson() const {
  Json out = Json::object();
  for (const auto& [k, v] : labels) out[k] = v;
  return out;
}

bool PodSummary::Available(std::int64_t min_ready_seconds, TimePoint now) const {
  if (!ready) return false;
  if (min_ready_seconds == 0) return true;
  return has_ready_time && ready_since + std::chrono::seconds(min_ready_seconds) < now;
}

PodSummaryPtr SummarizePod(const Json& pod) {
  auto s = std::make_shared<PodSummary>();
  const Json* meta = Field(pod, "metadata");
  std::string ns = StrField(meta, "namespace");
  std::string name = StrField(meta, "name");
  s->key = ns.empty() ? name : ns + "/" + name;
  s->uid = StrField(meta, "uid");
  if (const Json* l = meta ? Field(*meta, "labels") : nullptr; l != nullptr && l->is_object()) {
    for (auto it = l->begin(); it != l->end(); ++it) {
      if (it.value().is_string()) s->labels.emplace_back(it.key(), it.value().get<std::string>());
    }
    std::sort(s->labels.begin(), s->labels.end());
    s->labels.shrink_to_fit();
  }
  if (const Json* refs = meta ? Field(*meta, "ownerReferences") : nullptr;
      refs != nullptr && refs->is_array()) {
    for (const Json& r : *refs) {
      const Json* c = Field(r, "controller");
      if (c == nullptr || !c->is_boolean() || !c->get<bool>()) continue;
      s->has_controller = true;
      s->controller_kind = StrField(&r, "kind");
      s->controller_name = StrField(&r, "name");
      s->controller_uid = StrField(&r, "uid");
      break;
    }
  }
  s->deleting = !StrField(meta, "deletionTimestamp").empty();
  s->created =
      api::ParseTime(StrField(meta, "creationTimestamp")).value_or(PodSummary::TimePoint{});
  if (const Json* a = meta ? Field(*meta, "annotations") : nullptr) {
    std::string cost = StrField(a, "controller.kubernetes.io/pod-deletion-cost");
    s->deletion_cost = ParseInt64(cost).value_or(0);
  }
  s->node_name = StrField(Field(pod, "spec"), "nodeName");
  const Json* status = Field(pod, "status");
  s->phase = PhaseOf(StrField(status, "phase"));
  if (const Json* conds = status ? Field(*status, "conditions") : nullptr;
      conds != nullptr && conds->is_array()) {
    for (const Json& c : *conds) {
      if (StrField(&c, "type") != "Ready") continue;
      s->ready = StrField(&c, "status") == "True";
      if (s->ready) {
        std::string t = StrField(&c, "lastTransitionTime");
        if (auto tp = t.empty() ? std::nullopt : api::ParseTime(t)) {
          s->has_ready_time = true;
          s->ready_since = *tp;
        }
      }
      break;
    }
  }
  for (const char* f : {"containerStatuses", "initContainerStatuses"}) {
    const Json* st = status ? Field(*status, f) : nullptr;
    if (st == nullptr || !st->is_array()) continue;
    for (const Json& c : *st) {
      const Json* rc = Field(c, "restartCount");
      if (rc != nullptr && rc->is_number_integer()) {
        s->max_restarts = std::max(s->max_restarts, rc->get<int>());
      }
    }
  }
  return s;
}

client::SummaryFunc PodSummaryFunc() {
  return [](const Json& pod) -> client::Summary { return SummarizePod(pod); };
}

namespace {
std::vector<PodSummaryPtr> Cast(std::vector<client::Summary> in) {
  std::vector<PodSummaryPtr> out;
  out.reserve(in.size());
  for (auto& s : in) out.push_back(std::static_pointer_cast<const PodSummary>(std::move(s)));
  return out;
}
}  // namespace

std::vector<PodSummaryPtr> PodSummariesByIndex(const client::Indexer& pods,
                                               const std::string& index_name,
                                               const std::string& value) {
  if (pods.has_summaries()) return Cast(pods.SummariesByIndex(index_name, value));
  std::vector<PodSummaryPtr> out;
  for (const auto& p : pods.ByIndex(index_name, value)) out.push_back(SummarizePod(*p));
  return out;
}

std::vector<PodSummaryPtr> ListPodSummaries(const client::Indexer& pods) {
  if (pods.has_summaries()) return Cast(pods.ListSummaries());
  std::vector<PodSummaryPtr> out;
  for (const auto& p : pods.List()) out.push_back(SummarizePod(*p));
  return out;
}

std::vector<client::ObjectPtr> PodsWhere(const client::Indexer& pods, const std::string& ns,
                                         const std::function<bool(const PodSummary&)>& keep) {
  std::vector<client::ObjectPtr> out;
  if (!pods.has_summaries()) {
    for (client::ObjectPtr& p : pods.ListNamespace(ns)) {
      if (keep(*SummarizePod(*p))) out.push_back(std::move(p));
    }
    return out;
  }
  for (const PodSummaryPtr& s : PodSummariesByIndex(pods, client::kNamespaceIndex, ns)) {
    if (!keep(*s)) continue;
    if (client::ObjectPtr p = pods.Get(s->key)) out.push_back(std::move(p));
  }
  return out;
}

std::vector<client::ObjectPtr> PodsWithLabels(const client::Indexer& pods, const std::string& ns,
                                              const Json& map_selector) {
  return PodsWhere(pods, ns, [&](const PodSummary& s) { return s.HasAllLabels(map_selector); });
}

}  // namespace korral::controllers
