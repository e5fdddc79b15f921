// Pod volumes on the node: emptyDir (disk or tmpfs), configMap, secret, downwardAPI, projected
// (incl. service-account tokens), hostPath. Files live under <root>/pods/<uid>/volumes/<kind>/.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/api/resource.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

namespace fs = std::filesystem;

namespace {

absl::Status Err(const std::string& m) {
  return absl::Status(absl::StatusCode::kFailedPrecondition, absl::string_view(m));
}

const Json& Arr(const Json& o, const char* k) {
  static const Json empty = Json::array();
  return o.is_object() && o.contains(k) && o[k].is_array() ? o[k] : empty;
}

// Writes `content` to dir/rel atomically (temp file + rename) with `mode`, only if it changed.
absl::Status WriteFile(const fs::path& dir, const std::string& rel, const std::string& content,
                       int mode) {
  if (rel.empty() || rel.find("..") != std::string::npos || rel[0] == '/') {
    return Err(fmt::format("invalid path {}", rel));
  }
  fs::path p = dir / rel;
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  {
    std::ifstream in(p, std::ios::binary);
    if (in) {
      std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (old == content) return absl::OkStatus();
    }
  }
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Err(fmt::format("cannot write {}", p.string()));
    out << content;
  }
  ::chmod(tmp.c_str(), static_cast<mode_t>(mode));
  fs::rename(tmp, p, ec);
  if (ec) return Err(fmt::format("cannot write {}: {}", p.string(), ec.message()));
  return absl::OkStatus();
}

std::map<std::string, std::string> DataOf(const Json& obj, bool secret) {
  std::map<std::string, std::string> out;
  for (const char* f : {"data", "binaryData"}) {
    if (!obj.contains(f) || !obj[f].is_object()) continue;
    bool b64 = secret || std::string(f) == "binaryData";
    for (auto& [k, v] : obj[f].items()) {
      if (!v.is_string()) continue;
      std::string s = v.get<std::string>();
      if (b64) {
        std::string dec;
        absl::Base64Unescape(s, &dec);
        s = dec;
      }
      out[k] = s;
    }
  }
  return out;
}

// configMap/secret source (also a projected source): writes the selected keys.
absl::Status WriteKeyed(const Json& src, const std::map<std::string, std::string>& data,
                        const fs::path& dir, int default_mode, const std::string& what) {
  const Json& items = Arr(src, "items");
  if (items.empty()) {
    for (const auto& [k, v] : data) KORRAL_RETURN_IF_ERROR(WriteFile(dir, k, v, default_mode));
    return absl::OkStatus();
  }
  for (const auto& it : items) {
    std::string key = it.value("key", "");
    auto d = data.find(key);
    if (d == data.end()) {
      if (src.value("optional", false)) continue;
      return Err(fmt::format("configmap references non-existent config key: {}", key));
    }
    int mode = it.contains("mode") ? it["mode"].get<int>() : default_mode;
    KORRAL_RETURN_IF_ERROR(WriteFile(dir, it.value("path", key), d->second, mode));
  }
  (void)what;
  return absl::OkStatus();
}

}  // namespace

std::string Kubelet::Impl::PodDir(const std::string& uid) const {
  return cfg.root_dir + "/pods/" + uid;
}

