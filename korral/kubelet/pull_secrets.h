// korral/kubelet/pull_secrets.h: registry credentials from a pod's imagePullSecrets, as
// upstream's credentialprovider keyring matches them (pkg/credentialprovider/keyring.go).
//
// Secrets of type kubernetes.io/dockerconfigjson (`.dockerconfigjson`: {"auths": {KEY: entry}})
// and kubernetes.io/dockercfg (`.dockercfg`: {KEY: entry}). An entry has username/password, or
// `auth` (base64 "user:password"), identitytoken and registrytoken. A KEY is a registry with an
// optional scheme and path ("https://index.docker.io/v1/", "registry.example.com:5000/team",
// "*.example.com"); "/v1/" and "/v2/" path prefixes mean the bare registry, as docker's. A key
// matches an image when its host matches label by label (glob per label), the ports are equal and
// its path is a prefix of the image's repository path; the key "index.docker.io" also serves
// Docker Hub images ("busybox", "docker.io/library/busybox").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace korral::kubelet {

struct RegistryCredential {
  std::string username, password, auth, identity_token, registry_token;
  std::string server_address;  // the key's registry host[:port]
};

// The repository an image pulls from, schemeless and normalized as the runtime resolves it:
// "busybox:1.36" -> "docker.io/library/busybox", "reg:5000/app@sha256:..." -> "reg:5000/app".
std::string ImageRepository(std::string_view image);

// Whether a credential key (scheme, "/v1/" or "/v2/" already dropped) matches `repository`.
bool RegistryKeyMatches(std::string_view key, std::string_view repository);

// The credentials `secrets` (Secret objects; others and malformed ones are skipped) hold for
// `image`, most specific key first (upstream tries each until a pull succeeds). Empty: pull
// anonymously.
std::vector<RegistryCredential> CredentialsFor(const std::vector<nlohmann::json>& secrets,
                                               std::string_view image);

}  // namespace korral::kubelet
