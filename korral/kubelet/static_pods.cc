// Static pods (upstream pkg/kubelet/config/file.go + pod/mirror_client.go): pod manifests in
// KubeletConfig::pod_manifest_path run on this node without the API; each gets a mirror pod in
// the API (annotation kubernetes.io/config.mirror = the static pod's hash, ownerReference to the
// Node) that carries its status.
//
// A manifest's pod is named <name>-<nodeName> (namespace "default" unless set), its UID is a
// hash of the manifest, the node and the file path (so editing the file gives a new pod: the old
// one is stopped and the new one started), annotations kubernetes.io/config.hash (= UID),
// config.source=file and config.seen, and it tolerates every NoExecute taint. Removing the file
// stops the pod and deletes its mirror pod; a mirror pod deleted through the API (or one that no
// longer matches the manifest) is deleted and recreated by the next sync.
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/apimachinery/yaml.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

namespace fs = std::filesystem;

namespace {

constexpr char kConfigHash[] = "kubernetes.io/config.hash";
constexpr char kConfigSource[] = "kubernetes.io/config.source";
constexpr char kConfigSeen[] = "kubernetes.io/config.seen";
constexpr char kConfigMirror[] = "kubernetes.io/config.mirror";

std::string Md5Hex(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", out[i]);
  return hex;
}

std::string Annotation(const Json& pod, const char* key) {
  const Json& md = pod["metadata"];
  if (!md.contains("annotations") || !md["annotations"].is_object()) return "";
  return md["annotations"].value(key, "");
}

}  // namespace

absl::StatusOr<Json> StaticPodFromManifest(const std::string& path, const std::string& content,
                                           const std::string& node_name) {
  auto doc = yaml::YamlToJson(content);
  if (!doc.ok()) return doc.status();
  Json pod = std::move(*doc);
  if (!pod.is_object()) return absl::InvalidArgumentError("manifest is not an object");
  if (pod.value("kind", "") != "Pod" || pod.value("apiVersion", "") != "v1") {
    return absl::InvalidArgumentError(
        fmt::format("manifest is not a v1 Pod (apiVersion \"{}\", kind \"{}\")",
                    pod.value("apiVersion", ""), pod.value("kind", "")));
  }
  if (!pod.contains("metadata") || !pod["metadata"].is_object() ||
      pod["metadata"].value("name", "").empty()) {
    return absl::InvalidArgumentError("manifest has no metadata.name");
  }
  if (!pod.contains("spec") || !pod["spec"].is_object() || !pod["spec"].contains("containers")) {
    return absl::InvalidArgumentError("manifest has no spec.containers");
  }
  Json& md = pod["metadata"];
  // The hash covers the manifest as read (so any edit gives a new pod), the node and the file.
  std::string uid = md.value("uid", "");
  if (uid.empty()) {
    uid = Md5Hex(pod.dump() + "host:" + node_name + "file:" + path);
  }
  md["uid"] = uid;
  md["name"] = md.value("name", "") + "-" + node_name;
  if (md.value("namespace", "").empty()) md["namespace"] = "default";
  if (!md.contains("annotations") || !md["annotations"].is_object()) {
    md["annotations"] = Json::object();
  }
  md["annotations"][kConfigHash] = uid;
  md["annotations"][kConfigSource] = "file";
  pod["spec"]["nodeName"] = node_name;
  // Static pods are not evicted for node problems: tolerate every NoExecute taint.
  Json& tol = pod["spec"]["tolerations"];
  if (!tol.is_array()) tol = Json::array();
  Json exists = {{"operator", "Exists"}, {"effect", "NoExecute"}};
  bool has = false;
  for (const auto& t : tol) {
    if (t.value("operator", "") == "Exists" && t.value("effect", "") == "NoExecute" &&
        t.value("key", "").empty()) {
      has = true;
    }
  }
  if (!has) tol.push_back(exists);
  api::defaults::DefaultPod(pod);
  pod["status"] = {{"phase", "Pending"}};
  return pod;
}

bool IsStaticPod(const Json& pod) { return Annotation(pod, kConfigSource) == "file"; }
bool IsMirrorPod(const Json& pod) { return !Annotation(pod, kConfigMirror).empty(); }