absl::Status Kubelet::Impl::SetupVolumes(const Json& pod) {
  if (cfg.root_dir.empty() || cfg.hollow) return absl::OkStatus();
  std::string uid = PodUid(pod);
  std::string ns = pod["metadata"].value("namespace", "default");
  fs::path vols = fs::path(PodDir(uid)) / "volumes";
  std::error_code ec;
  fs::create_directories(vols, ec);
  auto get_obj = [&](bool secret, const std::string& name,
                     bool optional) -> absl::StatusOr<std::optional<Json>> {
    auto r = client.Get(secret ? client::resources::Secrets() : client::resources::ConfigMaps(), ns,
                        name);
    if (r.ok()) return std::optional<Json>(*r);
    if (client::IsNotFound(r.status())) {
      if (optional) return std::optional<Json>();
      return Err(fmt::format("{} \"{}\" not found", secret ? "secret" : "configmap", name));
    }
    return r.status();
  };
  auto downward = [&](const Json& items, const fs::path& dir, int default_mode) -> absl::Status {
    for (const auto& it : items) {
      std::string value;
      if (it.contains("fieldRef")) {
        std::string path = it["fieldRef"].value("fieldPath", "");
        if (path == "metadata.labels" || path == "metadata.annotations") {
          const Json& m = pod["metadata"].value(path.substr(9), Json::object());
          for (auto& [k, v] : m.items()) {
            value += k + "=\"" + (v.is_string() ? v.get<std::string>() : v.dump()) + "\"\n";
          }
        } else {
          std::string pod_ip;
          {
            std::lock_guard l(mu);
            pod_ip = states[uid].pod_ip;
          }
          KORRAL_ASSIGN_OR_RETURN(value, FieldRefValue(pod, path, pod_ip, node_ip));
        }
      } else if (it.contains("resourceFieldRef")) {
        EnvContext ec;
        ec.pod = &pod;
        ec.container = nullptr;
        Json env_c = {
            {"env",
             Json::array({{{"name", "V"},
                           {"valueFrom", {{"resourceFieldRef", it["resourceFieldRef"]}}}}})}};
        const Json* target = nullptr;
        std::string cname = it["resourceFieldRef"].value("containerName", "");
        for (const auto& c : Arr(pod["spec"], "containers")) {
          if (c.value("name", "") == cname || (cname.empty() && !target)) target = &c;
        }
        if (!target) return Err("resourceFieldRef without container");
        Json c = *target;
        c["env"] = env_c["env"];
        ec.container = &c;
        ec.node_cpu_cores = node_cpu_cores;
        ec.node_memory_bytes = node_memory_bytes;
        KORRAL_ASSIGN_OR_RETURN(auto env, ResolveEnv(ec));
        if (!env.empty()) value = env[0].second;
      }
      int mode = it.contains("mode") ? it["mode"].get<int>() : default_mode;
      KORRAL_RETURN_IF_ERROR(WriteFile(dir, it.value("path", ""), value, mode));
    }
    return absl::OkStatus();
  };

  for (const auto& v : Arr(pod["spec"], "volumes")) {
    std::string name = v.value("name", "");
    if (v.contains("emptyDir")) {
      fs::path dir = vols / "kubernetes.io~empty-dir" / name;
      bool fresh = !fs::exists(dir, ec);
      fs::create_directories(dir, ec);
      ::chmod(dir.c_str(), 0777);
      if (fresh && v["emptyDir"].value("medium", "") == "Memory") {
        std::string opts = "mode=0777";
        if (v["emptyDir"].contains("sizeLimit")) {
          long double bytes = 0;
          Json sl = v["emptyDir"]["sizeLimit"];
          std::string q = sl.is_string() ? sl.get<std::string>() : sl.dump();
          if (api::defaults::ParseQuantity(q, &bytes) && bytes > 0) {
            opts += fmt::format(",size={}", static_cast<int64_t>(bytes));
          }
        }
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
          return Err(fmt::format("mount tmpfs for emptyDir {}: {}", name, strerror(errno)));
        }
      }
    } else if (v.contains("configMap") || v.contains("secret")) {
      bool secret = v.contains("secret");
      const Json& src = secret ? v["secret"] : v["configMap"];
      std::string obj_name = secret ? src.value("secretName", "") : src.value("name", "");
      fs::path dir = vols / (secret ? "kubernetes.io~secret" : "kubernetes.io~configmap") / name;
      fs::create_directories(dir, ec);
      KORRAL_ASSIGN_OR_RETURN(auto obj, get_obj(secret, obj_name, src.value("optional", false)));
      if (!obj) continue;
      int mode = src.value("defaultMode", 0644);
      KORRAL_RETURN_IF_ERROR(
          WriteKeyed(src, DataOf(*obj, secret), dir, mode, secret ? "secret" : "configmap"));
    } else if (v.contains("downwardAPI")) {
      fs::path dir = vols / "kubernetes.io~downward-api" / name;
      fs::create_directories(dir, ec);
      KORRAL_RETURN_IF_ERROR(downward(Arr(v["downwardAPI"], "items"), dir,
                                      v["downwardAPI"].value("defaultMode", 0644)));
    } else if (v.contains("projected")) {
      fs::path dir = vols / "kubernetes.io~projected" / name;
      fs::create_directories(dir, ec);
      int mode = v["projected"].value("defaultMode", 0644);
      for (const auto& src : Arr(v["projected"], "sources")) {
        if (src.contains("configMap") || src.contains("secret")) {
          bool secret = src.contains("secret");
          const Json& s = secret ? src["secret"] : src["configMap"];
          // Projected sources that are missing do not block the pod (the service-account
          // volume's kube-root-ca.crt may not exist in a bare cluster).
          auto obj = get_obj(secret, s.value("name", ""), true);
          if (!obj.ok() || !obj->has_value()) continue;
          KORRAL_RETURN_IF_ERROR(WriteKeyed(s, DataOf(**obj, secret), dir, mode, "projected"));
        } else if (src.contains("downwardAPI")) {
          KORRAL_RETURN_IF_ERROR(downward(Arr(src["downwardAPI"], "items"), dir, mode));
        } else if (src.contains("serviceAccountToken")) {
          const Json& t = src["serviceAccountToken"];
          std::string sa = pod["spec"].value("serviceAccountName", "default");
          Json req = {{"apiVersion", "authentication.k8s.io/v1"},
                      {"kind", "TokenRequest"},
                      {"metadata", {{"name", sa}, {"namespace", ns}}},
                      {"spec",
                       {{"expirationSeconds", t.value("expirationSeconds", 3607)},
                        {"boundObjectRef",
                         {{"apiVersion", "v1"},
                          {"kind", "Pod"},
                          {"name", pod["metadata"].value("name", "")},
                          {"uid", uid}}}}}};
          if (t.contains("audience")) req["spec"]["audiences"] = Json::array({t["audience"]});
          // Tokens are cached per pod, service account, audience and lifetime and requested
          // again at 80% of their lifetime (or after 24 h), as upstream's token manager.
          std::string cache_key =
              fmt::format("{}/{}/{}/{}/{}", uid, ns, sa, t.value("audience", ""),
                          t.value("expirationSeconds", int64_t{3607}));
          std::string token;
          {
            std::lock_guard l(mu);
            auto it = tokens.find(cache_key);
            if (it != tokens.end() &&
                !TokenNeedsRefresh(it->second.expiration, it->second.expiration_seconds,
                                   clock.Now())) {
              token = it->second.token;
            }
          }
          if (token.empty()) {
            client::ResourceRef sa_ref{"", "v1", "serviceaccounts", true};
            auto r = client.Create(sa_ref, ns, req, "token");
            if (r.ok() && (*r).contains("status")) {
              token = (*r)["status"].value("token", "");
              CachedToken ct;
              ct.token = token;
              ct.expiration_seconds =
                  (*r).value("spec", Json::object()).value("expirationSeconds", int64_t{3607});
              auto exp = api::ParseTime((*r)["status"].value("expirationTimestamp", ""));
              ct.expiration =
                  exp ? *exp : clock.Now() + std::chrono::seconds(ct.expiration_seconds);
              std::lock_guard l(mu);
              tokens[cache_key] = std::move(ct);
            } else if (!r.ok()) {
              KLOG(Warning, "kubelet: token for {}/{}: {}", ns, sa, StatusMessage(r.status()));
            }
          }
          if (!token.empty()) {
            KORRAL_RETURN_IF_ERROR(WriteFile(dir, t.value("path", "token"), token, mode));
          }
        }
      }
    } else if (v.contains("hostPath")) {
      std::string path = v["hostPath"].value("path", "");
      std::string type = v["hostPath"].value("type", "");
      if (type == "DirectoryOrCreate") {
        fs::create_directories(path, ec);
      } else if (type == "FileOrCreate" && !fs::exists(path, ec)) {
        fs::create_directories(fs::path(path).parent_path(), ec);
        std::ofstream(path).flush();
      } else if (type == "Directory" && !fs::is_directory(path, ec)) {
        return Err(fmt::format("hostPath type check failed: {} is not a directory", path));
      } else if (type == "File" && !fs::is_regular_file(path, ec)) {
        return Err(fmt::format("hostPath type check failed: {} is not a file", path));
      }
    } else if (v.contains("persistentVolumeClaim")) {
      // TODO(korral): PersistentVolumes (local/hostPath-backed PVs) are not mounted yet.
      return Err(fmt::format("unsupported volume {}: persistentVolumeClaim", name));
    }
  }
  return absl::OkStatus();
}

