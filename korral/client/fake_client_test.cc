#include "korral/client/fake_client.h"

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

#include "korral/client/errors.h"

namespace korral::client {
namespace {

Json Pod(const std::string& name, Json labels = Json::object(), std::string node = "") {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"labels", labels}}},
            {"spec", {{"containers", Json::array()}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

// Collects watch events; waits with a condition variable.
class Collector {
 public:
  WatchEventCallback OnEvent() {
    return [this](WatchEvent e) {
      std::lock_guard l(mu_);
      events_.push_back(std::move(e));
      cv_.notify_all();
    };
  }
  WatchDoneCallback OnDone() {
    return [this](absl::Status s) {
      std::lock_guard l(mu_);
      done_ = s;
      cv_.notify_all();
    };
  }
  bool WaitEvents(size_t n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(10), [&] { return events_.size() >= n; });
  }
  std::optional<absl::Status> WaitDone() {
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::seconds(10), [&] { return done_.has_value(); });
    return done_;
  }
  std::vector<WatchEvent> events() {
    std::lock_guard l(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> events_;
  std::optional<absl::Status> done_;
};

TEST(FakeClientTest, CreateGetUpdateDelete) {
  FakeClient c;
  auto pods = resources::Pods();
  auto created = c.Create(pods, "ns1", Pod("a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["metadata"]["namespace"], "ns1");
  EXPECT_FALSE(ResourceVersionOf(*created).empty());
  EXPECT_TRUE((*created)["metadata"].contains("uid"));

  auto dup = c.Create(pods, "ns1", Pod("a"));
  EXPECT_TRUE(client::IsAlreadyExists(dup.status())) << dup.status();

  auto got = c.Get(pods, "ns1", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, *created);
  EXPECT_TRUE(client::IsNotFound(c.Get(pods, "ns2", "a").status()));

  Json upd = *got;
  upd["spec"]["nodeName"] = "n1";
  auto updated = c.Update(pods, "ns1", upd);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE(ResourceVersionOf(*updated), ResourceVersionOf(*got));
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  // Stale resourceVersion.
  auto stale = c.Update(pods, "ns1", upd);
  EXPECT_TRUE(client::IsConflict(stale.status())) << stale.status();
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(HttpCodeOf(stale.status()), 409);

  Json st = *updated;
  st["status"] = {{"phase", "Running"}};
  st["spec"]["nodeName"] = "ignored";
  auto status = c.UpdateStatus(pods, "ns1", st);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ((*status)["status"]["phase"], "Running");
  EXPECT_EQ((*status)["spec"]["nodeName"], "n1");

  ASSERT_TRUE(c.Delete(pods, "ns1", "a").ok());
  EXPECT_TRUE(client::IsNotFound(c.Get(pods, "ns1", "a").status()));
  EXPECT_TRUE(client::IsNotFound(c.Delete(pods, "ns1", "a").status()));
}

TEST(FakeClientTest, GenerateNameAndClusterScoped) {
  FakeClient c;
  Json p = Pod("");
  p["metadata"].erase("name");
  p["metadata"]["generateName"] = "web-";
  auto a = c.Create(resources::Pods(), "default", p);
  auto b = c.Create(resources::Pods(), "default", p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)["metadata"]["name"].get<std::string>().rfind("web-", 0), 0u);
  EXPECT_NE((*a)["metadata"]["name"], (*b)["metadata"]["name"]);
  auto node = c.Create(resources::Nodes(), "ignored", {{"metadata", {{"name", "n1"}}}});
  ASSERT_TRUE(node.ok());
  EXPECT_FALSE((*node)["metadata"].contains("namespace"));
  EXPECT_EQ(ObjectKey(*node), "n1");
  EXPECT_TRUE(c.Get(resources::Nodes(), "", "n1").ok());
}

TEST(FakeClientTest, ListSelectorsAndPaging) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "a", Pod("p1", {{"app", "web"}}, "n1")).ok());
  ASSERT_TRUE(c.Create(pods, "a", Pod("p2", {{"app", "db"}}, "n2")).ok());
  ASSERT_TRUE(c.Create(pods, "b", Pod("p3", {{"app", "web"}, {"tier", "fe"}}, "n1")).ok());

  auto all = c.List(pods, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)["items"].size(), 3u);
  EXPECT_EQ((*all)["kind"], "PodList");
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], std::to_string(c.CurrentResourceVersion()));
  EXPECT_EQ((*c.List(pods, "a"))["items"].size(), 2u);
  EXPECT_EQ((*c.List(pods, "", {.label_selector = "app=web"}))["items"].size(), 2u);
  EXPECT_EQ((*c.List(pods, "", {.label_selector = "app!=web"}))["items"].size(), 1u);
  EXPECT_EQ((*c.List(pods, "", {.label_selector = "tier"}))["items"].size(), 1u);
  EXPECT_EQ((*c.List(pods, "", {.label_selector = "!tier"}))["items"].size(), 2u);
  EXPECT_EQ((*c.List(pods, "", {.label_selector = "app in (db, web),tier"}))["items"].size(), 1u);
  EXPECT_EQ((*c.List(pods, "", {.field_selector = "spec.nodeName=n1"}))["items"].size(), 2u);
  EXPECT_EQ((*c.List(pods, "", {.field_selector = "metadata.name=p2"}))["items"].size(), 1u);

  auto page1 = c.List(pods, "", {.limit = 2});
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ((*page1)["items"].size(), 2u);
  std::string cont = (*page1)["metadata"].value("continue", "");
  ASSERT_FALSE(cont.empty());
  auto page2 = c.List(pods, "", {.limit = 2, .continue_token = cont});
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ((*page2)["items"].size(), 1u);
  EXPECT_FALSE((*page2)["metadata"].contains("continue"));
}

