// korral/pki/pki.cc: OpenSSL 3 (EVP, X509v3) implementation of pki.h.
#include "korral/pki/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/pki/openssl_internal.h"

namespace korral::pki {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this library's helpers

// Debian's abseil has its own string_view type.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::StatusOr<X509Ptr> ReadCert(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return SslInternal("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError("no PEM certificate found");
  }
  return cert;
}

absl::StatusOr<PkeyPtr> ReadKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return SslInternal("BIO_new_mem_buf");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return absl::InvalidArgumentError("no PEM private key found");
  }
  return key;
}

absl::StatusOr<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return SslInternal("EC key generation");
  return key;
}

absl::StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return SslInternal("PEM_write_bio_PrivateKey");
  return BioToString(bio.get());
}

absl::StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return SslInternal("PEM_write_bio_X509");
  return BioToString(bio.get());
}

// A new certificate with version 3, a random positive 128-bit serial and the validity window
// [now - 5 min, now + days].
absl::StatusOr<X509Ptr> NewCertSkeleton(int validity_days) {
  X509Ptr cert(X509_new());
  if (!cert) return SslInternal("X509_new");
  if (X509_set_version(cert.get(), 2) != 1) return SslInternal("X509_set_version");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return SslInternal("RAND_bytes");
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never zero, always positive
  BnPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    return SslInternal("serial number");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), validity_days, 0, nullptr))
    return SslInternal("validity");
  return cert;
}

absl::Status SetSubject(X509* cert, std::string_view cn, const std::vector<std::string>& orgs) {
  X509_NAME* name = X509_get_subject_name(cert);
  for (const std::string& o : orgs) {
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(o.data()),
                                    static_cast<int>(o.size()), -1, 0))
      return SslInternal("subject O");
  }
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.data()),
                                  static_cast<int>(cn.size()), -1, 0))
    return SslInternal("subject CN");
  return absl::OkStatus();
}

absl::Status AddSans(X509* cert, const CertOptions& options) {
  if (options.dns_names.empty() && options.ip_addresses.empty()) return absl::OkStatus();
  GeneralNamesPtr names;
  KORRAL_RETURN_IF_ERROR(BuildSans(options.dns_names, options.ip_addresses, &names));
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return SslInternal("subjectAltName");
  return absl::OkStatus();
}