std::vector<v1::Mount> Kubelet::Impl::ContainerMounts(const Json& pod, const Json& c,
                                                      std::string* error) {
  std::vector<v1::Mount> out;
  if (cfg.root_dir.empty() || cfg.hollow) return out;
  fs::path vols = fs::path(PodDir(PodUid(pod))) / "volumes";
  for (const auto& m : Arr(c, "volumeMounts")) {
    std::string vname = m.value("name", "");
    const Json* vol = nullptr;
    for (const auto& v : Arr(pod["spec"], "volumes")) {
      if (v.value("name", "") == vname) vol = &v;
    }
    if (!vol) {
      *error = fmt::format("cannot find volume \"{}\" to mount into container \"{}\"", vname,
                           c.value("name", ""));
      return {};
    }
    std::string host;
    bool ro = m.value("readOnly", false);
    if (vol->contains("hostPath")) {
      host = (*vol)["hostPath"].value("path", "");
    } else if (vol->contains("emptyDir")) {
      host = (vols / "kubernetes.io~empty-dir" / vname).string();
    } else if (vol->contains("configMap")) {
      host = (vols / "kubernetes.io~configmap" / vname).string();
      ro = true;
    } else if (vol->contains("secret")) {
      host = (vols / "kubernetes.io~secret" / vname).string();
      ro = true;
    } else if (vol->contains("downwardAPI")) {
      host = (vols / "kubernetes.io~downward-api" / vname).string();
      ro = true;
    } else if (vol->contains("projected")) {
      host = (vols / "kubernetes.io~projected" / vname).string();
      ro = true;
    } else {
      *error = fmt::format("unsupported volume type of volume \"{}\"", vname);
      return {};
    }
    std::string sub = m.value("subPath", "");
    if (!sub.empty()) {
      if (sub.find("..") != std::string::npos || sub[0] == '/') {
        *error = fmt::format("invalid subPath \"{}\"", sub);
        return {};
      }
      host += "/" + sub;
      std::error_code ec;
      if (!fs::exists(host, ec)) fs::create_directories(host, ec);
    }
    v1::Mount mt;
    mt.set_container_path(m.value("mountPath", ""));
    mt.set_host_path(host);
    mt.set_readonly(ro);
    std::string prop = m.value("mountPropagation", "None");
    if (prop == "HostToContainer") mt.set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
    if (prop == "Bidirectional") mt.set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
    out.push_back(std::move(mt));
  }
  return out;
}

