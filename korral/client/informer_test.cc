#include "korral/client/informer.h"

#include <condition_variable>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "korral/client/errors.h"
#include "korral/client/fake_client.h"

namespace korral::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Json Pod(const std::string& ns, const std::string& name, const std::string& node = "") {
  Json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec", Json::object()}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

// Records handler calls as strings ("add ns/a", "update ns/a", "delete ns/a", "tombstone ns/a")
// and lets the test wait for a count with a condition variable.
class Recorder {
 public:
  ResourceEventHandler Handler() {
    return {.on_add = [this](const ObjectPtr& o) { Push("add " + ObjectKey(*o)); },
            .on_update = [this](const ObjectPtr& o,
                                const ObjectPtr& n) { Push("update " + ObjectKey(*n)); },
            .on_delete =
                [this](const ObjectPtr& o, bool unknown) {
                  Push((unknown ? "tombstone " : "delete ") + ObjectKey(*o));
                }};
  }
  bool WaitFor(size_t n) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, seconds(10), [&] { return calls_.size() >= n; });
  }
  std::vector<std::string> calls() {
    std::lock_guard l(mu_);
    return calls_;
  }

 private:
  void Push(std::string s) {
    std::lock_guard l(mu_);
    calls_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

InformerOptions Fast() {
  InformerOptions o;
  o.backoff_initial = milliseconds(1);
  o.backoff_max = milliseconds(10);
  o.name = "test";
  return o;
}

// Waits (condition-polled with short real-time waits) until `pred` holds or 10s pass.
template <typename F>
bool Eventually(F pred) {
  auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Forwards to a ListerWatcher; once closed, Watch calls block until Open() (so a test can make
// changes while the informer is guaranteed to be disconnected).
class GatedListerWatcher : public ListerWatcher {
 public:
  GatedListerWatcher(std::unique_ptr<ListerWatcher> inner, std::mutex& mu,
                     std::condition_variable& cv, bool& open)
      : inner_(std::move(inner)), mu_(mu), cv_(cv), open_(open) {}
  absl::StatusOr<Json> List(const ListOptions& o) override { return inner_->List(o); }
  absl::StatusOr<WatchHandlePtr> Watch(const WatchOptions& o, WatchEventCallback e,
                                       WatchDoneCallback d) override {
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return open_; });
    }
    return inner_->Watch(o, std::move(e), std::move(d));
  }

 private:
  std::unique_ptr<ListerWatcher> inner_;
  std::mutex& mu_;
  std::condition_variable& cv_;
  bool& open_;
};

void CheckIndexesAndUpdates(bool compact) {
  Indexer idx(compact);
  ASSERT_TRUE(idx.AddIndex("node",
                           [](const Json& p) {
                             return std::vector<std::string>{p["spec"].value("nodeName", "")};
                           })
                  .ok());
  EXPECT_FALSE(idx.AddIndex("node", NamespaceIndexFunc).ok());
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p1", "n1")));
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p2", "n2")));
  idx.Upsert(std::make_shared<const Json>(Pod("b", "p3", "n1")));
  EXPECT_EQ(idx.Size(), 3u);
  EXPECT_EQ(idx.ByIndex("node", "n1").size(), 2u);
  EXPECT_EQ(idx.ListNamespace("a").size(), 2u);
  // Moving p1 to n2 reindexes it.
  auto old = idx.Upsert(std::make_shared<const Json>(Pod("a", "p1", "n2")));
  ASSERT_TRUE(old);
  EXPECT_EQ((*old)["spec"]["nodeName"], "n1");
  EXPECT_EQ(idx.ByIndex("node", "n1").size(), 1u);
  EXPECT_EQ(idx.ByIndex("node", "n2").size(), 2u);
  EXPECT_TRUE(idx.Remove("a/p2"));
  EXPECT_FALSE(idx.Remove("a/p2"));
  EXPECT_EQ(idx.ByIndex("node", "n2").size(), 1u);
  EXPECT_EQ(idx.Get("b/p3")->at("metadata")["name"], "p3");
  EXPECT_EQ(idx.Get("zz"), nullptr);
  // An index added later covers existing objects.
  ASSERT_TRUE(idx.AddIndex("name",
                           [](const Json& p) {
                             return std::vector<std::string>{p["metadata"].value("name", "")};
                           })
                  .ok());
  EXPECT_EQ(idx.ByIndex("name", "p3").size(), 1u);
  EXPECT_TRUE(idx.ByIndex("nope", "x").empty());
}