int64_t AsnTimeToUnix(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// ---- files ----

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    return absl::InternalError(absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
  if (chmod(path.c_str(), 0700) != 0)
    return absl::InternalError(absl::StrCat("chmod ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", tmp, ": ", std::strerror(errno)));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("write ", tmp, ": ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("sync ", tmp, ": ", std::strerror(err)));
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0)
    return absl::InternalError(absl::StrCat("rename ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

// NotFound if the file does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

absl::StatusOr<CertKeyPair> ReadPair(const std::string& dir, const char* cert_file,
                                     const char* key_file) {
  CertKeyPair pair;
  KORRAL_ASSIGN_OR_RETURN(pair.cert_pem, ReadFile(dir + "/" + cert_file));
  KORRAL_ASSIGN_OR_RETURN(pair.key_pem, ReadFile(dir + "/" + key_file));
  return pair;
}

absl::Status WritePair(const std::string& dir, const char* cert_file, const char* key_file,
                       const CertKeyPair& pair) {
  // Key first: a crash in between leaves a key without its cert, which is regenerated.
  KORRAL_RETURN_IF_ERROR(WriteFileAtomic(dir + "/" + key_file, pair.key_pem, 0600));
  return WriteFileAtomic(dir + "/" + cert_file, pair.cert_pem, 0644);
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// A leaf is reusable if it verifies against the CA, its key matches, and it has more than a
// tenth of its lifetime (at least a day) left.
bool LeafUsable(const CertKeyPair& leaf, const CertKeyPair& ca, CertInfo* info) {
  if (!VerifyCertificate(leaf.cert_pem, ca.cert_pem).ok()) return false;
  if (!CheckKeyMatchesCert(leaf.cert_pem, leaf.key_pem).ok()) return false;
  absl::StatusOr<CertInfo> parsed = ParseCertificate(leaf.cert_pem);
  if (!parsed.ok()) return false;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  int64_t margin =
      std::max<int64_t>(86400, (parsed->not_after_unix - parsed->not_before_unix) / 10);
  if (parsed->not_after_unix - now < margin) return false;
  *info = *std::move(parsed);
  return true;
}

std::string YamlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

namespace internal {

absl::Status BuildSans(const std::vector<std::string>& dns_names,
                       const std::vector<std::string>& ip_addresses, GeneralNamesPtr* out) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return SslInternal("sk_GENERAL_NAME_new_null");
  for (const std::string& dns : dns_names) {
    if (dns.empty()) return absl::InvalidArgumentError("empty DNS SAN");
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* str = ASN1_IA5STRING_new();
    if (!gn || !str || !ASN1_STRING_set(str, dns.data(), static_cast<int>(dns.size()))) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(str);
      return SslInternal("DNS SAN");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, str);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  for (const std::string& ip : ip_addresses) {
    std::string bytes = IpBytes(ip);
    if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat("invalid IP SAN: ", ip));
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_OCTET_STRING* str = ASN1_OCTET_STRING_new();
    if (!gn || !str ||
        !ASN1_OCTET_STRING_set(str, reinterpret_cast<const unsigned char*>(bytes.data()),
                               static_cast<int>(bytes.size()))) {
      GENERAL_NAME_free(gn);
      ASN1_OCTET_STRING_free(str);
      return SslInternal("IP SAN");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, str);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  *out = std::move(names);
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<CertKeyPair> NewSelfSignedCA(std::string_view common_name, int validity_days) {
  if (common_name.empty()) return absl::InvalidArgumentError("CA common name is empty");
  if (validity_days <= 0) return absl::InvalidArgumentError("validity_days must be positive");
  KORRAL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  KORRAL_ASSIGN_OR_RETURN(X509Ptr cert, NewCertSkeleton(validity_days));
  KORRAL_RETURN_IF_ERROR(SetSubject(cert.get(), common_name, {}));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1)
    return SslInternal("CA issuer/pubkey");
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_key_usage,
                                "critical,keyCertSign,cRLSign,digitalSignature"));
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return SslInternal("X509_sign");
  CertKeyPair out;
  KORRAL_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  KORRAL_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

absl::StatusOr<CertKeyPair> NewSignedCert(const CertKeyPair& ca, const CertOptions& options) {
  if (options.common_name.empty()) return absl::InvalidArgumentError("common name is empty");
  if (options.validity_days <= 0)
    return absl::InvalidArgumentError("validity_days must be positive");
  KORRAL_ASSIGN_OR_RETURN(X509Ptr ca_cert, ReadCert(ca.cert_pem));
  KORRAL_ASSIGN_OR_RETURN(PkeyPtr ca_key, ReadKey(ca.key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA key does not match CA certificate");
  }
  KORRAL_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  KORRAL_ASSIGN_OR_RETURN(X509Ptr cert, NewCertSkeleton(options.validity_days));
  KORRAL_RETURN_IF_ERROR(SetSubject(cert.get(), options.common_name, options.organizations));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1)
    return SslInternal("issuer/pubkey");
  KORRAL_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_key_usage,
                                "critical,digitalSignature,keyEncipherment"));
  const char* eku = options.usage == CertUsage::kServer   ? "serverAuth"
                    : options.usage == CertUsage::kClient ? "clientAuth"
                                                          : "serverAuth,clientAuth";
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage, eku));
  KORRAL_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  KORRAL_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  KORRAL_RETURN_IF_ERROR(AddSans(cert.get(), options));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) return SslInternal("X509_sign");
  CertKeyPair out;
  KORRAL_ASSIGN_OR_RETURN(out.cert_pem, CertToPem(cert.get()));
  KORRAL_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  return out;
}