void Kubelet::Impl::TeardownVolumes(const std::string& uid) {
  if (!uid.empty()) {
    std::lock_guard l(mu);
    for (auto it = tokens.lower_bound(uid + "/");
         it != tokens.end() && it->first.compare(0, uid.size() + 1, uid + "/") == 0;) {
      it = tokens.erase(it);
    }
  }
  if (cfg.root_dir.empty() || cfg.hollow || uid.empty()) return;
  fs::path dir = PodDir(uid);
  std::error_code ec;
  fs::path ed = dir / "volumes" / "kubernetes.io~empty-dir";
  if (fs::is_directory(ed, ec)) {
    for (const auto& e : fs::directory_iterator(ed, ec)) {
      ::umount2(e.path().c_str(), MNT_DETACH);  // tmpfs emptyDirs; harmless otherwise
    }
  }
  fs::remove_all(dir, ec);
}

bool TokenNeedsRefresh(std::chrono::system_clock::time_point expiration, int64_t expiration_seconds,
                       std::chrono::system_clock::time_point now) {
  auto ttl = std::chrono::seconds(expiration_seconds);
  auto issued = expiration - ttl;
  if (now > issued + std::chrono::hours(24)) return true;
  return now > expiration - ttl * 20 / 100;
}

}  // namespace korral::kubelet
