// NodeResourcesFit (filter + LeastAllocated / MostAllocated / RequestedToCapacityRatio scoring)
// and NodeResourcesBalancedAllocation (upstream plugins/noderesources).
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;

struct ResourceSpec {
  std::string name;
  int64_t weight = 1;
};

enum class Strategy { kLeastAllocated, kMostAllocated, kRequestedToCapacityRatio };

struct ShapePoint {
  int64_t utilization;
  int64_t score;
};

// allocatable and requested (with the pod) of one resource on one node; false to skip it.
bool AllocatableRequested(const NodeInfo& node, const PodInfo& pod, const std::string& name,
                          bool use_requested, int64_t* alloc, int64_t* req) {
  const Resource& a = node.allocatable();
  if (name == "cpu") {
    *alloc = a.milli_cpu;
    *req = use_requested ? node.requested().milli_cpu + pod.requests.milli_cpu
                         : node.non_zero_cpu() + pod.non_zero_cpu;
    return true;
  }
  if (name == "memory") {
    *alloc = a.memory;
    *req = use_requested ? node.requested().memory + pod.requests.memory
                         : node.non_zero_memory() + pod.non_zero_memory;
    return true;
  }
  if (name == "ephemeral-storage") {
    *alloc = a.ephemeral_storage;
    *req = node.requested().ephemeral_storage + pod.requests.ephemeral_storage;
    return true;
  }
  int64_t pr = pod.requests.Scalar(name);
  if (pr == 0) return false;  // extended resource the pod does not request
  *alloc = a.Scalar(name);
  *req = node.requested().Scalar(name) + pr;
  return true;
}

std::vector<ResourceSpec> ParseResources(const Json& args, const char* path_key) {
  std::vector<ResourceSpec> out;
  const Json* r = nullptr;
  if (args.is_object()) {
    if (path_key && args.contains(path_key) && args[path_key].is_object() &&
        args[path_key].contains("resources")) {
      r = &args[path_key]["resources"];
    } else if (!path_key && args.contains("resources")) {
      r = &args["resources"];
    }
  }
  if (r && r->is_array()) {
    for (const Json& e : *r) {
      out.push_back({e.value("name", ""), e.value("weight", static_cast<int64_t>(1))});
    }
  }
  if (out.empty()) out = {{"cpu", 1}, {"memory", 1}};
  return out;
}

class Fit : public PreFilterPlugin, public FilterPlugin, public ScorePlugin {
 public:
  Fit(Strategy strategy, std::vector<ResourceSpec> resources, std::vector<ShapePoint> shape,
      std::set<std::string> ignored, std::set<std::string> ignored_groups)
      : strategy_(strategy),
        resources_(std::move(resources)),
        shape_(std::move(shape)),
        ignored_(std::move(ignored)),
        ignored_groups_(std::move(ignored_groups)) {}
  std::string Name() const override { return "NodeResourcesFit"; }

  Status PreFilter(CycleState&, const PodInfo&, PreFilterResult*) override { return {}; }

  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    const Resource& alloc = node.allocatable();
    const Resource& used = node.requested();
    const Resource& req = pod.requests;
    bool pods = static_cast<int64_t>(node.pods().size()) + 1 > alloc.allowed_pods;
    bool cpu = req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu;
    bool mem = req.memory > 0 && req.memory > alloc.memory - used.memory;
    bool eph = req.ephemeral_storage > 0 &&
               req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage;
    std::vector<std::string> scalar;
    for (const auto& [name, v] : req.scalar) {
      if (v == 0 || ignored_.count(name)) continue;
      auto slash = name.find('/');
      if (slash != std::string::npos && ignored_groups_.count(name.substr(0, slash))) continue;
      if (v > alloc.Scalar(name) - used.Scalar(name)) scalar.push_back("Insufficient " + name);
    }
    int n = pods + cpu + mem + eph;
    if (n == 0 && scalar.empty()) return {};
    // The frequent single reasons without allocating (copies of shared statuses).
    if (n == 1 && scalar.empty()) {
      if (pods) return KORRAL_STATIC_STATUS(Code::kUnschedulable, kErrReasonTooManyPods);
      if (cpu) return KORRAL_STATIC_STATUS(Code::kUnschedulable, "Insufficient cpu");
      if (mem) return KORRAL_STATIC_STATUS(Code::kUnschedulable, "Insufficient memory");
      return KORRAL_STATIC_STATUS(Code::kUnschedulable, "Insufficient ephemeral-storage");
    }
    std::vector<std::string> reasons;
    if (pods) reasons.push_back(kErrReasonTooManyPods);
    if (cpu) reasons.push_back("Insufficient cpu");
    if (mem) reasons.push_back("Insufficient memory");
    if (eph) reasons.push_back("Insufficient ephemeral-storage");
    for (auto& r : scalar) reasons.push_back(std::move(r));
    return Status(Code::kUnschedulable, std::move(reasons));
  }

  Status Score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) override {
    int64_t node_score = 0, weight_sum = 0;
    double rtcr_sum = 0;
    for (const auto& r : resources_) {
      int64_t alloc = 0, req = 0;
      if (!AllocatableRequested(node, pod, r.name, false, &alloc, &req)) continue;
      if (alloc == 0) continue;
      int64_t s = 0;
      switch (strategy_) {
        case Strategy::kLeastAllocated:
          s = req > alloc ? 0 : (alloc - req) * kMaxNodeScore / alloc;
          break;
        case Strategy::kMostAllocated:
          s = std::min(req, alloc) * kMaxNodeScore / alloc;
          break;
        case Strategy::kRequestedToCapacityRatio: {
          int64_t util = std::min(req, alloc) * 100 / alloc;
          s = Broken(util);
          rtcr_sum += static_cast<double>(s * r.weight);
          break;
        }
      }
      node_score += s * r.weight;
      weight_sum += r.weight;
    }
    if (weight_sum == 0) {
      *score = 0;
    } else if (strategy_ == Strategy::kRequestedToCapacityRatio) {
      *score = static_cast<int64_t>(std::round(rtcr_sum / static_cast<double>(weight_sum)));
    } else {
      *score = node_score / weight_sum;
    }
    return {};
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kPod, kDelete, "PodDelete"},
            {EventResource::kNode,
             kAdd | kUpdateNodeAllocatable | kUpdateNodeTaint | kUpdateNodeLabel, "Node"}};
  }

 private:
  // Upstream's piecewise-linear function over the shape (scores scaled from 0-10 to 0-100).
  int64_t Broken(int64_t p) const {
    for (size_t i = 0; i < shape_.size(); ++i) {
      if (p <= shape_[i].utilization) {
        if (i == 0) return shape_[0].score;
        const auto& a = shape_[i - 1];
        const auto& b = shape_[i];
        return a.score +
               (b.score - a.score) * (p - a.utilization) / (b.utilization - a.utilization);
      }
    }
    return shape_.back().score;
  }

  Strategy strategy_;
  std::vector<ResourceSpec> resources_;
  std::vector<ShapePoint> shape_;
  std::set<std::string> ignored_;
  std::set<std::string> ignored_groups_;
};

