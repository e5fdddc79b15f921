#include "korral/kubelet/pull_secrets.h"

#include <fnmatch.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "korral/cri/cri.h"

namespace korral::kubelet {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kDockerHubKey = "index.docker.io";

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (true) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

// "host[:port]/path" -> host, port, path (path with its leading '/', or empty).
struct Location {
  std::string_view host, port, path;
};
Location ParseSchemeless(std::string_view s) {
  Location l;
  size_t slash = s.find('/');
  std::string_view hostport = s.substr(0, slash);
  if (slash != std::string_view::npos) l.path = s.substr(slash);
  size_t colon = hostport.rfind(':');
  l.host = hostport.substr(0, colon);
  if (colon != std::string_view::npos) l.port = hostport.substr(colon + 1);
  return l;
}

// The docker config key as the keyring stores it: no scheme, "/v1/" or "/v2/" dropped, no
// trailing "/".
std::string NormalizeKey(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.substr(0, scheme.size()) == scheme) key.remove_prefix(scheme.size());
  }
  Location l = ParseSchemeless(key);
  std::string_view path = l.path;
  if (path.substr(0, 4) == "/v1/" || path.substr(0, 4) == "/v2/") path.remove_prefix(3);
  std::string out(key.substr(0, key.size() - l.path.size()));
  if (!path.empty() && path != "/") {
    out += path;
    while (!out.empty() && out.back() == '/') out.pop_back();
  }
  return out;
}

bool IsDockerHubRepository(std::string_view repo) { return repo.substr(0, 10) == "docker.io/"; }

RegistryCredential FromEntry(const std::string& key, const Json& e) {
  RegistryCredential c;
  auto str = [&](const char* f) {
    return e.contains(f) && e[f].is_string() ? e[f].get<std::string>() : std::string();
  };
  c.username = str("username");
  c.password = str("password");
  c.auth = str("auth");
  c.identity_token = str("identitytoken");
  c.registry_token = str("registrytoken");
  if (!c.auth.empty()) {
    std::string decoded;
    if (absl::Base64Unescape(c.auth, &decoded)) {
      size_t colon = decoded.find(':');
      if (colon != std::string::npos) {
        c.username = decoded.substr(0, colon);
        c.password = decoded.substr(colon + 1);
      }
    }
  }
  Location l = ParseSchemeless(key);
  c.server_address = std::string(l.host);
  if (!l.port.empty()) c.server_address += ":" + std::string(l.port);
  return c;
}

// The {KEY: entry} map of a pull secret (null if it is not one).
Json DockerConfigOf(const Json& secret) {
  if (!secret.is_object()) return Json();
  std::string type = secret.value("type", "");
  const Json data = secret.value("data", Json::object());
  if (!data.is_object()) return Json();
  const char* field = type == "kubernetes.io/dockerconfigjson" ? ".dockerconfigjson"
                      : type == "kubernetes.io/dockercfg"      ? ".dockercfg"
                                                               : nullptr;
  if (!field || !data.contains(field) || !data[field].is_string()) return Json();
  std::string raw;
  if (!absl::Base64Unescape(data[field].get<std::string>(), &raw)) return Json();
  Json cfg = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!cfg.is_object()) return Json();
  if (field == std::string_view(".dockerconfigjson")) {
    cfg = cfg.value("auths", Json::object());
    if (!cfg.is_object()) return Json();
  }
  return cfg;
}

}  // namespace

std::string ImageRepository(std::string_view image) {
  std::string name = cri::NormalizeImageName(std::string(image));
  name = name.substr(0, name.find('@'));
  size_t colon = name.find(':', name.rfind('/'));  // the tag, after the last '/'
  return name.substr(0, colon);
}

bool RegistryKeyMatches(std::string_view key, std::string_view repository) {
  Location k = ParseSchemeless(key), r = ParseSchemeless(repository);
  auto kp = Split(k.host, '.'), rp = Split(r.host, '.');
  if (kp.size() != rp.size()) return false;
  for (size_t i = 0; i < kp.size(); ++i) {
    std::string glob(kp[i]), part(rp[i]);
    if (fnmatch(glob.c_str(), part.c_str(), 0) != 0) return false;
  }
  if (k.port != r.port) return false;
  return r.path.substr(0, k.path.size()) == k.path;
}

std::vector<RegistryCredential> CredentialsFor(const std::vector<Json>& secrets,
                                               std::string_view image) {
  std::string repo = ImageRepository(image);
  // key -> credentials, in secret order within a key.
  std::vector<std::pair<std::string, RegistryCredential>> all;
  for (const auto& s : secrets) {
    Json cfg = DockerConfigOf(s);
    if (!cfg.is_object()) continue;
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      if (!it.value().is_object()) continue;
      std::string key = NormalizeKey(it.key());
      all.emplace_back(key, FromEntry(key, it.value()));
    }
  }
  // Upstream's index order: keys reverse-sorted, so longer (more specific) ones come first.
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<RegistryCredential> out;
  for (const auto& [key, cred] : all) {
    if (RegistryKeyMatches(key, repo)) out.push_back(cred);
  }
  if (out.empty() && IsDockerHubRepository(repo)) {
    for (const auto& [key, cred] : all) {
      if (key == kDockerHubKey) out.push_back(cred);
    }
  }
  return out;
}

}  // namespace korral::kubelet
