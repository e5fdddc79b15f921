// korral/scheduler/test_util.h: object builders for scheduler tests and benchmarks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace korral::scheduler::testing {

using Json = nlohmann::json;

// A Ready node with allocatable cpu/memory/pods and the given labels.
inline Json NodeJson(const std::string& name, const std::string& cpu = "4",
                     const std::string& memory = "32Gi",
                     std::map<std::string, std::string> labels = {}, int pods = 110) {
  labels.emplace("kubernetes.io/hostname", name);
  Json alloc = {{"cpu", cpu}, {"memory", memory}, {"pods", std::to_string(pods)}};
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", Json::object()},
          {"status",
           {{"capacity", alloc},
            {"allocatable", alloc},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

// A pod with one container requesting cpu/memory ("" = no request).
inline Json PodJson(const std::string& name, const std::string& cpu = "",
                    const std::string& memory = "", std::map<std::string, std::string> labels = {},
                    const std::string& ns = "default") {
  Json req = Json::object();
  if (!cpu.empty()) req["cpu"] = cpu;
  if (!memory.empty()) req["memory"] = memory;
  Json c = {{"name", "c"}, {"image", "registry.k8s.io/pause:3.9"}};
  if (!req.empty()) c["resources"] = {{"requests", req}};
  Json meta = {{"name", name}, {"namespace", ns}, {"uid", "uid-" + name}};
  if (!labels.empty()) meta["labels"] = labels;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", meta},
          {"spec", {{"containers", Json::array({c})}}},
          {"status", {{"phase", "Pending"}}}};
}

}  // namespace korral::scheduler::testing