struct BalancedState : StateData {
  std::shared_ptr<StateData> Clone() const override { return std::make_shared<BalancedState>(); }
};

class BalancedAllocation : public PreScorePlugin, public ScorePlugin {
 public:
  explicit BalancedAllocation(std::vector<ResourceSpec> r) : resources_(std::move(r)) {}
  std::string Name() const override { return "NodeResourcesBalancedAllocation"; }
  Status PreScore(CycleState&, const PodInfo& pod, const std::vector<NodeInfo*>&) override {
    bool any = false;
    for (const auto& r : resources_) any |= pod.requests.Get(r.name) != 0;
    if (!any) return Status(Code::kSkip);
    return {};
  }
  Status Score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) override {
    std::vector<double> fractions;
    double total = 0;
    for (const auto& r : resources_) {
      int64_t alloc = 0, req = 0;
      if (!AllocatableRequested(node, pod, r.name, true, &alloc, &req)) continue;
      if (alloc == 0) continue;
      double f = static_cast<double>(req) / static_cast<double>(alloc);
      if (f > 1) f = 1;
      total += f;
      fractions.push_back(f);
    }
    double std = 0;
    if (fractions.size() == 2) {
      std = std::fabs((fractions[0] - fractions[1]) / 2);
    } else if (fractions.size() > 2) {
      double mean = total / static_cast<double>(fractions.size());
      double sum = 0;
      for (double f : fractions) sum += (f - mean) * (f - mean);
      std = std::sqrt(sum / static_cast<double>(fractions.size()));
    }
    *score = static_cast<int64_t>((1 - std) * static_cast<double>(kMaxNodeScore));
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override { return {}; }

 private:
  std::vector<ResourceSpec> resources_;
};

absl::Status Invalid(const std::string& m) {
  return absl::Status(absl::StatusCode::kInvalidArgument, absl::string_view(m));
}

}  // namespace

absl::StatusOr<PluginPtr> NewNodeResourcesFit(const Json& args, Handle*) {
  Strategy strategy = Strategy::kLeastAllocated;
  std::vector<ShapePoint> shape;
  std::string type = "LeastAllocated";
  if (args.is_object() && args.contains("scoringStrategy")) {
    type = args["scoringStrategy"].value("type", "LeastAllocated");
  }
  if (type == "MostAllocated") {
    strategy = Strategy::kMostAllocated;
  } else if (type == "RequestedToCapacityRatio") {
    strategy = Strategy::kRequestedToCapacityRatio;
    const Json& ss = args["scoringStrategy"];
    if (ss.contains("requestedToCapacityRatio")) {
      for (const Json& p : ss["requestedToCapacityRatio"].value("shape", Json::array())) {
        shape.push_back({p.value("utilization", static_cast<int64_t>(0)),
                         p.value("score", static_cast<int64_t>(0)) * kMaxNodeScore / 10});
      }
    }
    if (shape.empty())
      return Invalid("scoringStrategy.requestedToCapacityRatio.shape: Required value");
  } else if (type != "LeastAllocated") {
    return Invalid(fmt::format("scoringStrategy.type: Unsupported value: \"{}\"", type));
  }
  std::set<std::string> ignored, groups;
  if (args.is_object()) {
    for (const Json& r : args.value("ignoredResources", Json::array()))
      ignored.insert(r.get<std::string>());
    for (const Json& r : args.value("ignoredResourceGroups", Json::array()))
      groups.insert(r.get<std::string>());
  }
  Json ss = args.is_object() && args.contains("scoringStrategy") ? args["scoringStrategy"] : Json();
  return std::make_unique<Fit>(strategy, ParseResources(ss, nullptr), std::move(shape),
                               std::move(ignored), std::move(groups));
}

absl::StatusOr<PluginPtr> NewBalancedAllocation(const Json& args, Handle*) {
  return std::make_unique<BalancedAllocation>(ParseResources(args, nullptr));
}

}  // namespace korral::scheduler::plugins
