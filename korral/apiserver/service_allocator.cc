#include "korral/apiserver/service_allocator.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/base/status.h"
#include "korral/storage/storage.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {
constexpr char kIpPrefix[] = "/registry/_allocations/clusterips/";
constexpr char kPortPrefix[] = "/registry/_allocations/nodeports/";

std::string IpString(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

bool ParseIp(std::string_view s, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(s).c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

uint64_t Random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

std::string OwnerOf(const Json& obj) {
  return obj["metadata"].value("namespace", "") + "/" + obj["metadata"].value("name", "");
}

bool NeedsNodePorts(const Json& spec) {
  std::string t = spec.value("type", "ClusterIP");
  return t == "NodePort" || t == "LoadBalancer";
}

absl::Status InvalidField(const Json& obj, const std::string& field, const std::string& msg) {
  return apierrors::NewInvalid("", "Service", obj["metadata"].value("name", ""),
                               {{"FieldValueInvalid", msg, field}});
}
}  // namespace

absl::StatusOr<ServiceAllocator> ServiceAllocator::Create(storage::Backend* backend,
                                                          std::string_view cidr, int pmin,
                                                          int pmax) {
  auto slash = cidr.find('/');
  uint32_t base = 0;
  if (slash == std::string_view::npos || !ParseIp(cidr.substr(0, slash), &base)) {
    return absl::InvalidArgumentError(fmt::format("invalid service CIDR {}", cidr));
  }
  int bits = std::atoi(std::string(cidr.substr(slash + 1)).c_str());
  if (bits < 8 || bits > 30) return absl::InvalidArgumentError("service CIDR must be /8../30");
  uint32_t size = 1u << (32 - bits);
  base &= ~(size - 1);
  if (pmin < 1 || pmax > 65535 || pmin > pmax) {
    return absl::InvalidArgumentError("invalid node port range");
  }
  return ServiceAllocator(backend, base, size, pmin, pmax);
}

std::string ServiceAllocator::FirstAddress() const { return IpString(base_ + 1); }

absl::Status ServiceAllocator::ReserveIp(const std::string& ip, const std::string& owner) {
  uint32_t v = 0;
  if (!ParseIp(ip, &v) || v <= base_ || v >= base_ + size_ - 1) {
    return absl::OutOfRangeError(
        fmt::format("provided IP is not in the valid range. The range of valid IPs is {}/{}",
                    IpString(base_), 32 - __builtin_ctz(size_)));
  }
  auto r = backend_->Create(kIpPrefix + ip, Json{{"owner", owner}}.dump());
  if (!r.ok()) {
    if (r.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError("provided IP is already allocated");
    }
    return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ServiceAllocator::AllocateIp(const std::string& owner) {
  uint32_t usable = size_ - 2;
  uint32_t start = static_cast<uint32_t>(Random() % usable);
  // Probe a bounded number of candidates; a nearly full range fails with a clear error.
  for (uint32_t i = 0; i < std::min<uint32_t>(usable, 4096); ++i) {
    uint32_t offset = 1 + (start + i) % usable;
    std::string ip = IpString(base_ + offset);
    if (offset == 1) continue;  // reserved for the kubernetes service
    auto s = ReserveIp(ip, owner);
    if (s.ok()) return ip;
    if (s.code() != absl::StatusCode::kAlreadyExists) return s;
  }
  return absl::ResourceExhaustedError("range is full");
}

absl::Status ServiceAllocator::ReservePort(int port, const std::string& owner) {
  if (port < port_min_ || port > port_max_) {
    return absl::OutOfRangeError(
        fmt::format("provided port is not in the valid range. The range of valid ports is {}-{}",
                    port_min_, port_max_));
  }
  auto r = backend_->Create(kPortPrefix + std::to_string(port), Json{{"owner", owner}}.dump());
  if (!r.ok()) {
    if (r.status().code() == absl::StatusCode::kAlreadyExists) {
      return absl::AlreadyExistsError("provided port is already allocated");
    }
    return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ServiceAllocator::AllocatePort(const std::string& owner) {
  int n = port_max_ - port_min_ + 1;
  int start = static_cast<int>(Random() % n);
  for (int i = 0; i < n; ++i) {
    int port = port_min_ + (start + i) % n;
    auto s = ReservePort(port, owner);
    if (s.ok()) return port;
    if (s.code() != absl::StatusCode::kAlreadyExists) return s;
  }
  return absl::ResourceExhaustedError("range is full");
}

void ServiceAllocator::Release(const std::string& key) { (void)backend_->Delete(key, 0); }

absl::Status ServiceAllocator::OnWrite(const api::ResourceType& type, Json& obj, const Json* old,
                                       bool dry_run) {
  if (type.resource != "services" || !type.gvk.group.empty()) return absl::OkStatus();
  Json& spec = obj["spec"];
  if (!spec.is_object()) return absl::OkStatus();
  std::string owner = OwnerOf(obj);
  std::string svc_type = spec.value("type", "ClusterIP");
  if (old == nullptr && svc_type != "ExternalName" && !dry_run) {
    std::string ip = spec.value("clusterIP", "");
    if (ip.empty()) {
      auto a = AllocateIp(owner);
      if (!a.ok()) {
        return InvalidField(obj, "spec.clusterIPs",
                            fmt::format("Internal error: failed to allocate a serviceIP: {}",
                                        StatusMessage(a.status())));
      }
      spec["clusterIP"] = *a;
      spec["clusterIPs"] = Json::array({*a});
    } else if (ip != "None") {
      auto s = ReserveIp(ip, owner);
      if (!s.ok()) {
        return InvalidField(obj, "spec.clusterIPs[0]",
                            fmt::format("Invalid value: \"{}\": {}", ip, StatusMessage(s)));
      }
      spec["clusterIPs"] = Json::array({ip});
    } else {
      spec["clusterIPs"] = Json::array({"None"});
    }
  } else if (old && (*old)["spec"].contains("clusterIP") && !spec.contains("clusterIP")) {
    // Updates that omit the allocated IP keep it (upstream does the same).
    spec["clusterIP"] = (*old)["spec"]["clusterIP"];
    if ((*old)["spec"].contains("clusterIPs")) spec["clusterIPs"] = (*old)["spec"]["clusterIPs"];
  }
  std::set<int> old_ports;
  if (old && (*old)["spec"].contains("ports")) {
    for (const auto& p : (*old)["spec"]["ports"])
      if (p.contains("nodePort") && p["nodePort"].is_number_integer())
        old_ports.insert(p["nodePort"].get<int>());
  }
  std::set<int> kept;
  if (NeedsNodePorts(spec) && spec.contains("ports") && spec["ports"].is_array() && !dry_run) {
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      if (p.contains("nodePort") && p["nodePort"].is_number_integer() &&
          p["nodePort"].get<int>() != 0) {
        int np = p["nodePort"].get<int>();
        if (!old_ports.count(np)) {
          auto s = ReservePort(np, owner);
          if (!s.ok()) {
            return InvalidField(obj, "spec.ports[].nodePort",
                                fmt::format("Invalid value: {}: {}", np, StatusMessage(s)));
          }
        }
        kept.insert(np);
        continue;
      }
      auto a = AllocatePort(owner);
      if (!a.ok()) {
        return InvalidField(obj, "spec.ports[].nodePort",
                            fmt::format("Internal error: failed to allocate a nodePort: {}",
                                        StatusMessage(a.status())));
      }
      p["nodePort"] = *a;
      kept.insert(*a);
    }
  }
  if (!dry_run) {
    for (int np : old_ports)
      if (!kept.count(np)) Release(kPortPrefix + std::to_string(np));
  }
  return absl::OkStatus();
}

void ServiceAllocator::OnDelete(const api::ResourceType& type, const Json& obj) {
  if (type.resource != "services" || !type.gvk.group.empty()) return;
  const Json& spec = obj["spec"];
  if (!spec.is_object()) return;
  std::string ip = spec.value("clusterIP", "");
  if (!ip.empty() && ip != "None") Release(kIpPrefix + ip);
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (const auto& p : spec["ports"])
      if (p.is_object() && p.contains("nodePort") && p["nodePort"].is_number_integer())
        Release(kPortPrefix + std::to_string(p["nodePort"].get<int>()));
  }
}

}  // namespace korral::apiserver
