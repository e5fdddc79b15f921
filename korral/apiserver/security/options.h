// korral/apiserver/security/options.h: the apiserver's security flags (upstream names).
#pragma once

#include <string>
#include <vector>

namespace korral::apiserver::security {

struct SecurityOptions {
  // --anonymous-auth
  bool anonymous_auth = true;
  // --token-auth-file: CSV token,user,uid,"group1,group2"
  std::string token_auth_file;
  // --authorization-mode: comma-separated list of Node, RBAC, AlwaysAllow.
  std::string authorization_mode = "Node,RBAC";
  // --service-account-issuer (repeatable; the first issues tokens).
  std::vector<std::string> service_account_issuers;
  // --service-account-key-file (repeatable): extra public keys that verify tokens.
  std::vector<std::string> service_account_key_files;
  // --service-account-signing-key-file: default <data dir>/tls/service-account.key (created).
  std::string service_account_signing_key_file;
  // --service-account-max-token-expiration in seconds (0: no limit).
  int64_t service_account_max_token_expiration = 0;
  // --api-audiences (default: the issuers).
  std::vector<std::string> api_audiences;
  // --encryption-provider-config
  std::string encryption_provider_config;
  // --audit-policy-file, --audit-log-path ("-" for stdout), --audit-log-maxsize (MB),
  // --audit-log-maxbackup
  std::string audit_policy_file;
  std::string audit_log_path;
  int audit_log_maxsize_mb = 100;
  int audit_log_maxbackup = 10;
  // --enable-admission-plugins / --disable-admission-plugins
  std::vector<std::string> enable_admission_plugins;
  std::vector<std::string> disable_admission_plugins;
};

inline constexpr char kDefaultIssuer[] = "https://kubernetes.default.svc.cluster.local";

}  // namespace korral::apiserver::security
