// Tests of the pod summary and the informer factory's packed pod cache.
#include "korral/controllers/pod_summary.h"

#include <gtest/gtest.h>

#include "korral/api/resource.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::Json;
using client::resources::Pods;
using std::chrono::seconds;

Json FullPod() {
  return Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
      "name": "web-7d4b9c-x2x9q", "namespace": "prod", "uid": "11111111-2222-3333-4444-555555555555",
      "resourceVersion": "42", "creationTimestamp": "2024-05-01T10:00:00Z",
      "deletionTimestamp": "2024-05-01T11:00:00Z",
      "labels": {"app": "web", "pod-template-hash": "7d4b9c", "tier": "3", "odd": 5},
      "annotations": {"controller.kubernetes.io/pod-deletion-cost": "-7"},
      "ownerReferences": [
        {"apiVersion": "v1", "kind": "Thing", "name": "other", "uid": "u-other"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c", "uid": "u-rs",
         "controller": true, "blockOwnerDeletion": true}]
    },
    "spec": {"nodeName": "node-3", "containers": [{"name": "c", "image": "i"}]},
    "status": {
      "phase": "Running",
      "conditions": [{"type": "PodScheduled", "status": "True"},
                     {"type": "Ready", "status": "True",
                      "lastTransitionTime": "2024-05-01T10:00:30Z"}],
      "containerStatuses": [{"name": "c", "restartCount": 2}],
      "initContainerStatuses": [{"name": "i", "restartCount": 4}]
    }
  })");
}

TEST(PodSummaryTest, MatchesTheObject) {
  PodSummaryPtr s = SummarizePod(FullPod());
  EXPECT_EQ(s->key, "prod/web-7d4b9c-x2x9q");
  EXPECT_EQ(s->Namespace(), "prod");
  EXPECT_EQ(s->Name(), "web-7d4b9c-x2x9q");
  EXPECT_EQ(s->uid, "11111111-2222-3333-4444-555555555555");
  // Non-string label values are ignored (as label selectors do).
  EXPECT_EQ(s->labels, (std::vector<std::pair<std::string, std::string>>{
                           {"app", "web"}, {"pod-template-hash", "7d4b9c"}, {"tier", "3"}}));
  EXPECT_TRUE(s->has_controller);
  EXPECT_EQ(s->controller_kind, "ReplicaSet");
  EXPECT_EQ(s->controller_name, "web-7d4b9c");
  EXPECT_EQ(s->controller_uid, "u-rs");
  EXPECT_EQ(s->node_name, "node-3");
  EXPECT_EQ(s->phase, PodSummary::Phase::kRunning);
  EXPECT_EQ(s->PhaseName(), "Running");
  EXPECT_TRUE(s->deleting);
  EXPECT_FALSE(s->Active());
  EXPECT_FALSE(s->Terminal());
  EXPECT_TRUE(s->ready);
  ASSERT_TRUE(s->has_ready_time);
  EXPECT_EQ(s->ready_since, *api::ParseTime("2024-05-01T10:00:30Z"));
  EXPECT_EQ(s->created, *api::ParseTime("2024-05-01T10:00:00Z"));
  EXPECT_EQ(s->max_restarts, 4);
  EXPECT_EQ(s->deletion_cost, -7);
  ASSERT_NE(s->Label("app"), nullptr);
  EXPECT_EQ(*s->Label("app"), "web");
  EXPECT_EQ(s->Label("odd"), nullptr);
}

TEST(PodSummaryTest, DefaultsForMissingOrMistypedFields) {
  PodSummaryPtr s = SummarizePod(Json::parse(R"({"metadata": {"name": "p", "labels": 3,
      "ownerReferences": [{"kind": "X", "controller": "yes"}],
      "annotations": {"controller.kubernetes.io/pod-deletion-cost": "12abc"}},
      "status": {"phase": "Succeeded", "conditions": [{"type": "Ready", "status": "False"}],
                 "containerStatuses": "nope"}})"));
  EXPECT_EQ(s->key, "p");
  EXPECT_EQ(s->Namespace(), "");
  EXPECT_TRUE(s->labels.empty());
  EXPECT_FALSE(s->has_controller);
  EXPECT_EQ(s->phase, PodSummary::Phase::kSucceeded);
  EXPECT_TRUE(s->Terminal());
  EXPECT_FALSE(s->Active());
  EXPECT_FALSE(s->ready);
  EXPECT_FALSE(s->has_ready_time);
  EXPECT_EQ(s->created, PodSummary::TimePoint{});
  EXPECT_EQ(s->deletion_cost, 0);
  EXPECT_EQ(s->max_restarts, 0);
  PodSummaryPtr empty = SummarizePod(Json());
  EXPECT_EQ(empty->key, "");
  EXPECT_EQ(empty->phase, PodSummary::Phase::kOther);
  EXPECT_TRUE(empty->Active());
}

