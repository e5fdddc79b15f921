// korral/pki/pki.h: the cluster's X.509 material: a self-signed CA, certificates it signs for
// servers and clients, the on-disk layout under <data dir>/tls/, and kubeconfig files that embed
// them.
//
// Keys are ECDSA P-256, signatures SHA-256, serials 128 random bits. Everything is PEM text:
// certificates as "CERTIFICATE", keys as PKCS#8 "PRIVATE KEY". All functions are thread-safe
// (they share no state); EnsureClusterPki must not run concurrently on the same directory.
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair ca, pki::NewSelfSignedCA("korral-ca"));
//   pki::CertOptions opts;
//   opts.common_name = "admin";
//   opts.organizations = {"system:masters"};
//   opts.usage = pki::CertUsage::kClient;
//   KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair admin, pki::NewSignedCert(ca, opts));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::pki {

struct CertKeyPair {
  std::string cert_pem;
  std::string key_pem;
};

enum class CertUsage {
  kServer,           // extendedKeyUsage serverAuth
  kClient,           // extendedKeyUsage clientAuth
  kServerAndClient,  // both
};

struct CertOptions {
  std::string common_name;
  std::vector<std::string> organizations;  // subject O entries, in order
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries, IPv4 or IPv6 text
  CertUsage usage = CertUsage::kServer;
  int validity_days = 365;
};

// Creates a CA: a fresh key and a self-signed certificate with basicConstraints CA:TRUE
// (critical) and keyUsage keyCertSign, cRLSign, digitalSignature (critical).
// Returns InvalidArgument for an empty name or validity_days <= 0, Internal on OpenSSL failure.
absl::StatusOr<CertKeyPair> NewSelfSignedCA(std::string_view common_name, int validity_days = 3650);

// Creates a fresh key and a certificate for it signed by `ca` (CA:FALSE, keyUsage
// digitalSignature + keyEncipherment, extendedKeyUsage per `options.usage`, SANs from options).
// Returns InvalidArgument for an unparsable CA pair, a malformed IP address, an empty common
// name or validity_days <= 0.
absl::StatusOr<CertKeyPair> NewSignedCert(const CertKeyPair& ca, const CertOptions& options);

// What a certificate says about itself (for tests, reuse checks and authentication).
struct CertInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // canonical text (inet_ntop)
  bool is_ca = false;
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
};

// Parses the first certificate of a PEM text. InvalidArgument if there is none.
absl::StatusOr<CertInfo> ParseCertificate(std::string_view cert_pem);

// Verifies `cert_pem` against the single trust anchor `ca_pem` with X509_verify_cert (chain,
// signature, validity period). Returns OkStatus or PermissionDenied with OpenSSL's reason.
absl::Status VerifyCertificate(std::string_view cert_pem, std::string_view ca_pem);

// Reads a PEM CA bundle file (e.g. a --*-certificate-authority flag's): InvalidArgument naming
// `flag` if it cannot be read or holds no certificate that parses.
absl::StatusOr<std::string> ReadCaBundle(const std::string& path, std::string_view flag);

// Returns OkStatus if `key_pem` is the private key of `cert_pem`, else InvalidArgument.
absl::Status CheckKeyMatchesCert(std::string_view cert_pem, std::string_view key_pem);

struct PkiOptions {
  // The apiserver's bind address; added to the server SANs unless it is 0.0.0.0 or ::.
  std::string bind_address = "127.0.0.1";
  // More SANs for the server certificate: IP literals become IP SANs, the rest DNS SANs.
  std::vector<std::string> extra_sans;
  int ca_validity_days = 3650;
  int cert_validity_days = 365;
};

// File names under <dir>/tls/.
inline constexpr char kCaCertFile[] = "ca.crt";
inline constexpr char kCaKeyFile[] = "ca.key";
inline constexpr char kServerCertFile[] = "server.crt";
inline constexpr char kServerKeyFile[] = "server.key";
inline constexpr char kAdminCertFile[] = "admin.crt";
inline constexpr char kAdminKeyFile[] = "admin.key";

// The server SANs EnsureClusterPki requires: DNS localhost, kubernetes, kubernetes.default,
// kubernetes.default.svc, the host name; IP 127.0.0.1, ::1, the bind address; and the extras.
// Returned as {dns_names, ip_addresses} in CertOptions form.
CertOptions ServerCertOptions(const PkiOptions& options);

// Makes sure <dir>/tls/ holds a CA, a server certificate and an admin client certificate
// (CN admin, O system:masters). On the first call creates everything; later calls reuse valid
// files, regenerating the server cert if its SANs do not cover ServerCertOptions(options) (or it
// does not verify against the CA / is near expiry) and the admin cert if it does not verify.
// Directories are created with mode 0700, key files 0600, certificates 0644; files are written
// atomically (temp file + rename). Returns an error if the CA files exist but are unusable (the
// CA is never replaced silently), or on I/O failure.
absl::Status EnsureClusterPki(const std::string& dir, const PkiOptions& options);

// The material EnsureClusterPki maintains, read back from <dir>/tls/.
struct ClusterPki {
  CertKeyPair ca;
  CertKeyPair server;
  CertKeyPair admin;
};
absl::StatusOr<ClusterPki> LoadClusterPki(const std::string& dir);

// A kubeconfig (apiVersion v1, kind Config) with one cluster, one user and one context named
// "default" (the current context); certificate-authority-data, client-certificate-data and
// client-key-data carry the base64 of the PEM texts.
std::string KubeconfigYaml(std::string_view server_url, std::string_view ca_pem,
                           std::string_view client_cert_pem, std::string_view client_key_pem,
                           std::string_view user_name, std::string_view cluster_name);

}  // namespace korral::pki
