#include "korral/apiserver/watch_cache.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "korral/storage/memory/memory.h"

namespace korral::apiserver {
namespace {

using nlohmann::json;

// The spliced resourceVersion gives exactly the bytes of dumping the tree with it set.
TEST(SpliceResourceVersionTest, MatchesDumpingTheTree) {
  const char* cases[] = {
      R"({"metadata":{}})",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"ns","uid":"u"}})",
      R"({"metadata":{"uid":"u"},"spec":{"x":"}{\"]["}})",
      R"({"metadata":{"annotations":{"k":"v\"},{"},"labels":{"resourceVersion":"7"},)"
      R"("managedFields":[{"f":{"f:metadata":{"f:uid":{}}}}],"name":"n"}})",
      R"({"a":[1,2,{"b":null}],"metadata":{"generation":3,"name":"x","selfLink":"/s"},"z":1.5})",
      R"({"metadata":{"name":"\u00e9t\u00e9","zz":true},"status":{"phase":"Running"}})",
  };
  for (const char* c : cases) {
    json obj = json::parse(c);
    std::string dumped = obj.dump();
    auto spliced = SpliceResourceVersion(dumped, "12345");
    ASSERT_TRUE(spliced.has_value()) << c;
    obj["metadata"]["resourceVersion"] = "12345";
    EXPECT_EQ(*spliced, obj.dump()) << c;
  }
}

TEST(SpliceResourceVersionTest, RefusesWhatItCannotPlace) {
  for (const char* c : {R"({"kind":"Pod"})", R"({"metadata":"x"})", R"([1,2])",
                        R"({"metadata":{"resourceVersion":"1"}})", R"({"metadata":{"a\"b":1}})",
                        R"({"metadata":{"name":"x")", ""}) {
    std::string dumped = c;
    EXPECT_FALSE(SpliceResourceVersion(dumped, "1").has_value()) << c;
  }
}

// Collects events; lets a test wait for a count without sleeping.// Collects events; lets a test
// wait for a count without sleeping.
class RecordingSink : public WatchSink {
 public:
  bool OnEvent(WatchEventType type, const ObjectPtr& obj) override {
    std::lock_guard l(mu_);
    events_.push_back({type, obj->object["metadata"].value("name", ""), obj->resource_version});
    cv_.notify_all();
    return keep_going_;
  }
  void OnError(const absl::Status& s) override {
    std::lock_guard l(mu_);
    error_ = s;
    cv_.notify_all();
  }
  struct Ev {
    WatchEventType type;
    std::string name;
    int64_t rv;
  };
  std::vector<Ev> WaitFor(size_t n) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::seconds(5), [&] { return events_.size() >= n; });
    return events_;
  }
  bool OnBookmark(int64_t revision) override {
    std::lock_guard l(mu_);
    events_.push_back({WatchEventType::kModified, "<bookmark>", revision});
    cv_.notify_all();
    return true;
  }
  bool keep_going_ = true;
  absl::Status error_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Ev> events_;
};

std::string Obj(const std::string& name, const std::string& app) {
  return json{{"metadata", {{"name", name}, {"labels", {{"app", app}}}}}}.dump();
}

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = storage::NewMemoryBackend();
    ASSERT_TRUE(backend_->Create("/registry/pods/ns1/a", Obj("a", "web")).ok());
    cache_ = std::make_unique<WatchCache>(backend_.get(), /*history=*/4);
    ASSERT_TRUE(cache_->Start().ok());
  }
  std::unique_ptr<storage::Backend> backend_;
  std::unique_ptr<WatchCache> cache_;
};

TEST_F(WatchCacheTest, LoadsExistingStateAndSetsResourceVersion) {
  auto obj = cache_->Get("/registry/pods/ns1/a");
  ASSERT_NE(obj, nullptr);
  EXPECT_EQ(obj->object["metadata"]["resourceVersion"], std::to_string(obj->resource_version));
  EXPECT_EQ(cache_->Revision(), backend_->CurrentRevision());
}

TEST_F(WatchCacheTest, WaitFreshSeesEveryCommittedWrite) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(backend_->Create("/registry/pods/ns1/p" + std::to_string(i), Obj("p", "x")).ok());
    ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
    ASSERT_NE(cache_->Get("/registry/pods/ns1/p" + std::to_string(i)), nullptr);
  }
}

