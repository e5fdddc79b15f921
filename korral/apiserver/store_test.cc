#include "korral/apiserver/store.h"

#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"
#include "korral/storage/memory/memory.h"

namespace korral::apiserver {
namespace {

using nlohmann::json;

api::ResourceType NamespaceType() {
  api::ResourceType t;
  t.gvk = {"", "v1", "Namespace"};
  t.resource = "namespaces";
  t.list_kind = "NamespaceList";
  t.namespaced = false;
  return t;
}

api::ResourceType WidgetType() {
  api::ResourceType t;
  t.gvk = {"example.io", "v1", "Widget"};
  t.resource = "widgets";
  t.list_kind = "WidgetList";
  t.namespaced = true;
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](json& o) {
    if (o.contains("spec") && !o["spec"].contains("size")) o["spec"]["size"] = 1;
  };
  t.validate = [](const json& o, const json*) {
    std::vector<api::Cause> c;
    if (o["metadata"].value("name", "").empty())
      c.push_back({"FieldValueRequired", "Required value", "metadata.name"});
    return c;
  };
  t.field_value = [](const json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "spec.color") return o.contains("spec") ? o["spec"].value("color", "") : "";
    return std::nullopt;
  };
  return t;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = storage::NewMemoryBackend();
    cache_ = std::make_unique<WatchCache>(backend_.get());
    ASSERT_TRUE(cache_->Start().ok());
    store_ = std::make_unique<Store>(backend_.get(), cache_.get(), &clock_);
    ASSERT_TRUE(store_->Create(ns_, "", json{{"metadata", {{"name", "default"}}}}, {}).ok());
  }
  json Widget(const std::string& name, const std::string& color = "red") {
    return json{{"metadata", {{"name", name}, {"labels", {{"color", color}}}}},
                {"spec", {{"color", color}}}};
  }
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  std::unique_ptr<storage::Backend> backend_;
  std::unique_ptr<WatchCache> cache_;
  std::unique_ptr<Store> store_;
  api::ResourceType ns_ = NamespaceType();
  api::ResourceType w_ = WidgetType();
};

