// korral/apiserver/instrumented_backend.h: a storage::Backend decorator that records the
// latency of every operation in Metrics. Forwards everything else unchanged.
#pragma once

#include <chrono>

#include "korral/apiserver/metrics.h"
#include "korral/storage/storage.h"

namespace korral::apiserver {

class InstrumentedBackend final : public storage::Backend {
 public:
  InstrumentedBackend(storage::Backend* inner, Metrics* metrics) : inner_(inner), m_(metrics) {}

  absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value) override {
    Timer t(m_, "create");
    return inner_->Create(key, value);
  }
  absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                 int64_t expected) override {
    Timer t(m_, "update");
    return inner_->Update(key, value, expected);
  }
  absl::StatusOr<storage::KeyValue> Delete(std::string_view key, int64_t expected) override {
    Timer t(m_, "delete");
    return inner_->Delete(key, expected);
  }
  absl::StatusOr<storage::KeyValue> Get(std::string_view key) override {
    Timer t(m_, "get");
    return inner_->Get(key);
  }
  absl::StatusOr<storage::RangeResponse> Range(const storage::RangeRequest& r) override {
    Timer t(m_, "range");
    return inner_->Range(r);
  }
  absl::StatusOr<storage::WatchPtr> Watch(std::string_view prefix, int64_t rev,
                                          storage::WatchHandler h) override {
    return inner_->Watch(prefix, rev, std::move(h));
  }
  absl::Status Compact(int64_t revision) override {
    Timer t(m_, "compact");
    return inner_->Compact(revision);
  }
  int64_t CurrentRevision() override { return inner_->CurrentRevision(); }
  int64_t CompactRevision() override { return inner_->CompactRevision(); }

 private:
  struct Timer {
    Timer(Metrics* m, const char* op) : m(m), op(op), start(std::chrono::steady_clock::now()) {}
    ~Timer() {
      m->ObserveStorage(
          op, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    Metrics* m;
    const char* op;
    std::chrono::steady_clock::time_point start;
  };
  storage::Backend* inner_;
  Metrics* m_;
};

}  // namespace korral::apiserver
