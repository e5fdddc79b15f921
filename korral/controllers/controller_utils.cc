// korral/controllers/controller_utils.cc
#include "korral/controllers/controller_utils.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "korral/api/resource.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::controllers {

QueueWorker::QueueWorker(std::string name, const Clock& clock, SyncFunc sync,
                         std::unique_ptr<client::RateLimiter> rate_limiter)
    : name_(std::move(name)), sync_(std::move(sync)), queue_([&] {
        client::WorkQueueOptions o;
        o.clock = &clock;
        o.rate_limiter = std::move(rate_limiter);
        o.name = name_;
        return o;
      }()) {}

QueueWorker::~QueueWorker() { Stop(); }

bool QueueWorker::ProcessOne(std::optional<std::string> key) {
  if (!key) return false;
  absl::Status s;
  try {
    s = sync_(*key);
  } catch (const std::exception& e) {
    // JSON type errors on malformed objects must not kill the worker.
    s = absl::InternalError(absl::string_view(std::string("sync threw: ") + e.what()));
  }
  if (s.ok()) {
    queue_.Forget(*key);
  } else {
    KLOG(Info, "{}: error syncing {}: {}", name_, *key, StatusMessage(s));
    queue_.AddRateLimited(*key);
  }
  queue_.Done(*key);
  return true;
}

void QueueWorker::Run(int workers) {
  std::lock_guard l(mu_);
  if (stopped_) return;
  for (int i = 0; i < std::max(1, workers); ++i) {
    threads_.emplace_back([this] {
      while (ProcessOne(queue_.Get())) {
      }
    });
  }
}

void QueueWorker::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard l(mu_);
    stopped_ = true;
    threads.swap(threads_);
  }
  queue_.ShutDown();
  for (auto& t : threads) t.join();
}

int QueueWorker::ProcessAll(int max_items) {
  int n = 0;
  while (n < max_items && ProcessOne(queue_.GetFor(std::chrono::milliseconds(0)))) ++n;
  return n;
}

client::ResourceEventHandler EnqueueHandler(QueueWorker& worker) {
  client::ResourceEventHandler h;
  h.on_add = [&worker](const client::ObjectPtr& o) { worker.Add(client::ObjectKey(*o)); };
  h.on_update = [&worker](const client::ObjectPtr&, const client::ObjectPtr& o) {
    worker.Add(client::ObjectKey(*o));
  };
  h.on_delete = [&worker](const client::ObjectPtr& o, bool) { worker.Add(client::ObjectKey(*o)); };
  return h;
}

std::optional<Json> ControllerRefOf(const Json& object) {
  if (!object.contains("metadata")) return std::nullopt;
  const Json& m = object["metadata"];
  if (!m.contains("ownerReferences") || !m["ownerReferences"].is_array()) return std::nullopt;
  for (const auto& r : m["ownerReferences"]) {
    if (r.is_object() && r.value("controller", false)) return r;
  }
  return std::nullopt;
}

Json NewControllerRef(const Json& owner, const std::string& api_version, const std::string& kind) {
  return Json{{"apiVersion", api_version}, {"kind", kind},       {"name", NameOf(owner)},
              {"uid", UidOf(owner)},       {"controller", true}, {"blockOwnerDeletion", true}};
}

bool HasOwnerUid(const Json& object, const std::string& uid) {
  if (!object.contains("metadata")) return false;
  const Json& m = object["metadata"];
  if (!m.contains("ownerReferences") || !m["ownerReferences"].is_array()) return false;
  for (const auto& r : m["ownerReferences"]) {
    if (r.is_object() && r.value("uid", "") == uid) return true;
  }
  return false;
}

namespace {
std::string MetaString(const Json& o, const char* field) {
  if (!o.is_object() || !o.contains("metadata") || !o["metadata"].is_object()) return "";
  const Json& m = o["metadata"];
  auto it = m.find(field);
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}
}  // namespace

const Json& SpecOf(const Json& o) {
  static const Json kEmpty = Json::object();
  if (!o.is_object()) return kEmpty;
  auto it = o.find("spec");
  return it != o.end() && it->is_object() ? *it : kEmpty;
}

std::string NameOf(const Json& o) { return MetaString(o, "name"); }
std::string NamespaceOf(const Json& o) { return MetaString(o, "namespace"); }
std::string UidOf(const Json& o) { return MetaString(o, "uid"); }
bool IsBeingDeleted(const Json& o) { return !MetaString(o, "deletionTimestamp").empty(); }

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

namespace {
std::optional<std::string> LabelValue(const Json& labels, const std::string& k) {
  if (!labels.is_object()) return std::nullopt;
  auto it = labels.find(k);
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}
}  // namespace