TEST(IndexerTest, IndexesAndUpdates) { CheckIndexesAndUpdates(false); }
TEST(IndexerTest, CompactIndexesAndUpdates) { CheckIndexesAndUpdates(true); }

TEST(IndexerTest, CompactRoundTripsAndSharesHeldObjects) {
  Indexer idx(/*compact=*/true);
  EXPECT_TRUE(idx.compact());
  Json pod = Pod("a", "p1", "n1");
  pod["metadata"]["labels"] = {{"app", "web"}, {"unicode", "h\u00e9llo \u2603"}};
  pod["spec"]["terminationGracePeriodSeconds"] = 30;
  pod["spec"]["priority"] = -5;
  pod["spec"]["big"] = 9007199254740993ULL;
  pod["spec"]["ratio"] = 0.25;
  pod["spec"]["hostNetwork"] = false;
  pod["spec"]["nothing"] = nullptr;
  pod["spec"]["empty"] = Json::object();
  pod["spec"]["list"] = Json::array({1, "two", Json::array()});
  {
    auto held = std::make_shared<const Json>(pod);
    idx.Upsert(held);
    // While somebody holds the object, the same tree is handed out (no decode).
    EXPECT_EQ(idx.Get("a/p1").get(), held.get());
    EXPECT_EQ(idx.ListNamespace("a").at(0).get(), held.get());
  }
  // Released: decoded from the compact form, equal to what was stored.
  auto got = idx.Get("a/p1");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, pod) << got->dump();
  EXPECT_EQ((*got)["spec"]["big"].get<uint64_t>(), 9007199254740993ULL);
  EXPECT_EQ((*got)["spec"]["priority"].get<int64_t>(), -5);
  EXPECT_EQ((*got)["spec"]["ratio"].get<double>(), 0.25);
  EXPECT_EQ(idx.List().at(0).get(), got.get());  // held again: shared
  auto old = idx.Remove("a/p1");
  ASSERT_TRUE(old);
  EXPECT_EQ(*old, pod);
  EXPECT_EQ(idx.Size(), 0u);
  EXPECT_TRUE(idx.ListNamespace("a").empty());
}

// A summary for tests: "name@node".
Summary NameAtNode(const Json& p) {
  return std::make_shared<const std::string>(p["metadata"].value("name", "") + "@" +
                                             p["spec"].value("nodeName", ""));
}
std::string SummaryText(const Summary& s) {
  return s ? *std::static_pointer_cast<const std::string>(s) : "<null>";
}
std::vector<std::string> Texts(const std::vector<Summary>& v) {
  std::vector<std::string> out;
  for (const Summary& s : v) out.push_back(SummaryText(s));
  return out;
}