TEST_F(WatchCacheTest, AnnouncedWriteIsTakenInsteadOfDecoded) {
  const std::string key = "/registry/pods/ns1/announced";
  auto pending = std::make_shared<PendingWrite>(key, json::parse(Obj("announced", "web")));
  cache_->BeginWrite(pending);
  auto rev = backend_->Create(key, pending->value());
  ASSERT_TRUE(rev.ok());
  ObjectPtr written = pending->Finalize(*rev);
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  // The cache holds the writer's snapshot itself (no second decode), with the revision set.
  EXPECT_EQ(cache_->Get(key), written);
  EXPECT_EQ(written->object["metadata"]["resourceVersion"], std::to_string(*rev));
  EXPECT_EQ(json::parse(written->json), written->object);
  // Finalize is idempotent.
  EXPECT_EQ(pending->Finalize(*rev), written);
}

TEST_F(WatchCacheTest, AnnouncementWithOtherBytesIsNotTaken) {
  const std::string key = "/registry/pods/ns1/mismatch";
  auto pending = std::make_shared<PendingWrite>(key, json::parse(Obj("mismatch", "web")));
  cache_->BeginWrite(pending);
  // Someone else's write of the key lands first, with different bytes: it must be decoded.
  ASSERT_TRUE(backend_->Create(key, Obj("mismatch", "other")).ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  auto got = cache_->Get(key);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->object["metadata"]["labels"]["app"], "other");
  cache_->AbandonWrite(pending);
  EXPECT_EQ(pending->object()["metadata"]["labels"]["app"], "web");  // untouched
}

TEST_F(WatchCacheTest, IdenticalBytesFromTwoWritersGetTheirOwnRevisions) {
  const std::string key = "/registry/pods/ns1/twin";
  auto a = std::make_shared<PendingWrite>(key, json::parse(Obj("twin", "web")));
  auto b = std::make_shared<PendingWrite>(key, json::parse(Obj("twin", "web")));
  cache_->BeginWrite(a);
  cache_->BeginWrite(b);
  auto r1 = backend_->Create(key, b->value());
  ASSERT_TRUE(r1.ok());
  auto r2 = backend_->Update(key, a->value(), *r1);
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  // Whichever announcement each event took, every writer's snapshot carries its own revision.
  EXPECT_EQ(b->Finalize(*r1)->resource_version, *r1);
  EXPECT_EQ(a->Finalize(*r2)->resource_version, *r2);
  EXPECT_EQ(b->Finalize(*r1)->object["metadata"]["resourceVersion"], std::to_string(*r1));
  EXPECT_EQ(cache_->Get(key)->resource_version, *r2);
}

TEST_F(WatchCacheTest, ListFiltersPrefixAndPages) {
  ASSERT_TRUE(backend_->Create("/registry/pods/ns1/b", Obj("b", "api")).ok());
  ASSERT_TRUE(backend_->Create("/registry/pods/ns2/c", Obj("c", "web")).ok());
  ASSERT_TRUE(backend_->Create("/registry/services/ns1/s", Obj("s", "web")).ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  auto all = cache_->List("/registry/pods/", "", 0, nullptr);
  EXPECT_EQ(all.items.size(), 3u);
  auto ns1 = cache_->List("/registry/pods/ns1/", "", 0, nullptr);
  EXPECT_EQ(ns1.items.size(), 2u);
  auto web = cache_->List("/registry/pods/", "", 0, [](const CachedObject& o) {
    return o.object["metadata"]["labels"]["app"] == "web";
  });
  EXPECT_EQ(web.items.size(), 2u);
  auto page1 = cache_->List("/registry/pods/", "", 2, nullptr);
  ASSERT_EQ(page1.items.size(), 2u);
  EXPECT_TRUE(page1.more);
  auto page2 = cache_->List("/registry/pods/", page1.next_key, 2, nullptr);
  ASSERT_EQ(page2.items.size(), 1u);
  EXPECT_FALSE(page2.more);
  EXPECT_EQ(page2.items[0]->key, "/registry/pods/ns2/c");
}

TEST_F(WatchCacheTest, WatchFromZeroSendsInitialStateThenChanges) {
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(cache_->Watch("/registry/pods/", 0, nullptr, sink).ok());
  ASSERT_TRUE(backend_->Create("/registry/pods/ns1/b", Obj("b", "api")).ok());
  auto rev = backend_->Update("/registry/pods/ns1/b", Obj("b", "api2"), 0);
  ASSERT_TRUE(rev.ok());
  ASSERT_TRUE(backend_->Delete("/registry/pods/ns1/b", 0).ok());
  auto ev = sink->WaitFor(4);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, WatchEventType::kAdded);
  EXPECT_EQ(ev[0].name, "a");
  EXPECT_EQ(ev[1].type, WatchEventType::kAdded);
  EXPECT_EQ(ev[2].type, WatchEventType::kModified);
  EXPECT_EQ(ev[2].rv, *rev);
  EXPECT_EQ(ev[3].type, WatchEventType::kDeleted);
  EXPECT_GT(ev[3].rv, ev[2].rv);
}