absl::StatusOr<CertInfo> ParseCertificate(std::string_view cert_pem) {
  KORRAL_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  std::vector<std::string> cns = NameEntries(subject, NID_commonName);
  if (!cns.empty()) info.common_name = cns.back();
  info.organizations = NameEntries(subject, NID_organizationName);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      int type = 0;
      auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(gn, &type));
      std::string_view bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                             static_cast<size_t>(ASN1_STRING_length(value)));
      if (type == GEN_DNS) info.dns_names.emplace_back(bytes);
      if (type == GEN_IPADD) info.ip_addresses.push_back(IpText(bytes));
    }
    GENERAL_NAMES_free(names);
  }
  info.is_ca = X509_check_ca(cert.get()) != 0;
  info.not_before_unix = AsnTimeToUnix(X509_get0_notBefore(cert.get()));
  info.not_after_unix = AsnTimeToUnix(X509_get0_notAfter(cert.get()));
  return info;
}

absl::Status VerifyCertificate(std::string_view cert_pem, std::string_view ca_pem) {
  KORRAL_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  KORRAL_ASSIGN_OR_RETURN(X509Ptr ca, ReadCert(ca_pem));
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
    return SslInternal("X509 store");
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::PermissionDeniedError(
        absl::StrCat("certificate verification failed: ", X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCaBundle(const std::string& path, std::string_view flag) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(flag), ": cannot read ", path, ": ", text.status().message()));
  }
  if (!ReadCert(*text).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(flag), ": ", path, " holds no PEM certificate"));
  }
  return text;
}

absl::Status CheckKeyMatchesCert(std::string_view cert_pem, std::string_view key_pem) {
  KORRAL_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  KORRAL_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(key_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("private key does not match certificate");
  }
  return absl::OkStatus();
}

CertOptions ServerCertOptions(const PkiOptions& options) {
  CertOptions out;
  out.common_name = "korral-apiserver";
  out.usage = CertUsage::kServer;
  out.validity_days = options.cert_validity_days;
  out.dns_names = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"};
  out.ip_addresses = {"127.0.0.1", "::1"};
  auto add_dns = [&](const std::string& name) {
    if (!name.empty() &&
        std::find(out.dns_names.begin(), out.dns_names.end(), name) == out.dns_names.end())
      out.dns_names.push_back(name);
  };
  auto add_ip = [&](const std::string& bytes) {
    std::string text = IpText(bytes);
    if (std::find(out.ip_addresses.begin(), out.ip_addresses.end(), text) == out.ip_addresses.end())
      out.ip_addresses.push_back(text);
  };
  add_dns(HostName());
  std::string bind = IpBytes(options.bind_address);
  if (!bind.empty() && bind != std::string(bind.size(), '\0')) add_ip(bind);
  for (const std::string& san : options.extra_sans) {
    std::string bytes = IpBytes(san);
    if (!bytes.empty()) {
      add_ip(bytes);
    } else {
      add_dns(san);
    }
  }
  return out;
}