void CheckSummaries(bool compact) {
  Indexer idx(compact, NameAtNode);
  EXPECT_TRUE(idx.has_summaries());
  ASSERT_TRUE(idx.AddIndex("node",
                           [](const Json& p) {
                             return std::vector<std::string>{p["spec"].value("nodeName", "")};
                           })
                  .ok());
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p2", "n1")));
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p1", "n1")));
  idx.Upsert(std::make_shared<const Json>(Pod("b", "p3", "n2")));
  EXPECT_EQ(SummaryText(idx.GetSummary("a/p1")), "p1@n1");
  EXPECT_EQ(idx.GetSummary("a/zz"), nullptr);
  // Same order as ByIndex / List (by key).
  EXPECT_EQ(Texts(idx.SummariesByIndex("node", "n1")),
            (std::vector<std::string>{"p1@n1", "p2@n1"}));
  EXPECT_EQ(Texts(idx.ListSummaries()), (std::vector<std::string>{"p1@n1", "p2@n1", "p3@n2"}));
  EXPECT_EQ(Texts(idx.SummariesByIndex(kNamespaceIndex, "b")), (std::vector<std::string>{"p3@n2"}));
  // An update replaces the summary and moves the index entry.
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p1", "n2")));
  EXPECT_EQ(SummaryText(idx.GetSummary("a/p1")), "p1@n2");
  EXPECT_EQ(Texts(idx.SummariesByIndex("node", "n1")), (std::vector<std::string>{"p2@n1"}));
  EXPECT_EQ(Texts(idx.SummariesByIndex("node", "n2")),
            (std::vector<std::string>{"p1@n2", "p3@n2"}));
  // A removal drops both.
  EXPECT_TRUE(idx.Remove("a/p2"));
  EXPECT_EQ(idx.GetSummary("a/p2"), nullptr);
  EXPECT_TRUE(idx.SummariesByIndex("node", "n1").empty());
  EXPECT_TRUE(idx.SummariesByIndex("nope", "x").empty());
  // A summary held by a reader survives the object's replacement unchanged.
  Summary held = idx.GetSummary("b/p3");
  idx.Upsert(std::make_shared<const Json>(Pod("b", "p3", "n3")));
  EXPECT_EQ(SummaryText(held), "p3@n2");
  EXPECT_EQ(SummaryText(idx.GetSummary("b/p3")), "p3@n3");
}

TEST(IndexerTest, Summaries) { CheckSummaries(false); }
TEST(IndexerTest, CompactSummaries) { CheckSummaries(true); }

TEST(IndexerTest, NoSummarizerGivesNoSummaries) {
  Indexer idx;
  EXPECT_FALSE(idx.has_summaries());
  idx.Upsert(std::make_shared<const Json>(Pod("a", "p1", "n1")));
  EXPECT_EQ(idx.GetSummary("a/p1"), nullptr);
  EXPECT_TRUE(idx.ListSummaries().empty());
  EXPECT_TRUE(idx.SummariesByIndex(kNamespaceIndex, "a").empty());
}

// Index entries point into the store: after many inserts, moves and removals every index still
// lists exactly the objects a brute-force scan finds, in key order.
void CheckIndexesMatchBruteForce(bool compact) {
  Indexer idx(compact, NameAtNode);
  ASSERT_TRUE(idx.AddIndex("node",
                           [](const Json& p) {
                             return std::vector<std::string>{p["spec"].value("nodeName", "")};
                           })
                  .ok());
  std::map<std::string, std::pair<std::string, std::string>> want;  // key -> (ns, node)
  uint32_t seed = 12345;
  auto next = [&](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  for (int step = 0; step < 3000; ++step) {
    std::string ns = "ns" + std::to_string(next(3));
    std::string name = "pod-with-a-long-name-" + std::to_string(next(200));
    std::string key = ns + "/" + name;
    if (next(4) == 0) {
      EXPECT_EQ(idx.Remove(key) != nullptr, want.erase(key) == 1) << key;
    } else {
      std::string node = "n" + std::to_string(next(5));
      idx.Upsert(std::make_shared<const Json>(Pod(ns, name, node)));
      want[key] = {ns, node};
    }
  }
  ASSERT_EQ(idx.Size(), want.size());
  for (int n = 0; n < 5; ++n) {
    std::string node = "n" + std::to_string(n);
    std::vector<std::string> expect_keys, expect_summaries, got_keys;
    for (const auto& [key, v] : want) {
      if (v.second != node) continue;
      expect_keys.push_back(key);
      expect_summaries.push_back(key.substr(key.find('/') + 1) + "@" + node);
    }
    for (const ObjectPtr& o : idx.ByIndex("node", node)) got_keys.push_back(ObjectKey(*o));
    EXPECT_EQ(got_keys, expect_keys) << node;
    EXPECT_EQ(Texts(idx.SummariesByIndex("node", node)), expect_summaries) << node;
  }
  for (int n = 0; n < 3; ++n) {
    std::string ns = "ns" + std::to_string(n);
    size_t count = 0;
    for (const auto& [key, v] : want) count += v.first == ns;
    EXPECT_EQ(idx.ListNamespace(ns).size(), count) << ns;
  }
}

TEST(IndexerTest, IndexesMatchBruteForce) { CheckIndexesMatchBruteForce(false); }
TEST(IndexerTest, CompactIndexesMatchBruteForce) { CheckIndexesMatchBruteForce(true); }

TEST(InformerTest, SummarizeAppliesToCachedObjects) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a", "n1")).ok());
  InformerOptions o = Fast();
  o.compact_cache = true;
  o.summarize = NameAtNode;
  SharedInformer inf(NewListerWatcher(c, pods), o);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  EXPECT_EQ(SummaryText(inf.indexer().GetSummary("ns/a")), "a@n1");
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "b", "n2")).ok());
  ASSERT_TRUE(rec.WaitFor(2));
  EXPECT_EQ(SummaryText(inf.indexer().GetSummary("ns/b")), "b@n2");
  ASSERT_TRUE(c.Delete(pods, "ns", "a").ok());
  ASSERT_TRUE(rec.WaitFor(3));
  EXPECT_EQ(inf.indexer().GetSummary("ns/a"), nullptr);
  EXPECT_EQ(Texts(inf.indexer().ListSummaries()), (std::vector<std::string>{"b@n2"}));
  inf.Stop();
}

