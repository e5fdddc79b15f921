// korral/apiserver/admission/certificates.cc: certificates.k8s.io CertificateSigningRequest
// admission: upstream's registry strategy (pkg/registry/certificates/certificates/strategy.go)
// and the CertificateApproval, CertificateSigning and CertificateSubjectRestriction plugins.
#include <fmt/format.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apiserver/admission/admission.h"
#include "korral/base/clock.h"
#include "korral/controllers/certificates/csr.h"

namespace korral::apiserver::admission {
namespace {

using Json = nlohmann::json;
constexpr char kGroup[] = "certificates.k8s.io";

bool IsCsr(const Request& r) { return r.Is(kGroup, "certificatesigningrequests"); }

std::string Str(const Json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return "";
  return j[k].get<std::string>();
}

const Json& Conditions(const Json& csr) {
  static const Json kEmpty = Json::array();
  if (!csr.is_object() || !csr.contains("status") || !csr["status"].is_object()) return kEmpty;
  const Json& st = csr["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return kEmpty;
  return st["conditions"];
}

std::string Certificate(const Json& csr) {
  if (!csr.is_object() || !csr.contains("status") || !csr["status"].is_object()) return "";
  return Str(csr["status"], "certificate");
}

std::string SignerName(const Json& csr) {
  return csr.is_object() && csr.contains("spec") ? Str(csr["spec"], "signerName") : "";
}

std::string NowString() { return api::FormatTime(std::chrono::system_clock::now()); }

absl::Status InvalidField(const Request& r, const std::string& field, const Json& value,
                          const std::string& detail) {
  return apierrors::NewInvalid(
      kGroup, "CertificateSigningRequest", r.name,
      {apierrors::Cause{
          "FieldValueInvalid",
          fmt::format("Invalid value: {}: {}",
                      value.is_string() ? "\"" + value.get<std::string>() + "\"" : value.dump(),
                      detail),
          field}});
}

absl::Status Forbidden(const Request& r, const std::string& msg) {
  std::string name = r.name;
  if (name.empty() && r.object) name = Str((*r.object)["metadata"], "name");
  return apierrors::NewForbidden(r.type->QualifiedResource(), name, msg);
}

// Conditions of `type` from `old` replace those in `conds` (upstream preserveConditionInstances).
Json PreserveConditions(const Json& conds, const Json& old, const std::string& type) {
  Json out = Json::array();
  for (const auto& c : conds) {
    if (!(c.is_object() && Str(c, "type") == type)) out.push_back(c);
  }
  for (const auto& c : old) {
    if (c.is_object() && Str(c, "type") == type) out.push_back(c);
  }
  return out;
}

// Fills lastUpdateTime and lastTransitionTime of new or changed conditions.
void PopulateConditionTimestamps(Json& conds, const Json& old) {
  std::string now = NowString();
  for (Json& c : conds) {
    if (!c.is_object()) continue;
    if (Str(c, "status").empty()) c["status"] = "True";
    if (Str(c, "lastUpdateTime").empty()) c["lastUpdateTime"] = now;
    if (!Str(c, "lastTransitionTime").empty()) continue;
    std::string when = now;
    for (const auto& o : old) {
      if (o.is_object() && Str(o, "type") == Str(c, "type") &&
          Str(o, "status") == Str(c, "status") && !Str(o, "lastTransitionTime").empty()) {
        when = Str(o, "lastTransitionTime");
      }
    }
    c["lastTransitionTime"] = when;
  }
}

class Strategy final : public Plugin {
 public:
  const char* Name() const override { return "CertificateSigningRequestStrategy"; }

  absl::Status Admit(Request& r) override {
    if (!IsCsr(r) || !r.object) return absl::OkStatus();
    Json& csr = *r.object;
    if (r.op == Operation::kCreate) {
      Json& spec = csr["spec"];
      if (!spec.is_object()) spec = Json::object();
      // The requester is whoever creates the object, whatever the body says.
      spec.erase("username");
      spec.erase("uid");
      spec.erase("groups");
      spec.erase("extra");
      if (r.user != nullptr) {
        if (!r.user->name.empty()) spec["username"] = r.user->name;
        if (!r.user->uid.empty()) spec["uid"] = r.user->uid;
        if (!r.user->groups.empty()) spec["groups"] = r.user->groups;
        if (!r.user->extra.empty()) spec["extra"] = r.user->extra;
      }
      csr.erase("status");
      return absl::OkStatus();
    }
    if (r.op != Operation::kUpdate || r.old == nullptr) return absl::OkStatus();
    const Json& old = *r.old;
    if (r.subresource == "approval") {
      // Only the conditions change through /approval.
      Json conds = Conditions(csr);
      Json meta = csr["metadata"];
      csr = old;
      csr["metadata"] = meta;
      PopulateConditionTimestamps(conds, Conditions(old));
      if (!csr.contains("status") || !csr["status"].is_object()) csr["status"] = Json::object();
      csr["status"]["conditions"] = conds;
      if (conds.empty()) csr["status"].erase("conditions");
    } else if (r.subresource == "status") {
      // /status cannot change the approval.
      Json conds = Conditions(csr);
      conds = PreserveConditions(conds, Conditions(old), "Approved");
      conds = PreserveConditions(conds, Conditions(old), "Denied");
      PopulateConditionTimestamps(conds, Conditions(old));
      if (!csr.contains("status") || !csr["status"].is_object()) csr["status"] = Json::object();
      csr["status"]["conditions"] = conds;
      if (conds.empty()) csr["status"].erase("conditions");
      if (old.contains("spec")) csr["spec"] = old["spec"];
    } else if (r.subresource.empty()) {
      // The main resource changes metadata only.
      for (const char* f : {"spec", "status"}) {
        if (old.contains(f)) {
          csr[f] = old[f];
        } else {
          csr.erase(f);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Validate(const Request& r) override {
    if (!IsCsr(r) || !r.object) return absl::OkStatus();
    const Json& csr = *r.object;
    if (r.op == Operation::kCreate) {
      std::string b64 = Str(csr["spec"], "request");
      std::string pem;
      if (!absl::Base64Unescape(b64, &pem)) {
        return InvalidField(r, "spec.request", b64, "illegal base64 data");
      }
      auto info = certificates::ParseCsr(pem);
      if (!info.ok()) {
        return InvalidField(r, "spec.request", b64, std::string(info.status().message()));
      }
      return absl::OkStatus();
    }
    std::string cert = Certificate(csr);
    if (r.op == Operation::kUpdate && !cert.empty() && (!r.old || Certificate(*r.old) != cert)) {
      std::string pem;
      if (!absl::Base64Unescape(cert, &pem)) {
        return InvalidField(r, "status.certificate", "<certificate data>", "illegal base64 data");
      }
      if (auto s = certificates::CheckCertificateBundle(pem); !s.ok()) {
        return InvalidField(r, "status.certificate", "<certificate data>",
                            std::string(s.message()));
      }
    }
    return absl::OkStatus();
  }
};

// The signer names a permission on "signers" may use: the exact name and "<domain>/*".
bool MaySigner(const AuthorizeFunc& authorize, const authn::UserInfo& user, const std::string& verb,
               const std::string& signer) {
  if (!authorize) return true;
  if (authorize(user, verb, kGroup, "signers", signer)) return true;
  auto slash = signer.find('/');
  return slash != std::string::npos &&
         authorize(user, verb, kGroup, "signers", signer.substr(0, slash) + "/*");
}

class CertificateApproval final : public Plugin {
 public:
  explicit CertificateApproval(AuthorizeFunc a) : authorize_(std::move(a)) {}
  const char* Name() const override { return "CertificateApproval"; }
  absl::Status Validate(const Request& r) override {
    if (!IsCsr(r) || r.op != Operation::kUpdate || r.subresource != "approval" || !r.user ||
        !r.object) {
      return absl::OkStatus();
    }
    std::string signer = SignerName(*r.object);
    if (!MaySigner(authorize_, *r.user, "approve", signer)) {
      return Forbidden(
          r, fmt::format("user not permitted to approve requests with signerName \"{}\"", signer));
    }
    return absl::OkStatus();
  }

 private:
  AuthorizeFunc authorize_;
};

class CertificateSigning final : public Plugin {
 public:
  explicit CertificateSigning(AuthorizeFunc a) : authorize_(std::move(a)) {}
  const char* Name() const override { return "CertificateSigning"; }
  absl::Status Validate(const Request& r) override {
    if (!IsCsr(r) || r.op != Operation::kUpdate || r.subresource != "status" || !r.user ||
        !r.object || !r.old || Certificate(*r.object) == Certificate(*r.old)) {
      return absl::OkStatus();
    }
    std::string signer = SignerName(*r.object);
    if (!MaySigner(authorize_, *r.user, "sign", signer)) {
      return Forbidden(
          r, fmt::format("user not permitted to sign requests with signerName \"{}\"", signer));
    }
    return absl::OkStatus();
  }

 private:
  AuthorizeFunc authorize_;
};

class CertificateSubjectRestriction final : public Plugin {
 public:
  const char* Name() const override { return "CertificateSubjectRestriction"; }
  absl::Status Validate(const Request& r) override {
    if (!IsCsr(r) || r.op != Operation::kCreate || !r.object ||
        SignerName(*r.object) != "kubernetes.io/kube-apiserver-client") {
      return absl::OkStatus();
    }
    std::string pem;
    if (!absl::Base64Unescape(Str((*r.object)["spec"], "request"), &pem)) return absl::OkStatus();
    auto info = certificates::ParseCsr(pem);
    if (!info.ok()) return absl::OkStatus();  // the strategy reports it
    const auto& orgs = info->organizations;
    if (std::find(orgs.begin(), orgs.end(), "system:masters") != orgs.end()) {
      return Forbidden(r,
                       "use of kubernetes.io/kube-apiserver-client signer with system:masters "
                       "group is not allowed");
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Plugin> NewCertificateSigningRequestStrategy() {
  return std::make_unique<Strategy>();
}
std::unique_ptr<Plugin> NewCertificateApproval(AuthorizeFunc authorize) {
  return std::make_unique<CertificateApproval>(std::move(authorize));
}
std::unique_ptr<Plugin> NewCertificateSigning(AuthorizeFunc authorize) {
  return std::make_unique<CertificateSigning>(std::move(authorize));
}
std::unique_ptr<Plugin> NewCertificateSubjectRestriction() {
  return std::make_unique<CertificateSubjectRestriction>();
}

}  // namespace korral::apiserver::admission