TEST(PodSummaryTest, SelectorMatchingAgreesWithLabelSelector) {
  Json pod = FullPod();
  PodSummaryPtr s = SummarizePod(pod);
  const Json& labels = pod["metadata"]["labels"];
  for (const char* text : {"",
                           "app=web",
                           "app==web",
                           "app!=web",
                           "app=api",
                           "app in (web,api)",
                           "app notin (web)",
                           "app notin (api)",
                           "missing notin (x)",
                           "missing",
                           "!missing",
                           "app",
                           "!app",
                           "tier>2",
                           "tier<3",
                           "tier>3",
                           "app>1",
                           "odd",
                           "!odd",
                           "odd!=5",
                           "app=web,pod-template-hash=7d4b9c",
                           "app=web,pod-template-hash=other"}) {
    auto sel = labels::LabelSelector::Parse(text);
    ASSERT_TRUE(sel.ok()) << text;
    EXPECT_EQ(s->Matches(*sel), sel->Matches(labels)) << text;
  }
  EXPECT_FALSE(s->Matches(labels::LabelSelector::Nothing()));
  EXPECT_TRUE(s->HasAllLabels(Json{{"app", "web"}}));
  EXPECT_TRUE(s->HasAllLabels(Json()));
  EXPECT_FALSE(s->HasAllLabels(Json{{"app", "web"}, {"x", "y"}}));
  EXPECT_FALSE(s->HasAllLabels(Json{{"tier", 3}}));
}

TEST(PodSummaryTest, Available) {
  PodSummaryPtr s = SummarizePod(FullPod());
  auto ready = *api::ParseTime("2024-05-01T10:00:30Z");
  EXPECT_TRUE(s->Available(0, ready));
  EXPECT_FALSE(s->Available(10, ready + seconds(10)));
  EXPECT_TRUE(s->Available(10, ready + seconds(11)));
  Json not_ready = FullPod();
  not_ready["status"]["conditions"][1]["status"] = "False";
  EXPECT_FALSE(SummarizePod(not_ready)->Available(0, ready));
}

