// korral/apiserver/service_allocator.h: Service cluster IPs and node ports.
//
// Each allocated IP or port is a key in storage (created with create-if-absent), so two
// apiservers sharing one store can never hand out the same address. Allocation picks a random
// start and probes forward; release deletes the key. Installed as the Store's write and delete
// hooks for core/v1 services.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::storage {
class Backend;
}
namespace korral::api {
struct ResourceType;
}

namespace korral::apiserver {

class ServiceAllocator {
 public:
  // `cidr` like "10.96.0.0/12"; node ports in [port_min, port_max].
  static absl::StatusOr<ServiceAllocator> Create(storage::Backend* backend, std::string_view cidr,
                                                 int port_min = 30000, int port_max = 32767);

  // Write hook: allocates clusterIP / nodePorts missing from the service (old: null on create).
  absl::Status OnWrite(const api::ResourceType& type, nlohmann::json& obj,
                       const nlohmann::json* old, bool dry_run);
  // Delete hook: releases what the service held.
  void OnDelete(const api::ResourceType& type, const nlohmann::json& obj);

  // The first usable address of the range (the `kubernetes` service's IP).
  std::string FirstAddress() const;

 private:
  ServiceAllocator(storage::Backend* backend, uint32_t base, uint32_t size, int pmin, int pmax)
      : backend_(backend), base_(base), size_(size), port_min_(pmin), port_max_(pmax) {}
  absl::StatusOr<std::string> AllocateIp(const std::string& owner);
  absl::Status ReserveIp(const std::string& ip, const std::string& owner);
  absl::StatusOr<int> AllocatePort(const std::string& owner);
  absl::Status ReservePort(int port, const std::string& owner);
  void Release(const std::string& key);

  storage::Backend* backend_;
  uint32_t base_;
  uint32_t size_;
  int port_min_, port_max_;
};

}  // namespace korral::apiserver
