#include "korral/storage/testing/conformance.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <gmock/gmock.h>

namespace korral::storage::testing {

int BackendConformanceTestsLinked() { return 1; }

std::string BackendConformanceParamName(
    const ::testing::TestParamInfo<BackendConformanceParam>& info) {
  return info.param.name;
}

void BackendConformanceTest::SetUp() {
  harness_ = GetParam().make_harness();
  ASSERT_NE(harness_, nullptr);
  auto b = harness_->Open();
  ASSERT_TRUE(b.ok()) << b.status();
  backend_ = std::move(*b);
}

void BackendConformanceTest::TearDown() {
  backend_.reset();
  harness_.reset();
}

void BackendConformanceTest::Reopen() {
  backend_.reset();
  auto b = harness_->Open();
  ASSERT_TRUE(b.ok()) << b.status();
  backend_ = std::move(*b);
}

WatchHandler EventCollector::Handler() {
  WatchHandler h;
  h.on_events = [this](const std::vector<Event>& events) {
    std::lock_guard l(mu_);
    if (in_callback_ || after_error_) overlapped_ = true;
    in_callback_ = true;
    ++calls_;
    events_.insert(events_.end(), events.begin(), events.end());
    in_callback_ = false;
    cv_.notify_all();
  };
  h.on_error = [this](const absl::Status& st) {
    std::lock_guard l(mu_);
    if (in_callback_ || after_error_) overlapped_ = true;
    after_error_ = true;
    error_ = st;
    cv_.notify_all();
  };
  return h;
}

bool EventCollector::WaitForEvents(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return cv_.wait_for(l, timeout, [&] { return events_.size() >= n; });
}

std::optional<absl::Status> EventCollector::WaitForError(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] { return error_.has_value(); });
  return error_;
}

std::vector<Event> EventCollector::events() const {
  std::lock_guard l(mu_);
  return events_;
}
size_t EventCollector::calls() const {
  std::lock_guard l(mu_);
  return calls_;
}
bool EventCollector::overlapped() const {
  std::lock_guard l(mu_);
  return overlapped_;
}

