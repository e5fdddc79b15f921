// korral/api/security_types.cc: certificates.k8s.io/v1 CertificateSigningRequest and
// scheduling.k8s.io/v1 PriorityClass.
//
// The CSR checks that need X.509 parsing (spec.request, status.certificate) run in the
// apiserver's admission (korral/apiserver/admission/certificates.cc); the structural ones here.
#include <set>

#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;

TableColumn Column(std::string name, std::string desc, std::string type = "string",
                   std::string format = "", int priority = 0) {
  return TableColumn{std::move(name), std::move(type), std::move(format), std::move(desc),
                     priority};
}

Json AgeCell(const Json& o, std::chrono::system_clock::time_point now) {
  auto t = ParseTime(GetString(o, {"metadata", "creationTimestamp"}));
  if (!t) return "<unknown>";
  return HumanDuration(now - *t);
}

// ---------------- certificates.k8s.io ----------------

const std::set<std::string>& KnownUsages() {
  static const auto* s = new std::set<std::string>{"signing",
                                                   "digital signature",
                                                   "content commitment",
                                                   "key encipherment",
                                                   "key agreement",
                                                   "data encipherment",
                                                   "cert sign",
                                                   "crl sign",
                                                   "encipher only",
                                                   "decipher only",
                                                   "any",
                                                   "server auth",
                                                   "client auth",
                                                   "code signing",
                                                   "email protection",
                                                   "s/mime",
                                                   "ipsec end system",
                                                   "ipsec tunnel",
                                                   "ipsec user",
                                                   "timestamping",
                                                   "ocsp signing",
                                                   "microsoft sgc",
                                                   "netscape sgc"};
  return *s;
}

// "example.com/signer-name": a DNS-subdomain domain, a slash, and a path.
void ValidateSignerName(const std::string& name, Causes* out) {
  const std::string path = "spec.signerName";
  if (name.empty()) {
    out->push_back(v::Required(path));
    return;
  }
  size_t slash = name.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= name.size()) {
    out->push_back(v::Invalid(path, name,
                              "must be a fully qualified domain and path of the form "
                              "'example.com/signer-name'"));
    return;
  }
  std::string domain = name.substr(0, slash);
  for (auto& m : v::IsDns1123Subdomain(domain)) out->push_back(v::Invalid(path, name, m));
  if (domain.find('.') == std::string::npos) {
    out->push_back(v::Invalid(path, name,
                              "should be a domain with at least two segments separated "
                              "by dots"));
  }
  if (name.size() > 571) out->push_back(v::TooLong(path, 571));
}

void ValidateCsrConditions(const Json& o, Causes* out) {
  const Json& conds = GetArray(o, {"status", "conditions"});
  bool approved = false, denied = false;
  std::set<std::string> seen;
  for (size_t i = 0; i < conds.size(); ++i) {
    std::string p = v::Index("status.conditions", i);
    std::string type = GetString(conds[i], {"type"});
    std::string status = GetString(conds[i], {"status"});
    if (type.empty()) out->push_back(v::Required(v::Child(p, "type")));
    if (type == "Approved" || type == "Denied" || type == "Failed") {
      if (!seen.insert(type).second) out->push_back(v::Duplicate(v::Child(p, "type"), type));
      if (status != "True")
        out->push_back(v::NotSupported(v::Child(p, "status"), status, {"True"}));
    } else if (!status.empty() && status != "True" && status != "False" && status != "Unknown") {
      out->push_back(v::NotSupported(v::Child(p, "status"), status, {"False", "True", "Unknown"}));
    }
    if (type == "Approved") approved = true;
    if (type == "Denied") denied = true;
  }
  if (approved && denied) {
    out->push_back(v::Invalid("status.conditions", conds,
                              "Approved and Denied conditions are mutually exclusive"));
  }
}

