#include "korral/client/kubeconfig.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/escaping.h"
#include "korral/base/status.h"

namespace korral::client {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return (std::filesystem::path(base_dir) / p).string();
}

// The named entry's `field` map in a list like clusters: [{name: x, cluster: {...}}].
absl::StatusOr<YAML::Node> FindNamed(const YAML::Node& root, const char* list, const char* field,
                                     const std::string& name) {
  YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& e : entries) {
      if (e["name"] && e["name"].as<std::string>() == name) {
        YAML::Node f = e[field];
        return f ? f : YAML::Node(YAML::NodeType::Map);
      }
    }
  }
  return absl::InvalidArgumentError(std::string("kubeconfig: ") + field + " \"" + name +
                                    "\" not found");
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.as<std::string>() : "";
}

// Reads inline base64 data (key "<name>-data") or a file (key "<name>").
absl::StatusOr<std::string> DataOrFile(const YAML::Node& n, const std::string& name,
                                       const std::string& base_dir) {
  std::string data = Str(n, (name + "-data").c_str());
  if (!data.empty()) {
    std::string out;
    if (!absl::Base64Unescape(data, &out)) {
      return absl::InvalidArgumentError("kubeconfig: " + name + "-data is not valid base64");
    }
    return out;
  }
  std::string file = Str(n, name.c_str());
  if (file.empty()) return std::string();
  return ReadFile(Resolve(base_dir, file));
}

absl::StatusOr<RestConfig> Build(const YAML::Node& root, const std::string& base_dir,
                                 const std::string& context_name) {
  if (!root.IsMap()) return absl::InvalidArgumentError("kubeconfig: not a YAML mapping");
  std::string ctx_name = context_name.empty() ? Str(root, "current-context") : context_name;
  if (ctx_name.empty()) return absl::InvalidArgumentError("kubeconfig: no current-context set");
  KORRAL_ASSIGN_OR_RETURN(YAML::Node ctx, FindNamed(root, "contexts", "context", ctx_name));
  RestConfig cfg;
  cfg.default_namespace = Str(ctx, "namespace");
  std::string cluster_name = Str(ctx, "cluster");
  KORRAL_ASSIGN_OR_RETURN(YAML::Node cluster, FindNamed(root, "clusters", "cluster", cluster_name));
  cfg.host = Str(cluster, "server");
  if (cfg.host.empty()) {
    return absl::InvalidArgumentError("kubeconfig: cluster \"" + cluster_name + "\" has no server");
  }
  if (cfg.host.find("://") == std::string::npos) cfg.host = "https://" + cfg.host;
  KORRAL_ASSIGN_OR_RETURN(cfg.ca_pem, DataOrFile(cluster, "certificate-authority", base_dir));
  if (YAML::Node v = cluster["insecure-skip-tls-verify"]; v && v.IsScalar()) {
    cfg.insecure = v.as<bool>();
  }
  cfg.tls_server_name = Str(cluster, "tls-server-name");
  std::string user_name = Str(ctx, "user");
  if (!user_name.empty()) {
    KORRAL_ASSIGN_OR_RETURN(YAML::Node user, FindNamed(root, "users", "user", user_name));
    KORRAL_ASSIGN_OR_RETURN(cfg.client_cert_pem, DataOrFile(user, "client-certificate", base_dir));
    KORRAL_ASSIGN_OR_RETURN(cfg.client_key_pem, DataOrFile(user, "client-key", base_dir));
    cfg.bearer_token = Str(user, "token");
    std::string token_file = Str(user, "tokenFile");
    if (cfg.bearer_token.empty() && !token_file.empty()) {
      KORRAL_ASSIGN_OR_RETURN(cfg.bearer_token, ReadFile(Resolve(base_dir, token_file)));
      while (!cfg.bearer_token.empty() &&
             (cfg.bearer_token.back() == '\n' || cfg.bearer_token.back() == '\r' ||
              cfg.bearer_token.back() == ' ')) {
        cfg.bearer_token.pop_back();
      }
    }
  }
  if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty()) {
    return absl::InvalidArgumentError("kubeconfig: user \"" + user_name +
                                      "\" needs both a client certificate and a key");
  }
  return cfg;
}

}  // namespace

absl::StatusOr<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                           const std::string& context) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return Build(root, base_dir, context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("kubeconfig: ") + e.what());
  }
}

absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context) {
  KORRAL_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ParseKubeconfig(text, dir, context);
}

}  // namespace korral::client
