// Runs the backend conformance suite against the memory and SQLite backends.
#include <atomic>
#include <filesystem>
#include <string>

#include "korral/storage/memory/memory.h"
#include "korral/storage/sqlite/sqlite.h"
#include "korral/storage/testing/conformance.h"

namespace korral::storage::testing {
namespace {

class MemoryHarness : public BackendHarness {
 public:
  absl::StatusOr<BackendPtr> Open() override { return NewMemoryBackend(); }
  bool persistent() const override { return false; }
};

// Each harness owns a fresh temporary directory, removed when the harness is destroyed.
class SqliteHarness : public BackendHarness {
 public:
  SqliteHarness() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("korral_storage_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter.fetch_add(1)));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~SqliteHarness() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  absl::StatusOr<BackendPtr> Open() override {
    SqliteOptions opts;
    opts.path = (dir_ / "korral.db").string();
    return OpenSqliteBackend(opts);
  }
  bool persistent() const override { return true; }

 private:
  std::filesystem::path dir_;
};

INSTANTIATE_TEST_SUITE_P(Memory, BackendConformanceTest,
                         ::testing::Values(BackendConformanceParam{
                             "memory", [] { return std::make_unique<MemoryHarness>(); }}),
                         BackendConformanceParamName);

INSTANTIATE_TEST_SUITE_P(Sqlite, BackendConformanceTest,
                         ::testing::Values(BackendConformanceParam{
                             "sqlite", [] { return std::make_unique<SqliteHarness>(); }}),
                         BackendConformanceParamName);

}  // namespace
}  // namespace korral::storage::testing
