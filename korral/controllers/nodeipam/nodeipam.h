// korral/controllers/nodeipam/nodeipam.h: the node IPAM controller (upstream
// pkg/controller/nodeipam, range allocator): gives every node without one a spec.podCIDR (and
// spec.podCIDRs) carved from --cluster-cidr with --node-cidr-mask-size, never handing out a CIDR
// another node holds. IPv4. Runs only with --allocate-node-cidrs.
#pragma once

#include <mutex>
#include <optional>
#include <set>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

// "10.244.0.0/16" -> {network address, prefix}; nullopt if malformed.
std::optional<std::pair<uint32_t, int>> ParseCidr(const std::string& cidr);
std::string FormatCidr(uint32_t addr, int prefix);

class NodeIpamController : public Controller {
 public:
  static absl::StatusOr<std::unique_ptr<NodeIpamController>> New(ControllerContext& ctx);
  std::string_view Name() const override { return "node-ipam-controller"; }
  void Run(int workers) override { worker_.Run(1); }  // one worker: allocation is serial
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& node);
  QueueWorker& worker() { return worker_; }

 private:
  NodeIpamController(ControllerContext& ctx, uint32_t base, int prefix, int mask);
  ControllerContext ctx_;
  const uint32_t base_;
  const int prefix_, mask_;
  client::SharedInformer* nodes_;
  std::mutex mu_;
  std::set<uint32_t> allocated_;  // subnet indexes handed out by us (until seen on a node)
  QueueWorker worker_;
};

ControllerDescriptor NodeIpamControllerDescriptor();

}  // namespace korral::controllers