ResourceType CertificateSigningRequests() {
  ResourceType t;
  t.gvk = GroupVersionKind{"certificates.k8s.io", "v1", "CertificateSigningRequest"};
  t.resource = "certificatesigningrequests";
  t.singular = "certificatesigningrequest";
  t.list_kind = "CertificateSigningRequestList";
  t.namespaced = false;
  t.short_names = {"csr"};
  t.verbs = FullVerbs();
  t.subresources = {
      Subresource{"approval", t.gvk, StatusVerbs()},
      Subresource{"status", t.gvk, StatusVerbs()},
  };
  t.has_status_subresource = true;
  t.prepare_for_create = [](Json& o) { o.erase("status"); };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsValidPathSegmentName, &out);
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    const Json& spec = GetObject(o, {"spec"});
    if (GetString(spec, {"request"}).empty()) {
      out.push_back(v::Required("spec.request"));
    }
    ValidateSignerName(GetString(spec, {"signerName"}), &out);
    const Json& usages = GetArray(spec, {"usages"});
    if (usages.empty()) out.push_back(v::Required("spec.usages", "usages must be provided"));
    std::set<std::string> seen;
    for (size_t i = 0; i < usages.size(); ++i) {
      std::string p = v::Index("spec.usages", i);
      std::string u = usages[i].is_string() ? usages[i].get<std::string>() : "";
      if (!KnownUsages().count(u)) {
        out.push_back(v::NotSupported(
            p, u, std::vector<std::string>(KnownUsages().begin(), KnownUsages().end())));
      } else if (!seen.insert(u).second) {
        out.push_back(v::Duplicate(p, u));
      }
    }
    if (Has(spec, {"expirationSeconds"}) && GetInt(spec, {"expirationSeconds"}) < 600) {
      out.push_back(v::Invalid("spec.expirationSeconds", GetInt(spec, {"expirationSeconds"}),
                               "may not specify a duration less than 600 seconds (10 minutes)"));
    }
    ValidateCsrConditions(o, &out);
    if (old != nullptr) {
      // Approval and issuance are final.
      for (const char* type : {"Approved", "Denied"}) {
        bool had = false, has = false;
        for (const auto& c : GetArray(*old, {"status", "conditions"})) {
          had |= GetString(c, {"type"}) == type;
        }
        for (const auto& c : GetArray(o, {"status", "conditions"})) {
          has |= GetString(c, {"type"}) == type;
        }
        if (had && !has) {
          out.push_back(
              v::Forbidden("status.conditions",
                           Cat("updates may not remove a condition of type \"", type, "\"")));
        }
      }
      std::string old_cert = GetString(*old, {"status", "certificate"});
      if (!old_cert.empty() && GetString(o, {"status", "certificate"}) != old_cert) {
        out.push_back(v::Forbidden("status.certificate",
                                   "updates may not modify existing certificate content"));
      }
    }
    return out;
  };
  t.columns = {Column("Name", "Name must be unique within a namespace.", "string", "name"),
               Column("Age", "CreationTimestamp of the object.", "date"),
               Column("SignerName", "The signer of the request."),
               Column("Requestor", "The user who created the request."),
               Column("RequestedDuration", "The requested validity of the certificate."),
               Column("Condition", "The approval and issuance state.")};
  t.row_cells = [](const Json& o, std::chrono::system_clock::time_point now) {
    std::string cond;
    for (const auto& c : GetArray(o, {"status", "conditions"})) {
      std::string type = GetString(c, {"type"});
      if (!type.empty()) cond += (cond.empty() ? "" : ",") + type;
    }
    if (!GetString(o, {"status", "certificate"}).empty()) {
      cond += cond.empty() ? "Issued" : ",Issued";
    }
    if (cond.empty()) cond = "Pending";
    std::string dur = "<none>";
    if (Has(o, {"spec", "expirationSeconds"})) {
      dur = HumanDuration(std::chrono::seconds(GetInt(o, {"spec", "expirationSeconds"})));
    }
    return Json::array({GetString(o, {"metadata", "name"}), AgeCell(o, now),
                        GetString(o, {"spec", "signerName"}), GetString(o, {"spec", "username"}),
                        dur, cond});
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "spec.signerName") return GetString(o, {"spec", "signerName"});
    return std::nullopt;
  };
  return t;
}

// ---------------- scheduling.k8s.io ----------------

constexpr int64_t kHighestUserDefinablePriority = 1000000000;

ResourceType PriorityClasses() {
  ResourceType t;
  t.gvk = GroupVersionKind{"scheduling.k8s.io", "v1", "PriorityClass"};
  t.resource = "priorityclasses";
  t.singular = "priorityclass";
  t.list_kind = "PriorityClassList";
  t.namespaced = false;
  t.short_names = {"pc"};
  t.verbs = FullVerbs();
  t.apply_defaults = [](Json& o) {
    if (o.is_object()) SetDefaultString(o, "preemptionPolicy", "PreemptLowerPriority");
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    std::string name = GetString(o, {"metadata", "name"});
    int64_t value = GetInt(o, {"value"});
    bool global = GetBool(o, {"globalDefault"});
    if (StartsWith(name, "system-")) {
      std::string err;
      if (name == "system-node-critical" || name == "system-cluster-critical") {
        int64_t want = name == "system-node-critical" ? 2000001000 : 2000000000;
        if (value != want) {
          err = Cat("value of ", name, " PriorityClass must be ", want);
        } else if (global) {
          err = Cat("globalDefault of ", name, " PriorityClass must be false");
        }
      } else {
        err = Cat(name, " is not a known system priority class");
      }
      if (!err.empty()) {
        out.push_back(v::Forbidden("metadata.name",
                                   "priority class names with 'system-' prefix are reserved for "
                                   "system use only. error: " +
                                       err));
      }
    } else if (value > kHighestUserDefinablePriority) {
      out.push_back(
          v::Forbidden("value", Cat("maximum allowed value of a user defined priority is ",
                                    kHighestUserDefinablePriority)));
    }
    std::string pp = GetString(o, {"preemptionPolicy"});
    if (!pp.empty() && pp != "Never" && pp != "PreemptLowerPriority") {
      out.push_back(v::NotSupported("preemptionPolicy", pp, {"Never", "PreemptLowerPriority"}));
    }
    if (old != nullptr) {
      if (GetInt(*old, {"value"}) != value) {
        out.push_back(v::Forbidden("value", "may not be changed in an update."));
      }
      if (GetString(*old, {"preemptionPolicy"}) != pp) {
        out.push_back(v::Immutable("preemptionPolicy", pp));
      }
    }
    return out;
  };
  t.columns = {Column("Name", "Name must be unique within a namespace.", "string", "name"),
               Column("Value", "The priority value.", "integer"),
               Column("Global-Default", "Whether this is the cluster's default class.", "boolean"),
               Column("Age", "CreationTimestamp of the object.", "date"),
               Column("PreemptionPolicy", "Whether pods of this class preempt others.")};
  t.row_cells = [](const Json& o, std::chrono::system_clock::time_point now) {
    return Json::array({GetString(o, {"metadata", "name"}), GetInt(o, {"value"}),
                        GetBool(o, {"globalDefault"}), AgeCell(o, now),
                        GetString(o, {"preemptionPolicy"})});
  };
  return t;
}

}  // namespace

void AddSecurityTypes(std::vector<ResourceType>& out) {
  out.push_back(CertificateSigningRequests());
  out.push_back(PriorityClasses());
}

}  // namespace korral::api::internal