bool LabelSelectorMatches(const Json& selector, const Json& labels, bool empty_matches_all) {
  if (!selector.is_object()) return empty_matches_all;
  bool has_terms = false;
  if (selector.contains("matchLabels") && selector["matchLabels"].is_object()) {
    for (auto& [k, v] : selector["matchLabels"].items()) {
      has_terms = true;
      auto got = LabelValue(labels, k);
      if (!got || !v.is_string() || *got != v.get<std::string>()) return false;
    }
  }
  if (selector.contains("matchExpressions") && selector["matchExpressions"].is_array()) {
    for (const auto& e : selector["matchExpressions"]) {
      has_terms = true;
      std::string key = e.value("key", "");
      std::string op = e.value("operator", "");
      std::vector<std::string> values;
      if (e.contains("values") && e["values"].is_array()) {
        for (const auto& v : e["values"]) {
          if (v.is_string()) values.push_back(v.get<std::string>());
        }
      }
      auto got = LabelValue(labels, key);
      bool in = got && std::find(values.begin(), values.end(), *got) != values.end();
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && !got) return false;
      if (op == "DoesNotExist" && got) return false;
      if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") return false;
    }
  }
  return has_terms || empty_matches_all;
}

bool MapSelectorMatches(const Json& selector, const Json& labels) {
  if (!selector.is_object() || selector.empty()) return false;
  for (auto& [k, v] : selector.items()) {
    auto got = LabelValue(labels, k);
    if (!got || !v.is_string() || *got != v.get<std::string>()) return false;
  }
  return true;
}

std::vector<std::string> PodNodeNameIndexFunc(const Json& pod) {
  if (!pod.contains("spec") || !pod["spec"].is_object()) return {""};
  return {pod["spec"].value("nodeName", "")};
}

void EnsurePodNodeNameIndex(client::SharedInformer* pods) {
  (void)pods->AddIndex(kPodNodeNameIndex, PodNodeNameIndexFunc);  // AlreadyExists is fine
}

bool IsPodReady(const Json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return false;
  for (const auto& c : pod["status"]["conditions"]) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

bool IsPodTerminated(const Json& pod) {
  std::string phase =
      pod.contains("status") && pod["status"].is_object() ? pod["status"].value("phase", "") : "";
  return phase == "Succeeded" || phase == "Failed";
}

bool IsPodActive(const Json& pod) { return !IsPodTerminated(pod) && !IsBeingDeleted(pod); }

std::string FormatTime(std::chrono::system_clock::time_point t) { return api::FormatTime(t); }
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view s) {
  return api::ParseTime(s);
}

absl::StatusOr<std::chrono::milliseconds> ParseGoDuration(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::string_view("invalid duration \"" + std::string(s) +
                                                        "\" (use e.g. 300ms, 40s, 5m, 1h30m)"));
  };
  if (s == "0") return std::chrono::milliseconds(0);
  if (s.empty()) return bad();
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return bad();
    double n = std::atof(std::string(s.substr(start, i - start)).c_str());
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double mult = unit == "ms"   ? 1
                  : unit == "s"  ? 1000
                  : unit == "m"  ? 60000
                  : unit == "h"  ? 3600000
                  : unit == "us" ? 0.001
                  : unit == "ns" ? 0.000001
                                 : -1;
    if (mult < 0) return bad();
    total_ms += n * mult;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

Expectations::Expectations(const Clock& clock, std::chrono::seconds ttl)
    : clock_(clock), ttl_(ttl) {}

void Expectations::ExpectCreations(const std::string& key, int adds) {
  std::lock_guard l(mu_);
  entries_[key] = Entry{adds, 0, clock_.SteadyNow()};
}

void Expectations::ExpectDeletions(const std::string& key, int dels) {
  std::lock_guard l(mu_);
  entries_[key] = Entry{0, dels, clock_.SteadyNow()};
}

void Expectations::CreationObserved(const std::string& key) { LowerExpectations(key, 1, 0); }
void Expectations::DeletionObserved(const std::string& key) { LowerExpectations(key, 0, 1); }

void Expectations::LowerExpectations(const std::string& key, int adds, int dels) {
  std::lock_guard l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.adds -= adds;
  it->second.dels -= dels;
}

bool Expectations::Satisfied(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return true;
  if (it->second.adds <= 0 && it->second.dels <= 0) return true;
  return clock_.SteadyNow() - it->second.set > ttl_;
}

void Expectations::Delete(const std::string& key) {
  std::lock_guard l(mu_);
  entries_.erase(key);
}

}  // namespace korral::controllers
