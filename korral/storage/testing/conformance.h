// korral/storage/testing/conformance.h: the behaviour suite every storage::Backend must pass.
//
// The tests are written once as a value-parameterized gtest suite, BackendConformanceTest. A
// backend instantiates it with a harness factory:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, BackendConformanceTest,
//                            ::testing::Values(BackendConformanceParam{"sqlite", [] {
//                              return std::make_unique<MySqliteHarness>();
//                            }}),
//                            BackendConformanceParamName);
//
// Linking korral::storage_testing and including this header is enough to pull in the tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "korral/storage/storage.h"

namespace korral::storage::testing {

// Opens backends for one test. Open() may be called again after the previous backend was
// destroyed; a persistent harness then reopens the same store (same file), others start empty.
class BackendHarness {
 public:
  virtual ~BackendHarness() = default;
  virtual absl::StatusOr<BackendPtr> Open() = 0;
  // True when the store survives destroying and reopening the backend.
  virtual bool persistent() const = 0;
};

struct BackendConformanceParam {
  std::string name;
  std::function<std::unique_ptr<BackendHarness>()> make_harness;
};

std::string BackendConformanceParamName(
    const ::testing::TestParamInfo<BackendConformanceParam>& info);

class BackendConformanceTest : public ::testing::TestWithParam<BackendConformanceParam> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Destroys the backend and opens it again through the harness.
  void Reopen();
  Backend& backend() { return *backend_; }

  std::unique_ptr<BackendHarness> harness_;
  BackendPtr backend_;
};

// Collects watch callbacks; checks they never run concurrently. Thread-safe.
class EventCollector {
 public:
  WatchHandler Handler();
  // Waits (bounded) until at least n events arrived; returns whether they did.
  bool WaitForEvents(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits (bounded) for on_error; returns the status, or nullopt on timeout.
  std::optional<absl::Status> WaitForError(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::vector<Event> events() const;
  size_t calls() const;
  bool overlapped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::optional<absl::Status> error_;
  size_t calls_ = 0;
  bool in_callback_ = false;
  bool overlapped_ = false;
  bool after_error_ = false;
};

// Referenced from this header so that the static library's test definitions get linked.
int BackendConformanceTestsLinked();
[[maybe_unused]] static const int kBackendConformanceTestsLinked = BackendConformanceTestsLinked();

}  // namespace korral::storage::testing