TEST(InformerTest, InitialListThenEvents) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "b")).ok());
  SharedInformer inf(NewListerWatcher(c, pods), Fast());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(rec.WaitFor(2));
  EXPECT_EQ(rec.calls(), (std::vector<std::string>{"add ns/a", "add ns/b"}));
  EXPECT_EQ(inf.indexer().Size(), 2u);
  // The initial list restores kind on items.
  EXPECT_EQ((*inf.indexer().Get("ns/a"))["kind"], "Pod");

  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "c")).ok());
  auto b = c.Get(pods, "ns", "b");
  ASSERT_TRUE(b.ok());
  (*b)["spec"]["nodeName"] = "n1";
  ASSERT_TRUE(c.Update(pods, "ns", *b).ok());
  ASSERT_TRUE(c.Delete(pods, "ns", "a").ok());
  ASSERT_TRUE(rec.WaitFor(5));
  EXPECT_EQ(rec.calls(), (std::vector<std::string>{"add ns/a", "add ns/b", "add ns/c",
                                                   "update ns/b", "delete ns/a"}));
  EXPECT_EQ(inf.indexer().Size(), 2u);
  EXPECT_EQ((*inf.indexer().Get("ns/b"))["spec"]["nodeName"], "n1");
  std::string want = std::to_string(c.CurrentResourceVersion());
  EXPECT_TRUE(Eventually([&] { return inf.LastSyncResourceVersion() == want; }));
  EXPECT_EQ(inf.NumLists(), 1);

  // A handler added late gets the current state replayed.
  Recorder late;
  inf.AddEventHandler(late.Handler());
  EXPECT_EQ(late.calls(), (std::vector<std::string>{"add ns/b", "add ns/c"}));
  inf.Stop();
}

TEST(InformerTest, CompactCacheServesTheSameObjects) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a", "n1")).ok());
  InformerOptions o = Fast();
  o.compact_cache = true;
  SharedInformer inf(NewListerWatcher(c, pods), o);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  EXPECT_TRUE(inf.indexer().compact());
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  auto a = c.Get(pods, "ns", "a");
  ASSERT_TRUE(a.ok());
  (*a)["spec"]["nodeName"] = "n2";
  ASSERT_TRUE(c.Update(pods, "ns", *a).ok());
  ASSERT_TRUE(rec.WaitFor(2));
  EXPECT_EQ(rec.calls(), (std::vector<std::string>{"add ns/a", "update ns/a"}));
  auto cached = inf.indexer().Get("ns/a");
  ASSERT_TRUE(cached);
  auto want = c.Get(pods, "ns", "a");
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(*cached, *want);
  inf.Stop();
}