void Kubelet::Impl::ScanStaticPods() {
  if (cfg.pod_manifest_path.empty()) return;
  last_static_scan = clock.SteadyNow();
  std::map<std::string, Json> found;  // by key
  std::error_code ec;
  if (fs::is_directory(cfg.pod_manifest_path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(cfg.pod_manifest_path, ec)) {
      std::string base = e.path().filename().string();
      if (base.empty() || base[0] == '.') continue;  // hidden files are ignored, as upstream
      if (!e.is_regular_file(ec)) continue;
      files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f);
      std::stringstream ss;
      ss << in.rdbuf();
      auto pod = StaticPodFromManifest(f.string(), ss.str(), cfg.node_name);
      if (!pod.ok()) {
        std::string msg(StatusMessage(pod.status()));
        if (static_errors[f.string()] != msg) {
          KLOG(Warning, "kubelet: could not process manifest file {}: {}", f.string(), msg);
        }
        static_errors[f.string()] = msg;
        continue;
      }
      static_errors.erase(f.string());
      std::string key = PodKey(*pod);
      if (found.count(key)) {
        KLOG(Warning, "kubelet: manifest {}: pod {} is already defined by another file", f.string(),
             key);
        continue;
      }
      found[key] = std::move(*pod);
    }
  } else if (!static_dir_missing_logged) {
    static_dir_missing_logged = true;
    KLOG(Info, "kubelet: pod manifest path {} does not exist (yet)", cfg.pod_manifest_path);
  }
  std::vector<Json> stop;
  std::vector<std::string> changed;
  {
    std::lock_guard l(mu);
    for (auto it = static_pods.begin(); it != static_pods.end();) {
      auto f = found.find(it->first);
      if (f == found.end() || PodUid(f->second) != PodUid(it->second)) {
        stop.push_back(it->second);
        changed.push_back(it->first);
        it = static_pods.erase(it);
      } else {
        ++it;
      }
    }
    std::string now = FormatMicroTime(clock.Now());
    for (auto& [key, pod] : found) {
      if (static_pods.count(key)) continue;
      pod["metadata"]["annotations"][kConfigSeen] = now;
      static_pods[key] = pod;
      changed.push_back(key);
      KLOG(Info, "kubelet: static pod {} (uid {}) from {}", key, PodUid(pod),
           cfg.pod_manifest_path);
    }
  }
  for (const auto& pod : stop) {
    KLOG(Info, "kubelet: static pod {} (uid {}) removed or changed", PodKey(pod), PodUid(pod));
    StartTermination(pod, pod["spec"].value("terminationGracePeriodSeconds", int64_t{30}),
                     /*delete_object=*/true);
  }
  for (const auto& key : changed) Enqueue(key);
}

std::optional<Json> Kubelet::Impl::StaticPod(const std::string& key) const {
  std::lock_guard l(mu);
  auto it = static_pods.find(key);
  if (it == static_pods.end()) return std::nullopt;
  return it->second;
}

std::string Kubelet::Impl::StaticPodKeyByUid(const std::string& uid) const {
  std::lock_guard l(mu);
  for (const auto& [key, pod] : static_pods) {
    if (PodUid(pod) == uid) return key;
  }
  return "";
}

ObjectPtr Kubelet::Impl::MirrorPodOf(const Json& static_pod) const {
  ObjectPtr m = pods ? pods->indexer().Get(PodKey(static_pod)) : nullptr;
  if (!m || !IsMirrorPod(*m) || (*m)["spec"].value("nodeName", "") != cfg.node_name) {
    return nullptr;
  }
  return m;
}

absl::Status Kubelet::Impl::DeleteMirrorPod(const Json& mirror) {
  Json opts = {{"apiVersion", "v1"},
               {"kind", "DeleteOptions"},
               {"gracePeriodSeconds", 0},
               {"preconditions", {{"uid", PodUid(mirror)}}}};
  auto r = client.Delete(client::resources::Pods(), mirror["metadata"].value("namespace", ""),
                         mirror["metadata"].value("name", ""), opts);
  if (!r.ok() && !client::IsNotFound(r.status()) && !client::IsConflict(r.status())) {
    return r.status();
  }
  return absl::OkStatus();
}

void Kubelet::Impl::SyncMirrorPod(const Json& static_pod) {
  ObjectPtr mirror = MirrorPodOf(static_pod);
  std::string hash = Annotation(static_pod, kConfigHash);
  bool deleted = false;
  if (mirror) {
    const Json& mmd = (*mirror)["metadata"];
    bool deleting = mmd.contains("deletionTimestamp") && !mmd["deletionTimestamp"].is_null();
    if (deleting || Annotation(*mirror, kConfigMirror) != hash) {
      KLOG(Info, "kubelet: deleting mirror pod {} (uid {}): {}", PodKey(*mirror), PodUid(*mirror),
           deleting ? "deleted through the API" : "outdated");
      absl::Status s = DeleteMirrorPod(*mirror);
      if (!s.ok()) {
        KLOG(Warning, "kubelet: delete mirror pod {}: {}", PodKey(*mirror), StatusMessage(s));
        return;
      }
      deleted = true;
    }
  }
  if (mirror && !deleted) return;
  if (node_uid.empty()) return;  // not registered: no owner for the mirror pod
  Json m = static_pod;
  Json& md = m["metadata"];
  for (const char* f : {"uid", "resourceVersion", "creationTimestamp", "generation",
                        "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
    md.erase(f);
  }
  md["annotations"][kConfigMirror] = hash;
  md["ownerReferences"] = Json::array({{{"apiVersion", "v1"},
                                        {"kind", "Node"},
                                        {"name", cfg.node_name},
                                        {"uid", node_uid},
                                        {"controller", true}}});
  m.erase("status");
  auto r = client.Create(client::resources::Pods(), md.value("namespace", "default"), m);
  if (!r.ok() && !client::IsAlreadyExists(r.status())) {
    KLOG(Warning, "kubelet: create mirror pod {}: {}", PodKey(static_pod),
         StatusMessage(r.status()));
    return;
  }
  // The new mirror has a fresh status: write ours again on the next sync.
  std::lock_guard l(mu);
  states[PodUid(static_pod)].last_status = Json::object();
}

}  // namespace korral::kubelet
