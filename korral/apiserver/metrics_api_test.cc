#include "korral/apiserver/metrics_api.h"

#include <gtest/gtest.h>

#include <atomic>

#include "korral/apiserver/store.h"
#include "korral/apiserver/watch_cache.h"
#include "korral/base/clock.h"
#include "korral/storage/memory/memory.h"

namespace korral::apiserver {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class FakeFetcher : public KubeletSummaryFetcher {
 public:
  absl::StatusOr<json> FetchSummary(const std::string& host, int port) override {
    ++calls;
    auto it = summaries.find(host + ":" + std::to_string(port));
    if (it == summaries.end()) return absl::UnavailableError("connection refused");
    return it->second;
  }
  std::map<std::string, json> summaries;
  std::atomic<int> calls{0};
};

json Container(const std::string& name, uint64_t nanocores, uint64_t ws) {
  return {{"name", name},
          {"startTime", "2026-11-28T09:00:00Z"},
          {"cpu", {{"time", "2026-11-28T10:00:00Z"}, {"usageNanoCores", nanocores}}},
          {"memory", {{"time", "2026-11-28T10:00:00Z"}, {"workingSetBytes", ws}}}};
}

class MetricsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = storage::NewMemoryBackend();
    cache_ = std::make_unique<WatchCache>(backend_.get());
    ASSERT_TRUE(cache_->Start().ok());
    store_ = std::make_unique<Store>(backend_.get(), cache_.get(), &clock_);
    const auto* ns = api::FindResourceType("", "v1", "namespaces");
    ASSERT_TRUE(store_->Create(*ns, "", json{{"metadata", {{"name", "default"}}}}, {}).ok());
    Node("n1", "10.0.0.1", 10250);
    Node("n2", "10.0.0.2", 11250);
    Pod("web", "n1", "web");
    Pod("db", "n1", "db");
    Pod("other", "n2", "web");
    Pod("pending", "", "web");
    auto fetcher = std::make_unique<FakeFetcher>();
    fetcher_ = fetcher.get();
    fetcher_->summaries["10.0.0.1:10250"] = {
        {"node",
         {{"nodeName", "n1"},
          {"cpu", {{"time", "2026-11-28T10:00:00Z"}, {"usageNanoCores", 250'000'000}}},
          {"memory", {{"time", "2026-11-28T10:00:00Z"}, {"workingSetBytes", 512ull << 20}}}}},
        {"pods",
         {{{"podRef", {{"name", "web"}, {"namespace", "default"}, {"uid", uids_["web"]}}},
           {"containers",
            {Container("app", 1'500'000, 10ull << 20), Container("sidecar", 500'000, 2ull << 20)}}},
          {{"podRef", {{"name", "db"}, {"namespace", "default"}, {"uid", uids_["db"]}}},
           {"containers",
            {{{"name", "db"}, {"cpu", {{"usageCoreNanoSeconds", 5}}}}}}}}}};  // no rate yet
    api_ = std::make_unique<MetricsApi>(store_.get(), &clock_, std::move(fetcher));
  }

  void Node(const std::string& name, const std::string& ip, int port) {
    const auto* t = api::FindResourceType("", "v1", "nodes");
    json n = {{"metadata", {{"name", name}, {"labels", {{"zone", name == "n1" ? "a" : "b"}}}}},
              {"status",
               {{"addresses", json::array({{{"type", "Hostname"}, {"address", name}},
                                           {{"type", "InternalIP"}, {"address", ip}}})},
                {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", port}}}}}}}};
    auto r = store_->Create(*t, "", n, {});
    ASSERT_TRUE(r.ok()) << r.status();
  }

  void Pod(const std::string& name, const std::string& node, const std::string& app) {
    const auto* t = api::FindResourceType("", "v1", "pods");
    json p = {{"metadata", {{"name", name}, {"labels", {{"app", app}}}}},
              {"spec", {{"containers", json::array({{{"name", "app"}, {"image", "busybox"}}})}}}};
    if (!node.empty()) p["spec"]["nodeName"] = node;
    auto r = store_->Create(*t, "default", p, {});
    ASSERT_TRUE(r.ok()) << r.status();
    uids_[name] = (*r)->object["metadata"]["uid"];
  }

  http::Response Get(const std::string& path,
                     std::vector<std::pair<std::string, std::string>> q = {},
                     const std::string& method = "GET") {
    http::Request req;
    req.method = method;
    req.path = path;
    req.target = path;
    for (auto& [k, v] : q) req.query.push_back({k, v});
    EXPECT_TRUE(MetricsApi::Handles(path));
    return api_->Handle(req);
  }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'795'860'000))};
  std::unique_ptr<storage::Backend> backend_;
  std::unique_ptr<WatchCache> cache_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::string> uids_;
  FakeFetcher* fetcher_ = nullptr;
  std::unique_ptr<MetricsApi> api_;
};

TEST_F(MetricsApiTest, NodeMetricsList) {
  auto r = Get("/apis/metrics.k8s.io/v1beta1/nodes");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "NodeMetricsList");
  EXPECT_EQ(j["apiVersion"], "metrics.k8s.io/v1beta1");
  ASSERT_EQ(j["items"].size(), 1u);  // n2's kubelet is unreachable
  const json& n = j["items"][0];
  EXPECT_EQ(n["metadata"]["name"], "n1");
  EXPECT_EQ(n["metadata"]["labels"]["zone"], "a");
  EXPECT_EQ(n["usage"]["cpu"], "250m");
  EXPECT_EQ(n["usage"]["memory"], "512Mi");
  EXPECT_EQ(n["timestamp"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(n["window"], "10s");
  EXPECT_EQ(fetcher_->calls.load(), 2);
}

TEST_F(MetricsApiTest, NodeMetricsGetAndSelector) {
  auto r = Get("/apis/metrics.k8s.io/v1beta1/nodes/n1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["kind"], "NodeMetrics");
  auto missing = Get("/apis/metrics.k8s.io/v1beta1/nodes/n2");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json::parse(missing.body)["message"], "nodemetrics.metrics.k8s.io \"n2\" not found");
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/nodes/nope").status, 404);
  auto sel = Get("/apis/metrics.k8s.io/v1beta1/nodes", {{"labelSelector", "zone=b"}});
  EXPECT_EQ(json::parse(sel.body)["items"].size(), 0u);
  auto bad = Get("/apis/metrics.k8s.io/v1beta1/nodes", {{"labelSelector", "zone in (("}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(MetricsApiTest, PodMetrics) {
  auto r = Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["kind"], "PodMetricsList");
  // db has no usageNanoCores yet, other's node is unreachable, pending is not on a node.
  ASSERT_EQ(j["items"].size(), 1u);
  const json& p = j["items"][0];
  EXPECT_EQ(p["metadata"]["name"], "web");
  EXPECT_EQ(p["metadata"]["namespace"], "default");
  EXPECT_EQ(p["metadata"]["labels"]["app"], "web");
  ASSERT_EQ(p["containers"].size(), 2u);
  EXPECT_EQ(p["containers"][0]["name"], "app");
  EXPECT_EQ(p["containers"][0]["usage"]["cpu"], "1500u");
  EXPECT_EQ(p["containers"][0]["usage"]["memory"], "10Mi");
  EXPECT_EQ(p["containers"][1]["usage"]["cpu"], "500u");
  EXPECT_EQ(p["window"], "10s");

  auto all = Get("/apis/metrics.k8s.io/v1beta1/pods");
  EXPECT_EQ(json::parse(all.body)["items"].size(), 1u);
  auto one = Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(json::parse(one.body)["kind"], "PodMetrics");
  auto none = Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(json::parse(none.body)["message"],
            "podmetrics.metrics.k8s.io \"default/db\" not found");
  auto sel =
      Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", {{"labelSelector", "app=db"}});
  EXPECT_EQ(json::parse(sel.body)["items"].size(), 0u);
}

TEST_F(MetricsApiTest, StalePodUidIsNotMatched) {
  fetcher_->summaries["10.0.0.1:10250"]["pods"][0]["podRef"]["uid"] = "old-uid";
  auto r = Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods");
  EXPECT_EQ(json::parse(r.body)["items"].size(), 0u);
}

TEST_F(MetricsApiTest, SummariesAreCached) {
  Get("/apis/metrics.k8s.io/v1beta1/nodes/n1");
  Get("/apis/metrics.k8s.io/v1beta1/nodes/n1");
  Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web");
  EXPECT_EQ(fetcher_->calls.load(), 1);
  clock_.Advance(6s);
  Get("/apis/metrics.k8s.io/v1beta1/nodes/n1");
  EXPECT_EQ(fetcher_->calls.load(), 2);
}

TEST_F(MetricsApiTest, VerbsAndPaths) {
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/nodes", {}, "POST").status, 405);
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/pods", {{"watch", "true"}}).status, 405);
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/services").status, 404);
  EXPECT_EQ(Get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/a/b").status, 404);
  EXPECT_FALSE(MetricsApi::Handles("/apis/metrics.k8s.io/v1beta1"));
  EXPECT_FALSE(MetricsApi::Handles("/apis/apps/v1/deployments"));
}

TEST_F(MetricsApiTest, MalformedSummaryIsIgnored) {
  fetcher_->summaries["10.0.0.1:10250"] = {{"node", "not an object"},
                                           {"pods", {1, "x", {{"podRef", 3}}}}};
  auto r = Get("/apis/metrics.k8s.io/v1beta1/nodes");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["items"].size(), 0u);
  auto p = Get("/apis/metrics.k8s.io/v1beta1/pods");
  EXPECT_EQ(json::parse(p.body)["items"].size(), 0u);
}

TEST(QuantityTest, Canonical) {
  EXPECT_EQ(CpuQuantity(0), "0");
  EXPECT_EQ(CpuQuantity(2'000'000'000), "2");
  EXPECT_EQ(CpuQuantity(5'000'000), "5m");
  EXPECT_EQ(CpuQuantity(1'500'000), "1500u");
  EXPECT_EQ(CpuQuantity(123'456'789), "123456789n");
  EXPECT_EQ(MemoryQuantity(0), "0");
  EXPECT_EQ(MemoryQuantity(1000), "1000");
  EXPECT_EQ(MemoryQuantity(1024), "1Ki");
  EXPECT_EQ(MemoryQuantity(1536ull << 20), "1536Mi");
  EXPECT_EQ(MemoryQuantity(2ull << 30), "2Gi");
}

TEST(MetricsDiscoveryTest, ResourceTypes) {
  const auto& t = MetricsApi::ResourceTypes();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].gvk.ApiVersion(), "metrics.k8s.io/v1beta1");
  EXPECT_EQ(t[0].resource, "nodes");
  EXPECT_FALSE(t[0].namespaced);
  EXPECT_EQ(t[1].gvk.kind, "PodMetrics");
  EXPECT_TRUE(t[1].namespaced);
}

}  // namespace
}  // namespace korral::apiserver