namespace {

using ::testing::ElementsAre;

std::vector<std::string> Keys(const RangeResponse& r) {
  std::vector<std::string> out;
  for (const auto& kv : r.kvs) out.push_back(kv.key);
  return out;
}

std::vector<int64_t> Revisions(const std::vector<Event>& events) {
  std::vector<int64_t> out;
  for (const auto& e : events) out.push_back(e.kv.mod_revision);
  return out;
}

RangeRequest Prefix(std::string_view prefix, int64_t limit = 0, int64_t revision = 0) {
  RangeRequest r;
  r.start = std::string(prefix);
  r.end = PrefixEnd(prefix);
  r.limit = limit;
  r.revision = revision;
  return r;
}

#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                              \
  ASSERT_TRUE(var.ok()) << var.status();          \
  lhs = std::move(*var)
#define ASSERT_OK_AND_ASSIGN_CAT2(a, b) a##b
#define ASSERT_OK_AND_ASSIGN_CAT(a, b) ASSERT_OK_AND_ASSIGN_CAT2(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(ASSERT_OK_AND_ASSIGN_CAT(status_or_, __LINE__), lhs, expr)

TEST_P(BackendConformanceTest, EmptyStore) {
  EXPECT_EQ(backend().CurrentRevision(), 0);
  EXPECT_EQ(backend().CompactRevision(), 0);
  EXPECT_EQ(backend().Get("/a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(RangeResponse r, backend().Range(Prefix("/")));
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_FALSE(r.more);
}

TEST_P(BackendConformanceTest, CreateAndGet) {
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/a", "one"));
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Create("/b", std::string("\0bin\xff", 5)));
  EXPECT_GT(r1, 0);
  EXPECT_EQ(r2, r1 + 1);
  EXPECT_EQ(backend().CurrentRevision(), r2);
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/a"));
  EXPECT_EQ(a.key, "/a");
  EXPECT_EQ(a.value, "one");
  EXPECT_EQ(a.create_revision, r1);
  EXPECT_EQ(a.mod_revision, r1);
  ASSERT_OK_AND_ASSIGN(KeyValue b, backend().Get("/b"));
  EXPECT_EQ(b.value, std::string("\0bin\xff", 5));
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Create("/empty", ""));
  ASSERT_OK_AND_ASSIGN(KeyValue e, backend().Get("/empty"));
  EXPECT_EQ(e.value, "");
  EXPECT_EQ(e.mod_revision, r3);
}

TEST_P(BackendConformanceTest, CreateExistingIsAlreadyExistsAndConsumesNoRevision) {
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/a", "one"));
  EXPECT_EQ(backend().Create("/a", "two").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(backend().CurrentRevision(), r1);
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/a"));
  EXPECT_EQ(a.value, "one");
}

TEST_P(BackendConformanceTest, EmptyKeyIsInvalid) {
  EXPECT_EQ(backend().Create("", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().Update("", "x", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().Delete("", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend().Get("").status().code(), absl::StatusCode::kInvalidArgument);
  RangeRequest bad;
  EXPECT_EQ(backend().Range(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.start = "/b";
  bad.end = "/a";
  EXPECT_EQ(backend().Range(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(BackendConformanceTest, UpdateWithPreconditions) {
  EXPECT_EQ(backend().Update("/a", "x", 0).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/a", "v1"));
  EXPECT_EQ(backend().Update("/a", "x", r1 + 100).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(backend().CurrentRevision(), r1);
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Update("/a", "v2", r1));
  EXPECT_EQ(r2, r1 + 1);
  EXPECT_EQ(backend().Update("/a", "x", r1).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Update("/a", "v3", 0));  // unconditional
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/a"));
  EXPECT_EQ(a.value, "v3");
  EXPECT_EQ(a.create_revision, r1);
  EXPECT_EQ(a.mod_revision, r3);
}

TEST_P(BackendConformanceTest, DeleteWithPreconditions) {
  EXPECT_EQ(backend().Delete("/a", 0).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/a", "v1"));
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Update("/a", "v2", 0));
  EXPECT_EQ(backend().Delete("/a", r1).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/a", r2));
  EXPECT_EQ(d.key, "/a");
  EXPECT_EQ(d.value, "v2");
  EXPECT_EQ(d.create_revision, r1);
  EXPECT_EQ(d.mod_revision, r2 + 1);
  EXPECT_EQ(backend().CurrentRevision(), r2 + 1);
  EXPECT_EQ(backend().Get("/a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend().Delete("/a", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(backend().Update("/a", "x", 0).status().code(), absl::StatusCode::kNotFound);
  // Re-creating starts a new life: a fresh create revision.
  ASSERT_OK_AND_ASSIGN(int64_t r4, backend().Create("/a", "again"));
  EXPECT_EQ(r4, r2 + 2);
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/a"));
  EXPECT_EQ(a.create_revision, r4);
  ASSERT_OK_AND_ASSIGN(KeyValue d2, backend().Delete("/a", 0));
  EXPECT_EQ(d2.value, "again");
}

TEST_P(BackendConformanceTest, RangeWithPrefixLimitAndContinue) {
  for (const char* k : {"/a/3", "/a/1", "/b/1", "/a/5", "/a/2", "/a/4", "/a", "/a0"}) {
    ASSERT_TRUE(backend().Create(k, std::string("v") + k).ok());
  }
  ASSERT_OK_AND_ASSIGN(RangeResponse all, backend().Range(Prefix("/a/")));
  EXPECT_THAT(Keys(all), ElementsAre("/a/1", "/a/2", "/a/3", "/a/4", "/a/5"));
  EXPECT_FALSE(all.more);
  EXPECT_EQ(all.revision, backend().CurrentRevision());
  EXPECT_EQ(all.kvs[0].value, "v/a/1");

  // Page through with limit 2, continuing after the last key returned.
  std::vector<std::string> paged;
  RangeRequest req = Prefix("/a/", 2);
  int pages = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(RangeResponse page, backend().Range(req));
    ++pages;
    ASSERT_LE(page.kvs.size(), 2u);
    for (const auto& kv : page.kvs) paged.push_back(kv.key);
    if (!page.more) break;
    ASSERT_EQ(page.kvs.size(), 2u);
    req.start = page.kvs.back().key + std::string(1, '\0');
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged, Keys(all));

  // An exact limit: more must be false.
  ASSERT_OK_AND_ASSIGN(RangeResponse exact, backend().Range(Prefix("/a/", 5)));
  EXPECT_EQ(exact.kvs.size(), 5u);
  EXPECT_FALSE(exact.more);

  // A single key (end empty).
  RangeRequest one;
  one.start = "/a";
  ASSERT_OK_AND_ASSIGN(RangeResponse single, backend().Range(one));
  EXPECT_THAT(Keys(single), ElementsAre("/a"));

  // Everything (PrefixEnd("") is the unbounded marker).
  ASSERT_OK_AND_ASSIGN(RangeResponse every, backend().Range(Prefix("")));
  EXPECT_EQ(every.kvs.size(), 8u);
  EXPECT_EQ(every.kvs.front().key, "/a");
  EXPECT_EQ(every.kvs.back().key, "/b/1");

  // Deleted keys disappear from ranges.
  ASSERT_TRUE(backend().Delete("/a/3", 0).ok());
  ASSERT_OK_AND_ASSIGN(RangeResponse after, backend().Range(Prefix("/a/")));
  EXPECT_THAT(Keys(after), ElementsAre("/a/1", "/a/2", "/a/4", "/a/5"));
}

TEST_P(BackendConformanceTest, RangeAtPastRevision) {
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/p/k1", "v1"));
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Update("/p/k1", "v2", r1));
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Create("/p/k2", "w1"));
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/p/k1", 0));
  const int64_t r4 = d.mod_revision;
  ASSERT_OK_AND_ASSIGN(int64_t r5, backend().Create("/p/k1", "v3"));

  ASSERT_OK_AND_ASSIGN(RangeResponse at1, backend().Range(Prefix("/p/", 0, r1)));
  ASSERT_EQ(at1.kvs.size(), 1u);
  EXPECT_EQ(at1.revision, r1);
  EXPECT_EQ(at1.kvs[0].value, "v1");
  EXPECT_EQ(at1.kvs[0].mod_revision, r1);

  ASSERT_OK_AND_ASSIGN(RangeResponse at3, backend().Range(Prefix("/p/", 0, r3)));
  ASSERT_EQ(at3.kvs.size(), 2u);
  EXPECT_EQ(at3.kvs[0].value, "v2");
  EXPECT_EQ(at3.kvs[0].create_revision, r1);
  EXPECT_EQ(at3.kvs[0].mod_revision, r2);
  EXPECT_EQ(at3.kvs[1].value, "w1");

  ASSERT_OK_AND_ASSIGN(RangeResponse at4, backend().Range(Prefix("/p/", 0, r4)));
  EXPECT_THAT(Keys(at4), ElementsAre("/p/k2"));

  // Limit applies at past revisions too.
  ASSERT_OK_AND_ASSIGN(RangeResponse lim, backend().Range(Prefix("/p/", 1, r3)));
  EXPECT_THAT(Keys(lim), ElementsAre("/p/k1"));
  EXPECT_TRUE(lim.more);

  RangeRequest single;
  single.start = "/p/k1";
  single.revision = r4;
  ASSERT_OK_AND_ASSIGN(RangeResponse gone, backend().Range(single));
  EXPECT_TRUE(gone.kvs.empty());

  ASSERT_OK_AND_ASSIGN(RangeResponse now, backend().Range(Prefix("/p/", 0, r5)));
  ASSERT_EQ(now.kvs.size(), 2u);
  EXPECT_EQ(now.kvs[0].value, "v3");
  EXPECT_EQ(now.kvs[0].create_revision, r5);

  EXPECT_EQ(backend().Range(Prefix("/p/", 0, r5 + 1)).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST_P(BackendConformanceTest, WatchFromNowDeliversOrderedFilteredEvents) {
  ASSERT_OK_AND_ASSIGN(int64_t r0, backend().Create("/w/before", "x"));
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/w/", 0, c.Handler()));
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/w/a", "1"));
  ASSERT_TRUE(backend().Create("/other", "o").ok());
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Update("/w/a", "2", r1));
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/w/a", 0));
  ASSERT_OK_AND_ASSIGN(KeyValue d0, backend().Delete("/w/before", r0));
  ASSERT_TRUE(c.WaitForEvents(4));
  auto ev = c.events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, EventType::kPut);
  EXPECT_EQ(ev[0].kv.key, "/w/a");
  EXPECT_EQ(ev[0].kv.value, "1");
  EXPECT_EQ(ev[0].kv.create_revision, r1);
  EXPECT_EQ(ev[0].kv.mod_revision, r1);
  EXPECT_EQ(ev[0].prev_mod_revision, 0);
  EXPECT_EQ(ev[1].type, EventType::kPut);
  EXPECT_EQ(ev[1].kv.value, "2");
  EXPECT_EQ(ev[1].kv.create_revision, r1);
  EXPECT_EQ(ev[1].kv.mod_revision, r3);
  EXPECT_EQ(ev[1].prev_mod_revision, r1);
  EXPECT_EQ(ev[2].type, EventType::kDelete);
  EXPECT_EQ(ev[2].kv.key, "/w/a");
  EXPECT_EQ(ev[2].kv.value, "2");  // the last state before deletion
  EXPECT_EQ(ev[2].kv.create_revision, r1);
  EXPECT_EQ(ev[2].kv.mod_revision, d.mod_revision);
  EXPECT_EQ(ev[2].prev_mod_revision, r3);
  EXPECT_EQ(ev[3].type, EventType::kDelete);
  EXPECT_EQ(ev[3].kv.key, "/w/before");
  EXPECT_EQ(ev[3].kv.mod_revision, d0.mod_revision);
  EXPECT_FALSE(c.overlapped());
}

TEST_P(BackendConformanceTest, WatchFromPastRevisionReplaysThenContinues) {
  std::vector<int64_t> revs;
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK_AND_ASSIGN(int64_t r, backend().Create("/h/" + std::to_string(i), "v"));
    revs.push_back(r);
    ASSERT_TRUE(backend().Create("/x/" + std::to_string(i), "v").ok());
  }
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/h/2", 0));
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/h/", revs[4], c.Handler()));
  ASSERT_OK_AND_ASSIGN(int64_t live, backend().Create("/h/live", "v"));
  std::vector<int64_t> want(revs.begin() + 4, revs.end());
  want.push_back(d.mod_revision);
  want.push_back(live);
  ASSERT_TRUE(c.WaitForEvents(want.size()));
  auto ev = c.events();
  EXPECT_EQ(Revisions(ev), want);
  EXPECT_EQ(ev[0].kv.key, "/h/4");
  EXPECT_EQ(ev[want.size() - 2].type, EventType::kDelete);
  EXPECT_EQ(ev[want.size() - 2].kv.key, "/h/2");
  EXPECT_EQ(ev[want.size() - 2].kv.value, "v");
  EXPECT_EQ(ev.back().kv.key, "/h/live");

  // A watch from revision 1 sees everything under the prefix, in order.
  EventCollector all;
  ASSERT_OK_AND_ASSIGN(WatchPtr w2, backend().Watch("", 1, all.Handler()));
  const int64_t cur = backend().CurrentRevision();
  ASSERT_TRUE(all.WaitForEvents(cur));
  std::vector<int64_t> expect_all;
  for (int64_t r = 1; r <= cur; ++r) expect_all.push_back(r);
  EXPECT_EQ(Revisions(all.events()), expect_all);
}

TEST_P(BackendConformanceTest, WatchInTheFutureStartsAtThatRevision) {
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/f/a", "1"));
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/f/", r1 + 2, c.Handler()));
  ASSERT_TRUE(backend().Create("/f/b", "2").ok());  // r1 + 1: before the start
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Create("/f/c", "3"));
  ASSERT_TRUE(c.WaitForEvents(1));
  EXPECT_EQ(Revisions(c.events()), std::vector<int64_t>{r3});
}

TEST_P(BackendConformanceTest, ConcurrentWritesAreWatchedExactlyOnceInOrder) {
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/c/", 0, c.Handler()));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 60;
  std::mutex mu;
  std::set<int64_t> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "/c/" + std::to_string(t) + "/" + std::to_string(i);
        auto r = backend().Create(key, "v");
        ASSERT_TRUE(r.ok()) << r.status();
        // Interleave unwatched writes.
        ASSERT_TRUE(backend().Create("/u/" + std::to_string(t) + "/" + std::to_string(i), "").ok());
        std::lock_guard l(mu);
        acked.insert(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(acked.size(), static_cast<size_t>(kThreads * kPerThread));
  ASSERT_TRUE(c.WaitForEvents(acked.size()));
  auto revs = Revisions(c.events());
  EXPECT_EQ(revs.size(), acked.size());
  EXPECT_TRUE(std::is_sorted(revs.begin(), revs.end()));
  EXPECT_EQ(std::set<int64_t>(revs.begin(), revs.end()), acked);
  EXPECT_FALSE(c.overlapped());
  EXPECT_EQ(backend().CurrentRevision(), 2 * kThreads * kPerThread);
}

TEST_P(BackendConformanceTest, WatchFromPastDuringConcurrentWritesHasNoGapOrDuplicate) {
  std::atomic<bool> stop{false};
  // Spins (bounded) until the writers reach revision r.
  auto WaitForRevision = [&](int64_t r) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (backend().CurrentRevision() < r && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
  };
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        ASSERT_TRUE(
            backend().Create("/r/" + std::to_string(t) + "/" + std::to_string(i), "v").ok());
      }
    });
  }
  // Start several watches from the past while writes keep coming.
  std::vector<std::unique_ptr<EventCollector>> collectors;
  std::vector<WatchPtr> watches;
  std::vector<int64_t> starts;
  for (int k = 0; k < 5; ++k) {
    WaitForRevision(20 * (k + 1));
    int64_t start = std::max<int64_t>(1, backend().CurrentRevision() - 10);
    collectors.push_back(std::make_unique<EventCollector>());
    ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("", start, collectors.back()->Handler()));
    watches.push_back(std::move(w));
    starts.push_back(start);
  }
  WaitForRevision(150);
  stop = true;
  for (auto& t : writers) t.join();
  const int64_t end = backend().CurrentRevision();
  for (size_t k = 0; k < collectors.size(); ++k) {
    ASSERT_TRUE(collectors[k]->WaitForEvents(end - starts[k] + 1));
    std::vector<int64_t> want;
    for (int64_t r = starts[k]; r <= end; ++r) want.push_back(r);
    EXPECT_EQ(Revisions(collectors[k]->events()), want) << "watch " << k;
  }
}

TEST_P(BackendConformanceTest, CancelStopsDelivery) {
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/k/", 0, c.Handler()));
  ASSERT_TRUE(backend().Create("/k/1", "v").ok());
  ASSERT_TRUE(c.WaitForEvents(1));
  w->Cancel();
  const size_t calls = c.calls();
  ASSERT_TRUE(backend().Create("/k/2", "v").ok());
  // A second watch proves the event was delivered elsewhere before checking the first.
  EventCollector probe;
  ASSERT_OK_AND_ASSIGN(WatchPtr w2,
                       backend().Watch("/k/", backend().CurrentRevision(), probe.Handler()));
  ASSERT_TRUE(probe.WaitForEvents(1));
  EXPECT_EQ(c.calls(), calls);
  w.reset();  // destroying after Cancel is fine
}

TEST_P(BackendConformanceTest, CancelFromInsideTheHandler) {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  WatchPtr w;
  WatchHandler h;
  h.on_events = [&](const std::vector<Event>&) {
    std::lock_guard l(mu);
    ++calls;
    w->Cancel();  // must not deadlock
    cv.notify_all();
  };
  {
    std::lock_guard l(mu);
    ASSERT_OK_AND_ASSIGN(w, backend().Watch("/i/", 0, h));
  }
  ASSERT_TRUE(backend().Create("/i/1", "v").ok());
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return calls == 1; }));
  l.unlock();
  ASSERT_TRUE(backend().Create("/i/2", "v").ok());
  EventCollector probe;
  ASSERT_OK_AND_ASSIGN(WatchPtr w2,
                       backend().Watch("/i/", backend().CurrentRevision(), probe.Handler()));
  ASSERT_TRUE(probe.WaitForEvents(1));
  l.lock();
  EXPECT_EQ(calls, 1);
}

TEST_P(BackendConformanceTest, ClosingTheBackendEndsWatchesWithCancelled) {
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/", 0, c.Handler()));
  backend_.reset();
  auto st = c.WaitForError();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->code(), absl::StatusCode::kCancelled);
  w.reset();  // the handle may outlive the backend
}

TEST_P(BackendConformanceTest, CompactionMakesOldRevisionsOutOfRange) {
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/m/a", "a1"));
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Create("/m/b", "b1"));
  ASSERT_OK_AND_ASSIGN(int64_t r3, backend().Update("/m/a", "a2", r1));
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/m/b", r2));  // r4
  ASSERT_OK_AND_ASSIGN(int64_t r5, backend().Create("/m/c", "c1"));
  ASSERT_OK_AND_ASSIGN(int64_t r6, backend().Update("/m/a", "a3", r3));

