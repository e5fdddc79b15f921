// storage_bench: concurrent create throughput (group commit) and get/range rates of the storage
// backends, with latency percentiles. A plain program, so it can print p50/p99 per scenario.
//
// Usage: storage_bench [--backend=all|memory|sqlite] [--duration_ms=2000]
//                      [--threads=1,8,64] [--value_bytes=1500] [--dir=/tmp] [--creates_only]
//                      [--checkpoint_wal_pages=N]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/storage/memory/memory.h"
#include "korral/storage/sqlite/sqlite.h"

namespace {

using Clock = std::chrono::steady_clock;
using korral::storage::Backend;

struct Flags {
  std::string backend = "all";
  int duration_ms = 2000;
  std::vector<int> threads = {1, 8, 64};
  size_t value_bytes = 1500;
  std::string dir = std::filesystem::temp_directory_path().string();
  bool creates_only = false;
  long checkpoint_wal_pages = -1;  // -1: the backend default
};

struct Result {
  int64_t ops = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

// Runs op(thread, i) on `threads` threads for duration_ms; returns rate and latencies.
Result Run(int threads, int duration_ms, const std::function<bool(int, int64_t)>& op) {
  std::vector<std::vector<double>> lat(threads);
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<std::thread> ts;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto s = Clock::now();
        if (!op(t, i)) {
          failed = true;
          return;
        }
        lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(duration_ms));
  stop = true;
  for (auto& t : ts) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  if (failed) std::fprintf(stderr, "an operation failed\n");
  r.ops = static_cast<int64_t>(all.size());
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    r.p50_ms = all[all.size() / 2];
    r.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
    r.max_ms = all.back();
  }
  return r;
}

void Print(const std::string& backend, const std::string& what, int threads, const Result& r) {
  std::printf("%-8s %-22s threads=%-3d %10.0f ops/s   p50=%7.3f ms  p99=%7.3f ms  max=%7.2f ms\n",
              backend.c_str(), what.c_str(), threads, r.ops / r.seconds, r.p50_ms, r.p99_ms,
              r.max_ms);
  std::fflush(stdout);
}

void Bench(const std::string& name, const std::function<std::unique_ptr<Backend>()>& open,
           const Flags& f) {
  const std::string value(f.value_bytes, 'v');
  for (int threads : f.threads) {
    auto b = open();
    Result r = Run(threads, f.duration_ms, [&](int t, int64_t i) {
      return b->Create(fmt::format("/registry/pods/ns{}/pod-{}", t, i), value).ok();
    });
    Print(name, "create", threads, r);
  }
  if (f.creates_only) return;
  {
    // Updates of existing keys with a precondition, like GuaranteedUpdate.
    auto b = open();
    constexpr int kKeys = 1000;
    for (int k = 0; k < kKeys; ++k) (void)b->Create(fmt::format("/u/{}", k), value);
    const int threads = f.threads.back();
    Result r = Run(threads, f.duration_ms, [&](int t, int64_t i) {
      std::string key = fmt::format("/u/{}", (t * 7919 + i) % kKeys);
      auto cur = b->Get(key);
      if (!cur.ok()) return false;
      auto st = b->Update(key, value, cur->mod_revision);
      return st.ok() || st.status().code() == absl::StatusCode::kFailedPrecondition;
    });
    Print(name, "get+update(cas)", threads, r);
  }
  {
    auto b = open();
    constexpr int kNamespaces = 100, kPerNs = 100;
    for (int n = 0; n < kNamespaces; ++n) {
      for (int p = 0; p < kPerNs; ++p) {
        (void)b->Create(fmt::format("/registry/pods/ns{:03}/pod-{:03}", n, p), value);
      }
    }
    for (int threads : {1, 2}) {
      Result r = Run(threads, f.duration_ms, [&](int t, int64_t i) {
        uint64_t x = (i * 2654435761u + t) % (kNamespaces * kPerNs);
        return b->Get(fmt::format("/registry/pods/ns{:03}/pod-{:03}", x / kPerNs, x % kPerNs)).ok();
      });
      Print(name, "get", threads, r);
    }
    for (int threads : {1, 2}) {
      Result r = Run(threads, f.duration_ms, [&](int t, int64_t i) {
        korral::storage::RangeRequest req;
        req.start = fmt::format("/registry/pods/ns{:03}/", (i + t) % kNamespaces);
        req.end = korral::storage::PrefixEnd(req.start);
        auto resp = b->Range(req);
        return resp.ok() && resp->kvs.size() == kPerNs;
      });
      Print(name, "range(100 keys)", threads, r);
    }
    Result r = Run(1, f.duration_ms, [&](int, int64_t) {
      korral::storage::RangeRequest req;
      req.start = "/registry/pods/";
      req.end = korral::storage::PrefixEnd(req.start);
      req.limit = 500;
      auto resp = b->Range(req);
      return resp.ok() && resp->kvs.size() == 500;
    });
    Print(name, "range(limit 500 of 10k)", 1, r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* name) -> const char* {
      size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? a.c_str() + n : nullptr;
    };
    if (auto v = val("--backend=")) {
      f.backend = v;
    } else if (auto v = val("--duration_ms=")) {
      f.duration_ms = std::atoi(v);
    } else if (auto v = val("--value_bytes=")) {
      f.value_bytes = std::strtoul(v, nullptr, 10);
    } else if (auto v = val("--dir=")) {
      f.dir = v;
    } else if (auto v = val("--checkpoint_wal_pages=")) {
      f.checkpoint_wal_pages = std::atol(v);
    } else if (a == "--creates_only") {
      f.creates_only = true;
    } else if (auto v = val("--threads=")) {
      f.threads.clear();
      for (const char* p = v; *p;) {
        f.threads.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  korral::log::SetLevel(korral::log::Level::kWarning);
  std::printf("value=%zu bytes, %d ms per scenario\n", f.value_bytes, f.duration_ms);
  if (f.backend == "all" || f.backend == "memory") {
    Bench(
        "memory", [] { return korral::storage::NewMemoryBackend(); }, f);
  }
  if (f.backend == "all" || f.backend == "sqlite") {
    auto dir = std::filesystem::path(f.dir) / ("korral_storage_bench_" + std::to_string(getpid()));
    int n = 0;
    Bench(
        "sqlite",
        [&]() -> std::unique_ptr<Backend> {
          std::filesystem::remove_all(dir);
          std::filesystem::create_directories(dir);
          korral::storage::SqliteOptions opts;
          opts.path = (dir / fmt::format("bench{}.db", n++)).string();
          auto b = korral::storage::OpenSqliteBackend(opts);
          if (!b.ok()) {
            std::fprintf(stderr, "open: %s\n", b.status().ToString().c_str());
            std::exit(1);
          }
          return std::move(*b);
        },
        f);
    std::filesystem::remove_all(dir);
  }
  return 0;
}