TEST(PodCacheTest, FactoryCachesPodsPackedWithSummaries) {
  ControllerTestEnv env;
  client::SharedInformer* pods = env.informers->For(Pods());
  EnsurePodNodeNameIndex(pods);
  auto stop = env.StopInformersOnExit();
  env.StartInformers();
  EXPECT_TRUE(pods->indexer().compact());
  EXPECT_TRUE(pods->indexer().has_summaries());
  Json pod = FullPod();
  pod["metadata"].erase("deletionTimestamp");
  pod["metadata"].erase("uid");
  pod["metadata"].erase("resourceVersion");
  auto created = env.client.Create(Pods(), "prod", pod);
  ASSERT_TRUE(created.ok()) << created.status();
  Json other = {{"metadata", {{"name", "b"}, {"labels", {{"app", "db"}}}}},
                {"spec", Json::object()}};
  ASSERT_TRUE(env.client.Create(Pods(), "prod", other).ok());
  ASSERT_TRUE(env.WaitForCache(Pods(), "prod/b"));
  ASSERT_TRUE(env.WaitForCache(Pods(), "prod/web-7d4b9c-x2x9q"));

  // Decode on access returns the object as stored.
  client::ObjectPtr cached = pods->indexer().Get("prod/web-7d4b9c-x2x9q");
  ASSERT_TRUE(cached);
  auto live = env.client.Get(Pods(), "prod", "web-7d4b9c-x2x9q");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(*cached, *live);

  // Summaries follow the objects; lookups by index agree with the decoding path.
  std::vector<PodSummaryPtr> by_node =
      PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "node-3");
  ASSERT_EQ(by_node.size(), 1u);
  EXPECT_EQ(by_node[0]->key, "prod/web-7d4b9c-x2x9q");
  EXPECT_EQ(by_node[0]->uid, (*live)["metadata"]["uid"]);
  EXPECT_EQ(PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "")[0]->key, "prod/b");
  std::vector<PodSummaryPtr> all = ListPodSummaries(pods->indexer());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->key, "prod/b");

  // An update moves the pod in the index and refreshes its summary.
  Json moved = *live;
  moved["spec"]["nodeName"] = "node-4";
  auto updated = env.client.Update(Pods(), "prod", moved);
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_TRUE(env.WaitForCache(Pods(), "prod/web-7d4b9c-x2x9q"));
  EXPECT_TRUE(PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "node-3").empty());
  by_node = PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "node-4");
  ASSERT_EQ(by_node.size(), 1u);
  EXPECT_EQ(by_node[0]->phase, PodSummary::Phase::kRunning);
  (*updated)["status"]["phase"] = "Failed";
  ASSERT_TRUE(env.client.UpdateStatus(Pods(), "prod", *updated).ok());
  ASSERT_TRUE(env.WaitForCache(Pods(), "prod/web-7d4b9c-x2x9q"));
  by_node = PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "node-4");
  ASSERT_EQ(by_node.size(), 1u);
  EXPECT_EQ(by_node[0]->phase, PodSummary::Phase::kFailed);
  EXPECT_TRUE(by_node[0]->Terminal());

  // A delete drops it.
  ASSERT_TRUE(env.client.Delete(Pods(), "prod", "web-7d4b9c-x2x9q").ok());
  ASSERT_TRUE(env.WaitForCache(Pods(), "prod/web-7d4b9c-x2x9q", /*present=*/false));
  EXPECT_TRUE(PodSummariesByIndex(pods->indexer(), kPodNodeNameIndex, "node-4").empty());
  EXPECT_EQ(ListPodSummaries(pods->indexer()).size(), 1u);
}

TEST(PodCacheTest, PodsWhereDecodesOnlyTheSelectedPods) {
  for (bool summaries : {true, false}) {
    client::Indexer cache(/*compact=*/true, summaries ? PodSummaryFunc() : nullptr);
    auto pod = [](const std::string& ns, const std::string& name, const Json& labels) {
      return std::make_shared<const Json>(
          Json{{"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}}});
    };
    cache.Upsert(pod("a", "web-1", {{"app", "web"}, {"tier", "front"}}));
    cache.Upsert(pod("a", "web-2", {{"app", "web"}}));
    cache.Upsert(pod("a", "db-1", {{"app", "db"}}));
    cache.Upsert(pod("b", "web-3", {{"app", "web"}}));
    std::vector<std::string> got;
    for (const auto& p : PodsWithLabels(cache, "a", Json{{"app", "web"}})) {
      got.push_back(client::ObjectKey(*p));
    }
    EXPECT_EQ(got, (std::vector<std::string>{"a/web-1", "a/web-2"})) << summaries;
    got.clear();
    for (const auto& p : PodsWhere(cache, "a", [](const PodSummary& s) {
           return LabelSelectorMatches(Json{{"matchLabels", {{"tier", "front"}}}}, s.LabelsJson());
         })) {
      got.push_back(client::ObjectKey(*p));
    }
    EXPECT_EQ(got, (std::vector<std::string>{"a/web-1"})) << summaries;
    // The decoded pod is the stored one.
    auto selected = PodsWithLabels(cache, "b", Json{{"app", "web"}});
    ASSERT_EQ(selected.size(), 1u);
    EXPECT_EQ((*selected[0])["metadata"]["labels"], Json({{"app", "web"}}));
  }
  EXPECT_EQ(SummarizePod(FullPod())->LabelsJson(),
            Json({{"app", "web"}, {"pod-template-hash", "7d4b9c"}, {"tier", "3"}}));
}

TEST(PodCacheTest, HelpersSummarizeWhenTheCacheHasNoSummaries) {
  client::Indexer plain;
  plain.Upsert(std::make_shared<const Json>(FullPod()));
  ASSERT_FALSE(plain.has_summaries());
  auto all = ListPodSummaries(plain);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]->controller_uid, "u-rs");
  auto ns = PodSummariesByIndex(plain, client::kNamespaceIndex, "prod");
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0]->key, "prod/web-7d4b9c-x2x9q");
}

}  // namespace
}  // namespace korral::controllers