TEST(FakeClientTest, Patches) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "d", Pod("p", {{"a", "1"}})).ok());
  auto merged = c.Patch(pods, "d", "p", PatchType::kMerge,
                        {{"metadata", {{"labels", {{"a", nullptr}, {"b", "2"}}}}}});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["metadata"]["labels"], Json({{"b", "2"}}));
  auto jp = c.Patch(pods, "d", "p", PatchType::kJson,
                    Json::parse(R"([{"op":"add","path":"/spec/nodeName","value":"n9"}])"));
  ASSERT_TRUE(jp.ok()) << jp.status();
  EXPECT_EQ((*jp)["spec"]["nodeName"], "n9");
  auto bad = c.Patch(pods, "d", "p", PatchType::kJson,
                     Json::parse(R"([{"op":"remove","path":"/nope/x"}])"));
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(
      client::IsNotFound(c.Patch(pods, "d", "zz", PatchType::kMerge, Json::object()).status()));
  auto applied = c.Patch(pods, "d", "new", PatchType::kApply, Pod("new"), {.field_manager = "t"});
  ASSERT_TRUE(applied.ok()) << applied.status();
}

TEST(FakeClientTest, InjectedErrorsAndActions) {
  FakeClient c;
  auto pods = resources::Pods();
  c.InjectError("create", "pods", MakeApiError(500, "InternalError", "boom"));
  auto r = c.Create(pods, "d", Pod("p"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(c.Create(pods, "d", Pod("p")).ok());  // only once
  c.InjectError("*", "*", absl::UnavailableError("down"), 2);
  EXPECT_FALSE(c.Get(pods, "d", "p").ok());
  EXPECT_FALSE(c.List(pods, "d").ok());
  EXPECT_TRUE(c.List(pods, "d").ok());
  auto actions = c.Actions();
  ASSERT_EQ(actions.size(), 5u);
  EXPECT_EQ(actions[0].verb, "create");
  EXPECT_EQ(actions[2].verb, "get");
  EXPECT_EQ(actions[2].name, "p");
}

TEST(FakeClientTest, WatchFromResourceVersion) {
  FakeClient c;
  auto pods = resources::Pods();
  auto p1 = c.Create(pods, "d", Pod("p1"));
  ASSERT_TRUE(p1.ok());
  std::string rv = ResourceVersionOf(*p1);
  ASSERT_TRUE(c.Create(pods, "d", Pod("p2")).ok());  // after rv: replayed
  Collector col;
  auto w = c.Watch(pods, "d", {.resource_version = rv}, col.OnEvent(), col.OnDone());
  ASSERT_TRUE(w.ok()) << w.status();
  Json p1b = *p1;
  p1b["metadata"]["labels"]["x"] = "y";
  ASSERT_TRUE(c.Update(pods, "d", p1b).ok());
  ASSERT_TRUE(c.Delete(pods, "d", "p2").ok());
  ASSERT_TRUE(c.Create(pods, "other", Pod("p3")).ok());  // other namespace: filtered
  ASSERT_TRUE(col.WaitEvents(3));
  auto ev = col.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "ADDED");
  EXPECT_EQ(ev[0].object["metadata"]["name"], "p2");
  EXPECT_EQ(ev[1].type, "MODIFIED");
  EXPECT_EQ(ev[2].type, "DELETED");
  (*w)->Stop();
  auto done = col.WaitDone();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok());
}

