// korral/apiserver/security/flags.h: the security flags of `korral server` / `korral
// apiserver`, with upstream kube-apiserver's names (header-only: CLI11 is only in cmd/).
#pragma once

#include <CLI/CLI.hpp>

#include "korral/apiserver/security/options.h"

namespace korral::apiserver::security {

inline void AddSecurityFlags(CLI::App* cmd, SecurityOptions* o) {
  cmd->add_option("--anonymous-auth", o->anonymous_auth,
                  "Serve requests without credentials as system:anonymous (subject to RBAC)")
      ->capture_default_str();
  cmd->add_option("--token-auth-file", o->token_auth_file,
                  "Static bearer tokens: CSV lines token,user,uid,\"group1,group2\"");
  cmd->add_option("--authorization-mode", o->authorization_mode,
                  "Ordered authorizers: Node, RBAC, AlwaysAllow, AlwaysDeny")
      ->capture_default_str();
  cmd->add_option("--service-account-issuer", o->service_account_issuers,
                  "Service-account token issuer (repeatable; the first issues). Default " +
                      std::string(kDefaultIssuer));
  cmd->add_option("--service-account-key-file", o->service_account_key_files,
                  "Extra PEM public keys that verify service-account tokens (repeatable)");
  cmd->add_option("--service-account-signing-key-file", o->service_account_signing_key_file,
                  "PEM RSA private key that signs service-account tokens (default: "
                  "<data-dir>/tls/service-account.key, created 0600)");
  cmd->add_option("--service-account-max-token-expiration", o->service_account_max_token_expiration,
                  "Longest TokenRequest expiration in seconds (0: no limit)");
  cmd->add_option("--api-audiences", o->api_audiences,
                  "Audiences API tokens must carry (default: the issuers)")
      ->delimiter(',');
  cmd->add_option("--encryption-provider-config", o->encryption_provider_config,
                  "EncryptionConfiguration file for encryption at rest");
  cmd->add_option("--audit-policy-file", o->audit_policy_file, "Audit policy (audit.k8s.io/v1)");
  cmd->add_option("--audit-log-path", o->audit_log_path,
                  "Write audit events as JSON lines here ('-' for stdout)");
  cmd->add_option("--audit-log-maxsize", o->audit_log_maxsize_mb,
                  "Rotate the audit log when it reaches this many megabytes")
      ->capture_default_str();
  cmd->add_option("--audit-log-maxbackup", o->audit_log_maxbackup,
                  "How many rotated audit logs to keep")
      ->capture_default_str();
  cmd->add_option("--enable-admission-plugins", o->enable_admission_plugins,
                  "Admission plugins to enable besides the defaults")
      ->delimiter(',');
  cmd->add_option("--disable-admission-plugins", o->disable_admission_plugins,
                  "Default admission plugins to disable")
      ->delimiter(',');
}

}  // namespace korral::apiserver::security
