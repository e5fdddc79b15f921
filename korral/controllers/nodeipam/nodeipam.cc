// korral/controllers/nodeipam/nodeipam.cc
#include "korral/controllers/nodeipam/nodeipam.h"

#include <arpa/inet.h>

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::controllers {

std::optional<std::pair<uint32_t, int>> ParseCidr(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr a{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) return std::nullopt;
  int prefix = 0;
  try {
    prefix = std::stoi(cidr.substr(slash + 1));
  } catch (...) {
    return std::nullopt;
  }
  if (prefix < 0 || prefix > 32) return std::nullopt;
  uint32_t addr = ntohl(a.s_addr);
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return std::make_pair(addr & mask, prefix);
}

std::string FormatCidr(uint32_t addr, int prefix) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(prefix);
}

NodeIpamController::NodeIpamController(ControllerContext& ctx, uint32_t base, int prefix, int mask)
    : ctx_(ctx),
      base_(base),
      prefix_(prefix),
      mask_(mask),
      nodes_(ctx.informers->For(client::resources::Nodes())),
      worker_("nodeipam", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  nodes_->AddEventHandler(EnqueueHandler(worker_));
}

absl::StatusOr<std::unique_ptr<NodeIpamController>> NodeIpamController::New(
    ControllerContext& ctx) {
  auto c = ParseCidr(ctx.options.cluster_cidr);
  if (!c) {
    return absl::InvalidArgumentError(
        absl::string_view("invalid --cluster-cidr " + ctx.options.cluster_cidr));
  }
  int mask = ctx.options.node_cidr_mask_size;
  if (mask < c->second || mask > 32 || mask - c->second > 24) {
    return absl::InvalidArgumentError(
        absl::string_view("--node-cidr-mask-size " + std::to_string(mask) +
                          " does not fit --cluster-cidr " + ctx.options.cluster_cidr));
  }
  return std::unique_ptr<NodeIpamController>(
      new NodeIpamController(ctx, c->first, c->second, mask));
}

absl::Status NodeIpamController::Sync(const std::string& name) {
  auto node = nodes_->indexer().Get(name);
  if (!node || IsBeingDeleted(*node)) return absl::OkStatus();
  if (!SpecOf(*node).value("podCIDR", "").empty()) return absl::OkStatus();
  // Every subnet in use by a node (or handed out by us and not yet visible).
  std::set<uint32_t> used;
  {
    std::lock_guard l(mu_);
    used = allocated_;
  }
  for (const auto& n : nodes_->indexer().List()) {
    auto c = ParseCidr(SpecOf(*n).value("podCIDR", ""));
    if (c && c->second == mask_ &&
        (c->first & (prefix_ == 0 ? 0 : ~uint32_t{0} << (32 - prefix_))) == base_) {
      used.insert((c->first - base_) >> (32 - mask_));
    }
  }
  uint64_t count = uint64_t{1} << (mask_ - prefix_);
  std::optional<uint32_t> pick;
  for (uint64_t i = 0; i < count; ++i) {
    if (!used.count(static_cast<uint32_t>(i))) {
      pick = static_cast<uint32_t>(i);
      break;
    }
  }
  if (!pick) {
    KLOG(Error, "node ipam: no CIDR left in {} for node {}", FormatCidr(base_, prefix_), name);
    return absl::ResourceExhaustedError("CIDR range exhausted");
  }
  std::string cidr = FormatCidr(base_ + (*pick << (32 - mask_)), mask_);
  Json patch = {{"metadata", {{"resourceVersion", client::ResourceVersionOf(*node)}}},
                {"spec", {{"podCIDR", cidr}, {"podCIDRs", {cidr}}}}};
  auto p =
      ctx_.client->Patch(client::resources::Nodes(), "", name, client::PatchType::kMerge, patch);
  if (!p.ok()) return client::IsNotFound(p.status()) ? absl::OkStatus() : p.status();
  {
    std::lock_guard l(mu_);
    allocated_.insert(*pick);
  }
  KLOG(Info, "node ipam: node {} gets podCIDR {}", name, cidr);
  return absl::OkStatus();
}

ControllerDescriptor NodeIpamControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "node-ipam-controller";
  d.aliases = {"nodeipam"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    if (!ctx.options.allocate_node_cidrs) return std::unique_ptr<Controller>();
    auto c = NodeIpamController::New(ctx);
    if (!c.ok()) return c.status();
    return std::unique_ptr<Controller>(std::move(*c));
  };
  return d;
}

}  // namespace korral::controllers
