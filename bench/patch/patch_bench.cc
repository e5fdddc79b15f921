// patch_bench: apply/patch throughput on a large pod spec (see CMakeLists.txt).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/patch/json_patch.h"
#include "korral/apimachinery/patch/managed.h"
#include "korral/apimachinery/patch/strategic.h"

using nlohmann::json;

namespace {

json Container(int i, const std::string& image) {
  json c = {{"name", fmt::format("c{}", i)},
            {"image", image},
            {"imagePullPolicy", "IfNotPresent"},
            {"resources",
             {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}},
              {"limits", {{"cpu", "100m"}, {"memory", "64Mi"}}}}},
            {"terminationMessagePath", "/dev/termination-log"},
            {"terminationMessagePolicy", "File"}};
  for (int p = 0; p < 2; ++p) {
    c["ports"].push_back({{"containerPort", 8000 + i * 2 + p},
                          {"protocol", "TCP"},
                          {"name", fmt::format("p{}", p)}});
  }
  for (int e = 0; e < 5; ++e) {
    c["env"].push_back({{"name", fmt::format("ENV_{}", e)}, {"value", fmt::format("v{}", e)}});
  }
  for (int v = 0; v < 2; ++v) {
    c["volumeMounts"].push_back(
        {{"name", fmt::format("vol{}", v)}, {"mountPath", fmt::format("/mnt/{}/{}", i, v)}});
  }
  return c;
}

json Pod(int containers, const std::string& image) {
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "big"}, {"namespace", "default"}, {"labels", {{"app", "big"}}}}},
      {"spec", {{"restartPolicy", "Always"}, {"dnsPolicy", "ClusterFirst"}}}};
  for (int i = 0; i < containers; ++i) pod["spec"]["containers"].push_back(Container(i, image));
  for (int v = 0; v < 2; ++v) {
    pod["spec"]["volumes"].push_back(
        {{"name", fmt::format("vol{}", v)}, {"emptyDir", json::object()}});
  }
  return pod;
}

struct Result {
  double ops_per_sec, p50_us, p99_us;
};

Result Measure(int iterations, const std::function<void(int)>& op) {
  std::vector<double> us;
  us.reserve(iterations);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    op(i);
    us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(us.begin(), us.end());
  return {iterations / secs, us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000, containers = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--iterations=", 0) == 0)
      iterations = std::atoi(a.c_str() + 13);
    else if (a.rfind("--containers=", 0) == 0)
      containers = std::atoi(a.c_str() + 13);
    else {
      fmt::print("usage: patch_bench [--iterations=N] [--containers=N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  const auto* pod_schema = korral::schema::FindKindSchema("v1", "Pod");
  json live = Pod(containers, "nginx:1.25");
  korral::patch::ManagedOptions opts;
  opts.manager = "bench";
  opts.api_version = "v1";
  opts.kind = "Pod";
  opts.now = "2026-01-01T00:00:00Z";
  opts.ignore_status = true;
  // The live object carries managedFields, as stored objects do.
  if (!korral::patch::RecordUpdate(nullptr, live, pod_schema, opts).ok()) return 1;
  fmt::print("pod: {} containers, {} bytes of JSON (with managedFields)\n", containers,
             live.dump().size());

  // kubectl apply's strategic merge patch: one image changed, $setElementOrder of every container.
  json order = json::array();
  for (int i = 0; i < containers; ++i) order.push_back({{"name", fmt::format("c{}", i)}});
  auto smp = [&](int i) {
    json p = {{"spec",
               {{"$setElementOrder/containers", order},
                {"containers", json::array({{{"name", fmt::format("c{}", containers / 2)},
                                             {"image", fmt::format("nginx:1.{}", i % 50)}}})}}}};
    auto out = korral::patch::StrategicMergePatch(live, p, pod_schema);
    if (!out.ok()) std::abort();
  };
  auto jsonpatch = [&](int i) {
    json p = json::array(
        {{{"op", "replace"},
          {"path", fmt::format("/spec/containers/{}/image", containers / 2)},
          {"value", fmt::format("nginx:1.{}", i % 50)}},
         {{"op", "add"}, {"path", "/metadata/labels/rev"}, {"value", std::to_string(i)}}});
    auto out = korral::patch::ApplyJsonPatch(live, p);
    if (!out.ok()) std::abort();
  };
  auto merge = [&](int i) {
    json p = {{"metadata", {{"labels", {{"rev", std::to_string(i)}}}}}};
    auto out = korral::patch::ApplyMergePatch(live, p);
    if (!out.ok()) std::abort();
  };
  // Server-side apply of the full configuration (one image differs each time).
  json cur = live;
  auto ssa = [&](int i) {
    json cfg = Pod(containers, "nginx:1.25");
    cfg["spec"]["containers"][containers / 2]["image"] = fmt::format("nginx:1.{}", i % 50);
    auto out = korral::patch::Apply(&cur, cfg, pod_schema, opts, true);
    if (!out.ok()) std::abort();
    cur = std::move(*out);
  };
  // managedFields bookkeeping of an Update (what every create/update/patch adds on top).
  json changed = live;
  changed["spec"]["containers"][containers / 2]["image"] = "nginx:2";
  auto update = [&](int) {
    json obj = changed;
    if (!korral::patch::RecordUpdate(&live, obj, pod_schema, opts).ok()) std::abort();
  };
  struct Row {
    const char* name;
    std::function<void(int)> op;
    int iterations;
  } rows[] = {
      {"strategic merge patch (kubectl apply shape)", smp, iterations},
      {"json patch (2 ops)", jsonpatch, iterations},
      {"json merge patch (1 label)", merge, iterations},
      {"server-side apply (full config, managedFields)", ssa, std::max(1, iterations / 4)},
      {"managedFields Update bookkeeping", update, std::max(1, iterations / 4)},
  };
  fmt::print("{:<48} {:>10} {:>10} {:>10}\n", "operation", "ops/s", "p50 us", "p99 us");
  for (const auto& r : rows) {
    Result res = Measure(r.iterations, r.op);
    fmt::print("{:<48} {:>10.0f} {:>10.0f} {:>10.0f}\n", r.name, res.ops_per_sec, res.p50_us,
               res.p99_us);
  }
  return 0;
}
