// korral/apiserver/security/identities.h: client certificates and kubeconfigs for the
// components `korral server` runs in-process, so none of them runs as system:masters.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "korral/pki/pki.h"

namespace korral::apiserver::security {

// Makes sure DIR/kubeconfigs/<identity with ':' as '-'>.kubeconfig exists with a client
// certificate signed by `ca` for CN=identity (O=system:nodes for "system:node:<name>"), valid
// for a year, reusing a valid one. Directory 0700, file 0600. Returns its path.
// InvalidArgument for an empty identity or one with characters outside [A-Za-z0-9:._-].
absl::StatusOr<std::string> EnsureComponentKubeconfig(const std::string& data_dir,
                                                      const std::string& server_url,
                                                      const pki::CertKeyPair& ca,
                                                      const std::string& identity);

}  // namespace korral::apiserver::security