TEST(InformerTest, RelistAfterExpiredWithTombstones) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "b")).ok());
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gate_open = true;
  SharedInformer inf(std::make_unique<GatedListerWatcher>(NewListerWatcher(c, pods, "ns"), gate_mu,
                                                          gate_cv, gate_open),
                     Fast());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));

  // Changes the informer misses while disconnected; its next watch fails with 410 so that they
  // are only seen on relist.
  {
    std::lock_guard l(gate_mu);
    gate_open = false;
  }
  c.InjectError("watch", "pods", MakeApiError(410, "Expired", "too old resource version"));
  c.CloseWatches(absl::UnavailableError("connection reset"));
  ASSERT_TRUE(c.Delete(pods, "ns", "a").ok());
  auto b = c.Get(pods, "ns", "b");
  (*b)["metadata"]["labels"] = {{"x", "y"}};
  ASSERT_TRUE(c.Update(pods, "ns", *b).ok());
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "c")).ok());
  {
    std::lock_guard l(gate_mu);
    gate_open = true;
    gate_cv.notify_all();
  }

  ASSERT_TRUE(rec.WaitFor(5));
  auto calls = rec.calls();
  std::vector<std::string> tail(calls.begin() + 2, calls.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"tombstone ns/a", "update ns/b", "add ns/c"}));
  EXPECT_TRUE(Eventually([&] { return inf.NumLists() == 2; }));
  EXPECT_EQ(inf.indexer().ListKeys(), (std::vector<std::string>{"ns/b", "ns/c"}));
}

TEST(InformerTest, ExpiredWatchEventRelists) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  SharedInformer inf(NewListerWatcher(c, pods), Fast());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  c.CloseWatches(MakeApiError(410, "Expired", "too old resource version: 1 (5)"));
  ASSERT_TRUE(Eventually([&] { return inf.NumLists() == 2; }));
}

TEST(InformerTest, RewatchFromLastVersionAfterDisconnect) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool gate_open = true;
  SharedInformer inf(
      std::make_unique<GatedListerWatcher>(NewListerWatcher(c, pods), gate_mu, gate_cv, gate_open),
      Fast());
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  c.ClearActions();
  {
    std::lock_guard l(gate_mu);
    gate_open = false;
  }
  c.CloseWatches(absl::UnavailableError("connection reset"));
  // Written while disconnected: the re-watch from the last resourceVersion replays it.
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "b")).ok());
  {
    std::lock_guard l(gate_mu);
    gate_open = true;
    gate_cv.notify_all();
  }
  ASSERT_TRUE(rec.WaitFor(2));
  EXPECT_EQ(rec.calls().back(), "add ns/b");
  EXPECT_EQ(inf.NumLists(), 1);
  bool listed = false;
  for (const auto& a : c.Actions()) listed |= a.verb == "list";
  EXPECT_FALSE(listed);
}

TEST(InformerTest, ListErrorsAreRetried) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  c.InjectError("list", "pods", absl::UnavailableError("down"), 3);
  SharedInformer inf(NewListerWatcher(c, pods), Fast());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  EXPECT_EQ(inf.indexer().Size(), 1u);
  int lists = 0;
  for (const auto& a : c.Actions()) lists += a.verb == "list";
  EXPECT_EQ(lists, 4);
}

TEST(InformerTest, BookmarksAdvanceVersion) {
  FakeClient c;
  auto pods = resources::Pods();
  auto nodes = resources::Nodes();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  ASSERT_TRUE(c.Create(nodes, "", {{"metadata", {{"name", "n1"}}}}).ok());  // bumps the rv
  SharedInformer inf(NewListerWatcher(c, pods), Fast());
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  ASSERT_TRUE(c.Create(nodes, "", {{"metadata", {{"name", "n2"}}}}).ok());
  // The fake sends a bookmark at the current version when a watch starts; force a re-watch.
  c.CloseWatches();
  std::string want = std::to_string(c.CurrentResourceVersion());
  ASSERT_TRUE(Eventually([&] { return inf.LastSyncResourceVersion() == want; }));
}