TEST(FakeClientTest, MetadataOnlyListAndWatch) {
  FakeClient c;
  auto pods = resources::Pods();
  auto p1 = c.Create(pods, "d", Pod("p1", {{"app", "a"}}, "n1"));
  ASSERT_TRUE(p1.ok());
  auto list = c.List(pods, "d", {.label_selector = "app=a", .metadata_only = true});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)["kind"], "PartialObjectMetadataList");
  EXPECT_EQ((*list)["apiVersion"], "meta.k8s.io/v1");
  ASSERT_EQ((*list)["items"].size(), 1u);
  const Json& item = (*list)["items"][0];
  EXPECT_EQ(item, Json({{"apiVersion", "meta.k8s.io/v1"},
                        {"kind", "PartialObjectMetadata"},
                        {"metadata", (*p1)["metadata"]}}));
  // Full lists are unchanged.
  auto full = c.List(pods, "d");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)["kind"], "PodList");
  EXPECT_EQ((*full)["items"][0]["spec"]["nodeName"], "n1");

  Collector col;
  auto w = c.Watch(pods, "d", {.allow_watch_bookmarks = true, .metadata_only = true}, col.OnEvent(),
                   col.OnDone());
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(c.Create(pods, "d", Pod("p2", {}, "n2")).ok());
  ASSERT_TRUE(col.WaitEvents(3));
  auto ev = col.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "ADDED");  // the current state
  EXPECT_EQ(ev[0].object["kind"], "PartialObjectMetadata");
  EXPECT_EQ(ev[0].object["metadata"]["name"], "p1");
  EXPECT_FALSE(ev[0].object.contains("spec"));
  EXPECT_EQ(ev[1].type, "BOOKMARK");
  EXPECT_EQ(ev[2].type, "ADDED");
  EXPECT_EQ(ev[2].object["kind"], "PartialObjectMetadata");
  EXPECT_EQ(ev[2].object["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(ev[2].object["metadata"]["name"], "p2");
  EXPECT_FALSE(ev[2].object.contains("spec"));
  (*w)->Stop();
}

TEST(FakeClientTest, WatchWithoutVersionSendsCurrentStateAndSelectorTransitions) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "d", Pod("p1", {{"app", "web"}})).ok());
  ASSERT_TRUE(c.Create(pods, "d", Pod("p2", {{"app", "db"}})).ok());
  Collector col;
  auto w = c.Watch(pods, "", {.label_selector = "app=web"}, col.OnEvent(), col.OnDone());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(
      c.Patch(pods, "d", "p1", PatchType::kMerge, {{"metadata", {{"labels", {{"app", "x"}}}}}})
          .ok());
  ASSERT_TRUE(
      c.Patch(pods, "d", "p2", PatchType::kMerge, {{"metadata", {{"labels", {{"app", "web"}}}}}})
          .ok());
  ASSERT_TRUE(col.WaitEvents(3));
  auto ev = col.events();
  EXPECT_EQ(ev[0].type, "ADDED");
  EXPECT_EQ(ev[0].object["metadata"]["name"], "p1");
  EXPECT_EQ(ev[1].type, "DELETED");  // no longer matches
  EXPECT_EQ(ev[2].type, "ADDED");
  EXPECT_EQ(ev[2].object["metadata"]["name"], "p2");
}

TEST(FakeClientTest, WatchExpiredAndClosed) {
  FakeClient c;
  auto pods = resources::Pods();
  auto p = c.Create(pods, "d", Pod("p1"));
  ASSERT_TRUE(c.Create(pods, "d", Pod("p2")).ok());
  c.Compact();
  Collector col;
  auto w =
      c.Watch(pods, "d", {.resource_version = ResourceVersionOf(*p)}, col.OnEvent(), col.OnDone());
  ASSERT_TRUE(w.ok());
  auto done = col.WaitDone();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(IsResourceExpired(*done)) << *done;
  EXPECT_EQ(done->code(), absl::StatusCode::kOutOfRange);

  Collector col2;
  auto w2 = c.Watch(pods, "d", {.resource_version = std::to_string(c.CurrentResourceVersion())},
                    col2.OnEvent(), col2.OnDone());
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ(c.NumWatches(), 1u);
  c.CloseWatches(absl::UnavailableError("conn reset"));
  auto done2 = col2.WaitDone();
  ASSERT_TRUE(done2.has_value());
  EXPECT_EQ(done2->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.NumWatches(), 0u);
}

TEST(FakeClientTest, StopFromCallbackDoesNotDeadlock) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "d", Pod("p1")).ok());
  WatchHandlePtr handle;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::mutex hmu;
  auto w = c.Watch(
      pods, "d", {},
      [&](WatchEvent) {
        std::lock_guard l(hmu);
        if (handle) handle->Stop();
      },
      [&](absl::Status) {
        std::lock_guard l(mu);
        done = true;
        cv.notify_all();
      });
  ASSERT_TRUE(w.ok());
  {
    std::lock_guard l(hmu);
    handle = std::move(*w);
  }
  ASSERT_TRUE(c.Create(pods, "d", Pod("p2")).ok());
  std::unique_lock l(mu);
  EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return done; }));
}

}  // namespace
}  // namespace korral::client