TEST_F(StoreTest, CreateStampsMetadataAndDefaults) {
  auto o = store_->Create(w_, "default", Widget("a"), {});
  ASSERT_TRUE(o.ok()) << o.status();
  const json& obj = (*o)->object;
  EXPECT_EQ(obj["apiVersion"], "example.io/v1");
  EXPECT_EQ(obj["kind"], "Widget");
  EXPECT_EQ(obj["metadata"]["namespace"], "default");
  EXPECT_EQ(obj["metadata"]["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(obj["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(obj["metadata"]["generation"], 1);
  EXPECT_EQ(obj["spec"]["size"], 1);
  EXPECT_EQ(obj["metadata"]["resourceVersion"], std::to_string(backend_->CurrentRevision()));
  auto again = store_->Create(w_, "default", Widget("a"), {});
  EXPECT_TRUE(apierrors::IsAlreadyExists(again.status()));
}

TEST_F(StoreTest, GenerateNameAndNamespaceChecks) {
  json g = {{"metadata", {{"generateName", "gen-"}}}};
  auto o = store_->Create(w_, "default", g, {});
  ASSERT_TRUE(o.ok());
  std::string name = (*o)->object["metadata"]["name"];
  EXPECT_EQ(name.rfind("gen-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
  EXPECT_TRUE(apierrors::IsNotFound(store_->Create(w_, "nope", Widget("x"), {}).status()));
  auto bad = store_->Create(w_, "default", json{{"metadata", json::object()}}, {});
  EXPECT_EQ(apierrors::HttpCode(bad.status()), 422);
  auto mismatched = json{{"metadata", {{"name", "m"}, {"namespace", "other"}}}};
  EXPECT_EQ(apierrors::HttpCode(store_->Create(w_, "default", mismatched, {}).status()), 400);
}

TEST_F(StoreTest, UpdateConflictsOnStaleResourceVersion) {
  auto o = store_->Create(w_, "default", Widget("a"), {});
  ASSERT_TRUE(o.ok());
  json v1 = (*o)->object;
  json v2 = v1;
  v2["spec"]["color"] = "blue";
  auto u = store_->Update(w_, "default", "a", v2, {});
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ((*u)->object["metadata"]["generation"], 2);
  json stale = v1;
  stale["spec"]["color"] = "green";
  auto c = store_->Update(w_, "default", "a", stale, {});
  EXPECT_TRUE(apierrors::IsConflict(c.status())) << c.status();
  // Without a resourceVersion the update is unconditional.
  stale["metadata"].erase("resourceVersion");
  EXPECT_TRUE(store_->Update(w_, "default", "a", stale, {}).ok());
}

TEST_F(StoreTest, StatusAndSpecAreSeparated) {
  ASSERT_TRUE(store_->Create(w_, "default", Widget("a"), {}).ok());
  auto cur = store_->Get(w_, "default", "a", std::nullopt);
  json withStatus = (*cur)->object;
  withStatus["metadata"].erase("resourceVersion");
  withStatus["status"] = {{"ready", true}};
  withStatus["spec"]["color"] = "ignored";
  auto s = store_->Update(w_, "default", "a", withStatus, WriteOptions{false, "status"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->object["status"]["ready"], true);
  EXPECT_EQ((*s)->object["spec"]["color"], "red");
  EXPECT_EQ((*s)->object["metadata"]["generation"], 1);
  json main = (*s)->object;
  main["metadata"].erase("resourceVersion");
  main["status"] = {{"ready", false}};
  auto m = store_->Update(w_, "default", "a", main, {});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->object["status"]["ready"], true);
}

TEST_F(StoreTest, FinalizersHoldDeletionUntilRemoved) {
  json w = Widget("f");
  w["metadata"]["finalizers"] = {"example.io/hold"};
  ASSERT_TRUE(store_->Create(w_, "default", w, {}).ok());
  auto d = store_->Delete(w_, "default", "f", json::object(), false);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->deleted);
  EXPECT_TRUE(d->object->object["metadata"].contains("deletionTimestamp"));
  auto still = store_->Get(w_, "default", "f", std::nullopt);
  ASSERT_TRUE(still.ok());
  json cleared = (*still)->object;
  cleared["metadata"]["finalizers"] = json::array();
  ASSERT_TRUE(store_->Update(w_, "default", "f", cleared, {}).ok());
  EXPECT_TRUE(apierrors::IsNotFound(store_->Get(w_, "default", "f", std::nullopt).status()));
}

TEST_F(StoreTest, DeletePreconditions) {
  ASSERT_TRUE(store_->Create(w_, "default", Widget("p"), {}).ok());
  auto d = store_->Delete(w_, "default", "p", json{{"preconditions", {{"uid", "wrong"}}}}, false);
  EXPECT_TRUE(apierrors::IsConflict(d.status()));
  auto dry = store_->Delete(w_, "default", "p", json::object(), true);
  ASSERT_TRUE(dry.ok());
  EXPECT_TRUE(store_->Get(w_, "default", "p", std::nullopt).ok());
  EXPECT_TRUE(store_->Delete(w_, "default", "p", json::object(), false)->deleted);
}

TEST_F(StoreTest, ListSelectorsAndConsistentPaging) {
  for (auto [n, c] : {std::pair{"a", "red"}, {"b", "blue"}, {"c", "red"}, {"d", "red"}})
    ASSERT_TRUE(store_->Create(w_, "default", Widget(n, c), {}).ok());
  ListOptions lo;
  lo.label_selector = "color=red";
  auto red = store_->List(w_, "default", lo);
  ASSERT_TRUE(red.ok());
  EXPECT_EQ(red->items.size(), 3u);
  lo = {};
  lo.field_selector = "spec.color!=red";
  auto blue = store_->List(w_, "", lo);
  ASSERT_TRUE(blue.ok()) << blue.status();
  ASSERT_EQ(blue->items.size(), 1u);
  lo.field_selector = "spec.unknown=x";
  EXPECT_EQ(apierrors::HttpCode(store_->List(w_, "", lo).status()), 400);
  lo = {};
  lo.limit = 2;
  auto p1 = store_->List(w_, "default", lo);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->items.size(), 2u);
  ASSERT_FALSE(p1->continue_token.empty());
  // A write between pages is not visible: the continuation reads the first page's revision.
  ASSERT_TRUE(store_->Create(w_, "default", Widget("bb"), {}).ok());
  lo.continue_token = p1->continue_token;
  auto p2 = store_->List(w_, "default", lo);
  ASSERT_TRUE(p2.ok()) << p2.status();
  ASSERT_EQ(p2->items.size(), 2u);
  EXPECT_EQ(p2->items[0]->object["metadata"]["name"], "c");
  EXPECT_TRUE(p2->continue_token.empty());
  EXPECT_EQ(p2->resource_version, p1->resource_version);
  lo.continue_token = "!!not-base64!!";
  EXPECT_EQ(apierrors::HttpCode(store_->List(w_, "default", lo).status()), 400);
}

TEST_F(StoreTest, TerminatingNamespaceRefusesNewContent) {
  ASSERT_TRUE(
      store_
          ->Create(ns_, "",
                   json{{"metadata", {{"name", "t"}}}, {"spec", {{"finalizers", {"kubernetes"}}}}},
                   {})
          .ok());
  auto d = store_->Delete(ns_, "", "t", json::object(), false);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->deleted);
  EXPECT_EQ(d->object->object["status"]["phase"], "Terminating");
  // Like upstream's NamespaceLifecycle admission, the check reads the (eventually consistent)
  // cache.
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  EXPECT_EQ(apierrors::HttpCode(store_->Create(w_, "t", Widget("x"), {}).status()), 403);
}

}  // namespace
}  // namespace korral::apiserver
