// korral/pki/csr.cc: OpenSSL 3 implementation of csr.h.
#include "korral/pki/csr.h"

#include <arpa/inet.h>

#include <ctime>
#include <map>
#include <memory>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "korral/base/status.h"
#include "korral/pki/openssl_internal.h"

namespace korral::pki {
namespace {

using namespace internal;  // NOLINT(google-build-using-namespace): this library's helpers

absl::Status Internal(const std::string& what) { return SslInternal(what); }

// One PEM block: its type and DER bytes.
struct PemBlock {
  std::string type;
  std::string der;
};

// Reads every PEM block of `pem`; stops at the first malformed one (returned blocks so far).
std::vector<PemBlock> ReadPemBlocks(std::string_view pem) {
  std::vector<PemBlock> out;
  BioPtr bio = MemBio(pem);
  for (int i = 0; i < 1000; ++i) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) break;
    out.push_back({name, std::string(reinterpret_cast<char*>(data), static_cast<size_t>(len))});
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();
  return out;
}

absl::StatusOr<ReqPtr> ReadCsr(std::string_view pem) {
  std::vector<PemBlock> blocks = ReadPemBlocks(pem);
  if (blocks.empty()) return Invalid("PEM block type must be CERTIFICATE REQUEST");
  if (blocks.size() != 1) return Invalid("one and only one PEM block must be present");
  if (blocks[0].type != "CERTIFICATE REQUEST") {
    return Invalid("PEM block type must be CERTIFICATE REQUEST");
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(blocks[0].der.data());
  ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(blocks[0].der.size())));
  if (!req) {
    ERR_clear_error();
    return Invalid("x509: malformed certificate request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return Invalid("x509: ECDSA/RSA verification failure: the request's signature is invalid");
  }
  return req;
}

const std::map<std::string, const char*>& KeyUsageNames() {
  static const auto* m = new std::map<std::string, const char*>{
      {"signing", "digitalSignature"},
      {"digital signature", "digitalSignature"},
      {"content commitment", "nonRepudiation"},
      {"key encipherment", "keyEncipherment"},
      {"key agreement", "keyAgreement"},
      {"data encipherment", "dataEncipherment"},
      {"cert sign", "keyCertSign"},
      {"crl sign", "cRLSign"},
      {"encipher only", "encipherOnly"},
      {"decipher only", "decipherOnly"},
  };
  return *m;
}

const std::map<std::string, const char*>& ExtKeyUsageNames() {
  static const auto* m = new std::map<std::string, const char*>{
      {"any", "anyExtendedKeyUsage"},
      {"server auth", "serverAuth"},
      {"client auth", "clientAuth"},
      {"code signing", "codeSigning"},
      {"email protection", "emailProtection"},
      {"s/mime", "emailProtection"},
      {"ipsec end system", "ipsecEndSystem"},
      {"ipsec tunnel", "ipsecTunnel"},
      {"ipsec user", "ipsecUser"},
      {"timestamping", "timeStamping"},
      {"ocsp signing", "OCSPSigning"},
      {"microsoft sgc", "msSGC"},
      {"netscape sgc", "nsSGC"},
  };
  return *m;
}

}  // namespace

absl::StatusOr<CsrInfo> ParseCsr(std::string_view pem) {
  auto req = ReadCsr(pem);
  if (!req.ok()) return req.status();
  CsrInfo info;
  X509_NAME* subject = X509_REQ_get_subject_name(req->get());
  auto cns = NameEntries(subject, NID_commonName);
  if (!cns.empty()) info.common_name = cns.front();
  info.organizations = NameEntries(subject, NID_organizationName);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req->get());
  if (exts != nullptr) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) continue;
      for (int j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
        GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), j);
        if (gn->type == GEN_DNS) {
          info.dns_names.push_back(Asn1Text(gn->d.dNSName));
        } else if (gn->type == GEN_EMAIL) {
          info.email_addresses.push_back(Asn1Text(gn->d.rfc822Name));
        } else if (gn->type == GEN_URI) {
          info.uris.push_back(Asn1Text(gn->d.uniformResourceIdentifier));
        } else if (gn->type == GEN_IPADD) {
          std::string bytes = Asn1Text(gn->d.iPAddress);
          char buf[INET6_ADDRSTRLEN] = {};
          int af = bytes.size() == 4 ? AF_INET : AF_INET6;
          if ((bytes.size() == 4 || bytes.size() == 16) &&
              inet_ntop(af, bytes.data(), buf, sizeof buf) != nullptr) {
            info.ip_addresses.emplace_back(buf);
          }
        }
      }
    }
    FreeExtensions(exts);
  }
  return info;
}