  EXPECT_EQ(backend().Compact(r6 + 1).code(), absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(backend().Compact(r5).ok());
  EXPECT_EQ(backend().CompactRevision(), r5);
  EXPECT_TRUE(backend().Compact(r2).ok());  // at or below: no-op
  EXPECT_EQ(backend().CompactRevision(), r5);

  EXPECT_EQ(backend().Range(Prefix("/m/", 0, r3)).status().code(), absl::StatusCode::kOutOfRange);
  ASSERT_OK_AND_ASSIGN(RangeResponse at5, backend().Range(Prefix("/m/", 0, r5)));
  ASSERT_EQ(at5.kvs.size(), 2u);
  EXPECT_EQ(at5.kvs[0].key, "/m/a");
  EXPECT_EQ(at5.kvs[0].value, "a2");
  EXPECT_EQ(at5.kvs[1].key, "/m/c");
  ASSERT_OK_AND_ASSIGN(RangeResponse now, backend().Range(Prefix("/m/")));
  ASSERT_EQ(now.kvs.size(), 2u);
  EXPECT_EQ(now.kvs[0].value, "a3");
  EXPECT_EQ(now.kvs[0].create_revision, r1);

  EventCollector old_watch;
  EXPECT_EQ(backend().Watch("/m/", d.mod_revision, old_watch.Handler()).status().code(),
            absl::StatusCode::kOutOfRange);
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/m/", r5, c.Handler()));
  ASSERT_TRUE(c.WaitForEvents(2));
  EXPECT_EQ(Revisions(c.events()), (std::vector<int64_t>{r5, r6}));

  // Compacting everything keeps the current state.
  ASSERT_TRUE(backend().Compact(r6).ok());
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/m/a"));
  EXPECT_EQ(a.value, "a3");
  EXPECT_EQ(backend().Get("/m/b").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(int64_t r7, backend().Create("/m/b", "b2"));
  EXPECT_EQ(r7, r6 + 1);
}

TEST_P(BackendConformanceTest, RevisionsStayMonotonicAcrossRestart) {
  if (!harness_->persistent()) GTEST_SKIP() << "backend is not persistent";
  ASSERT_OK_AND_ASSIGN(int64_t r1, backend().Create("/s/a", "1"));
  ASSERT_OK_AND_ASSIGN(int64_t r2, backend().Create("/s/b", "2"));
  ASSERT_TRUE(backend().Compact(r2).ok());
  ASSERT_OK_AND_ASSIGN(KeyValue d, backend().Delete("/s/b", 0));  // the last write is a delete
  Reopen();
  EXPECT_EQ(backend().CurrentRevision(), d.mod_revision);
  EXPECT_EQ(backend().CompactRevision(), r2);
  ASSERT_OK_AND_ASSIGN(KeyValue a, backend().Get("/s/a"));
  EXPECT_EQ(a.mod_revision, r1);
  EXPECT_EQ(backend().Get("/s/b").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(int64_t r4, backend().Create("/s/b", "again"));
  EXPECT_EQ(r4, d.mod_revision + 1);
  // History before the restart is still watchable.
  EventCollector c;
  ASSERT_OK_AND_ASSIGN(WatchPtr w, backend().Watch("/s/", r2, c.Handler()));
  ASSERT_TRUE(c.WaitForEvents(3));
  EXPECT_EQ(Revisions(c.events()), (std::vector<int64_t>{r2, d.mod_revision, r4}));
}

TEST_P(BackendConformanceTest, ConcurrentCreatesOfOneKeyHaveOneWinner) {
  constexpr int kThreads = 16;
  std::atomic<int> ok{0}, exists{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto r = backend().Create("/once", std::to_string(t));
      if (r.ok()) {
        ++ok;
      } else if (r.status().code() == absl::StatusCode::kAlreadyExists) {
        ++exists;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(backend().CurrentRevision(), 1);
}

TEST_P(BackendConformanceTest, ConcurrentCompareAndSwapLosesNoIncrement) {
  ASSERT_TRUE(backend().Create("/counter", "0").ok());
  constexpr int kThreads = 8;
  constexpr int kIncrements = 25;
  std::vector<std::thread> threads;
  std::atomic<int> conflicts{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        auto cur = backend().Get("/counter");
        ASSERT_TRUE(cur.ok()) << cur.status();
        auto r = backend().Update("/counter", std::to_string(std::stoi(cur->value) + 1),
                                  cur->mod_revision);
        if (r.ok()) {
          ++i;
        } else {
          ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK_AND_ASSIGN(KeyValue kv, backend().Get("/counter"));
  EXPECT_EQ(kv.value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(backend().CurrentRevision(), 1 + kThreads * kIncrements);
}

}  // namespace
}  // namespace korral::storage::testing