absl::Status EnsureClusterPki(const std::string& dir, const PkiOptions& options) {
  KORRAL_RETURN_IF_ERROR(MakeDir(dir));
  const std::string tls = dir + "/tls";
  KORRAL_RETURN_IF_ERROR(MakeDir(tls));

  // CA: created once, never replaced behind the operator's back.
  CertKeyPair ca;
  absl::StatusOr<CertKeyPair> existing_ca = ReadPair(tls, kCaCertFile, kCaKeyFile);
  if (existing_ca.ok()) {
    ca = *std::move(existing_ca);
    absl::Status match = CheckKeyMatchesCert(ca.cert_pem, ca.key_pem);
    if (!match.ok())
      return absl::FailedPreconditionError(
          absl::StrCat("existing CA in ", tls, " is unusable: ", match.message()));
  } else if (absl::IsNotFound(existing_ca.status())) {
    KORRAL_ASSIGN_OR_RETURN(ca, NewSelfSignedCA("korral-ca", options.ca_validity_days));
    KORRAL_RETURN_IF_ERROR(WritePair(tls, kCaCertFile, kCaKeyFile, ca));
    KLOG(Info, "pki: created cluster CA in {}", tls);
  } else {
    return existing_ca.status();
  }

  // Server certificate: regenerated when it does not cover the wanted SANs.
  CertOptions server_opts = ServerCertOptions(options);
  absl::StatusOr<CertKeyPair> server = ReadPair(tls, kServerCertFile, kServerKeyFile);
  CertInfo info;
  bool reuse = server.ok() && LeafUsable(*server, ca, &info);
  if (reuse) {
    for (const std::string& dns : server_opts.dns_names)
      if (std::find(info.dns_names.begin(), info.dns_names.end(), dns) == info.dns_names.end())
        reuse = false;
    for (const std::string& ip : server_opts.ip_addresses)
      if (std::find(info.ip_addresses.begin(), info.ip_addresses.end(), ip) ==
          info.ip_addresses.end())
        reuse = false;
  }
  if (!reuse) {
    KORRAL_ASSIGN_OR_RETURN(CertKeyPair fresh, NewSignedCert(ca, server_opts));
    KORRAL_RETURN_IF_ERROR(WritePair(tls, kServerCertFile, kServerKeyFile, fresh));
    KLOG(Info, "pki: wrote server certificate in {}", tls);
  }

  absl::StatusOr<CertKeyPair> admin = ReadPair(tls, kAdminCertFile, kAdminKeyFile);
  if (!admin.ok() || !LeafUsable(*admin, ca, &info)) {
    CertOptions admin_opts;
    admin_opts.common_name = "admin";
    admin_opts.organizations = {"system:masters"};
    admin_opts.usage = CertUsage::kClient;
    admin_opts.validity_days = options.cert_validity_days;
    KORRAL_ASSIGN_OR_RETURN(CertKeyPair fresh, NewSignedCert(ca, admin_opts));
    KORRAL_RETURN_IF_ERROR(WritePair(tls, kAdminCertFile, kAdminKeyFile, fresh));
    KLOG(Info, "pki: wrote admin client certificate in {}", tls);
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterPki> LoadClusterPki(const std::string& dir) {
  const std::string tls = dir + "/tls";
  ClusterPki out;
  KORRAL_ASSIGN_OR_RETURN(out.ca, ReadPair(tls, kCaCertFile, kCaKeyFile));
  KORRAL_ASSIGN_OR_RETURN(out.server, ReadPair(tls, kServerCertFile, kServerKeyFile));
  KORRAL_ASSIGN_OR_RETURN(out.admin, ReadPair(tls, kAdminCertFile, kAdminKeyFile));
  return out;
}

std::string KubeconfigYaml(std::string_view server_url, std::string_view ca_pem,
                           std::string_view client_cert_pem, std::string_view client_key_pem,
                           std::string_view user_name, std::string_view cluster_name) {
  std::string out;
  absl::StrAppend(&out,
                  "apiVersion: v1\nkind: Config\nclusters:\n- name: ", YamlQuote(cluster_name),
                  "\n  cluster:\n    server: ", YamlQuote(server_url),
                  "\n    certificate-authority-data: ", absl::Base64Escape(AV(ca_pem)), "\n");
  absl::StrAppend(
      &out, "users:\n- name: ", YamlQuote(user_name),
      "\n  user:\n    client-certificate-data: ", absl::Base64Escape(AV(client_cert_pem)),
      "\n    client-key-data: ", absl::Base64Escape(AV(client_key_pem)), "\n");
  absl::StrAppend(
      &out, "contexts:\n- name: default\n  context:\n    cluster: ", YamlQuote(cluster_name),
      "\n    user: ", YamlQuote(user_name), "\ncurrent-context: default\npreferences: {}\n");
  return out;
}

}  // namespace korral::pki