TEST_F(WatchCacheTest, SelectorTransitionsBecomeAddedAndDeleted) {
  auto sink = std::make_shared<RecordingSink>();
  ObjectFilter web = [](const CachedObject& o) {
    return o.object["metadata"]["labels"]["app"] == "web";
  };
  ASSERT_TRUE(cache_->Watch("/registry/pods/", cache_->Revision(), web, sink).ok());
  ASSERT_TRUE(backend_->Update("/registry/pods/ns1/a", Obj("a", "api"), 0).ok());  // leaves
  ASSERT_TRUE(backend_->Update("/registry/pods/ns1/a", Obj("a", "web"), 0).ok());  // enters
  auto ev = sink->WaitFor(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, WatchEventType::kDeleted);
  EXPECT_EQ(ev[1].type, WatchEventType::kAdded);
}

TEST_F(WatchCacheTest, ResumesFromHistoryAndExpiresOldRevisions) {
  int64_t start = cache_->Revision();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(backend_->Create("/registry/pods/ns1/r" + std::to_string(i), Obj("r", "x")).ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(cache_->Watch("/registry/pods/", start, nullptr, sink).ok());
  EXPECT_EQ(sink->WaitFor(3).size(), 3u);
  // History holds 4 events; push more so `start` falls out.
  for (int i = 3; i < 9; ++i)
    ASSERT_TRUE(backend_->Create("/registry/pods/ns1/r" + std::to_string(i), Obj("r", "x")).ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  auto late = cache_->Watch("/registry/pods/", start, nullptr, std::make_shared<RecordingSink>());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(late.status().message().find("too old resource version"), std::string::npos);
}

TEST_F(WatchCacheTest, BookmarkCarriesTheRevisionAfterDeliveredEvents) {
  auto sink = std::make_shared<RecordingSink>();
  auto id = cache_->Watch("/registry/pods/", cache_->Revision(), nullptr, sink);
  ASSERT_TRUE(id.ok());
  // A write to another resource still moves the revision a bookmark reports.
  auto bm = backend_->Create("/registry/pods/ns1/bm", Obj("bm", "x"));
  ASSERT_TRUE(bm.ok());
  auto other = backend_->Create("/registry/services/ns1/s", Obj("s", "x"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  // A bookmark carries the revision delivered so far, which may trail the writes for a moment
  // (WaitFresh says the cache has them, not that the watchers got them): ask until it reaches
  // the services write (bounded), then check none ran ahead of the events.
  std::vector<RecordingSink::Ev> ev;
  for (int i = 0; i < 2000; ++i) {
    cache_->Bookmark(*id);
    ev = sink->WaitFor(ev.size() + 1);
    if (!ev.empty() && ev.back().name == "<bookmark>" && ev.back().rv == *other) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().name, "<bookmark>");
  EXPECT_EQ(ev.back().rv, *other);
  bool saw_bm = false;
  for (const auto& e : ev) {
    if (e.name == "bm") saw_bm = true;
    if (e.name == "<bookmark>" && e.rv >= *bm) EXPECT_TRUE(saw_bm) << "bookmark before bm's event";
  }
  EXPECT_TRUE(saw_bm);
}

TEST_F(WatchCacheTest, SinkReturningFalseEndsWatch) {
  auto sink = std::make_shared<RecordingSink>();
  sink->keep_going_ = false;
  ASSERT_TRUE(cache_->Watch("/registry/pods/", cache_->Revision(), nullptr, sink).ok());
  EXPECT_EQ(cache_->WatcherCount(), 1u);
  ASSERT_TRUE(backend_->Create("/registry/pods/ns1/z", Obj("z", "x")).ok());
  sink->WaitFor(1);
  ASSERT_TRUE(cache_->WaitFresh(std::chrono::seconds(5)));
  // The sink records the event before its `false` reaches the cache, which then drops the
  // watcher: wait (bounded) for that rather than racing it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (cache_->WatcherCount() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(cache_->WatcherCount(), 0u);
}

TEST_F(WatchCacheTest, ConcurrentWritersAllEventsInOrderExactlyOnce) {
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(cache_->Watch("/registry/pods/", cache_->Revision(), nullptr, sink).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i)
        (void)backend_->Create("/registry/pods/c/" + std::to_string(t) + "-" + std::to_string(i),
                               Obj("c", "x"));
    });
  }
  for (auto& th : threads) th.join();
  auto ev = sink->WaitFor(200);
  ASSERT_EQ(ev.size(), 200u);
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_LT(ev[i - 1].rv, ev[i].rv);
}

}  // namespace
}  // namespace korral::apiserver