TEST(InformerTest, Resync) {
  FakeClient c;
  auto pods = resources::Pods();
  ASSERT_TRUE(c.Create(pods, "ns", Pod("ns", "a")).ok());
  InformerOptions o = Fast();
  o.resync_period = milliseconds(5);
  SharedInformer inf(NewListerWatcher(c, pods), o);
  Recorder rec;
  inf.AddEventHandler(rec.Handler());
  inf.Start();
  ASSERT_TRUE(rec.WaitFor(3));
  EXPECT_EQ(rec.calls()[1], "update ns/a");
}

TEST(InformerTest, TransformAppliesToListedAndWatchedObjects) {
  FakeClient c;
  auto pods = resources::Pods();
  Json a = Pod("ns", "a");
  a["metadata"]["managedFields"] = Json::array({{{"manager", "m"}}});
  a["metadata"]["labels"] = {{"x", "y"}};
  ASSERT_TRUE(c.Create(pods, "ns", a).ok());
  InformerOptions o = Fast();
  o.transform = ToObjectMetadata;
  SharedInformer inf(NewListerWatcher(c, pods), o);
  std::mutex mu;
  std::vector<Json> seen;
  inf.AddEventHandler({.on_add =
                           [&](const ObjectPtr& p) {
                             std::lock_guard l(mu);
                             seen.push_back(*p);
                           },
                       .on_update =
                           [&](const ObjectPtr&, const ObjectPtr& p) {
                             std::lock_guard l(mu);
                             seen.push_back(*p);
                           }});
  inf.Start();
  ASSERT_TRUE(inf.WaitForCacheSync(seconds(10)));
  ASSERT_TRUE(Eventually([&] { return c.NumWatches() == 1; }));
  Json b = Pod("ns", "b", "n1");
  b["metadata"]["managedFields"] = Json::array({{{"manager", "m"}}});
  b["status"] = {{"phase", "Pending"}};
  ASSERT_TRUE(c.Create(pods, "ns", b).ok());
  ASSERT_TRUE(Eventually([&] { return inf.indexer().Size() == 2; }));
  for (const std::string key : {"ns/a", "ns/b"}) {
    ObjectPtr got = inf.indexer().Get(key);
    ASSERT_TRUE(got) << key;
    EXPECT_FALSE(got->contains("spec")) << got->dump();
    EXPECT_FALSE(got->contains("status")) << got->dump();
    EXPECT_FALSE((*got)["metadata"].contains("managedFields")) << got->dump();
    EXPECT_EQ((*got)["kind"], "Pod");
    EXPECT_FALSE((*got)["metadata"].value("uid", "").empty());
    EXPECT_FALSE((*got)["metadata"].value("resourceVersion", "").empty());
  }
  EXPECT_EQ((*inf.indexer().Get("ns/a"))["metadata"]["labels"]["x"], "y");
  std::lock_guard l(mu);
  ASSERT_EQ(seen.size(), 2u);
  for (const Json& p : seen) EXPECT_FALSE(p.contains("spec"));
}

TEST(InformerTest, StripManagedFieldsKeepsTheRest) {
  Json p = Pod("ns", "a", "n1");
  p["metadata"]["managedFields"] = Json::array({{{"manager", "m"}}});
  StripManagedFields(p);
  EXPECT_FALSE(p["metadata"].contains("managedFields"));
  EXPECT_EQ(p["spec"]["nodeName"], "n1");
  Json weird = Json::array();
  StripManagedFields(weird);  // not an object: unchanged, no crash
  ToObjectMetadata(weird);
  EXPECT_TRUE(weird.is_array());
}

TEST(InformerTest, WaitForCacheSyncTimesOut) {
  FakeClient c;
  c.InjectError("list", "*", absl::UnavailableError("down"), 1000000);
  SharedInformer inf(NewListerWatcher(c, resources::Pods()), Fast());
  inf.Start();
  EXPECT_FALSE(WaitForCacheSync({&inf}, milliseconds(20)));
  inf.Stop();
  EXPECT_FALSE(inf.HasSynced());
}

}  // namespace
}  // namespace korral::client