absl::Status CheckCertificateBundle(std::string_view pem) {
  std::vector<PemBlock> blocks = ReadPemBlocks(pem);
  if (blocks.empty()) return Invalid("must contain at least one CERTIFICATE PEM block");
  for (const auto& b : blocks) {
    if (b.type != "CERTIFICATE")
      return Invalid("only CERTIFICATE PEM blocks are allowed, found \"" + b.type + "\"");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(b.der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(b.der.size())));
    if (!cert) {
      ERR_clear_error();
      return Invalid("x509: malformed certificate");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignCsr(const CertKeyPair& ca, std::string_view csr_pem,
                                    const std::vector<std::string>& usages,
                                    std::chrono::seconds duration, std::chrono::seconds backdate) {
  auto req = ReadCsr(csr_pem);
  if (!req.ok()) return req.status();
  BioPtr cb = MemBio(ca.cert_pem);
  X509Ptr ca_cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  BioPtr kb = MemBio(ca.key_pem);
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!ca_cert || !ca_key) {
    ERR_clear_error();
    return Invalid("unusable signing CA certificate or key");
  }
  std::string key_usage, ext_usage;
  for (const auto& u : usages) {
    if (auto it = KeyUsageNames().find(u); it != KeyUsageNames().end()) {
      if (key_usage.find(it->second) == std::string::npos) {
        key_usage += (key_usage.empty() ? "" : ",") + std::string(it->second);
      }
    } else if (auto jt = ExtKeyUsageNames().find(u); jt != ExtKeyUsageNames().end()) {
      if (ext_usage.find(jt->second) == std::string::npos) {
        ext_usage += (ext_usage.empty() ? "" : ",") + std::string(jt->second);
      }
    } else {
      return Invalid("unknown key usage \"" + u + "\"");
    }
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return Internal("X509_new");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return Internal("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BnPtr bn(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return Internal("serial");
  }
  time_t now = time(nullptr);
  time_t not_after = now + duration.count();
  // Never past the CA's own expiry.
  const ASN1_TIME* ca_end = X509_get0_notAfter(ca_cert.get());
  struct tm ca_tm = {};
  if (ASN1_TIME_to_tm(ca_end, &ca_tm) == 1) {
    time_t ca_t = timegm(&ca_tm);
    if (ca_t < not_after) not_after = ca_t;
  }
  if (!X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -static_cast<long>(backdate.count()),
                        &now) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(not_after - now),
                        &now)) {
    return Internal("validity");
  }
  if (X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req->get())) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req->get())) != 1) {
    return Internal("subject");
  }
  if (auto s = AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
      !s.ok())
    return s;
  if (!key_usage.empty()) {
    if (auto s = AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical," + key_usage); !s.ok())
      return s;
  }
  if (!ext_usage.empty()) {
    if (auto s = AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage, ext_usage); !s.ok()) return s;
  }
  if (auto s = AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always");
      !s.ok())
    return s;
  // Subject alternative names exactly as requested.
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req->get());
  if (exts != nullptr) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
        X509_add_ext(cert.get(), ext, -1);
      }
    }
    FreeExtensions(exts);
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) return Internal("X509_sign");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(out.get(), cert.get()) != 1) return Internal("PEM_write_bio_X509");
  return BioToString(out.get());
}

absl::StatusOr<std::string> NewPrivateKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Internal("EVP_EC_gen");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("PEM_write_bio_PrivateKey");
  }
  return BioToString(out.get());
}

absl::StatusOr<std::string> NewCsr(std::string_view key_pem, const CsrOptions& options) {
  BioPtr kb = MemBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Invalid("unusable private key");
  }
  ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1) return Internal("X509_REQ_new");
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& o : options.organizations) {
    if (X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1,
                                   0) != 1) {
      return Internal("subject O");
    }
  }
  const std::string& cn = options.common_name;
  if (!cn.empty() && X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                                reinterpret_cast<const unsigned char*>(cn.c_str()),
                                                -1, -1, 0) != 1) {
    return Internal("subject CN");
  }
  if (!options.dns_names.empty() || !options.ip_addresses.empty()) {
    GeneralNamesPtr names;
    KORRAL_RETURN_IF_ERROR(BuildSans(options.dns_names, options.ip_addresses, &names));
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    if (exts == nullptr) return Internal("sk_X509_EXTENSION_new_null");
    X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
    bool ok = ext != nullptr && sk_X509_EXTENSION_push(exts, ext) > 0;
    if (!ok) X509_EXTENSION_free(ext);
    ok = ok && X509_REQ_add_extensions(req.get(), exts) == 1;
    FreeExtensions(exts);
    if (!ok) return Internal("subjectAltName");
  }
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) return Internal("X509_REQ_set_pubkey");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) return Internal("X509_REQ_sign");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(out.get(), req.get()) != 1) return Internal("PEM_write_bio_X509_REQ");
  return BioToString(out.get());
}

absl::StatusOr<std::string> NewCsr(std::string_view key_pem, std::string_view common_name,
                                   const std::vector<std::string>& organizations) {
  CsrOptions options;
  options.common_name = std::string(common_name);
  options.organizations = organizations;
  return NewCsr(key_pem, options);
}

}  // namespace korral::pki
