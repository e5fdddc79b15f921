// korral/pki/csr.h: X.509 certificate signing requests (PKCS#10) for the certificates.k8s.io
// API: parsing and checking what a CSR asks for (the apiserver's validation, the approving
// controller), signing one with the cluster CA (the signing controller) and creating one (a
// node agent's client and serving certificates).
//
// Everything is PEM text; keys are ECDSA P-256 PKCS#8 ("PRIVATE KEY"). Thread-safe.
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(std::string key, pki::NewPrivateKey());
//   pki::CsrOptions o{.common_name = "system:node:n1", .organizations = {"system:nodes"},
//                     .dns_names = {"n1"}, .ip_addresses = {"10.0.0.5"}};
//   KORRAL_ASSIGN_OR_RETURN(std::string csr, pki::NewCsr(key, o));
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/pki/pki.h"

namespace korral::pki {

// What a CSR asks for.
struct CsrInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> email_addresses;
  std::vector<std::string> uris;
};

// Parses the single "CERTIFICATE REQUEST" PEM block of `pem` and checks its self-signature.
// InvalidArgument with upstream's wording: "PEM block type must be CERTIFICATE REQUEST",
// "one and only one PEM block must be present", or the parse/signature failure.
absl::StatusOr<CsrInfo> ParseCsr(std::string_view pem);

// Checks that `pem` is one or more "CERTIFICATE" PEM blocks that parse (status.certificate).
absl::Status CheckCertificateBundle(std::string_view pem);

// Signs the CSR with `ca`: the subject and SANs of the request, key usage and extended key
// usage from `usages` (certificates.k8s.io/v1 KeyUsage strings), CA:FALSE, notBefore backdated
// `backdate`, notAfter = now + duration (capped at the CA's notAfter).
absl::StatusOr<std::string> SignCsr(const CertKeyPair& ca, std::string_view csr_pem,
                                    const std::vector<std::string>& usages,
                                    std::chrono::seconds duration,
                                    std::chrono::seconds backdate = std::chrono::minutes(5));

// A fresh ECDSA P-256 key (PKCS#8 PEM).
absl::StatusOr<std::string> NewPrivateKey();

struct CsrOptions {
  std::string common_name;
  std::vector<std::string> organizations;  // subject O entries, in order
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries (IPv4/IPv6 text)
};

// A CSR for `key_pem` asking for `options`. InvalidArgument for an unusable key, an empty DNS
// name or a malformed IP address.
absl::StatusOr<std::string> NewCsr(std::string_view key_pem, const CsrOptions& options);

// A CSR for `key_pem` with subject CN=common_name, O=organizations (in order), no SANs.
absl::StatusOr<std::string> NewCsr(std::string_view key_pem, std::string_view common_name,
                                   const std::vector<std::string>& organizations);

}  // namespace korral::pki
